// Verification on site: after the re-scan, the finding's before-photos (and sound clips) beside
// the after photo, pass or fail, and the verifier's drawn signature; the fixer's and the
// supervisor's optional signatures open behind one tap, so the form stays about two screens long.
import * as db from '../db.js';
import { pick, t } from '../i18n.js';
import { findingMedia } from '../keep.js';
import * as patrol from '../patrol.js';
import { addCanvasPhoto, addPhoto } from '../photos.js';
import * as vocab from '../vocab.js';
import { PHOTO, VERIFY } from '../vocab.js';
import { clear, h, photoUrl, toast } from './dom.js';
import { SignaturePad } from './signature.js';

const SIGNERS = ['verifier', 'fixer', 'supervisor'];
const OPTIONAL = ['fixer', 'supervisor'];

export async function render(container, { params }, ctx) {
  const id = Number(params[0]);
  const key = `verify:${id}`;
  const task = await db.get('tasks', id);
  const draft = await db.getDraft(key);
  if (!task || !draft) {
    container.append(h('p', { class: 'error', role: 'alert' }, t('scan_first')), h('a', { class: 'btn', href: `#/scan?task=${id}` }, t('nav_scan')));
    return null;
  }
  const cp = await db.get('checkpoints', task.checkpoint_id);
  const urls = [];
  const msg = h('p', { class: 'error', role: 'alert', id: 'verify-error' });
  // When the phone is full the draft cannot be written: the form works on from memory.
  const persist = async () => {
    try {
      await db.putDraft(key, draft);
    } catch (e) {
      if (!db.isStorageFull(e)) throw e;
      if (!msg.textContent) msg.textContent = t('storage_full_form');
    }
  };

  // Room for the thumbnails is kept while they load, and they are swapped in at once: nothing jumps.
  const thumbs = h('div', { class: draft.after_photo_ids.length ? 'thumbs cmp-photos loading' : 'thumbs cmp-photos', id: 'verify-after-photos' });
  const drawThumbs = async () => {
    let n = 0;
    const imgs = [];
    for (const pid of draft.after_photo_ids) {
      const p = await db.getPhoto(pid);
      if (!p) continue;
      const url = photoUrl(p);
      urls.push(url);
      imgs.push(h('img', { src: url, alt: t('verify_after_n', { n: ++n }) }));
    }
    // No after photo yet: an empty frame the size of the before photo, itself the way to take one.
    if (!imgs.length) imgs.push(h('label', { for: 'after-photo', class: 'cmp-empty', 'aria-hidden': 'true' }, t('after_photo')));
    thumbs.replaceChildren(...imgs);
    thumbs.classList.remove('loading');
  };
  const file = h('input', {
    type: 'file', accept: 'image/*', capture: 'environment', id: 'after-photo', class: 'file',
    onchange: async (ev) => {
      try {
        for (const f of ev.target.files) draft.after_photo_ids.push(await addPhoto(f, PHOTO.AFTER));
      } catch (e) {
        if (!db.isStorageFull(e)) throw e;
        msg.textContent = t('storage_full_photo');
      }
      await persist();
      drawThumbs();
    },
  });

  // The finding's photos and sound clips, from this phone (its own bytes, or the thumbnail kept
  // once they were cleared), from the copies fetched ahead (keep.js), or from the server online.
  const before = h('div', { class: (task.photos || []).length ? 'cmp-photos loading' : 'cmp-photos', id: 'verify-before-photos' });
  const sounds = h('div', { class: 'cmp-sounds', id: 'verify-before-sounds' });
  const drawBefore = async () => {
    const { photos: imgs, clips, missing } = await findingMedia(task, urls, {
      h, photoLabel: (n) => t('verify_before_n', { n }), clipLabel: (n) => t('verify_before_sound', { n }),
    });
    if (!(task.photos || []).length) imgs.push(h('p', { class: 'hint' }, t('verify_no_before')));
    else if (missing) imgs.push(h('p', { class: 'hint', id: 'verify-before-missing' }, t('verify_before_offline')));
    before.replaceChildren(...imgs);
    before.classList.remove('loading');
    sounds.replaceChildren(...clips);
  };

  const resultGroup = h('div', { class: 'seg', role: 'radiogroup', 'aria-labelledby': 'verify-result-label' });
  const drawResult = () => {
    clear(resultGroup);
    for (const [value, label] of vocab.options('verify_results')) {
      resultGroup.append(h('button', {
        type: 'button', role: 'radio', class: `seg-btn ${value === VERIFY.PASS ? 'ok' : 'fail'} ${draft.result === value ? 'on' : ''}`,
        'aria-checked': draft.result === value ? 'true' : 'false', id: `verify-${value}`,
        onclick: async () => { draft.result = value; await persist(); drawResult(); },
      }, label));
    }
  };
  const note = h('textarea', { id: 'verify-note', rows: 2, oninput: (e) => { draft.note = e.target.value; persist(); } });
  note.value = draft.note || '';
  const fixedBy = h('input', { id: 'fixed-by', autocomplete: 'off', oninput: (e) => { draft.fixed_by_name = e.target.value; persist(); } });
  fixedBy.value = draft.fixed_by_name || '';

  // One pad per signer; the verifier must sign, the fixer and the supervisor may.
  // Strokes are kept in the draft on every change, so a reload under the form keeps them.
  draft.sig_strokes = draft.sig_strokes || {};
  const pads = SIGNERS.map((role) => new SignaturePad({
    role,
    label: t(`sig_${role}`),
    who: t(`sig_role_${role}`),
    strokes: draft.sig_strokes[role] || [],
    onChange: (strokes) => {
      msg.textContent = '';
      draft.sig_strokes[role] = strokes;
      persist();
    },
  }));
  const pad = (role) => pads.find((p) => p.role === role);
  // Open at once when the draft already holds something of theirs (a reload under the form).
  const started = () => !!draft.fixed_by_name || OPTIONAL.some((role) => (draft.sig_strokes[role] || []).length);
  const optional = h('div', { id: 'sig-optional', hidden: !(draft.more_signatures || started()) });
  const more = h('button', {
    type: 'button', class: 'btn big sig-more', id: 'sig-more', 'aria-controls': 'sig-optional',
    'aria-expanded': optional.hidden ? 'false' : 'true',
    onclick: () => {
      optional.hidden = !optional.hidden;
      draft.more_signatures = !optional.hidden;
      more.setAttribute('aria-expanded', optional.hidden ? 'false' : 'true');
      more.textContent = t(optional.hidden ? 'sig_more' : 'sig_more_hide');
      persist();
      if (!optional.hidden) fixedBy.focus();
    },
  }, t(optional.hidden ? 'sig_more' : 'sig_more_hide'));
  optional.append(h('label', { for: 'fixed-by' }, t('fixed_by')), fixedBy, pad('fixer').container, pad('supervisor').container);

  container.append(
    h('h1', {}, t('verify_title')),
    h('p', { class: 'ok-text' }, `✓ ${t('verify_scanned', { name: cp ? pick(cp) : task.checkpoint_id })}`),
    h('p', { class: 'verify-desc' }, task.finding?.description || ''),
    h('div', { class: 'compare', role: 'group', 'aria-label': t('verify_compare') },
      h('section', { class: 'cmp-col', 'aria-labelledby': 'verify-before-label' },
        h('p', { class: 'label', id: 'verify-before-label' }, t('verify_before')), before, sounds),
      h('section', { class: 'cmp-col', 'aria-labelledby': 'verify-after-label' },
        h('p', { class: 'label', id: 'verify-after-label' }, t('verify_after')), thumbs,
        h('label', { for: 'after-photo', class: 'btn photo-btn' }, t('add_photo')), file)),
    h('p', { class: 'label', id: 'verify-result-label' }, t('verify_result')), resultGroup,
    h('label', { for: 'verify-note' }, t('visit_note')), note,
    h('h2', {}, t('signatures')),
    pad('verifier').container,
    more, optional,
    msg,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'btn primary big', id: 'save-verify', onclick: save }, t('save')),
      h('button', {
        type: 'button', class: 'btn big', id: 'cancel-verify',
        onclick: async () => { await patrol.discardVerification(id); ctx.go(`tasks/${id}`); },
      }, t('cancel'))),
  );
  drawResult();
  drawThumbs();
  drawBefore().catch((e) => console.warn('before photos', e));

  let saving = false;
  async function save() {
    if (saving) return;
    msg.textContent = '';
    if (!draft.result) {
      msg.textContent = t('need_result');
      return;
    }
    if (draft.result === VERIFY.PASS && !draft.after_photo_ids.length) {
      msg.textContent = t('need_after_photo');
      return;
    }
    if (pad('verifier').isEmpty()) {
      msg.textContent = t('need_signature');
      pad('verifier').canvas.scrollIntoView({ block: 'center' });
      return;
    }
    saving = true;
    const made = [];
    try {
      // Each signature becomes a PNG photo, sent with the record and uploaded like any photo.
      const ids = {};
      for (const p of pads) {
        if (p.isEmpty()) continue;
        ids[p.role] = await addCanvasPhoto(p.canvas, PHOTO.SIGNATURE);
        made.push(ids[p.role]);
      }
      await patrol.verifyTask(task, { ...draft, signature_ids: ids });
    } catch (e) {
      await db.deleteDraftPhotos(made);
      msg.textContent = db.isStorageFull(e) ? t('storage_full_not_saved') : t('saving_failed', { m: e.message || e });
      saving = false;
      return;
    }
    toast(t('saved'));
    ctx.go('tasks');
  }
  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}
