// A site's patrol plans: what each covers and when; managers and admins write, pause and resume them.
import * as api from '../../api.js';
import { lang, pick, t } from '../../i18n.js';
import * as policy from '../../policy.js';
import { h, toast } from '../dom.js';
import { act, qs, siteScreen } from '../online.js';
import { DESK, subnav } from './nav.js';

const WEEKDAYS = [0, 1, 2, 3, 4];
const sep = () => (lang() === 'en' ? ', ' : '、');

/** "Weekdays 09:00–11:00, 22:00–next day 02:00": a plan's schedule in words. */
export function scheduleText(schedule) {
  const days = [...(schedule?.days || [])].sort();
  let when;
  if (days.length === 7) when = t('plan_every_day');
  else if (days.join() === WEEKDAYS.join()) when = t('plan_weekdays');
  else if (days.join() === '5,6') when = t('plan_weekend');
  else when = days.map((d) => t(`day_${d}`)).join(sep());
  return `${when} ${(schedule?.windows || []).map(windowText).join(sep())}`;
}

/** "09:00–11:00"; a window whose end is not after its start runs into the next day. */
export function windowText([start, end]) {
  return end <= start ? t('plan_window_overnight', { start, end }) : `${start}–${end}`;
}

export function render(container, route, ctx) {
  return siteScreen(container, { ...DESK, nav: subnav('manage/plans'), path: 'manage/plans', title: t('plan_list_title') }, { ...route, ctx }, async (box, siteId) => {
    const editor = policy.can('plan.edit', { siteId });
    const plans = await api.get(`/api/sites/${siteId}/plans`);
    if (editor) box.append(h('a', { class: 'btn primary big', id: 'plan-new', href: `#/manage/plans/new${qs({ site: siteId })}` }, t('plan_new')));
    else box.append(h('p', { class: 'hint', id: 'plan-readonly' }, t('plan_readonly')));
    if (!plans.length) {
      box.append(h('p', { class: 'hint', id: 'plan-empty' }, t('plan_none')));
      return;
    }
    // Running plans first, then paused ones, each by name.
    plans.sort((a, b) => Number(b.active) - Number(a.active) || pick(a).localeCompare(pick(b)));
    box.append(h('ul', { class: 'list', id: 'plan-list' }, plans.map((p) => row(p, editor, ctx))));
  });
}

function row(plan, editor, ctx) {
  const name = pick(plan);
  const err = h('p', { class: 'error', role: 'alert' });
  const focus = pick(plan, 'focus');
  const li = h('li', { class: `card plan-row ${plan.active ? '' : 'paused'}`, 'data-plan': plan.id },
    h('p', { class: 'task-line' },
      h('strong', {}, name),
      plan.active ? h('span', { class: 'badge st-sent' }, t('plan_active')) : h('span', { class: 'badge st-pending' }, t('plan_paused'))),
    h('p', { class: 'plan-when' }, scheduleText(plan.schedule)),
    h('p', { class: 'hint' }, t('plan_n_checkpoints', { n: plan.checkpoint_ids.length }), ' · ', plan.assignee_name ? t('plan_assignee_is', { name: plan.assignee_name }) : t('plan_no_assignee')),
    focus ? h('p', { class: 'plan-focus' }, t('plan_focus_is', { m: focus })) : null);
  const actions = h('div', { class: 'row' },
    h('a', { class: 'btn small', href: `#/manage/plans/${plan.id}`, id: `plan-open-${plan.id}`, 'aria-label': (editor ? t('plan_edit_of', { name }) : t('plan_view_of', { name })) }, editor ? t('plan_edit') : t('plan_view')));
  if (editor) {
    actions.append(h('button', {
      type: 'button', class: 'btn small', id: `plan-toggle-${plan.id}`,
      'aria-label': plan.active ? t('plan_pause_of', { name }) : t('plan_resume_of', { name }),
      onclick: async (e) => {
        e.target.disabled = true;
        const done = await act(err, () => api.patch(`/api/plans/${plan.id}`, { active: !plan.active }));
        e.target.disabled = false;
        if (done) { toast(done.active ? t('plan_resumed_toast') : t('plan_paused_toast')); ctx.rerender(); }
      },
    }, plan.active ? t('plan_pause') : t('plan_resume')));
  }
  li.append(actions, err);
  return li;
}
