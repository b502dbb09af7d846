// The controller: boots storage and session, routes between screens, keeps the chrome current.
import * as api from './api.js';
import * as db from './db.js';
import { NAV, ONLINE_CSS, SCREENS } from './screens.js';
import * as store from './store.js';
import * as sync from './sync.js';
import * as i18n from './i18n.js';
import { fmtTime, t, unsentText } from './i18n.js';
import * as policy from './policy.js';
import * as report from './report.js';
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
  delete main.dataset.ready;
  clear(main);
  const container = h('section', { class: `screen screen-${screen.name}` });
  main.append(container);
  const mine = { screen, cleanup: null };
  current = mine;
  store.set({ formOpen: !!screen.form, screen: screen.name });
  renderNav();
  if (!screen.form && updateWhenFormCloses) applyUpdate();
  try {
    const mod = await screen.load();
    if (current !== mine) return; // a later route() owns the screen now
    // A screen's own "draw me again" only ever redraws that screen: a sync started on the
    // outbox and finishing after the person moved on must not wipe what they type next.
    const own = { ...ctx, rerender: () => (current === mine ? route() : undefined) };
    current.cleanup = (await mod.render(container, { params, query }, own)) || null;
  } catch (e) {
    console.error(e);
    if (navigator.onLine) {
      report.note(e); // a screen that cannot draw itself online is a fault, not the network
      container.append(h('p', { class: 'error', role: 'alert' }, String(e.message || e)));
      return;
    }
    // A screen never opened on this phone cannot load offline: say so, as the online screens do.
    container.append(h('div', { class: 'banner warn', role: 'alert' },
      h('p', {}, t('desk_offline')),
      h('button', { type: 'button', class: 'btn', onclick: () => route() }, t('desk_retry'))));
  } finally {
    // Rendered (or its failure said): #app[data-ready] names the screen (tests wait for it).
    if (current === mine) main.dataset.ready = screen.name;
  }
}

/** Whether the person has typed or chosen something on the screen (a redraw would throw it away). */
function typedInScreen() {
  return [...document.querySelectorAll('#app input, #app textarea, #app select')].some((el) => {
    if (el.type === 'checkbox' || el.type === 'radio') return el.checked !== el.defaultChecked;
    if (el.tagName === 'SELECT') return [...el.options].some((o) => o.selected !== o.defaultSelected);
    return el.type !== 'file' && el.value !== el.defaultValue;
  });
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
    h('span', { class: `net ${s.online ? 'on' : 'off'}`, id: 'net-status', title: status }, status),
    h(
      'a',
      {
        href: '#/outbox',
        id: 'unsent',
        class: `unsent ${s.unsent ? 'has' : ''} ${s.attention ? 'attention' : ''}`,
        title: s.unsent ? t('unsent_named', { what: unsentText(s.unsentRecords || 0, s.unsentPhotos || 0) }) : t('all_sent'),
      },
      // Records are what the outbox lists; a record's photos ride with it. Only photos left
      // (their records sent) are counted as photos. The title names both.
      s.attention && !s.unsent ? t('attention', { n: s.attention })
        : !s.unsentRecords && s.unsentPhotos ? t('unsent_photos', { n: s.unsentPhotos })
          : t('unsent', { n: s.unsentRecords || 0 }),
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
          redrawInLanguage();
        },
      },
      t('lang_switch'),
    ),
    // Logged out, no button (append() would write a missing one as the text "null").
    ...(s.me ? [h('button', { class: 'logout', type: 'button', id: 'logout', title: t('logout_label', { u: s.me.display_name || s.me.username }), onclick: () => logout() }, t('logout_short'))] : []),
  );
  fitBar();
}

/**
 * The language button draws the screen again in the new language without losing what was typed:
 * the values of the screen's fields (by id) go back into the redrawn screen as if typed again
 * (their input and change events run, so a form's own state and its draft follow). A form screen
 * (`form: true`) draws itself again from its draft anyway. Where that cannot be done (a typed field
 * with no id, a picked file on a screen without a draft), only the chrome changes language now,
 * and the screen follows at the next screen.
 */
