// The service worker: the app shell from a versioned cache, so the app opens with no network.
// The server fills in VERSION and SHELL (server/web.py); API data lives in IndexedDB, never here.
const VERSION = '__PWA_VERSION__';
const CACHE = `patrol-shell-${VERSION}`;
const RUNTIME = 'patrol-lazy'; // jsQR and other files loaded on first use, kept across versions
const SHELL = ['/', '/manifest.webmanifest', /*__SHELL__*/];
// The QR decoder is not part of the first load; it is fetched once the app is installed,
// so that scanning works offline even if the camera was never opened online.
const LAZY = ['/static/pwa/vendor/jsqr/jsqr.mjs'];

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // 'no-cache' revalidates every file with the server (a 304 when the page just
      // loaded it), so a new version never precaches a stale file.
      await cache.addAll(SHELL.map((url) => new Request(url, { cache: 'no-cache' })));
      // No skipWaiting here: a first install activates at once anyway, and an update
      // waits until the app asks (never under an open form).
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('patrol-shell-') && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
      const lazy = await caches.open(RUNTIME);
      for (const url of LAZY) {
        if (!(await lazy.match(url))) await lazy.add(url).catch(() => {});
      }
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'SKIP_WAITING') self.skipWaiting();
  if (event.data && event.data.type === 'VERSION') event.source?.postMessage({ type: 'VERSION', version: VERSION });
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) return; // the network, uncached: data lives in IndexedDB
  if (req.mode === 'navigate') {
    // Any page of the app (/, /c/<token>) is the shell; the app routes from the URL.
    event.respondWith(shellFirst());
    return;
  }
  if (url.pathname.startsWith('/static/pwa/')) event.respondWith(cacheFirst(req));
});

async function shellFirst() {
  const cache = await caches.open(CACHE);
  const hit = await cache.match('/');
  if (hit) return hit;
  return fetch('/');
}

async function cacheFirst(req) {
  const hit = await caches.match(req, { ignoreSearch: true });
  if (hit) return hit;
  const resp = await fetch(req);
  if (resp.ok) {
    const copy = resp.clone();
    caches.open(RUNTIME).then((c) => c.put(req, copy));
  }
  return resp;
}
