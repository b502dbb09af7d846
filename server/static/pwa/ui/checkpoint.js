// The checkpoint: one tap "all fine", or each item ok / problem / n.a. grouped by method,
// plus problems the checklist does not cover ("other problem"), each with its own photos.
import * as db from '../db.js';
import { pick, t } from '../i18n.js';
import * as patrol from '../patrol.js';
import { addPhoto } from '../photos.js';
import * as store from '../store.js';
import { clear, h, photoUrl, toast } from './dom.js';

const RESULTS = [['ok', 'res_ok'], ['fail', 'res_fail'], ['na', 'res_na']];

export async function render(container, { params }, ctx) {
  const checkpointId = Number(params[0]);
  const checkpoint = await db.get('checkpoints', checkpointId);
  let draft = await db.getDraft('visit');
  if (!checkpoint || !draft || draft.checkpoint_id !== checkpointId) {
    container.append(h('p', { class: 'error', role: 'alert' }, t('scan_first')), h('a', { class: 'btn', href: '#/scan' }, t('nav_scan')));
    return null;
  }
  draft.extra = draft.extra || []; // problems outside the checklist (a draft of an older app has none)
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
    if (saving || !checkExtras()) return;
    saving = true;
    try {
      await persist();
      await patrol.saveVisit(draft, checklist, { allFine });
    } catch (e) {
      saving = false;
      // Refused as a whole (one transaction): nothing of it is on the phone, nothing saved
      // before is touched, and the form stays as it is for another try.
      if (db.isStorageFull(e)) warn('storage_full_not_saved');
      else warn('saving_failed', { m: e.message });
      return;
    }
    toast(t('saved'));
    ctx.go(store.get().round ? 'scan' : '');
  }

  // "All fine" is only offered while nothing is wrong: no failed item, no other problem.
  // In its place the count of problems noted, in the same space: marking a problem never
  // moves the checklist under the patroller's finger.
  const problems = () => Object.values(draft.results).filter((r) => r.result === 'fail').length + draft.extra.length;
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
    h('p', { class: 'hint' }, `${t(`kind_${checkpoint.kind}`)} · ${checkpoint.short_code || ''}`),
    h('div', { class: 'quick' }, fine, noted),
  );

  function itemBlock(item) {
    const box = h('div', { class: 'item', id: `item-${item.id.replace('.', '-')}` });
    const draw = () => {
      clear(box);
      const r = draft.results[item.id] || {};
      const text = pick(item.text);
      box.append(h('p', { class: 'item-text', id: `t-${item.id}` }, text));
      const group = h('div', { class: 'seg', role: 'group', 'aria-labelledby': `t-${item.id}` });
      for (const [value, key] of RESULTS) {
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
                if (value === 'fail' && !cur.finding_id) draft.results[item.id].finding_id = db.uuid();
                await persist();
                draw();
                refreshAllFine();
              },
            },
            t(key),
          ),
        );
      }
      box.append(group);
      if (r.result === 'fail') box.append(failDetails(item, r, draw));
    };
    draw();
    return box;
  }

  /** Thumbnails of draft photos, each with a button that removes it. */
  function photoThumbs(ids, remove) {
    // Room for a row of thumbnails is kept while they load, so nothing below them jumps.
    const thumbs = h('div', { class: (ids || []).length ? 'thumbs removable loading' : 'thumbs removable' });
    (async () => {
      let n = 0;
      const figures = [];
      for (const id of ids || []) {
        const p = await db.getPhoto(id);
        if (!p) continue;
        n += 1;
        const url = photoUrl(p);
        urls.push(url);
        figures.push(
          h('figure', {}, h('img', { src: url, alt: t('photo_of', { n }) }),
            h('button', { type: 'button', class: 'btn small', 'aria-label': t('remove_photo', { n }), onclick: () => remove(id) }, '✕')),
        );
      }
      thumbs.replaceChildren(...figures);
      thumbs.classList.remove('loading');
    })();
    return thumbs;
  }

  function failDetails(item, r, redraw) {
    const key = item.id.replace('.', '-');
    const set = async (changes) => {
      Object.assign(draft.results[item.id], changes);
      await persist();
    };
    const thumbs = photoThumbs(r.photo_ids, async (id) => {
      await set({ photo_ids: (draft.results[item.id].photo_ids || []).filter((x) => x !== id) });
      await db.deleteDraftPhotos([id]);
      redraw();
    });
    const fileInput = h('input', {
      type: 'file', accept: 'image/*', capture: 'environment', id: `photo-${key}`, class: 'file',
      onchange: async (ev) => {
        const ids = [...(draft.results[item.id].photo_ids || [])];
        try {
          for (const file of ev.target.files) ids.push(await addPhoto(file, 'finding'));
        } catch (e) {
          if (!db.isStorageFull(e)) throw e;
          warn('storage_full_photo');
        }
        await set({ photo_ids: ids });
        redraw();
      },
    });
    const spot = h('textarea', { id: `spot-${key}`, rows: 2, oninput: (e) => set({ spot_note: e.target.value }) });
    spot.value = r.spot_note || '';
    const spotWrap = h('div', { class: 'spot', hidden: !r.dealt }, h('label', { for: `spot-${key}` }, t('spot_note')), spot);
    const note = h('textarea', { id: `note-${key}`, rows: 2, oninput: (e) => set({ note: e.target.value }) });
    note.value = r.note || '';
    return h(
      'div',
      { class: 'fail-details' },
      h('label', { for: `note-${key}` }, t('describe')),
      note,
      h('label', { for: `photo-${key}`, class: 'btn big photo-btn' }, t('add_photo')),
      fileInput,
      thumbs,
      h('label', { class: 'check' }, h('input', { type: 'checkbox', id: `major-${key}`, checked: !!r.major, onchange: (e) => set({ major: e.target.checked }) }), t('major')),
      h('label', { class: 'check' }, h('input', {
        type: 'checkbox', id: `dealt-${key}`, checked: !!r.dealt,
        onchange: async (e) => { await set({ dealt: e.target.checked }); spotWrap.hidden = !e.target.checked; },
      }), t('dealt')),
      spotWrap,
    );
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
    const category = choice(`extra-cat-${n}`, [['', t('extra_choose_category')], ...patrol.CATEGORIES.map((c) => [c, t(`cat_${c}`)])], x.category);
    const route = choice(`extra-route-${n}`, [['', t('extra_route_after_category')], ...patrol.ROUTES.map((r) => [r, t(`route_${r}`)])], x.route);
    category.addEventListener('change', async () => {
      const changes = { category: category.value };
      // Until the patroller picks a route, it follows the category's usual one.
      if (!x.route_chosen) changes.route = patrol.USUAL_ROUTE[category.value] || '';
      route.value = changes.route ?? x.route;
      category.removeAttribute('aria-invalid');
      await set(changes);
    });
    route.addEventListener('change', () => set({ route: route.value, route_chosen: !!route.value }));
    const desc = h('textarea', {
      id: `extra-desc-${n}`, rows: 3, maxlength: 2000,
      oninput: (e) => { e.target.removeAttribute('aria-invalid'); set({ description: e.target.value }); },
    });
    desc.value = x.description || '';
    const thumbs = photoThumbs(x.photo_ids, async (id) => {
      await set({ photo_ids: x.photo_ids.filter((p) => p !== id) });
      await db.deleteDraftPhotos([id]);
      drawExtras();
    });
    const fileInput = h('input', {
      type: 'file', accept: 'image/*', capture: 'environment', id: `extra-photo-${n}`, class: 'file',
      onchange: async (ev) => {
        const ids = [...x.photo_ids];
        for (const file of ev.target.files) ids.push(await addPhoto(file, 'finding'));
        await set({ photo_ids: ids });
        drawExtras();
      },
    });
    const spot = h('textarea', { id: `extra-spot-${n}`, rows: 2, oninput: (e) => set({ spot_note: e.target.value }) });
    spot.value = x.spot_note || '';
    const spotWrap = h('div', { class: 'spot', hidden: !x.dealt }, h('label', { for: `extra-spot-${n}` }, t('spot_note')), spot);
    category.addEventListener('change', () => { err.textContent = ''; });
    desc.addEventListener('input', () => { err.textContent = ''; });
    return h('fieldset', { class: 'extra', id: `extra-${n}`, 'data-finding': x.finding_id },
      h('legend', {}, t('extra_n', { n: n + 1 })),
      err,
      h('label', { for: `extra-cat-${n}` }, t('extra_category')), category,
      h('label', { for: `extra-route-${n}` }, t('extra_route')), route,
      h('label', { for: `extra-desc-${n}` }, t('describe')), desc,
      h('label', { for: `extra-photo-${n}`, class: 'btn big photo-btn' }, t('add_photo')), fileInput, thumbs,
      h('label', { class: 'check' }, h('input', { type: 'checkbox', id: `extra-major-${n}`, checked: !!x.major, onchange: (e) => set({ major: e.target.checked }) }), t('major')),
      h('label', { class: 'check' }, h('input', {
        type: 'checkbox', id: `extra-dealt-${n}`, checked: !!x.dealt,
        onchange: async (e) => { await set({ dealt: e.target.checked }); spotWrap.hidden = !e.target.checked; },
      }), t('dealt')),
      spotWrap,
      h('button', {
        type: 'button', class: 'btn', id: `extra-remove-${n}`,
        onclick: async () => {
          draft.extra = draft.extra.filter((y) => y !== x);
          await persist();
          await db.deleteDraftPhotos(x.photo_ids);
          drawExtras();
          addExtraBtn.focus();
        },
      }, t('extra_remove', { n: n + 1 })));
  }

  const extras = h('section', { class: 'extras', 'aria-label': t('extra_title') }, extraList);

  /** The first other problem that cannot be sent yet: message shown, field marked and focused. */
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
    form.append(h('fieldset', {}, h('legend', {}, t(`method_${method}`)), items.map(itemBlock)));
  }
  const visitNote = h('textarea', { id: 'visit-note', rows: 2, oninput: (e) => { draft.note = e.target.value; persist(); } });
  visitNote.value = draft.note || '';
  const resident = h('textarea', { id: 'resident-note', rows: 3, oninput: (e) => { draft.resident_note = e.target.value; persist(); } });
  resident.value = draft.resident_note || '';
  form.append(
    extras,
    h('div', { class: 'cp-bar' }, addExtraBtn),
    h('label', { for: 'resident-note' }, t('resident_note')),
    resident,
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

  async function discard() {
    await patrol.discardVisit();
  }

  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}
