// The outbox: what is still on the phone (records and photos, counted apart), what needs
// attention, and what went today. Only the logged-in person's own (a shared phone keeps the
// others' for them). Version details are on the "about" screen.
import * as db from '../db.js';
import { fieldReason, fmtDate, fmtTime, pick, reason, t, unsentText } from '../i18n.js';
import * as store from '../store.js';
import { refreshCounts, syncNow } from '../sync.js';
import * as vocab from '../vocab.js';
import { RESULT } from '../vocab.js';
import { h } from './dom.js';

function isIosSafariTab() {
  const ua = navigator.userAgent;
  const ios = /iPad|iPhone|iPod/.test(ua) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
  const standalone = window.matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
  return ios && !standalone;
}

async function describe(row) {
  const p = row.payload || {};
  if (row.kind === 'visit.record') {
    const cp = await db.get('checkpoints', p.checkpoint_id);
    const fails = (p.results || []).filter((r) => r.result === RESULT.FAIL).length + (p.extra_findings || []).length;
    return `${cp ? pick(cp) : `#${p.checkpoint_id}`} · ${fails ? t('failed_items_n', { n: fails }) : t('all_fine')}`;
  }
  if (row.kind === 'task.transition') return `${t('task_title', { id: p.task_id })} → ${vocab.label('task_states', p.to)}`;
  if (row.kind === 'task.verify') return `${t('task_title', { id: p.task_id })} · ${vocab.label('verify_results', p.result)}`;
  if (row.kind === 'task.extend') return `${t('task_title', { id: p.task_id })} → ${fmtDate(p.requested_due_at)} · ${p.reason || ''}`;
  if (row.kind === 'round.missed') {
    const named = await Promise.all((p.reasons || []).map(async (r) => {
      const cp = await db.get('checkpoints', r.checkpoint_id);
      return `${cp ? pick(cp) : `#${r.checkpoint_id}`}: ${vocab.label('missed_reasons', r.reason)}`;
    }));
    return named.join(t('list_sep'));
  }
  if (row.kind === 'complaint.receive') return `${p.complainant}${p.unit ? ` (${p.unit})` : ''} · ${p.content}`;
  if (row.kind === 'resident.note') return p.said || '';
  return '';
}

const sameLocalDay = (iso, now = new Date()) => {
  const d = new Date(iso);
  return d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
};

/** The row's photos kept on the phone. */
async function photosOf(row) {
  const photos = [];
  for (const id of row.photo_ids || []) photos.push(await db.getPhoto(id));
  return photos.filter(Boolean);
}

/**
 * A refused record's field problems, each in the reader's language: details.field_errors (the
 * API's shape: path → [{code, message, params}]), or an older answer's details.fields (path →
 * [English message]) as they are.
 */
function fieldProblems(described, path = '') {
  if (Array.isArray(described)) return described.map((e) => t('outbox_field_problem', { field: path, m: fieldReason(e) }));
  if (!described || typeof described !== 'object') return [];
  return Object.entries(described).flatMap(([k, v]) => fieldProblems(v, path ? `${path}.${k}` : k));
}

/** A refusal (of the record, or of one of its photos) the person has not marked as seen. */
async function unseenRefusal(row) {
  if (row.status === 'rejected' && !row.seen_at) return true;
  return (await photosOf(row)).some((p) => p.status === 'rejected' && !p.seen_at);
}

async function item(row, { onSeen = null } = {}) {
  const known = await photosOf(row);
  const up = known.filter((p) => p.status === 'uploaded').length;
  // A refusal the person has marked as seen is settled: still listed and still said, no longer red.
  const seen = row.status === 'rejected' && row.seen_at;
  const problems = row.status === 'rejected' ? fieldProblems(row.details?.field_errors || row.details?.fields) : [];
  return h('li', { class: `out-row st-${row.status}${seen ? ' seen' : ''}`, 'data-kind': row.kind, 'data-status': row.status, 'data-seq': row.seq, 'data-seen': seen ? 'true' : null },
    h('div', { class: 'out-head' },
      h('strong', {}, t(`kind_${row.kind.replace('.', '_')}`)),
      h('span', { class: `badge st-${row.status}${seen ? ' seen' : ''}` }, t(seen ? 'st_rejected_seen' : `st_${row.status}`))),
    h('p', {}, await describe(row)),
    h('p', { class: 'hint' }, fmtTime(row.observed_at)),
    known.length ? h('p', { class: 'hint photos-state' }, t('photos_state', { done: up, all: known.length })) : null,
    row.status === 'rejected' ? h('p', { class: `${seen ? 'hint' : 'error'} reason` }, t('reason', { m: reason(row.code, row.message, row.details) })) : null,
    problems.length ? h('ul', { class: 'hint field-problems' }, problems.map((x) => h('li', {}, x))) : null,
    // Which photo to take again, by its place in the record (the server marks it unreadable too).
    ...known.map((p, i) => (p.status === 'rejected'
      ? h('p', { class: `${p.seen_at ? 'hint' : 'error'} reason retake` }, t('photo_retake', { n: i + 1, m: reason(p.code, p.message) }))
      : null)),
    // Refused for good (it is not sent again): once read, the person says so and it stops counting.
    onSeen ? h('p', { class: 'hint' }, t('refused_final')) : null,
    onSeen ? h('button', { type: 'button', class: 'btn small', id: `seen-${row.seq}`, onclick: onSeen }, t('refused_seen')) : null);
}

