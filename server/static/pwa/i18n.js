// The one translation table (strings.json: key → [Chinese, English], shared with the server's
// files), in the user's language. Chinese is the default, English beside it.
import * as store from './store.js';
import * as vocab from './vocab.js';

let T = {};

// The server hands the table out in two parts (server/web.py strings_parts): the phone's, and
// the words only the desk's and archive's screens use, fetched with their first screen.
function fetchPart(part) {
  return fetch(`/i18n/${part}.json`, { credentials: 'same-origin' })
    .then((resp) => {
      if (!resp.ok) throw new Error(`strings (${part}): HTTP ${resp.status}`);
      return resp.json();
    })
    .then((rows) => {
      T = { ...T, ...rows };
    });
}

// Fetched as soon as this module runs, so it downloads beside the other modules; the service
// worker keeps it with the shell for offline starts.
const loading = fetchPart('phone');
let desk = null;

/** Resolves once the table is here (the app waits for it before its first screen). */
export function load() {
  return loading;
}

/** The desk's and archive's words too (their screens wait for this); fetched once. */
export function loadDesk() {
  desk ||= fetchPart('desk').catch((e) => {
    desk = null; // offline now: the next desk screen asks again
    throw e;
  });
  return desk;
}

// A parameter of a refusal that is a domain value (a state), in the reader's words: the
// refusal's details name its vocabulary list (details.vocabulary, e.g. 'task_states').
function stateWord(list, value) {
  if (!list) return value;
  try {
    const word = vocab.label(list, value);
    return word && !word.endsWith(String(value)) ? word : value;
  } catch {
    return value; // the vocabulary has not loaded: the value itself
  }
}

/**
 * The server's reason for refusing something (an API error's code, a sync rejection's code,
 * a field problem's code), in the user's language when the code is known, with its
 * parameters (details: limits, states) filled in; else the server's English message.
 * For a sync rejection call reason(row.code, row.message, row.details).
 */
export function reason(code, message, details = {}) {
  const vars = {};
  for (const [k, v] of Object.entries(details || {})) {
    if (v === null || typeof v === 'object') continue;
    vars[k] = k === 'state' || k === 'to' ? stateWord(details.vocabulary, v) : v;
  }
  // A more precise sentence when the details allow it (err_transition_not_allowed_to); the
  // sentence without parameters (err_<code>_any) when they are missing (an outbox row keeps
  // only the code and the message).
  const keys = [`err_${code}`, `err_${code}_any`];
  if (vars.to !== undefined) keys.unshift(`err_${code}_to`);
  for (const key of keys) {
    if (!T[key]) continue;
    const text = t(key, vars);
    if (!/\{[a-z_]+\}/.test(text)) return text; // every parameter it names was given
  }
  return message || code || '';
}

/** A field problem of an error's details.field_errors ({code, message, params}), in the user's language. */
export function fieldReason(entry) {
  if (entry === null || typeof entry !== 'object') return String(entry ?? '');
  return entry.code ? reason(entry.code, entry.message, entry.params) : String(entry.message ?? '');
}

/** Does the table have `key`? (Names from the server that may be new fall back to themselves.) */
export const has = (key) => key in T;

export function lang() {
  return store.get().lang;
}

