// One patrol plan: names, who patrols, weekdays, time windows, the checkpoints in walking order, focus notes.
// Managers and admins edit it here; everyone else at the desk reads it.
import * as api from '../../api.js';
import { pick, t } from '../../i18n.js';
import * as policy from '../../policy.js';
import * as vocab from '../../vocab.js';
import { h, toast } from '../dom.js';
import { chosenSite, dangerZone, deskDraft, draftNote, fetchAll, guarded, qs, select, showFieldErrors, textField, writeButton } from '../online.js';
import { DESK, subnav } from './nav.js';
import { scheduleText, windowText } from './plans.js';

const DAYS = [0, 1, 2, 3, 4, 5, 6];
const DRAFT_VERSION = 1; // the shape of a kept draft (a draft of another shape is not brought back)
const DEFAULT_WINDOW = ['09:00', '11:00'];

const cpLabel = (cp) => `${pick(cp)} (${cp.short_code})`;
const DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/**
 * The server's schedule problems (server/plans.py validate_schedule, in English) in the reader's
 * language, for the ones this form can produce; anything else is shown as the server wrote it.
 */
function scheduleProblem(message) {
  const day = (name) => t(`day_${DAY_NAMES.indexOf(name)}`);
  let m = /^windows (\S+) and (\S+) overlap$/.exec(message);
  if (m) return t('plan_err_overlap', { a: m[1], b: m[2] });
  m = /^window (\S+) on (\w+) overlaps (\S+) on (\w+)$/.exec(message);
  if (m && DAY_NAMES.includes(m[2]) && DAY_NAMES.includes(m[4])) return t('plan_err_overlap_days', { a: m[1], da: day(m[2]), b: m[3], db: day(m[4]) });
  m = /^windows\[(\d+)\]: starts and ends at (\S+);/.exec(message);
  if (m) return t('plan_err_empty', { n: Number(m[1]) + 1, at: m[2] });
  return message;
}

export async function render(container, { params, query }, ctx) {
  const id = params[0] === 'new' ? null : Number(params[0]);
  const title = h('h1', {}, id ? t('plan_title') : t('plan_new'));
  container.append(subnav('manage/plans'), title);
  const box = h('div', { class: 'desk-body' });
  container.append(box);
  await guarded(box, ctx, async () => {
    const plan = id ? await api.get(`/api/plans/${id}`) : null;
    const siteId = plan ? plan.site_id : chosenSite(query, policy.sitesWhere(DESK.action));
    if (siteId == null || !policy.can(DESK.action, { siteId })) {
      box.append(h('p', { class: 'hint' }, t(DESK.noRole)));
      return;
    }
    const editor = policy.can('plan.edit', { siteId });
    const [checkpoints, people] = await Promise.all([
      fetchAll(`/api/checkpoints/${qs({ site_id: siteId })}`),
      editor && policy.can('user.read', { siteId }) ? api.get(`/api/users/${qs({ site_id: siteId })}`) : [],
    ]);
    if (plan) title.textContent = pick(plan);
    const back = h('a', { class: 'btn', id: 'plan-back', href: `#/manage/plans${qs({ site: siteId })}` }, t('plan_back'));
    if (!editor) {
      box.append(readOnly(plan, checkpoints), back);
      return;
    }
    // What was typed and not saved comes back after a reload or the language switch (cleared on save or cancel).
    const draft = await deskDraft(`plan:${siteId}:${id ?? 'new'}`);
    box.append(new PlanForm({ plan, siteId, checkpoints, people, ctx, draft }).element, back);
  });
  return null;
}

function readOnly(plan, checkpoints) {
  if (!plan) return h('p', { class: 'hint', id: 'plan-readonly' }, t('plan_readonly'));
  const byId = new Map(checkpoints.map((c) => [c.id, c]));
  const focus = pick(plan, 'focus');
  return h('div', { id: 'plan-view' },
    h('p', { class: 'hint', id: 'plan-readonly' }, t('plan_readonly')),
    h('dl', { class: 'summary desk-summary' },
      h('dt', {}, t('plan_state')), h('dd', {}, plan.active ? t('plan_active') : t('plan_paused')),
      h('dt', {}, t('plan_schedule')), h('dd', { id: 'plan-when' }, scheduleText(plan.schedule)),
      h('dt', {}, t('assignee')), h('dd', {}, plan.assignee_name || t('plan_no_assignee')),
      focus ? [h('dt', {}, t('plan_focus')), h('dd', {}, focus)] : null),
    h('h2', {}, t('plan_checkpoints_n', { n: plan.checkpoint_ids.length })),
    h('ol', { class: 'plan-order', id: 'plan-chosen' }, plan.checkpoint_ids.map((cid) => {
      const cp = byId.get(cid);
      return h('li', { 'data-checkpoint': cid }, cp ? cpLabel(cp) : `#${cid}`, cp && !cp.active ? h('span', { class: 'badge major' }, t('cp_retired')) : null);
    })));
}

