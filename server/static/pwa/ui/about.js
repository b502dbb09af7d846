// About this app: the version and the phone's storage, for whoever supports the patrollers.
import { fmtTime, t } from '../i18n.js';
import * as store from '../store.js';
import { h } from './dom.js';

export async function render(container) {
  const s = store.get();
  const persisted = navigator.storage?.persisted ? await navigator.storage.persisted().catch(() => null) : null;
  let usage = '';
  if (navigator.storage?.estimate) {
    const est = await navigator.storage.estimate().catch(() => null);
    if (est?.usage != null) usage = t('about_storage_used', { mb: (est.usage / 1048576).toFixed(1) });
  }
  container.append(
    h('h1', {}, t('about')),
    h('dl', { class: 'summary' },
      h('dt', {}, t('about_version')), h('dd', { class: 'version', id: 'about-version' }, s.version || '—'),
      h('dt', {}, t('about_user')), h('dd', {}, s.me ? `${s.me.display_name || s.me.username} (${s.me.username})` : '—'),
      h('dt', {}, t('about_last_sync')), h('dd', {}, s.lastSync ? fmtTime(s.lastSync) : t('never_synced')),
      h('dt', {}, t('about_storage')), h('dd', {}, [persisted === true ? t('persist_ok') : persisted === false ? t('about_not_persisted') : '—', usage].filter(Boolean).join(' '))),
    h('a', { class: 'btn big', href: '#/outbox' }, t('back')),
  );
  return null;
}
