// Retention: what the next purge would remove at this site (a dry run), and what past purges removed.
import * as api from '../../api.js';
import { t } from '../../i18n.js';
import { RETENTION_PURGE } from '../../vocab.js';
import { h } from '../dom.js';
import { siteScreen, siteZone } from '../online.js';
import { countsText, frame, when } from './nav.js';

export function render(container, route, ctx) {
  return siteScreen(container, frame('archive/retention', 'arc_retention_title', h('p', { class: 'hint' }, t('arc_retention_hint'))), { ...route, ctx }, async (box, siteId) => {
    const base = `/api/archive/sites/${siteId}`;
    const [plans, log] = await Promise.all([api.get(`${base}/retention`), api.get(`${base}/purges`)]);
    box.append(plans.length
      ? h('ul', { class: 'list', id: 'retention-list' }, plans.map((p) => {
        const purge = p.action === RETENTION_PURGE;
        return h('li', { class: 'card retention', 'data-month': p.month, 'data-action': p.action },
          h('p', { class: 'task-line' }, h('strong', {}, p.month),
            h('span', { class: `badge ${purge ? 'major' : 'st-sent'}` }, purge ? t('arc_purge') : t('arc_keep'))),
          // What would go, or why it stays (the server's own words).
          h('p', { class: 'hint' }, purge ? countsText(p.counts) : p.reason));
      }))
      : h('p', { class: 'hint', id: 'retention-none' }, t('arc_retention_none')));
    box.append(h('h2', { id: 'purge-log-title' }, t('arc_purge_log')));
    box.append(log.length
      ? h('ul', { class: 'list', id: 'purge-log', 'aria-labelledby': 'purge-log-title' }, log.map((p) => h('li', { class: 'card retention', 'data-month': p.month },
        h('p', { class: 'task-line' }, h('strong', {}, p.month), h('span', { class: 'hint' }, t('arc_purged_by', { t: when(p.at, siteZone(siteId)), name: p.by_name || t('desk_system') }))),
        h('p', {}, countsText(p.counts)),
        h('p', { class: 'hint' }, `${t('arc_archive_sha')}: `, h('code', { class: 'mono' }, p.archive_sha256 || '—')))))
      : h('p', { class: 'hint', id: 'purge-none' }, t('arc_no_purges')));
  });
}
