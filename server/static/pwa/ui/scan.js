// Scan: the camera looks for a checkpoint QR; or type the short code printed under it.
import * as db from '../db.js';
import { pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as policy from '../policy.js';
import * as report from '../report.js';
import * as rounds from '../rounds.js';
import * as scan from '../scan.js';
import * as store from '../store.js';
import { syncNow } from '../sync.js';
import { SCAN } from '../vocab.js';
import { ask, clear, h } from './dom.js';

export async function render(container, { params, query }, ctx) {
  const taskId = query.task ? Number(query.task) : null;
  const msg = h('p', { class: 'error', role: 'alert', id: 'scan-error' });
  let stop = null;
  let done = false;

  async function arrive(checkpoint, method) {
    if (done) return false;
    try {
      return await begin(checkpoint, method);
    } catch (e) {
      // Nothing was started: say why, and keep the camera looking and the form usable.
      done = false;
      failed(e);
      return true;
    }
  }

  // Whatever goes wrong between a scan and the checkpoint's screen is said on this screen:
  // a patroller whose tap does nothing would think the label or the phone is broken.
  function failed(e) {
    console.error(e);
    if (db.isStorageFull(e)) msg.textContent = t('storage_full_start');
    // A request the storage deadline aborted (db.js) ends as a timeout or as an AbortError.
    else if (e instanceof db.StorageTimeout || e?.name === 'AbortError') msg.textContent = t('scan_storage_slow');
    else {
      msg.textContent = t('scan_open_failed', { m: e?.message || String(e) });
      report.note(e); // not the storage: a fault someone should see
    }
  }

  async function begin(checkpoint, method) {
    if (taskId) {
      const task = await db.get('tasks', taskId);
      if (task && task.checkpoint_id !== checkpoint.id) {
        const expected = await db.get('checkpoints', task.checkpoint_id);
        msg.textContent = t('wrong_checkpoint', { name: expected ? pick(expected) : task.checkpoint_id });
        return true;
      }
      if (!policy.can('task.verify', { task, siteId: checkpoint.site_id })) {
        msg.textContent = t('err_forbidden');
        return true;
      }
      done = true;
      await patrol.beginVerification(taskId, checkpoint, method);
      ctx.go(`tasks/${taskId}/verify`);
      return false;
    }
    // Only people who may record a patrol at this checkpoint's site start a visit (the server would refuse it).
    if (!policy.can('patrol.record', { siteId: checkpoint.site_id })) {
      msg.textContent = t('err_forbidden');
      return true;
    }
    done = true;
    // One unsaved visit at a time. The same checkpoint scanned again takes it up where it was;
    // another one never throws away marked work without the patroller saying so.
    const open = await db.getDraft('visit');
    if (open?.checkpoint_id === checkpoint.id) {
      ctx.go(`checkpoint/${checkpoint.id}`);
      return false;
    }
    if (open?.checkpoint_id && patrol.draftWork(open).any) {
      stop?.();
      await askAboutOpen(open, checkpoint, method);
      return false;
    }
    await patrol.beginVisit(checkpoint, method);
    ctx.go(`checkpoint/${checkpoint.id}`);
    return false;
  }

  // Continue the unsaved visit, or discard it (saying what goes) and open the new checkpoint.
  // Saving it half done is not offered: a saved visit counts its unmarked items as fine.
  async function askAboutOpen(open, checkpoint, method) {
    const was = await db.get('checkpoints', open.checkpoint_id);
    const oldName = was ? `${pick(was)} (${was.short_code})` : `#${open.checkpoint_id}`;
    const newName = `${pick(checkpoint)} (${checkpoint.short_code})`;
    const work = patrol.draftWork(open);
    clear(container).append(ask({
      id: 'open-visit-ask',
      title: t('open_visit_ask_title', { name: oldName }),
      lines: [t('open_visit_ask_what', { n: work.marks, p: work.photos }), t('open_visit_ask_why')],
      choices: [
        { id: 'open-visit-continue', kind: 'primary', label: t('open_visit_continue', { name: oldName }), onclick: () => ctx.go(`checkpoint/${open.checkpoint_id}`) },
        {
          id: 'open-visit-discard', kind: 'danger', label: t('open_visit_discard', { name: oldName, next: newName }),
          onclick: async () => {
            await patrol.beginVisit(checkpoint, method);
            ctx.go(`checkpoint/${checkpoint.id}`);
          },
        },
        { id: 'open-visit-back', label: t('cancel'), onclick: () => ctx.rerender() },
      ],
    }));
  }

  async function handle(found, method) {
    let cp;
    try {
      cp = await scan.resolve(found, patrol.siteId());
      if (!cp && navigator.onLine) {
        await syncNow(); // a label printed since the last pull
        cp = await scan.resolve(found, patrol.siteId());
      }
    } catch (e) {
      failed(e);
      return true;
    }
    if (!cp) {
      msg.textContent = found?.code ? t('unknown_code', { c: found.code }) : t('unknown_qr');
      return true;
    }
    return arrive(cp, method);
  }

  if (params[0]) {
    // Opened from the label's URL by the phone's own camera app.
    container.append(h('p', {}, t('loading')), msg);
    await handle({ token: params[0] }, SCAN.URL);
    return () => {};
  }

  const video = h('video', { class: 'camera', autoplay: true, muted: true, playsinline: true, 'aria-label': t('camera_video') });
  const status = h('p', { class: 'hint', id: 'camera-status' }, t('camera_starting'));
  const code = h('input', { id: 'code', name: 'code', autocomplete: 'off', autocapitalize: 'characters', inputmode: 'text', enterkeyhint: 'go', 'aria-describedby': 'code-hint' });
  const form = h(
    'form',
    { class: 'card form code-form', onsubmit: (ev) => { ev.preventDefault(); if (!code.value.trim()) { msg.textContent = t('code_empty'); code.focus(); return; } const found = scan.parseScan(code.value); if (found) handle(found, SCAN.CODE); else msg.textContent = t('unknown_code', { c: code.value }); } },
    h('label', { for: 'code' }, t('type_code')),
    h('div', { class: 'row' }, code, h('button', { type: 'submit', class: 'btn primary', id: 'code-open' }, t('open'))),
    h('p', { class: 'hint', id: 'code-hint' }, t('code_hint')),
  );
  const box = h('div', { class: 'camera-box' }, video);
  // In a round that follows a plan: where it stands and which checkpoint is next. Its line is
  // there from the start, so filling it in moves nothing under a thumb.
  const roundLine = store.get().round?.plan_id ? h('p', { class: 'hint', id: 'scan-round' }) : null;
  container.append(h('h1', {}, t('scan_title')), roundLine || '', box, status, msg, form);
  if (roundLine) {
    rounds.today(patrol.siteId()).then(async (today) => {
      const next = today?.round ? today.progress.next : null;
      if (next === null) return;
      const cp = await db.get('checkpoints', next);
      roundLine.textContent = `${t('round_progress', { x: today.progress.visited, y: today.progress.planned })} · ${t('round_next', { name: cp ? `${pick(cp)} (${cp.short_code})` : `#${next}` })}`;
    }).catch((e) => console.warn(e));
  }

  try {
    stop = await scan.startCamera(video, async (text) => {
      const found = scan.parseScan(text);
      if (!found) {
        msg.textContent = t('unknown_qr');
        return true;
      }
      return handle(found, SCAN.QR);
    });
    status.textContent = '';
    if (done) stop();
  } catch (e) {
    console.warn(e);
    status.textContent = t('camera_failed');
    // No camera: no black box either; typing the code is the way in.
    box.hidden = true;
  }
  return () => {
    done = true;
    stop?.();
  };
}
