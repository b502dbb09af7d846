// One task for a supervisor or manager: the finding, before/after photos, routing, assignment,
// extensions (managers decide), cancelling with a reason, comments, and the full history.
import * as api from '../../api.js';
import { fmtTime as fmtAt, pick, t } from '../../i18n.js';
import { laterDue } from '../../patrol.js';
import * as policy from '../../policy.js';
import * as vocab from '../../vocab.js';
import { EXTENSION, SEVERITY, VERIFY } from '../../vocab.js';
import { h, toast } from '../dom.js';
import { overlayOn } from '../drawing.js';
import { act, add, dangerZone, guarded, qs, select, writeButton } from '../online.js';
import { subnav } from './nav.js';
import { noteCard } from './residents.js';

// Times on this screen are the site's clock, like its due date, whatever the viewer's own timezone.
let zone;
const fmtTime = (iso) => fmtAt(iso, { zone });

export async function render(container, { params }, ctx) {
  const id = Number(params[0]);
  container.append(subnav('manage/tasks'), h('h1', {}, t('task_title', { id })));
  const box = h('div', { class: 'desk-body' });
  container.append(box);
  await guarded(box, ctx, async () => {
    const task = await api.get(`/api/tasks/${id}`);
    zone = task.timezone || undefined;
    const [depts, people] = await Promise.all([
      api.get(`/api/sites/${task.site_id}/departments`),
      policy.can('user.read', { task }) ? api.get(`/api/users/${qs({ site_id: task.site_id })}`) : [],
    ]);
    const names = new Map(people.map((p) => [p.id, p.display_name || p.username]));
    const deptName = (did) => { const d = depts.find((x) => x.id === did); return d ? pick(d) : '—'; };
    const f = task.finding;
    const due = h('dd', { id: 'task-due' }, fmtTime(task.due_at));
    add(box,
      h('p', { class: 'task-line' },
        h('span', { class: `badge state-${task.state}`, id: 'task-state' }, vocab.label('task_states', task.state)),
        task.severity === SEVERITY.MAJOR ? h('span', { class: 'badge major' }, vocab.label('severities', task.severity)) : null,
        task.repeat_flag ? h('span', { class: 'badge repeat' }, t('desk_repeat_badge')) : null,
        task.overdue ? h('span', { class: 'badge major' }, t('overdue')) : null),
      h('dl', { class: 'summary desk-summary' },
        h('dt', {}, t('checkpoint')), h('dd', { id: 'task-checkpoint' }, `${pick(task, 'checkpoint_name') || f.checkpoint_name} (${task.checkpoint_short_code})`, ' · ', vocab.label('checkpoint_kinds', f.checkpoint_kind)),
        h('dt', {}, t('problem')), h('dd', { id: 'task-problem' }, f.description || '—'),
        h('dt', {}, t('desk_category')), h('dd', {}, vocab.label('categories', f.category)),
        h('dt', {}, t('desk_observed')), h('dd', {}, fmtTime(f.observed_at)),
        h('dt', {}, t('desk_route')), h('dd', { id: 'task-route' }, vocab.label('routes', task.route), ' · ', deptName(task.department_id),
          task.route_confirmed ? null : h('span', { class: 'unconfirmed' }, ` (${t('desk_route_unconfirmed')})`)),
        h('dt', {}, t('assignee')), h('dd', { id: 'task-assignee' }, task.assignee_name || t('unassigned')),
        h('dt', {}, t('due_label')), due,
        task.original_due_at !== task.due_at ? [h('dt', {}, t('desk_original_due')), h('dd', {}, fmtTime(task.original_due_at))] : null,
        task.cancel_reason ? [h('dt', {}, t('desk_cancel_reason')), h('dd', {}, task.cancel_reason)] : null),
      photoPairs(task.photos),
      soundClips(task.photos),
      policy.can('resident.read', { task }) ? residentNotes(task) : null,
      signaturesCard(task),
    );
    const open = !vocab.isClosed(task.state);
    const may = (action) => policy.can(action, { task });
    // Someone who decides extensions opens a task mostly for that: then it comes first.
    const deciding = open && may('extension.decide') && (task.extensions || []).some((e) => e.state === EXTENSION.PENDING);
    if (deciding) box.append(extensionsCard(task, names, ctx));
    if (open && may('task.route')) box.append(routeCard(task, depts, ctx));
    if (vocab.assignable(task.state) && may('task.assign')) box.append(assignCard(task, people, ctx));
    if (!deciding) box.append(extensionsCard(task, names, ctx));
    box.append(commentsCard(task, names, ctx));
    if (open && may('task.cancel')) box.append(cancelCard(task, ctx));
    box.append(historyCard(task));
  });
  return null;
}

function card(id, title, ...children) {
  const titleId = `${id}-title`;
  return h('section', { class: 'card', id, 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), ...children);
}

