// Findings of a site, including those dealt with on the spot (which open no task), with filters.
import * as api from '../../api.js';
import * as db from '../../db.js';
import { fmtTime, pick, t } from '../../i18n.js';
import * as vocab from '../../vocab.js';
import { SEVERITY } from '../../vocab.js';
import { h } from '../dom.js';
import { dateField, dayStart, filterBox, pagedList, qs, select, siteScreen } from '../online.js';
import { DESK, subnav } from './nav.js';

const PER_PAGE = 20;
// The "dealt with on the spot" filter's values in the address.
const YES = 'yes';
const NO = 'no';

export function render(container, route, ctx) {
  const { query } = route;
  return siteScreen(container, { ...DESK, nav: subnav('manage/findings'), path: 'manage/findings', title: t('desk_findings_title') }, { ...route, ctx }, async (box, siteId) => {
    const cps = new Map((await db.all('checkpoints').catch(() => [])).map((c) => [c.id, c]));
    box.append(filterForm(query, siteId, ctx));
    const args = {
      site_id: siteId,
      category: query.category || '',
      severity: query.severity || '',
      dealt_on_spot: query.spot === YES ? 'true' : query.spot === NO ? 'false' : '',
      from: dayStart(query.from, 0, siteId),
      to: dayStart(query.to, 1, siteId),
    };
    const list = pagedList({
      name: 'finding',
      perPage: PER_PAGE,
      fetchPage: (page) => api.get(`/api/findings/${qs({ ...args, page, per_page: PER_PAGE })}`),
      row: (f) => row(f, cps),
      said: (res) => t('desk_total', { n: res.meta.total }),
    });
    box.append(...list.elements);
    await list.next();
  });
}

function row(f, cps) {
  const cp = cps.get(f.checkpoint_id);
  const inner = [
    h('span', { class: 'task-line' },
      h('strong', {}, cp ? pick(cp) : t('checkpoint')),
      h('span', { class: 'badge' }, vocab.label('categories', f.category)),
      f.severity === SEVERITY.MAJOR ? h('span', { class: 'badge major' }, vocab.label('severities', f.severity)) : null,
      f.dealt_on_spot ? h('span', { class: 'badge st-sent' }, t('dealt')) : null),
    h('span', { class: 'task-desc' }, f.description || ''),
    f.dealt_on_spot && f.spot_note ? h('span', { class: 'hint' }, `${t('spot_note')}：${f.spot_note}`) : null,
    h('span', { class: 'hint' }, fmtTime(f.observed_at), f.task_id ? ` · ${t('task_title', { id: f.task_id })}` : ''),
  ];
  // A finding with a task opens it; one dealt with on the spot has nothing further to open.
  return f.task_id
    ? h('a', { class: 'task-card', href: `#/manage/tasks/${f.task_id}`, 'data-finding': f.id }, inner)
    : h('div', { class: 'task-card', 'data-finding': f.id }, inner);
}

function filterForm(q, siteId, ctx) {
  return filterBox({
    id: 'finding-filters',
    prefix: 'ff',
    active: ['category', 'severity', 'spot', 'from', 'to'].filter((k) => q[k]).map((k) => `ff-${k}`),
    clearHref: `#/manage/findings${qs({ site: siteId })}`,
    fields: h('div', { class: 'filter-grid' },
      select('ff-category', t('desk_category'), [['', t('desk_any')], ...vocab.options('categories')], q.category),
      select('ff-severity', t('desk_severity'), [['', t('desk_any')], ...vocab.options('severities')], q.severity),
      select('ff-spot', t('dealt'), [['', t('desk_any')], [YES, t('desk_yes')], [NO, t('desk_no')]], q.spot),
      dateField('ff-from', t('desk_from'), q.from || ''),
      dateField('ff-to', t('desk_to'), q.to || '')),
    onApply: (val) => ctx.go(`manage/findings${qs({ site: siteId, category: val('ff-category'), severity: val('ff-severity'), spot: val('ff-spot'), from: val('ff-from'), to: val('ff-to') })}`),
  });
}
