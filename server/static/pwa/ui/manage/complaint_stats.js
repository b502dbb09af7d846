// The month's complaint classification statistics (《顾客投诉分类统计表》) with charts, complaints beside
// patrol findings per place, and the "complained about though patrolled as fine" signals.
import * as api from '../../api.js';
import { pick, t } from '../../i18n.js';
import * as vocab from '../../vocab.js';
import { h } from '../dom.js';
import { qs, siteScreen } from '../online.js';
import { chart } from './chart.js';
import { AREA, cmpnav } from './complaints_nav.js';

const thisMonth = () => new Date().toISOString().slice(0, 7);

export function render(container, route, ctx) {
  const { query } = route;
  const month = /^\d{4}-\d{2}$/.test(query.month || '') ? query.month : thisMonth();
  return siteScreen(container, { ...AREA('complaint.stats'), nav: cmpnav('complaints/stats'), path: 'complaints/stats', title: t('cmp_stats_title') }, { ...route, ctx }, async (box, siteId) => {
    const s = await api.get(`/api/sites/${siteId}/complaints/stats${qs({ month })}`);
    const picker = h('input', { type: 'month', id: 'cmp-stats-month', value: month, onchange: (e) => ctx.go(`complaints/stats${qs({ site: siteId, month: e.target.value })}`) });
    const block = (id, title, list, counts, extra = {}) => [
      h('h2', { id: `${id}-title` }, title),
      !Object.keys(counts).length ? h('p', { class: 'hint', id }, t('desk_no_match')) : chart({ id, labelledBy: `${id}-title`, rows: Object.entries(counts).map(([k, v]) => ({ label: list ? vocab.label(list, k) : (extra[k] || k), value: v })) }),
    ];
    box.append(
      h('div', { class: 'field' }, h('label', { for: 'cmp-stats-month' }, t('cmp_month')), picker),
      h('p', { id: 'cmp-stats-total', class: 'stat-line' }, t('cmp_stats_total', { n: s.total, f: s.patrolled_as_fine.length, v: s.return_visits_due })),
      ...(s.total ? [
        ...block('cmp-chart-channel', t('cmp_by_channel'), 'complaint_channels', s.by_channel),
        ...block('cmp-chart-kind', t('cmp_by_kind'), 'complaint_kinds', s.by_kind),
        ...block('cmp-chart-validity', t('cmp_by_validity'), null, s.by_validity, { valid: t('cmp_valid'), invalid: t('cmp_invalid_short'), unjudged: t('cmp_unjudged') }),
        ...block('cmp-chart-deadline', t('cmp_by_deadline'), null, s.by_deadline, { met: t('cmp_met'), missed: t('cmp_missed'), pending: t('cmp_pending') }),
        ...block('cmp-chart-satisfaction', t('cmp_by_satisfaction'), 'satisfaction', s.by_satisfaction),
      ] : []),
      h('h2', {}, t('cmp_by_checkpoint')),
      s.by_checkpoint.length
        ? h('table', { class: 'table', id: 'cmp-stats-places' },
          h('thead', {}, h('tr', {}, h('th', {}, t('checkpoint')), h('th', {}, t('cmp_complaints')), h('th', {}, t('cmp_findings')))),
          h('tbody', {}, s.by_checkpoint.map((r) => h('tr', {}, h('td', {}, pick(r)), h('td', {}, String(r.complaints)), h('td', {}, String(r.findings))))))
        : h('p', { class: 'hint' }, t('desk_no_match')),
      h('h2', {}, t('cmp_fine_title')),
      h('p', { class: 'hint' }, t('cmp_fine_hint')),
      s.patrolled_as_fine.length
        ? h('ul', { class: 'list', id: 'cmp-stats-fine' }, s.patrolled_as_fine.map((f) => h('li', {},
          h('a', { href: `#/complaints/${f.complaint_id}` }, `#${f.complaint_id}`), ` · ${pick(f, 'item_text') || f.item_id} · ${f.user_name} · ${t('cmp_days_before', { d: f.days_before })}`)))
        : h('p', { class: 'hint', id: 'cmp-stats-fine-none' }, t('cmp_fine_none')));
  });
}
