// One task: what was found, where, by when; start, finish, or verify it on site.
import * as db from '../db.js';
import { fmtDate, pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as store from '../store.js';
import { h, toast } from './dom.js';

export async function render(container, { params }, ctx) {
  const id = Number(params[0]);
  const task = await db.get('tasks', id);
  if (!task) {
    container.append(h('p', { class: 'error', role: 'alert' }, t('task_not_found')), h('a', { class: 'btn', href: '#/tasks' }, t('back')));
    return null;
  }
  const me = store.get().me;
  const cp = await db.get('checkpoints', task.checkpoint_id);
  const pending = await patrol.pendingFor(id);
  // What the phone already decided but has not sent: shown as the task's state.
  let state = task.state;
  for (const row of pending) state = row.kind === 'task.verify' ? 'verified' : row.payload.to;

  container.append(
    h('h1', {}, t('task_title', { id })),
    h('dl', { class: 'summary' },
      h('dt', {}, t('checkpoint')), h('dd', {}, cp ? `${pick(cp)} (${cp.short_code})` : `#${task.checkpoint_id}`),
      h('dt', {}, t('problem')), h('dd', {}, task.finding?.description || '—'),
      h('dt', {}, t('assignee')), h('dd', {}, task.assignee_name || t('unassigned')),
      h('dt', {}, t('due_label')), h('dd', {}, fmtDate(task.due_at)),
      h('dt', {}, t('task_state')),
      h('dd', { id: 'task-state' }, h('span', { class: `badge state-${state}` }, t(`task_state_${state}`)))),
  );
  if (pending.length) container.append(h('p', { class: 'hint' }, t('task_pending_change', { s: t(`task_state_${state}`) })));
  if (navigator.onLine && (task.photos || []).length) {
    container.append(h('div', { class: 'thumbs' }, task.photos.map((pid, i) => h('img', { src: `/api/photos/${pid}?size=thumb`, alt: t('photo_of', { n: i + 1 }), loading: 'lazy' }))));
  }
  const actions = h('div', { class: 'actions' });
  const mine = task.assignee_id === me?.id;
  const move = (to) => async () => {
    await patrol.transitionTask(task, to);
    toast(t('saved'));
    ctx.rerender();
  };
  if (mine && state === 'assigned') actions.append(h('button', { type: 'button', class: 'btn primary big', id: 'task-start', onclick: move('in_progress') }, t('task_mark_in_progress')));
  if (mine && state === 'in_progress') actions.append(h('button', { type: 'button', class: 'btn primary big', id: 'task-done', onclick: move('done') }, t('task_mark_done')));
  // Verify only what the server has seen as done: the fresh scan must come after it.
  if (state === 'done' && !pending.length) actions.append(h('a', { class: 'btn primary big', id: 'task-verify', href: `#/scan?task=${id}` }, t('task_verify')));
  actions.append(h('a', { class: 'btn big', href: '#/tasks' }, t('back')));
  container.append(actions);
  return null;
}
