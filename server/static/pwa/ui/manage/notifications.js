// My notification feed: major findings, overdue tasks, assignments and extensions; unread first in weight, newest first.
import * as api from '../../api.js';
import * as db from '../../db.js';
import { fmtLocal, fmtTime, pick, t } from '../../i18n.js';
import * as vocab from '../../vocab.js';
import { EXTENSION } from '../../vocab.js';
import { h } from '../dom.js';
import { act, guarded, qs, siteZone } from '../online.js';
import { dueText, dueDayOf } from './complaints_nav.js';
import { setUnread, subnav } from './nav.js';

const PER_PAGE = 30;

/** Where a notice is about, in the reader's language. */
function place(d, x, cps) {
  // A task's notice: the checkpoint as it is now, looked up when the feed is read.
  if (x.checkpoint_short_code) return `${pick(x, 'checkpoint_name')} (${x.checkpoint_short_code})`;
  // Else the names the notice kept when it was sent (a major problem dealt with on the spot, a
  // complaint). One kept before notices had the English name has the Chinese one only: then the
  // phone's own copy of the checkpoint, else the Chinese name.
  if (d.checkpoint_name_en) return pick({ zh: d.checkpoint_name, en: d.checkpoint_name_en });
  const cp = cps.get(x.checkpoint_id ?? d.checkpoint_id);
  return cp ? pick(cp) : d.checkpoint_name;
}

/** What a notification is about, in words: the server looks up names and dates when the feed is read (`details`). */
function text(n, cps) {
  const d = n.data || {};
  const x = n.details || {};
  const parts = [place(d, x, cps)];
  const problem = x.description ?? d.description;
  if (problem) parts.push(problem);
  const ext = x.extension;
  if (n.kind === 'task_assigned' && x.by_name) parts.push(t('desk_assigned_by', { name: x.by_name }));
  if (n.kind === 'extension_requested' && ext) {
    parts.push(t('desk_ext_asked', { name: ext.requested_by_name, from: fmtLocal(ext.previous_due_local), to: fmtLocal(ext.requested_due_local) }));
    parts.push(t('reason', { m: ext.reason }));
    // Decided since: how, and by whom (the notice is no longer a request waiting).
    if (decided(n)) {
      parts.push(ext.decided_by_name ? t('desk_ext_decided_by', { state: vocab.label('extension_states', ext.state), name: ext.decided_by_name }) : vocab.label('extension_states', ext.state));
      if (ext.decision_note) parts.push(t('desk_decision_note', { m: ext.decision_note }));
    }
  }
  if (n.kind === 'extension_decided') {
    const state = ext?.state || d.state;
    if (state) parts.push(ext?.decided_by_name ? t('desk_ext_decided_by', { state: vocab.label('extension_states', state), name: ext.decided_by_name }) : vocab.label('extension_states', state));
    if (ext?.decision_note) parts.push(t('desk_decision_note', { m: ext.decision_note }));
  }
  if (n.kind === 'task_overdue' && d.days_overdue !== undefined) parts.push(overdueText(d.days_overdue));
  if (x.due_local && n.kind !== 'extension_requested') parts.push(t('due', { d: fmtLocal(x.due_local) }));
  if (n.task_id) parts.push(t('task_title', { id: n.task_id }));
  // A unit such as "12-03" reads like a date unless it is called a unit.
  if (n.kind === 'complaint_escalated') parts.push(d.unit ? t('cp_unit_n', { u: d.unit }) : '', d.content || '', vocab.label('escalation_levels', d.level), t('due', { d: complaintDue(n) }));
  return parts.filter(Boolean).join(' · ');
}

/** An extension request whose notice is no longer a to-do: a manager has decided it. */
function decided(n) {
  const state = n.details?.extension?.state;
  return n.kind === 'extension_requested' && !!state && state !== EXTENSION.PENDING;
}

/** How long a task was overdue when escalated: whole days (floored by the server), so 0 is "less than a day". */
function overdueText(days) {
  if (days < 1) return t('desk_overdue_under_a_day');
  return days === 1 ? t('desk_day_overdue') : t('desk_days_overdue', { n: days });
}

