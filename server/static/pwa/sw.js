// The service worker: the app shell from a versioned cache, so the app opens with no network.
// The server fills in VERSION and SHELL (server/web.py); API data lives in IndexedDB, never here.
const VERSION = '__PWA_VERSION__';
const CACHE = `patrol-shell-${VERSION}`;
const RUNTIME = 'patrol-lazy'; // jsQR and other files loaded on first use, kept across versions
const SHELL = ['/', '/manifest.webmanifest', /*__SHELL__*/];
// Part of this version's shell, fetched once the worker is active (after the first screen):
// the large icons, used only to install the app on the home screen.
const AFTER = [/*__AFTER__*/];
// SHA-256 of each shell file's bytes in this version (server/web.py).
const HASHES = {/*__HASHES__*/};
// The QR decoder is not part of the first load; it is fetched once the app is installed,
// so that scanning works offline even if the camera was never opened online.
const LAZY = ['/static/pwa/vendor/jsqr/jsqr.mjs'];
// The pages that are the phone app: /, and a QR label's /c/<token>.
const APP_PAGE = /^\/(?:c\/[^/]+)?$/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    // No skipWaiting here: a first install activates at once anyway, and an update
    // waits until the app asks (never under an open form).
    precache(),
  );
});

async function sha256(resp) {
  const digest = await crypto.subtle.digest('SHA-256', await resp.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * One shell file for this version. The page has just loaded most of them: the browser's copy is
 * taken when its bytes are this version's (no request at all, phones pay per byte); any other
 * copy is fetched again, revalidated with the server, so a new version never precaches a stale file.
 */
async function shellFile(url) {
  if (HASHES[url]) {
    try {
      const kept = await fetch(url, { cache: 'only-if-cached', mode: 'same-origin' });
      if (kept.ok && (await sha256(kept.clone())) === HASHES[url]) return kept;
    } catch {
      // Not in the browser's cache: ask the server.
    }
  }
  const resp = await fetch(new Request(url, { cache: 'no-cache' }));
  if (!resp.ok) throw new Error(`precache ${url}: HTTP ${resp.status}`);
  return resp;
}

async function precache() {
  const cache = await caches.open(CACHE);
  // Every file first, then the cache: a failed install leaves no half shell behind it.
  const files = await Promise.all(SHELL.map(async (url) => [url, await shellFile(url)]));
  await Promise.all(files.map(([url, resp]) => cache.put(url, resp)));
}

async function precacheLazy() {
  const shell = await caches.open(CACHE);
  for (const url of AFTER) {
    if (!(await shell.match(url))) await shell.add(url).catch(() => {});
  }
  const lazy = await caches.open(RUNTIME);
  for (const url of LAZY) {
    if (!(await lazy.match(url))) await lazy.add(url).catch(() => {});
  }
}

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('patrol-shell-') && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
      await precacheLazy();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'SKIP_WAITING') self.skipWaiting();
  if (event.data && event.data.type === 'VERSION') event.source?.postMessage({ type: 'VERSION', version: VERSION });
  if (event.data && event.data.type === 'CLAIM') {
    // A page this worker does not control (see app.js): refill what may have been
    // cleared, then take the page, which then tells it its version.
    event.waitUntil(
      (async () => {
        if (!(await (await caches.open(CACHE)).match('/'))) await precache().catch(() => {});
        await precacheLazy();
        await self.clients.claim();
      })(),
    );
  }
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) return; // the network, uncached: data lives in IndexedDB
  if (req.mode === 'navigate') {
    // Only the app's own pages (/, /c/<token>) are the shell; the app routes from the URL.
    // Any other page of the site (the API docs, a static file opened directly) is
    // not the phone app and must not start it: the network answers those.
    if (APP_PAGE.test(url.pathname)) event.respondWith(shellFirst(event));
    return;
  }
  // The app's files, and the parts of its translation table (the phone's is in the shell).
  if (url.pathname.startsWith('/static/pwa/') || url.pathname.startsWith('/i18n/')) event.respondWith(cacheFirst(req));
});

async function shellFirst(event) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match('/');
  if (hit) return hit;
  // The shell cache is gone while this worker lives on (the browser evicted Cache Storage,
  // or "clear site data" raced with a page still open): put the shell back, so the app
  // opens offline again, and answer this page from the network.
  try {
    event.waitUntil(Promise.all([precache(), precacheLazy()]).catch(() => {}));
  } catch {
    // The event is already over: the next page load tries again.
  }
  return fetch('/');
}

async function cacheFirst(req) {
  const hit = await caches.match(req, { ignoreSearch: true });
  if (hit) return hit;
  const resp = await fetch(req);
  if (resp.ok) {
    const copy = resp.clone();
    // Only the LAZY files outlive a version; any other module (the desk's, loaded on first use)
    // goes with this version's shell, so an update never serves it stale.
    const keep = LAZY.includes(new URL(req.url).pathname) ? RUNTIME : CACHE;
    caches.open(keep).then((c) => c.put(req, copy));
  }
  return resp;
}
