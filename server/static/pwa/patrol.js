// The patrol on the phone: rounds, visits, task updates, each queued as one outbox mutation.
import * as db from './db.js';
import * as store from './store.js';
import { syncNow } from './sync.js';

export const METHODS = ['look', 'listen', 'touch', 'ask'];

export function siteId() {
  const s = store.get();
  const sites = s.me?.sites || [];
  const chosen = Number(localStorage.getItem('patrol.site')) || null;
  if (chosen && sites.some((x) => x.site_id === chosen)) return chosen;
  return sites[0]?.site_id ?? null;
}

export function chooseSite(id) {
  localStorage.setItem('patrol.site', String(id));
}

export async function checklistFor(checkpoint) {
  return db.get('checklists', `${checkpoint.site_id}:${checkpoint.kind}`);
}

/** Items grouped by method; an item checked by several methods appears under its first. */
export function groupByMethod(items) {
  const groups = new Map(METHODS.map((m) => [m, []]));
  for (const item of items) {
    const first = (item.methods || [])[0] || 'look';
    if (!groups.has(first)) groups.set(first, []);
    groups.get(first).push(item);
  }
  return [...groups.entries()].filter(([, list]) => list.length);
}

export async function startRound(site, planId = null) {
  const round = { round_id: db.uuid(), site_id: site, plan_id: planId, started_at: db.nowIso(), visits: [], failed: 0 };
  const payload = { round_id: round.round_id, site_id: site };
  if (planId) payload.plan_id = planId;
  await db.enqueue('round.start', payload, { label: 'round.start', observedAt: round.started_at, meta: { round } });
  store.set({ round });
  syncNow();
  return round;
}

export async function endRound(note = '') {
  const round = store.get().round;
  if (!round) return null;
  let missed = [];
  if (round.plan_id) {
    const plan = await db.get('plans', round.plan_id);
    const seen = new Set(round.visits.map((v) => v.checkpoint_id));
    missed = (plan?.checkpoint_ids || []).filter((id) => !seen.has(id));
  }
  const summary = { ...round, ended_at: db.nowIso(), missed };
  await db.enqueue('round.end', { round_id: round.round_id, ...(note ? { note } : {}) }, {
    label: 'round.end', meta: { round: null, last_summary: summary },
  });
  store.set({ round: null });
  syncNow();
  return summary;
}

/** Begin a visit draft from a scan; the checkpoint screen edits it. */
export async function beginVisit(checkpoint, scanMethod) {
  // A new scan replaces an unsaved visit: its draft photos go with it.
  const old = await db.getDraft('visit');
  for (const r of Object.values(old?.results || {})) for (const id of r.photo_ids || []) await db.deletePhoto(id);
  const draft = {
    visit_id: db.uuid(),
    checkpoint_id: checkpoint.id,
    site_id: checkpoint.site_id,
    scanned_at: db.nowIso(),
    scan_method: scanMethod,
    results: {},
    note: '',
    resident_note: '',
  };
  await db.putDraft('visit', draft);
  return draft;
}

/**
 * Queue the visit.record mutation for a draft. Unmarked items count as fine. Returns
 * once the mutation is in IndexedDB.
 */
export async function saveVisit(draft, checklist, { allFine = false } = {}) {
  const round = store.get().round;
  const results = [];
  const photoIds = [];
  let failed = 0;
  for (const item of checklist.body.items) {
    const r = allFine ? { result: 'ok' } : draft.results[item.id] || { result: 'ok' };
    const out = { item_id: item.id, result: r.result || 'ok' };
    if (r.note && r.result !== 'fail') out.note = r.note;
    if (out.result === 'fail') {
      failed += 1;
      const ids = r.photo_ids || [];
      photoIds.push(...ids);
      out.photo_ids = ids;
      out.finding = {
        finding_id: r.finding_id || db.uuid(),
        severity: r.major ? 'major' : 'normal',
        dealt_on_spot: !!r.dealt,
        description: r.note || '',
      };
      if (r.dealt && r.spot_note) out.finding.spot_note = r.spot_note;
    }
    results.push(out);
  }
  const payload = {
    visit_id: draft.visit_id,
    site_id: draft.site_id,
    checkpoint_id: draft.checkpoint_id,
    checklist_version_id: checklist.version_id,
    scanned_at: draft.scanned_at,
    scan_method: draft.scan_method,
    results,
  };
  if (round && round.site_id === draft.site_id) payload.round_id = round.round_id;
  if (!allFine && draft.note) payload.note = draft.note;
  if (!allFine && draft.resident_note) payload.resident_note = draft.resident_note;
  // The round's tally and the draft change in the record's own transaction.
  const nextRound = round && payload.round_id
    ? { ...round, visits: [...round.visits, { checkpoint_id: draft.checkpoint_id, at: draft.scanned_at, failed }], failed: round.failed + failed }
    : null;
  await db.enqueue('visit.record', payload, {
    label: 'visit.record', photoIds, observedAt: draft.scanned_at, dropDraft: 'visit', meta: nextRound ? { round: nextRound } : {},
  });
  if (nextRound) store.set({ round: nextRound });
  syncNow();
  return payload;
}

export async function transitionTask(task, to, note = '') {
  await db.enqueue('task.transition', { task_id: task.id, to, ...(note ? { note } : {}) }, { label: 'task.transition' });
  syncNow();
}

export async function verifyTask(task, draft) {
  const photoIds = [...(draft.after_photo_ids || []), draft.signature_id].filter(Boolean);
  const payload = {
    verification_id: draft.verification_id,
    task_id: task.id,
    visit: draft.visit,
    result: draft.result,
    after_photo_ids: draft.after_photo_ids || [],
    signatures: { verifier: draft.signature_id },
  };
  if (draft.note) payload.note = draft.note;
  if (draft.fixed_by_name) payload.fixed_by_name = draft.fixed_by_name;
  await db.enqueue('task.verify', payload, { label: 'task.verify', photoIds, observedAt: draft.visit.scanned_at, dropDraft: `verify:${task.id}` });
  syncNow();
}

/** Pending local changes to a task, so the screen shows what the phone already decided. */
export async function pendingFor(taskId) {
  const rows = await db.outboxAll();
  return rows.filter((r) => r.status === 'pending' && (r.kind === 'task.transition' || r.kind === 'task.verify') && r.payload.task_id === taskId);
}
