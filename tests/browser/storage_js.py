"""What browsers do to a site's storage, as scripts run in the page: clear it, evict it, fill it, free it."""

from __future__ import annotations

CLEAR_SITE_STORAGE_JS = """async () => {
    for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
    localStorage.clear(); sessionStorage.clear();
    for (const k of await caches.keys()) await caches.delete(k);
    for (const d of await indexedDB.databases()) {
      await new Promise((ok) => { const r = indexedDB.deleteDatabase(d.name); r.onsuccess = r.onerror = r.onblocked = ok; });
    }
}"""

# Other data of the site fills what is left of its quota (random bytes, which do not
# compress), in ever smaller pieces until not even 1 KiB fits: the phone is full.
FILL_STORAGE_JS = """async () => {
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open('filler');
    r.onupgradeneeded = () => r.result.createObjectStore('blocks', { autoIncrement: true });
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const block = (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
    return b;
  };
  const put = (n) => new Promise((ok) => {
    const tx = db.transaction('blocks', 'readwrite');
    tx.objectStore('blocks').add(block(n));
    tx.oncomplete = () => ok(null);
    tx.onabort = () => ok(tx.error ? tx.error.name : 'aborted');
  });
  let refused = null;
  for (let n = 1 << 18; n >= 1024; n >>= 2) while (!(refused = await put(n)));
  db.close();
  return refused;
}"""

FREE_STORAGE_JS = """() => new Promise((ok, no) => {
  const r = indexedDB.deleteDatabase('filler');
  r.onsuccess = () => ok(true);
  r.onerror = () => no(r.error);
})"""

# A page of the site that is not the app (an image: every engine shows it and fires "load").
NOT_THE_APP = "/static/pwa/icons/icon-192.png"
# What Safari's 7-day rule (or any eviction) deletes: every script-written store of the site.
EVICT_JS = CLEAR_SITE_STORAGE_JS
