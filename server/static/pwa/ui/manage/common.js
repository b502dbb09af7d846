// Shared pieces of the supervisor and manager screens: which site, the sub-navigation, online-only loading.
import * as api from '../../api.js';
import { fmtTime, pick, t } from '../../i18n.js';
import * as store from '../../store.js';
import { clear, h } from '../dom.js';

/** Roles that see the desk; of these, supervisors and managers also act on tasks. */
export const DESK_ROLES = ['supervisor', 'manager', 'admin'];
export const DIRECTORS = ['supervisor', 'manager'];
/** Who changes checkpoints (and imports them) and who writes patrol plans: the server's EDITORS. */
export const EDITORS = ['manager', 'admin'];
export const OPEN_STATES = ['open', 'assigned', 'in_progress', 'done'];
export const CATEGORIES = ['security_hazard', 'facilities', 'cleanliness', 'landscaping', 'renovation_violation'];
export const ROUTES = ['facility_repair', 'department_work', 'resident_violation'];
export const KINDS = ['floor', 'elevator_car', 'lobby', 'outdoor_plaza', 'car_park', 'vacant_unit'];
const SITE_KEY = 'patrol.desk_site';

// The desk's styles load with its first screen, so the patrol screens' first load stays small.
await new Promise((resolve) => {
  if (document.getElementById('manage-css')) return resolve();
  const link = h('link', { rel: 'stylesheet', href: '/static/pwa/manage.css', id: 'manage-css' });
  link.addEventListener('load', resolve);
  link.addEventListener('error', resolve);
  document.head.append(link);
});

export function rolesAt(siteId) {
  const site = (store.get().me?.sites || []).find((s) => s.site_id === Number(siteId));
  return site ? site.roles : [];
}

export const hasRole = (siteId, roles) => rolesAt(siteId).some((r) => roles.includes(r));

/** The sites where I may use the desk. */
export function deskSites() {
  return (store.get().me?.sites || []).filter((s) => s.roles.some((r) => DESK_ROLES.includes(r)));
}

/** The site a desk screen shows: ?site=, else the last one chosen, else the first. */
export function chosenSite(query = {}) {
  const sites = deskSites();
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

/** A site picker, shown only to people with more than one site. */
export function sitePicker(siteId, onchange) {
  const sites = deskSites();
  if (sites.length < 2) return null;
  return h('div', { class: 'field' },
    h('label', { for: 'desk-site' }, t('site')),
    h('select', { id: 'desk-site', onchange: (e) => { localStorage.setItem(SITE_KEY, e.target.value); onchange(Number(e.target.value)); } },
      sites.map((s) => h('option', { value: s.site_id, selected: s.site_id === siteId }, pick(s, 'site_name')))));
}

/** The desk's own row of links, with the unread badge on notifications. */
export function subnav(active) {
  const links = [
    ['manage', 'desk_nav_desk'],
    ['manage/tasks', 'desk_nav_tasks'],
    ['manage/findings', 'desk_nav_findings'],
    ['manage/notifications', 'desk_nav_notifications'],
    ['manage/repeats', 'desk_nav_repeats'],
    ['manage/checkpoints', 'desk_nav_checkpoints'],
    ['manage/plans', 'desk_nav_plans'],
    ['manage/coverage', 'desk_nav_coverage'],
  ];
  const nav = h('nav', { class: 'sub-nav', 'aria-label': t('desk_nav_label') });
  for (const [target, key] of links) {
    const a = h('a', { href: `#/${target}`, class: target === active ? 'active' : '', 'aria-current': target === active ? 'page' : null }, t(key));
    if (target === 'manage/notifications') {
      a.id = 'desk-notifications-link';
      a.append(' ', unreadBadge(), h('span', { class: 'sr-only' }));
    }
    nav.append(a);
  }
  return nav;
}

/** A badge that fills itself with my unread count (hidden at zero). */
export function unreadBadge() {
  const badge = h('span', { class: 'count-badge', id: 'unread-badge', hidden: true });
  refreshUnread(badge);
  return badge;
}

export async function refreshUnread(badge = document.getElementById('unread-badge')) {
  try {
    const { unread } = await api.get('/api/notifications/unread-count');
    setUnread(unread, badge);
  } catch {
    // Offline or logged out: the screen itself says so; the badge just stays as it was.
  }
}

export function setUnread(n, badge = document.getElementById('unread-badge')) {
  if (!badge) return;
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.hidden = !n;
  badge.dataset.count = String(n);
  // Said, not shown: the link's name reads "Notifications 2 unread" while the badge shows "2".
  const said = badge.nextElementSibling;
  if (said?.classList.contains('sr-only')) said.textContent = n ? ` ${t('desk_unread_suffix')}` : '';
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
  const text = offline ? t('desk_offline') : e.status === 403 ? t('desk_forbidden') : t('desk_error', { m: e.message || String(e) });
  return h('div', { class: 'banner warn desk-problem', role: 'alert' },
    h('p', {}, text),
    h('button', { type: 'button', class: 'btn', id: 'desk-retry', onclick: () => ctx.rerender() }, t('desk_retry')));
}

/** Do a write; on failure put the reason into `errorBox` and return null. */
export async function act(errorBox, fn) {
  errorBox.textContent = '';
  try {
    return await fn();
  } catch (e) {
    errorBox.textContent = e instanceof api.ApiError && e.offline ? t('desk_offline') : e.message || String(e);
    return null;
  }
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
export function dayStart(value, plusDays = 0) {
  if (!value) return '';
  const [y, m, d] = value.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

export const when = (iso) => fmtTime(iso);

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
  errorBox.textContent = e instanceof api.ApiError && e.offline ? t('desk_offline') : e.message || String(e);
  const fields = e.details?.fields || {};
  if (e.code === 'short_code_taken') fields.short_code = [t('err_short_code_taken')];
  let placed = 0;
  for (const [name, problems] of Object.entries(fields)) {
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    if (!slot) continue;
    const list = Array.isArray(problems) ? problems : typeof problems === 'object' ? Object.values(problems).flat() : [problems];
    slot.append(h('ul', {}, list.map((m) => h('li', {}, String(m)))));
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