const errorBox = (id) => h('p', { class: 'error', id, role: 'alert' });

function photoPairs(photos) {
  if (!photos || !photos.pairs.length) return null;
  const missing = new Set(photos.missing);
  const img = (pid, label) => {
    if (!pid) return h('div', { class: 'photo-slot empty' }, t('desk_no_photo'));
    if (missing.has(pid)) return h('div', { class: 'photo-slot empty' }, t('desk_photo_missing'));
    // The circle or arrow the patroller drew, over the original (which is what the link opens).
    const pic = h('img', { src: `/api/photos/${pid}?size=thumb`, alt: label, loading: 'lazy' });
    const slot = h('a', { class: 'photo-slot', href: `/api/photos/${pid}?size=display`, target: '_blank', rel: 'noopener', 'data-photo': pid }, pic);
    overlayOn(slot, pic, photos.annotations?.[pid]);
    return slot;
  };
  return card('task-photos', t('desk_photos'),
    h('div', { class: 'pair head', 'aria-hidden': 'true' }, h('span', {}, t('desk_before')), h('span', {}, t('desk_after'))),
    photos.pairs.map((p, i) => h('div', { class: 'pair' },
      img(p.before, t('desk_before_n', { n: i + 1 })),
      img(p.after, t('desk_after_n', { n: i + 1 })))));
}

/** The finding's sound clips ("listen"), played here as recorded. */
function soundClips(photos) {
  if (!photos?.sounds?.length) return null;
  return card('task-sounds', t('desk_sounds'),
    photos.sounds.map((pid, i) => h('audio', { controls: true, preload: 'metadata', src: `/api/photos/${pid}`, 'data-clip': pid, 'aria-label': `${t('sound_clip')} ${i + 1}` })));
}

/** What residents said that became this task's finding ("ask"), filled in when it arrives. */
function residentNotes(task) {
  const body = card('task-residents', t('desk_residents_of_task'));
  body.hidden = true;
  api.get(`/api/resident-notes/${qs({ site_id: task.site_id, finding_id: task.finding.id })}`).then((res) => {
    if (!res.items.length) return;
    body.append(...res.items.map((n) => noteCard(n, { fmt: fmtTime })));
    body.hidden = false;
  }).catch(() => {});
  return body;
}

const SIGNERS = ['verifier', 'fixer', 'supervisor'];

/** The drawn signatures of each on-site verification, with who signed (§ 14.5: signed by the people involved). */
function signaturesCard(task) {
  const signed = (task.verifications || []).filter((v) => Object.keys(v.signatures || {}).length);
  if (!signed.length) return null;
  const missing = new Set(task.photos?.missing || []);
  const names = (v) => ({ verifier: v.verifier_name, fixer: v.fixed_by_name, supervisor: v.supervisor_name });
  return card('task-signatures', t('desk_signatures'),
    signed.map((v) => h('div', { class: 'sig-set', 'data-verification': v.id },
      h('p', { class: 'task-line' },
        h('span', { class: `badge ${v.result === VERIFY.PASS ? 'ext-approved' : 'ext-rejected'}` }, vocab.label('verify_results', v.result)),
        h('span', { class: 'hint' }, fmtTime(v.verified_at))),
      h('div', { class: 'sig-grid' }, SIGNERS.filter((role) => v.signatures[role]).map((role) => {
        const pid = v.signatures[role];
        const label = t('desk_sig_of', { role: t(`sig_role_${role}`) });
        const who = names(v)[role];
        return h('figure', { class: 'sig', 'data-role': role },
          missing.has(pid)
            ? h('div', { class: 'photo-slot empty sig-img' }, t('desk_sig_missing'))
            : h('a', { class: 'sig-img', href: `/api/photos/${pid}?size=display`, target: '_blank', rel: 'noopener' },
              h('img', { src: `/api/photos/${pid}?size=thumb`, alt: who ? `${label} · ${who}` : label, loading: 'lazy' })),
          h('figcaption', {}, label, who ? ` · ${who}` : ''));
      })))));
}

function routeCard(task, depts, ctx) {
  const err = errorBox('route-error');
  const body = card('task-route-card', task.route_confirmed ? t('desk_change_route') : t('desk_confirm_route'),
    select('route-select', t('desk_route'), vocab.options('routes'), task.route),
    select('route-dept', t('desk_department'), [['', t('desk_dept_by_route')], ...depts.filter((d) => d.active).map((d) => [d.id, pick(d)])], task.route_confirmed ? task.department_id : ''),
    h('button', {
      type: 'button', class: 'btn primary big', id: 'route-confirm',
      onclick: async (e) => {
        e.target.disabled = true;
        const dept = body.querySelector('#route-dept').value;
        const done = await act(err, () => api.post(`/api/tasks/${task.id}/route`, { route: body.querySelector('#route-select').value, department_id: dept ? Number(dept) : null }));
        e.target.disabled = false;
        if (done) { toast(t('desk_saved')); ctx.rerender(); }
      },
    }, task.route_confirmed ? t('desk_change_route') : t('desk_confirm_route')),
    err);
  return body;
}

