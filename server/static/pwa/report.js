// Errors this page met that nothing on it handled, sent to the server's log
// (POST /api/client-errors): a patroller whose tap did nothing in a basement should leave a
// trace someone can find. Diagnostics, not records: kept in memory only, never in the outbox;
// what cannot be sent before the page closes is gone.
import * as api from './api.js';
import * as store from './store.js';

const MAX_PER_PAGE = 20; // distinct errors one page life sends at most
const BATCH = 10; // the server takes at most 10 per request
const WAIT_MS = 2000; // errors often come in bursts: send them together
const pending = new Map(); // key → {message, stack, screen, at, count}
const sent = new Set(); // keys this page already sent (a repeat only counts)
let timer = null;

function describe(err) {
  if (err instanceof Error) return { message: `${err.name}: ${err.message}`.slice(0, 500), stack: String(err.stack || '').slice(0, 4000) };
  return { message: String(err?.message ?? err ?? 'unknown error').slice(0, 500) || 'unknown error', stack: '' };
}

/** Note an error for the server's log (screens call it for failures they show but did not expect). */
export function note(err) {
  try {
    const { message, stack } = describe(err);
    const screen = String(store.get().screen || '').slice(0, 40);
    const key = `${screen}|${message}`;
    const seen = pending.get(key);
    if (seen) {
      seen.count += 1;
      return;
    }
    if (sent.has(key) || sent.size + pending.size >= MAX_PER_PAGE) return;
    pending.set(key, { message, stack, screen, at: new Date().toISOString(), count: 1, app_version: String(store.get().version || '').slice(0, 40) });
    schedule();
  } catch {
    /* reporting must never be the next error */
  }
}

function schedule() {
  if (timer === null) timer = setTimeout(flush, WAIT_MS);
}

async function flush() {
  timer = null;
  if (!pending.size) return;
  // Offline or logged out: keep them (bounded above) until the network or a login is back.
  if (!navigator.onLine || !store.get().me) return;
  const batch = [...pending.entries()].slice(0, BATCH);
  for (const [key] of batch) {
    pending.delete(key);
    sent.add(key);
  }
  try {
    await api.post('/api/client-errors/', { errors: batch.map(([, e]) => e) });
  } catch (e) {
    if (e instanceof api.ApiError && e.offline) {
      // Not sent: back in the queue for the next chance.
      for (const [key, value] of batch) {
        sent.delete(key);
        pending.set(key, value);
      }
    }
    return; // refused (4xx, 5xx): not sent again, and not reported (that could loop)
  }
  if (pending.size) schedule();
}

/** Listen for what nothing on the page caught; send what waits when the network or a login comes back. */
export function start() {
  addEventListener('error', (ev) => {
    // Only the app's own scripts: a browser extension's or another origin's error is not ours.
    if (ev.filename && !ev.filename.startsWith(location.origin)) return;
    note(ev.error || ev.message);
  });
  addEventListener('unhandledrejection', (ev) => note(ev.reason));
  addEventListener('online', () => pending.size && schedule());
  store.subscribe((s, changes) => {
    if ('me' in changes && s.me && pending.size) schedule();
  });
}
