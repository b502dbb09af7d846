// The complaint screens' own row of links: the list, taking a new one, the return-visit queue, the month.
import { fmtLocal, lang, t } from '../../i18n.js';
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
  if (!day) return fmtLocal(local);
  if (day === siteToday(tz)) return t('cmp_due_today');
  const [y, m, d] = day.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'UTC', year: 'numeric', month: 'long', day: 'numeric' });
  return t('cmp_due_day_end', { d: date });
}

/**
 * The site-local day a deadline written as "2026-12-10 00:00" (a `*_local` field) is the end of
 * ("2026-12-09"), or null when it is not a day's end. For records that carry no `due_day`
 * (notices stored before they did); the server's rules.day_ending_at is the same rule.
 */
export function dueDayOf(local) {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T]00:00(?::00)?$/.exec(local || '');
  if (!m) return null;
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) - 1));
  return day.toISOString().slice(0, 10);
}