async function redrawInLanguage() {
  const fields = [...document.querySelectorAll('#app input, #app textarea, #app select')];
  const valueOf = (el) => (el.type === 'checkbox' || el.type === 'radio' ? el.checked
    : el.tagName === 'SELECT' && el.multiple ? [...el.selectedOptions].map((o) => o.value).join('\n') : el.value);
  const typed = (el) => (el.type === 'checkbox' || el.type === 'radio' ? el.checked !== el.defaultChecked
    : el.tagName === 'SELECT' ? [...el.options].some((o) => o.selected !== o.defaultSelected)
      : el.type === 'file' ? el.files?.length > 0 : el.value !== el.defaultValue);
  const mine = fields.filter(typed);
  if (!mine.length) {
    route();
    return;
  }
  if (!store.get().formOpen && mine.some((el) => !el.id || el.type === 'file')) {
    toast(t('lang_screen_later'));
    return;
  }
  const kept = fields.filter((el) => el.id && el.type !== 'file').map((el) => [el.id, valueOf(el)]);
  // Folded parts (a filter box, a danger zone) that hold typed values open again, and the page stays where it was.
  const opened = [...document.querySelectorAll('#app details[open][id]')].map((d) => d.id);
  const { hash } = location;
  const y = window.scrollY;
  await route();
  if (location.hash !== hash) return; // the person went elsewhere meanwhile
  for (const id of opened) document.getElementById(id)?.setAttribute('open', '');
  for (const [id, value] of kept) {
    const el = document.getElementById(id);
    if (!el || !el.closest('#app') || valueOf(el) === value) continue;
    if (el.type === 'checkbox' || el.type === 'radio') el.checked = value;
    else if (el.tagName === 'SELECT' && el.multiple) for (const o of el.options) o.selected = value.split('\n').includes(o.value);
    else el.value = value;
    let up = el.parentElement?.closest('details');
    for (; up; up = up.parentElement?.closest('details')) up.open = true;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }
  window.scrollTo(0, y);
}

// --- a shared phone: log out, and the next person logs in --------------------------------

/**
 * Log out of this phone. The person's unsent records and photos stay on the phone in their
 * name (only their own next login sends them), with their open round and drafts; the app
 * warns first when there are any. Offline, the server's session ends with the next login.
 */
async function logout() {
  const me = store.get().me;
  if (!me) return;
  const { records, photos } = await db.unsent(me.id);
  if ((records || photos) && !window.confirm(t('logout_unsent_warn', { n: unsentText(records, photos) }))) return;
  sessionStorage.removeItem('patrol.after_login');
  // Never take the server's session back by itself after this (adoptServerSession).
  localStorage.setItem(LOGGED_OUT, '1');
  await db.parkUser(me.id);
  store.set({ me: null, needLogin: false, round: null, syncError: '' });
  api.logout().catch((e) => console.warn('logout: server not told', e));
  await sync.refreshCounts();
  go('login');
}

