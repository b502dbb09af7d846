// One complaint: what the resident said, its deadline and level, the step that is next (shown only to
// the people the policy allows it), the return visit with the script as a prompt, the place's patrols.
import * as api from '../../api.js';
import { fmtLocal, fmtTime as fmtWhen, pick, t, zonedInputValue, zonedInstant } from '../../i18n.js';
import * as policy from '../../policy.js';
import * as vocab from '../../vocab.js';
import { h, toast } from '../dom.js';
import { add, guarded, qs, select, writeButton } from '../online.js';
import { cmpnav, dueText } from './complaints_nav.js';

let zone;
// The app's one formatter, on the complaint's site clock.
const fmtTime = (iso) => fmtWhen(iso, { zone });

function card(id, title, ...children) {
  return h('section', { class: 'card', id, 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), ...children);
}
const errorBox = (id) => h('p', { class: 'error', id, role: 'alert' });
const area = (id, label, attrs = {}) => h('div', { class: 'field' }, h('label', { for: id }, label), h('textarea', { id, rows: 3, maxlength: 5000, ...attrs }));
// What people typed in a textarea keeps its line breaks: as text, in a block that wraps at them.
const typed = (id, text) => h('div', { class: 'typed', id }, text);
const input = (id, label, attrs = {}) => h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, type: 'text', ...attrs }));

export async function render(container, { params }, ctx) {
  const id = Number(params[0]);
  container.append(cmpnav('complaints'), h('h1', {}, t('cmp_title', { id })));
  const box = h('div', { class: 'desk-body' });
  container.append(box);
  await guarded(box, ctx, async () => {
    const c = await api.get(`/api/complaints/${id}`);
    zone = c.timezone || undefined;
    const may = (action) => policy.can(action, { task: c });
    const [depts, people] = await Promise.all([
      api.get(`/api/sites/${c.site_id}/departments`),
      may('complaint.assign') && policy.can('user.read', { siteId: c.site_id }) ? api.get(`/api/users/${qs({ site_id: c.site_id })}`) : [],
    ]);
    const deptName = (did) => { const d = depts.find((x) => x.id === did); return d ? pick(d) : '—'; };
    const reload = () => { toast(t('cmp_saved')); ctx.rerender(); };
    add(box,
      h('p', { class: 'task-line' },
        h('span', { class: `badge cmp-state-${c.state}`, id: 'cmp-state' }, vocab.label('complaint_states', c.state)),
        h('span', { class: `badge ${c.kind === 'special' ? 'major' : ''}`, id: 'cmp-kind' }, vocab.label('complaint_kinds', c.kind)),
        c.overdue ? h('span', { class: 'badge major' }, t('overdue')) : null,
        c.level !== 'receiver' ? h('span', { class: 'badge repeat', id: 'cmp-level' }, `${t('cmp_level')}：${vocab.label('escalation_levels', c.level)}`) : null,
        c.addendum ? h('span', { class: 'badge' }, t('cmp_addendum')) : null),
      c.patrolled_as_fine && policy.can('complaint.stats', { siteId: c.site_id })
        ? h('div', { class: 'banner warn', id: 'cmp-fine-signal', role: 'note' },
          t('cmp_fine_signal', { when: fmtTime(c.patrolled_as_fine.scanned_at), who: c.patrolled_as_fine.user_name, d: c.patrolled_as_fine.days_before }))
        : null,
      h('dl', { class: 'summary desk-summary' },
        h('dt', {}, t('cmp_content')), h('dd', {}, typed('cmp-content', c.content)),
        h('dt', {}, t('cmp_complainant')), h('dd', {}, c.complainant, c.unit ? ` · ${c.unit}` : ''),
        c.contact ? [h('dt', {}, t('cmp_contact')), h('dd', { id: 'cmp-contact' }, c.contact)] : null,
        h('dt', {}, t('checkpoint')), h('dd', { id: 'cmp-place' }, pick(c, 'checkpoint_name') || '—', c.item_id ? ` · ${pick(c, 'item_text') || c.item_id}` : ''),
        h('dt', {}, t('cmp_channel')), h('dd', {}, vocab.label('complaint_channels', c.channel), ' → ', t('cmp_reply_by'), ' ', h('strong', { id: 'cmp-reply-channel' }, vocab.label('complaint_channels', c.reply_channel))),
        h('dt', {}, t('cmp_received')), h('dd', { id: 'cmp-received', title: c.received_local }, `${fmtTime(c.received_at)} · ${c.received_by_name}`),
        h('dt', {}, t('due_label')), h('dd', { id: 'cmp-due', title: c.due_local }, dueText(c.due_day, c.due_local, c.timezone)),
        c.department_id ? [h('dt', {}, t('desk_department')), h('dd', {}, deptName(c.department_id))] : null,
        c.handler_id ? [h('dt', {}, t('cmp_handler')), h('dd', { id: 'cmp-handler' }, c.handler_name)] : null,
        c.validity_reason ? [h('dt', {}, t('cmp_reason')), h('dd', {}, typed('cmp-reason', c.validity_reason))] : null,
        c.cause ? [h('dt', {}, t('cmp_cause')), h('dd', {}, typed('cmp-cause-text', c.cause))] : null,
        c.solution ? [h('dt', {}, t('cmp_solution')), h('dd', {}, typed('cmp-solution', c.solution))] : null,
        c.accepted_by_name ? [h('dt', {}, t('cmp_signed_by')), h('dd', {}, c.accepted_by_name)] : null,
        c.reply_text ? [h('dt', {}, t('cmp_reply')), h('dd', {}, typed('cmp-reply-text', c.reply_text),
          c.reply_channel === 'letter' ? h('a', { class: 'btn', id: 'cmp-letter', href: `/api/complaints/${c.id}/letter.pdf`, target: '_blank', rel: 'noopener' }, t('cmp_letter_pdf')) : null)] : null,
        c.return_due_local ? [h('dt', {}, t('cmp_return_due')), h('dd', { id: 'cmp-return-due', title: c.return_due_local }, dueText(c.return_due_day, c.return_due_local, c.timezone),
          c.return_scheduled_at ? ` · ${t('cmp_agreed_time')} ${fmtTime(c.return_scheduled_at)}` : '')] : null),
      photos(c),
      links(c, may, reload),
      nextStep(c, may, depts, people, reload),
      returnVisits(c),
      patrols(c),
      duplicates(c),
      history(c));
  });
  return null;
}

