// The desk's own row of links between its screens, with my unread count on notifications.
import * as api from '../../api.js';
import { t } from '../../i18n.js';
import { h } from '../dom.js';
import { tabs } from '../online.js';

const LINKS = [
  ['manage', 'desk_nav_desk'],
  ['manage/tasks', 'desk_nav_tasks'],
  ['manage/findings', 'desk_nav_findings'],
  ['manage/residents', 'desk_nav_residents', 'resident.read'],
  ['manage/notifications', 'desk_nav_notifications'],
  ['manage/repeats', 'desk_nav_repeats'],
  ['manage/checkpoints', 'desk_nav_checkpoints'],
  ['manage/plans', 'desk_nav_plans'],
  ['manage/coverage', 'desk_nav_coverage', 'coverage.read'],
  ['complaints', 'nav_complaints', 'complaint.read'],
  // The archive is its own area; people with the desk reach it from here (screens.js NAV).
  ['archive', 'nav_archive', 'archive.read'],
];

/** The desk's screens are for people who may open it, at the sites where they may (siteScreen's rule). */
export const DESK = { action: 'desk.open', noRole: 'desk_no_role' };

/** The desk's links, `active` marked; notifications carry the unread badge. */
export function subnav(active) {
  const nav = tabs(LINKS, active, 'desk_nav_label');
  const a = nav.querySelector("a[href='#/manage/notifications']");
  a.id = 'desk-notifications-link';
  a.append(' ', unreadBadge(), h('span', { class: 'sr-only' }));
  return nav;
}

// The last count this page heard: a screen drawn again starts from it, not from an empty badge.
let lastUnread = 0;

/** A badge that fills itself with my unread count (hidden at zero). */
function unreadBadge() {
  const badge = h('span', { class: 'count-badge', id: 'unread-badge', hidden: true });
  setUnread(lastUnread, badge);
  refreshUnread(badge);
  return badge;
}

async function refreshUnread(badge) {
  try {
    const { unread } = await api.get('/api/notifications/unread-count');
    setUnread(unread, badge);
  } catch {
    // Offline or logged out: the screen itself says so; the badge just stays as it was.
  }
}

export function setUnread(n, badge = document.getElementById('unread-badge')) {
  lastUnread = n;
  if (!badge) return;
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.hidden = !n;
  badge.dataset.count = String(n);
  // Said, not shown: the link's name reads "Notifications 2 unread" while the badge shows "2".
  const said = badge.nextElementSibling;
  if (said?.classList.contains('sr-only')) said.textContent = n ? ` ${t('desk_unread_suffix')}` : '';
}
