// Sync by the protocol (docs/sync.md): push the outbox in order, upload photos, pull changes.
import * as api from './api.js';
import * as db from './db.js';
import * as store from './store.js';
import { EXTENSION, SYNC } from './vocab.js';

const BATCH = 100;
const PULL_LIMIT = 500;
// A long outbox (or several photos) is first checked against what the server holds (docs/sync.md).
export const HELD_MIN_RECORDS = 10;
export const HELD_MIN_PHOTOS = 1;
const HELD_MAX = 2000; // records named by one question (the server takes up to 5,000 seq numbers)
const STEADY_MS = 5 * 60 * 1000;

let running = null;
let again = false;
let timer = null;
let failures = 0;

export async function refreshCounts() {
  // The bar counts what this person left unsent (another person's records wait for them).
  const me = store.get().me;
  const { records, photos } = await db.unsent(me ? me.id : null);
  store.set({ unsent: records + photos, unsentRecords: records, unsentPhotos: photos, attention: await db.attentionCount() });
}

/** Run one sync (or join the one running); one at a time across tabs too. */
export function syncNow() {
  refreshCounts(); // a save just happened: the unsent count shows it at once
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    try {
      do {
        again = false;
        await withSyncLock(runOnce);
      } while (again);
    } finally {
      running = null;
    }
  })();
  return running;
}

// --- one sync at a time across tabs, and never a lock held by a page that is gone ------

const LOCK = 'patrol-sync';
/** How long a sync waits for another page's sync before taking the lock from it. */
export const LOCK_WAIT_MS = 30000;
let leaving = null; // {promise, resolve}: settles when this page is hidden

// A page hidden into the back-forward cache is frozen with whatever it holds (db.js):
// hiding gives the sync lock back at once, and a page shown again takes it anew.
addEventListener('pagehide', () => leaving?.resolve());

function pageLeft() {
  if (!leaving) {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    leaving = { promise, resolve: () => { leaving = null; resolve(); } };
  }
  return leaving.promise;
}

/**
 * Run fn holding the `patrol-sync` Web Lock. The lock is given back when fn ends or the
 * page is hidden, whichever comes first. A lock that another page has held for
 * LOCK_WAIT_MS is taken from it (`steal`): such a page is frozen or hung, and a second
 * sync is harmless since every push is idempotent (the server answers `duplicate`).
 */
async function withSyncLock(fn) {
  if (!navigator.locks) return fn();
  let granted = false;
  const held = () => {
    granted = true;
    return Promise.race([fn(), pageLeft()]);
  };
  try {
    return await navigator.locks.request(LOCK, { signal: AbortSignal.timeout(LOCK_WAIT_MS) }, held);
  } catch (e) {
    if (granted) throw e;
    console.warn(`${LOCK} held for ${LOCK_WAIT_MS} ms by another page: taking it`);
    return navigator.locks.request(LOCK, { steal: true }, held);
  }
}

async function runOnce() {
  const s = store.get();
  // Logged out (or the session expired): nothing is sent; the queue waits for the login.
  if (!s.me || s.needLogin) return;
  store.set({ syncing: true, syncError: '' });
  try {
    await push();
    await uploadPhotos();
    await pull();
    failures = 0;
    const now = new Date().toISOString();
    localStorage.setItem('patrol.last_sync', now);
    store.set({ lastSync: now, online: true });
    schedule(STEADY_MS);
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) {
      store.set({ needLogin: true });
    } else {
      failures += 1;
      // Backoff: 5 s, 10 s, 20 s … at most 5 minutes.
      schedule(Math.min(STEADY_MS, 5000 * 2 ** (failures - 1)));
      store.set({ syncError: e.offline ? 'offline' : e.message || String(e), online: !e.offline });
    }
  } finally {
    store.set({ syncing: false });
    await refreshCounts();
  }
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(() => syncNow(), ms);
}

function bodyFor(rows) {
  return {
    device_id: rows[0].device_id,
    device_time: new Date().toISOString(),
    app_version: store.get().version || 'dev',
    mutations: rows.map((r) => ({
      mutation_id: r.mutation_id,
      seq: r.device_seq,
      kind: r.kind,
      observed_at: r.observed_at,
      payload: r.payload,
    })),
  };
}

