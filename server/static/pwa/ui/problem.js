// One problem's details on the checkpoint screen, for a failed item and an "other problem"
// alike: what is wrong, its photos, "major", "dealt with on the spot" and what was done.
import * as db from '../db.js';
import { t } from '../i18n.js';
import { addPhoto } from '../photos.js';
import * as sound from '../sound.js';
import { PHOTO } from '../vocab.js';
import { editPhoto } from './annotate.js';
import { h, photoUrl } from './dom.js';
import { overlayOn } from './drawing.js';

// Set when the person has just added a photo or clip: the next thumbnails drawn are scrolled
// into view, clear of the sticky bar (the page's scroll-padding, app.css), so the new one shows.
let revealNext = false;

/** Thumbnails of draft photos, each with a button that removes it; object URLs go into `urls`. */
export function photoThumbs(ids, remove, urls) {
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
      const clip = (p.mime || '').startsWith('audio/');
      const media = clip
        ? h('audio', { controls: true, src: url, class: 'clip', 'aria-label': t('sound_clip') })
        : h('img', { src: url, alt: t('photo_of', { n }) });
      const removeBtn = h('button', { type: 'button', class: 'btn small', 'aria-label': t('remove_photo', { n }), onclick: () => remove(id) }, '✕');
      if (clip) {
        figures.push(h('figure', { class: 'clip' }, media, removeBtn));
        continue;
      }
      // A photo can be marked (a circle or an arrow where the problem is) until the record is saved.
      const frame = h('span', { class: 'photo-frame', 'data-photo': id }, media);
      overlayOn(frame, media, p.annotation);
      const k = n;
      const markBtn = h('button', {
        type: 'button', class: 'btn small mark', 'data-mark': id, 'aria-label': t('annot_mark_photo', { n: k }),
        onclick: async () => {
          if (!(await editPhoto(id, markBtn))) return;
          const again = await db.getPhoto(id);
          frame.querySelector('svg.drawing')?.remove();
          frame.classList.remove('drawn');
          overlayOn(frame, media, again?.annotation);
        },
      }, `✎ ${t('annot_mark')}`);
      figures.push(h('figure', {}, frame, h('span', { class: 'thumb-actions' }, markBtn, removeBtn)));
    }
    thumbs.replaceChildren(...figures);
    thumbs.classList.remove('loading');
    if (revealNext && figures.length && thumbs.isConnected) {
      revealNext = false;
      figures[figures.length - 1].scrollIntoView({ block: 'nearest' });
    }
  })();
  return thumbs;
}

/**
 * The fields of one problem, as a list of nodes.
 * @param {object} o
 * @param {Function} o.current  the problem's draft object now (a failed item's result, or an other problem)
 * @param {string} o.textField  the draft field holding the description ('note' for an item, 'description' for an other problem)
 * @param {object} o.ids        element ids: {text, photo, major, dealt, spot}
 * @param {number} o.rows       the description box's height in lines
 * @param {Function} o.persist  writes the whole draft (says itself when the phone is full)
 * @param {Function} o.redraw   draws the problem again (its photos changed)
 * @param {Function} o.warn     warn(key): says a storage problem next to the Save button
 * @param {string[]} o.urls     object URLs of the thumbnails, revoked when the screen goes
 * @param {Function} o.onText   called as the description is typed
 */
export function problemFields({ current, textField, ids, rows = 2, persist, redraw, warn, urls, onText = () => {} }) {
  const value = current();
  const set = async (changes) => {
    Object.assign(current(), changes);
    await persist();
  };
  const thumbs = photoThumbs(value.photo_ids, async (id) => {
    await set({ photo_ids: (current().photo_ids || []).filter((x) => x !== id) });
    await db.deleteDraftPhotos([id]);
    redraw();
  }, urls);
  const fileInput = h('input', {
    type: 'file', accept: 'image/*', capture: 'environment', id: ids.photo, class: 'file',
    onchange: async (ev) => {
      const photoIds = [...(current().photo_ids || [])];
      try {
        for (const file of ev.target.files) photoIds.push(await addPhoto(file, PHOTO.FINDING));
      } catch (e) {
        // The phone is full: the photos taken before, and everything typed, stay as they are.
        if (!db.isStorageFull(e)) throw e;
        warn('storage_full_photo');
      }
      await set({ photo_ids: photoIds });
      revealNext = true;
      redraw();
    },
  });
  // Listen: a short sound clip (an elevator's noise), kept like a photo.
  let recording = null;
  const soundBtn = sound.supported() ? h('button', {
    type: 'button', class: 'btn big sound-btn', id: ids.photo.replace(/photo/, 'sound'),
    onclick: async () => {
      if (recording) {
        recording.stop();
        return;
      }
      try {
        recording = await sound.start();
      } catch (e) {
        console.warn('no microphone', e);
        warn('sound_no_mic');
        return;
      }
      const started = Date.now();
      soundBtn.classList.add('recording');
      const tick = () => { soundBtn.textContent = t('sound_stop', { s: Math.round((Date.now() - started) / 1000), max: sound.MAX_MS / 1000 }); };
      tick();
      const ticker = setInterval(tick, 500);
      try {
        const clip = await recording.done;
        const photoIds = [...(current().photo_ids || []), await sound.saveClip(clip, PHOTO.FINDING)];
        await set({ photo_ids: photoIds });
      } catch (e) {
        if (!db.isStorageFull(e)) throw e;
        warn('storage_full_photo');
      } finally {
        clearInterval(ticker);
        recording = null;
      }
      revealNext = true;
      redraw();
    },
  }, t('sound_record', { max: sound.MAX_MS / 1000 })) : null;
  const text = h('textarea', {
    // The server takes up to 4000 characters of text in a record.
    id: ids.text, rows, maxlength: 4000,
    oninput: (e) => {
      e.target.removeAttribute('aria-invalid');
      onText();
      set({ [textField]: e.target.value });
    },
  });
  text.value = value[textField] || '';
  const spot = h('textarea', { id: ids.spot, rows: 2, oninput: (e) => set({ spot_note: e.target.value }) });
  spot.value = value.spot_note || '';
  const spotWrap = h('div', { class: 'spot', hidden: !value.dealt }, h('label', { for: ids.spot }, t('spot_note')), spot);
  return [
    h('label', { for: ids.text }, t('describe')),
    text,
    h('label', { for: ids.photo, class: 'btn big photo-btn' }, t('add_photo')),
    fileInput,
    soundBtn,
    thumbs,
    h('label', { class: 'check' }, h('input', { type: 'checkbox', id: ids.major, checked: !!value.major, onchange: (e) => set({ major: e.target.checked }) }), t('major')),
    h('label', { class: 'check' }, h('input', {
      type: 'checkbox', id: ids.dealt, checked: !!value.dealt,
      onchange: async (e) => { await set({ dealt: e.target.checked }); spotWrap.hidden = !e.target.checked; },
    }), t('dealt')),
    spotWrap,
  ];
}
