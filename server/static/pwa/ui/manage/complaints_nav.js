// The complaint screens' own row of links: the list, taking a new one, the return-visit queue, the month.
import { t } from '../../i18n.js';
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
