// Talking to the server: same origin only, JSON errors, the CSRF header on writes.
import * as store from './store.js';

let csrf = '';

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.details = details;
  }
  get offline() {
    return this.status === 0;
  }
}

export function setCsrf(token) {
  csrf = token || '';
}

async function parse(resp) {
  const type = resp.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await resp.json().catch(() => null) : null;
  if (resp.ok) return body;
  const err = body && body.error ? body.error : {};
  throw new ApiError(resp.status, err.code || '', err.message || resp.statusText, err.details || {});
}

export async function request(method, url, { json, body, headers = {}, retried = false } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (method !== 'GET' && method !== 'HEAD') h['X-CSRF-Token'] = csrf;
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  let resp;
  try {
    resp = await fetch(url, { method, body, headers: h, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'offline', e.message);
  }
  if (resp.status === 403 && !retried) {
    // A CSRF token from an older session: fetch the current one once and retry.
    const copy = resp.clone();
    const err = await copy.json().catch(() => ({}));
    if (err?.error?.code === 'csrf_failed') {
      await me();
      return request(method, url, { json, body, headers, retried: true });
    }
  }
  if (resp.status === 401 && !url.endsWith('/api/auth/login')) store.set({ needLogin: true });
  return parse(resp);
}

export const get = (url) => request('GET', url);
export const post = (url, json) => request('POST', url, { json });
export const patch = (url, json) => request('PATCH', url, { json });
export const del = (url) => request('DELETE', url);
/** Send a file's bytes as the body (a CSV import), with its content type. */
export const upload = (url, bytes, type) => request('POST', url, { body: bytes, headers: { 'Content-Type': type } });

export async function me() {
  const user = await get('/api/auth/me');
  setCsrf(user.csrf_token);
  return user;
}

export async function login(username, password) {
  const user = await post('/api/auth/login', { username, password });
  setCsrf(user.csrf_token);
  return user;
}

export async function logout() {
  await post('/api/auth/logout');
  setCsrf('');
}
