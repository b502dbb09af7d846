// Login: once; after an expiry the known user logs in again and the queue is sent.
import * as api from '../api.js';
import * as db from '../db.js';
import { reason, t } from '../i18n.js';
import * as store from '../store.js';
import * as sync from '../sync.js';
import { h } from './dom.js';

export function render(container, _route, ctx) {
  const known = store.get().me;
  const msg = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', value: known?.username || '' });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    { class: 'card form', onsubmit: submit },
    h('h1', {}, known && store.get().needLogin ? t('login_again') : t('login_title')),
    known && store.get().needLogin ? h('p', {}, t('session_expired')) : null,
    h('label', { for: 'username' }, t('username')),
    user,
    h('label', { for: 'password' }, t('password')),
    pass,
    msg,
    h('button', { type: 'submit', class: 'btn primary big', id: 'login-submit' }, t('login')),
  );
  container.append(form);
  (known ? pass : user).focus();

  async function submit(ev) {
    ev.preventDefault();
    msg.textContent = '';
    try {
      const me = await api.login(user.value.trim(), pass.value);
      localStorage.removeItem('patrol.logged_out');
      // Whoever logged in before on this phone (a shared phone): their records stay theirs.
      const previous = store.get().me;
      if (previous && previous.id !== me.id) await db.parkUser(previous.id);
      const round = await db.unparkUser(me);
      store.set({ me, needLogin: false, round });
      await sync.refreshCounts();
      navigator.storage?.persist?.().catch(() => {});
      sync.start();
      ctx.afterLogin();
    } catch (e) {
      msg.textContent = e.offline ? t('login_offline') : t('login_failed', { m: reason(e.code, e.message, e.details) });
    }
  }
}
