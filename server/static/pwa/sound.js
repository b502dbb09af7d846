// Sound clips ("listen" evidence): up to 15 s from the phone's microphone, kept like a photo
// (IndexedDB bytes + MIME + SHA-256, draft until its record is saved) and uploaded by the
// photo protocol (PUT /api/photos/<id>); the server checks the container by its bytes.
import * as db from './db.js';
import { sha256Hex } from './photos.js';

export const MAX_MS = 15000;

// iPhone Safari records MP4 (AAC) only; Chrome and Android WebM (Opus); Firefox Ogg (Opus).
const TYPES = ['audio/mp4', 'audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm'];

export function supported() {
  return !!(window.MediaRecorder && navigator.mediaDevices?.getUserMedia);
}

export function pickType() {
  return TYPES.find((x) => MediaRecorder.isTypeSupported?.(x)) || '';
}

/**
 * Start recording. Returns {stop(), done}: `done` resolves to {mime, bytes} when stopped,
 * by stop() or after MAX_MS. The microphone is released when it ends.
 */
export async function start() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const type = pickType();
  const rec = new MediaRecorder(stream, type ? { mimeType: type } : {});
  const chunks = [];
  rec.addEventListener('dataavailable', (ev) => { if (ev.data?.size) chunks.push(ev.data); });
  const done = new Promise((resolve, reject) => {
    rec.addEventListener('stop', async () => {
      clearTimeout(timer);
      for (const track of stream.getTracks()) track.stop();
      const mime = (rec.mimeType || type || 'audio/webm').split(';')[0];
      try {
        resolve({ mime, bytes: await new Blob(chunks, { type: mime }).arrayBuffer() });
      } catch (e) {
        reject(e);
      }
    });
    rec.addEventListener('error', (ev) => reject(ev.error || new Error('recording failed')));
  });
  // A little under the limit: the recorder stops a moment after it is told to.
  const timer = setTimeout(() => rec.state !== 'inactive' && rec.stop(), MAX_MS - 300);
  rec.start();
  return { stop: () => rec.state !== 'inactive' && rec.stop(), done };
}

/** Keep a recorded clip as a draft "photo" of purpose `purpose`; returns its id. */
export async function saveClip({ mime, bytes }, purpose) {
  const id = db.uuid();
  await db.savePhoto({ id, mime, bytes, sha256: await sha256Hex(bytes), purpose });
  return id;
}