class PlanForm {
  constructor({ plan, siteId, checkpoints, people, ctx, draft }) {
    Object.assign(this, { plan, siteId, ctx, draft });
    this.byId = new Map(checkpoints.map((c) => [c.id, c]));
    this.active = checkpoints.filter((c) => c.active);
    // A plan may only list active checkpoints: retired ones drop out when it is saved, and the screen says so.
    const ids = plan ? plan.checkpoint_ids : [];
    this.retired = ids.filter((cid) => !this.byId.get(cid)?.active);
    this.chosen = ids.filter((cid) => this.byId.get(cid)?.active);
    this.days = new Set(plan ? plan.schedule.days : [0, 1, 2, 3, 4, 5, 6]);
    this.windows = plan ? plan.schedule.windows.map((w) => [...w]) : [[...DEFAULT_WINDOW]];
    this.people = people.filter((p) => p.active && p.roles.some((r) => r.site_id === siteId));
    this.pickFilter = { q: '', kind: '' };
    const kept = draft.value?.v === DRAFT_VERSION ? draft.value : null;
    if (kept) {
      this.days = new Set(kept.schedule.days);
      this.windows = kept.schedule.windows.map((w) => [...w]);
      this.chosen = kept.checkpoint_ids.filter((cid) => this.byId.get(cid)?.active);
    }
    this.element = this.build(kept);
    // What the form held before anyone typed (kept with the draft): a draft equal to it is no draft.
    this.initial = kept ? JSON.stringify(kept.base_body) : JSON.stringify(this.body(this.form, false));
  }

  /** Keep what the form holds as its draft, or forget the draft when it holds nothing new. */
  persist() {
    const now = this.body(this.form, false);
    if (JSON.stringify(now) === this.initial) {
      this.draft.drop();
      return;
    }
    this.draft.save({ v: DRAFT_VERSION, ...now, base_body: JSON.parse(this.initial), base_updated_at: this.plan?.updated_at ?? null });
  }