export async function render(container, _route, ctx) {
  const s = store.get();
  const me = s.me;
  const mine = (x) => me && db.ownedBy(x, me.id);
  const { records, photos } = await db.unsent(me?.id ?? null);
  const unsent = records + photos;
  const rows = (await db.outboxAll()).filter(mine).sort((a, b) => b.seq - a.seq);
  // Refused records (and sent ones with a refused photo) the person has not marked as seen.
  const refused = [];
  for (const r of rows) if (await unseenRefusal(r)) refused.push(r);
  container.append(
    h('h1', {}, t('outbox_title')),
    h('p', { class: `out-summary ${unsent || refused.length ? 'has' : ''}`, id: 'unsent-summary', 'data-refused': refused.length },
      unsent ? t('unsent_named', { what: unsentText(records, photos) }) : t(refused.length ? 'all_sent_but_refused' : 'all_sent', { n: refused.length }),
      unsent && refused.length ? ` ${t('and_refused', { n: refused.length })}` : ''),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'btn primary', id: 'sync-now', onclick: async () => { await syncNow(); ctx.rerender(); } }, t('sync_now')),
      h('span', { class: 'hint', id: 'last-sync' }, s.lastSync ? t('last_sync', { t: fmtTime(s.lastSync) }) : t('never_synced'))),
  );
  if (isIosSafariTab()) container.append(h('p', { class: 'banner info' }, t('ios_install')));
  // The browser may clear storage that is not persistent: say so only while something unsent is at stake.
  if (unsent && navigator.storage?.persisted) {
    const note = h('p', { class: 'banner warn', id: 'persist', hidden: true }, t('persist_no'));
    container.append(note);
    navigator.storage.persisted().then((ok) => { note.hidden = ok; });
  }

  const waiting = rows.filter((r) => r.status !== 'sent' && !(r.status === 'rejected' && r.seen_at));
  const sentToday = rows.filter((r) => r.status === 'sent' && sameLocalDay(r.sent_at || r.created_at));
  // Photos whose record went but whose bytes did not (yet): counted above, listed with their record below.
  const list = h('ul', { class: 'list outbox', id: 'outbox-unsent' });
  const seen = (row) => async () => {
    await db.markRefusalSeen(row.seq);
    await refreshCounts();
    ctx.rerender();
  };
  for (const row of waiting) list.append(await item(row, { onSeen: refused.includes(row) ? seen(row) : null }));
  const stragglers = rows.filter((r) => r.status === 'sent' && !sentToday.includes(r));
  for (const row of stragglers) {
    const ids = row.photo_ids || [];
    for (const id of ids) {
      const p = await db.getPhoto(id);
      if (p && p.status !== 'uploaded' && !(p.status === 'rejected' && p.seen_at)) { list.append(await item(row, { onSeen: refused.includes(row) ? seen(row) : null })); break; }
    }
  }
  container.append(list.childElementCount ? list : h('p', { class: 'hint', id: 'outbox-empty' }, t('outbox_nothing_waiting')));
  container.append(h('h2', {}, t('sent_today')));
  const sent = h('ul', { class: 'list outbox sent', id: 'outbox-sent' });
  for (const row of sentToday) sent.append(await item(row));
  container.append(sentToday.length ? sent : h('p', { class: 'hint' }, t('sent_today_none')));
  // Refusals already seen stay listed, newest first: what the phone did not get through.
  const seenRows = rows.filter((r) => r.status === 'rejected' && r.seen_at);
  if (seenRows.length) {
    const old = h('ul', { class: 'list outbox refused', id: 'outbox-refused' });
    for (const row of seenRows) old.append(await item(row));
    container.append(h('h2', {}, t('refused_seen_title')), old);
  }
  container.append(h('p', {}, h('a', { href: '#/about', id: 'about-link' }, t('about'))));
  const unsub = store.subscribe((_s, changes) => {
    if ('syncing' in changes && !changes.syncing) ctx.rerender();
  });
  return unsub;
}
