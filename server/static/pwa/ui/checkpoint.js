// The checkpoint: one tap "all fine", or each item ok / problem / n.a. grouped by method.
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
    if (saving) return;
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

  const anyFail = () => Object.values(draft.results).some((r) => r.result === 'fail');
  const allFineBtn = h(
    'button',
    { type: 'button', class: 'btn ok huge', id: 'all-fine', 'aria-describedby': 'all-fine-hint', onclick: () => save(true) },
    `✓ ${t('all_fine')}`,
  );
  const head = h(
    'div',
    { class: 'cp-head' },
    h('h1', {}, pick(checkpoint)),
    h('p', { class: 'hint' }, `${t(`kind_${checkpoint.kind}`)} · ${checkpoint.short_code || ''}`),
    allFineBtn,
    h('p', { class: 'hint', id: 'all-fine-hint' }, t('all_fine_hint')),
  );
  const refreshAllFine = () => {
    allFineBtn.hidden = anyFail();
    head.querySelector('#all-fine-hint').hidden = anyFail();
  };

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

  function failDetails(item, r, redraw) {
    const key = item.id.replace('.', '-');
    const set = async (changes) => {
      Object.assign(draft.results[item.id], changes);
      await persist();
    };
    const thumbs = h('div', { class: 'thumbs' });
    (async () => {
      let n = 0;
      for (const id of r.photo_ids || []) {
        const p = await db.getPhoto(id);
        if (!p) continue;
        n += 1;
        const url = photoUrl(p);
        urls.push(url);
        const idx = n;
        thumbs.append(
          h('figure', {}, h('img', { src: url, alt: t('photo_of', { n: idx }) }),
            h('button', {
              type: 'button', class: 'btn small', 'aria-label': t('remove_photo', { n: idx }),
              onclick: async () => {
                await set({ photo_ids: (draft.results[item.id].photo_ids || []).filter((x) => x !== id) });
                await db.deletePhoto(id);
                redraw();
              },
            }, '✕')),
        );
      }
    })();
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
      h('label', { for: `photo-${key}`, class: 'btn photo-btn' }, t('add_photo')),
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
    h('label', { for: 'resident-note' }, t('resident_note')),
    resident,
    h('label', { for: 'visit-note' }, t('visit_note')),
    visitNote,
    h('p', { class: 'hint' }, t('unmarked_ok')),
    notice,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary big', id: 'save-visit' }, t('save')),
      h('button', { type: 'button', class: 'btn big', id: 'cancel-visit', onclick: async () => { await discard(); ctx.go(store.get().round ? 'scan' : ''); } }, t('cancel'))),
  );
  container.append(head, form);
  refreshAllFine();

  async function discard() {
    for (const r of Object.values(draft.results)) for (const id of r.photo_ids || []) await db.deletePhoto(id);
    await db.deleteDraft('visit');
  }

  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}
