// The patrol on the phone: rounds, visits, task updates, each queued as one outbox mutation.
import * as db from './db.js';
import * as rounds from './rounds.js';
import * as store from './store.js';
import { syncNow } from './sync.js';
import * as vocab from './vocab.js';
import { RESULT, SEVERITY, TASK, VERIFY } from './vocab.js';

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
  const methods = vocab.values('methods');
  const groups = new Map(methods.map((m) => [m, []]));
  for (const item of items) {
    const first = (item.methods || [])[0] || methods[0];
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
  const missed = await rounds.missedAtEnd(round);
  const summary = { ...round, ended_at: db.nowIso(), missed, user_id: store.get().me?.id };
  await db.enqueue('round.end', { round_id: round.round_id, ...(note ? { note } : {}) }, {
    label: 'round.end', meta: { round: null, last_summary: summary },
  });
  store.set({ round: null });
  syncNow();
  return summary;
}

/**
 * Queue why the round's plan missed checkpoints (`round.missed`): [{checkpoint_id, reason, note?}].
 * The end-of-round summary keeps them in the same transaction, and its form's draft goes.
 */
export async function giveMissedReasons(summary, reasons) {
  await db.enqueue('round.missed', { round_id: summary.round_id, reasons }, {
    label: 'round.missed', draftKey: 'missed_reasons', meta: { last_summary: { ...summary, reasons } },
  });
  syncNow();
}

/** Begin a visit draft from a scan; the checkpoint screen edits it. */
export async function beginVisit(checkpoint, scanMethod) {
  const draft = {
    visit_id: db.uuid(),
    checkpoint_id: checkpoint.id,
    site_id: checkpoint.site_id,
    scanned_at: db.nowIso(),
    scan_method: scanMethod,
    results: {},
    extra: [], // problems outside the checklist: see newExtraFinding()
    note: '',
    resident_note: '',
    residents: [], // what residents said here ("ask"): see newResidentNote()
  };
  // One unsaved visit at a time: a new scan replaces the one before and its draft photos.
  // The scan screen asks first when that one holds any work (see draftWork).
  await db.replaceDraft('visit', draft);
  return draft;
}

/**
 * What an unsaved visit draft holds that a person did: items marked, other problems, notes,
 * resident notes, a complaint, photos and sound clips. {marks, photos, any}; `any` false: nothing would be lost.
 */
export function draftWork(draft) {
  if (!draft) return { marks: 0, photos: 0, any: false };
  const marks = Object.keys(draft.results || {}).length + (draft.extra || []).length;
  const photos = [...Object.values(draft.results || {}), ...(draft.extra || [])].reduce((n, x) => n + (x?.photo_ids || []).length, 0);
  const words = [draft.note, draft.resident_note, draft.complaint?.complainant, draft.complaint?.unit, ...(draft.residents || []).map((n) => n.said)]
    .some((x) => (x || '').trim());
  return { marks, photos, any: !!(marks || photos || words) };
}

/** Throw away the unsaved visit and its photos (Cancel on the checkpoint screen). */
export async function discardVisit() {
  await db.replaceDraft('visit', null);
}

/**
 * Begin a verification draft from the re-scan at the task's checkpoint. A new scan replaces
 * an earlier unsaved verification of the task: its after photos go with it.
 */
export async function beginVerification(taskId, checkpoint, scanMethod) {
  const draft = {
    verification_id: db.uuid(),
    visit: { visit_id: db.uuid(), checkpoint_id: checkpoint.id, scanned_at: db.nowIso(), scan_method: scanMethod },
    after_photo_ids: [],
    result: '',
    note: '',
    fixed_by_name: '',
  };
  await db.replaceDraft(`verify:${taskId}`, draft);
  return draft;
}

/** Throw away the unsaved verification of a task and its photos (Cancel on the verification screen). */
export async function discardVerification(taskId) {
  await db.replaceDraft(`verify:${taskId}`, null);
}

// A problem outside the checklist is routed by its category (the server's default routes,
// from /api/meta) unless the patroller chooses another route; the supervisor confirms it anyway.

/** A new, empty "other problem" for the visit draft. */
export function newExtraFinding() {
  return { finding_id: db.uuid(), category: '', route: '', route_chosen: false, description: '', major: false, dealt: false, spot_note: '', photo_ids: [] };
}

/** What is missing before an other problem can be sent: 'category', 'description' or null. */
export function extraProblem(x) {
  if (!vocab.values('categories').includes(x.category)) return 'category';
  if (!(x.description || '').trim()) return 'description';
  return null;
}

/**
 * Queue the visit.record mutation for a draft. Unmarked items count as fine ("all fine" marks
 * them all fine); other problems are always sent. Returns once the mutation is in IndexedDB.
 */
