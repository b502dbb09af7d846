// Legal holds: what is kept from purge (a whole site, a month, or a task) and why; placing and releasing one.
import * as api from '../../api.js';
import { t } from '../../i18n.js';
import * as policy from '../../policy.js';
import { h, toast } from '../dom.js';
import { showFieldErrors, siteScreen, siteZone, textField, writeButton } from '../online.js';
import { frame, when } from './nav.js';

function scope(hold) {
  if (hold.task_id) return t('arc_hold_scope_task', { id: hold.task_id });
  if (hold.month) return t('arc_hold_scope_month', { m: hold.month });
  return t('arc_hold_scope_site');
}

export function render(container, route, ctx) {
  return siteScreen(container, frame('archive/holds', 'arc_holds_title', h('p', { class: 'hint' }, t('arc_holds_hint'))), { ...route, ctx }, async (box, siteId) => {
    const holds = await api.get(`/api/archive/sites/${siteId}/holds`);
    const filer = policy.can('archive.file', { siteId });
    const zone = siteZone(siteId);
    if (filer) box.append(holdForm(siteId, ctx));
    const err = h('p', { class: 'error', role: 'alert', id: 'hold-error' });
    const release = (hold) => writeButton({ class: 'btn small', id: `release-${hold.id}`, 'aria-label': t('arc_hold_release_of', { id: hold.id }) }, t('arc_hold_release'), err,
      () => api.post(`/api/archive/holds/${hold.id}/release`), () => {
        toast(t('arc_hold_released_toast'));
        ctx.rerender();
      });
    // Holds in force first, newest first; released ones after them.
    holds.sort((a, b) => Number(!!a.released_at) - Number(!!b.released_at) || b.id - a.id);
    box.append(err, holds.length
      ? h('ul', { class: 'list', id: 'hold-list' }, holds.map((hold) => h('li', { class: `card hold ${hold.released_at ? 'released' : ''}`, 'data-hold': hold.id },
        h('p', { class: 'task-line' },
          h('strong', {}, `#${hold.id} ${scope(hold)}`),
          hold.released_at ? null : h('span', { class: 'badge major' }, t('arc_hold_active'))),
        h('p', {}, t('reason', { m: hold.reason })),
        h('p', { class: 'hint' }, t('arc_hold_placed', { t: when(hold.created_at, zone) }), hold.released_at ? ` · ${t('arc_hold_released', { t: when(hold.released_at, zone) })}` : ''),
        filer && !hold.released_at ? release(hold) : null)))
      : h('p', { class: 'hint', id: 'hold-none' }, t('arc_no_holds')));
  });
}

function holdForm(siteId, ctx) {
  const err = h('p', { class: 'error', role: 'alert', id: 'hold-form-error' });
  const form = h('form', { class: 'card', id: 'hold-form', novalidate: true },
    h('h2', {}, t('arc_hold_add')),
    h('div', { class: 'filter-grid' },
      textField('hold-month', 'month', t('arc_hold_month'), '', { placeholder: 'YYYY-MM', inputmode: 'numeric', maxlength: 7 }),
      textField('hold-task', 'task_id', t('arc_hold_task'), '', { inputmode: 'numeric' })),
    textField('hold-reason', 'reason', t('arc_hold_reason'), '', { required: true, maxlength: 2000 }),
    err,
    h('button', { type: 'submit', class: 'btn primary', id: 'hold-submit' }, t('arc_hold_add')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const val = (id) => form.querySelector(`#${id}`).value.trim();
    const body = { reason: val('hold-reason') };
    if (val('hold-month')) body.month = val('hold-month');
    // A number the server can check; anything else goes as typed, and the server says what is wrong.
    if (val('hold-task')) body.task_id = /^\d+$/.test(val('hold-task')) ? Number(val('hold-task')) : val('hold-task');
    const button = form.querySelector('#hold-submit');
    button.disabled = true;
    try {
      await api.post(`/api/archive/sites/${siteId}/holds`, body);
      toast(t('arc_hold_added_toast'));
      ctx.rerender();
    } catch (ex) {
      showFieldErrors(form, err, ex);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
