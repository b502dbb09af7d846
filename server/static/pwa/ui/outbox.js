// The outbox: every record made on this phone and where it is (on the phone, sent, needs attention).
import * as db from '../db.js';
import { fmtTime, pick, reason, t } from '../i18n.js';
import * as store from '../store.js';
import { syncNow } from '../sync.js';
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
    return `${cp ? pick(cp) : `#${p.checkpoint_id}`} · ${fails ? `${t('failed_items')} ${fails}` : t('all_fine')}`;
  }
  if (row.kind === 'task.transition') return `${t('task_title', { id: p.task_id })} → ${vocab.label('task_states', p.to)}`;
  if (row.kind === 'task.verify') return `${t('task_title', { id: p.task_id })} · ${vocab.label('verify_results', p.result)}`;
  if (row.kind === 'complaint.receive') return `${p.complainant}${p.unit ? ` (${p.unit})` : ''} · ${p.content}`;
  return '';
}

export async function render(container, _route, ctx) {
  const s = store.get();
  container.append(
    h('h1', {}, t('outbox_title')),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'btn primary', id: 'sync-now', onclick: async () => { await syncNow(); ctx.rerender(); } }, t('sync_now')),
      h('span', { class: 'hint', id: 'last-sync' }, s.lastSync ? t('last_sync', { t: fmtTime(s.lastSync) }) : t('never_synced'))),
  );
  if (isIosSafariTab()) container.append(h('p', { class: 'banner info' }, t('ios_install')));
  const persistNote = h('p', { class: 'hint', id: 'persist' });
  container.append(persistNote);
  if (navigator.storage?.persisted) {
    navigator.storage.persisted().then((ok) => { persistNote.textContent = ok ? t('persist_ok') : t('persist_no'); });
  }

  const rows = (await db.outboxAll()).sort((a, b) => b.seq - a.seq);
  if (!rows.length) container.append(h('p', { class: 'hint' }, t('outbox_empty')));
  const list = h('ul', { class: 'list outbox' });
  for (const row of rows) {
    const photos = [];
    for (const id of row.photo_ids || []) photos.push(await db.getPhoto(id));
    const known = photos.filter(Boolean);
    const up = known.filter((p) => p.status === 'uploaded').length;
    const badPhoto = known.find((p) => p.status === 'rejected');
    list.append(
      h('li', { class: `out-row st-${row.status}`, 'data-kind': row.kind, 'data-status': row.status },
        h('div', { class: 'out-head' },
          h('strong', {}, t(`kind_${row.kind.replace('.', '_')}`)),
          h('span', { class: `badge st-${row.status}` }, t(`st_${row.status}`))),
        h('p', {}, await describe(row)),
        h('p', { class: 'hint' }, fmtTime(row.observed_at)),
        known.length ? h('p', { class: 'hint photos-state' }, t('photos_state', { done: up, all: known.length })) : null,
        row.status === 'rejected' ? h('p', { class: 'error reason' }, t('reason', { m: reason(row.code, row.message) })) : null,
        badPhoto ? h('p', { class: 'error reason' }, t('reason', { m: reason(badPhoto.code, badPhoto.message) })) : null),
    );
  }
  container.append(list, h('p', { class: 'hint version' }, t('version', { v: s.version || '—' })));
  const unsub = store.subscribe((_s, changes) => {
    if ('syncing' in changes && !changes.syncing) ctx.rerender();
  });
  return unsub;
}
