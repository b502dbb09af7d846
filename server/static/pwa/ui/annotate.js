// Mark where the problem is on a photo, before the record is saved: a circle (drag from its
// centre outwards) or an arrow (drag from its tail to the point), with undo; touch, pen and
// mouse alike (pointer events). The photo's bytes are never changed: the drawing is kept as
// shapes beside them (ui/drawing.js, server/drawings.py).
import * as db from '../db.js';
import { t } from '../i18n.js';
import { h, photoUrl } from './dom.js';
import { arrow, circle, paint } from './drawing.js';

// Shorter than this (a fraction of the photo's shorter side) is a tap, not a shape.
const MIN_DRAG = 0.02;

/**
 * Open the editor over the screen for a draft photo. Resolves true when the drawing was
 * kept (Done), false when left as it was (Cancel). Focus returns to `opener`.
 */
export async function editPhoto(photoId, opener = null) {
  const photo = await db.getPhoto(photoId);
  if (!photo) return false;
  const url = photoUrl(photo);
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch {
    URL.revokeObjectURL(url);
    return false;
  }
  const W = img.naturalWidth;
  const H = img.naturalHeight;
  const shapes = (photo.annotation?.shapes || []).map((s) => ({ ...s }));
  let tool = 'circle';
  let live = null; // the shape being dragged now

  const canvas = h('canvas', { class: 'annotate-canvas', id: 'annotate-canvas', width: W, height: H, role: 'img', 'aria-label': t('annot_canvas') });
  const g = canvas.getContext('2d');
  const redraw = () => {
    g.drawImage(img, 0, 0, W, H);
    paint(g, live ? [...shapes, live] : shapes, W, H);
    undoBtn.disabled = !shapes.length;
    count.textContent = shapes.length ? t('annot_count', { n: shapes.length }) : t('annot_hint');
  };
  const toolBtn = (name, label) => h('button', {
    type: 'button', class: `btn tool ${tool === name ? 'on' : ''}`, id: `annotate-${name}`, 'aria-pressed': String(tool === name),
    onclick: () => {
      tool = name;
      for (const b of bar.querySelectorAll('.tool')) {
        const on = b.id === `annotate-${name}`;
        b.classList.toggle('on', on);
        b.setAttribute('aria-pressed', String(on));
      }
    },
  }, label);
  const undoBtn = h('button', { type: 'button', class: 'btn', id: 'annotate-undo', onclick: () => { shapes.pop(); redraw(); } }, t('annot_undo'));
  const count = h('p', { class: 'hint', id: 'annotate-status', role: 'status' });
  const bar = h('div', { class: 'annotate-tools', role: 'group', 'aria-label': t('annot_tools') },
    toolBtn('circle', `◯ ${t('annot_circle')}`), toolBtn('arrow', `↗ ${t('annot_arrow')}`), undoBtn);

  // Pointer position in the photo's own 0..1 coordinates.
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height))];
  };
  const side = Math.min(W, H);
  const shapeOf = (from, to) => {
    if (tool === 'circle') {
      const r = Math.hypot((to[0] - from[0]) * W, (to[1] - from[1]) * H) / side;
      return r >= MIN_DRAG ? circle(from[0], from[1], Math.min(1, r)) : null;
    }
    const len = Math.hypot((to[0] - from[0]) * W, (to[1] - from[1]) * H) / side;
    return len >= MIN_DRAG ? arrow(from[0], from[1], to[0], to[1]) : null;
  };
  let active = null;
  let from = null;
  canvas.addEventListener('pointerdown', (ev) => {
    if (active !== null || (ev.pointerType === 'mouse' && ev.button !== 0)) return;
    active = ev.pointerId;
    canvas.setPointerCapture?.(ev.pointerId);
    from = at(ev);
    ev.preventDefault();
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (ev.pointerId !== active) return;
    live = shapeOf(from, at(ev));
    redraw();
    ev.preventDefault();
  });
  const end = (ev) => {
    if (ev.pointerId !== active) return;
    active = null;
    const shape = ev.type === 'pointerup' ? shapeOf(from, at(ev)) : null;
    live = null;
    if (shape && shapes.length < 20) shapes.push(shape);
    redraw();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  return new Promise((resolve) => {
    const close = async (keep) => {
      if (keep) await db.setPhotoAnnotation(photoId, shapes.length ? { shapes } : null);
      URL.revokeObjectURL(url);
      document.removeEventListener('keydown', onKey);
      sheet.remove();
      opener?.focus?.({ preventScroll: true });
      resolve(keep);
    };
    const onKey = (ev) => { if (ev.key === 'Escape') close(false); };
    const sheet = h('div', { class: 'annotate', id: 'annotate', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'annotate-title' },
      h('h2', { id: 'annotate-title' }, t('annot_title')),
      h('p', { class: 'hint' }, t('annot_explain')),
      bar,
      h('div', { class: 'annotate-stage' }, canvas),
      count,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn primary big', id: 'annotate-done', onclick: () => close(true) }, t('annot_done')),
        h('button', { type: 'button', class: 'btn big', id: 'annotate-cancel', onclick: () => close(false) }, t('cancel'))));
    document.addEventListener('keydown', onKey);
    document.body.append(sheet);
    redraw();
    sheet.querySelector('#annotate-circle').focus({ preventScroll: true });
  });
}
