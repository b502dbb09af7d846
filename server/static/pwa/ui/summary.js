// The end of a round: how many places were visited, problems found, and what the plan missed.
import * as db from '../db.js';
import { pick, t } from '../i18n.js';
import { h } from './dom.js';

export async function render(container) {
  const s = await db.getMeta('last_summary');
  container.append(h('h1', {}, t('round_summary')));
  if (!s) return null;
  const missed = [];
  for (const id of s.missed || []) {
    const cp = await db.get('checkpoints', id);
    missed.push(cp ? `${pick(cp)} (${cp.short_code})` : `#${id}`);
  }
  container.append(
    h('dl', { class: 'summary' },
      h('dt', {}, t('visited')), h('dd', { id: 'sum-visited' }, String(s.visits.length)),
      h('dt', {}, t('failed_items')), h('dd', { id: 'sum-failed' }, String(s.failed)),
      s.plan_id ? [h('dt', {}, t('missed')), h('dd', { id: 'sum-missed' }, missed.length ? missed.join('、') : t('none'))] : null),
    h('a', { class: 'btn primary big', href: '#/' }, t('back_home')),
  );
  return null;
}
