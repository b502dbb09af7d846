// The return-visit queue (回访): complaints replied to and awaiting their visit, soonest due first;
// mine (the complaints I received) or the whole site's.
import * as api from '../../api.js';
import { fmtTime, t } from '../../i18n.js';
import { h } from '../dom.js';
import { qs, siteScreen } from '../online.js';
import { row } from './complaints.js';
import { AREA, cmpnav, dueText } from './complaints_nav.js';

export function render(container, route, ctx) {
  const { query } = route;
  const mine = query.all ? '' : 'true';
  return siteScreen(container, { ...AREA('complaint.visit'), nav: cmpnav('complaints/visits'), path: 'complaints/visits', title: t('cmp_visits_title'), intro: h('p', { class: 'hint' }, t('cmp_visits_intro')) }, { ...route, ctx }, async (box, siteId) => {
    const items = await api.get(`/api/return-visits/${qs({ site_id: siteId, mine })}`);
    const now = new Date();
    box.append(
      h('div', { class: 'row' },
        h('a', { class: `chip ${mine ? 'active' : ''}`, id: 'cmp-visits-mine', href: `#/complaints/visits${qs({ site: siteId })}` }, t('cmp_visits_mine')),
        h('a', { class: `chip ${mine ? '' : 'active'}`, id: 'cmp-visits-all', href: `#/complaints/visits${qs({ site: siteId, all: 1 })}` }, t('cmp_visits_all'))),
      h('p', { class: 'hint', id: 'cmp-visits-total', role: 'status' }, items.length ? t('desk_total', { n: items.length }) : t('cmp_visits_none')),
      h('ul', { class: 'list', id: 'cmp-visits-list' }, items.map((c) => h('li', {},
        row(c),
        h('p', { class: `hint ${new Date(c.return_due_at) < now ? 'error' : ''}` },
          `${t('cmp_return_due')} ${dueText(c.return_due_day, c.return_due_local, c.timezone)}`, c.return_scheduled_at ? ` · ${t('cmp_agreed_time')} ${fmtTime(c.return_scheduled_at, { zone: c.timezone || undefined })}` : '')))));
  });
}
