// The end of a round: how many places were visited, problems found, what the plan missed, and
// why each was missed (locked, under repair, no access, other with a few words), sent to the
// supervisor as one record.
import * as db from '../db.js';
import { fmtTime, pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as store from '../store.js';
import * as vocab from '../vocab.js';
import { MISSED } from '../vocab.js';
import { h, toast } from './dom.js';

const DRAFT = 'missed_reasons';
const NOTE_MAX = 500;

export async function render(container, _route, ctx) {
  const last = await db.getMeta('last_summary');
  // A shared phone: the last round may be another person's (theirs to explain, not mine).
  const s = last && (last.user_id === undefined || last.user_id === store.get().me?.id) ? last : null;
  container.append(h('h1', {}, t('round_summary')));
  if (!s) return null;
  const missed = [];
  for (const id of s.missed || []) missed.push({ id, cp: await db.get('checkpoints', id) });
  const name = (m) => (m.cp ? `${pick(m.cp)} (${m.cp.short_code})` : `#${m.id}`);
  container.append(
    h('dl', { class: 'summary' },
      h('dt', {}, t('visited')), h('dd', { id: 'sum-visited' }, String(s.visits.length)),
      h('dt', {}, t('failed_items')), h('dd', { id: 'sum-failed' }, String(s.failed)),
      s.plan_id ? [h('dt', {}, t('missed')), h('dd', { id: 'sum-missed' }, missed.length ? missed.map(name).join('、') : t('none'))] : null),
  );
  let stop = null;
  if (missed.length && s.reasons) {
    const status = h('p', { class: 'hint', id: 'missed-status', role: 'status' });
    container.append(given(s, missed, name, status));
    // Said as it is: on the phone until the server has them, then sent (live, as the outbox goes).
    const show = async () => {
      const row = (await db.outboxAll()).find((r) => r.kind === 'round.missed' && r.payload?.round_id === s.round_id);
      const sent = row?.status === 'sent';
      status.dataset.sent = String(sent);
      status.textContent = t(sent ? 'missed_reasons_sent' : 'missed_reasons_kept', { t: fmtTime(s.ended_at) });
    };
    await show();
    stop = store.subscribe((_s, changes) => { if ('unsent' in changes || 'attention' in changes) show(); });
  } else if (missed.length) container.append(await reasonForm(s, missed, name, ctx));
  container.append(h('a', { class: 'btn big', href: '#/', id: 'sum-home' }, t('back_home')));
  return stop;
}

/** The reasons as sent (or waiting to be sent): read only. */
function given(s, missed, name, status) {
  const byId = new Map(s.reasons.map((r) => [r.checkpoint_id, r]));
  return h('section', { class: 'card missed-reasons', id: 'missed-given', 'aria-labelledby': 'missed-title' },
    h('h2', { id: 'missed-title' }, t('missed_reason_title')),
    h('ul', { class: 'plain' }, missed.map((m) => {
      const r = byId.get(m.id);
      return h('li', { class: 'missed-row', 'data-checkpoint': m.id },
        h('strong', {}, name(m)),
        h('span', { class: 'badge' }, r ? vocab.label('missed_reasons', r.reason) : t('none')),
        r?.note ? h('p', { class: 'hint' }, r.note) : null);
    })),
    status);
}

/** One choice per missed checkpoint; "other" asks for words. Sent as one `round.missed` record. */
async function reasonForm(s, missed, name, ctx) {
  const kept = await db.getDraft(DRAFT);
  const draft = kept && kept.round_id === s.round_id ? kept : { round_id: s.round_id, reasons: {} };
  const persist = () => db.putDraft(DRAFT, draft).catch(() => {}); // a full phone keeps the choices on screen
  const err = h('p', { class: 'error', role: 'alert', id: 'missed-error' });

  const block = (m) => {
    const cur = () => draft.reasons[m.id] || (draft.reasons[m.id] = { reason: '', note: '' });
    const note = h('textarea', {
      id: `missed-note-${m.id}`, rows: 2, maxlength: NOTE_MAX, 'aria-label': t('missed_reason_note_for', { name: name(m) }),
      placeholder: t('missed_reason_note'),
      oninput: (e) => { cur().note = e.target.value; box.removeAttribute('data-invalid'); err.textContent = ''; persist(); },
    });
    note.value = cur().note || '';
    const noteBox = h('div', { class: 'missed-note', hidden: cur().reason !== MISSED.OTHER }, note);
    const buttons = vocab.options('missed_reasons').map(([value, label]) => h('button', {
      type: 'button', class: `seg-btn ${cur().reason === value ? 'on' : ''}`, 'data-reason': value,
      'aria-pressed': String(cur().reason === value),
      onclick: (e) => {
        cur().reason = value;
        for (const b of e.target.parentElement.children) {
          b.classList.toggle('on', b === e.target);
          b.setAttribute('aria-pressed', String(b === e.target));
        }
        noteBox.hidden = value !== MISSED.OTHER;
        if (value === MISSED.OTHER) note.focus();
        box.removeAttribute('data-invalid');
        err.textContent = '';
        persist();
      },
    }, label));
    const box = h('fieldset', { class: 'missed-row', id: `missed-${m.id}`, 'data-checkpoint': m.id },
      h('legend', {}, name(m)),
      m.cp && (m.cp.building || m.cp.floor) ? h('p', { class: 'hint' }, [m.cp.building, m.cp.floor ? t('cp_floor_n', { f: m.cp.floor }) : ''].filter(Boolean).join(' ')) : null,
      h('div', { class: 'seg reasons', role: 'group', 'aria-label': t('missed_reason_for', { name: name(m) }) }, buttons),
      noteBox);
    return box;
  };

  let sending = false;
  const send = async () => {
    if (sending) return;
    const reasons = [];
    for (const m of missed) {
      const r = draft.reasons[m.id] || {};
      const words = (r.note || '').trim();
      if (!r.reason || (r.reason === MISSED.OTHER && !words)) {
        err.textContent = t(r.reason ? 'missed_reason_need_note' : 'missed_reason_need', { name: name(m) });
        const box = document.getElementById(`missed-${m.id}`);
        box?.setAttribute('data-invalid', 'true');
        box?.scrollIntoView({ block: 'center' });
        if (r.reason) document.getElementById(`missed-note-${m.id}`)?.focus();
        return;
      }
      reasons.push(r.reason === MISSED.OTHER ? { checkpoint_id: m.id, reason: r.reason, note: words } : { checkpoint_id: m.id, reason: r.reason });
    }
    sending = true;
    try {
      await patrol.giveMissedReasons(s, reasons);
    } catch (e) {
      sending = false;
      err.textContent = db.isStorageFull(e) ? t('storage_full_not_saved') : t('saving_failed', { m: e.message });
      return;
    }
    toast(t('missed_reasons_saved'));
    ctx.rerender();
  };

  return h('section', { class: 'card missed-reasons', id: 'missed-form', 'aria-labelledby': 'missed-title' },
    h('h2', { id: 'missed-title' }, t('missed_reason_title')),
    h('p', { class: 'hint' }, t('missed_reason_hint')),
    missed.map(block),
    err,
    h('button', { type: 'button', class: 'btn primary big', id: 'missed-send', onclick: send }, t('missed_reasons_send')));
}
