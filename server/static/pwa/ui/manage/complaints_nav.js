// The complaint screens' own row of links: the list, taking a new one, the return-visit queue, the month.
import { lang, t } from '../../i18n.js';
import { tabs } from '../online.js';

const LINKS = [
  ['complaints', 'cmp_nav_list', 'complaint.read'],
  ['complaints/new', 'cmp_nav_new', 'complaint.receive'],
  ['complaints/visits', 'cmp_nav_visits', 'complaint.visit'],
  ['complaints/stats', 'cmp_nav_stats', 'complaint.stats'],
  ['manage', 'desk_nav_desk', 'desk.open'],
];

/** Screens about one site's complaints: for people the policy allows `action` at some site. */
export const AREA = (action) => ({ action, noRole: 'cmp_no_role' });

export function cmpnav(active) {
  return tabs(LINKS, active, 'cmp_nav_label');
}

/** A site-local YYYY-MM-DD for "now" in `tz`. */
function siteToday(tz) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date()).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** A deadline that is the end of a day (`day` from the server) shown as that day's end, not the next day's 00:00. */
export function dueText(day, local, tz) {
  if (!day) return local || '';
  if (day === siteToday(tz)) return t('cmp_due_today');
  const [y, m, d] = day.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'UTC', year: 'numeric', month: 'long', day: 'numeric' });
  return t('cmp_due_day_end', { d: date });
}
