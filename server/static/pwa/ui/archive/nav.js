// The archive's own row of links and what its screens share: who may open them, times, sizes.
import { fmtDay, has, partsOf, t } from '../../i18n.js';
import { tabs } from '../online.js';

/** The archive's screens are for people who may read filed months, at the sites where they may. */
export const ARCHIVE = { action: 'archive.read', noRole: 'arc_no_role' };

const LINKS = [
  ['archive', 'arc_nav_months'],
  ['archive/exports', 'arc_nav_exports'],
  ['archive/holds', 'arc_nav_holds'],
  ['archive/retention', 'arc_nav_retention'],
];

export const subnav = (active) => tabs(LINKS, active, 'arc_nav_label');

/** The frame of an archive screen (see siteScreen): its tab, route and title. */
export const frame = (path, titleKey, intro = null) => ({ ...ARCHIVE, nav: subnav(path), path, title: t(titleKey), intro });

/** A moment as "2026-12-03 03:52" in the site's own clock (`zone`): the way a filed record reads, in either language. */
export function when(iso, zone) {
  if (!iso) return '—';
  const p = partsOf(iso, zone); // the app's one formatter (i18n.js)
  return p ? `${fmtDay(iso, { zone })} ${p.hh}:${p.mm}` : '—';
}

/** Bytes in the unit that reads best. */
export function size(bytes) {
  if (bytes == null) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** "visits 12 · findings 3" for a purge's counts, in the reader's words; zero counts left out. */
export function countsText(counts) {
  return Object.entries(counts || {}).filter(([, n]) => n)
    .map(([k, n]) => t('arc_count', { what: has(`arc_count_${k}`) ? t(`arc_count_${k}`) : k, n })).join(' · ');
}
