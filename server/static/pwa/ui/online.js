// Shared pieces of the screens that work against the server (the desk and the archive): which
// site, the screen frame, online-only loading with its messages, forms, filters, paged lists.
import * as api from '../api.js';
import * as db from '../db.js';
import { fieldReason, fmtTime, pick, reason, siteZone as chosenSiteZone, t, zonedInstant } from '../i18n.js';
import * as policy from '../policy.js';
import * as store from '../store.js';
import { clear, h } from './dom.js';

const SITE_KEY = 'patrol.desk_site';

/** The site a screen shows, of `sites`: ?site=, else the last one chosen, else the first. */
export function chosenSite(query, sites) {
  const ok = (id) => sites.some((s) => s.site_id === id);
  const asked = Number(query.site) || null;
  if (asked && ok(asked)) {
    localStorage.setItem(SITE_KEY, String(asked));
    return asked;
  }
  const kept = Number(localStorage.getItem(SITE_KEY)) || null;
  if (kept && ok(kept)) return kept;
  return sites[0]?.site_id ?? null;
}

/** A site picker, shown only to people with more than one of `sites`. */
export function sitePicker(siteId, sites, onchange) {
  if (sites.length < 2) return null;
  return h('div', { class: 'field' },
    h('label', { for: 'desk-site' }, t('site')),
    h('select', { id: 'desk-site', onchange: (e) => { localStorage.setItem(SITE_KEY, e.target.value); onchange(Number(e.target.value)); } },
      sites.map((s) => h('option', { value: s.site_id, selected: s.site_id === siteId }, pick(s, 'site_name')))));
}

/**
 * A row of links between the screens of one area, the current one marked. links: [[route, i18n
 * key, policy action?], …]; a link with an action is shown to people who may do it somewhere
 * (by a role, or by a relation to its objects: a complaint's handler).
 */
export function tabs(links, active, labelKey) {
  const nav = h('nav', { class: 'sub-nav', 'aria-label': t(labelKey) });
  for (const [target, key, action] of links) {
    if (action && !policy.reachable(action)) continue;
    nav.append(h('a', { href: `#/${target}`, class: target === active ? 'active' : '', 'aria-current': target === active ? 'page' : null }, t(key)));
  }
  // On a phone the row scrolls sideways: once on screen, the current screen's link is brought into it.
  requestAnimationFrame(() => {
    const current = nav.querySelector('a.active');
    if (!current || nav.scrollWidth <= nav.clientWidth) return;
    const at = current.getBoundingClientRect().left - nav.getBoundingClientRect().left + nav.scrollLeft;
    nav.scrollLeft = at - (nav.clientWidth - current.offsetWidth) / 2;
  });
  return nav;
}

/**
 * A screen about one site: its navigation, title (and `intro`), the site (?site=, a picker for
 * people with several) among those where the policy allows `action` (by a role, or by a
 * relation to some of its objects: policy.sitesReaching), then the body, built by
 * `build(box, siteId)` under guarded(). People with no such site read `noRole`.
 */
export async function siteScreen(container, { nav, path, title, intro = null, action, noRole }, { query, ctx }, build) {
  container.append(nav, h('h1', {}, title), intro || '');
  const sites = policy.sitesReaching(action);
  const siteId = chosenSite(query, sites);
  if (siteId == null) {
    container.append(h('p', { class: 'hint', id: 'no-role' }, t(noRole)));
    return null;
  }
  const picker = sitePicker(siteId, sites, (id) => ctx.go(`${path}${qs({ site: id })}`));
  if (picker) container.append(picker);
  const box = h('div', { class: 'desk-body' });
  container.append(box);
  await guarded(box, ctx, () => build(box, siteId));
  return null;
}

/**
 * Run a screen's loading under one roof: offline gets a clear message with a retry, other
 * errors the server's own sentence; never a blank page.
 */
export async function guarded(box, ctx, fn) {
  const status = h('p', { class: 'hint desk-loading', role: 'status' }, t('loading'));
  box.append(status);
  try {
    await fn();
    status.remove();
  } catch (e) {
    console.error(e);
    clear(box);
    box.append(problem(e, ctx));
  }
}

export function problem(e, ctx) {
  const offline = e instanceof api.ApiError && e.offline;
  const text = offline ? t('desk_offline') : e.status === 403 ? t('desk_forbidden') : t('desk_error', { m: refusal(e) });
  return h('div', { class: 'banner warn desk-problem', role: 'alert' },
    h('p', {}, text),
    h('button', { type: 'button', class: 'btn', id: 'desk-retry', onclick: () => ctx.rerender() }, t('desk_retry')));
}

/** Why a write failed, in the reader's language: offline, the server's refusal by its code, else the message. */
function refusal(e) {
  if (e instanceof api.ApiError) return e.offline ? t('desk_offline') : reason(e.code, e.message, e.details);
  return e?.message || String(e);
}

/** Do a write; on failure put the reason into `errorBox` and return null. */
export async function act(errorBox, fn) {
  errorBox.textContent = '';
  try {
    return await fn();
  } catch (e) {
    errorBox.textContent = refusal(e);
    return null;
  }
}