export async function saveVisit(draft, checklist, { allFine = false, also = [] } = {}) {
  const round = store.get().round;
  const results = [];
  const photoIds = [];
  let failed = 0;
  for (const item of checklist.body.items) {
    const r = allFine ? { result: RESULT.OK } : draft.results[item.id] || { result: RESULT.OK };
    const out = { item_id: item.id, result: r.result || RESULT.OK };
    if (r.note && r.result !== RESULT.FAIL) out.note = r.note;
    if (out.result === RESULT.FAIL) {
      failed += 1;
      const ids = r.photo_ids || [];
      photoIds.push(...ids);
      out.photo_ids = ids;
      out.finding = {
        finding_id: r.finding_id || db.uuid(),
        severity: r.major ? SEVERITY.MAJOR : SEVERITY.NORMAL,
        dealt_on_spot: !!r.dealt,
        description: r.note || '',
      };
      if (r.dealt && r.spot_note) out.finding.spot_note = r.spot_note;
    }
    results.push(out);
  }
  // Problems outside the checklist, each with its own category, route and photos.
  // The server refuses the whole visit for an incomplete one: never queue that.
  if ((draft.extra || []).some(extraProblem)) throw new Error('incomplete other problem');
  const extraFindings = (draft.extra || []).map((x) => {
    photoIds.push(...(x.photo_ids || []));
    failed += 1;
    const out = {
      finding_id: x.finding_id,
      category: x.category,
      route: vocab.values('routes').includes(x.route) ? x.route : vocab.defaultRoute(x.category),
      description: x.description.trim(),
      severity: x.major ? SEVERITY.MAJOR : SEVERITY.NORMAL,
      dealt_on_spot: !!x.dealt,
      photo_ids: x.photo_ids || [],
    };
    if (x.dealt && x.spot_note) out.spot_note = x.spot_note;
    return out;
  });
  const payload = {
    visit_id: draft.visit_id,
    site_id: draft.site_id,
    checkpoint_id: draft.checkpoint_id,
    checklist_version_id: checklist.version_id,
    scanned_at: draft.scanned_at,
    scan_method: draft.scan_method,
    results,
  };
  if (extraFindings.length) payload.extra_findings = extraFindings;
  if (round && round.site_id === draft.site_id) payload.round_id = round.round_id;
  if (!allFine && draft.note) payload.note = draft.note;
  if (!allFine && draft.resident_note) payload.resident_note = draft.resident_note;
  // The round's tally, the draft and any photo the record does not take (one of an item
  // marked "problem", then fine again) change in the record's own transaction.
  const nextRound = round && payload.round_id
    ? { ...round, visits: [...round.visits, { checkpoint_id: draft.checkpoint_id, at: draft.scanned_at, failed }], failed: round.failed + failed }
    : null;
  // What was said or taken during the visit (`also`: resident notes, a complaint) is queued
  // after it in the same transaction: the visit and they are on the phone together, or none is.
  await db.enqueueAll([
    { kind: 'visit.record', payload, label: 'visit.record', photoIds, observedAt: draft.scanned_at, draftKey: 'visit', meta: nextRound ? { round: nextRound } : {} },
    ...also,
  ]);
  if (nextRound) store.set({ round: nextRound });
  syncNow();
  return payload;
}

export async function transitionTask(task, to, note = '') {
  await db.enqueue('task.transition', { task_id: task.id, to, ...(note ? { note } : {}) }, { label: 'task.transition' });
  syncNow();
}

/**
 * The due time moved to another day of the site's calendar (`day`, "2026-12-20"): whole days
 * after `dueAt`, whose site-local day is `dueDay`, so it keeps its time of day there whatever
 * the phone's own time zone (the desk does the same).
 */
export function laterDue(dueAt, dueDay, day) {
  const days = Math.round((Date.parse(day) - Date.parse(dueDay)) / 86400000);
  return new Date(Date.parse(dueAt) + days * 86400000).toISOString();
}

/**
 * Ask for more time (task.extend): queued like any record, so it waits for signal in a basement
 * and goes once; a manager decides it on the desk. `requestedDueAt` is on the server's clock (a
 * day chosen against the task's due date as the server gave it), never corrected.
 */
export async function askForMoreTime(task, requestedDueAt, reason) {
  await db.enqueue('task.extend', { task_id: task.id, requested_due_at: requestedDueAt, reason }, { label: 'task.extend' });
  syncNow();
}

/**
 * My requests for more time on a task that the phone holds: the newest one still unsent
 * (`waiting`), and the newest one the server refused that I have not marked as seen (`refused`).
 */
