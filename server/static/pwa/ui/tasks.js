// My tasks, from the phone's copy: assigned to me, or awaiting verification at my sites.
import * as db from '../db.js';
import { fmtDate, pick, t } from '../i18n.js';
import * as policy from '../policy.js';
import * as store from '../store.js';
import * as vocab from '../vocab.js';
import { SEVERITY } from '../vocab.js';
import { h } from './dom.js';

// The moves a person makes from the phone, by the policy action that allows each: [button id, label].
export const PHONE_MOVES = {
  'task.start': ['task-start', 'task_mark_in_progress'],
  'task.finish': ['task-done', 'task_mark_done'],
};

/** Mine to work on (assigned to me, with a move I make from the phone), or waiting for me to verify it. */
function isMine(task, me) {
  if (task.assignee_id === me.id && policy.movesFor(task).some((m) => PHONE_MOVES[m.action])) return true;
  return vocab.awaitingVerification(task.state) && policy.can('task.verify', { task });
}

export async function myTasks() {
  const me = store.get().me;
  if (!me) return [];
  const rows = await db.all('tasks');
  return rows.filter((task) => isMine(task, me)).sort((a, b) => String(a.due_at).localeCompare(String(b.due_at)));
}

export async function taskCard(task) {
  const cp = await db.get('checkpoints', task.checkpoint_id);
  const overdue = vocab.isOverdue(task);
  return h('a', { class: 'task-card', href: `#/tasks/${task.id}`, 'data-task': task.id },
    h('span', { class: 'task-line' },
      h('strong', {}, cp ? pick(cp) : t('checkpoint')),
      h('span', { class: `badge state-${task.state}` }, vocab.label('task_states', task.state)),
      task.severity === SEVERITY.MAJOR ? h('span', { class: 'badge major' }, vocab.label('severities', task.severity)) : null),
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
