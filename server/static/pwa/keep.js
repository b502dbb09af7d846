// What the phone keeps of photos and sound clips, and for how long.
// - Bytes the server confirmed leave the phone after PHONE_KEEP_MEDIA_DAYS (from /api/meta);
//   a small thumbnail stays, so the phone's storage does not fill over months.
// - The before-photos (and sound clips) of the tasks I may verify are fetched while online and
//   kept in Cache Storage, so verification on site shows them offline too.
import * as db from './db.js';
import * as policy from './policy.js';
import * as vocab from './vocab.js';

const THUMB_SIDE = 320; // the server's thumbnail size too (server/photos.py)
const BATCH = 10;
export const MEDIA_CACHE = 'patrol-media';
const DAY_MS = 24 * 60 * 60 * 1000;

/** A small JPEG of photo bytes, or null when they are no picture the browser can read. */
async function thumbnail({ mime, bytes }) {
  if (!String(mime).startsWith('image/')) return null;
  try {
    const bitmap = await createImageBitmap(new Blob([bytes], { type: mime }));
    const scale = Math.min(1, THUMB_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const g = canvas.getContext('2d');
    g.fillStyle = '#fff'; // a signature's transparent parts stay white
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close?.();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.75));
    return blob ? { mime: 'image/jpeg', bytes: await blob.arrayBuffer() } : null;
  } catch (e) {
    console.warn('no thumbnail', e);
    return null;
  }
}

/**
 * Clear the bytes of photos and clips the server confirmed more than `days` days ago
 * (vocab.keepMediaDays() unless given), keeping a thumbnail of each photo. Never what a draft or
 * an unsent record names (db.js checks it in the clearing transaction). Returns the ids cleared.
 */
export async function sweepConfirmedMedia({ days = vocab.keepMediaDays(), now = new Date() } = {}) {
  const cutoff = new Date(now.getTime() - days * DAY_MS).toISOString();
  const ids = await db.confirmedMediaToClear(cutoff, now.toISOString());
  const cleared = [];
  for (let i = 0; i < ids.length; i += BATCH) {
    const thumbs = {};
    for (const id of ids.slice(i, i + BATCH)) {
      const p = await db.getPhoto(id);
      if (p?.bytes) thumbs[id] = await thumbnail(p);
    }
    cleared.push(...(await db.clearConfirmedBytes(thumbs, now.toISOString())));
  }
  return cleared;
}

let sweeping = null;

/** Run the sweep in the background, at most one at a time; failures are logged, never shown. */
export function sweepSoon() {
  if (sweeping) return sweeping;
  sweeping = sweepConfirmedMedia()
    .then((gone) => { if (gone.length) console.info(`cleared the bytes of ${gone.length} confirmed photo(s)`); return gone; })
    .catch((e) => { console.warn('confirmed-photo sweep failed', e); return []; })
    .finally(() => { sweeping = null; });
  return sweeping;
}

// --- before-photos for verification on site ---------------------------------------------

const thumbUrl = (id) => `/api/photos/${id}?size=thumb`;
const clipUrl = (id) => `/api/photos/${id}`;
const soundsKey = (taskId) => `/api/tasks/${taskId}?sounds`;

/** Tasks on this phone that wait for a verification I may do. */
async function verifiable() {
  return (await db.all('tasks')).filter((task) => !task.closed && vocab.awaitingVerification(task.state) && policy.can('task.verify', { task }));
}

async function fetchInto(cache, url) {
  if (await cache.match(url)) return;
  const resp = await fetch(url, { credentials: 'same-origin' });
  if (resp.ok) await cache.put(url, resp);
}

/**
 * While online (after a pull): fetch the before-photo thumbnails and the sound clips of the
 * tasks I may verify, unless the phone has them itself; drop those of tasks no longer waiting.
 */
