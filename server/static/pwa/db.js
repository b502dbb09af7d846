// The phone's own storage (IndexedDB): outbox, photo bytes, pulled reference data, drafts, meta.
import { openDB } from './vendor/idb/idb.js';

const NAME = 'patrol';
const VERSION = 1;
// Reference data from /api/sync/pull, one store per entity.
export const ENTITY_STORES = {
  site: 'sites',
  department: 'departments',
  checkpoint: 'checkpoints',
  checklist: 'checklists',
  plan: 'plans',
  task: 'tasks',
};

let dbPromise = null;
let lost = null; // why this page's database went away under it, once it has
const lostListeners = new Set();

/** The database was deleted or closed under this page; its contents are gone or not ours. */
export class StorageLost extends Error {
  constructor(reason) {
    super(`storage ${reason}`);
    this.reason = reason;
  }
}

/**
 * Call fn(reason) once if the database goes away under this page: deleted (the browser
 * cleared the site's storage, or another tab did), closed by the browser, or upgraded by a
 * newer version of the app in another tab. What this page holds in memory (the user, the
 * round, a pull's cursor) then describes storage that no longer exists.
 */
export function onLost(fn) {
  lostListeners.add(fn);
  if (lost) fn(lost);
}

function storageLost(reason) {
  if (lost) return;
  lost = reason;
  dbPromise?.then((x) => x.close()).catch(() => {});
  for (const fn of lostListeners) fn(reason);
}

export function db() {
  // Never open the database again behind a page that lost it: that would create a fresh,
  // empty one and write this page's stale memory into it (a user whose session is gone, a
  // cursor without the data it stands for), and the next start would trust it.
  if (lost) return Promise.reject(new StorageLost(lost));
  if (!dbPromise) {
    dbPromise = openDB(NAME, VERSION, {
      upgrade(d) {
        // Outbox: keyed by the per-device sequence number, so it reads in send order.
        const outbox = d.createObjectStore('outbox', { keyPath: 'seq' });
        outbox.createIndex('status', 'status');
        // Photos as ArrayBuffer + MIME type: Safari has trouble with Blobs in IndexedDB.
        const photos = d.createObjectStore('photos', { keyPath: 'id' });
        photos.createIndex('status', 'status');
        for (const store of Object.values(ENTITY_STORES)) {
          const s = d.createObjectStore(store, { keyPath: 'id' });
          if (store === 'checkpoints') {
            s.createIndex('token', 'token');
            s.createIndex('short_code', 'short_code');
          }
        }
        d.createObjectStore('drafts', { keyPath: 'key' });
        d.createObjectStore('meta');
      },
      blocking(_current, next) {
        // Another page deletes the database (next === null) or opens a newer version of
        // it: close at once so that it can go ahead, and stop using it.
        storageLost(next === null ? 'deleted' : 'upgraded');
      },
      terminated() {
        // The browser closed the connection itself ("clear site data", storage eviction).
        storageLost('closed');
      },
    });
    const opening = dbPromise;
    // A failed open (storage full, private mode) is tried again by the next call.
    opening.catch(() => {
      if (dbPromise === opening) dbPromise = null;
    });
  }
  return dbPromise;
}

export async function getMeta(key, fallback = undefined) {
  const value = await (await db()).get('meta', key);
  return value === undefined ? fallback : value;
}

export async function setMeta(key, value) {
  await (await db()).put('meta', value, key);
}

/**
 * The browser refused a write because the site's storage quota is used up (the phone is
 * full). Chromium, Firefox and Safari name it QuotaExceededError; old Firefox used its
 * own code. Nothing of the refused transaction was written.
 */
