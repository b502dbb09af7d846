// Who may do what, on this phone: the server's policy table (through vocab.js, kept offline),
// my roles at each site (from /api/auth/me, kept with the user) and my relations to a task.
// Every button that depends on a permission asks can(); none copies a role list.
import * as store from './store.js';
import * as vocab from './vocab.js';

// How each relation of the policy table is read off an object the screen holds.
const RELATIONS = {
  assignee: (me, task) => !!task && task.assignee_id != null && task.assignee_id === me.id,
  // A complaint's handler (a complaint is passed as `task`: it has site_id and handler_id).
  handler: (me, obj) => !!obj && obj.handler_id != null && obj.handler_id === me.id,
};

function me() {
  return store.get().me;
}

/** My roles at one site (none where I do not work). */
export function rolesAt(siteId) {
  const site = (me()?.sites || []).find((s) => s.site_id === Number(siteId));
  return site ? site.roles : [];
}

/**
 * May I do `action` at `siteId` (default: the task's site), on `task` if one is given?
 * Roles held at the site, or a relation to the task (its assignee), allow it, as on the server.
 */
export function can(action, { siteId = null, task = null } = {}) {
  const user = me();
  if (!user) return false;
  const rule = vocab.rules()[action];
  if (!rule) {
    // An action this phone's copy of the table does not know yet (the server's is newer): not
    // allowed until the next refresh brings it, rather than a screen that fails to draw.
    console.error(`unknown policy action ${action}`);
    return false;
  }
  const roles = rolesAt(siteId ?? task?.site_id);
  if (rule.roles.some((r) => roles.includes(r))) return true;
  return rule.relations.some((rel) => RELATIONS[rel]?.(user, task));
}

/** The sites (my memberships) where I may do `action`. */
export function sitesWhere(action) {
  return (me()?.sites || []).filter((s) => can(action, { siteId: s.site_id }));
}

/** May I do `action` at some site? */
export const anywhere = (action) => sitesWhere(action).length > 0;

/**
 * The sites where I may do `action` by my roles, or where a relation the rule names (a
 * complaint's handler, whatever their role) may allow it on some of its objects: a screen
 * listing them shows me those there (the server's list holds just the ones I am related to).
 */
export function sitesReaching(action) {
  const rule = vocab.rules()[action];
  if (rule?.relations?.length) return me()?.sites || [];
  return sitesWhere(action);
}

/** May I reach some of `action`'s objects somewhere, by a role or by a relation? */
export const reachable = (action) => sitesReaching(action).length > 0;

/** The moves of a task's state machine that I may make from its state. */
export function movesFor(task) {
  return vocab.movesFrom(task.state).filter((m) => can(m.action, { task }));
}
