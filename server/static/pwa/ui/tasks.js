// My tasks, from the phone's copy: assigned to me, or awaiting verification at my sites.
import * as db from '../db.js';
import { fmtDate, pick, t } from '../i18n.js';
import * as store from '../store.js';
import { h } from './dom.js';

const VERIFIER_ROLES = ['patroller', 'supervisor', 'manager'];

export async function myTasks() {
  const me = store.get().me;
  if (!me) return [];
  const verifySites = new Set((me.sites || []).filter((s) => s.roles.some((r) => VERIFIER_ROLES.includes(r))).map((s) => s.site_id));
  const rows = await db.all('tasks');
  return rows
    .filter((task) => (task.assignee_id === me.id && ['assigned', 'in_progress'].includes(task.state)) || (task.state === 'done' && verifySites.has(task.site_id)))
    .sort((a, b) => String(a.due_at).localeCompare(String(b.due_at)));
}

export async function taskCard(task) {
  const cp = await db.get('checkpoints', task.checkpoint_id);
  const overdue = task.due_at && new Date(task.due_at) < new Date();
  return h('a', { class: 'task-card', href: `#/tasks/${task.id}`, 'data-task': task.id },
    h('span', { class: 'task-line' },
      h('strong', {}, cp ? pick(cp) : t('checkpoint')),
      h('span', { class: `badge state-${task.state}` }, t(`task_state_${task.state}`)),
      task.severity === 'major' ? h('span', { class: 'badge major' }, t('severity_major')) : null),
    h('span', { class: 'task-desc' }, task.finding?.description || ''),
    h('span', { class: `hint ${overdue ? 'overdue' : ''}` }, overdue ? t('overdue') : t('due', { d: fmtDate(task.due_at) })));
}

export async function render(container) {
  container.append(h('h1', {}, t('my_tasks')));
  const tasks = await myTasks();
  if (!tasks.length) container.append(h('p', { class: 'hint' }, t('no_tasks')));
  const list = h('ul', { class: 'list' });
  for (const task of tasks) list.append(h('li', {}, await taskCard(task)));
  container.append(list);
  return null;
}
