// Reaching a checkpoint: camera QR (native BarcodeDetector, else jsQR loaded on first use),
// a typed short code, or the label's URL /c/<token>.
import * as db from './db.js';

const FRAME_MS = 200;
const MAX_FRAME = 720;

/** What a label says: its URL (…/c/<token>), or a bare short code typed by hand. */
export function parseScan(text) {
  const raw = String(text || '').trim();
  const m = raw.match(/\/c\/([A-Za-z0-9_-]+)\/?(?:[?#].*)?$/);
  if (m) return { token: m[1] };
  const code = normaliseCode(raw);
  if (/^[A-Z0-9]{2,16}$/.test(code)) return { code };
  return null;
}

export function normaliseCode(code) {
  return String(code || '').trim().toUpperCase().replace(/[\s-]/g, '');
}

/** The checkpoint a scan names, from the phone's own copy (works offline). */
export async function resolve(found, siteId = null) {
  if (!found) return null;
  if (found.token) return (await db.checkpointByToken(found.token)) || null;
  const matches = await db.checkpointsByCode(found.code);
  return matches.find((c) => c.site_id === siteId) || matches[0] || null;
}

async function detector() {
  if ('BarcodeDetector' in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) {
        const native = new window.BarcodeDetector({ formats: ['qr_code'] });
        return async (source) => (await native.detect(source))[0]?.rawValue || null;
      }
    } catch {
      /* fall through to jsQR */
    }
  }
  const { default: jsQR } = await import('./vendor/jsqr/jsqr.mjs');
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d', { willReadFrequently: true });
  return async (video) => {
    const scale = Math.min(1, MAX_FRAME / Math.max(video.videoWidth, video.videoHeight));
    const w = Math.round(video.videoWidth * scale);
    const h = Math.round(video.videoHeight * scale);
    if (!w || !h) return null;
    canvas.width = w;
    canvas.height = h;
    g.drawImage(video, 0, 0, w, h);
    const img = g.getImageData(0, 0, w, h);
    return jsQR(img.data, w, h, { inversionAttempts: 'dontInvert' })?.data || null;
  };
}

/** Show the rear camera in `video` and call onText(text) for each decoded QR; returns stop(). */
export async function startCamera(video, onText) {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('no camera');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  let stopped = false;
  const stop = () => {
    stopped = true;
    stream.getTracks().forEach((tr) => tr.stop());
  };
  video.srcObject = stream;
  video.setAttribute('playsinline', '');
  video.muted = true;
  await video.play().catch(() => {});
  const decode = await detector();
  const tick = async () => {
    if (stopped) return;
    try {
      if (video.readyState >= 2) {
        const text = await decode(video);
        if (text && !stopped) {
          const keepGoing = await onText(text);
          if (!keepGoing) return;
        }
      }
    } catch (e) {
      console.warn('decode failed', e);
    }
    setTimeout(tick, FRAME_MS);
  };
  tick();
  return stop;
}
