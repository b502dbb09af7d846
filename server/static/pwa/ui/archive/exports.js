// Exports for the archive: visits, findings, tasks or verifications of any range of days, as CSV or XLSX.
import * as api from '../../api.js';
import { t } from '../../i18n.js';
import { EXPORT_FORMATS, EXPORT_KINDS } from '../../vocab.js';
import { h } from '../dom.js';
import { qs, rangeProblems, select, showRangeErrors, siteScreen } from '../online.js';
import { frame } from './nav.js';

// The server's limit (server/exports.py MAX_RANGE_DAYS: three years), checked here first so the
// form says it at once; the server checks again.
const MAX_DAYS = 3 * 366 + 1;

/** Last month, as the dates an export asks for: its first and last day. */
function lastMonth() {
  const today = new Date();
  const ymd = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  return [ymd(new Date(today.getFullYear(), today.getMonth() - 1, 1)), ymd(new Date(today.getFullYear(), today.getMonth(), 0))];
}

/** A date input with its own slot for what is wrong with it. */
const dayField = (id, name, label, value) => h('div', { class: 'field' },
  h('label', { for: id }, label),
  h('input', { type: 'date', id, value, required: true, 'aria-describedby': `${id}-error` }),
  h('div', { class: 'error field-error', id: `${id}-error`, 'data-error-for': name }));

export function render(container, route, ctx) {
  return siteScreen(container, frame('archive/exports', 'arc_export_title', h('p', { class: 'hint' }, t('arc_export_hint'))), { ...route, ctx }, (box, siteId) => {
    const [from, to] = lastMonth();
    const err = h('p', { class: 'error', role: 'alert', id: 'export-error' });
    const button = h('button', { type: 'submit', class: 'btn primary big', id: 'export-download' }, t('arc_export_download'));
    const form = h('form', { class: 'card filters', id: 'export-form', novalidate: true },
      h('div', { class: 'filter-grid' },
        select('export-kind', t('arc_export_kind'), EXPORT_KINDS.map((k) => [k, t(`arc_export_${k}`)]), EXPORT_KINDS[0]),
        select('export-format', t('arc_export_format'), EXPORT_FORMATS.map((f) => [f, t(`arc_export_${f}`)]), EXPORT_FORMATS[0]),
        dayField('export-from', 'from', t('cov_from'), from),
        dayField('export-to', 'to', t('cov_to'), to)),
      err,
      button);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const val = (id) => form.querySelector(`#${id}`).value;
      for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
      err.textContent = '';
      if (!val('export-from') || !val('export-to')) { err.textContent = t('cov_need_dates'); return; }
      const fields = rangeProblems(val('export-from'), val('export-to'), MAX_DAYS);
      if (fields) { showRangeErrors(form, err, { details: { fields } }); return; }
      const url = `/api/archive/sites/${siteId}/exports${qs({ kind: val('export-kind'), format: val('export-format'), from: val('export-from'), to: val('export-to') })}`;
      // The download itself is a plain link (the browser streams the file to disk; nothing is held
      // in the page), and a browser drops a refused download without a word. So ask the server
      // first whether it would make this file (dry_run builds nothing): a refusal is said here.
      button.disabled = true;
      try {
        await api.get(`${url}&dry_run=true`);
      } catch (ex) {
        showRangeErrors(form, err, ex);
        return;
      } finally {
        button.disabled = false;
      }
      const link = h('a', { href: url, download: '' });
      // Some browsers download only from a link in the page.
      document.body.append(link);
      link.click();
      link.remove();
    });
    box.append(form);
  });
}
