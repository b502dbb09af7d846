// Repeat problems: the same item at the same checkpoint failing three or more times in thirty days, for root-cause work.
import * as api from '../../api.js';
import * as db from '../../db.js';
import { fmtDate, pick, t } from '../../i18n.js';
import { h } from '../dom.js';
import { qs, siteScreen } from '../online.js';
import { DESK, subnav } from './nav.js';

/** Item texts from the checklists on the phone, by item id. */
async function itemTexts() {
  const out = new Map();
  for (const cl of await db.all('checklists').catch(() => [])) {
    for (const item of cl.body?.items || []) out.set(item.id, item.text);
  }
  return out;
}

export function render(container, route, ctx) {
  const frame = { ...DESK, nav: subnav('manage/repeats'), path: 'manage/repeats', title: t('desk_repeats_title'), intro: h('p', { class: 'hint' }, t('desk_repeats_hint')) };
  return siteScreen(container, frame, { ...route, ctx }, async (box, siteId) => {
    const [groups, texts, cps] = await Promise.all([
      api.get(`/api/tasks/repeats${qs({ site_id: siteId })}`),
      itemTexts(),
      db.all('checkpoints').catch(() => []),
    ]);
    if (!groups.length) {
      box.append(h('p', { class: 'hint', id: 'repeats-empty' }, t('desk_no_repeats')));
      return;
    }
    const byId = new Map(cps.map((c) => [c.id, c]));
    box.append(h('ul', { class: 'list', id: 'repeat-list' }, groups.map((g) => {
      const cp = byId.get(g.checkpoint_id);
      const item = texts.get(g.item_id);
      return h('li', { class: 'card repeat-row', 'data-checkpoint': g.checkpoint_id, 'data-item': g.item_id },
        h('p', { class: 'task-line' },
          h('strong', {}, cp ? `${pick(cp)} (${cp.short_code})` : g.checkpoint_name),
          h('span', { class: 'badge major' }, t('desk_failures', { n: g.failures }))),
        h('p', {}, item ? pick(item) : g.item_id),
        h('p', { class: 'hint' }, t('desk_last_failed', { d: fmtDate(g.last_observed_at) })),
        h('ul', { class: 'chips', 'aria-label': t('desk_tasks_of_repeat') },
          g.task_ids.map((id) => h('li', {}, h('a', { class: 'chip', href: `#/manage/tasks/${id}` }, t('task_title', { id }))))));
    })));
  });
}