function assignCard(task, people, ctx) {
  const err = errorBox('assign-error');
  const options = people.filter((p) => p.active && p.roles.some((r) => r.site_id === task.site_id));
  const label = (p) => `${p.display_name || p.username} · ${p.roles.filter((r) => r.site_id === task.site_id).map((r) => vocab.label('roles', r.role)).join('、')}`;
  const body = card('task-assign-card', task.assignee_id ? t('desk_reassign') : t('desk_assign'),
    select('assign-person', t('desk_person'), [['', t('desk_choose_person')], ...options.map((p) => [p.id, label(p)])], task.assignee_id || ''),
    h('div', { class: 'field' }, h('label', { for: 'assign-note' }, t('visit_note')), h('input', { id: 'assign-note', type: 'text', maxlength: 2000 })),
    h('button', {
      type: 'button', class: 'btn primary big', id: 'assign-submit',
      onclick: async (e) => {
        const who = body.querySelector('#assign-person').value;
        if (!who) { err.textContent = t('desk_choose_person'); return; }
        e.target.disabled = true;
        const done = await act(err, () => api.post(`/api/tasks/${task.id}/assign`, { assignee_id: Number(who), note: body.querySelector('#assign-note').value }));
        e.target.disabled = false;
        if (done) { toast(t('desk_assigned_to', { name: done.assignee_name })); ctx.rerender(); }
      },
    }, task.assignee_id ? t('desk_reassign') : t('desk_assign')),
    err);
  return body;
}

function extensionsCard(task, names, ctx) {
  const exts = task.extensions || [];
  const open = !vocab.isClosed(task.state);
  const mayDecide = policy.can('extension.decide', { task });
  const mayRequest = open && policy.can('extension.request', { task });
  const pending = exts.find((e) => e.state === EXTENSION.PENDING);
  const err = errorBox('ext-error');
  const list = h('ul', { class: 'list ext-list' }, exts.map((e) => h('li', { class: `ext ext-${e.state}`, 'data-extension': e.id },
    h('p', { class: 'task-line' }, h('span', { class: `badge ext-${e.state}` }, vocab.label('extension_states', e.state)),
      h('span', {}, t('desk_ext_to', { from: fmtTime(e.previous_due_at), to: fmtTime(e.requested_due_at) }))),
    h('p', {}, t('reason', { m: e.reason })),
    h('p', { class: 'hint' }, `${names.get(e.requested_by) || ''} ${fmtTime(e.created_at)}`),
    e.decision_note ? h('p', { class: 'hint' }, t('desk_decision_note', { m: e.decision_note })) : null)));
  const body = card('task-ext-card', t('desk_extensions'), exts.length ? list : h('p', { class: 'hint' }, t('desk_no_extensions')));
  if (pending && mayDecide && open) {
    const decide = (approve) => async (e) => {
      e.target.disabled = true;
      const done = await act(err, () => api.post(`/api/tasks/extensions/${pending.id}/decision`, { approve, note: body.querySelector('#ext-note').value }));
      e.target.disabled = false;
      if (done) { toast(approve ? t('desk_ext_approved_toast') : t('desk_ext_rejected_toast')); ctx.rerender(); }
    };
    body.append(
      h('div', { class: 'field' }, h('label', { for: 'ext-note' }, t('desk_decision_note_label')), h('input', { id: 'ext-note', type: 'text', maxlength: 2000 })),
      h('div', { class: 'row two' },
        h('button', { type: 'button', class: 'btn ok', id: 'ext-approve', onclick: decide(true) }, t('desk_ext_approve')),
        h('button', { type: 'button', class: 'btn danger', id: 'ext-reject', onclick: decide(false) }, t('desk_ext_reject'))));
  } else if (pending) {
    body.append(h('p', { class: 'hint' }, t('desk_ext_waiting')));
  } else if (mayRequest) {
    const date = h('input', { id: 'ext-date', type: 'date', min: task.due_local.slice(0, 10) });
    body.append(
      h('div', { class: 'field' }, h('label', { for: 'ext-date' }, t('desk_ext_new_due')), date),
      h('div', { class: 'field' }, h('label', { for: 'ext-reason' }, t('desk_ext_reason')), h('textarea', { id: 'ext-reason', rows: 2, maxlength: 2000 })),
      h('button', {
        type: 'button', class: 'btn big', id: 'ext-request',
        onclick: async (e) => {
          const reason = body.querySelector('#ext-reason').value.trim();
          if (!date.value || !reason) { err.textContent = t('desk_ext_need'); return; }
          e.target.disabled = true;
          // The chosen day is a day of the site's calendar: move the due time by whole days, so
          // it keeps its time of day there whatever the phone's own timezone (as the phone does).
          const at = laterDue(task.due_at, task.due_local.slice(0, 10), date.value);
          const done = await act(err, () => api.post(`/api/tasks/${task.id}/extensions`, { requested_due_at: at, reason }));
          e.target.disabled = false;
          if (done) { toast(t('desk_ext_requested_toast')); ctx.rerender(); }
        },
      }, t('desk_ext_request')));
  }
  body.append(err);
  return body;
}

