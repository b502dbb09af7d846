// The one translation table (strings.json: key → [Chinese, English], shared with the server's
// files), in the user's language. Chinese is the default, English beside it.
import * as store from './store.js';

let T = {};
// Fetched as soon as this module runs, so it downloads beside the other modules; the service
// worker keeps it with the shell for offline starts.
const loading = fetch('/static/pwa/strings.json', { credentials: 'same-origin' })
  .then((resp) => {
    if (!resp.ok) throw new Error(`strings.json: HTTP ${resp.status}`);
    return resp.json();
  })
  .then((table) => {
    T = table;
  });

/** Resolves once the table is here (the app waits for it before its first screen). */
export function load() {
  return loading;
}

/** The server's reason for refusing something, in the user's language when the code is known. */
export function reason(code, message) {
  return T[`err_${code}`] ? t(`err_${code}`) : message || code || '';
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

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(lang() === 'en' ? 'en-GB' : 'zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function fmtDate(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleDateString(lang() === 'en' ? 'en-GB' : 'zh-CN');
}

/** "2 条记录、1 张照片" (the parts that are not zero): records and photos are never counted together. */
export function unsentText(records, photos) {
  const parts = [];
  if (records) parts.push(t('n_records', { n: records }));
  if (photos) parts.push(t('n_photos', { n: photos }));
  return parts.join(t('list_sep'));
}
