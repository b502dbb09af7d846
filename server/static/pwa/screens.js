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
  // Supervisor and manager screens (online only; they say so when offline).
  { name: 'manage', pattern: /^manage$/, load: () => import('./ui/manage/desk.js') },
  { name: 'manage-tasks', pattern: /^manage\/tasks$/, load: () => import('./ui/manage/tasks.js') },
  { name: 'manage-task', pattern: /^manage\/tasks\/(\d+)$/, load: () => import('./ui/manage/task.js') },
  { name: 'manage-findings', pattern: /^manage\/findings$/, load: () => import('./ui/manage/findings.js') },
  { name: 'manage-notifications', pattern: /^manage\/notifications$/, load: () => import('./ui/manage/notifications.js') },
  { name: 'manage-repeats', pattern: /^manage\/repeats$/, load: () => import('./ui/manage/repeats.js') },
  // Places and plans: admins and managers change them, supervisors read them (the server's rules).
  { name: 'manage-checkpoints', pattern: /^manage\/checkpoints$/, load: () => import('./ui/manage/checkpoints.js') },
  { name: 'manage-plans', pattern: /^manage\/plans$/, load: () => import('./ui/manage/plans.js') },
  { name: 'manage-plan', pattern: /^manage\/plans\/(new|\d+)$/, load: () => import('./ui/manage/plan.js'), form: true },
  { name: 'manage-coverage', pattern: /^manage\/coverage$/, load: () => import('./ui/manage/coverage.js') },
];

/** The bottom navigation: [route, i18n key, roles (shown only to users with one of them at some site)]. */
export const NAV = [
  ['', 'nav_home'],
  ['scan', 'nav_scan'],
  ['tasks', 'nav_tasks'],
  ['outbox', 'nav_outbox'],
  ['manage', 'nav_desk', ['supervisor', 'manager', 'admin']],
];
