// What residents said on patrol ("ask"), for the site's desk: newest first, with where, who
// took it, the unit and contact the resident agreed to leave, and the task it became.
import * as api from '../../api.js';
import { fmtTime, pick, t } from '../../i18n.js';
import { h } from '../dom.js';
import { dateField, dayStart, filterBox, pagedList, qs, siteScreen } from '../online.js';
import { DESK, subnav } from './nav.js';

const PER_PAGE = 20;

export function render(container, route, ctx) {
  const { query } = route;
  return siteScreen(container, { ...DESK, nav: subnav('manage/residents'), path: 'manage/residents', title: t('desk_residents_title') }, { ...route, ctx }, async (box, siteId) => {
    box.append(filterForm(query, siteId, ctx));
    const args = { site_id: siteId, from: dayStart(query.from, 0, siteId), to: dayStart(query.to, 1, siteId) };
    const list = pagedList({
      name: 'resident-note',
      perPage: PER_PAGE,
      fetchPage: (page) => api.get(`/api/resident-notes/${qs({ ...args, page, per_page: PER_PAGE })}`),
      row: noteCard,
      said: (res) => t('desk_total', { n: res.meta.total }),
    });
    box.append(...list.elements);
    await list.next();
  });
}

/** One note as a card (also on the task page of the finding it became). */
export function noteCard(n, { fmt = fmtTime } = {}) {
  const place = pick({ name_zh: n.checkpoint_name, name_en: n.checkpoint_name_en }) || n.checkpoint_name;
  return h('div', { class: 'task-card resident-note', 'data-note': n.id },
    h('span', { class: 'task-line' },
      h('strong', {}, `${place}${n.checkpoint_short_code ? ` (${n.checkpoint_short_code})` : ''}`),
      n.finding_id ? h('span', { class: 'badge st-sent' }, t('res_finding')) : null),
    h('span', { class: 'task-desc resident-said' }, n.said),
    n.consent
      ? h('span', { class: 'hint resident-contact' }, [n.unit && t('res_unit_is', { v: n.unit }), n.contact && t('res_contact_is', { v: n.contact })].filter(Boolean).join(' · '))
      : h('span', { class: 'hint resident-contact' }, t('res_no_consent')),
    h('span', { class: 'hint' }, fmt(n.observed_at), n.recorded_by_name ? ` · ${t('desk_recorded_by_is', { v: n.recorded_by_name })}` : ''));
}

function filterForm(q, siteId, ctx) {
  return filterBox({
    id: 'resident-filters',
    prefix: 'rf',
    active: ['from', 'to'].filter((k) => q[k]).map((k) => `rf-${k}`),
    clearHref: `#/manage/residents${qs({ site: siteId })}`,
    fields: h('div', { class: 'filter-grid' },
      dateField('rf-from', t('desk_from'), q.from || ''),
      dateField('rf-to', t('desk_to'), q.to || '')),
    onApply: (val) => ctx.go(`manage/residents${qs({ site: siteId, from: val('rf-from'), to: val('rf-to') })}`),
  });
}