/** The string for `key` in the current language, with {name} placeholders filled. */
export function t(key, vars = {}) {
  const row = T[key];
  let s = row ? row[lang() === 'en' ? 1 : 0] : key;
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** A bilingual value from the server ({zh, en} or name_zh/name_en) in the current language. */
export function pick(obj, base = 'name') {
  if (!obj) return '';
  if (typeof obj === 'string') return obj;
  if ('zh' in obj || 'en' in obj) return (lang() === 'en' ? obj.en : obj.zh) || obj.zh || obj.en || '';
  return (lang() === 'en' ? obj[`${base}_en`] : obj[`${base}_zh`]) || obj[`${base}_zh`] || obj[`${base}_en`] || '';
}

// --- dates and times: one formatter for the whole app ------------------------------------
// Always the site's clock (a finding at 15:07 in Shanghai reads 15:07 on every screen and
// phone), never a time-zone name. Chinese: 12月1日 09:05, 2025年12月1日 09:05 for another year;
// English: 1 Dec 09:05, 1 Dec 2025 09:05; tables: 2026-12-01 in both.

const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The time zone of the site I work at (the one chosen on home, else my first). */
export function siteZone() {
  const sites = store.get().me?.sites || [];
  const chosen = Number(localStorage.getItem('patrol.site')) || null;
  return (sites.find((x) => x.site_id === chosen) || sites[0])?.timezone || undefined;
}

const formatters = new Map();

/** {y, m, d, hh, mm} of an instant on a zone's clock (the site's by default). */
export function partsOf(iso, zone = siteZone()) {
  const date = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  let f = formatters.get(zone || '');
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      f = new Intl.DateTimeFormat('en-US', { year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    }
    formatters.set(zone || '', f);
  }
  const p = Object.fromEntries(f.formatToParts(date).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), hh: p.hour.padStart(2, '0').replace(/^24$/, '00'), mm: p.minute.padStart(2, '0') };
}

/**
 * The instant a wall-clock time typed in a datetime-local input ("2026-12-08T10:00") names on a
 * zone's clock (the site's by default), whatever the browser's own zone; null if not a time.
 * The offset is read at the guess and read again, so a time near a clock change lands right.
 */
export function zonedInstant(text, zone = siteZone()) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(text || '');
  if (!m) return null;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  let at = wall;
  for (let i = 0; i < 2; i += 1) {
    const p = partsOf(new Date(at), zone);
    at += wall - Date.UTC(p.y, p.m - 1, p.d, Number(p.hh), Number(p.mm));
  }
  return new Date(at);
}

/** An instant as a datetime-local input's value on a zone's clock ("2026-12-08T10:00"). */
export function zonedInputValue(iso, zone = siteZone()) {
  const p = partsOf(iso, zone);
  if (!p) return '';
  const two = (n) => String(n).padStart(2, '0');
  return `${p.y}-${two(p.m)}-${two(p.d)}T${p.hh}:${p.mm}`;
}

function dayText(p, withYear) {
  if (lang() === 'en') return `${p.d} ${MONTHS_EN[p.m - 1]}${withYear ? ` ${p.y}` : ''}`;
  return `${withYear ? `${p.y}年` : ''}${p.m}月${p.d}日`;
}

const otherYear = (p, zone) => p.y !== partsOf(new Date(), zone).y;

/** A moment: 12月1日 09:05 (zh) / 1 Dec 09:05 (en), with the year when it is not this year. */
export function fmtTime(iso, { zone = siteZone() } = {}) {
  if (!iso) return '';
  const p = partsOf(iso, zone);
  if (!p) return '';
  return `${dayText(p, otherYear(p, zone))} ${p.hh}:${p.mm}`;
}

/** A day: 12月1日 (zh) / 1 Dec (en), with the year when it is not this year. */
export function fmtDate(iso, { zone = siteZone() } = {}) {
  if (!iso) return '';
  const p = partsOf(iso, zone);
  if (!p) return '';
  return dayText(p, otherYear(p, zone));
}

/** A site-local time the server already wrote as "2026-12-10 16:16" (`*_local` fields), in the app's way. */
export function fmtLocal(text) {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})/.exec(text || '');
  return m ? fmtTime(`${m[1]}T${m[2]}:00Z`, { zone: 'UTC' }) : text || '';
}

/** A day in a table or a file name: 2026-12-01 in every language. */
export function fmtDay(iso, { zone = siteZone() } = {}) {
  if (!iso) return '';
  const p = partsOf(iso, zone);
  if (!p) return '';
  return `${p.y}-${String(p.m).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;
}

/** "2 条记录、1 张照片" (the parts that are not zero): records and photos are never counted together. */
export function unsentText(records, photos) {
  const parts = [];
  // English says "1 record", "2 records"; Chinese has one form.
  if (records) parts.push(records === 1 ? t('n_record', { n: records }) : t('n_records', { n: records }));
  if (photos) parts.push(photos === 1 ? t('n_photo', { n: photos }) : t('n_photos', { n: photos }));
  return parts.join(t('list_sep'));
}
