// The desk: a supervisor's or manager's morning view of a site, counts that open filtered lists, two charts.
import * as api from '../../api.js';
import { pick, t } from '../../i18n.js';
import * as vocab from '../../vocab.js';
import { EXTENSION, TASK } from '../../vocab.js';
import { h } from '../dom.js';
import { add, qs, siteScreen } from '../online.js';
import { chart } from './chart.js';
import { DESK, subnav } from './nav.js';

const AGE_ORDER = ['0-3d', '3-7d', '7-14d', '14-30d', '30d+'];
// Tasks older than the one-week deadline are drawn in the warning colour.
const LATE_AGES = new Set(['7-14d', '14-30d', '30d+']);

function stat(id, n, label, href, tone = '') {
  return h('a', { class: `stat ${tone} ${n ? '' : 'zero'}`, id, href, 'data-count': n },
    h('span', { class: 'stat-n' }, String(n)),
    h('span', { class: 'stat-label' }, label));
}

export function render(container, route, ctx) {
  return siteScreen(container, { ...DESK, nav: subnav('manage'), path: 'manage', title: t('desk_title') }, { ...route, ctx }, async (box, siteId) => {
    const [s, depts] = await Promise.all([api.get(`/api/tasks/summary${qs({ site_id: siteId })}`), api.get(`/api/sites/${siteId}/departments`)]);
    const deptName = (id) => { const d = depts.find((x) => x.id === id); return d ? pick(d) : t('desk_no_department'); };
    const list = (params) => `#/manage/tasks${qs({ site: siteId, ...params })}`;
    add(box,
      h('div', { class: 'stat-grid' },
        stat('stat-open', s.open_total, t('desk_open_total'), list({})),
        stat('stat-overdue', s.overdue, t('desk_overdue'), list({ overdue: 1 }), s.overdue ? 'alarm' : ''),
        stat('stat-major', s.major_open, t('desk_major'), list({ major: 1 }), s.major_open ? 'alarm' : ''),
        stat('stat-unassigned', s.open_by_state[TASK.OPEN] || 0, t('desk_unassigned'), list({ state: TASK.OPEN })),
        stat('stat-repeat', s.repeat_open, t('desk_repeat'), list({ repeat: 1 })),
        stat('stat-extensions', s.pending_extensions, t('desk_pending_extensions'), list({ extension: EXTENSION.PENDING }), s.pending_extensions ? 'alarm' : '')),
      h('h2', {}, t('desk_by_state')),
      h('ul', { class: 'chips' },
        vocab.openStates().map((st) => h('li', {},
          h('a', { class: 'chip', href: list({ state: st }) }, `${vocab.label('task_states', st)} ${s.open_by_state[st] || 0}`)))),
      h('h2', { id: 'chart-age-title' }, t('desk_chart_age')),
      chart({
        id: 'chart-age',
        labelledBy: 'chart-age-title',
        rows: AGE_ORDER.map((k) => ({ label: t(`desk_age_${k.replace(/[^0-9a-z]/g, '_')}`), value: s.by_age[k] || 0, tone: LATE_AGES.has(k) ? 'late' : '' })),
      }),
      h('p', { class: 'hint' }, t('desk_chart_age_hint')),
      h('h2', { id: 'chart-cat-title' }, t('desk_chart_category')),
      chart({
        id: 'chart-category',
        labelledBy: 'chart-cat-title',
        rows: vocab.options('categories').map(([c, label]) => ({ label, value: s.findings_by_category[c] || 0 })),
      }),
      s.by_department.length ? h('h2', {}, t('desk_by_department')) : null,
      s.by_department.length
        ? h('ul', { class: 'chips' },
          s.by_department.map((d) => h('li', {},
            h('a', { class: 'chip', href: list(d.department_id ? { dept: d.department_id } : {}) },
              `${deptName(d.department_id)} ${d.open}`))))
        : null,
    );
  });
}
