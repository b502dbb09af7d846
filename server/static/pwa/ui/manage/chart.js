// A horizontal bar chart in plain SVG (no library): a label line above each bar, the value beside it.
import { h } from '../dom.js';

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 340;
const ROW = 46;
const BAR = 18;

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== null) el.textContent = text;
  return el;
}

/** chart({id, labelledBy, rows: [{label, value, tone, text}], max}) → a figure; `text` is shown (and said) instead of the value; screen readers get every value in its name. */
export function chart({ id, labelledBy, rows, max: top = null }) {
  const max = top ?? Math.max(1, ...rows.map((r) => r.value));
  const room = WIDTH - 48; // leave space for the value after the longest bar
  const root = svg('svg', {
    id,
    class: 'chart',
    viewBox: `0 0 ${WIDTH} ${rows.length * ROW}`,
    role: 'img',
    'aria-label': rows.map((r) => `${r.label}: ${r.text ?? r.value}`).join('; '),
    'aria-describedby': labelledBy,
  });
  rows.forEach((r, i) => {
    const y = i * ROW;
    const w = r.value ? Math.max(4, Math.round((r.value / max) * room)) : 0;
    const g = svg('g', { 'data-label': r.label, 'data-value': r.value, 'aria-hidden': 'true' });
    g.append(
      svg('text', { x: 0, y: y + 16, class: 'chart-label' }, r.label),
      svg('rect', { x: 0, y: y + 22, width: WIDTH - 48, height: BAR, rx: 3, class: 'chart-track' }),
      svg('rect', { x: 0, y: y + 22, width: w, height: BAR, rx: 3, class: `chart-bar ${r.tone || ''}` }),
      svg('text', { x: w + 8, y: y + 37, class: 'chart-value' }, String(r.text ?? r.value)),
    );
    root.append(g);
  });
  return h('figure', { class: 'chart-box' }, root);
}
