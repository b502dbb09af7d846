// The domain's words on the phone: every list of /api/meta (states, routes, categories, kinds,
// roles, results, department codes…), the default routes, the task state machine and the
// policy table, kept in IndexedDB for offline use. No other module names a domain value.
import * as api from './api.js';
import * as db from './db.js';
import { t } from './i18n.js';
import * as store from './store.js';

let meta = null;

// The few values the app's own logic names. Each is checked against its list in /api/meta
// when the vocabulary loads, so a value renamed on the server is reported, not silently missed.
export const RESULT = { OK: 'ok', FAIL: 'fail' };
export const SEVERITY = { NORMAL: 'normal', MAJOR: 'major' };
export const VERIFY = { PASS: 'pass', FAIL: 'fail' };
export const TASK = { OPEN: 'open', IN_PROGRESS: 'in_progress', VERIFIED: 'verified' };
export const EXTENSION = { PENDING: 'pending', APPROVED: 'approved', REJECTED: 'rejected' };
export const SCAN = { QR: 'qr', CODE: 'code', URL: 'url' };
export const PHOTO = { FINDING: 'finding', AFTER: 'after', SIGNATURE: 'signature' };
export const SYNC = { APPLIED: 'applied', DUPLICATE: 'duplicate', REJECTED: 'rejected' };
export const MONTH = { OPEN: 'open', SEALED: 'sealed', ARCHIVED: 'archived' };
export const MISSED = { OTHER: 'other' }; // the missed-checkpoint reason that needs words
const CHECKED = {
  results: RESULT, severities: SEVERITY, verify_results: VERIFY, task_states: TASK, extension_states: EXTENSION,
  scan_methods: SCAN, photo_purposes: PHOTO, sync_outcomes: SYNC, month_states: MONTH, missed_reasons: MISSED,
};

// Words of server answers that /api/meta does not list (yet): the coverage report's window
// status, the retention preview's action, the month exports' kinds and formats.
export const COVERAGE_IN_PROGRESS = 'in_progress';
export const RETENTION_PURGE = 'purge';
export const EXPORT_KINDS = ['visits', 'findings', 'tasks', 'verifications'];
export const EXPORT_FORMATS = ['csv', 'xlsx'];

function use(fresh) {
  for (const [list, named] of Object.entries(CHECKED)) {
    const known = fresh.lists?.[list] || [];
    for (const value of Object.values(named)) {
      if (!known.includes(value)) console.error(`vocabulary: the server's ${list} has no ${value}`);
    }
  }
  meta = fresh;
}

/**
 * Have the vocabulary before the first screen: the phone's copy at once (offline too), then
 * the server's in the background; only a phone that never had it waits for the network.
 */
export async function load() {
  const kept = await db.getMeta('vocab').catch(() => null);
  if (kept) {
    use(kept);
    refresh().catch(() => {});
    return;
  }
  await refresh();
}

/** The server's current vocabulary and policy; a change is kept and announced (`vocabAt`). */
export async function refresh() {
  const fresh = await api.get('/api/meta');
  const changed = JSON.stringify(fresh) !== JSON.stringify(meta);
  use(fresh);
  if (!changed) return;
  // A full phone keeps the new table in memory for this session.
  await db.setMeta('vocab', fresh).catch((e) => console.warn('vocabulary not kept', e));
  store.set({ vocabAt: Date.now() });
}

export const loaded = () => meta !== null;

/** The values of one named list, in the server's order. */
export function values(list) {
  const out = meta.lists[list];
  if (!out) throw new Error(`unknown list ${list}`);
  return out;
}

/** What people read for value `value` of list `list`, in their language. */
export function label(list, value) {
  return t(`${meta.label_prefixes[list]}${value}`);
}

/** [value, label] pairs of a list, for a <select>. */
export const options = (list) => values(list).map((v) => [v, label(list, v)]);

/** A category's usual route, for a problem outside the checklist (findings.default_routes on the server). */
export const defaultRoute = (category) => meta.default_routes[category] || '';

/** The policy table: action → {roles, relations}. */
export const rules = () => meta.policy.actions;

export const isClosed = (state) => values('task_closed_states').includes(state);
export const openStates = () => values('task_states').filter((s) => !isClosed(s));

/** The task moves the state machine allows from a state: [{from, to, action}]. */
export const movesFrom = (state) => meta.moves.filter((m) => m.from === state);

/** A task in this state waits for someone to verify the work on site. */
export const awaitingVerification = (state) => movesFrom(state).some((m) => m.action === 'task.verify');

/** A task may be (re)assigned while it is open and its work is not yet done. */
export const assignable = (state) => !isClosed(state) && !awaitingVerification(state);

/** The server's rule (tasks.is_overdue): not closed, and its due time has passed. */
export function isOverdue(task, now = new Date()) {
  return !isClosed(task.state) && new Date(task.due_at) < now;
}

/** Days the phone keeps a photo's or sound clip's bytes after the server confirmed them (PHONE_KEEP_MEDIA_DAYS). */
export const keepMediaDays = () => {
  const days = Number(meta?.phone?.keep_media_days);
  return Number.isFinite(days) && days >= 0 ? days : 14;
};
