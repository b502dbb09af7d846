// Tasks of a site with filters (state, overdue, major, department, assignee, kind, dates); filters live in the URL.
import * as api from '../../api.js';
import { fmtLocal, pick, t } from '../../i18n.js';
import * as policy from '../../policy.js';
import * as vocab from '../../vocab.js';
import { EXTENSION, SEVERITY } from '../../vocab.js';
import { h } from '../dom.js';
import { dateField, dayStart, filterBox, pagedList, qs, select, siteScreen } from '../online.js';
import { DESK, subnav } from './nav.js';

const PER_PAGE = 20;
// The screen's own state filter values besides the task states: not closed (the default), and all.
const ACTIVE = 'active';
const ALL = 'all';

/** The API's list arguments from the screen's query. */
function apiArgs(siteId, q) {
  const state = !q.state || q.state === ACTIVE ? vocab.openStates() : q.state === ALL ? [] : [q.state];
  return {
    site_id: siteId,
    state,
    overdue: q.overdue ? 'true' : '',
    major: q.major ? 'true' : '',
    repeat: q.repeat ? 'true' : '',
    department_id: q.dept || '',
    assignee_id: q.assignee || '',
    checkpoint_kind: q.kind || '',
    extension: q.extension === EXTENSION.PENDING ? EXTENSION.PENDING : '',
    from: dayStart(q.from, 0, siteId),
    to: dayStart(q.to, 1, siteId),
  };
}

export function taskRow(task) {
  // The list names the checkpoint itself, so the desk needs no copy of the site's checkpoints.
  const place = pick(task, 'checkpoint_name') || t('checkpoint');
  return h('a', { class: 'task-card desk-task', href: `#/manage/tasks/${task.id}`, 'data-task': task.id },
    h('span', { class: 'task-line' },
      h('strong', {}, `#${task.id} ${place}`),
      task.checkpoint_short_code ? h('span', { class: 'hint' }, task.checkpoint_short_code) : null,
      h('span', { class: `badge state-${task.state}` }, vocab.label('task_states', task.state)),
      task.severity === SEVERITY.MAJOR ? h('span', { class: 'badge major' }, vocab.label('severities', task.severity)) : null,
      task.repeat_flag ? h('span', { class: 'badge repeat' }, t('desk_repeat_badge')) : null,
      task.extension_pending ? h('span', { class: 'badge ext-pending' }, t('desk_ext_pending_badge')) : null),
    h('span', { class: 'task-desc' }, task.finding?.description || ''),
    h('span', { class: 'task-line hint' },
      // The server's own overdue flag: the list and its filter agree.
      h('span', { class: task.overdue ? 'overdue' : '' }, task.overdue ? `${t('overdue')} · ${t('due', { d: fmtLocal(task.due_local) })}` : t('due', { d: fmtLocal(task.due_local) })),
      h('span', {}, `· ${task.assignee_name || t('unassigned')}`),
      task.route_confirmed ? null : h('span', { class: 'unconfirmed' }, t('desk_route_unconfirmed'))));
}

export function render(container, route, ctx) {
  const { query } = route;
  return siteScreen(container, { ...DESK, nav: subnav('manage/tasks'), path: 'manage/tasks', title: t('desk_tasks_title') }, { ...route, ctx }, async (box, siteId) => {
    const [depts, people] = await Promise.all([
      api.get(`/api/sites/${siteId}/departments`),
      policy.can('user.read', { siteId }) ? api.get(`/api/users/${qs({ site_id: siteId })}`) : [],
    ]);
    box.append(filterForm(query, siteId, depts, people, ctx));
    const args = apiArgs(siteId, query);
    const list = pagedList({
      name: 'task',
      perPage: PER_PAGE,
      fetchPage: (page) => api.get(`/api/tasks/${qs({ ...args, page, per_page: PER_PAGE })}`),
      row: taskRow,
      said: (res) => (args.extension ? t('desk_pending_extensions_list', { n: res.meta.total }) : t('desk_total', { n: res.meta.total })),
    });
    box.append(h('div', { id: 'task-results' }, list.elements));
    await list.next();
  });
}

function filterForm(q, siteId, depts, people, ctx) {
  const active = ['state', 'overdue', 'major', 'repeat', 'extension', 'dept', 'assignee', 'kind', 'from', 'to'].filter((k) => q[k]).map((k) => `f-${k}`);
  const check = (id, key, label) => h('label', { class: 'check', for: id }, h('input', { type: 'checkbox', id, checked: !!q[key] }), label);
  return filterBox({
    id: 'task-filters',
    prefix: 'f',
    active,
    clearHref: `#/manage/tasks${qs({ site: siteId })}`,
    fields: [
      h('div', { class: 'filter-grid' },
        select('f-state', t('task_state'), [[ACTIVE, t('desk_state_active')], ...vocab.options('task_states'), [ALL, t('desk_state_all')]], q.state || ACTIVE),
        select('f-dept', t('desk_department'), [['', t('desk_any')], ...depts.map((d) => [d.id, pick(d)])], q.dept),
        select('f-assignee', t('assignee'), [['', t('desk_any')], ...people.filter((p) => p.active).map((p) => [p.id, p.display_name || p.username])], q.assignee),
        select('f-kind', t('desk_kind'), [['', t('desk_any')], ...vocab.options('checkpoint_kinds')], q.kind),
        dateField('f-from', t('desk_from'), q.from || ''),
        dateField('f-to', t('desk_to'), q.to || '')),
      h('div', { class: 'checks' },
        check('f-overdue', 'overdue', t('overdue')),
        check('f-major', 'major', vocab.label('severities', SEVERITY.MAJOR)),
        check('f-repeat', 'repeat', t('desk_repeat_badge')),
        check('f-extension', 'extension', t('desk_ext_pending_badge'))),
    ],
    onApply: (val, on) => ctx.go(`manage/tasks${qs({
      site: siteId,
      state: val('f-state') === ACTIVE ? '' : val('f-state'),
      dept: val('f-dept'),
      assignee: val('f-assignee'),
      kind: val('f-kind'),
      from: val('f-from'),
      to: val('f-to'),
      overdue: on('f-overdue'),
      major: on('f-major'),
      repeat: on('f-repeat'),
      extension: on('f-extension') ? EXTENSION.PENDING : '',
    })}`),
  });
}