export async function myExtensionRows(taskId) {
  const me = store.get().me;
  let waiting = null;
  let refused = null;
  for (const r of (await db.outboxAll()).sort((a, b) => a.seq - b.seq)) {
    if (r.kind !== 'task.extend' || r.payload?.task_id !== taskId || !me || !db.ownedBy(r, me.id)) continue;
    if (r.status === 'rejected') {
      refused = r.seen_at ? null : r;
    } else {
      refused = null; // asked again since: the refusal before it is history
      if (r.status === 'pending') waiting = r;
    }
  }
  return { waiting, refused };
}

/**
 * Queue the task.verify mutation. `draft.signature_ids` maps signer → photo id of the drawn
 * signature ({verifier, fixer?, supervisor?}); those photos go pending with the record.
 */
export async function verifyTask(task, draft) {
  const signatures = Object.fromEntries(Object.entries(draft.signature_ids || {}).filter(([, v]) => v));
  const photoIds = [...(draft.after_photo_ids || []), ...Object.values(signatures)];
  const payload = {
    verification_id: draft.verification_id,
    task_id: task.id,
    visit: draft.visit,
    result: draft.result,
    after_photo_ids: draft.after_photo_ids || [],
    signatures,
  };
  if (draft.note) payload.note = draft.note;
  if (draft.fixed_by_name) payload.fixed_by_name = draft.fixed_by_name;
  await db.enqueue('task.verify', payload, { label: 'task.verify', photoIds, observedAt: draft.visit.scanned_at, draftKey: `verify:${task.id}` });
  syncNow();
}

/** Pending local changes to a task, so the screen shows what the phone already decided. */
export async function pendingFor(taskId) {
  return (await pendingTaskMoves()).get(taskId) || [];
}

/** My task moves still on the phone, by task id, in the order they were made. */
export async function pendingTaskMoves() {
  const me = store.get().me;
  const byTask = new Map();
  for (const r of (await db.outboxAll()).sort((a, b) => a.seq - b.seq)) {
    if (r.status !== 'pending' || (r.kind !== 'task.transition' && r.kind !== 'task.verify')) continue;
    if (!me || !db.ownedBy(r, me.id)) continue;
    if (!byTask.has(r.payload.task_id)) byTask.set(r.payload.task_id, []);
    byTask.get(r.payload.task_id).push(r);
  }
  return byTask;
}

/** The state a task shows: the server's, moved on by what the phone decided and has not sent yet. */
export function shownState(task, pending = []) {
  let state = task.state;
  for (const row of pending) {
    if (row.kind !== 'task.verify') state = row.payload.to;
    else state = row.payload.result === VERIFY.PASS ? TASK.VERIFIED : TASK.IN_PROGRESS;
  }
  return state;
}

/**
 * A resident's complaint taken during the visit (the resident note, as a complaint), to queue
 * with the visit (saveVisit's `also`). Its id makes a resend the same complaint.
 */
export function complaintRecord(draft, { complainant, unit }) {
  return { kind: 'complaint.receive', label: 'complaint.receive', payload: {
    complaint_id: db.uuid(),
    site_id: draft.site_id,
    checkpoint_id: draft.checkpoint_id,
    visit_id: draft.visit_id,
    channel: 'visit',
    complainant,
    unit,
    content: draft.resident_note,
  } };
}


/** A new, empty resident note for the visit draft ("ask"). */
export function newResidentNote() {
  return { note_id: db.uuid(), said: '', consent: false, unit: '', contact: '', finding_id: null };
}

/** The resident notes of a draft worth sending: those with words in them. */
export function residentNotes(draft) {
  return (draft.residents || []).filter((n) => (n.said || '').trim());
}

/**
 * A resident.note mutation for each note of the visit, to queue right after it (saveVisit's
 * `also`; the server links a note to its visit, and to the finding made from it). Without the
 * resident's consent no unit or contact leaves the phone (and the server keeps none either).
 */
export function residentNoteRecords(draft) {
  const findings = new Set((draft.extra || []).map((x) => x.finding_id));
  return residentNotes(draft).map((n) => {
    const payload = {
      note_id: n.note_id,
      site_id: draft.site_id,
      checkpoint_id: draft.checkpoint_id,
      visit_id: draft.visit_id,
      said: n.said.trim(),
      consent: !!n.consent,
    };
    if (n.consent && (n.unit || '').trim()) payload.unit = n.unit.trim();
    if (n.consent && (n.contact || '').trim()) payload.contact = n.contact.trim();
    if (n.finding_id && findings.has(n.finding_id)) payload.finding_id = n.finding_id;
    return { kind: 'resident.note', payload, label: 'resident.note', observedAt: draft.scanned_at };
  });
}
