// The controller: boots storage and session, routes between screens, keeps the chrome current.
import * as api from './api.js';
import * as db from './db.js';
import { NAV, ONLINE_CSS, SCREENS } from './screens.js';
import * as store from './store.js';
import * as sync from './sync.js';
import * as i18n from './i18n.js';
import { t } from './i18n.js';
import * as policy from './policy.js';
import * as vocab from './vocab.js';
import { clear, h, toast } from './ui/dom.js';

// When this page started: photos saved since then may not be named by their form yet.
const STARTED_AT = new Date().toISOString();
let current = null; // {screen, cleanup}
let registration = null;
let reloading = false;
let updateWhenFormCloses = false;

export function go(path) {
  const target = `#/${path}`;
  if (location.hash === target) route();
  else location.hash = target;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs = ''] = raw.split('?');
  return { path: decodeURIComponent(path), query: Object.fromEntries(new URLSearchParams(qs)) };
}

async function route() {
  const { path, query } = parseHash();
  const s = store.get();
  let screen = SCREENS.find((x) => x.pattern.test(path));
  let params = screen ? path.match(screen.pattern).slice(1) : [];
  if (!screen) {
    screen = SCREENS.find((x) => x.name === 'home');
    params = [];
  }
  if (!screen.public && !s.me) {
    // Remember where a QR link wanted to go, and come back there after logging in.
    if (path) sessionStorage.setItem('patrol.after_login', path);
    screen = SCREENS.find((x) => x.name === 'login');
  }
  if (current?.cleanup) {
    try {
      current.cleanup();
    } catch (e) {
      console.error(e);
    }
  }
  const main = document.getElementById('app');
  clear(main);
  const container = h('section', { class: `screen screen-${screen.name}` });
  main.append(container);
  current = { screen, cleanup: null };
  store.set({ formOpen: !!screen.form, screen: screen.name });
  renderNav();
  if (!screen.form && updateWhenFormCloses) applyUpdate();
  try {
    const mod = await screen.load();
    if (current.screen !== screen) return;
    current.cleanup = (await mod.render(container, { params, query }, ctx)) || null;
  } catch (e) {
    console.error(e);
    if (navigator.onLine) {
      container.append(h('p', { class: 'error', role: 'alert' }, String(e.message || e)));
      return;
    }
    // A screen never opened on this phone cannot load offline: say so, as the online screens do.
    container.append(h('div', { class: 'banner warn', role: 'alert' },
      h('p', {}, t('desk_offline')),
      h('button', { type: 'button', class: 'btn', onclick: () => route() }, t('desk_retry'))));
  }
}

export const ctx = {
  go,
  rerender: () => route(),
  afterLogin() {
    const next = sessionStorage.getItem('patrol.after_login') || '';
    sessionStorage.removeItem('patrol.after_login');
    go(next);
  },
};

// --- chrome: top bar, banners, bottom navigation -------------------------------------

function renderBar() {
  const s = store.get();
  const bar = clear(document.getElementById('bar'));
  const status = s.syncing ? t('syncing') : s.online ? t('online') : t('offline');
  bar.append(
    h('span', { class: 'brand' }, t('app_name')),
    h('span', { class: `net ${s.online ? 'on' : 'off'}`, id: 'net-status' }, status),
    h(
      'a',
      {
        href: '#/outbox',
        id: 'unsent',
        class: `unsent ${s.unsent ? 'has' : ''} ${s.attention ? 'attention' : ''}`,
        title: t('unsent_label', { n: s.unsent }),
      },
      s.attention && !s.unsent ? t('attention', { n: s.attention }) : t('unsent', { n: s.unsent }),
    ),
    h(
      'button',
      {
        class: 'lang',
        type: 'button',
        lang: s.lang === 'zh' ? 'en' : 'zh',
        title: t('lang_switch_label'),
        onclick: () => {
          store.set({ lang: s.lang === 'zh' ? 'en' : 'zh' });
          document.documentElement.lang = store.get().lang === 'zh' ? 'zh-CN' : 'en';
          renderChrome();
          route();
        },
      },
      t('lang_switch'),
    ),
  );
}