/** The complaint's photos as thumbnails; each opens the display copy. One not uploaded yet shows as missing. */
function photos(c) {
  if (!c.photo_ids?.length) return null;
  const missing = new Set(c.photos_missing || []);
  return card('cmp-photos', t('cmp_photos'),
    h('div', { class: 'cmp-photos' }, c.photo_ids.map((pid, i) => (missing.has(pid)
      ? h('div', { class: 'photo-slot empty' }, t('desk_photo_missing'))
      : h('a', { class: 'photo-slot', href: `/api/photos/${pid}?size=display`, target: '_blank', rel: 'noopener' },
        h('img', { src: `/api/photos/${pid}?size=thumb`, alt: t('photo_of', { n: i + 1 }), loading: 'lazy' }))))));
}

/** The one step that comes next, for the people who may take it; nothing for the others. */
function nextStep(c, may, depts, people, reload) {
  const s = c.state;
  const url = (step) => `/api/complaints/${c.id}/${step}`;
  if (s === 'received' && may('complaint.judge')) {
    const err = errorBox('cmp-judge-error');
    const v = (id) => document.getElementById(id).value;
    return card('cmp-judge', t('cmp_judge'),
      h('p', { class: 'hint' }, t('cmp_judge_hint')),
      h('div', { class: 'filter-grid' },
        select('cmp-judge-kind', t('cmp_kind'), vocab.options('complaint_kinds'), c.kind),
        select('cmp-judge-dept', t('desk_department'), [['', '—'], ...depts.filter((d) => d.active !== false).map((d) => [d.id, pick(d)])], '')),
      area('cmp-judge-reason', t('cmp_reason_invalid'), { rows: 2 }),
      err,
      h('div', { class: 'row' },
        writeButton({ class: 'btn primary', id: 'cmp-valid' }, t('cmp_valid'), err,
          () => api.post(url('judge'), { valid: true, kind: v('cmp-judge-kind'), ...(v('cmp-judge-dept') ? { department_id: Number(v('cmp-judge-dept')) } : {}) }), reload),
        writeButton({ class: 'btn danger', id: 'cmp-invalid' }, t('cmp_invalid'), err,
          () => api.post(url('judge'), { valid: false, reason: v('cmp-judge-reason') }), reload)));
  }
  const assignCard = () => {
    const err = errorBox('cmp-assign-error');
    return card('cmp-assign', t('cmp_assign'),
      select('cmp-assign-handler', t('cmp_handler'), [['', '—'], ...people.map((p) => [p.id, p.display_name || p.username])], c.handler_id || ''),
      err,
      writeButton({ class: 'btn primary', id: 'cmp-assign-save' }, t('cmp_assign'), err, () => {
        const handler = Number(document.getElementById('cmp-assign-handler').value);
        if (!handler) throw new Error(t('cmp_pick_handler'));
        return api.post(url('assign'), { handler_id: handler });
      }, reload));
  };
  if (s === 'valid' && may('complaint.assign')) return assignCard();
  if (s === 'assigned') {
    // Whoever may handle it (its handler, or a supervisor or manager) starts it; one who may
    // assign can still give it to someone else, below.
    const steps = [];
    if (may('complaint.handle')) {
      const err = errorBox('cmp-start-error');
      steps.push(card('cmp-start', t('cmp_start'), err, writeButton({ class: 'btn primary', id: 'cmp-start-save' }, t('cmp_start'), err, () => api.post(url('start')), reload)));
    }
    if (may('complaint.assign')) steps.push(assignCard());
    if (steps.length) return steps;
  }
  if (s === 'in_progress' && may('complaint.handle')) {
    const err = errorBox('cmp-propose-error');
    return card('cmp-propose', t('cmp_propose'),
      area('cmp-cause', t('cmp_cause')), area('cmp-solution-in', t('cmp_solution')), err,
      writeButton({ class: 'btn primary', id: 'cmp-propose-save' }, t('cmp_propose'), err,
        () => api.post(url('propose'), { cause: document.getElementById('cmp-cause').value, solution: document.getElementById('cmp-solution-in').value }), reload));
  }
  if (s === 'proposed' && may('complaint.approve')) {
    const err = errorBox('cmp-approve-error');
    const note = () => document.getElementById('cmp-approve-note').value;
    return card('cmp-approve', t('cmp_approve'),
      area('cmp-approve-note', t('cmp_approve_note'), { rows: 2 }), err,
      h('div', { class: 'row' },
        writeButton({ class: 'btn primary', id: 'cmp-approve-yes' }, t('cmp_approve'), err, () => api.post(url('approve'), { approve: true, note: note() }), reload),
        writeButton({ class: 'btn', id: 'cmp-approve-no' }, t('cmp_send_back'), err, () => api.post(url('approve'), { approve: false, note: note() }), reload)));
  }
  if (s === 'approved' && may('complaint.accept')) {
    const err = errorBox('cmp-accept-error');
    return card('cmp-accept', t('cmp_accept'),
      h('p', { class: 'hint' }, t('cmp_accept_hint')),
      input('cmp-signed-by', t('cmp_signed_by'), { maxlength: 120, value: c.complainant }), err,
      writeButton({ class: 'btn primary', id: 'cmp-accept-save' }, t('cmp_accept'), err,
        () => api.post(url('accept'), { signed_by: document.getElementById('cmp-signed-by').value }), reload));
  }
  if (s === 'accepted' && may('complaint.reply')) {
    const err = errorBox('cmp-reply-error');
    return card('cmp-reply', t('cmp_reply_by_channel', { channel: vocab.label('complaint_channels', c.reply_channel) }),
      h('p', { class: 'hint' }, t(`cmp_reply_hint_${c.reply_channel}`)),
      area('cmp-reply-in', c.reply_channel === 'letter' ? t('cmp_letter_text') : t('cmp_reply_notes'), { rows: 5 }), err,
      writeButton({ class: 'btn primary', id: 'cmp-reply-save' }, t('cmp_reply_save'), err,
        () => api.post(url('reply'), { text: document.getElementById('cmp-reply-in').value, channel: c.reply_channel }), reload));
  }
  if (s === 'replied' && may('complaint.visit')) return returnVisitForm(c, reload);
  return null;
}