export async function cacheVerificationMedia() {
  if (!self.caches || !navigator.onLine || !vocab.loaded()) return;
  const cache = await caches.open(MEDIA_CACHE);
  const wanted = new Set();
  for (const task of await verifiable()) {
    wanted.add(soundsKey(task.id));
    for (const id of task.photos || []) {
      const local = await db.getPhoto(id);
      if (local?.bytes || local?.thumb) continue;
      wanted.add(thumbUrl(id));
      await fetchInto(cache, thumbUrl(id));
    }
    // Sound clips are not in the pulled task: its page lists them, once (they never change).
    let sounds = await cache.match(soundsKey(task.id));
    if (!sounds) {
      const resp = await fetch(`/api/tasks/${task.id}`, { credentials: 'same-origin' });
      if (!resp.ok) continue;
      const ids = (await resp.json()).photos?.sounds || [];
      await cache.put(soundsKey(task.id), new Response(JSON.stringify(ids), { headers: { 'Content-Type': 'application/json' } }));
      sounds = await cache.match(soundsKey(task.id));
    }
    for (const id of await sounds.json()) {
      const local = await db.getPhoto(id);
      if (local?.bytes) continue;
      wanted.add(clipUrl(id));
      await fetchInto(cache, clipUrl(id));
    }
  }
  for (const req of await cache.keys()) {
    const url = new URL(req.url);
    if (!wanted.has(url.pathname + url.search)) await cache.delete(req);
  }
}

let caching = null;

/** Fetch ahead in the background, one run at a time. */
export function cacheSoon() {
  if (caching) return caching;
  caching = cacheVerificationMedia()
    .catch((e) => console.warn('before-photos not fetched ahead', e))
    .finally(() => { caching = null; });
  return caching;
}

async function cached(url) {
  if (!self.caches) return null;
  const hit = await (await caches.open(MEDIA_CACHE)).match(url);
  return hit ? URL.createObjectURL(await hit.blob()) : null;
}

/**
 * Where to show one kept photo or clip from: its bytes on this phone, its thumbnail here, a
 * copy fetched ahead, or the server while online. {url, from: bytes|thumb|cache|server} or null.
 */
export async function mediaSource(id, { sound = false } = {}) {
  const local = await db.getPhoto(id);
  if (local?.bytes) return { url: URL.createObjectURL(new Blob([local.bytes], { type: local.mime })), from: 'bytes' };
  if (!sound && local?.thumb) return { url: URL.createObjectURL(new Blob([local.thumb], { type: local.thumb_mime || 'image/jpeg' })), from: 'thumb' };
  const hit = await cached(sound ? clipUrl(id) : thumbUrl(id));
  if (hit) return { url: hit, from: 'cache' };
  if (navigator.onLine) return { url: sound ? clipUrl(id) : thumbUrl(id), from: 'server' };
  return null;
}

/** The ids of a task's sound clips, as fetched ahead (or asked now, online); [] when unknown. */
export async function soundIds(taskId) {
  if (self.caches) {
    const hit = await (await caches.open(MEDIA_CACHE)).match(soundsKey(taskId));
    if (hit) return hit.json();
  }
  if (!navigator.onLine) return [];
  try {
    const resp = await fetch(`/api/tasks/${taskId}`, { credentials: 'same-origin' });
    return resp.ok ? (await resp.json()).photos?.sounds || [] : [];
  } catch {
    return [];
  }
}

/**
 * A finding's photos and sound clips as elements to show (verification, the task page): from
 * this phone, the copies fetched ahead, or the server online. Object URLs made for them are
 * pushed to `urls` for the screen to revoke; `clipIds` when the screen already knows them.
 * {photos: [img], clips: [audio], missing: n}.
 */
export async function findingMedia(task, urls, { photoLabel, clipLabel, h, clipIds = null }) {
  const photos = [];
  let missing = 0;
  for (const [i, pid] of (task.photos || []).entries()) {
    const src = await mediaSource(pid);
    if (!src) {
      missing += 1;
      continue;
    }
    if (src.from !== 'server') urls.push(src.url);
    photos.push(h('img', { src: src.url, alt: photoLabel(i + 1), 'data-photo': pid, 'data-from': src.from }));
  }
  const clips = [];
  for (const [i, sid] of (clipIds || (await soundIds(task.id))).entries()) {
    const src = await mediaSource(sid, { sound: true });
    if (!src) continue;
    if (src.from !== 'server') urls.push(src.url);
    clips.push(h('audio', { controls: true, preload: 'metadata', src: src.url, 'data-clip': sid, 'data-from': src.from, 'aria-label': clipLabel(i + 1) }));
  }
  return { photos, clips, missing };
}