const LOGGED_OUT = 'patrol.logged_out';


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
  if (s.storageStuck) {
    box.append(dismissable('storage-banner', 'warn', t('storage_recovered'), { storageStuck: false }));
  }
  if (s.lostRecords) box.append(dismissable('lost-banner', 'warn', lostText(s.lostRecords), { lostRecords: null }, () => db.setMeta('lost_records', null)));
  if (s.screen !== 'login' && iosBrowserTab() && !localStorage.getItem(HINT_SEEN)) {
    box.append(dismissable('install-hint', 'info', t('ios_install'), {}, () => localStorage.setItem(HINT_SEEN, '1')));
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

/** A banner with a "got it" button that sets `clears` in the store and runs `then`. */
function dismissable(id, kind, text, clears, then = () => {}) {
  const close = () => {
    then();
    store.set(clears);
    document.getElementById(id)?.remove();
  };
  return h(
    'div',
    { class: `banner ${kind}`, id, role: kind === 'warn' ? 'alert' : 'status' },
    h('p', {}, text),
    h('button', { type: 'button', class: 'btn', id: `${id}-ok`, onclick: close }, t('got_it')),
  );
}

// --- iPhone: Safari deletes the data of a site not added to the home screen ----------

const HINT_SEEN = 'patrol.install_hint_seen';

/** iOS Safari (or another iOS browser, all WebKit) in a tab, not the home-screen app. */
export function iosBrowserTab() {
  const ua = navigator.userAgent;
  const ios = /iPad|iPhone|iPod/.test(ua) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
  return ios && !(matchMedia('(display-mode: standalone)').matches || navigator.standalone === true);
}

/**
 * The phone has no data of its own but the server still knows this person: the browser
 * cleared the app's storage (Safari's 7-day rule keeps the server's cookie) or this is a
 * new phone. What was sent is on the server; what was saved on the phone and not sent is
 * gone. Ask the server what it received from this person's phones, and say it.
 */
async function checkLostRecords(how) {
  let devices;
  try {
    devices = await api.get('/api/devices/mine');
  } catch (e) {
    console.warn('could not ask the server what arrived', e);
    return;
  }
  const sent = devices.filter((d) => d.max_seq > 0);
  if (!sent.length) return;
  const last = sent.reduce((a, b) => (a.last_seen_at > b.last_seen_at ? a : b));
  const gaps = sent.flatMap((d) => d.seq_gaps);
  const lostRecords = {
    how,
    last_seen_at: last.last_seen_at,
    received: sent.reduce((n, d) => n + d.max_seq - d.seq_gaps.reduce((m, [a, b]) => m + b - a + 1, 0), 0),
    gaps,
  };
  await db.setMeta('lost_records', lostRecords);
  store.set({ lostRecords });
}

function lostText(x) {
  // Kept session, no data: the browser cleared it. A login on an empty phone may as well be a
  // new phone, so that is said without claiming a loss (rows from before had no `how`).
  const parts = [t(x.how === 'login' ? 'storage_empty_at_login' : 'storage_cleared', { t: fmtTime(x.last_seen_at), n: x.received })];
  if (x.gaps.length) parts.push(t('records_never_arrived', { r: x.gaps.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ') }));
  return parts.join(' ');
}

function renderNav() {
  const s = store.get();
  const nav = clear(document.getElementById('nav'));
  if (!s.me) return;
  nav.setAttribute('aria-label', t('main_nav'));
  const { path } = parseHash();
  const top = path.split('/')[0];
  // By a role, or by a relation to some of the action's objects (a complaint's handler finds it here).
  const may = (actions) => actions.some((a) => policy.reachable(a));
  const shown = NAV.filter(({ actions, within }) => (!actions || may(actions)) && !(within && may(within.actions)));
  // A screen reached through another entry's own links (the archive, from the desk) marks that entry.
  const here = shown.find((x) => x.route === top) || shown.find((x) => NAV.some((y) => y.route === top && y.within?.route === x.route));
  for (const entry of shown) {
    const active = entry === here;
    nav.append(h('a', { href: `#/${entry.route}`, class: active ? 'active' : '', 'aria-current': active ? 'page' : null }, t(entry.key)));
  }
}

/**
 * The bar keeps one line whatever the language and the counts. When its words do not fit
 * (English, "Syncing…" and "Attention 1" on a 390 px phone), the network state becomes a
 * coloured dot (its words stay in its title and for screen readers), then the buttons
 * narrow; nothing is pushed off the screen.
 */
function fitBar() {
  const bar = document.getElementById('bar');
  bar.classList.remove('tight', 'tighter');
  if (bar.scrollWidth > bar.clientWidth) bar.classList.add('tight');
  if (bar.scrollWidth > bar.clientWidth) bar.classList.add('tighter');
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
  const mine = SCREENS.filter((x) => x.warm && policy.reachable(x.action));
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
  const controlledAtStart = !!navigator.serviceWorker.controller;
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
  // An update is a worker that installed while another one already controlled this page,
  // and that now waits. A first install has no controller when it starts; its own
  // clients.claim() may set one before this page hears "installed" (WebKit), and nothing
  // then waits: offering "reload" there would do nothing.
  const watch = (worker) => {
    if (!worker) return;
    const controlledBefore = !!navigator.serviceWorker.controller;
    worker.addEventListener('statechange', () => {
      if (worker.state === 'installed' && controlledBefore && registration.waiting === worker) store.set({ updateReady: true });
    });
  };
  if (registration.waiting && controlledAtStart) store.set({ updateReady: true });
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
  report.start();
  addEventListener('resize', fitBar); // a phone turned, a window resized
  db.onLost(storageLost);
  db.onStuck(() => store.set({ storageStuck: true }));
  addEventListener('pageshow', (ev) => {
    // Back from the back-forward cache: this page let go of its storage and sync lock when
    // it was hidden (db.js, sync.js), and whatever it was doing then was aborted. Draw the
    // screen again from storage and sync.
    if (!ev.persisted) return;
    route();
    if (store.get().me) sync.syncNow();
  });
  document.documentElement.lang = store.get().lang === 'zh' ? 'zh-CN' : 'en';
  // A QR opened by the phone's camera app may arrive as /c/<token> (served from cache).
  const m = location.pathname.match(/^\/c\/([^/]+)$/);
  if (m) history.replaceState(null, '', `/#/scan/${m[1]}`);
  const [me, round, lostRecords] = await Promise.all([db.getMeta('me'), db.getMeta('round'), db.getMeta('lost_records')]);
  // The session's CSRF token is kept with the user, so a phone that starts offline can
  // send as soon as the network is back, without asking the server first.
  if (me) api.setCsrf(me.csrf_token);
  store.set({ me: me || null, round: round || null, lostRecords: lostRecords || null, lastSync: localStorage.getItem('patrol.last_sync') });
  // Every screen names things through the translation table and the domain's vocabulary.
  await i18n.load().catch((e) => console.error(e));
  if (!(await loadVocabulary())) return;
  let queued = false;
  store.subscribe((s, changes) => {
    if (queued || !['lang', 'me', 'online', 'syncing', 'unsent', 'unsentRecords', 'unsentPhotos', 'attention', 'needLogin', 'updateReady', 'screen', 'storageStuck', 'lostRecords'].some((k) => k in changes)) return;
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
    if (!store.get().formOpen && !typedInScreen()) route();
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
  // Confirmed photo and sound bytes older than the server's keep-days leave the phone (thumbnails
  // stay); the before-photos of tasks to verify are fetched ahead: at start, and after each pull.
  const keeping = () => import('./keep.js').then((keep) => keep.sweepSoon().then(() => keep.cacheSoon()), (e) => console.warn(e));
  keeping();
  store.subscribe((_s, changes) => {
    if ('pulledAt' in changes) keeping();
  });
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
    // Nothing on the phone: once someone is logged in (the server's cookie outlived the
    // cleared storage, or the person logs in), say what the server has and what is lost.
    const unsubscribe = store.subscribe((st, changes) => {
      if (!('me' in changes) || !st.me) return;
      unsubscribe();
      checkLostRecords(adopted ? 'cleared' : 'login');
    });
    await adoptServerSession();
  }
}

/** The server still has a session for this browser: carry on as that user, as after a login. */
// Whether this page took over a session the server kept while the phone had no data.
let adopted = false;

async function adoptServerSession() {
  if (localStorage.getItem(LOGGED_OUT)) return; // someone logged out here: the next person logs in
  let user;
  try {
    user = await api.me();
  } catch {
    return; // logged out or offline: the login screen it is
  }
  const round = await db.unparkUser(user);
  adopted = true;
  store.set({ me: user, needLogin: false, round });
  navigator.storage?.persist?.().catch(() => {});
  sync.start();
  if (store.get().screen === 'login') ctx.afterLogin();
}

boot();
