// The archivist's months: each month's filing state and counts, its filed files to download,
// and sealing a month that has ended or checking a sealed one for an addendum (docs/archive.md).
import * as api from '../../api.js';
import { fmtTime, t } from '../../i18n.js';
import * as policy from '../../policy.js';
import * as vocab from '../../vocab.js';
import { MONTH } from '../../vocab.js';
import { h, toast } from '../dom.js';
import { siteScreen, siteZone, writeButton } from '../online.js';
import { frame, size } from './nav.js';

export function render(container, route, ctx) {
  return siteScreen(container, frame('archive', 'arc_title', h('p', { class: 'hint' }, t('arc_months_hint'))), { ...route, ctx }, async (box, siteId) => {
    const base = `/api/archive/sites/${siteId}/months`;
    const months = await api.get(base);
    const filer = policy.can('archive.file', { siteId });
    const err = h('p', { class: 'error', role: 'alert', id: 'arc-error' });
    const zone = siteZone(siteId);
    box.append(err, h('ul', { class: 'list month-list', id: 'month-list' }, months.map((m) => h('li', {}, monthCard(m, { base, filer, zone, err }, ctx)))));
  });
}

function monthCard(m, { base, filer, zone, err }, ctx) {
  // Seal, or build (an addendum): the month's row again from the server, and a word about it.
  const post = (what, attrs, label, toastKey) => writeButton(attrs, label, err, () => api.post(`${base}/${m.month}/${what}`), () => {
    toast(t(toastKey, { m: m.month }));
    ctx.rerender();
  });
  const actions = h('div', { class: 'row month-actions' });
  let sealBox = null;
  if (filer && m.state === MONTH.OPEN && m.ended) {
    // Sealing cannot be undone: the first tap says what it does, the second (confirm) seals.
    const seal = h('button', {
      type: 'button', class: 'btn primary', id: `seal-${m.month}`, 'aria-label': t('arc_seal_of', { m: m.month }), 'aria-expanded': 'false',
      onclick: () => {
        sealBox.hidden = false;
        seal.setAttribute('aria-expanded', 'true');
        sealBox.querySelector('.seal-confirm').focus();
      },
    }, t('arc_seal'));
    actions.append(seal);
    sealBox = h('div', { class: 'banner warn month-seal-confirm', id: `seal-box-${m.month}`, role: 'group', 'aria-label': t('arc_seal_of', { m: m.month }), hidden: true },
      h('p', {}, t('arc_seal_confirm_hint', { m: m.month })),
      h('div', { class: 'row' },
        post('seal', { class: 'btn primary seal-confirm', id: `seal-confirm-${m.month}` }, t('arc_seal_confirm', { m: m.month }), 'arc_sealed_toast'),
        h('button', {
          type: 'button', class: 'btn', id: `seal-cancel-${m.month}`,
          onclick: () => {
            sealBox.hidden = true;
            seal.setAttribute('aria-expanded', 'false');
            seal.focus();
          },
        }, t('cancel'))));
  }
  if (filer && (m.state === MONTH.SEALED || m.state === MONTH.ARCHIVED)) {
    actions.append(post('build', { class: 'btn', id: `build-${m.month}`, 'aria-label': t('arc_build_of', { m: m.month }) }, t('arc_build'), 'arc_built_toast'));
  }
  const facts = [t('arc_visits_n', { n: m.visits }), t('arc_findings_n', { n: m.findings })];
  if (m.sealed_at) facts.push(t('arc_sealed_at', { t: fmtTime(m.sealed_at, { zone }) }));
  else if (!m.ended) facts.push(t('arc_not_ended'));
  if (m.addendum_count) facts.push(t('arc_addenda_n', { n: m.addendum_count }));
  return h('article', { class: `card month st-${m.state}`, id: `month-${m.month}`, 'data-month': m.month, 'data-state': m.state, 'aria-labelledby': `month-${m.month}-title` },
    h('p', { class: 'task-line' },
      h('strong', { class: 'month-name', id: `month-${m.month}-title` }, m.month),
      h('span', { class: `badge month-state st-${m.state}` }, vocab.label('month_states', m.state))),
    h('p', { class: 'hint' }, facts.join(' · ')),
    m.files.length ? files(m, base) : null,
    actions.childElementCount ? actions : null,
    sealBox);
}

function files(m, base) {
  return h('ul', { class: 'plain month-files', 'aria-label': t('arc_files') }, m.files.map((f) => {
    // The whole bundle is the month's download; each other file is fetched by its name.
    const which = f.kind === 'bundle' ? '' : `?file=${encodeURIComponent(f.name)}`;
    const href = `${base}/${m.month}/bundle${which}`;
    const pdfName = f.name.replace(/\.zip$/, '.pdf');
    return h('li', { class: 'month-file', 'data-kind': f.kind },
      h('a', { class: 'btn small', href, download: f.name, 'aria-label': t('arc_download_of', { name: f.name }) }, f.name),
      // The printable record on its own, as filed inside that zip.
      h('a', { class: 'btn small record-pdf', href: `${base}/${m.month}/record.pdf${which}`, download: pdfName,
        'aria-label': t('arc_download_of', { name: pdfName }) }, t('arc_record_pdf')),
      h('span', { class: 'hint' }, size(f.bytes)),
      h('code', { class: 'mono sha', title: `SHA-256 ${f.sha256}` }, `${f.sha256.slice(0, 16)}…`));
  }));
}