function renderBanners() {
  const s = store.get();
  const box = clear(document.getElementById('banners'));
  if (s.needLogin && s.me && s.screen !== 'login') {
    box.append(
      h(
        'div',
        { class: 'banner warn', role: 'alert' },
        h('p', {}, t('session_expired')),
        h('button', { type: 'button', class: 'btn', onclick: () => go('login') }, t('login_again')),
      ),
    );
  }
  if (s.updateReady) {
    box.append(
      h(
        'div',
        { class: 'banner info', id: 'update-banner' },
        h('p', {}, t('update_ready')),
        h('button', { type: 'button', class: 'btn', id: 'update-reload', onclick: () => requestUpdate() }, t('update_reload')),
      ),
    );
  }
}

function renderNav() {
  const s = store.get();
  const nav = clear(document.getElementById('nav'));
  if (!s.me) return;
  nav.setAttribute('aria-label', t('main_nav'));
  const { path } = parseHash();
  const top = path.split('/')[0];
  const may = (actions) => actions.some((a) => policy.anywhere(a));
  const shown = NAV.filter(({ actions, within }) => (!actions || may(actions)) && !(within && may(within.actions)));
  // A screen reached through another entry's own links (the archive, from the desk) marks that entry.
  const here = shown.find((x) => x.route === top) || shown.find((x) => NAV.some((y) => y.route === top && y.within?.route === x.route));
  for (const entry of shown) {
    const active = entry === here;
    nav.append(h('a', { href: `#/${entry.route}`, class: active ? 'active' : '', 'aria-current': active ? 'page' : null }, t(entry.key)));
  }
}

function renderChrome() {
  renderBar();
  renderBanners();
  renderNav();
}

// --- the online screens, fetched ahead for the people who use them ----------------------

let warmedFor = null; // the user whose online screens this page fetched ahead

/**
 * Once the service worker controls the page, fetch the modules and styles of the online screens
 * this person may open (the shell leaves them out, so a patroller never downloads them): they
 * then open offline too, and say themselves that they need the network.
 */
function warmOnlineScreens() {
  const me = store.get().me;
  if (!me || warmedFor === me.id || !navigator.serviceWorker?.controller) return;
  warmedFor = me.id;
  const mine = SCREENS.filter((x) => x.warm && policy.anywhere(x.action));
  if (!mine.length) return;
  Promise.all([...mine.map((x) => x.warm()), fetch(ONLINE_CSS)]).catch((e) => console.warn('online screens not fetched ahead', e));
}

// --- updates: a new service worker waits until no form is open -----------------------

function requestUpdate() {
  if (store.get().formOpen) {
    // The draft is saved on every change anyway, but never pull the page from under a form.
    updateWhenFormCloses = true;
    toast(t('update_after_form'));
    return;
  }
  applyUpdate();
}

function applyUpdate() {
  updateWhenFormCloses = false;
  const waiting = registration && registration.waiting;
  if (!waiting) return;
  reloading = true;
  waiting.postMessage({ type: 'SKIP_WAITING' });
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloading) location.reload();
    else navigator.serviceWorker.controller?.postMessage({ type: 'VERSION' }); // a first install took this page
  });
  try {
    registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  } catch (e) {
    console.warn('service worker not registered', e);
    return;
  }
  const watch = (worker) => {
    worker?.addEventListener('statechange', () => {
      if (worker.state === 'installed' && navigator.serviceWorker.controller) store.set({ updateReady: true });
    });
  };
  if (registration.waiting && navigator.serviceWorker.controller) store.set({ updateReady: true });
  navigator.serviceWorker.addEventListener('message', (ev) => {
    if (ev.data?.type === 'VERSION') store.set({ version: ev.data.version });
  });
  navigator.serviceWorker.startMessages();
  navigator.serviceWorker.ready.then((ready) => {
    if (navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage({ type: 'VERSION' });
    // An active worker that does not control this page: a registration the browser was
    // about to remove (site data cleared) and kept because this page registered it again.
    // It will not install or activate again by itself, so ask it to check its caches and
    // take this page.
    else ready.active?.postMessage({ type: 'CLAIM' });
  });
  watch(registration.installing);
  registration.addEventListener('updatefound', () => watch(registration.installing));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') registration.update().catch(() => {});
  });
}

