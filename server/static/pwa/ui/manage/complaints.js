// Residents' complaints of a site: overdue first, with filters; each opens its detail.
import * as api from '../../api.js';
import { fmtTime, pick, t } from '../../i18n.js';
import * as policy from '../../policy.js';
import * as vocab from '../../vocab.js';
import { h } from '../dom.js';
import { filterBox, pagedList, qs, select, siteScreen } from '../online.js';
import { AREA, cmpnav, dueText } from './complaints_nav.js';

const PER_PAGE = 20;
const OPEN = 'open';
const CLOSED = 'closed';

export function render(container, route, ctx) {
  const { query } = route;
  return siteScreen(container, { ...AREA('complaint.read'), nav: cmpnav('complaints'), path: 'complaints', title: t('cmp_list_title') }, { ...route, ctx }, async (box, siteId) => {
    // Where no role of mine reads the site's complaints, the list holds those I handle (the server's rule).
    if (!policy.can('complaint.read', { siteId })) box.append(h('p', { class: 'hint', id: 'cmp-mine-only' }, t('cmp_mine_only')));
    box.append(filters(query, siteId, ctx));
    const args = {
      site_id: siteId,
      state: query.state || '',
      kind: query.kind || '',
      channel: query.channel || '',
      open: query.open === OPEN ? 'true' : query.open === CLOSED ? 'false' : '',
      overdue: query.overdue ? 'true' : '',
    };
    const list = pagedList({
      name: 'complaint',
      perPage: PER_PAGE,
      fetchPage: (page) => api.get(`/api/complaints/${qs({ ...args, page, per_page: PER_PAGE })}`),
      row,
      said: (res) => t('desk_total', { n: res.meta.total }),
    });
    box.append(...list.elements);
    await list.next();
  });
}

/** One complaint as a card: unit and place, state, kind, level, deadline. */
export function row(c) {
  return h('a', { class: 'task-card', href: `#/complaints/${c.id}`, 'data-complaint': c.id },
    h('span', { class: 'task-line' },
      h('strong', {}, `#${c.id} ${c.unit || pick(c, 'checkpoint_name')}`),
      h('span', { class: `badge cmp-state-${c.state}` }, vocab.label('complaint_states', c.state)),
      c.kind !== 'ordinary' ? h('span', { class: `badge ${c.kind === 'special' ? 'major' : ''}` }, vocab.label('complaint_kinds', c.kind)) : null,
      c.overdue ? h('span', { class: 'badge major' }, t('overdue')) : null,
      c.level !== 'receiver' ? h('span', { class: 'badge repeat' }, vocab.label('escalation_levels', c.level)) : null),
    h('span', { class: 'task-desc' }, c.content),
    h('span', { class: 'hint' },
      `${vocab.label('complaint_channels', c.channel)} · ${c.complainant} · ${t('cmp_received')} ${fmtTime(c.received_at, { zone: c.timezone || undefined })} · ${t('due_label')} ${dueText(c.due_day, c.due_local, c.timezone)}`));
}

function filters(q, siteId, ctx) {
  const any = [['', t('desk_any')]];
  return filterBox({
    id: 'complaint-filters',
    prefix: 'cf',
    active: ['state', 'kind', 'channel', 'open', 'overdue'].filter((k) => q[k]).map((k) => `cf-${k}`),
    clearHref: `#/complaints${qs({ site: siteId })}`,
    fields: h('div', { class: 'filter-grid' },
      select('cf-open', t('cmp_open_or_closed'), [...any, [OPEN, t('cmp_open')], [CLOSED, t('cmp_closed')]], q.open),
      select('cf-state', t('cmp_state'), [...any, ...vocab.options('complaint_states')], q.state),
      select('cf-kind', t('cmp_kind'), [...any, ...vocab.options('complaint_kinds')], q.kind),
      select('cf-channel', t('cmp_channel'), [...any, ...vocab.options('complaint_channels')], q.channel),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'cf-overdue', checked: !!q.overdue }), ' ', t('overdue'))),
    onApply: (val, checked) => ctx.go(`complaints${qs({ site: siteId, open: val('cf-open'), state: val('cf-state'), kind: val('cf-kind'), channel: val('cf-channel'), overdue: checked('cf-overdue') })}`),
  });
}
