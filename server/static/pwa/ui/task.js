// One task: what was found, where, by when; start, finish, or verify it on site.
import * as db from '../db.js';
import { fmtDate, pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as policy from '../policy.js';
import * as vocab from '../vocab.js';
import { TASK, VERIFY } from '../vocab.js';
import { h, toast } from './dom.js';
import { PHONE_MOVES } from './tasks.js';

export async function render(container, { params }, ctx) {
  const id = Number(params[0]);
  const task = await db.get('tasks', id);
  if (!task) {
    container.append(h('p', { class: 'error', role: 'alert' }, t('task_not_found')), h('a', { class: 'btn', href: '#/tasks' }, t('back')));
    return null;
  }
  const cp = await db.get('checkpoints', task.checkpoint_id);
  const pending = await patrol.pendingFor(id);
  // What the phone already decided but has not sent: shown as the task's state.
  let state = task.state;
  for (const row of pending) {
    if (row.kind !== 'task.verify') state = row.payload.to;
    else state = row.payload.result === VERIFY.PASS ? TASK.VERIFIED : TASK.IN_PROGRESS;
  }
  const stateBadge = (s) => h('span', { class: `badge state-${s}` }, vocab.label('task_states', s));

  container.append(
    h('h1', {}, t('task_title', { id })),
    h('dl', { class: 'summary' },
      h('dt', {}, t('checkpoint')), h('dd', {}, cp ? `${pick(cp)} (${cp.short_code})` : `#${task.checkpoint_id}`),
      h('dt', {}, t('problem')), h('dd', {}, task.finding?.description || '—'),
      h('dt', {}, t('assignee')), h('dd', {}, task.assignee_name || t('unassigned')),
      h('dt', {}, t('due_label')), h('dd', {}, fmtDate(task.due_at)),
      h('dt', {}, t('task_state')),
      h('dd', { id: 'task-state' }, stateBadge(state))),
  );
  if (pending.length) container.append(h('p', { class: 'hint' }, t('task_pending_change', { s: vocab.label('task_states', state) })));
  if (navigator.onLine && (task.photos || []).length) {
    container.append(h('div', { class: 'thumbs' }, task.photos.map((pid, i) => h('img', { src: `/api/photos/${pid}?size=thumb`, alt: t('photo_of', { n: i + 1 }), loading: 'lazy' }))));
  }
  const actions = h('div', { class: 'actions' });
  const move = (to) => async () => {
    await patrol.transitionTask(task, to);
    toast(t('saved'));
    ctx.rerender();
  };
  // The moves from the state shown that the policy lets me make here (by role, or as the assignee).
  for (const m of policy.movesFor({ ...task, state })) {
    const button = PHONE_MOVES[m.action];
    if (button) actions.append(h('button', { type: 'button', class: 'btn primary big', id: button[0], onclick: move(m.to) }, t(button[1])));
  }
  // Verify only what the server has seen as done: the fresh scan must come after it.
  if (vocab.awaitingVerification(state) && !pending.length && policy.can('task.verify', { task })) {
    actions.append(h('a', { class: 'btn primary big', id: 'task-verify', href: `#/scan?task=${id}` }, t('task_verify')));
  }
  actions.append(h('a', { class: 'btn big', href: '#/tasks' }, t('back')));
  container.append(actions);
  return null;
}