// --- boot ----------------------------------------------------------------------------

async function refreshSession() {
  try {
    const user = await api.me();
    await db.setMeta('me', user);
    store.set({ me: user, needLogin: false });
  } catch (e) {
    if (e.status === 401) {
      // Offline-first: a known user keeps working; only the sending waits for a login.
      if (store.get().me) store.set({ needLogin: true });
    }
  }
}

/**
 * The database went away under this page (the browser cleared the site's storage, or a
 * newer version of the app took it over in another tab). Nothing this page holds in
 * memory can be trusted any more: start again from what storage holds now, which after a
 * clearing is nothing, so the person logs in and the app pulls everything again.
 */
function storageLost(reason) {
  if (reason === 'upgraded' && registration?.waiting) {
    applyUpdate(); // the newer version takes over, then the page reloads into it
    return;
  }
  location.reload();
}

/**
 * The vocabulary and policy table, from the phone's copy or the server. Only a phone that never
 * had them, and is offline, cannot start: it says so, with a retry. Returns whether they loaded.
 */
async function loadVocabulary() {
  try {
    await vocab.load();
    return true;
  } catch (e) {
    console.error(e);
    const main = clear(document.getElementById('app'));
    main.append(h('div', { class: 'banner warn', role: 'alert', id: 'vocab-offline' },
      h('p', {}, t('vocab_offline')),
      h('button', { type: 'button', class: 'btn', onclick: () => location.reload() }, t('retry'))));
    return false;
  }
}

async function boot() {
  db.onLost(storageLost);
  document.documentElement.lang = store.get().lang === 'zh' ? 'zh-CN' : 'en';
  // A QR opened by the phone's camera app may arrive as /c/<token> (served from cache).
  const m = location.pathname.match(/^\/c\/([^/]+)$/);
  if (m) history.replaceState(null, '', `/#/scan/${m[1]}`);
  const [me, round] = await Promise.all([db.getMeta('me'), db.getMeta('round')]);
  // The session's CSRF token is kept with the user, so a phone that starts offline can
  // send as soon as the network is back, without asking the server first.
  if (me) api.setCsrf(me.csrf_token);
  store.set({ me: me || null, round: round || null, lastSync: localStorage.getItem('patrol.last_sync') });
  // Every screen names things through the translation table and the domain's vocabulary.
  await i18n.load().catch((e) => console.error(e));
  if (!(await loadVocabulary())) return;
  let queued = false;
  store.subscribe((s, changes) => {
    if (queued || !['lang', 'me', 'online', 'syncing', 'unsent', 'attention', 'needLogin', 'updateReady', 'screen'].some((k) => k in changes)) return;
    // Several changes in one turn redraw the chrome once.
    queued = true;
    queueMicrotask(() => {
      queued = false;
      renderBar();
      renderBanners();
    });
  });
  // A changed policy or vocabulary shows at once: the chrome, and the screen unless a form is open.
  store.subscribe((_s, changes) => {
    if ('me' in changes) warmOnlineScreens();
    if (!('vocabAt' in changes)) return;
    renderNav();
    if (!store.get().formOpen) route();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') vocab.refresh().catch(() => {});
  });
  renderChrome();
  window.addEventListener('hashchange', route);
  await route();
  // Photos of forms that were replaced, or saved just before the app was killed, and that no
  // draft or record names: phones have little storage (never a photo a record names).
  db.sweepOrphanPhotos(STARTED_AT).then(
    (gone) => gone.length && console.info(`deleted ${gone.length} orphan photo(s)`),
    (e) => console.warn('photo sweep failed', e),
  );
  // Installing the service worker downloads the whole shell: let the first screen finish first.
  if (document.readyState === 'complete') registerServiceWorker();
  else window.addEventListener('load', () => registerServiceWorker(), { once: true });
  navigator.serviceWorker?.addEventListener('controllerchange', warmOnlineScreens);
  if (me) {
    // Ask the browser not to evict unsent records under storage pressure (Safari: 7 days).
    navigator.storage?.persist?.().catch(() => {});
    await refreshSession();
    sync.start();
    warmOnlineScreens();
  } else {
    sync.refreshCounts();
  }
}

boot();
