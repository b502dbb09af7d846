// One task: what was found, where, by when; start, finish, or verify it on site.
// Live: a push or pull that changes the task redraws the page where it is (no leaving and reopening).
import * as db from '../db.js';
import { findingMedia, soundIds } from '../keep.js';
import { fmtDate, pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as policy from '../policy.js';
import * as store from '../store.js';
import * as vocab from '../vocab.js';
import { h, toast } from './dom.js';
import { PHONE_MOVES } from './tasks.js';

export async function render(container, { params }, ctx) {
  const id = Number(params[0]);
  let drawing = Promise.resolve();
  let gone = false;
  const urls = []; // object URLs of the photos and clips drawn now
  const seen = { task: null }; // the task as last drawn: a task closed meanwhile leaves the phone's copy
  const redraw = () => {
    drawing = drawing.then(async () => {
      if (gone) return;
      const old = urls.splice(0);
      const body = await draw(id, ctx, redraw, seen, urls);
      old.forEach((u) => URL.revokeObjectURL(u));
      if (!gone) container.replaceChildren(...body);
    }).catch((e) => console.error(e));
    return drawing;
  };
  await redraw();
  const unsubscribe = store.subscribe((_s, changes) => {
    // A pull brought the server's state, or a push sent (or set aside) what the phone decided.
    if ('pulledAt' in changes || 'unsent' in changes || 'attention' in changes) redraw();
  });
  return () => {
    gone = true;
    unsubscribe();
    urls.forEach((u) => URL.revokeObjectURL(u));
  };
}

async function draw(id, ctx, redraw, seen, urls) {
  // My moves not sent yet are read before the task: a move sent meanwhile has already moved
  // the phone's copy of the task (sync.js), so the state drawn is never the one before it.
  const pending = await patrol.pendingFor(id);
  let task = await db.get('tasks', id);
  if (!task) {
    // Closed on the server (verified, cancelled): the phone keeps only how it ended.
    const closed = (await db.getMeta('closed_tasks', {}))[id];
    if (!closed) return [h('p', { class: 'error', role: 'alert' }, t('task_not_found')), h('a', { class: 'btn', href: '#/tasks' }, t('back'))];
    if (!seen.task) {
      return [
        h('h1', {}, t('task_title', { id })),
        h('p', { id: 'task-state' }, h('span', { class: `badge state-${closed.state}`, 'data-state': closed.state }, vocab.label('task_states', closed.state))),
        h('p', { class: 'hint' }, t('task_closed')),
        h('a', { class: 'btn big', href: '#/tasks' }, t('back')),
      ];
    }
    task = { ...seen.task, state: closed.state, closed: true };
  }
  seen.task = task;
  const cp = await db.get('checkpoints', task.checkpoint_id);
  // What the phone already decided but has not sent: shown as the task's state.
  const state = patrol.shownState(task, pending);
  const stateBadge = (s) => h('span', { class: `badge state-${s}`, 'data-state': s }, vocab.label('task_states', s));

  const out = [
    h('h1', {}, t('task_title', { id })),
    h('dl', { class: 'summary' },
      h('dt', {}, t('checkpoint')), h('dd', {}, cp ? `${pick(cp)} (${cp.short_code})` : `#${task.checkpoint_id}`),
      h('dt', {}, t('problem')), h('dd', {}, task.finding?.description || '—'),
      h('dt', {}, t('assignee')), h('dd', {}, task.assignee_name || t('unassigned')),
      h('dt', {}, t('due_label')), h('dd', {}, fmtDate(task.due_at)),
      h('dt', {}, t('task_state')),
      h('dd', { id: 'task-state' }, stateBadge(state))),
  ];
  if (task.closed) out.push(h('p', { class: 'hint', id: 'task-closed' }, t('task_closed')));
  // The finding's photos and sound clips: from this phone or the copies fetched ahead, so
  // offline too; from the server online.
  // The clips' ids are asked once per visit to the page (online, the server), not on every redraw.
  seen.clips ||= await soundIds(id);
  const media = await findingMedia(task, urls, { h, clipIds: seen.clips, photoLabel: (n) => t('photo_of', { n }), clipLabel: (n) => t('verify_before_sound', { n }) });
  if (media.photos.length) out.push(h('div', { class: 'thumbs', id: 'task-photos' }, media.photos));
  if (media.missing) out.push(h('p', { class: 'hint', id: 'task-photos-missing' }, t('verify_before_offline')));
  if (media.clips.length) out.push(h('div', { class: 'cmp-sounds', id: 'task-sounds' }, media.clips));
  const actions = h('div', { class: 'actions' });
  const move = (to) => async () => {
    await patrol.transitionTask(task, to);
    toast(t('saved'));
    redraw();
  };
  // The moves from the state shown that the policy lets me make here (by role, or as the assignee).
  for (const m of task.closed ? [] : policy.movesFor({ ...task, state })) {
    const button = PHONE_MOVES[m.action];
    if (button) actions.append(h('button', { type: 'button', class: 'btn primary big', id: button[0], onclick: move(m.to) }, t(button[1])));
  }
  // Verify only what the server has seen as done: the fresh scan must come after it.
  if (!task.closed && vocab.awaitingVerification(state) && !pending.length && policy.can('task.verify', { task })) {
    actions.append(h('a', { class: 'btn primary big', id: 'task-verify', href: `#/scan?task=${id}` }, t('task_verify')));
  }
  actions.append(h('a', { class: 'btn big', href: '#/tasks' }, t('back')));
  out.push(actions);
  // Below the buttons: when the move is sent the hint goes, and nothing under the finger moves.
  if (pending.length) out.push(h('p', { class: 'hint', id: 'task-pending' }, t('task_pending_change', { s: vocab.label('task_states', state) })));
  return out;
}
