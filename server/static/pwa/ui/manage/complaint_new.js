// Taking a resident's complaint (《顾客投诉登记表》): who, how, where, what, how they want the reply;
// open complaints for the same unit or place are shown before it is saved.
import * as api from '../../api.js';
import { uuid } from '../../db.js';
import { sha256Hex } from '../../photos.js';
import { pick, t } from '../../i18n.js';
import * as vocab from '../../vocab.js';
import { h } from '../dom.js';
import { deskDraft, draftNote, fetchAll, qs, select, showFieldErrors, siteScreen, textField } from '../online.js';
import { row } from './complaints.js';
import { AREA, cmpnav } from './complaints_nav.js';

export function render(container, route, ctx) {
  return siteScreen(container, { ...AREA('complaint.receive'), nav: cmpnav('complaints/new'), path: 'complaints/new', title: t('cmp_new_title') }, { ...route, ctx }, async (box, siteId) => {
    const cps = (await fetchAll(`/api/checkpoints/${qs({ site_id: siteId })}`)).filter((c) => c.active !== false);
    const itemField = itemPicker(siteId, cps);
    // What was typed and not saved comes back after a reload or the language switch (cleared on save or cancel).
    const draft = await deskDraft(`complaint:${siteId}`);
    const kept = draft.value?.v === DRAFT_VERSION ? draft.value : null;
    // One id per form, kept with its draft: pressing Save twice (or again after a lost answer, or
    // after a reload) takes the complaint once.
    const clientId = kept?.client_id || uuid();
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
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'btn primary big', id: 'cmp-save' }, t('cmp_save')),
        h('button', {
          type: 'button', class: 'btn big', id: 'cmp-cancel',
          onclick: async () => { await draft.clear(); ctx.go(`complaints${qs({ site: siteId })}`); },
        }, t('desk_form_cancel'))));
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
    // The item a kept draft named, until the checkpoint's checklist has loaded into the picker.
    let keptItem = kept?.item || '';
    form.querySelector('#cmp-checkpoint').addEventListener('change', (e) => { keptItem = ''; itemField.show(e.target.value); });
    // Each picked file gets its id once, so a retried save uploads it again under the same id (idempotent).
    let picked = [];
    form.querySelector('#cmp-photo-files').addEventListener('change', (e) => {
      picked = [...e.target.files].map((file) => ({ id: uuid(), file }));
    });
    // The form as typed (the picked photos' files with it), and the same before anyone typed.
    const snapshot = () => ({
      ...Object.fromEntries(FIELDS.map((id) => [id, form.querySelector(`#${id}`).value])),
      item: form.querySelector('#cmp-item').options.length ? form.querySelector('#cmp-item').value : keptItem,
      consent: form.querySelector('#cmp-consent').checked,
      photos: picked,
    });
    const blank = JSON.stringify({ ...snapshot(), item: '' });
    if (kept) {
      restore(form, kept, (files) => { picked = files; });
      if (val('cmp-checkpoint')) itemField.show(val('cmp-checkpoint'), keptItem);
    }
    const persist = () => {
      const now = snapshot();
      // Files are not JSON: an empty form with no photo is no draft.
      if (JSON.stringify(now) === blank && !picked.length) draft.drop();
      else draft.save({ v: DRAFT_VERSION, client_id: clientId, ...now });
    };
    form.addEventListener('input', persist);
    form.addEventListener('change', persist);
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
        await draft.clear();
        ctx.go(`complaints/${saved.id}`);
      } catch (ex) {
        showFieldErrors(form, err, ex);
        if (ex.code === 'consent_required') err.textContent = t('cmp_consent_needed');
      } finally {
        save.disabled = false;
      }
    });
    if (kept) box.append(draftNote('cmp-draft', draft, () => ctx.rerender()));
    box.append(dupes, form);
    if (kept && (val('cmp-unit') || val('cmp-checkpoint'))) checkDupes();
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

const DRAFT_VERSION = 1; // the shape of a kept draft (a draft of another shape is not brought back)
// The form's fields by id, as a draft keeps them.
const FIELDS = ['cmp-channel', 'cmp-reply-channel', 'cmp-kind', 'cmp-category', 'cmp-complainant', 'cmp-unit', 'cmp-checkpoint', 'cmp-content', 'cmp-contact'];

/** Put a kept draft back into the form: its fields, the consent box, and the photos picked (`setPicked`). */
function restore(form, kept, setPicked) {
  for (const id of FIELDS) {
    const el = form.querySelector(`#${id}`);
    // A choice that is no longer offered (a checkpoint retired since) stays at the form's default.
    if (typeof kept[id] === 'string' && (el.tagName !== 'SELECT' || [...el.options].some((o) => o.value === kept[id]))) el.value = kept[id];
  }
  form.querySelector('#cmp-consent').checked = !!kept.consent;
  const photos = (kept.photos || []).filter((p) => p && p.file instanceof Blob);
  if (!photos.length) return;
  setPicked(photos);
  // The file box shows the photos again (DataTransfer: every current browser; if not, they are still sent).
  try {
    const files = new DataTransfer();
    for (const p of photos) files.items.add(p.file instanceof File ? p.file : new File([p.file], 'photo', { type: p.file.type }));
    form.querySelector('#cmp-photo-files').files = files.files;
  } catch (e) {
    console.warn('picked photos kept but not shown', e);
  }
}
