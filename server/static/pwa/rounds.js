// Today's round from the patrol plan, worked out on the phone (offline too): which plan applies
// to me now, its window on the site's clock, its checkpoints in the plan's order, and which are
// visited, next, late or missed. The rule is the server's coverage rule (docs/checkpoints.md):
// a checkpoint counts for a window when a patrol visit to it was scanned at or after the
// window's start and before its end; one scanned after the end, before the plan's next window,
// is late. Scans out of the plan's order count like any other.
import * as db from './db.js';
import { partsOf } from './i18n.js';
import * as store from './store.js';

const DAY_MS = 86400000;

/** A site-local wall-clock time of a local day ({y, m, d}) as an instant (the server's plans.local_to_utc). */
export function localInstant(day, hhmm, zone) {
  const [hh, mm] = hhmm.split(':').map(Number);
  const wall = Date.UTC(day.y, day.m - 1, day.d, hh, mm);
  // The zone's offset at that moment, found by reading the instant back on the zone's clock
  // (twice: the first guess may sit on the other side of a daylight-saving change).
  let at = wall;
  for (let i = 0; i < 2; i += 1) {
    const p = partsOf(new Date(at), zone);
    at = wall - (Date.UTC(p.y, p.m - 1, p.d, Number(p.hh), Number(p.mm)) - at);
  }
  return new Date(at);
}

const minutes = (hhmm) => {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
};

function addDays(day, n) {
  const d = new Date(Date.UTC(day.y, day.m - 1, day.d) + n * DAY_MS);
  return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() };
}

/** Monday = 0 … Sunday = 6, as plans name weekdays. */
const weekday = (day) => (new Date(Date.UTC(day.y, day.m - 1, day.d)).getUTCDay() + 6) % 7;