/**
 * A button that makes one write: disabled while it runs, the reason in `errorBox` when it is
 * refused (a check that throws before asking the server reads the same), `then(result)` after.
 */
export function writeButton(attrs, label, errorBox, write, then) {
  const button = h('button', {
    type: 'button', ...attrs,
    onclick: async () => {
      button.disabled = true;
      const result = await act(errorBox, write);
      button.disabled = false;
      if (result) await then(result);
    },
  }, label);
  return button;
}

/** A folded, red box for what cannot be undone lightly: its title, then what it holds (`errorBox` last). */
export function dangerZone(id, title, ...children) {
  return h('details', { class: 'card danger-zone', id }, h('summary', {}, title), ...children);
}

/** A query string from an object, skipping empty values; arrays repeat the key. */
export function qs(params) {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.append(k, String(one));
  }
  const s = out.toString();
  return s ? `?${s}` : '';
}

/** A date typed in a date input (the phone's own day) as the ISO instant the API wants. */
export function dayStart(value, plusDays = 0, siteId = null) {
  if (!value) return '';
  // The site's day, whatever the viewer's own timezone (a manager elsewhere, a laptop on UTC):
  // "from 1 December" means from midnight at the site, as every date on the desk does.
  const [y, m, d] = value.split('-').map(Number);
  const day = new Date(Date.UTC(y, m - 1, d + plusDays)).toISOString().slice(0, 10);
  return zonedInstant(`${day}T00:00`, siteZone(siteId) || chosenSiteZone()).toISOString();
}

/** Append children, skipping the null and false that conditional parts leave (append() would print them). */
export function add(el, ...children) {
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** A labelled <select>; options are [value, text] pairs. */
export function select(id, label, options, value, attrs = {}) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('select', { id, ...attrs }, options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, text))));
}

/** The site's timezone, from my memberships (times on place screens are the site's clock). */
export function siteZone(siteId) {
  return (store.get().me?.sites || []).find((s) => s.site_id === Number(siteId))?.timezone || undefined;
}

// The years a day may have (server/months.py FIRST_YEAR, LAST_YEAR).
const YEARS = [2000, 2999];

/**
 * What is wrong with a range of days ('YYYY-MM-DD' from, to) before asking the server: its own
 * rules (server/months.py: years YEARS, `to` not before `from`, at most `maxDays` days both
 * included), in the words its refusals are translated with (err_field_*), as {field: [text]}, or null.
 */
export function rangeProblems(from, to, maxDays) {
  const out = {};
  for (const [name, day] of [['from', from], ['to', to]]) {
    const year = Number(day.slice(0, 4));
    if (year < YEARS[0] || year > YEARS[1]) out[name] = [t('err_field_day', { min: YEARS[0], max: YEARS[1] })];
  }
  if (!out.to && !out.from) {
    if (to < from) out.to = [t('err_field_day_order')];
    else if ((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400000 + 1 > maxDays) out.to = [t('err_field_days_at_most', { max: maxDays })];
  }
  return Object.keys(out).length ? out : null;
}

/** A range of days refused (here or by the server): each problem beside its date; the line `errorBox` only for what has no date. */
export function showRangeErrors(form, errorBox, e) {
  showFieldErrors(form, errorBox, e);
  if (errorBox.textContent === t('desk_fix_below')) errorBox.textContent = '';
}

/** A labelled date input. */
export function dateField(id, label, value = '', attrs = {}) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { type: 'date', id, value, ...attrs }));
}

/**
 * A list screen's filters, folded behind one button so that the results come first (also on a
 * phone): the button names the active filters ("筛选（2 项）：超期 · 类型 电梯轿厢"); opening
 * it shows the form, with Apply and, when something is filtered, a link that clears them all.
 * `active` is the ids of the fields that filter now. Its buttons are #<prefix>-apply and
 * #<prefix>-clear; `onApply(value(id), checked(id))` gets readers of the form's fields.
 */
export function filterBox({ id, prefix, active, fields, clearHref, onApply }) {
  const form = h('form', { class: 'filters', id },
    fields,
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'btn primary', id: `${prefix}-apply` }, t('desk_apply')),
      active.length ? h('a', { class: 'btn', id: `${prefix}-clear`, href: clearHref }, t('desk_clear')) : null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onApply((x) => form.querySelector(`#${x}`).value, (x) => (form.querySelector(`#${x}`).checked ? 1 : ''));
  });
  const said = active.map((x) => activeLabel(form, x)).filter(Boolean);
  return h('details', { class: 'card filter-box' },
    h('summary', { id: `${prefix}-summary` },
      said.length ? t('desk_filters_on', { n: said.length, list: said.join(' · ') }) : t('desk_filters')),
    form);
}

/** How an active filter field reads on the folded button: a box's label, or a field's label and value. */
function activeLabel(form, fieldId) {
  const el = form.querySelector(`#${fieldId}`);
  if (!el) return '';
  if (el.type === 'checkbox') return el.checked ? (el.closest('label')?.textContent || '').trim() : '';
  const label = (form.querySelector(`label[for="${fieldId}"]`)?.textContent || '').trim();
  const value = el.tagName === 'SELECT' ? el.selectedOptions[0]?.textContent || '' : el.value;
  return value ? `${label} ${value}` : '';
}