function commentsCard(task, names, ctx) {
  const err = errorBox('comment-error');
  const comments = task.comments || [];
  const body = card('task-comments', t('desk_comments'),
    comments.length
      ? h('ul', { class: 'list' }, comments.map((c) => h('li', { class: 'comment' },
        h('p', {}, c.body),
        (c.photo_ids || []).length ? h('div', { class: 'thumbs' }, c.photo_ids.map((pid, i) => h('img', { src: `/api/photos/${pid}?size=thumb`, alt: t('photo_of', { n: i + 1 }), loading: 'lazy' }))) : null,
        h('p', { class: 'hint' }, `${names.get(c.author_id) || ''} ${fmtTime(c.created_at)}`))))
      : h('p', { class: 'hint' }, t('desk_no_comments')));
  if (!policy.can('task.comment', { task })) return body;
  // A closed task of a sealed month is part of the filed record: the server refuses every comment.
  if (task.sealed_month) {
    body.append(h('p', { class: 'hint', id: 'task-sealed' }, t('desk_task_sealed', { month: task.sealed_month })));
    return body;
  }
  body.append(
    h('div', { class: 'field' }, h('label', { for: 'comment-body' }, t('desk_add_comment')), h('textarea', { id: 'comment-body', rows: 2, maxlength: 5000 })),
    h('button', {
      type: 'button', class: 'btn', id: 'comment-submit',
      onclick: async (e) => {
        const text = body.querySelector('#comment-body').value.trim();
        if (!text) return;
        e.target.disabled = true;
        const done = await act(err, () => api.post(`/api/tasks/${task.id}/comments`, { body: text }));
        e.target.disabled = false;
        if (done) ctx.rerender();
      },
    }, t('desk_send_comment')),
    err);
  return body;
}

function cancelCard(task, ctx) {
  const err = errorBox('cancel-error');
  const reason = h('textarea', { id: 'cancel-reason', rows: 2, maxlength: 2000 });
  const cancel = () => {
    if (!reason.value.trim()) throw new Error(t('desk_cancel_need_reason'));
    return api.post(`/api/tasks/${task.id}/cancel`, { reason: reason.value.trim() });
  };
  return dangerZone('task-cancel-card', t('desk_cancel_task'),
    h('div', { class: 'field' }, h('label', { for: 'cancel-reason' }, t('desk_cancel_reason')), reason),
    writeButton({ class: 'btn danger big', id: 'cancel-submit' }, t('desk_cancel_confirm'), err, cancel, () => {
      toast(t('desk_cancelled_toast'));
      ctx.rerender();
    }),
    err);
}

// Audit data keeps naive UTC times (no zone): read them as UTC, not as the phone's local time.
const utc = (s) => (s && !/(Z|[+-]\d\d:\d\d)$/.test(s) ? `${s}Z` : s);

/** One line of history: what happened, in words, with from → to where it helps. */
function describe(ev) {
  const d = ev.data || {};
  const key = `desk_ev_${ev.entity}_${ev.action}`;
  let text = t(key);
  if (text === key) text = `${ev.entity} ${ev.action}`;
  if (ev.action === 'transition') text += `: ${vocab.label('task_states', d.from)} → ${vocab.label('task_states', d.to)}`;
  if (ev.action === 'routed' && d.to) text += `: ${vocab.label('routes', d.to.route)}`;
  if (ev.action === 'due_changed') text += `: ${fmtTime(utc(d.from))} → ${fmtTime(utc(d.to))}`;
  if (ev.entity === 'verification' && d.result) text += `: ${vocab.label('verify_results', d.result)}`;
  if (d.note) text += ` (${d.note})`;
  if (ev.entity === 'extension' && d.reason) text += ` (${d.reason})`;
  return text;
}

function historyCard(task) {
  return card('task-history', t('desk_history'),
    h('ol', { class: 'history' }, (task.events || []).map((ev) => h('li', { 'data-action': ev.action },
      h('span', { class: 'history-what' }, describe(ev)),
      h('span', { class: 'hint' }, `${ev.actor_name || t('desk_system')} · ${fmtTime(ev.at)}`)))));
}