/** The return visit: the script of 回访规范 as a prompt to read, then the result. */
function returnVisitForm(c, reload) {
  const err = errorBox('cmp-visit-error');
  const result = h('fieldset', { id: 'cmp-visit-result' },
    h('legend', {}, t('cmp_visit_result')),
    h('div', { class: 'checks' }, vocab.options('satisfaction').map(([v, label]) => h('label', { class: 'check', for: `cmp-visit-${v}` },
      h('input', { type: 'radio', name: 'cmp-visit-result', value: v, id: `cmp-visit-${v}` }), label))));
  const chosen = () => document.querySelector('input[name="cmp-visit-result"]:checked')?.value;
  // Typed and shown on the site's clock, whatever the browser's own timezone.
  const when = h('input', { type: 'datetime-local', id: 'cmp-visit-at', min: zonedInputValue(new Date(), zone),
    value: c.return_scheduled_at ? zonedInputValue(c.return_scheduled_at, zone) : undefined });
  return card('cmp-visit', t('cmp_visit'),
    h('details', { class: 'prompt', id: 'cmp-visit-script', open: true },
      h('summary', {}, t('cmp_script_title')),
      h('ol', { class: 'hint' }, ['cmp_script_1', 'cmp_script_2', 'cmp_script_3', 'cmp_script_4'].map((k) => h('li', {}, t(k))))),
    result,
    area('cmp-visit-improve', t('cmp_visit_improve'), { rows: 2 }),
    area('cmp-visit-notes', t('cmp_visit_notes'), { rows: 2 }),
    h('p', { class: 'hint' }, t('cmp_not_satisfied_reopens')),
    err,
    writeButton({ class: 'btn primary big', id: 'cmp-visit-save' }, t('cmp_visit_save'), err, () => {
      if (!chosen()) throw new Error(t('cmp_pick_result'));
      return api.post(`/api/complaints/${c.id}/return-visits`, {
        result: chosen(), improve: document.getElementById('cmp-visit-improve').value, notes: document.getElementById('cmp-visit-notes').value,
      });
    }, reload),
    h('div', { class: 'field' }, h('label', { for: 'cmp-visit-at' }, t('cmp_agree_time')), when),
    writeButton({ class: 'btn', id: 'cmp-visit-schedule' }, t('cmp_agree_save'), err, () => {
      const at = zonedInstant(when.value, zone);
      if (!at) throw new Error(t('cmp_agree_time'));
      return api.post(`/api/complaints/${c.id}/return-visits/schedule`, { at: at.toISOString() });
    }, reload));
}