async function applyResults(rows, results) {
  const bySeq = new Map(rows.map((r) => [r.mutation_id, r]));
  for (const res of results || []) {
    const row = bySeq.get(res.mutation_id);
    if (!row) continue;
    if (res.status === SYNC.APPLIED || res.status === SYNC.DUPLICATE) {
      // A duplicate is the answer to a resend after a lost response: it was applied once.
      await db.updateOutbox(row.seq, { status: 'sent', result: res.result || {}, sent_at: new Date().toISOString() }, movedTask(row, res.result));
    } else if (res.status === SYNC.REJECTED) {
      // Set aside with the server's reason; never blocks the items behind it.
      await db.updateOutbox(row.seq, { status: 'rejected', code: res.code || '', message: res.message || '', details: res.details || {} });
    }
  }
}

/**
 * A task move the server applied, as {id, state} from its answer ({task_id, state}), or a
 * request for more time it took, as {id, extension}; else null.
 * Until it is sent, the pending row shows the move (patrol.shownState); once it is sent the
 * phone's copy of the task holds the answered state until a pull brings the server's copy,
 * so the task screen never goes back to the state before the move. A rejected move leaves
 * the copy as the server last gave it.
 */
function movedTask(row, result) {
  if (!result || result.task_id !== row.payload?.task_id) return null;
  if (row.kind === 'task.extend' && result.extension_id) {
    // A request for more time the server took: the task shows it waiting for a manager until
    // the pull brings the server's copy (which may already say how it was decided).
    const p = row.payload;
    return { id: result.task_id, extension: { id: result.extension_id, state: result.extension_state || EXTENSION.PENDING, requested_due_at: p.requested_due_at, reason: p.reason, requested_by: row.user_id ?? null } };
  }
  if (row.kind !== 'task.transition' && row.kind !== 'task.verify') return null;
  if (typeof result.state !== 'string') return null;
  return { id: result.task_id, state: result.state };
}

// Whole-push refusals that say nothing about the records themselves: keep them all.
const KEEP = new Set(['csrf_failed', 'device_owned', 'too_many_mutations', 'too_large']);

function retryable(e) {
  return !(e instanceof api.ApiError) || e.status === 0 || e.status === 401 || e.status >= 500 || e.status === 429 || KEEP.has(e.code);
}

// --- what the server already holds, and compressed bodies ---------------------------------

/**
 * The body as gzip when the browser can make it (CompressionStream: Chromium, Safari 16.4+,
 * Firefox 113+), else null and the JSON goes as it is. The server takes
 * `Content-Encoding: gzip` and applies its size limits to the decompressed body.
 */
async function gzipped(text) {
  if (typeof CompressionStream !== 'function' || text.length < 1024) return null;
  try {
    const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
    return await new Response(stream).arrayBuffer();
  } catch {
    return null;
  }
}

