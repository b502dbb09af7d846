// The app's one store of mutable state; screens read it and subscribe to changes.
const state = {
  lang: localStorage.getItem('patrol.lang') || 'zh',
  me: null, // the logged-in user (kept in IndexedDB meta so the app works offline)
  needLogin: false, // the server said 401: the session expired; the queue waits
  online: navigator.onLine,
  syncing: false,
  lastSync: null,
  syncError: '',
  unsent: 0,
  attention: 0,
  updateReady: false,
  formOpen: false, // a form with a draft is on screen: never reload under it
  round: null,
  version: '', // the service worker's version, sent with each push
  vocabAt: 0, // when the vocabulary or policy table last changed (vocab.js)
};
const listeners = new Set();

export function get() {
  return state;
}

export function set(changes) {
  Object.assign(state, changes);
  if ('lang' in changes) localStorage.setItem('patrol.lang', state.lang);
  for (const fn of listeners) fn(state, changes);
}

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
