// Photos on the phone: downscaled to at most 1600 px JPEG before saving (mobile data),
// hashed for the upload's integrity check, kept in IndexedDB as ArrayBuffer + MIME.
import * as db from './db.js';

const MAX_SIDE = 1600;
const QUALITY = 0.8;

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest('SHA-256', buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function downscale(file) {
  // createImageBitmap applies the EXIF orientation; a canvas no larger than the target
  // avoids iOS's canvas size cap; toBlob drops EXIF and GPS.
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * scale));
  const h = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d').drawImage(bitmap, 0, 0, w, h);
  bitmap.close?.();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY));
  if (!blob) throw new Error('toBlob failed');
  return { mime: 'image/jpeg', bytes: await blob.arrayBuffer() };
}

/** Save a picked photo as a draft (it becomes pending when its record is saved). */
export async function addPhoto(file, purpose) {
  let out;
  try {
    out = await downscale(file);
  } catch (e) {
    console.warn('downscale failed, keeping the original', e);
    out = { mime: file.type || 'image/jpeg', bytes: await file.arrayBuffer() };
  }
  const id = db.uuid();
  await db.savePhoto({ id, mime: out.mime, bytes: out.bytes, sha256: await sha256Hex(out.bytes), purpose });
  return id;
}

/** Save a drawn signature (a canvas) as a PNG photo. */
export async function addCanvasPhoto(canvas, purpose) {
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  const bytes = await blob.arrayBuffer();
  const id = db.uuid();
  await db.savePhoto({ id, mime: 'image/png', bytes, sha256: await sha256Hex(bytes), purpose });
  return id;
}
