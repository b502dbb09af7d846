// Exports for the archive: visits, findings, tasks or verifications of any range of days, as CSV or XLSX.
import { t } from '../../i18n.js';
import { EXPORT_FORMATS, EXPORT_KINDS } from '../../vocab.js';
import { h } from '../dom.js';
import { dateField, qs, select, siteScreen } from '../online.js';
import { frame } from './nav.js';

/** Last month, as the dates an export asks for: its first and last day. */
function lastMonth() {
  const today = new Date();
  const ymd = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  return [ymd(new Date(today.getFullYear(), today.getMonth() - 1, 1)), ymd(new Date(today.getFullYear(), today.getMonth(), 0))];
}

export function render(container, route, ctx) {
  return siteScreen(container, frame('archive/exports', 'arc_export_title', h('p', { class: 'hint' }, t('arc_export_hint'))), { ...route, ctx }, (box, siteId) => {
    const [from, to] = lastMonth();
    const err = h('p', { class: 'error', role: 'alert', id: 'export-error' });
    const form = h('form', { class: 'card filters', id: 'export-form' },
      h('div', { class: 'filter-grid' },
        select('export-kind', t('arc_export_kind'), EXPORT_KINDS.map((k) => [k, t(`arc_export_${k}`)]), EXPORT_KINDS[0]),
        select('export-format', t('arc_export_format'), EXPORT_FORMATS.map((f) => [f, t(`arc_export_${f}`)]), EXPORT_FORMATS[0]),
        dateField('export-from', t('cov_from'), from, { required: true }),
        dateField('export-to', t('cov_to'), to, { required: true })),
      err,
      h('button', { type: 'submit', class: 'btn primary big', id: 'export-download' }, t('arc_export_download')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const val = (id) => form.querySelector(`#${id}`).value;
      if (!val('export-from') || !val('export-to')) { err.textContent = t('cov_need_dates'); return; }
      if (val('export-to') < val('export-from')) { err.textContent = t('cov_to_before_from'); return; }
      err.textContent = '';
      // A plain download: the browser streams the file to disk; nothing is held in the page.
      const link = h('a', { href: `/api/archive/sites/${siteId}/exports${qs({ kind: val('export-kind'), format: val('export-format'), from: val('export-from'), to: val('export-to') })}`, download: '' });
      // Some browsers download only from a link in the page.
      document.body.append(link);
      link.click();
      link.remove();
    });
    box.append(form);
  });
}