async function postJson(url, json) {
  const text = JSON.stringify(json);
  const packed = await gzipped(text);
  if (!packed) return api.post(url, json);
  return api.request('POST', url, { body: packed, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' } });
}

/** JSON with object keys sorted and no spaces: what the server hashes as a record's content. */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** SHA-256 (hex) of [seq, kind, observed_at, payload] as canonical JSON (docs/sync.md "same content"). */
async function contentHash(row) {
  const plain = JSON.parse(JSON.stringify([row.device_seq, row.kind, row.observed_at, row.payload]));
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical(plain)));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Sorted numbers as [first, last] runs: thousands of unsent records in a few bytes. */
function ranges(numbers) {
  const out = [];
  for (const n of [...numbers].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else if (!last || n > last[1]) out.push([n, n]);
  }
  return out;
}

/**
 * Before a long outbox goes, ask which of its records and photos the server already holds
 * (POST /api/sync/held) and mark those exactly as a `duplicate` (or stored `rejected`)
 * answer would: only the rest is sent. Only a record whose id, seq and content hash are
 * the server's own is marked; anything else is pushed and answered by the push itself,
 * so a lost answer here costs only the full push.
 */
async function skipHeld(userId) {
  if (!crypto.subtle) return;
  const rows = await db.pendingOutbox(HELD_MAX, userId);
  const photos = (await db.pendingPhotos(userId)).slice(0, 1000);
  if (rows.length < HELD_MIN_RECORDS && photos.length < HELD_MIN_PHOTOS) return;
  const deviceId = rows.length ? rows[0].device_id : await db.getMeta(`device_id:${userId}`, '');
  if (!deviceId) return;
  const mine = rows.filter((r) => r.device_id === deviceId);
  let answer;
  try {
    answer = await postJson('/api/sync/held', {
      device_id: deviceId,
      seqs: ranges(mine.map((r) => r.device_seq)),
      photos: photos.map((p) => ({ id: p.id, sha256: p.sha256 })),
    });
  } catch (e) {
    if (retryable(e)) throw e;
    return; // an older server, or a question it will not answer: push everything
  }
  const byId = new Map(mine.map((r) => [String(r.mutation_id).toLowerCase(), r]));
  const results = [];
  for (const h of answer.held || []) {
    const row = byId.get(h.mutation_id);
    const want = typeof h.hash === 'string' ? h.hash : '';
    if (!row || !want || row.device_seq !== h.seq || (await contentHash(row)).slice(0, want.length) !== want) continue;
    results.push(h.status === SYNC.REJECTED
      ? { mutation_id: row.mutation_id, status: SYNC.REJECTED, code: h.code, message: h.message }
      : { mutation_id: row.mutation_id, status: SYNC.DUPLICATE, result: h.result || {} });
  }
  await applyResults(mine, results);
  const wanted = new Set(photos.map((p) => p.id));
  for (const id of answer.photo_ids || []) if (wanted.has(id)) await db.setPhotoStatus(id, 'uploaded');
}

async function push() {
  const userId = store.get().me.id;
  await skipHeld(userId);
  for (;;) {
    // Logged out (or another person logged in) meanwhile: their records wait for them.
    if (store.get().me?.id !== userId) return;
    const rows = await db.pendingOutbox(BATCH, userId);
    if (!rows.length) return;
    let resp;
    try {
      resp = await postJson('/api/sync/push', bodyFor(rows));
    } catch (e) {
      if (retryable(e)) throw e;
      // The server refused the whole batch: send items alone so that one bad item
      // is set aside with its reason and the others still go.
      await pushOneByOne(rows);
      continue;
    }
    if (typeof resp.clock_offset_ms === 'number') await db.setMeta('clock_offset_ms', resp.clock_offset_ms);
    await markUnreadable(resp.unreadable_photos);
    await applyResults(rows, resp.results);
    if (rows.every((r) => !(resp.results || []).some((x) => x.mutation_id === r.mutation_id))) {
      throw new Error('push answered without results');
    }
  }
}

async function pushOneByOne(rows) {
  for (const row of rows) {
    try {
      const resp = await postJson('/api/sync/push', bodyFor([row]));
      await applyResults([row], resp.results);
    } catch (e) {
      if (retryable(e)) throw e;
      await db.updateOutbox(row.seq, { status: 'rejected', code: e.code, message: e.message, details: e.details || {} });
    }
  }
}

/** Photos the server could not read (from any phone of mine): the outbox asks to take them again. */
async function markUnreadable(ids) {
  for (const id of ids || []) {
    const p = await db.getPhoto(id);
    if (p && p.status !== 'rejected') await db.setPhotoStatus(id, 'rejected', '', 'not_an_image');
  }
}

async function uploadPhotos() {
  // Only the logged-in person's photos: another's wait for their own session.
  for (const p of await db.pendingPhotos(store.get().me.id)) {
    try {
      await api.request('PUT', `/api/photos/${p.id}`, {
        body: p.bytes,
        headers: { 'Content-Type': p.mime, 'X-Content-SHA256': p.sha256 },
      });
      // The drawing over it, beside the untouched bytes (set once; a resend is the same drawing).
      if (p.annotation?.shapes?.length) await api.request('PUT', `/api/photos/${p.id}/annotation`, { json: p.annotation });
      await db.setPhotoStatus(p.id, 'uploaded');
    } catch (e) {
      if (!(e instanceof api.ApiError) || e.status === 0 || e.status === 401 || e.status >= 500 || e.status === 429) throw e;
      // Not there yet, or damaged on the way (hash_mismatch): try again next time.
      if (e.status === 404 || e.code === 'hash_mismatch') continue;
      await db.setPhotoStatus(p.id, 'rejected', e.message, e.code);
    }
  }
}

async function pull() {
  let cursor = await db.getMeta('cursor', 0);
  for (;;) {
    let page;
    try {
      page = await api.get(`/api/sync/pull?cursor=${cursor}&limit=${PULL_LIMIT}`);
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 410) {
        // The server cannot continue from this cursor: start again from zero, outbox kept.
        await db.clearReference();
        cursor = 0;
        continue;
      }
      throw e;
    }
    const next = typeof page.cursor === 'number' ? page.cursor : cursor;
    await db.applyChanges(page.changes || [], next);
    cursor = next;
    if (!page.has_more || !(page.changes || []).length) break;
  }
  store.set({ pulledAt: new Date().toISOString() });
}

/** Wire the triggers: start, online, back to the app, a backoff timer; saves call syncNow. */
let started = false;

export function start() {
  if (started) return syncNow();
  started = true;
  window.addEventListener('online', () => {
    store.set({ online: true });
    syncNow();
  });
  window.addEventListener('offline', () => store.set({ online: false }));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') syncNow();
  });
  refreshCounts();
  syncNow();
}