/**
 * A list read from the server a page at a time: `fetchPage(page)` answers {items, meta: {total}},
 * `row(item)` draws one; `said(res)` is the line above the list. Ids: <name>-list, -total, -more.
 * Returns the elements to show and `next()`, which loads the first page when first called.
 */
export function pagedList({ name, perPage, fetchPage, row, said }) {
  const ul = h('ul', { class: 'list', id: `${name}-list` });
  const total = h('p', { class: 'hint', id: `${name}-total`, role: 'status' });
  const more = h('button', { type: 'button', class: 'btn big', id: `${name}-more`, hidden: true }, t('desk_more'));
  let page = 0;
  const next = async () => {
    page += 1;
    more.disabled = true;
    try {
      const res = await fetchPage(page);
      for (const item of res.items) ul.append(h('li', {}, row(item)));
      total.textContent = res.meta.total ? said(res) : t('desk_no_match');
      more.hidden = page * perPage >= res.meta.total;
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', () => next().catch((e) => { total.textContent = e.message; }));
  return { elements: [total, ul, more], next };
}

/** Every row of a paged list (`items` + `meta.total`), a page of 500 at a time. */
export async function fetchAll(url) {
  const out = [];
  for (let page = 1; ; page += 1) {
    const sep = url.includes('?') ? '&' : '?';
    const res = await api.get(`${url}${sep}page=${page}&per_page=500`);
    out.push(...res.items);
    if (!res.items.length || out.length >= res.meta.total) return out;
  }
}

/**
 * Show a refused write: the server's sentence in `errorBox`, and each field's own problems
 * under that field (elements with data-error-for="<field>"), cleared first.
 */
export function showFieldErrors(form, errorBox, e) {
  for (const el of form.querySelectorAll('[data-error-for]')) el.textContent = '';
  errorBox.textContent = refusal(e);
  const fields = e.details?.fields || {};
  // details.field_errors mirrors details.fields with each problem's code and parameters, to say
  // it in the reader's language; a message a screen has already put in its own words (or an
  // older server's, without codes) is shown as it is.
  const described = e.details?.field_errors || {};
  if (e.code === 'short_code_taken') fields.short_code = [t('err_short_code_taken')];
  const flat = (problems) => (Array.isArray(problems) ? problems.flatMap(flat)
    : problems && typeof problems === 'object' && !('message' in problems) ? Object.values(problems).flatMap(flat) : [problems]);
  let placed = 0;
  for (const [name, problems] of Object.entries(fields)) {
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    if (!slot) continue;
    const codes = flat(described[name] ?? []);
    slot.append(h('ul', {}, flat(problems).map((m, i) => h('li', {}, codes[i]?.message === m ? fieldReason(codes[i]) : String(m)))));
    placed += 1;
  }
  // Every problem sits at its field: the top line only says where to look, in the reader's language.
  if (placed && placed === Object.keys(fields).length) errorBox.textContent = t('desk_fix_below');
}

/** A labelled text input with a slot for its own error message. */
export function textField(id, name, label, value = '', attrs = {}) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('input', { id, name, type: 'text', value: value ?? '', 'aria-describedby': `${id}-error`, ...attrs }),
    h('div', { class: 'error field-error', id: `${id}-error`, 'data-error-for': name }));
}

/**
 * A desk form's draft, kept in the phone's storage as the patrol forms keep theirs (db drafts):
 * what was typed survives a reload and the language switch, and stays with its person when they
 * log out. `deskDraft(key)` → {value (the kept draft, or null), save(v), drop(), clear()}: writes
 * run in order; drop() forgets the draft while the form stays open (nothing left to keep), clear()
 * forgets it for good (saved or cancelled: no later write brings it back). The form works on from
 * memory when storage fails.
 */
export async function deskDraft(key) {
  const full = `desk:${key}`;
  const kept = await db.getDraft(full).catch(() => null);
  let chain = Promise.resolve();
  let closed = false;
  const run = (fn) => (chain = chain.then(fn).catch((e) => console.warn('desk draft not kept', e)));
  return {
    value: kept || null,
    save(v) { if (!closed) run(() => db.putDraft(full, { ...v, saved_at: new Date().toISOString() })); },
    drop() { if (!closed) run(() => db.replaceDraft(full, null)); },
    clear() { closed = true; return run(() => db.replaceDraft(full, null)); },
  };
}

/** The line above a form brought back from its draft: when it was typed, and a button that throws it away. */
export function draftNote(id, draft, onDiscard, extra = null) {
  return h('div', { class: 'banner info', id, role: 'status' },
    h('p', {}, t('desk_draft_restored', { t: fmtTime(draft.value.saved_at) }), extra ? ` ${extra}` : ''),
    h('button', { type: 'button', class: 'btn', id: `${id}-discard`, onclick: async () => { await draft.clear(); onDiscard(); } }, t('desk_draft_discard')));
}