/** The windows of a plan starting on local days `from`..`to` (a window crossing midnight belongs to the day it starts). */
export function windowsOf(plan, zone, from, count) {
  const out = [];
  const days = new Set(plan.schedule?.days || []);
  for (let i = 0; i < count; i += 1) {
    const day = addDays(from, i);
    if (!days.has(weekday(day))) continue;
    for (const [start, end] of plan.schedule?.windows || []) {
      const endDay = minutes(end) <= minutes(start) ? addDays(day, 1) : day;
      out.push({ plan_id: plan.id, day, start: localInstant(day, start, zone), end: localInstant(endDay, end, zone) });
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * The window of these plans that is "today's round" now: one running now; else the next one
 * starting today; else the last one that ended today. Each carries `until`, when the plan's next
 * window opens (a visit after the end and before then is late). Null when none is today.
 */
export function currentWindow(plans, zone, now = new Date()) {
  const today = partsOf(now, zone);
  const todayStart = localInstant(today, '00:00', zone);
  const tomorrowStart = localInstant(addDays(today, 1), '00:00', zone);
  const found = [];
  for (const plan of plans) {
    // Yesterday's night window may still run; a week ahead holds the plan's next window.
    const all = windowsOf(plan, zone, addDays(today, -1), 9);
    all.forEach((w, i) => {
      w.until = all[i + 1]?.start || new Date(w.end.getTime() + 7 * DAY_MS);
      w.plan = plan;
      if (w.end > todayStart && w.start < tomorrowStart) found.push(w);
    });
  }
  const running = found.filter((w) => w.start <= now && now < w.end);
  if (running.length) return { ...running[0], status: 'in_progress' };
  const coming = found.filter((w) => w.start > now);
  if (coming.length) return { ...coming[0], status: 'upcoming' };
  const ended = found.filter((w) => w.end <= now);
  return ended.length ? { ...ended[ended.length - 1], status: 'ended' } : null;
}

/** The plans of a site that apply to me: active, and given to me or to nobody in particular. */
export async function myPlans(siteId, me = store.get().me) {
  return (await db.all('plans')).filter((p) => p.site_id === siteId && p.active !== false && (p.assignee_id == null || p.assignee_id === me?.id));
}

/** My patrol visits kept on this phone (sent or not; not refused), oldest first: {checkpoint_id, at}. */
export async function myVisits(siteId, me = store.get().me) {
  return (await db.outboxAll())
    .filter((r) => r.kind === 'visit.record' && r.status !== 'rejected' && r.payload?.site_id === siteId && (!me || db.ownedBy(r, me.id)))
    .map((r) => ({ checkpoint_id: r.payload.checkpoint_id, at: new Date(r.payload.scanned_at) }))
    .sort((a, b) => a.at - b.at);
}

/**
 * Where a plan's window stands: each checkpoint in the plan's order with its state
 * (visited / next / todo / late / missed / early: scanned by this round before the window opened),
 * `visited` of `planned`, and the next checkpoint (the first in the plan's order not visited yet).
 */
export function progress(win, visits, { now = new Date(), round = null } = {}) {
  const ids = win.plan.checkpoint_ids || [];
  const first = new Map();
  const late = new Map();
  const early = new Map();
  const roundStart = round?.started_at ? new Date(round.started_at) : null;
  for (const v of visits) {
    if (v.at >= win.start && v.at < win.end) {
      if (!first.has(v.checkpoint_id)) first.set(v.checkpoint_id, v.at);
    } else if (v.at >= win.end && v.at < win.until && v.at <= now) {
      if (!late.has(v.checkpoint_id)) late.set(v.checkpoint_id, v.at);
    } else if (roundStart && v.at < win.start && v.at >= roundStart) {
      early.set(v.checkpoint_id, v.at);
    }
  }
  const over = win.status === 'ended';
  let next = null;
  const rows = ids.map((id) => {
    if (first.has(id)) return { id, state: 'visited', at: first.get(id) };
    if (over) return late.has(id) ? { id, state: 'late', at: late.get(id) } : { id, state: 'missed' };
    if (next === null) {
      next = id;
      return { id, state: 'next', at: early.get(id) || null };
    }
    return early.has(id) ? { id, state: 'early', at: early.get(id) } : { id, state: 'todo' };
  });
  return {
    rows,
    planned: ids.length,
    visited: ids.filter((id) => first.has(id)).length,
    next,
    missed: rows.filter((r) => r.state === 'missed').length,
    late: rows.filter((r) => r.state === 'late').length,
  };
}

/**
 * Today's round for me at a site: the open round's plan if it has one, else the plan that
 * applies now. {win, progress} or null.
 */
export async function today(siteId, { now = new Date() } = {}) {
  const s = store.get();
  const zone = (await db.get('sites', siteId))?.timezone || (s.me?.sites || []).find((x) => x.site_id === siteId)?.timezone;
  if (!zone) return null;
  const round = s.round && s.round.site_id === siteId ? s.round : null;
  let plans = await myPlans(siteId);
  if (round?.plan_id) {
    const own = (await db.get('plans', round.plan_id)) || null;
    plans = own ? [own] : [];
  }
  const win = currentWindow(plans, zone, now);
  if (!win) return null;
  return { win, zone, round: round && round.plan_id === win.plan.id ? round : null, progress: progress(win, await myVisits(siteId), { now, round }) };
}

/**
 * The checkpoints of a round's plan that neither the round nor my visits in the plan's window
 * reached, in the plan's order: what the end of the round asks a reason for.
 */
export async function missedAtEnd(round, { now = new Date() } = {}) {
  if (!round?.plan_id) return [];
  const plan = await db.get('plans', round.plan_id);
  if (!plan) return [];
  const seen = new Set(round.visits.map((v) => v.checkpoint_id));
  const zone = (await db.get('sites', round.site_id))?.timezone;
  const win = zone ? currentWindow([plan], zone, now) : null;
  if (win) {
    for (const v of await myVisits(round.site_id)) if (v.at >= win.start && v.at < win.end) seen.add(v.checkpoint_id);
  }
  return (plan.checkpoint_ids || []).filter((id) => !seen.has(id));
}
