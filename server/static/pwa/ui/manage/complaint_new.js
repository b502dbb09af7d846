// Taking a resident's complaint (《顾客投诉登记表》): who, how, where, what, how they want the reply;
// open complaints for the same unit or place are shown before it is saved.
import * as api from '../../api.js';
import { uuid } from '../../db.js';
import { sha256Hex } from '../../photos.js';
import { pick, t } from '../../i18n.js';
import * as vocab from '../../vocab.js';
import { h } from '../dom.js';
import { fetchAll, qs, select, showFieldErrors, siteScreen, textField } from '../online.js';
import { row } from './complaints.js';
import { AREA, cmpnav } from './complaints_nav.js';

export function render(container, route, ctx) {
  return siteScreen(container, { ...AREA('complaint.receive'), nav: cmpnav('complaints/new'), path: 'complaints/new', title: t('cmp_new_title') }, { ...route, ctx }, async (box, siteId) => {
    const cps = (await fetchAll(`/api/checkpoints/${qs({ site_id: siteId })}`)).filter((c) => c.active !== false);
    const itemField = itemPicker(siteId, cps);
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
      itemField,
      field('cmp-content', 'content', t('cmp_content'), h('textarea', { id: 'cmp-content', rows: 4, maxlength: 5000, required: true })),
      field('cmp-photo-files', 'photo_ids', t('cmp_photos'), h('input', { type: 'file', id: 'cmp-photo-files', accept: 'image/jpeg,image/png,image/webp', multiple: true })),
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
    form.querySelector('#cmp-checkpoint').addEventListener('change', (e) => itemField.show(e.target.value));
    // Each picked file gets its id once, so a retried save uploads it again under the same id (idempotent).
    let picked = [];
    form.querySelector('#cmp-photo-files').addEventListener('change', (e) => {
      picked = [...e.target.files].map((file) => ({ id: uuid(), file }));
    });
    const uploadPhotos = async () => {
      for (const p of picked) {
        const bytes = await p.file.arrayBuffer();
        await api.request('PUT', `/api/photos/${p.id}`, { body: bytes, headers: { 'Content-Type': p.file.type || 'image/jpeg', 'X-Content-SHA256': await sha256Hex(bytes) } });
      }
      return picked.map((p) => p.id);
    };
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
      if (val('cmp-checkpoint') && val('cmp-item')) body.item_id = val('cmp-item');
      try {
        body.photo_ids = await uploadPhotos();
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

/**
 * The checklist item the complaint is about, from the chosen checkpoint's own checklist in the
 * reader's language (optional; hidden until a checkpoint is chosen). Naming it lets the complaint
 * be compared with the last patrol of that item (the patrolled-as-fine signal).
 * `show(checkpointId, itemId)` fills it for a checkpoint and picks an item.
 */
function itemPicker(siteId, cps) {
  const sel = h('select', { id: 'cmp-item', name: 'item_id', 'aria-describedby': 'cmp-item-hint' });
  const box = h('div', { class: 'field', id: 'cmp-item-field', hidden: true },
    h('label', { for: 'cmp-item' }, t('cmp_item')), sel,
    h('p', { class: 'hint', id: 'cmp-item-hint' }, t('cmp_item_hint')),
    h('div', { class: 'error field-error', 'data-error-for': 'item_id' }));
  let lists = null; // the site's checklists, fetched once, when first needed
  let asked = 0;
  box.show = async (checkpointId, itemId = '') => {
    const ask = ++asked;
    const cp = cps.find((c) => String(c.id) === String(checkpointId));
    sel.replaceChildren();
    box.hidden = true;
    if (!cp) return;
    try {
      lists ||= await api.get(`/api/sites/${siteId}/checklists/`);
    } catch {
      return; // the item is optional: without the checklist the complaint is still taken
    }
    if (ask !== asked) return; // another checkpoint was chosen meanwhile
    const items = lists.find((v) => v.kind === cp.kind)?.body?.items || [];
    if (!items.length) return;
    sel.replaceChildren(...[['', t('cmp_no_item')], ...items.map((i) => [i.id, pick(i.text)])]
      .map(([v, text]) => h('option', { value: v, selected: v === itemId }, text)));
    box.hidden = false;
  };
  return box;
}
