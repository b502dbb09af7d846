// The phone's own storage (IndexedDB): outbox, photo bytes, pulled reference data, drafts, meta.
import { openDB, unwrap } from './vendor/idb/idb.js';

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
    const opening = withTimeout(open(), () => new StorageTimeout('open'));
    dbPromise = opening;
    // A failed open (storage full, private mode, no answer) is tried again by the next call.
    opening.catch((e) => {
      if (dbPromise === opening) dbPromise = null;
      if (e instanceof StorageTimeout) unstick('open');
    });
  }
  return dbPromise;
}

function open() {
  const attempt = { abandoned: false };
  attempting = attempt;
  const opening = openDB(NAME, VERSION, {
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
  return opening.then((d) => {
    if (attempt.abandoned) {
      // The open answered after this page gave up on it (a timeout, the page left): nothing
      // may use this connection, and holding it open would block a newer version.
      d.close();
      throw new StorageTimeout('open');
    }
    if (attempting === attempt) attempting = null;
    track(d);
    return d;
  });
}

// --- a stuck request must not stick the app -------------------------------------------
// WebKit keeps a page that is left in its back-forward cache with its scripts frozen: an
// IndexedDB transaction or a Web Lock that page had open stays open, and every later
// read-write transaction on the same stores waits behind it for ever (the "hang after the
// camera" of issue 12). So (1) a page being hidden gives up its transactions and its
// connection (pagehide, below); (2) every transaction this page opens has a deadline: one
// that has not finished by then is aborted with everything else this page has open, the
// connection is closed and opened again on the next call, and the person is told. An
// aborted transaction writes nothing, so a record is either saved whole (and the screen
// said so) or not at all (and the screen says that), never half.

/** How long one transaction may take before the app calls storage stuck. */
export const STORAGE_TIMEOUT_MS = 10000;

let connection = null; // the open IDBDatabase (raw)
let attempting = null; // the open in progress, marked abandoned if the page gives up on it
const inflight = new Map(); // raw IDBTransaction → its deadline timer
const stuckListeners = new Set();

/** A storage request did not answer in time; the app reconnected and nothing saved was lost. */
export class StorageTimeout extends Error {
  constructor(what) {
    super(`storage did not answer (${what})`);
    this.name = 'StorageTimeout';
  }
}

/** Call fn(what) each time a stuck request made the app abort and reconnect. */
export function onStuck(fn) {
  stuckListeners.add(fn);
}

function withTimeout(promise, error) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(error()), STORAGE_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

function track(d) {
  // Every transaction of this connection, the ones idb's shortcuts open included, goes
  // through this method: give each a deadline and forget it when it ends.
  const raw = unwrap(d) || d;
  connection = raw;
  const native = raw.transaction;
  raw.transaction = function transaction(...args) {
    const tx = native.apply(this, args);
    inflight.set(tx, setTimeout(() => unstick(`transaction on ${[...tx.objectStoreNames].join('+')}`), STORAGE_TIMEOUT_MS));
    const end = () => {
      clearTimeout(inflight.get(tx));
      inflight.delete(tx);
    };
    tx.addEventListener('complete', end);
    tx.addEventListener('abort', end);
    return tx;
  };
}

/** Abort what this page has open in storage and close its connection; the next call reopens. */
function letGo() {
  for (const [tx, timer] of inflight) {
    clearTimeout(timer);
    try {
      tx.abort();
    } catch {
      // Already committing or finished: it completes by itself.
    }
  }
  inflight.clear();
  connection?.close();
  connection = null;
  // An open still pending is closed as soon as it answers (see open()).
  if (attempting) attempting.abandoned = true;
  attempting = null;
  dbPromise = null;
}

function unstick(what) {
  console.warn(`storage stuck (${what}): aborting, reconnecting`);
  letGo();
  for (const fn of stuckListeners) fn(what);
}

// A page going into the back-forward cache is frozen as it is: let go of storage first. A
// page that comes back (pageshow) opens the database again on its next call.
addEventListener('pagehide', () => letGo());

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
 * (`meta`: e.g. the open round; `draftKey`: the form's draft and its photos the record does not take) goes in the same
 * transaction, so a save refused for lack of space changes nothing at all, and one that
 * succeeds cannot be followed by a failing step that would make the person save twice.
 */
export async function enqueue(kind, payload, options = {}) {
  return (await enqueueAll([{ kind, payload, ...options }]))[0];
}

/**
 * Queue several mutations in ONE transaction, in order (a visit and what was said or taken
 * during it): all of them are on the phone, or none is. Each is `{kind, payload, label,
 * photoIds, observedAt, draftKey, meta}` as for `enqueue`.
 */
export async function enqueueAll(records) {
  const d = await db();
  const tx = d.transaction(['outbox', 'meta', 'photos', 'drafts'], 'readwrite');
  const rows = [];
  try {
    for (const rec of records) rows.push(await addRecord(tx, rec));
  } catch (e) {
    // A write refused part-way (a value it cannot store, no room) must not let the records
    // before it commit on their own: abort, so nothing of the save is on the phone.
    try {
      tx.abort();
    } catch {
      // already finished or aborted by the browser
    }
    await tx.done.catch(() => {});
    throw e;
  }
  await tx.done;
  return rows;
}

async function addRecord(tx, { kind, payload, label = '', photoIds = [], observedAt = null, draftKey = null, meta: metaPuts = {} }) {
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
  // The draft this record was made from goes in the same transaction, with the photos it
  // held that the record does not name (a photo of an item changed back to fine).
  if (draftKey) await dropDraft(tx, draftKey, null);
  return row;
}

// --- who owns a photo -------------------------------------------------------------------
// A photo row is made as a `draft` before anything names it; a draft (the open form) then
// names its id, and queuing the record turns the photos it names `pending` in the same
// transaction. A draft photo that no draft and no record names is an orphan: the form it
// belonged to was replaced, or the app was killed between saving the photo and naming it.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every id-shaped string anywhere in a value: whatever names a photo, under any key. */
export function idsIn(value, out = new Set()) {
  if (typeof value === 'string') {
    if (UUID.test(value)) out.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) idsIn(v, out);
  } else if (value && typeof value === 'object' && !(value instanceof ArrayBuffer)) {
    for (const v of Object.values(value)) idsIn(v, out);
  }
  return out;
}

/** Delete the draft under `key` (or put `value` in its place) and the draft photos only it named. */
async function dropDraft(tx, key, value) {
  const drafts = tx.objectStore('drafts');
  const photos = tx.objectStore('photos');
  const old = await drafts.get(key);
  const keep = idsIn(value);
  if (value) await drafts.put({ ...value, key });
  else await drafts.delete(key);
  for (const id of idsIn(old)) {
    if (keep.has(id)) continue;
    const p = await photos.get(id);
    // Only a draft photo: one that a queued record named is pending (or further) and stays.
    if (p && p.status === 'draft') await photos.delete(id);
  }
}

/** Replace the draft under `key` by `value` (null: remove it); the old draft's unsent photos go with it. */
export async function replaceDraft(key, value) {
  const tx = (await db()).transaction(['drafts', 'photos'], 'readwrite');
  await dropDraft(tx, key, value);
  await tx.done;
}

/** Delete photos that are still drafts (a photo taken off a form); a photo a record took is never deleted. */
export async function deleteDraftPhotos(ids) {
  const tx = (await db()).transaction('photos', 'readwrite');
  for (const id of ids) {
    const p = await tx.store.get(id);
    if (p && p.status === 'draft') await tx.store.delete(id);
  }
  await tx.done;
}

/**
 * Delete the orphan photos: drafts that no draft and no outbox record (whatever its status)
 * names. Photos saved at or after `since` are left alone: a form of this page, or of another
 * tab, may be between saving a photo and naming it. Run at start-up. Returns the deleted ids.
 */
export async function sweepOrphanPhotos(since = null) {
  const d = await db();
  const tx = d.transaction(['photos', 'drafts', 'outbox'], 'readwrite');
  const photos = tx.objectStore('photos');
  const candidates = (await photos.index('status').getAllKeys('draft'));
  const deleted = [];
  if (candidates.length) {
    const owned = new Set();
    for (const draft of await tx.objectStore('drafts').getAll()) idsIn(draft, owned);
    for (const row of await tx.objectStore('outbox').getAll()) {
      idsIn(row.photo_ids, owned);
      idsIn(row.payload, owned);
    }
    for (const id of candidates) {
      if (owned.has(id)) continue;
      const p = await photos.get(id);
      if (!p || p.status !== 'draft' || (since && p.created_at && p.created_at >= since)) continue;
      await photos.delete(id);
      deleted.push(id);
    }
  }
  await tx.done;
  return deleted;
}

export async function outboxAll() {
  return (await db()).getAll('outbox');
}

/** What is still on the phone, not sent: {records, photos} (of `userId` only when given). */
export async function unsent(userId = null) {
  const d = await db();
  const mine = (x) => userId === null || ownedBy(x, userId);
  const records = (await d.getAllFromIndex('outbox', 'status', 'pending')).filter(mine).length;
  const photos = (await d.getAllFromIndex('photos', 'status', 'pending')).filter(mine).length;
  return { records, photos };
}

export async function unsentCount(userId = null) {
  const { records, photos } = await unsent(userId);
  return records + photos;
}

/** A record or photo belongs to `userId`; one saved before rows carried their author belongs to whoever sends it. */
export function ownedBy(row, userId) {
  return row.user_id === undefined || row.user_id === null || row.user_id === userId;
}

// --- a shared phone: one person logs out, the next logs in ------------------------------
// What a person left on the phone stays, in their name: their outbox rows and photos carry
// their user id (only their own session sends them), and their open round and drafts are
// parked under their id until they log in again on this phone.

const PARKED = '|';

/** Log `userId` out of the phone's storage: park their round and drafts; forget who is logged in. */
export async function parkUser(userId) {
  const d = await db();
  const tx = d.transaction(['drafts', 'meta'], 'readwrite');
  const meta = tx.objectStore('meta');
  const drafts = tx.objectStore('drafts');
  await meta.put(await meta.get('round'), `round:${userId}`);
  await meta.put(null, 'round');
  await meta.put(null, 'me');
  for (const draft of await drafts.getAll()) {
    if (String(draft.key).includes(PARKED)) continue;
    await drafts.delete(draft.key);
    await drafts.put({ ...draft, key: `${userId}${PARKED}${draft.key}` });
  }
  await tx.done;
}

/**
 * `user` logged in on this phone: keep them as the phone's user, give back what they parked
 * here, and start the reference data again if the last pull was another person's (what one
 * may see is not what the next may). Returns their open round (or null).
 */
export async function unparkUser(user) {
  const d = await db();
  const tx = d.transaction(['drafts', 'meta'], 'readwrite');
  const meta = tx.objectStore('meta');
  const drafts = tx.objectStore('drafts');
  await meta.put(user, 'me');
  const prefix = `${user.id}${PARKED}`;
  for (const draft of await drafts.getAll()) {
    if (!String(draft.key).startsWith(prefix)) continue;
    await drafts.delete(draft.key);
    await drafts.put({ ...draft, key: draft.key.slice(prefix.length) });
  }
  let round = await meta.get('round');
  if (!round) {
    round = (await meta.get(`round:${user.id}`)) || null;
    await meta.put(round, 'round');
  }
  await meta.delete(`round:${user.id}`);
  const pulledFor = await meta.get('pulled_for');
  await tx.done;
  if (pulledFor !== undefined && pulledFor !== user.id) await clearReference();
  await setMeta('pulled_for', user.id);
  return round;
}

/** Refused records and photos the person has not yet marked as seen (`seen_at`): the bar's "needs attention". */
export async function attentionCount() {
  const tx = (await db()).transaction(['outbox', 'photos']);
  const unseen = async (store) => (await tx.objectStore(store).index('status').getAll('rejected')).filter((x) => !x.seen_at).length;
  const n = (await unseen('outbox')) + (await unseen('photos'));
  await tx.done;
  return n;
}

/**
 * The person has read why a record (and any photo of it) was refused: mark them seen. They stay
 * on the phone as they were (the server keeps the refusal for the audit); they no longer count.
 */
export async function markRefusalSeen(seq) {
  const tx = (await db()).transaction(['outbox', 'photos'], 'readwrite');
  const outbox = tx.objectStore('outbox');
  const photos = tx.objectStore('photos');
  const row = await outbox.get(seq);
  if (row) {
    const at = nowIso();
    if (row.status === 'rejected' && !row.seen_at) await outbox.put({ ...row, seen_at: at });
    for (const id of row.photo_ids || []) {
      const p = await photos.get(id);
      if (p && p.status === 'rejected' && !p.seen_at) await photos.put({ ...p, seen_at: at });
    }
  }
  await tx.done;
}

export async function savePhoto({ id, mime, bytes, sha256, purpose, status = 'draft' }) {
  const d = await db();
  // The author, as for a record: only their own session uploads it.
  const me = await d.get('meta', 'me');
  await d.put('photos', { id, mime, bytes, sha256, purpose, status, user_id: me ? me.id : 0, created_at: nowIso() });
}

/** Keep (or, with null, remove) the drawing over a photo; its bytes are never changed. */
export async function setPhotoAnnotation(id, annotation) {
  const d = await db();
  const tx = d.transaction('photos', 'readwrite');
  const p = await tx.store.get(id);
  if (p) await tx.store.put({ ...p, annotation: annotation || null });
  await tx.done;
}

export async function getPhoto(id) {
  return (await db()).get('photos', id);
}

export async function getDraft(key) {
  return (await db()).get('drafts', key);
}

export async function putDraft(key, value) {
  await (await db()).put('drafts', { ...value, key });
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

const CLOSED_KEPT = 200;

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
      // A closed task says how it ended: a screen that showed it can say so (the last few kept).
      if (name === 'tasks' && c.data?.state) {
        const closed = (await tx.objectStore('meta').get('closed_tasks')) || {};
        closed[id] = { state: c.data.state, at: nowIso() };
        const keep = Object.entries(closed).sort((a, b) => (a[1].at < b[1].at ? 1 : -1)).slice(0, CLOSED_KEPT);
        await tx.objectStore('meta').put(Object.fromEntries(keep), 'closed_tasks');
      }
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

/**
 * Change an outbox row (its status as the server answered it). `task` ({id, state}): a task
 * move the server applied, and the state it answered; the phone's copy of the task takes
 * that state in the same transaction, so no reader sees the row sent and the task as it was
 * before the move. ({id, extension}: a request for more time the server took, likewise.)
 * The next pull's copy of the task replaces it whole.
 */
export async function updateOutbox(seq, changes, task = null) {
  const d = await db();
  const tx = d.transaction(task ? ['outbox', 'tasks'] : ['outbox'], 'readwrite');
  const outbox = tx.objectStore('outbox');
  const row = await outbox.get(seq);
  if (row) await outbox.put({ ...row, ...changes });
  if (row && task) {
    const copy = await tx.objectStore('tasks').get(task.id);
    if (copy && task.state !== undefined && copy.state !== task.state) await tx.objectStore('tasks').put({ ...copy, state: task.state });
    // A request for more time: only when the copy knows none as new (a pull may have brought its decision, or a later one).
    if (copy && task.extension && !(copy.extension?.id >= task.extension.id)) await tx.objectStore('tasks').put({ ...copy, extension: task.extension });
  }
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

/** The photos of one user still to upload. */
export async function pendingPhotos(userId) {
  return (await (await db()).getAllFromIndex('photos', 'status', 'pending')).filter((p) => ownedBy(p, userId));
}

export async function setPhotoStatus(id, status, message = '', code = '') {
  const d = await db();
  const tx = d.transaction('photos', 'readwrite');
  const p = await tx.store.get(id);
  if (p) await tx.store.put({ ...p, status, message, code });
  await tx.done;
}

// --- the phone's storage over months ----------------------------------------------------
// A photo's or sound clip's bytes stay on the phone until the server has confirmed them
// (status `uploaded`) and then for PHONE_KEEP_MEDIA_DAYS more (keep.js); then only a small
// thumbnail stays. Never the bytes a draft (an open form, or one parked by a logged-out
// person) or a record not yet sent names: those may still have to go, or be shown.

/** Every photo id that an open draft or an outbox record not (yet) sent names, read in `tx`. */
async function namedByUnsent(tx) {
  const owned = new Set();
  for (const draft of await tx.objectStore('drafts').getAll()) idsIn(draft, owned);
  for (const row of await tx.objectStore('outbox').getAll()) {
    if (row.status === 'sent') continue;
    idsIn(row.photo_ids, owned);
    idsIn(row.payload, owned);
  }
  return owned;
}

/**
 * The ids of confirmed photos and clips whose bytes may go: uploaded, confirmed at or before
 * `cutoff` (ISO), bytes still here, named by no draft and no unsent record. An uploaded photo
 * that has no confirmation time yet gets `now` (the first look after its upload).
 */
export async function confirmedMediaToClear(cutoff, now = nowIso()) {
  const tx = (await db()).transaction(['photos', 'drafts', 'outbox'], 'readwrite');
  const due = [];
  // A cursor, not getAll: months of photos would not fit in memory at once.
  let cursor = await tx.objectStore('photos').index('status').openCursor('uploaded');
  while (cursor) {
    const p = cursor.value;
    if (p.bytes) {
      if (!p.confirmed_at) {
        p.confirmed_at = now;
        await cursor.update(p);
      }
      if (p.confirmed_at <= cutoff) due.push(p.id);
    }
    cursor = await cursor.continue();
  }
  // Drafts and the outbox are read only when something is due (most syncs: nothing).
  const owned = due.length ? await namedByUnsent(tx) : new Set();
  await tx.done;
  return due.filter((id) => !owned.has(id));
}

/**
 * Drop the bytes of confirmed photos, keeping `thumbs[id]` ({mime, bytes}, or null for none) in
 * their place. Checked again in the same transaction: a photo a draft or an unsent record
 * has named since is kept whole. Returns the ids cleared.
 */
export async function clearConfirmedBytes(thumbs, now = nowIso()) {
  const tx = (await db()).transaction(['photos', 'drafts', 'outbox'], 'readwrite');
  const owned = await namedByUnsent(tx);
  const photos = tx.objectStore('photos');
  const cleared = [];
  for (const [id, thumb] of Object.entries(thumbs)) {
    const p = await photos.get(id);
    if (!p || p.status !== 'uploaded' || !p.bytes || owned.has(id)) continue;
    const { bytes, ...rest } = p;
    await photos.put({ ...rest, size: bytes.byteLength, cleared_at: now, ...(thumb ? { thumb: thumb.bytes, thumb_mime: thumb.mime } : {}) });
    cleared.push(id);
  }
  await tx.done;
  return cleared;
}