/** A complaint's deadline as the complaint's page shows it: the end of its site-local day. */
function complaintDue(n) {
  const d = n.data || {};
  return dueText(d.due_day || dueDayOf(d.due_at_local), d.due_at_local, siteZone(n.site_id));
}

export async function render(container, _route, ctx) {
  container.append(subnav('manage/notifications'));
  const heading = h('h1', {}, t('desk_notifications_title'));
  container.append(heading);
  const box = h('div', { class: 'desk-body' });
  container.append(box);
  await guarded(box, ctx, async () => {
    const cps = new Map((await db.all('checkpoints').catch(() => [])).map((c) => [c.id, c]));
    const err = h('p', { class: 'error', role: 'alert' });
    const summary = h('p', { class: 'hint', id: 'notif-summary', role: 'status' });
    const readAll = h('button', { type: 'button', class: 'btn', id: 'notif-read-all' }, t('desk_read_all'));
    const ul = h('ul', { class: 'list notif-list', id: 'notif-list' });
    const more = h('button', { type: 'button', class: 'btn big', id: 'notif-more', hidden: true }, t('desk_more'));
    const show = (unread) => {
      summary.textContent = unread ? t('desk_unread_n', { n: unread }) : t('desk_all_read');
      readAll.disabled = !unread;
      setUnread(unread);
    };
    const markRead = async (ids) => {
      const res = await act(err, () => api.post('/api/notifications/read', ids ? { ids } : { all: true }));
      if (!res) return false;
      for (const li of ul.querySelectorAll('li.unread')) {
        if (!ids || ids.includes(Number(li.dataset.id))) {
          li.classList.remove('unread');
          li.querySelector('.badge.unread')?.remove();
          li.querySelector('.notif-mark')?.remove();
        }
      }
      show(res.unread);
      return true;
    };
    readAll.addEventListener('click', () => markRead(null));
    const row = (n) => {
      const unread = !n.read_at;
      const title = decided(n) ? t('desk_ext_request_decided') : vocab.label('notify_kinds', n.kind);
      const li = h('li', { class: `notif ${unread ? 'unread' : ''}`, 'data-id': n.id, 'data-kind': n.kind, 'data-decided': decided(n) ? 'true' : null },
        h('p', { class: 'task-line' },
          unread ? h('span', { class: 'badge unread' }, t('desk_unread')) : null,
          h('strong', {}, title)),
        h('p', {}, text(n, cps)),
        h('p', { class: 'hint' }, fmtTime(n.created_at)));
      const actions = h('div', { class: 'row' });
      if (n.task_id) {
        actions.append(h('a', {
          class: 'btn small', href: `#/manage/tasks/${n.task_id}`,
          // Opening the task reads the notification; the link still works if marking fails.
          onclick: () => { if (li.classList.contains('unread')) api.post('/api/notifications/read', { ids: [n.id] }).catch(() => {}); },
        }, t('desk_open_task')));
      }
      if (n.data?.complaint_id) actions.append(h('a', { class: 'btn small', href: `#/complaints/${n.data.complaint_id}` }, t('cmp_title', { id: n.data.complaint_id })));
      if (unread) actions.append(h('button', { type: 'button', class: 'btn small notif-mark', 'aria-label': t('desk_mark_read_label', { what: title }), onclick: () => markRead([n.id]) }, t('desk_mark_read')));
      li.append(actions);
      return li;
    };
    let page = 0;
    const next = async () => {
      page += 1;
      const res = await api.get(`/api/notifications/${qs({ page, per_page: PER_PAGE })}`);
      for (const n of res.items) ul.append(row(n));
      if (!res.meta.total) ul.append(h('li', { class: 'hint' }, t('desk_no_notifications')));
      more.hidden = page * PER_PAGE >= res.meta.total;
      show(res.unread);
    };
    more.addEventListener('click', () => next().catch((e) => { err.textContent = e.message; }));
    box.append(h('div', { class: 'row' }, summary, readAll), err, ul, more);
    await next();
  });
  return null;
}
