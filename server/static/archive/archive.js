// The archivist's page: months and their filing state, sealing, bundle downloads,
// exports of any date range, legal holds and the retention preview (docs/archive.md).
// Plain ES module, no inline script: the page runs under CSP script-src 'self'.

const STATE_ZH = { open: '未封存', sealed: '已封存', archived: '已归档', purged: '已清除' };
const $ = (sel) => document.querySelector(sel);
let csrf = '';
let siteId = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child ?? '');
  return node;
}

function say(text) {
  $('#message').textContent = text || '';
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const data = resp.headers.get('Content-Type')?.includes('json') ? await resp.json() : null;
  if (!resp.ok) {
    const err = new Error(data?.error?.message || `HTTP ${resp.status}`);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function local(iso) {
  return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—';
}

function bundleUrl(month, file) {
  const base = `/api/archive/sites/${siteId}/months/${month}/bundle`;
  return file ? `${base}?file=${encodeURIComponent(file)}` : base;
}

async function act(fn, done) {
  say('');
  try {
    await fn();
    if (done) say(done);
  } catch (err) {
    say(err.message);
  }
  await refresh();
}

function renderMonths(months) {
  const body = $('#months tbody');
  body.replaceChildren();
  for (const m of months) {
    const files = el('td');
    for (const f of m.files) {
      files.append(el('div', {}, el('a', { href: bundleUrl(m.month, f.kind === 'bundle' ? '' : f.name) }, f.name), ' ',
        el('code', { title: 'SHA-256' }, f.sha256.slice(0, 16) + '…')));
    }
    const actions = el('td');
    if (m.state === 'open' && m.ended) {
      actions.append(el('button', { onclick: () => act(() => api('POST', `/api/archive/sites/${siteId}/months/${m.month}/seal`), `${m.month} 已封存归档`) }, '封存 Seal'));
    }
    if (m.state === 'sealed' || m.state === 'archived') {
      actions.append(el('button', { class: 'secondary', onclick: () => act(() => api('POST', `/api/archive/sites/${siteId}/months/${m.month}/build`), `${m.month} 已检查补录`) }, '补录 Addendum'));
    }
    body.append(el('tr', {},
      el('td', {}, m.month),
      el('td', { class: `state-${m.state}` }, STATE_ZH[m.state] || m.state),
      el('td', {}, String(m.visits)),
      el('td', {}, String(m.findings)),
      el('td', {}, local(m.sealed_at)),
      files,
      actions));
  }
}

function renderHolds(holds) {
  const body = $('#holds tbody');
  body.replaceChildren();
  for (const h of holds) {
    const scope = h.task_id ? `任务 #${h.task_id}` : h.month ? `月份 ${h.month}` : '整个项目';
    const release = h.released_at ? '' : el('button', { class: 'secondary', onclick: () => act(() => api('POST', `/api/archive/holds/${h.id}/release`), '已解除保全') }, '解除 Release');
    body.append(el('tr', {}, el('td', {}, String(h.id)), el('td', {}, scope), el('td', {}, h.reason), el('td', {}, local(h.created_at)),
      el('td', {}, local(h.released_at)), el('td', {}, release)));
  }
}

function counts(obj) {
  return Object.entries(obj || {}).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ');
}

function renderRetention(plans, log) {
  const body = $('#retention tbody');
  body.replaceChildren();
  if (!plans.length) body.append(el('tr', {}, el('td', { colspan: '3' }, '没有超过保存期限的月份。')));
  for (const p of plans) {
    body.append(el('tr', {}, el('td', {}, p.month), el('td', {}, p.action === 'purge' ? '将清除' : '保留'),
      el('td', {}, p.action === 'purge' ? counts(p.counts) : p.reason)));
  }
  const logBody = $('#purges tbody');
  logBody.replaceChildren();
  for (const p of log) {
    logBody.append(el('tr', {}, el('td', {}, p.month), el('td', {}, local(p.at)), el('td', {}, p.by_name),
      el('td', {}, counts(p.counts)), el('td', {}, el('code', {}, p.archive_sha256 || '—'))));
  }
}

async function refresh() {
  if (siteId === null) return;
  const base = `/api/archive/sites/${siteId}`;
  try {
    const [months, holds, plans, log] = await Promise.all([
      api('GET', `${base}/months`), api('GET', `${base}/holds`), api('GET', `${base}/retention`), api('GET', `${base}/purges`),
    ]);
    renderMonths(months);
    renderHolds(holds);
    renderRetention(plans, log);
  } catch (err) {
    say(err.status === 403 || err.status === 404 ? '您在此项目没有档案员、经理或管理员角色。' : err.message);
  }
}

async function start() {
  let me;
  try {
    me = await api('GET', '/api/auth/me');
  } catch (err) {
    if (err.status !== 401) return say(err.message);
    $('#login').hidden = false;
    return;
  }
  csrf = me.csrf_token;
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#who').textContent = me.display_name || me.username || '';
  const sites = await api('GET', '/api/sites/');
  const select = $('#site');
  select.replaceChildren(...sites.map((s) => el('option', { value: String(s.id) }, `${s.name_zh} (${s.code})`)));
  siteId = sites.length ? sites[0].id : null;
  select.addEventListener('change', () => { siteId = Number(select.value); refresh(); });
  const today = new Date();
  const first = new Date(today.getFullYear(), today.getMonth() - 1, 1);
  const last = new Date(today.getFullYear(), today.getMonth(), 0);
  const ymd = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  $('#export [name=from]').value = ymd(first);
  $('#export [name=to]').value = ymd(last);
  await refresh();
}

$('#login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await api('POST', '/api/auth/login', { username: form.get('username'), password: form.get('password') });
    say('');
    await start();
  } catch (err) {
    say(err.message);
  }
});

$('#export').addEventListener('submit', (event) => {
  event.preventDefault();
  const q = new URLSearchParams(new FormData(event.target));
  // A plain navigation: the browser streams the file to disk, nothing is held in the page.
  window.location.href = `/api/archive/sites/${siteId}/exports?${q}`;
});

$('#hold').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { reason: form.get('reason') };
  if (form.get('month')) body.month = form.get('month');
  if (form.get('task_id')) body.task_id = Number(form.get('task_id'));
  act(async () => { await api('POST', `/api/archive/sites/${siteId}/holds`, body); event.target.reset(); }, '已设立保全');
});

start();
