// Home: the site, today's round from the plan (or a round: start / continue / end), and my tasks at a glance.
import * as db from '../db.js';
import { pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as policy from '../policy.js';
import * as store from '../store.js';
import { syncNow } from '../sync.js';
import { h } from './dom.js';
import { myTasks, taskCard } from './tasks.js';
import { endRoundButton, todayCard } from './today.js';

export async function render(container, _route, ctx) {
  const s = store.get();
  const sites = s.me?.sites || [];
  const siteId = patrol.siteId();
  container.append(h('h1', {}, t('hello', { name: s.me?.display_name || s.me?.username || '' })));

  if (sites.length > 1) {
    const select = h(
      'select',
      { id: 'site', onchange: (e) => { patrol.chooseSite(e.target.value); ctx.rerender(); } },
      sites.map((x) => h('option', { value: x.site_id, selected: x.site_id === siteId }, pick(x, 'site_name'))),
    );
    container.append(h('label', { for: 'site' }, t('site')), select);
  } else if (sites.length) {
    container.append(h('p', { class: 'site-name' }, t('site_is', { name: pick(sites[0], 'site_name') })));
  }

  const checkpoints = (await db.all('checkpoints')).filter((c) => c.site_id === siteId);
  if (!checkpoints.length) container.append(h('p', { class: 'hint' }, t('no_sites')));

  // A checkpoint left open (the app was closed, or the person went elsewhere mid-form): take it
  // up again. Scanning another checkpoint asks before it would replace it; it is offered first.
  const open = await db.getDraft('visit');
  if (open?.checkpoint_id) {
    const cp = await db.get('checkpoints', open.checkpoint_id);
    const marked = Object.keys(open.results || {}).length + (open.extra || []).length;
    container.append(h('a', { class: 'banner', id: 'open-visit', href: `#/checkpoint/${open.checkpoint_id}` },
      t('open_visit', { name: cp ? `${pick(cp)} (${cp.short_code})` : `#${open.checkpoint_id}`, n: marked })));
  }

  const round = s.round;
  // Today's round from the plan, when one applies to me now (and no round of another plan is open).
  const todayBox = h('div', { id: 'home-today' });
  const today = siteId != null ? await todayCard(siteId, ctx) : null;
  const guided = !!(today && (!round || today.ours));
  let todayKey = today?.key;
  if (guided) todayBox.append(today.card);
  const card = h('div', { class: 'card round' });
  if (guided) {
    container.append(todayBox);
  } else if (round) {
    card.append(
      h('p', { class: 'round-state' }, t('round_open', { n: round.visits.length })),
      h('button', { type: 'button', class: 'btn primary big', id: 'scan-next', onclick: () => ctx.go('scan') }, t('continue_round')),
      endRoundButton(ctx),
    );
  } else if (policy.can('patrol.record', { siteId })) {
    const plans = (await db.all('plans')).filter((p) => p.site_id === siteId && p.active !== false);
    let planSelect = null;
    if (plans.length) {
      planSelect = h('select', { id: 'plan' }, h('option', { value: '' }, t('no_plan')), plans.map((p) => h('option', { value: p.id }, pick(p))));
      card.append(h('label', { for: 'plan' }, t('plan')), planSelect);
    }
    card.append(
      h('button', {
        type: 'button', class: 'btn primary big', id: 'start-round', disabled: siteId == null,
        onclick: async () => {
          await patrol.startRound(siteId, planSelect && planSelect.value ? Number(planSelect.value) : null);
          ctx.go('scan');
        },
      }, t('start_round')),
    );
  }
  if (card.childElementCount) container.append(card);
  const last = await db.getMeta('last_summary');
  if (!round && last?.missed?.length && !last.reasons && (last.user_id === undefined || last.user_id === s.me?.id)) {
    container.append(h('a', { class: 'banner warn', id: 'missed-pending', href: '#/round/summary' }, t('missed_reasons_pending', { n: last.missed.length })));
  }

  container.append(h('h2', {}, t('my_tasks')));
  const taskBox = h('div', { id: 'home-tasks' });
  let shown = null;
  const drawTasks = async () => {
    const tasks = (await myTasks()).slice(0, 5);
    const key = JSON.stringify(tasks.map((x) => [x.id, x.state, x.due_at]));
    if (key === shown) return; // unchanged: leave the list still
    shown = key;
    const list = h('ul', { class: 'list' });
    for (const task of tasks) list.append(h('li', {}, await taskCard(task)));
    taskBox.replaceChildren(tasks.length ? list : h('p', { class: 'hint' }, t('no_tasks')));
  };
  await drawTasks();
  container.append(taskBox);
  container.append(h('button', { type: 'button', class: 'btn', id: 'sync-now', onclick: () => syncNow() }, t('sync_now')));

  // A sync brought data: the first site data redraws the screen (it said "no data"); later
  // ones refresh the task list only if it changed.
  // Today's round follows what is recorded and pulled, and the clock (a window opens or ends).
  const drawToday = async () => {
    const fresh = siteId != null ? await todayCard(siteId, ctx) : null;
    if (!!(fresh && (!store.get().round || fresh.ours)) !== guided) return ctx.rerender();
    if (fresh && fresh.key !== todayKey) {
      todayKey = fresh.key;
      todayBox.replaceChildren(fresh.card);
    }
    return null;
  };
  const ticking = setInterval(drawToday, 30000);
  const unsubscribe = store.subscribe((_s, changes) => {
    if ('unsent' in changes) {
      drawTasks(); // my own move was saved or sent
      drawToday();
    }
    if (!('pulledAt' in changes)) return;
    if (!checkpoints.length) ctx.rerender();
    else {
      drawTasks();
      drawToday();
    }
  });
  return () => {
    clearInterval(ticking);
    unsubscribe();
  };
}
