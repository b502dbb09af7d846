// A photo's drawing (server/drawings.py): circles and arrows in 0..1 coordinates of the photo,
// kept beside the original bytes. Drawn here on a canvas (the editor) and as an SVG overlay
// over the original wherever the photo is shown; both from the same geometry.

const SVG = 'http://www.w3.org/2000/svg';
export const COLOUR = '#e11d48';
// Under each red stroke a wider white one, so the mark shows on a red wall as on a dark one.
export const HALO = '#ffffff';

/** Round to the 4 places the server keeps, so a resend is byte-for-byte the same drawing. */
const r4 = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

export function circle(x, y, r) {
  return { kind: 'circle', x: r4(x), y: r4(y), r: r4(r) };
}

export function arrow(x1, y1, x2, y2) {
  return { kind: 'arrow', x1: r4(x1), y1: r4(y1), x2: r4(x2), y2: r4(y2) };
}

/** One shape in pixels of a w×h picture: a circle {cx, cy, r}, or an arrow's shaft and its two head strokes. */
export function geometry(shape, w, h) {
  const side = Math.min(w, h);
  if (shape.kind === 'circle') return { kind: 'circle', cx: shape.x * w, cy: shape.y * h, r: shape.r * side };
  const [x1, y1, x2, y2] = [shape.x1 * w, shape.y1 * h, shape.x2 * w, shape.y2 * h];
  const angle = Math.atan2(y2 - y1, x2 - x1);
  const len = Math.max(side * 0.06, 8);
  const head = [-0.45, 0.45].map((d) => [x2 - len * Math.cos(angle + d), y2 - len * Math.sin(angle + d)]);
  return { kind: 'arrow', lines: [[x1, y1, x2, y2], [x2, y2, ...head[0]], [x2, y2, ...head[1]]] };
}

/** Stroke width in pixels of a w×h picture. */
export const strokeOf = (w, h) => Math.max(3, Math.min(w, h) * 0.016);

/** Paint shapes on a 2D context the size of the picture. */
export function paint(ctx, shapes, w, h) {
  ctx.save();
  ctx.lineCap = 'round';
  const width = strokeOf(w, h);
  for (const [colour, lineWidth] of [[HALO, width * 1.8], [COLOUR, width]]) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = lineWidth;
    for (const s of shapes) {
      const g = geometry(s, w, h);
      ctx.beginPath();
      if (g.kind === 'circle') ctx.arc(g.cx, g.cy, g.r, 0, Math.PI * 2);
      else for (const [a, b, c, d] of g.lines) { ctx.moveTo(a, b); ctx.lineTo(c, d); }
      ctx.stroke();
    }
  }
  ctx.restore();
}

/**
 * An SVG drawing of the annotation for a picture of w×h pixels, to lay over an <img> of it.
 * `fit` is the image's object-fit: 'cover' (thumbnails, cropped) or 'contain'.
 */
export function overlay(annotation, w, h, fit = 'cover') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', fit === 'cover' ? 'xMidYMid slice' : 'xMidYMid meet');
  svg.setAttribute('class', 'drawing');
  svg.setAttribute('aria-hidden', 'true');
  svg.dataset.shapes = String((annotation?.shapes || []).length);
  const stroke = strokeOf(w, h);
  for (const s of annotation?.shapes || []) {
    const g = geometry(s, w, h);
    const parts = g.kind === 'circle'
      ? [['circle', { cx: g.cx, cy: g.cy, r: g.r }]]
      : g.lines.map(([x1, y1, x2, y2]) => ['line', { x1, y1, x2, y2 }]);
    for (const [colour, width, halo] of [[HALO, stroke * 1.8, true], [COLOUR, stroke, false]]) {
      for (const [tag, attrs] of parts) {
        const el = document.createElementNS(SVG, tag);
        for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
        el.setAttribute('fill', 'none');
        el.setAttribute('stroke', colour);
        el.setAttribute('stroke-width', String(width));
        el.setAttribute('stroke-linecap', 'round');
        el.setAttribute('class', halo ? 'halo' : 'mark');
        el.dataset.kind = s.kind;
        svg.append(el);
      }
    }
  }
  return svg;
}

/** Lay the drawing over an <img> inside `wrap` (position: relative) once the image's own size is known. */
export function overlayOn(wrap, img, annotation, fit = 'cover') {
  if (!annotation?.shapes?.length) return;
  wrap.classList.add('drawn');
  const add = () => {
    if (!img.naturalWidth) return;
    wrap.querySelector(':scope > svg.drawing')?.remove();
    wrap.append(overlay(annotation, img.naturalWidth, img.naturalHeight, fit));
  };
  if (img.complete && img.naturalWidth) add();
  else img.addEventListener('load', add, { once: true });
}
