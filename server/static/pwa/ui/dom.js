// A tiny element builder: screens build DOM nodes, never HTML strings (no inline styles, CSP).

/** h('button', {class: 'big', onclick: fn, 'aria-label': '…'}, 'text', child…) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Show a short message in the live region (read out by screen readers). */
export function toast(message) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove('show'), 3000);
}

/**
 * A question on the screen with its answers as buttons (never the browser's confirm box):
 * ask({id, title, lines, choices: [{id, label, kind: 'primary'|'danger'|'', onclick}]}).
 * Focus goes to the first choice.
 */
export function ask({ id, title, lines = [], choices }) {
  const titleId = `${id}-title`;
  const box = h('section', { class: 'card ask', id, role: 'alertdialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, title),
    lines.filter(Boolean).map((line) => h('p', {}, line)),
    h('div', { class: 'actions ask-actions' }, choices.map((c) => h('button', {
      type: 'button', class: `btn big ${c.kind || ''}`, id: c.id, onclick: c.onclick,
    }, c.label))));
  queueMicrotask(() => box.querySelector('button')?.focus());
  return box;
}

const sheets = new Map();

/** Add a stylesheet to the page once; resolves when it has loaded, or failed (the screen then works unstyled). */
export function stylesheet(href) {
  if (!sheets.has(href)) {
    sheets.set(href, new Promise((resolve) => {
      const link = h('link', { rel: 'stylesheet', href });
      link.addEventListener('load', resolve);
      link.addEventListener('error', resolve);
      document.head.append(link);
    }));
  }
  return sheets.get(href);
}

/**
 * An object URL for photo bytes kept in IndexedDB (ArrayBuffer + MIME). A confirmed photo whose
 * bytes left the phone (keep.js) shows its thumbnail, else the server's copy.
 */
export function photoUrl(photo) {
  if (photo.bytes) return URL.createObjectURL(new Blob([photo.bytes], { type: photo.mime }));
  if (photo.thumb) return URL.createObjectURL(new Blob([photo.thumb], { type: photo.thumb_mime || 'image/jpeg' }));
  return `/api/photos/${photo.id}?size=thumb`;
}
