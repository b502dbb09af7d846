// The checkpoint: one tap "all fine", or each item ok / problem / n.a. grouped by method,
// plus problems the checklist does not cover ("other problem"), each with its own photos.
import * as db from '../db.js';
import { pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import * as policy from '../policy.js';
import * as store from '../store.js';
import * as vocab from '../vocab.js';
import { RESULT } from '../vocab.js';
import { clear, h, toast } from './dom.js';
import { problemFields } from './problem.js';

export async function render(container, { params }, ctx) {
  const checkpointId = Number(params[0]);
  const checkpoint = await db.get('checkpoints', checkpointId);
  let draft = await db.getDraft('visit');
  if (!checkpoint || !draft || draft.checkpoint_id !== checkpointId) {
    container.append(h('p', { class: 'error', role: 'alert' }, t('scan_first')), h('a', { class: 'btn', href: '#/scan' }, t('nav_scan')));
    return null;
  }
  draft.extra = draft.extra || []; // problems outside the checklist (a draft of an older app has none)
  draft.residents = draft.residents || []; // what residents said here ("ask")
  const checklist = await patrol.checklistFor(checkpoint);
  if (!checklist) {
    container.append(h('p', { class: 'error', role: 'alert' }, t('no_checklist')));
    return null;
  }
  const urls = [];
  let saving = false;
  // Storage trouble is said here, next to the Save button, until it is over.
  const notice = h('p', { class: 'error', role: 'alert', id: 'save-notice' });
  const warn = (key, vars) => {
    notice.textContent = key ? t(key, vars) : '';
    notice.dataset.key = key;
    if (key) notice.scrollIntoView?.({ block: 'center' });
  };

  // On every change: a reload loses nothing. When the phone is full the draft cannot be
  // written; the form goes on working from memory and says so until a write succeeds.
  const persist = async () => {
    try {
      await db.putDraft('visit', draft);
      if (notice.dataset.key?.startsWith('storage_full')) warn(''); // there is room again
    } catch (e) {
      if (!db.isStorageFull(e)) throw e;
      if (!notice.textContent) warn('storage_full_form');
    }
  };

  async function save(allFine) {
    if (saving || !checkExtras() || !checkComplaint() || !checkResidents()) return;
    saving = true;
    try {
      await persist();
      const also = patrol.residentNoteRecords(draft);
      if (draft.complaint?.take && (draft.resident_note || '').trim()) also.push(patrol.complaintRecord(draft, draft.complaint));
      await patrol.saveVisit(draft, checklist, { allFine, also });
    } catch (e) {
      saving = false;
      // Refused as a whole (one transaction): nothing of it is on the phone, nothing saved
      // before is touched, and the form stays as it is for another try.
      if (db.isStorageFull(e)) warn('storage_full_not_saved');
      else warn('saving_failed', { m: e.message });
      return;
    }
    toast(t('saved'));
    // A round that follows a plan lands on home, which offers the next checkpoint of the plan.
    ctx.go(store.get().round && !store.get().round.plan_id ? 'scan' : '');
  }

  // "All fine" is only offered while nothing is wrong: no failed item, no other problem.
  // In its place the count of problems noted, in the same space: marking a problem never
  // moves the checklist under the patroller's finger.
  const problems = () => Object.values(draft.results).filter((r) => r.result === RESULT.FAIL).length + draft.extra.length;
  const allFineBtn = h(
    'button',
    { type: 'button', class: 'btn ok huge', id: 'all-fine', 'aria-describedby': 'all-fine-hint', onclick: () => save(true) },
    `✓ ${t('all_fine')}`,
  );
  const fine = h('div', { class: 'quick-fine' }, allFineBtn, h('p', { class: 'hint', id: 'all-fine-hint' }, t('all_fine_hint')));
  const noted = h('p', { class: 'quick-noted', id: 'problems-noted', role: 'status' });
  const refreshAllFine = () => {
    const n = problems();
    fine.classList.toggle('off', n > 0);
    allFineBtn.disabled = n > 0;
    noted.classList.toggle('off', n === 0);
    noted.textContent = n ? t('problems_noted', { n }) : '';
  };
  // "Other problem" stays in reach of the thumb wherever the patroller is in the checklist: it
  // sticks to the bottom of the screen (above the navigation) until its own place, after the
  // checklist and the other problems, scrolls into view. A new problem opens there, focused.
  const addExtraBtn = h('button', {
    type: 'button', class: 'btn big other', id: 'add-extra',
    onclick: async () => {
      draft.extra.push(patrol.newExtraFinding());
      await persist();
      drawExtras();
      const n = draft.extra.length - 1;
      document.getElementById(`extra-${n}`)?.scrollIntoView({ block: 'start' });
      document.getElementById(`extra-cat-${n}`)?.focus({ preventScroll: true });
    },
  }, `＋ ${t('extra_add')}`);
  const head = h(
    'div',
    { class: 'cp-head' },
    h('h1', {}, pick(checkpoint)),
    h('p', { class: 'hint' }, `${vocab.label('checkpoint_kinds', checkpoint.kind)} · ${checkpoint.short_code || ''}`),
    h('div', { class: 'quick' }, fine, noted),
  );

  function itemBlock(item) {
    const box = h('div', { class: 'item', id: `item-${item.id.replace('.', '-')}` });
    const draw = () => {
      clear(box);
      const r = draft.results[item.id] || {};
      const text = pick(item.text);
      box.append(h('p', { class: 'item-text', id: `t-${item.id}` }, text));
      // Every way of checking the item, not only the one it is grouped under (看 听 摸 问).
      if ((item.methods || []).length > 1) {
        box.append(h('p', { class: 'item-methods', 'aria-label': t('item_methods_label') },
          ...item.methods.map((m) => h('span', { class: `method m-${m}`, 'data-method': m }, vocab.label('methods', m)))));
      }
      const group = h('div', { class: 'seg', role: 'group', 'aria-labelledby': `t-${item.id}` });
      for (const [value, label] of vocab.options('results')) {
        group.append(
          h(
            'button',
            {
              type: 'button',
              class: `seg-btn ${value} ${r.result === value ? 'on' : ''}`,
              'aria-pressed': r.result === value ? 'true' : 'false',
              'data-item': item.id,
              'data-result': value,
              onclick: async () => {
                const cur = draft.results[item.id] || {};
                draft.results[item.id] = { ...cur, result: value };
                if (value === RESULT.FAIL && !cur.finding_id) draft.results[item.id].finding_id = db.uuid();
                await persist();
                draw();
                refreshAllFine();
              },
            },
            label,
          ),
        );
      }
      box.append(group);
      if (r.result === RESULT.FAIL) box.append(failDetails(item, draw));
    };
    draw();
    return box;
  }

  function failDetails(item, redraw) {
    const key = item.id.replace('.', '-');
    return h('div', { class: 'fail-details' }, problemFields({
      current: () => draft.results[item.id],
      textField: 'note',
      ids: { text: `note-${key}`, photo: `photo-${key}`, major: `major-${key}`, dealt: `dealt-${key}`, spot: `spot-${key}` },
      persist, redraw, warn, urls,
    }));
  }

  // --- problems outside the checklist ("other problem"), each its own finding -------------
  const extraList = h('div', { id: 'extra-list' });
  const drawExtras = () => {
    clear(extraList);
    draft.extra.forEach((x, n) => extraList.append(extraBlock(x, n)));
    refreshAllFine();
  };

  function choice(id, options, value) {
    return h('select', { id }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  }

  function extraBlock(x, n) {
    const set = async (changes) => {
      Object.assign(x, changes);
      await persist();
    };
    // What this problem still needs, beside it (the same words as under the Save button).
    const err = h('p', { class: 'error', id: `extra-error-${n}` });
    const category = choice(`extra-cat-${n}`, [['', t('extra_choose_category')], ...vocab.options('categories')], x.category);
    const route = choice(`extra-route-${n}`, [['', t('extra_route_after_category')], ...vocab.options('routes')], x.route);
    category.addEventListener('change', async () => {
      const changes = { category: category.value };
      // Until the patroller picks a route, it follows the category's usual one.
      if (!x.route_chosen) changes.route = vocab.defaultRoute(category.value);
      route.value = changes.route ?? x.route;
      category.removeAttribute('aria-invalid');
      err.textContent = '';
      await set(changes);
    });
    route.addEventListener('change', () => set({ route: route.value, route_chosen: !!route.value }));
    const fields = problemFields({
      current: () => x,
      textField: 'description',
      ids: { text: `extra-desc-${n}`, photo: `extra-photo-${n}`, major: `extra-major-${n}`, dealt: `extra-dealt-${n}`, spot: `extra-spot-${n}` },
      rows: 3, persist, redraw: drawExtras, warn, urls,
      onText: () => { err.textContent = ''; },
    });
    return h('fieldset', { class: 'extra', id: `extra-${n}`, 'data-finding': x.finding_id },
      h('legend', {}, t('extra_n', { n: n + 1 })),
      err,
      h('label', { for: `extra-cat-${n}` }, t('extra_category')), category,
      h('label', { for: `extra-route-${n}` }, t('extra_route')), route,
      fields,
      h('button', {
        type: 'button', class: 'btn', id: `extra-remove-${n}`,
        onclick: async () => {
          draft.extra = draft.extra.filter((y) => y !== x);
          for (const r of draft.residents) if (r.finding_id === x.finding_id) r.finding_id = null;
          await persist();
          await db.deleteDraftPhotos(x.photo_ids);
          drawExtras();
          drawResidents();
          addExtraBtn.focus();
        },
      }, t('extra_remove', { n: n + 1 })));
  }

  const extras = h('section', { class: 'extras', 'aria-label': t('extra_title') }, extraList);

  // --- ask: what residents said here, each its own record; one tap makes it an other problem ----
  const residentList = h('div', { id: 'resident-list' });
  const drawResidents = () => {
    clear(residentList);
    draft.residents.forEach((x, n) => residentList.append(residentBlock(x, n)));
  };

  function residentBlock(x, n) {
    const set = async (changes) => {
      Object.assign(x, changes);
      await persist();
    };
    const said = h('textarea', { id: `resident-said-${n}`, rows: 3, maxlength: 4000, oninput: (e) => set({ said: e.target.value }) });
    said.value = x.said || '';
    const unit = h('input', { id: `resident-unit-${n}`, type: 'text', maxlength: 64, autocomplete: 'off', value: x.unit || '', oninput: (e) => set({ unit: e.target.value }) });
    const contact = h('input', { id: `resident-contact-${n}`, type: 'tel', maxlength: 120, autocomplete: 'off', value: x.contact || '', oninput: (e) => set({ contact: e.target.value }) });
    const personal = h('div', { class: 'consent-fields', hidden: !x.consent },
      h('label', { for: `resident-unit-${n}` }, t('res_unit')), unit,
      h('label', { for: `resident-contact-${n}` }, t('res_contact')), contact);
    // Without consent the unit and contact are not kept, not even on this phone.
    const consent = h('input', {
      type: 'checkbox', id: `resident-consent-${n}`, checked: !!x.consent,
      onchange: async (e) => {
        personal.hidden = !e.target.checked;
        if (!e.target.checked) { unit.value = ''; contact.value = ''; }
        await set(e.target.checked ? { consent: true } : { consent: false, unit: '', contact: '' });
      },
    });
    const linkedTo = draft.extra.findIndex((y) => y.finding_id === x.finding_id);
    const toFinding = linkedTo >= 0
      ? h('p', { class: 'resident-linked', id: `resident-linked-${n}` }, `✓ ${t('res_linked', { n: linkedTo + 1 })}`)
      : h('button', {
        type: 'button', class: 'btn big', id: `resident-finding-${n}`,
        onclick: async () => {
          if (!(x.said || '').trim()) {
            said.setAttribute('aria-invalid', 'true');
            said.focus();
            return;
          }
          // An other problem in the resident's words; the patroller still chooses its category.
          const f = { ...patrol.newExtraFinding(), description: x.said.trim() };
          draft.extra.push(f);
          x.finding_id = f.finding_id;
          await persist();
          drawExtras();
          drawResidents();
          const k = draft.extra.length - 1;
          document.getElementById(`extra-${k}`)?.scrollIntoView({ block: 'start' });
          document.getElementById(`extra-cat-${k}`)?.focus({ preventScroll: true });
        },
      }, t('res_to_finding'));
    return h('fieldset', { class: 'resident', id: `resident-${n}`, 'data-note': x.note_id },
      h('legend', {}, t('res_n', { n: n + 1 })),
      h('label', { for: `resident-said-${n}` }, t('res_said')), said,
      h('label', { class: 'check', for: `resident-consent-${n}` }, consent, ' ', t('res_consent')),
      personal,
      toFinding,
      h('button', {
        type: 'button', class: 'btn', id: `resident-remove-${n}`,
        onclick: async () => {
          draft.residents = draft.residents.filter((y) => y !== x);
          await persist();
          drawResidents();
          addResidentBtn.focus();
        },
      }, t('res_remove', { n: n + 1 })));
  }

  const addResidentBtn = h('button', {
    type: 'button', class: 'btn big', id: 'add-resident',
    onclick: async () => {
      draft.residents.push(patrol.newResidentNote());
      await persist();
      drawResidents();
      document.getElementById(`resident-said-${draft.residents.length - 1}`)?.focus();
    },
  }, `＋ ${t('res_add')}`);
  const residentsBox = h('section', { class: 'residents', 'aria-labelledby': 'residents-title' },
    h('h2', { id: 'residents-title' }, t('res_title')),
    h('p', { class: 'hint' }, t('res_hint')),
    residentList, addResidentBtn);

  /** The first other problem that cannot be sent yet: message shown, field marked and focused. */
  function checkComplaint() {
    const c = draft.complaint;
    if (!c?.take) return true;
    if ((draft.resident_note || '').trim() && (c.complainant || '').trim()) return true;
    visitError.textContent = t('cmp_take_needs');
    return false;
  }

  /** A resident note with a unit or contact but no words would be dropped: ask for the words. */
  function checkResidents() {
    for (const [n, x] of draft.residents.entries()) {
      if ((x.said || '').trim() || !((x.unit || '').trim() || (x.contact || '').trim())) continue;
      visitError.textContent = t('res_need_said', { n: n + 1 });
      const field = document.getElementById(`resident-said-${n}`);
      field?.setAttribute('aria-invalid', 'true');
      field?.focus();
      return false;
    }
    return true;
  }

  function checkExtras() {
    for (const [n, x] of draft.extra.entries()) {
      const missing = patrol.extraProblem(x);
      if (!missing) continue;
      visitError.textContent = t(`extra_need_${missing}`, { n: n + 1 });
      const local = document.getElementById(`extra-error-${n}`);
      if (local) local.textContent = visitError.textContent;
      const field = document.getElementById(`extra-${missing === 'category' ? 'cat' : 'desc'}-${n}`);
      field?.setAttribute('aria-invalid', 'true');
      field?.focus();
      return false;
    }
    visitError.textContent = '';
    return true;
  }
  const visitError = h('p', { class: 'error', role: 'alert', id: 'visit-error' });

  const groups = patrol.groupByMethod(checklist.body.items);
  const form = h('form', { class: 'checklist', onsubmit: (ev) => { ev.preventDefault(); save(false); } });
  for (const [method, items] of groups) {
    form.append(h('fieldset', {}, h('legend', {}, vocab.label('methods', method)), items.map(itemBlock)));
  }
  const visitNote = h('textarea', { id: 'visit-note', rows: 2, oninput: (e) => { draft.note = e.target.value; persist(); } });
  visitNote.value = draft.note || '';
  const resident = h('textarea', { id: 'resident-note', rows: 3, oninput: (e) => { draft.resident_note = e.target.value; persist(); } });
  resident.value = draft.resident_note || '';
  form.append(
    extras,
    h('div', { class: 'cp-bar' }, addExtraBtn),
    residentsBox,
    h('label', { for: 'resident-note' }, t('resident_note')),
    resident,
    complaintBox(),
    h('label', { for: 'visit-note' }, t('visit_note')),
    visitNote,
    h('p', { class: 'hint' }, t('unmarked_ok')),
    visitError,
    notice,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary big', id: 'save-visit' }, t('save')),
      h('button', { type: 'button', class: 'btn big', id: 'cancel-visit', onclick: async () => { await discard(); ctx.go(store.get().round ? 'scan' : ''); } }, t('cancel'))),
  );
  container.append(head, form);
  drawExtras();
  drawResidents();

  async function discard() {
    await patrol.discardVisit();
  }

  // What the resident said can be taken as a complaint (接诉) by those who may take one:
  // who complained and their unit; the resident note is its content, the visit its place.
  function complaintBox() {
    if (!policy.can('complaint.receive', { siteId: draft.site_id })) return null;
    const c = draft.complaint || (draft.complaint = { take: false, complainant: '', unit: '' });
    const fields = h('div', { class: 'complaint-fields', hidden: !c.take },
      h('label', { for: 'complaint-complainant' }, t('cmp_complainant')),
      h('input', { id: 'complaint-complainant', type: 'text', maxlength: 120, value: c.complainant, oninput: (e) => { c.complainant = e.target.value; persist(); } }),
      h('label', { for: 'complaint-unit' }, t('cmp_unit')),
      h('input', { id: 'complaint-unit', type: 'text', maxlength: 64, value: c.unit, oninput: (e) => { c.unit = e.target.value; persist(); } }));
    return h('div', { class: 'complaint-box' },
      h('label', { class: 'check', for: 'complaint-take' },
        h('input', { type: 'checkbox', id: 'complaint-take', checked: c.take, onchange: (e) => { c.take = e.target.checked; fields.hidden = !c.take; persist(); } }),
        ' ', t('cmp_take_on_patrol')),
      fields);
  }

  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}
