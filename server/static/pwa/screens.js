// The one list of screens: a route pattern and the ES module that owns that screen.
// A screen module exports `render(container, {params, query}, ctx)` and may return a
// cleanup function; `form: true` marks screens whose open form must not be reloaded under.
import { loadDesk } from './i18n.js';
import { stylesheet } from './ui/dom.js';

// The desk's and the archive's styles come with their first screen, so the patrol screens'
// first load stays small and their look is never touched by these rules.
export const ONLINE_CSS = '/static/pwa/manage.css';

/**
 * A screen that works online only, for people the policy allows `action` somewhere: its module
 * (`warm`, fetched ahead for those people so that it opens offline with its own message) and its styles.
 */
const online = (action, load) => ({
  action,
  warm: load,
  load: () => Promise.all([load(), stylesheet(ONLINE_CSS), loadDesk()]).then(([mod]) => mod),
});

export const SCREENS = [
  { name: 'login', pattern: /^login$/, load: () => import('./ui/login.js'), public: true },
  { name: 'home', pattern: /^$/, load: () => import('./ui/home.js') },
  { name: 'scan', pattern: /^scan(?:\/([^/]+))?$/, load: () => import('./ui/scan.js') },
  { name: 'checkpoint', pattern: /^checkpoint\/(\d+)$/, load: () => import('./ui/checkpoint.js'), form: true },
  { name: 'summary', pattern: /^round\/summary$/, load: () => import('./ui/summary.js') },
  { name: 'outbox', pattern: /^outbox$/, load: () => import('./ui/outbox.js') },
  { name: 'about', pattern: /^about$/, load: () => import('./ui/about.js') },
  { name: 'tasks', pattern: /^tasks$/, load: () => import('./ui/tasks.js') },
  { name: 'task', pattern: /^tasks\/(\d+)$/, load: () => import('./ui/task.js') },
  { name: 'verify', pattern: /^tasks\/(\d+)\/verify$/, load: () => import('./ui/verify.js'), form: true },
  // Supervisor and manager screens (online only; they say so when offline).
  { name: 'manage', pattern: /^manage$/, ...online('desk.open', () => import('./ui/manage/desk.js')) },
  { name: 'manage-tasks', pattern: /^manage\/tasks$/, ...online('desk.open', () => import('./ui/manage/tasks.js')) },
  { name: 'manage-task', pattern: /^manage\/tasks\/(\d+)$/, ...online('desk.open', () => import('./ui/manage/task.js')) },
  { name: 'manage-findings', pattern: /^manage\/findings$/, ...online('desk.open', () => import('./ui/manage/findings.js')) },
  { name: 'manage-residents', pattern: /^manage\/residents$/, ...online('resident.read', () => import('./ui/manage/residents.js')) },
  { name: 'manage-notifications', pattern: /^manage\/notifications$/, ...online('desk.open', () => import('./ui/manage/notifications.js')) },
  { name: 'manage-repeats', pattern: /^manage\/repeats$/, ...online('desk.open', () => import('./ui/manage/repeats.js')) },
  // Places and plans: admins and managers change them, supervisors read them (the server's rules).
  { name: 'manage-checkpoints', pattern: /^manage\/checkpoints$/, ...online('desk.open', () => import('./ui/manage/checkpoints.js')) },
  { name: 'manage-plans', pattern: /^manage\/plans$/, ...online('desk.open', () => import('./ui/manage/plans.js')) },
  { name: 'manage-plan', pattern: /^manage\/plans\/(new|\d+)$/, ...online('desk.open', () => import('./ui/manage/plan.js')), form: true },
  { name: 'manage-coverage', pattern: /^manage\/coverage$/, ...online('coverage.read', () => import('./ui/manage/coverage.js')) },
  // Residents' complaints and return visits (docs/complaints.md).
  { name: 'complaints', pattern: /^complaints$/, ...online('complaint.read', () => import('./ui/manage/complaints.js')) },
  { name: 'complaint-new', pattern: /^complaints\/new$/, ...online('complaint.receive', () => import('./ui/manage/complaint_new.js')), form: true },
  { name: 'complaint-visits', pattern: /^complaints\/visits$/, ...online('complaint.visit', () => import('./ui/manage/return_visits.js')) },
  { name: 'complaint-stats', pattern: /^complaints\/stats$/, ...online('complaint.stats', () => import('./ui/manage/complaint_stats.js')) },
  { name: 'complaint', pattern: /^complaints\/(\d+)$/, ...online('complaint.read', () => import('./ui/manage/complaint.js')) },
  // The archivist's month-end filing.
  { name: 'archive', pattern: /^archive$/, ...online('archive.read', () => import('./ui/archive/months.js')) },
  { name: 'archive-exports', pattern: /^archive\/exports$/, ...online('archive.read', () => import('./ui/archive/exports.js')) },
  { name: 'archive-holds', pattern: /^archive\/holds$/, ...online('archive.read', () => import('./ui/archive/holds.js')) },
  { name: 'archive-retention', pattern: /^archive\/retention$/, ...online('archive.read', () => import('./ui/archive/retention.js')) },
];

// The desk, for the people who may open it.
const DESK = { route: 'manage', key: 'nav_desk', actions: ['desk.open'] };

/**
 * The bottom navigation. An entry with `actions` is shown only to people who may do one of them
 * at some site; one `within` another entry is left out for the people who have that entry, and
 * reached from its own links instead (six entries do not fit a phone's width).
 */
export const NAV = [
  { route: '', key: 'nav_home' },
  { route: 'scan', key: 'nav_scan', actions: ['patrol.record', 'task.verify'] },
  { route: 'tasks', key: 'nav_tasks' },
  { route: 'outbox', key: 'nav_outbox' },
  DESK,
  { route: 'archive', key: 'nav_archive', actions: ['archive.read'], within: DESK },
  { route: 'complaints', key: 'nav_complaints', actions: ['complaint.read'], within: DESK },
];