/**
 * What the complaint is linked to: the patrol finding and the repair task, and, for those who
 * may (complaint.assign), linking an open repair task of its place (POST …/task). A task comes
 * from a patrol finding; a complaint does not open one.
 */
function links(c, may, reload) {
  const { task, finding } = c;
  const rows = [];
  if (finding) {
    rows.push(h('dt', {}, t('cmp_linked_finding')), h('dd', { id: 'cmp-link-finding' },
      [fmtLocal(finding.observed_local), vocab.label('categories', finding.category), pick(finding, 'item_text'), finding.description].filter(Boolean).join(' · ')));
  }
  if (task) {
    const title = t('task_title', { id: task.id });
    rows.push(h('dt', {}, t('cmp_linked_task')), h('dd', { id: 'cmp-link-task', 'data-task': task.id },
      policy.can('desk.open', { siteId: c.site_id }) ? h('a', { href: `#/manage/tasks/${task.id}` }, title) : title,
      ' · ', h('span', { class: `badge state-${task.state}` }, vocab.label('task_states', task.state)),
      ` · ${t('due', { d: fmtLocal(task.due_local) })}`,
      task.overdue ? [' ', h('span', { class: 'badge major' }, t('overdue'))] : null));
  }
  const linking = may('complaint.assign') && c.checkpoint_id ? linkTask(c, reload) : null;
  if (!rows.length && !linking) return null;
  return card('cmp-links', t('cmp_links'),
    rows.length ? h('dl', { class: 'summary desk-summary' }, rows) : h('p', { class: 'hint', id: 'cmp-no-links' }, t('cmp_no_links')),
    linking);
}

