// Tasks of a site with filters (state, overdue, major, department, assignee, kind, dates); filters live in the URL.
import * as api from '../../api.js';
import { fmtDate, pick, t } from '../../i18n.js';
import { h } from '../dom.js';
import { KINDS, OPEN_STATES, chosenSite, dayStart, deskSites, guarded, qs, select, sitePicker, subnav } from './common.js';

const PER_PAGE = 20;
const STATES = [...OPEN_STATES, 'verified', 'cancelled'];

/** The API's list arguments from the screen's query. */
function apiArgs(siteId, q) {
  const state = !q.state || q.state === 'active' ? OPEN_STATES : q.state === 'all' ? [] : [q.state];
  return {
    site_id: siteId,
    state,
    overdue: q.overdue ? 'true' : '',
    major: q.major ? 'true' : '',
    repeat: q.repeat ? 'true' : '',
    department_id: q.dept || '',
    assignee_id: q.assignee || '',
    checkpoint_kind: q.kind || '',
    extension: q.extension === 'pending' ? 'pending' : '',
    from: dayStart(q.from),
    to: dayStart(q.to, 1),
  };
}

export function taskRow(task) {
  // The list names the checkpoint itself, so the desk needs no copy of the site's checkpoints.
  const place = pick(task, 'checkpoint_name') || t('checkpoint');
  return h('a', { class: 'task-card desk-task', href: `#/manage/tasks/${task.id}`, 'data-task': task.id },
    h('span', { class: 'task-line' },
      h('strong', {}, `#${task.id} ${place}`),
      task.checkpoint_short_code ? h('span', { class: 'hint' }, task.checkpoint_short_code) : null,
      h('span', { class: `badge state-${task.state}` }, t(`task_state_${task.state}`)),
      task.severity === 'major' ? h('span', { class: 'badge major' }, t('severity_major')) : null,
      task.repeat_flag ? h('span', { class: 'badge repeat' }, t('desk_repeat_badge')) : null,
      task.extension_pending ? h('span', { class: 'badge ext-pending' }, t('desk_ext_pending_badge')) : null),
    h('span', { class: 'task-desc' }, task.finding?.description || ''),
    h('span', { class: 'task-line hint' },
      h('span', { class: task.overdue ? 'overdue' : '' }, task.overdue ? `${t('overdue')} · ${t('due', { d: task.due_local })}` : t('due', { d: task.due_local })),
      h('span', {}, `· ${task.assignee_name || t('unassigned')}`),
      task.route_confirmed ? null : h('span', { class: 'unconfirmed' }, t('desk_route_unconfirmed'))));
}

export async function render(container, { query }, ctx) {
  container.append(subnav('manage/tasks'), h('h1', {}, t('desk_tasks_title')));
  const siteId = chosenSite(query);
  if (siteId == null || !deskSites().length) {
    container.append(h('p', { class: 'hint' }, t('desk_no_role')));
    return null;
  }
  const picker = sitePicker(siteId, (id) => ctx.go(`manage/tasks${qs({ site: id })}`));
  if (picker) container.append(picker);
  const box = h('div', { class: 'desk-body' });
  container.append(box);
  await guarded(box, ctx, async () => {
    const [depts, people] = await Promise.all([
      api.get(`/api/sites/${siteId}/departments`),
      api.get(`/api/users/${qs({ site_id: siteId })}`).catch(() => []),
    ]);
    box.append(filterForm(query, siteId, depts, people, ctx));
    const results = h('div', { id: 'task-results' });
    box.append(results);
    const args = apiArgs(siteId, query);
    const ul = h('ul', { class: 'list', id: 'task-list' });
    const total = h('p', { class: 'hint', id: 'task-total', role: 'status' });
    const more = h('button', { type: 'button', class: 'btn big', id: 'task-more' }, t('desk_more'));
    let page = 0;
    const next = async () => {
      page += 1;
      more.disabled = true;
      const res = await api.get(`/api/tasks/${qs({ ...args, page, per_page: PER_PAGE })}`);
      for (const task of res.items) ul.append(h('li', {}, taskRow(task)));
      const n = res.meta.total;
      total.textContent = !n ? t('desk_no_match') : args.extension ? t('desk_pending_extensions_list', { n }) : t('desk_total', { n });
      more.hidden = page * PER_PAGE >= res.meta.total;
      more.disabled = false;
    };
    more.addEventListener('click', () => next().catch((e) => { total.textContent = e.message; more.disabled = false; }));
    results.append(total, ul, more);
    await next();
  });
  return null;
}

function filterForm(q, siteId, depts, people, ctx) {
  const active = ['state', 'overdue', 'major', 'repeat', 'extension', 'dept', 'assignee', 'kind', 'from', 'to'].filter((k) => q[k]).length;
  const check = (id, key, label) => h('label', { class: 'check', for: id }, h('input', { type: 'checkbox', id, checked: !!q[key] }), label);
  const dateField = (id, key, label) => h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { type: 'date', id, value: q[key] || '' }));
  const form = h('form', { class: 'filters', id: 'task-filters' },
    h('div', { class: 'filter-grid' },
      select('f-state', t('task_state'), [['active', t('desk_state_active')], ...STATES.map((s) => [s, t(`task_state_${s}`)]), ['all', t('desk_state_all')]], q.state || 'active'),
      select('f-dept', t('desk_department'), [['', t('desk_any')], ...depts.map((d) => [d.id, pick(d)])], q.dept),
      select('f-assignee', t('assignee'), [['', t('desk_any')], ...people.filter((p) => p.active).map((p) => [p.id, p.display_name || p.username])], q.assignee),
      select('f-kind', t('desk_kind'), [['', t('desk_any')], ...KINDS.map((k) => [k, t(`kind_${k}`)])], q.kind),
      dateField('f-from', 'from', t('desk_from')),
      dateField('f-to', 'to', t('desk_to'))),
    h('div', { class: 'checks' },
      check('f-overdue', 'overdue', t('overdue')),
      check('f-major', 'major', t('severity_major')),
      check('f-repeat', 'repeat', t('desk_repeat_badge')),
      check('f-extension', 'extension', t('desk_ext_pending_badge'))),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'btn primary', id: 'f-apply' }, t('desk_apply')),
      active ? h('a', { class: 'btn', id: 'f-clear', href: `#/manage/tasks${qs({ site: siteId })}` }, t('desk_clear')) : null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const val = (id) => form.querySelector(`#${id}`).value;
    const on = (id) => (form.querySelector(`#${id}`).checked ? 1 : '');
    ctx.go(`manage/tasks${qs({
      site: siteId,
      state: val('f-state') === 'active' ? '' : val('f-state'),
      dept: val('f-dept'),
      assignee: val('f-assignee'),
      kind: val('f-kind'),
      from: val('f-from'),
      to: val('f-to'),
      overdue: on('f-overdue'),
      major: on('f-major'),
      repeat: on('f-repeat'),
      extension: on('f-extension') ? 'pending' : '',
    })}`);
  });
  return h('details', { class: 'card filter-box', open: active > 0 || null },
    h('summary', {}, active ? t('desk_filters_n', { n: active }) : t('desk_filters')),
    form);
}
