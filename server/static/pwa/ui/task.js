// One task: what was found, where, by when; start, finish, or verify it on site; ask for more time.
// Live: a push or pull that changes the task redraws the page where it is (no leaving and reopening).
import * as db from '../db.js';
import { findingMedia, soundIds } from '../keep.js';
import { fieldReason, fmtDate, fmtDay, pick, reason as refusal, siteZone, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as policy from '../policy.js';
import * as store from '../store.js';
import * as vocab from '../vocab.js';
import { EXTENSION } from '../vocab.js';
import { h, toast } from './dom.js';
import { PHONE_MOVES } from './tasks.js';

export async function render(container, { params }, ctx) {
  const id = Number(params[0]);
  let drawing = Promise.resolve();
  let gone = false;
  const urls = []; // object URLs of the photos and clips drawn now
  const seen = { task: null }; // the task as last drawn: a task closed meanwhile leaves the phone's copy
  seen.ext = { open: false, day: '', reason: '' }; // the request for more time being written
  const redraw = () => {
    drawing = drawing.then(async () => {
      if (gone) return;
      const old = urls.splice(0);
      const body = await draw(id, ctx, redraw, seen, urls);
      old.forEach((u) => URL.revokeObjectURL(u));
      if (gone) return;
      // A sync landing while the person types (the reason for more time) keeps their place.
      const focused = container.contains(document.activeElement) ? document.activeElement : null;
      const place = focused && typeof focused.selectionStart === 'number' ? [focused.selectionStart, focused.selectionEnd] : null;
      container.replaceChildren(...body);
      const again = focused?.id ? container.querySelector(`#${focused.id}`) : null;
      if (again) {
        again.focus({ preventScroll: true });
        try {
          if (place) again.setSelectionRange(...place);
        } catch {
          // a date input has no selection
        }
      }
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
      h('dt', {}, t('due_label')), h('dd', { id: 'task-due' }, fmtDate(task.due_at, { zone: zoneOf(task) })),
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
  const more = await moreTime(task, redraw, seen);
  if (more) out.push(more);
  return out;
}

/** The clock of the task's site (the one its due date is a day of). */
function zoneOf(task) {
  return (store.get().me?.sites || []).find((x) => x.site_id === task.site_id)?.timezone || siteZone();
}

const DAY_MS = 86400000;
const dayAfter = (day, n = 1) => new Date(Date.parse(day) + n * DAY_MS).toISOString().slice(0, 10);

/** Why the server refused a request for more time, in the reader's words (a field's own code when it names one). */
function refusalText(row) {
  const described = Object.values(row.details?.field_errors || {}).flat().filter((x) => x && typeof x === 'object');
  return described.length ? described.map(fieldReason).join(' ') : refusal(row.code, row.message, row.details);
}

/**
 * Asking for more time (延期): where the request stands once the phone knows it (queued here,
 * waiting for a manager, approved with its new date, refused with the manager's reason, or
 * refused by the server), and, for whoever the policy lets ask (the assignee, a supervisor),
 * the form: a new due day on the site's calendar and a reason. The request is queued in the
 * outbox like any record, so it is asked in a basement and goes with the next signal.
 */
async function moreTime(task, redraw, seen) {
  if (task.closed) return null;
  const zone = zoneOf(task);
  const day = (iso) => fmtDate(iso, { zone });
  const { waiting, refused } = await patrol.myExtensionRows(task.id);
  const ext = task.extension || null;
  const lines = [];
  const line = (state, text, extra = null) => lines.push(h('p', { class: 'ext-state', id: 'task-ext-state', 'data-state': state }, text), extra);
  if (waiting) {
    line('queued', t('task_ext_queued', { d: day(waiting.payload.requested_due_at) }),
      h('p', { class: 'hint' }, t('reason', { m: waiting.payload.reason })));
  } else if (ext?.state === EXTENSION.PENDING) {
    line(ext.state, t('task_ext_waiting', { d: day(ext.requested_due_at) }), h('p', { class: 'hint' }, t('reason', { m: ext.reason })));
  } else if (ext?.state === EXTENSION.APPROVED) {
    line(ext.state, t('task_ext_approved', { d: day(ext.requested_due_at) }),
      ext.decision_note ? h('p', { class: 'hint' }, t('task_ext_note', { m: ext.decision_note })) : null);
  } else if (ext?.state === EXTENSION.REJECTED) {
    line(ext.state, t('task_ext_rejected', { d: day(ext.requested_due_at) }),
      h('p', { class: 'hint' }, ext.decision_note ? t('task_ext_note', { m: ext.decision_note }) : t('task_ext_no_note')));
  }
  if (refused) {
    lines.push(h('p', { class: 'error', id: 'task-ext-refused', 'data-state': 'refused' }, t('task_ext_not_taken', { m: refusalText(refused) })));
  }
  const mayAsk = !waiting && ext?.state !== EXTENSION.PENDING && policy.can('extension.request', { task });
  if (!lines.length && !mayAsk) return null;
  const box = h('section', { class: 'card', id: 'task-extension', 'aria-labelledby': 'task-ext-title' },
    h('h2', { id: 'task-ext-title' }, t('task_ext_title')), ...lines.filter(Boolean));
  if (!mayAsk) return box;
  const form = seen.ext;
  if (!form.open) {
    box.append(h('button', {
      type: 'button', class: 'btn big', id: 'task-ext-open',
      onclick: () => { form.open = true; redraw(); },
    }, t('task_ext_ask')));
    return box;
  }
  // A day of the site's calendar, later than the due day, at most a year on (the server's rules).
  const dueDay = fmtDay(task.due_at, { zone });
  const err = h('p', { class: 'error', id: 'task-ext-error', role: 'alert' });
  const date = h('input', {
    id: 'task-ext-date', type: 'date', min: dayAfter(dueDay), max: dayAfter(dueDay, 366), value: form.day,
    'aria-describedby': 'task-ext-error', oninput: (e) => { form.day = e.target.value; },
  });
  const why = h('textarea', {
    id: 'task-ext-reason', rows: 3, maxlength: 2000, 'aria-describedby': 'task-ext-error',
    oninput: (e) => { form.reason = e.target.value; },
  });
  why.value = form.reason;
  const submit = async (e) => {
    const chosen = date.value;
    const text = why.value.trim();
    if (!chosen) err.textContent = t('task_ext_need_day');
    else if (chosen <= dueDay) err.textContent = refusal('due_not_later');
    else if (chosen > dayAfter(dueDay, 366)) err.textContent = refusal('due_too_far');
    else if (!text) err.textContent = t('task_ext_need_reason');
    else {
      e.target.disabled = true;
      await patrol.askForMoreTime(task, patrol.laterDue(task.due_at, dueDay, chosen), text);
      seen.ext = { open: false, day: '', reason: '' };
      toast(t('task_ext_saved'));
      redraw();
      return;
    }
    (!chosen || chosen <= dueDay || chosen > dayAfter(dueDay, 366) ? date : why).focus();
  };
  box.append(
    h('label', { for: 'task-ext-date' }, t('task_ext_new_due', { d: day(task.due_at) })), date,
    h('label', { for: 'task-ext-reason' }, t('task_ext_reason')), why,
    err,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn primary big', id: 'task-ext-submit', onclick: submit }, t('task_ext_submit')),
      h('button', {
        type: 'button', class: 'btn big', id: 'task-ext-cancel',
        onclick: () => { seen.ext = { open: false, day: '', reason: '' }; redraw(); },
      }, t('cancel'))));
  return box;
}
