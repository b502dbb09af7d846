// Taking a resident's complaint (《顾客投诉登记表》): who, how, where, what, how they want the reply;
// open complaints for the same unit or place are shown before it is saved.
import * as api from '../../api.js';
import { uuid } from '../../db.js';
import { pick, t } from '../../i18n.js';
import * as vocab from '../../vocab.js';
import { h } from '../dom.js';
import { fetchAll, qs, select, showFieldErrors, siteScreen, textField } from '../online.js';
import { row } from './complaints.js';
import { AREA, cmpnav } from './complaints_nav.js';

export function render(container, route, ctx) {
  return siteScreen(container, { ...AREA('complaint.receive'), nav: cmpnav('complaints/new'), path: 'complaints/new', title: t('cmp_new_title') }, { ...route, ctx }, async (box, siteId) => {
    const cps = (await fetchAll(`/api/checkpoints/${qs({ site_id: siteId })}`)).filter((c) => c.active !== false);
    // One id per form: pressing Save twice (or again after a lost answer) takes the complaint once.
    const clientId = uuid();
    const err = h('p', { class: 'error', id: 'cmp-error', role: 'alert' });
    const dupes = h('section', { class: 'card', id: 'cmp-duplicates', hidden: true, 'aria-live': 'polite' });
    const field = (id, name, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control,
      h('div', { class: 'error field-error', 'data-error-for': name }));
    const form = h('form', { class: 'card', id: 'cmp-form', novalidate: true },
      h('div', { class: 'filter-grid' },
        select('cmp-channel', t('cmp_channel'), vocab.options('complaint_channels'), 'visit', { name: 'channel' }),
        select('cmp-reply-channel', t('cmp_reply_channel'), [['', t('cmp_same_channel')], ...vocab.options('complaint_channels')], '', { name: 'reply_channel' }),
        select('cmp-kind', t('cmp_kind'), vocab.options('complaint_kinds'), 'ordinary', { name: 'kind' }),
        select('cmp-category', t('desk_category'), [['', t('cmp_no_category')], ...vocab.options('categories')], '', { name: 'category' })),
      textField('cmp-complainant', 'complainant', t('cmp_complainant'), '', { required: true, maxlength: 120 }),
      h('div', { class: 'filter-grid' },
        textField('cmp-unit', 'unit', t('cmp_unit'), '', { maxlength: 64, placeholder: t('cmp_unit_hint') }),
        select('cmp-checkpoint', t('checkpoint'), [['', t('cmp_no_place')], ...cps.map((c) => [c.id, `${pick(c)} (${c.short_code})`])], '', { name: 'checkpoint_id' })),
      field('cmp-content', 'content', t('cmp_content'), h('textarea', { id: 'cmp-content', rows: 4, maxlength: 5000, required: true })),
      textField('cmp-contact', 'contact', t('cmp_contact'), '', { maxlength: 200, autocomplete: 'off' }),
      h('label', { class: 'check', for: 'cmp-consent' }, h('input', { type: 'checkbox', id: 'cmp-consent' }), ' ', t('cmp_consent')),
      h('p', { class: 'hint' }, t('cmp_deadline_rule')),
      err,
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary big', id: 'cmp-save' }, t('cmp_save'))));
    const val = (id) => form.querySelector(`#${id}`).value.trim();
    const checkDupes = async () => {
      const unit = val('cmp-unit');
      const cp = val('cmp-checkpoint');
      if (!unit && !cp) { dupes.hidden = true; return; }
      try {
        const found = await api.get(`/api/complaints/duplicates${qs({ site_id: siteId, unit, checkpoint_id: cp })}`);
        dupes.replaceChildren(h('h2', {}, t('cmp_duplicates', { n: found.length })), h('ul', { class: 'list' }, found.map((c) => h('li', {}, row(c)))));
        dupes.hidden = !found.length;
      } catch {
        dupes.hidden = true; // the check is a help, not a gate
      }
    };
    form.querySelector('#cmp-unit').addEventListener('change', checkDupes);
    form.querySelector('#cmp-checkpoint').addEventListener('change', checkDupes);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const save = form.querySelector('#cmp-save');
      save.disabled = true;
      const body = {
        site_id: siteId,
        client_id: clientId,
        channel: val('cmp-channel'),
        kind: val('cmp-kind'),
        category: val('cmp-category'),
        complainant: val('cmp-complainant'),
        unit: val('cmp-unit'),
        content: val('cmp-content'),
        contact: val('cmp-contact'),
        contact_consent: form.querySelector('#cmp-consent').checked,
      };
      if (val('cmp-reply-channel')) body.reply_channel = val('cmp-reply-channel');
      if (val('cmp-checkpoint')) body.checkpoint_id = Number(val('cmp-checkpoint'));
      try {
        const saved = await api.post('/api/complaints/', body);
        ctx.go(`complaints/${saved.id}`);
      } catch (ex) {
        showFieldErrors(form, err, ex);
        if (ex.code === 'consent_required') err.textContent = t('cmp_consent_needed');
      } finally {
        save.disabled = false;
      }
    });
    box.append(dupes, form);
  });
}