export function isStorageFull(e) {
  if (!e) return false;
  return e.name === 'QuotaExceededError' || e.name === 'NS_ERROR_DOM_QUOTA_REACHED' || e.code === 22 || e.code === 1014;
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function nowIso() {
  return new Date().toISOString();
}

/**
 * Queue one mutation. The sequence number, the outbox row and the photos it names
 * (draft → pending) are written in ONE transaction: when this resolves the record is
 * on the phone, and only then may the screen say "saved". What the save changes besides
 * (`meta`: e.g. the open round; `dropDraft`: the form's draft) goes in the same
 * transaction, so a save refused for lack of space changes nothing at all, and one that
 * succeeds cannot be followed by a failing step that would make the person save twice.
 */
export async function enqueue(kind, payload, { label = '', photoIds = [], observedAt = null, meta: metaPuts = {}, dropDraft = null } = {}) {
  const d = await db();
  const tx = d.transaction(['outbox', 'meta', 'photos', 'drafts'], 'readwrite');
  const meta = tx.objectStore('meta');
  // The server registers a device id to one user: a phone shared by two people sends
  // each one's records under that person's own device id and sequence.
  const me = await meta.get('me');
  const userId = me ? me.id : 0;
  let device = await meta.get(`device_id:${userId}`);
  if (!device) {
    device = uuid();
    await meta.put(device, `device_id:${userId}`);
  }
  const deviceSeq = ((await meta.get(`seq:${device}`)) || 0) + 1;
  await meta.put(deviceSeq, `seq:${device}`);
  // The outbox key orders every record of this phone; `device_seq` is what the server sees.
  const seq = ((await meta.get('seq')) || 0) + 1;
  await meta.put(seq, 'seq');
  const row = {
    seq,
    device_id: device,
    device_seq: deviceSeq,
    user_id: userId,
    mutation_id: uuid(),
    kind,
    observed_at: observedAt || nowIso(),
    payload,
    label,
    photo_ids: photoIds,
    status: 'pending',
    created_at: nowIso(),
  };
  await tx.objectStore('outbox').add(row);
  const photos = tx.objectStore('photos');
  for (const id of photoIds) {
    const p = await photos.get(id);
    if (p && p.status === 'draft') {
      p.status = 'pending';
      await photos.put(p);
    }
  }
  for (const [key, value] of Object.entries(metaPuts)) await meta.put(value, key);
  if (dropDraft) await tx.objectStore('drafts').delete(dropDraft);
  await tx.done;
  return row;
}

export async function outboxAll() {
  return (await db()).getAll('outbox');
}

export async function unsentCount() {
  const d = await db();
  const pending = await d.countFromIndex('outbox', 'status', 'pending');
  const photos = await d.countFromIndex('photos', 'status', 'pending');
  return pending + photos;
}

export async function attentionCount() {
  const d = await db();
  return (await d.countFromIndex('outbox', 'status', 'rejected')) + (await d.countFromIndex('photos', 'status', 'rejected'));
}

export async function savePhoto({ id, mime, bytes, sha256, purpose, status = 'draft' }) {
  await (await db()).put('photos', { id, mime, bytes, sha256, purpose, status, created_at: nowIso() });
}

export async function getPhoto(id) {
  return (await db()).get('photos', id);
}

export async function deletePhoto(id) {
  await (await db()).delete('photos', id);
}

export async function getDraft(key) {
  return (await db()).get('drafts', key);
}

export async function putDraft(key, value) {
  await (await db()).put('drafts', { ...value, key });
}

export async function deleteDraft(key) {
  await (await db()).delete('drafts', key);
}

export async function all(store) {
  return (await db()).getAll(store);
}

export async function get(store, id) {
  return (await db()).get(store, id);
}

export async function checkpointByToken(token) {
  return (await db()).getFromIndex('checkpoints', 'token', token);
}

export async function checkpointsByCode(code) {
  return (await db()).getAllFromIndex('checkpoints', 'short_code', code);
}

/** Apply one pulled page and move the cursor in the same transaction (a resumable pull). */
export async function applyChanges(changes, cursor) {
  const d = await db();
  const stores = [...new Set(Object.values(ENTITY_STORES)), 'meta'];
  const tx = d.transaction(stores, 'readwrite');
  for (const c of changes) {
    const name = ENTITY_STORES[c.entity];
    if (!name) continue;
    const store = tx.objectStore(name);
    const id = isNaN(Number(c.id)) || name === 'checklists' ? String(c.id) : Number(c.id);
    if (c.op === 'delete') {
      await store.delete(id);
      if (name === 'sites') await dropSite(tx, id);
    } else if (c.data && name === 'checklists') {
      // Keyed "<site_id>:<kind>"; the data's own id is the checklist version's id.
      await store.put({ ...c.data, version_id: c.data.id, id });
    } else if (c.data) {
      await store.put({ ...c.data, id });
    }
  }
  await tx.objectStore('meta').put(cursor, 'cursor');
  await tx.done;
}

async function dropSite(tx, siteId) {
  // Access to a site taken away: forget everything of it that the phone holds.
  for (const name of ['departments', 'checkpoints', 'checklists', 'plans', 'tasks']) {
    const store = tx.objectStore(name);
    for (const row of await store.getAll()) {
      if (row.site_id === siteId) await store.delete(row.id);
    }
  }
}

/** Start reference data again from zero (cursor_reset); the outbox and photos stay. */
export async function clearReference() {
  const d = await db();
  const stores = [...new Set(Object.values(ENTITY_STORES)), 'meta'];
  const tx = d.transaction(stores, 'readwrite');
  for (const name of Object.values(ENTITY_STORES)) await tx.objectStore(name).clear();
  await tx.objectStore('meta').put(0, 'cursor');
  await tx.done;
}

export async function updateOutbox(seq, changes) {
  const d = await db();
  const tx = d.transaction('outbox', 'readwrite');
  const row = await tx.store.get(seq);
  if (row) await tx.store.put({ ...row, ...changes });
  await tx.done;
}

/** The oldest unsent records of one user (they all share that user's device id). */
export async function pendingOutbox(limit, userId) {
  const d = await db();
  const rows = [];
  let cursor = await d.transaction('outbox').store.index('status').openCursor('pending');
  while (cursor && rows.length < limit) {
    if (cursor.value.user_id === userId) rows.push(cursor.value);
    cursor = await cursor.continue();
  }
  return rows.sort((a, b) => a.seq - b.seq);
}

export async function pendingPhotos() {
  return (await db()).getAllFromIndex('photos', 'status', 'pending');
}

export async function setPhotoStatus(id, status, message = '', code = '') {
  const d = await db();
  const tx = d.transaction('photos', 'readwrite');
  const p = await tx.store.get(id);
  if (p) await tx.store.put({ ...p, status, message, code });
  await tx.done;
}
