// A signature pad: drawn with a finger, a pen or a mouse; kept as strokes so a reload redraws it,
// rendered to a PNG photo only when the record is saved.
import { t } from '../i18n.js';
import { h } from './dom.js';

const WIDTH = 600;
const HEIGHT = 240;
// Less ink than this (in canvas pixels) is a stray tap, not a signature: the pad counts as empty.
const MIN_INK = 60;

function inkLength(strokes) {
  let n = 0;
  for (const s of strokes) {
    for (let i = 1; i < s.length; i += 1) n += Math.hypot(s[i][0] - s[i - 1][0], s[i][1] - s[i - 1][1]);
  }
  return n;
}

export class SignaturePad {
  /**
   * @param {object} o
   * @param {string} o.role      verifier | fixer | supervisor (ids: #sig-<role>, #sig-clear-<role>, #sig-undo-<role>)
   * @param {string} o.label     the visible label
   * @param {string} o.who       the signer in a few words, for the buttons' accessible names
   * @param {Array}  o.strokes   strokes kept in the draft: [[[x, y], …], …] in canvas pixels
   * @param {Function} o.onChange called with the strokes after each stroke, undo or clear
   */
  constructor({ role, label, who, strokes = [], onChange = () => {} }) {
    this.role = role;
    this.strokes = (strokes || []).map((s) => s.map((p) => [p[0], p[1]]));
    this.onChange = onChange;
    this.canvas = h('canvas', {
      class: 'signature', id: `sig-${role}`, width: WIDTH, height: HEIGHT,
      role: 'img', 'aria-labelledby': `sig-${role}-label`, 'aria-describedby': `sig-${role}-hint`,
    });
    this.undoBtn = h('button', {
      type: 'button', class: 'btn', id: `sig-undo-${role}`, 'aria-label': t('sig_undo_label', { who }),
      onclick: () => this.undo(),
    }, t('sig_undo'));
    this.clearBtn = h('button', {
      type: 'button', class: 'btn', id: `sig-clear-${role}`, 'aria-label': t('sig_clear_label', { who }),
      onclick: () => this.clear(),
    }, t('sig_clear'));
    this.container = h('div', { class: 'sig-pad', 'data-role': role },
      h('p', { class: 'label', id: `sig-${role}-label` }, label),
      h('p', { class: 'hint', id: `sig-${role}-hint` }, t('signature_hint')),
      this.canvas,
      h('div', { class: 'row sig-actions' }, this.undoBtn, this.clearBtn));
    this.g = this.canvas.getContext('2d');
    this.listen();
    this.redraw();
  }

  /** No signature here: nothing drawn, or only a dot or a tiny scratch. */
  isEmpty() {
    return inkLength(this.strokes) < MIN_INK;
  }

  clear() {
    this.strokes = [];
    this.redraw();
    this.onChange(this.strokes);
  }

  undo() {
    this.strokes.pop();
    this.redraw();
    this.onChange(this.strokes);
  }

  redraw() {
    const g = this.g;
    // A white page, not transparency: the PNG reads the same in any viewer.
    g.fillStyle = '#fff';
    g.fillRect(0, 0, WIDTH, HEIGHT);
    g.lineWidth = 4;
    g.lineCap = 'round';
    g.lineJoin = 'round';
    g.strokeStyle = '#111';
    g.fillStyle = '#111';
    for (const s of this.strokes) this.paint(s, 0);
    const empty = !this.strokes.length;
    this.undoBtn.disabled = empty;
    this.clearBtn.disabled = empty;
  }

  /** Paint stroke `s` from point index `from` (0: the whole stroke, with a dot for a tap). */
  paint(s, from) {
    const g = this.g;
    if (s.length === 1) {
      g.beginPath();
      g.arc(s[0][0], s[0][1], 2, 0, Math.PI * 2);
      g.fill();
      return;
    }
    g.beginPath();
    g.moveTo(...s[Math.max(0, from - 1)]);
    for (let i = Math.max(1, from); i < s.length; i += 1) g.lineTo(...s[i]);
    g.stroke();
  }

  listen() {
    const c = this.canvas;
    let active = null; // the pointer drawing now; a second finger or the palm is ignored
    const point = (ev) => {
      const r = c.getBoundingClientRect();
      const x = ((ev.clientX - r.left) * WIDTH) / r.width;
      const y = ((ev.clientY - r.top) * HEIGHT) / r.height;
      return [Math.round(Math.min(WIDTH, Math.max(0, x)) * 10) / 10, Math.round(Math.min(HEIGHT, Math.max(0, y)) * 10) / 10];
    };
    c.addEventListener('pointerdown', (ev) => {
      if (active !== null || (ev.pointerType === 'mouse' && ev.button !== 0)) return;
      active = ev.pointerId;
      c.setPointerCapture?.(ev.pointerId);
      this.strokes.push([point(ev)]);
      this.paint(this.strokes[this.strokes.length - 1], 0);
      ev.preventDefault();
    });
    c.addEventListener('pointermove', (ev) => {
      if (ev.pointerId !== active) return;
      const s = this.strokes[this.strokes.length - 1];
      const from = s.length;
      for (const e of ev.getCoalescedEvents?.() || [ev]) s.push(point(e));
      this.paint(s, from);
      ev.preventDefault();
    });
    const end = (ev) => {
      if (ev.pointerId !== active) return;
      active = null;
      this.redraw(); // repaints the finished stroke cleanly and updates the buttons
      this.onChange(this.strokes);
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
  }
}
