// Verification on site: after the re-scan, an after photo, pass or fail, and a drawn signature.
import * as db from '../db.js';
import { pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import { addCanvasPhoto, addPhoto } from '../photos.js';
import { clear, h, photoUrl, toast } from './dom.js';

export async function render(container, { params }, ctx) {
  const id = Number(params[0]);
  const key = `verify:${id}`;
  const task = await db.get('tasks', id);
  const draft = await db.getDraft(key);
  if (!task || !draft) {
    container.append(h('p', { class: 'error', role: 'alert' }, t('scan_first')), h('a', { class: 'btn', href: `#/scan?task=${id}` }, t('nav_scan')));
    return null;
  }
  const cp = await db.get('checkpoints', task.checkpoint_id);
  const urls = [];
  const msg = h('p', { class: 'error', role: 'alert', id: 'verify-error' });
  // When the phone is full the draft cannot be written: the form works on from memory.
  const persist = async () => {
    try {
      await db.putDraft(key, draft);
    } catch (e) {
      if (!db.isStorageFull(e)) throw e;
      if (!msg.textContent) msg.textContent = t('storage_full_form');
    }
  };

  const thumbs = h('div', { class: 'thumbs' });
  const drawThumbs = async () => {
    clear(thumbs);
    let n = 0;
    for (const pid of draft.after_photo_ids) {
      const p = await db.getPhoto(pid);
      if (!p) continue;
      const url = photoUrl(p);
      urls.push(url);
      thumbs.append(h('img', { src: url, alt: t('photo_of', { n: ++n }) }));
    }
  };
  const file = h('input', {
    type: 'file', accept: 'image/*', capture: 'environment', id: 'after-photo', class: 'file',
    onchange: async (ev) => {
      try {
        for (const f of ev.target.files) draft.after_photo_ids.push(await addPhoto(f, 'after'));
      } catch (e) {
        if (!db.isStorageFull(e)) throw e;
        msg.textContent = t('storage_full_photo');
      }
      await persist();
      drawThumbs();
    },
  });

  const resultGroup = h('div', { class: 'seg', role: 'radiogroup', 'aria-labelledby': 'verify-result-label' });
  const drawResult = () => {
    clear(resultGroup);
    for (const [value, k] of [['pass', 'verify_pass'], ['fail', 'verify_fail']]) {
      resultGroup.append(h('button', {
        type: 'button', role: 'radio', class: `seg-btn ${value === 'pass' ? 'ok' : 'fail'} ${draft.result === value ? 'on' : ''}`,
        'aria-checked': draft.result === value ? 'true' : 'false', id: `verify-${value}`,
        onclick: async () => { draft.result = value; await persist(); drawResult(); },
      }, t(k)));
    }
  };
  const note = h('textarea', { id: 'verify-note', rows: 2, oninput: (e) => { draft.note = e.target.value; persist(); } });
  note.value = draft.note || '';
  const fixedBy = h('input', { id: 'fixed-by', autocomplete: 'off', oninput: (e) => { draft.fixed_by_name = e.target.value; persist(); } });
  fixedBy.value = draft.fixed_by_name || '';

  const pad = h('canvas', { class: 'signature', id: 'signature', width: 600, height: 240, role: 'img', 'aria-label': t('signature_hint') });
  // The drawing is kept in the draft too, so a reload under the form keeps the signature.
  const strokes = { drawn: !!draft.signature_data, changed: () => { draft.signature_data = pad.toDataURL('image/png'); persist(); } };
  setupPad(pad, strokes);
  if (draft.signature_data) {
    const img = new Image();
    img.onload = () => pad.getContext('2d').drawImage(img, 0, 0);
    img.src = draft.signature_data;
  }

  container.append(
    h('h1', {}, t('verify_title')),
    h('p', { class: 'ok-text' }, `✓ ${t('verify_scanned', { name: cp ? pick(cp) : task.checkpoint_id })}`),
    h('p', {}, task.finding?.description || ''),
    h('label', { for: 'after-photo', class: 'btn photo-btn' }, t('after_photo')), file, thumbs,
    h('p', { class: 'label', id: 'verify-result-label' }, t('verify_result')), resultGroup,
    h('label', { for: 'verify-note' }, t('visit_note')), note,
    h('label', { for: 'fixed-by' }, t('fixed_by')), fixedBy,
    h('p', { class: 'label', id: 'sig-label' }, t('signature')), pad,
    h('button', { type: 'button', class: 'btn', id: 'clear-signature', onclick: () => { pad.getContext('2d').clearRect(0, 0, pad.width, pad.height); strokes.drawn = false; draft.signature_data = ''; persist(); } }, t('clear_signature')),
    msg,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn primary big', id: 'save-verify', onclick: save }, t('save')),
      h('a', { class: 'btn big', href: `#/tasks/${id}` }, t('cancel'))),
  );
  drawResult();
  drawThumbs();

  async function save() {
    if (!draft.result) {
      msg.textContent = t('need_result');
      return;
    }
    if (!strokes.drawn) {
      msg.textContent = t('need_signature');
      return;
    }
    try {
      // The signature as drawn now; one left by an earlier, refused try goes.
      const earlier = draft.signature_id;
      draft.signature_id = await addCanvasPhoto(pad, 'signature');
      if (earlier) await db.deletePhoto(earlier);
      await persist();
      await patrol.verifyTask(task, draft);
    } catch (e) {
      msg.textContent = db.isStorageFull(e) ? t('storage_full_not_saved') : t('saving_failed', { m: e.message });
      return;
    }
    toast(t('saved'));
    ctx.go('tasks');
  }
  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}

function setupPad(canvas, strokes) {
  const g = canvas.getContext('2d');
  g.lineWidth = 4;
  g.lineCap = 'round';
  g.strokeStyle = '#111';
  let last = null;
  const point = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [((ev.clientX - r.left) * canvas.width) / r.width, ((ev.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener('pointerdown', (ev) => {
    canvas.setPointerCapture(ev.pointerId);
    last = point(ev);
    ev.preventDefault();
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!last) return;
    const p = point(ev);
    g.beginPath();
    g.moveTo(...last);
    g.lineTo(...p);
    g.stroke();
    last = p;
    strokes.drawn = true;
  });
  const end = () => {
    if (last && strokes.drawn) strokes.changed();
    last = null;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
}
