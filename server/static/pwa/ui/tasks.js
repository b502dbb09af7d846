// My tasks, from the phone's copy: assigned to me, or awaiting verification at my sites.
import * as db from '../db.js';
import { fmtDate, pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
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
  // Each task as the phone shows it: the server's state moved on by my moves not sent yet
  // (a verification saved here no longer lists its task as awaiting verification).
  const pending = await patrol.pendingTaskMoves();
  const rows = (await db.all('tasks')).map((task) => ({ ...task, state: patrol.shownState(task, pending.get(task.id)) }));
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
  const box = h('div', { id: 'task-list' });
  container.append(box);
  let shown = null;
  let drawing = Promise.resolve();
  const draw = () => {
    drawing = drawing.then(async () => {
      const tasks = await myTasks();
      const key = JSON.stringify(tasks.map((x) => [x.id, x.state, x.due_at, x.severity]));
      if (key === shown) return; // unchanged: leave the list still
      shown = key;
      const list = h('ul', { class: 'list' });
      for (const task of tasks) list.append(h('li', {}, await taskCard(task)));
      box.replaceChildren(tasks.length ? list : h('p', { class: 'hint' }, t('no_tasks')));
    }).catch((e) => console.error(e));
    return drawing;
  };
  await draw();
  // Live: a pull, or a push of my own moves, redraws the list where it is.
  return store.subscribe((_s, changes) => {
    if ('pulledAt' in changes || 'unsent' in changes) draw();
  });
}
