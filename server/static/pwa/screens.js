// The one list of screens: a route pattern and the ES module that owns that screen.
// A screen module exports `render(container, {params, query}, ctx)` and may return a
// cleanup function; `form: true` marks screens whose open form must not be reloaded under.
export const SCREENS = [
  { name: 'login', pattern: /^login$/, load: () => import('./ui/login.js'), public: true },
  { name: 'home', pattern: /^$/, load: () => import('./ui/home.js') },
  { name: 'scan', pattern: /^scan(?:\/([^/]+))?$/, load: () => import('./ui/scan.js') },
  { name: 'checkpoint', pattern: /^checkpoint\/(\d+)$/, load: () => import('./ui/checkpoint.js'), form: true },
  { name: 'summary', pattern: /^round\/summary$/, load: () => import('./ui/summary.js') },
  { name: 'outbox', pattern: /^outbox$/, load: () => import('./ui/outbox.js') },
  { name: 'tasks', pattern: /^tasks$/, load: () => import('./ui/tasks.js') },
  { name: 'task', pattern: /^tasks\/(\d+)$/, load: () => import('./ui/task.js') },
  { name: 'verify', pattern: /^tasks\/(\d+)\/verify$/, load: () => import('./ui/verify.js'), form: true },
];

/** The bottom navigation: [route, i18n key]. */
export const NAV = [
  ['', 'nav_home'],
  ['scan', 'nav_scan'],
  ['tasks', 'nav_tasks'],
  ['outbox', 'nav_outbox'],
];