  build(kept) {
    const p = kept || this.plan || {};
    this.err = h('p', { class: 'error', id: 'plan-error', role: 'alert' });
    const roleNames = (person) => person.roles.filter((r) => r.site_id === this.siteId).map((r) => vocab.label('roles', r.role)).join('、');
    const form = h('form', { class: 'plan-editor', id: 'plan-form', novalidate: true },
      h('fieldset', {},
        h('legend', {}, t('plan_names')),
        textField('plan-name-zh', 'name_zh', t('plan_name_zh'), p.name_zh, { required: true, maxlength: 200, lang: 'zh-CN' }),
        textField('plan-name-en', 'name_en', t('plan_name_en'), p.name_en, { maxlength: 200, lang: 'en' })),
      h('div', {},
        select('plan-assignee', t('assignee'), [['', t('plan_no_assignee')], ...this.people.map((x) => [x.id, `${x.display_name || x.username} · ${roleNames(x)}`])], p.assignee_id ?? ''),
        h('div', { class: 'error field-error', 'data-error-for': 'assignee_id' })),
      this.daysBox(),
      this.windowsBox(),
      h('div', { class: 'error field-error', id: 'plan-schedule-error', 'data-error-for': 'schedule' }),
      this.checkpointsBox(),
      h('fieldset', {},
        h('legend', {}, t('plan_focus')),
        h('div', { class: 'field' }, h('label', { for: 'plan-focus-zh' }, t('plan_focus_zh')), h('textarea', { id: 'plan-focus-zh', rows: 2, maxlength: 4000, lang: 'zh-CN' }, p.focus_zh || '')),
        h('div', { class: 'field' }, h('label', { for: 'plan-focus-en' }, t('plan_focus_en')), h('textarea', { id: 'plan-focus-en', rows: 2, maxlength: 4000, lang: 'en' }, p.focus_en || ''))),
      h('label', { class: 'check', for: 'plan-active' }, h('input', { type: 'checkbox', id: 'plan-active', checked: kept ? kept.active : this.plan ? this.plan.active : true }), t('plan_active_label')),
      this.err,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'btn primary big', id: 'plan-save' }, t('plan_save')),
        h('button', {
          type: 'button', class: 'btn big', id: 'plan-cancel',
          onclick: async () => { await this.draft.clear(); this.ctx.go(`manage/plans${qs({ site: this.siteId })}`); },
        }, t('desk_form_cancel'))));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.save(form); });
    // Every change is kept as it happens: typing, choosing, and the buttons that move windows,
    // days and checkpoints (their own handlers have run when the click reaches the form).
    for (const type of ['input', 'change', 'click']) form.addEventListener(type, () => this.persist());
    this.form = form;
    // A form brought back from its draft says so, and whether the plan changed since it was typed.
    const changed = kept && this.plan && kept.base_updated_at !== this.plan.updated_at;
    const note = kept ? draftNote('plan-draft', this.draft, () => this.ctx.rerender(), changed ? t('plan_draft_stale') : null) : null;
    return h('div', {}, note, form, this.plan ? this.deleteZone() : null);
  }

  // --- weekdays -----------------------------------------------------------------------------

  daysBox() {
    const set = (days) => {
      this.days = new Set(days);
      for (const d of DAYS) this.daysField.querySelector(`#plan-day-${d}`).checked = this.days.has(d);
    };
    this.daysField = h('fieldset', { id: 'plan-days' },
      h('legend', {}, t('plan_days')),
      h('div', { class: 'day-toggles' }, DAYS.map((d) => {
        const input = h('input', { type: 'checkbox', id: `plan-day-${d}`, checked: this.days.has(d) });
        input.addEventListener('change', () => (input.checked ? this.days.add(d) : this.days.delete(d)));
        return h('label', { class: 'check day', for: `plan-day-${d}` }, input, t(`day_${d}`));
      })),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'btn small', id: 'plan-days-all', onclick: () => set(DAYS) }, t('plan_every_day')),
        h('button', { type: 'button', class: 'btn small', id: 'plan-days-weekdays', onclick: () => set([0, 1, 2, 3, 4]) }, t('plan_weekdays'))));
    return this.daysField;
  }

  // --- time windows ---------------------------------------------------------------------------

  windowsBox() {
    this.windowList = h('ol', { class: 'plan-windows', id: 'plan-window-list' });
    this.drawWindows();
    return h('fieldset', { id: 'plan-windows' },
      h('legend', {}, t('plan_windows')),
      h('p', { class: 'hint' }, t('plan_windows_hint')),
      this.windowList,
      h('button', {
        type: 'button', class: 'btn small', id: 'plan-win-add',
        onclick: () => {
          // A new window starts where the last one ended, which is usually what comes next.
          const last = this.windows[this.windows.length - 1];
          this.windows.push(last ? [last[1], last[1]] : [...DEFAULT_WINDOW]);
          this.drawWindows();
          this.windowList.querySelector(`#plan-win-${this.windows.length - 1}-end`)?.focus();
        },
      }, t('plan_window_add')));
  }

  drawWindows() {
    this.windowList.replaceChildren(...this.windows.map((w, i) => {
      const time = (which, k) => {
        const input = h('input', { type: 'time', id: `plan-win-${i}-${which}`, value: w[k], step: 60, required: true });
        const changed = () => { this.windows[i][k] = input.value; note.textContent = this.windowNote(i); };
        input.addEventListener('input', changed);
        input.addEventListener('change', changed);
        return h('div', { class: 'field' }, h('label', { for: input.id }, t(`plan_window_${which}`, { n: i + 1 })), input);
      };
      const note = h('p', { class: 'hint', id: `plan-win-${i}-note` }, this.windowNote(i));
      return h('li', { class: 'plan-window', 'data-window': i },
        h('div', { class: 'row window-times' }, time('start', 0), time('end', 1)),
        note,
        this.windows.length > 1
          ? h('button', { type: 'button', class: 'btn small', id: `plan-win-${i}-remove`, 'aria-label': t('plan_window_remove_n', { n: i + 1 }), onclick: () => { this.windows.splice(i, 1); this.drawWindows(); } }, t('plan_window_remove'))
          : null);
    }));
  }

  windowNote(i) {
    const [start, end] = this.windows[i];
    return start && end && end <= start ? windowText([start, end]) : '';
  }

  // --- checkpoints in walking order -----------------------------------------------------------

  checkpointsBox() {
    this.chosenList = h('ol', { class: 'plan-order', id: 'plan-chosen', 'aria-labelledby': 'plan-chosen-title' });
    this.chosenTitle = h('h3', { id: 'plan-chosen-title' });
    this.available = h('ul', { class: 'list plan-available', id: 'plan-available' });
    const search = h('input', { type: 'search', id: 'plan-cp-search', autocomplete: 'off', placeholder: t('cp_search_hint') });
    search.addEventListener('input', () => { this.pickFilter.q = search.value.trim().toLowerCase(); this.drawAvailable(); });
    const kind = select('plan-cp-kind', t('desk_kind'), [['', t('desk_any')], ...vocab.options('checkpoint_kinds')], '');
    kind.querySelector('select').addEventListener('change', (e) => { this.pickFilter.kind = e.target.value; this.drawAvailable(); });
    this.addShown = h('button', { type: 'button', class: 'btn small', id: 'plan-cp-add-shown', onclick: () => { this.chosen.push(...this.unchosen().map((c) => c.id)); this.drawChosen(); this.drawAvailable(); } });
    const box = h('fieldset', { id: 'plan-checkpoints' },
      h('legend', {}, t('plan_checkpoints')),
      this.retired.length
        ? h('p', { class: 'banner warn', id: 'plan-retired-note' }, t('plan_retired_dropped', { names: this.retired.map((cid) => (this.byId.get(cid) ? cpLabel(this.byId.get(cid)) : `#${cid}`)).join('、') }))
        : null,
      this.chosenTitle,
      this.chosenList,
      h('div', { class: 'error field-error', 'data-error-for': 'checkpoint_ids' }),
      h('h3', {}, t('plan_add_checkpoints')),
      h('div', { class: 'filter-grid' }, h('div', { class: 'field' }, h('label', { for: 'plan-cp-search' }, t('cp_search')), search), kind),
      this.addShown,
      this.available);
    this.drawChosen();
    this.drawAvailable();
    return box;
  }

  unchosen() {
    const taken = new Set(this.chosen);
    const { q, kind } = this.pickFilter;
    return this.active.filter((c) => !taken.has(c.id) && (!kind || c.kind === kind)
      && (!q || [c.name_zh, c.name_en, c.short_code, c.floor, c.building].some((v) => (v || '').toLowerCase().includes(q))));
  }

  drawChosen(focusId = null) {
    this.chosenTitle.textContent = t('plan_checkpoints_n', { n: this.chosen.length });
    const n = this.chosen.length;
    const move = (i, by) => () => {
      const [cid] = this.chosen.splice(i, 1);
      this.chosen.splice(i + by, 0, cid);
      this.drawChosen(`plan-${by < 0 ? 'up' : 'down'}-${cid}`);
    };
    this.chosenList.replaceChildren(...(n ? this.chosen.map((cid, i) => {
      const cp = this.byId.get(cid);
      const name = cpLabel(cp);
      return h('li', { class: 'plan-stop', 'data-checkpoint': cid },
        h('span', { class: 'plan-stop-name' }, name),
        h('span', { class: 'row plan-stop-moves' },
          h('button', { type: 'button', class: 'btn small', id: `plan-up-${cid}`, disabled: i === 0 || null, 'aria-label': t('plan_move_up', { name }), onclick: move(i, -1) }, '↑'),
          h('button', { type: 'button', class: 'btn small', id: `plan-down-${cid}`, disabled: i === n - 1 || null, 'aria-label': t('plan_move_down', { name }), onclick: move(i, 1) }, '↓'),
          h('button', {
            type: 'button', class: 'btn small', id: `plan-remove-${cid}`, 'aria-label': t('plan_remove_cp', { name }),
            onclick: () => { this.chosen.splice(i, 1); this.drawChosen(); this.drawAvailable(); },
          }, '✕')));
    }) : [h('li', { class: 'hint' }, t('plan_no_checkpoints'))]));
    if (focusId) {
      const target = this.chosenList.querySelector(`#${focusId}`);
      // At the top or bottom the button is disabled: keep the focus on the same stop.
      (target && !target.disabled ? target : target?.closest('li')?.querySelector('button:not([disabled])'))?.focus();
    }
  }

  drawAvailable() {
    const list = this.unchosen();
    this.addShown.textContent = t('plan_add_shown', { n: list.length });
    this.addShown.disabled = !list.length;
    this.available.replaceChildren(...list.map((cp) => h('li', { class: 'plan-pick', 'data-checkpoint': cp.id },
      h('span', {}, cpLabel(cp), h('span', { class: 'hint' }, ` · ${vocab.label('checkpoint_kinds', cp.kind)}${cp.floor ? ` · ${t('cp_floor_n', { f: cp.floor })}` : ''}`)),
      h('button', {
        type: 'button', class: 'btn small', id: `plan-add-${cp.id}`, 'aria-label': t('plan_add_cp', { name: cpLabel(cp) }),
        onclick: () => { this.chosen.push(cp.id); this.drawChosen(); this.drawAvailable(); },
      }, t('plan_add')))));
  }

  // --- saving ---------------------------------------------------------------------------------

  body(form, trim = true) {
    const val = (id) => (trim ? form.querySelector(`#${id}`).value.trim() : form.querySelector(`#${id}`).value);
    const assignee = val('plan-assignee');
    return {
      name_zh: val('plan-name-zh'),
      name_en: val('plan-name-en'),
      assignee_id: assignee ? Number(assignee) : null,
      schedule: { days: DAYS.filter((d) => this.days.has(d)), windows: this.windows.map((w) => [...w]) },
      checkpoint_ids: [...this.chosen],
      focus_zh: val('plan-focus-zh'),
      focus_en: val('plan-focus-en'),
      active: form.querySelector('#plan-active').checked,
    };
  }

  /** The mistakes worth catching before asking the server (which checks everything again). */
  problems(body) {
    const out = {};
    if (!body.name_zh) out.name_zh = [t('plan_need_name')];
    const schedule = [];
    if (!body.schedule.days.length) schedule.push(t('plan_need_day'));
    if (body.schedule.windows.some(([a, b]) => !a || !b)) schedule.push(t('plan_need_times'));
    if (schedule.length) out.schedule = schedule;
    if (!body.checkpoint_ids.length) out.checkpoint_ids = [t('plan_need_checkpoint')];
    return out;
  }

  async save(form) {
    const body = this.body(form);
    const fields = this.problems(body);
    if (Object.keys(fields).length) {
      showFieldErrors(form, this.err, { details: { fields } });
      form.querySelector('.field-error:not(:empty)')?.scrollIntoView({ block: 'center' });
      return;
    }
    const button = form.querySelector('#plan-save');
    button.disabled = true;
    try {
      const saved = this.plan ? await api.patch(`/api/plans/${this.plan.id}`, body) : await api.post(`/api/sites/${this.siteId}/plans`, body);
      await this.draft.clear();
      toast(t('plan_saved_toast', { name: pick(saved) }));
      this.ctx.go(`manage/plans${qs({ site: this.siteId })}`);
    } catch (e) {
      if (e.details?.fields?.schedule) e.details.fields.schedule = e.details.fields.schedule.map(scheduleProblem);
      showFieldErrors(form, this.err, e);
      // The schedule's problems come from the server in its words: say where they are.
      form.querySelector('.field-error:not(:empty)')?.scrollIntoView({ block: 'center' });
    } finally {
      button.disabled = false;
    }
  }

  deleteZone() {
    const err = h('p', { class: 'error', id: 'plan-delete-error', role: 'alert' });
    return dangerZone('plan-delete-zone', t('plan_delete'),
      h('p', {}, t('plan_delete_hint')),
      writeButton({ class: 'btn danger', id: 'plan-delete' }, t('plan_delete_confirm'), err, () => api.del(`/api/plans/${this.plan.id}`).then(() => true), async () => {
        await this.draft.clear();
        toast(t('plan_deleted_toast'));
        this.ctx.go(`manage/plans${qs({ site: this.siteId })}`);
      }),
      err);
  }
}
