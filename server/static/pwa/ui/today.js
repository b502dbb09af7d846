// Home's "今日巡查" card: the plan that applies to me now, its window on the site's clock, the
// checkpoints in the plan's order with progress, the next one, and what is late or missed.
// Worked out on the phone from what it pulled and what it recorded (rounds.js): offline too.
import * as db from '../db.js';
import { fmtTime, partsOf, pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as policy from '../policy.js';
import * as rounds from '../rounds.js';
import * as store from '../store.js';
import { ask, h } from './dom.js';

const MARK = { visited: '✓', next: '➜', todo: '○', early: '○', late: '!', missed: '✕' };

const hhmmIn = (d, zone) => {
  const p = partsOf(d, zone);
  return `${p.hh}:${p.mm}`;
};

/** How long from now until `end`, in hours and minutes (at least a minute). */
function timeLeft(end, now = new Date()) {
  const min = Math.max(1, Math.ceil((end - now) / 60000));
  const hrs = Math.floor(min / 60);
  return hrs ? t('dur_hm', { h: hrs, m: min % 60 }) : t('dur_m', { m: min });
}

/**
 * The "end round" button. While checkpoints of the round's plan are not visited it asks first,
 * saying how many (and which) and how long the plan's window still runs; ending then asks why
 * each was missed. A round with nothing unvisited ends at once.
 */
export function endRoundButton(ctx) {
  const end = async () => {
    await patrol.endRound();
    ctx.go('round/summary');
  };
  const btn = h('button', {
    type: 'button', class: 'btn big', id: 'end-round',
    onclick: async () => {
      const round = store.get().round;
      const missed = round ? await rounds.missedAtEnd(round) : [];
      if (!missed.length) return end();
      const today = await rounds.today(round.site_id);
      const win = today?.round ? today.win : null;
      const names = [];
      for (const id of missed) {
        const cp = await db.get('checkpoints', id);
        names.push(cp ? cp.short_code : `#${id}`);
      }
      const lines = [t('end_round_unvisited', { n: missed.length, y: win ? (win.plan.checkpoint_ids || []).length : missed.length, names: names.join(t('list_sep')) })];
      if (win && win.status === 'in_progress') lines.push(t('end_round_window_left', { t: hhmmIn(win.end, today.zone), d: timeLeft(win.end) }));
      lines.push(t('end_round_then'));
      const box = ask({
        id: 'end-round-ask',
        title: t('end_round_ask_title'),
        lines,
        choices: [
          { id: 'end-round-cancel', kind: 'primary', label: t('end_round_keep'), onclick: () => { box.replaceWith(btn); btn.focus(); } },
          { id: 'end-round-confirm', kind: 'danger', label: t('end_round_confirm', { n: missed.length }), onclick: end },
        ],
      });
      btn.replaceWith(box);
      box.querySelector('.ask-actions')?.scrollIntoView?.({ block: 'nearest' }); // both answers in sight
      return null;
    },
  }, t('end_round'));
  return btn;
}

/** Today's round of `siteId` as {card, key, ours: an open round follows it}, or null when no plan of mine has a window today. */
export async function todayCard(siteId, ctx, { now = new Date() } = {}) {
  if (!policy.can('patrol.record', { siteId })) return null; // the card is for those who patrol here
  const today = await rounds.today(siteId, { now });
  if (!today) return null;
  const { win, zone, round, progress } = today;
  const hhmm = (d) => {
    const p = partsOf(d, zone);
    return `${p.hh}:${p.mm}`;
  };
  const sameDay = (a, b) => {
    const x = partsOf(a, zone);
    const y = partsOf(b, zone);
    return x.y === y.y && x.m === y.m && x.d === y.d;
  };
  const windowText = `${fmtTime(win.start, { zone })}–${sameDay(win.start, win.end) ? hhmm(win.end) : fmtTime(win.end, { zone })}`;
  // A round of this plan that I ended in this window: the window may still run (another round
  // may be started by the plan), but the card says the round is over, not "in progress".
  const last = round ? null : await db.getMeta('last_summary');
  const endedAt = last?.ended_at ? new Date(last.ended_at) : null;
  const ended = endedAt && last.plan_id === win.plan.id && endedAt >= win.start && endedAt < win.end
    && (last.user_id === undefined || last.user_id === store.get().me?.id) ? endedAt : null;
  let statusText = win.status === 'upcoming' ? t('round_win_upcoming', { t: hhmm(win.start) }) : t(`round_win_${win.status}`);
  if (ended) statusText = t('round_ended_at', { t: hhmm(ended) });

  const cps = new Map();
  for (const id of win.plan.checkpoint_ids || []) cps.set(id, await db.get('checkpoints', id));
  const name = (id) => {
    const cp = cps.get(id);
    return cp ? `${pick(cp)} (${cp.short_code})` : `#${id}`;
  };
  const stateText = (r) => {
    if (r.state === 'visited') return t('cp_state_visited', { t: hhmm(r.at) });
    if (r.state === 'late') return t('cp_state_late', { t: hhmm(r.at) });
    if (r.state === 'early') return t('cp_state_early', { t: hhmm(r.at) });
    return t(`cp_state_${r.state}`);
  };

  const card = h('section', { class: 'card today-round', id: 'today-round', 'data-status': win.status, 'data-plan': win.plan.id, 'data-ended': ended ? 'true' : null, 'aria-labelledby': 'today-title' });
  card.append(
    h('h2', { id: 'today-title' }, t('today_round')),
    h('p', { class: 'today-plan' }, h('strong', {}, pick(win.plan)),
      h('span', { class: `badge win-${ended ? 'ended' : win.status}`, id: 'round-status' }, statusText)),
    h('p', { class: 'today-window', id: 'round-window' }, windowText),
  );
  const focus = pick(win.plan, 'focus');
  if (focus) card.append(h('p', { class: 'hint today-focus' }, t('round_focus', { f: focus })));
  card.append(
    h('div', { class: 'today-progress' },
      h('progress', { max: String(progress.planned || 1), value: String(progress.visited), 'aria-labelledby': 'round-progress' }),
      h('span', { id: 'round-progress', 'data-visited': progress.visited, 'data-planned': progress.planned },
        t('round_progress', { x: progress.visited, y: progress.planned }))),
  );
  if (progress.missed || progress.late) {
    card.append(h('p', { class: 'today-late', id: 'round-late', 'data-missed': progress.missed, 'data-late': progress.late },
      t('round_missed_late', { m: progress.missed, l: progress.late })));
  }
  if (progress.next === null && win.status !== 'ended') {
    card.append(h('p', { class: 'ok-text', id: 'round-done' }, t('round_all_done')));
  } else if (progress.next !== null && ended) {
    card.append(h('p', { class: 'hint', id: 'round-again' }, t('round_again_hint', { t: hhmm(win.end) })));
  } else if (progress.next !== null && !round) { // with a round open, the scan button names it
    card.append(h('p', { class: 'today-next', id: 'round-next', 'data-checkpoint': progress.next }, t('round_next', { name: name(progress.next) })));
  }

  const actions = h('div', { class: 'today-actions' });
  if (round) {
    actions.append(
      h('button', { type: 'button', class: 'btn primary big', id: 'scan-next', 'data-checkpoint': progress.next ?? '', onclick: () => ctx.go('scan') },
        progress.next !== null ? t('scan_next_cp', { name: name(progress.next) }) : t('continue_round')),
      endRoundButton(ctx),
    );
  } else {
    actions.append(h('button', {
      type: 'button', class: 'btn primary big', id: 'start-round',
      onclick: async () => { await patrol.startRound(siteId, win.plan.id); ctx.go('scan'); },
    }, t(ended ? 'start_plan_round_again' : 'start_plan_round')));
  }
  card.append(actions);

  card.append(h('ol', { class: 'round-list', id: 'round-list', 'aria-label': t('round_list') },
    // After the round ended, nothing is "next" until another round starts.
    progress.rows.map((r) => (ended && r.state === 'next' ? { ...r, state: 'todo' } : r)).map((r) => h('li', { class: `rl-${r.state}`, 'data-checkpoint': r.id, 'data-state': r.state },
      h('span', { class: 'rl-mark', 'aria-hidden': 'true' }, MARK[r.state]),
      h('span', { class: 'rl-name' }, name(r.id)),
      h('span', { class: 'rl-state' }, stateText(r))))));
  const key = JSON.stringify([win.plan.id, +win.start, win.status, progress.rows.map((r) => [r.id, r.state, r.at ? +r.at : 0]), !!round, ended ? +ended : 0]);
  return { card, key, ours: !!round };
}