/** Link one of the open repair tasks of the complaint's place (the list loads with the card). */
function linkTask(c, reload) {
  const err = errorBox('cmp-link-error');
  const sel = h('select', { id: 'cmp-link-task-pick' }, h('option', { value: '' }, t('loading')));
  const save = writeButton({ class: 'btn', id: 'cmp-link-task-save' }, t('cmp_link_save'), err, () => {
    if (!sel.value) throw new Error(t('cmp_pick_task'));
    return api.post(`/api/complaints/${c.id}/task`, { task_id: Number(sel.value) });
  }, reload);
  const box = h('div', { id: 'cmp-link-task-box' },
    h('div', { class: 'field' }, h('label', { for: 'cmp-link-task-pick' }, t('cmp_link_task')), sel), err, save);
  const open = ['open', 'assigned', 'in_progress', 'done'];
  api.get(`/api/tasks/${qs({ site_id: c.site_id, checkpoint_id: c.checkpoint_id, state: open, per_page: 100 })}`).then((res) => {
    const tasks = (res.items || []).filter((x) => x.id !== c.task_id);
    box.dataset.loaded = String(tasks.length);
    if (!tasks.length) {
      // Already linked, and nothing else to link: the link above says it all.
      box.replaceChildren(c.task_id ? '' : h('p', { class: 'hint', id: 'cmp-no-open-tasks' }, t('cmp_no_open_tasks')));
      return;
    }
    sel.replaceChildren(h('option', { value: '' }, t('cmp_pick_task')), ...tasks.map((x) => h('option', { value: x.id },
      [t('task_title', { id: x.id }), vocab.label('task_states', x.state), fmtWhen(x.finding?.observed_at, { zone }),
        x.finding?.description || vocab.label('categories', x.finding?.category)].filter(Boolean).join(' · '))));
  }).catch((e) => { err.textContent = e.message; });
  return box;
}

function returnVisits(c) {
  if (!c.return_visits.length) return null;
  return card('cmp-visits', t('cmp_visits_done'),
    h('ul', { class: 'list' }, c.return_visits.map((v) => h('li', { 'data-result': v.result },
      h('strong', {}, vocab.label('satisfaction', v.result)), ` · ${fmtTime(v.visited_at)} · ${v.visitor_name}`,
      v.on_time ? '' : ` · ${t('cmp_visit_late')}`,
      v.improve ? h('div', { class: 'hint' }, `${t('cmp_visit_improve')}：${v.improve}`) : null,
      v.notes ? h('div', { class: 'hint' }, v.notes) : null))));
}

function patrols(c) {
  if (!c.checkpoint_id) return null;
  const { visits, findings } = c.patrols;
  return card('cmp-patrols', t('cmp_patrols', { place: pick(c, 'checkpoint_name') }),
    visits.length
      ? h('ul', { class: 'list', id: 'cmp-patrol-visits' }, visits.map((v) => h('li', {},
        `${fmtLocal(v.scanned_local)} · ${v.user_name} · ${t('cmp_ok_fail', { ok: v.ok, fail: v.fail })}`,
        v.resident_note ? h('div', { class: 'hint' }, `${t('cmp_resident_note')}：${v.resident_note}`) : null)))
      : h('p', { class: 'hint' }, t('cmp_no_patrols')),
    findings.length
      ? h('ul', { class: 'list', id: 'cmp-patrol-findings' }, findings.map((f) => h('li', {},
        `${fmtLocal(f.observed_local)} · ${vocab.label('categories', f.category)} · ${f.description || ''}`)))
      : null);
}

function duplicates(c) {
  if (!c.duplicates.length) return null;
  return card('cmp-dupes', t('cmp_duplicates', { n: c.duplicates.length }),
    h('ul', { class: 'list' }, c.duplicates.map((d) => h('li', {}, h('a', { href: `#/complaints/${d.id}` }, `#${d.id}`), ` ${vocab.label('complaint_states', d.state)} · ${d.content}`))));
}

function history(c) {
  return card('cmp-history', t('desk_history'),
    h('ol', { class: 'history' }, c.events.map((ev) => h('li', { 'data-action': ev.action },
      h('span', { class: 'history-what' }, t(`cmp_ev_${ev.action}`)),
      ev.data?.to ? ` → ${vocab.label('escalation_levels', ev.data.to)}` : '',
      h('span', { class: 'hint' }, ` ${ev.actor_name || t('desk_system')} · ${fmtTime(ev.at)}`)))));
}
