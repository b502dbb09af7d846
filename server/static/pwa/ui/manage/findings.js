// Findings of a site, including those dealt with on the spot (which open no task), with filters.
import * as api from '../../api.js';
import * as db from '../../db.js';
import { fmtTime, pick, t } from '../../i18n.js';
import { h } from '../dom.js';
import { CATEGORIES, chosenSite, dayStart, deskSites, guarded, qs, select, sitePicker, subnav } from './common.js';

const PER_PAGE = 20;

export async function render(container, { query }, ctx) {
  container.append(subnav('manage/findings'), h('h1', {}, t('desk_findings_title')));
  const siteId = chosenSite(query);
  if (siteId == null || !deskSites().length) {
    container.append(h('p', { class: 'hint' }, t('desk_no_role')));
    return null;
  }
  const picker = sitePicker(siteId, (id) => ctx.go(`manage/findings${qs({ site: id })}`));
  if (picker) container.append(picker);
  const box = h('div', { class: 'desk-body' });
  container.append(box);
  await guarded(box, ctx, async () => {
    const cps = new Map((await db.all('checkpoints').catch(() => [])).map((c) => [c.id, c]));
    box.append(filterForm(query, siteId, ctx));
    const args = {
      site_id: siteId,
      category: query.category || '',
      severity: query.severity || '',
      dealt_on_spot: query.spot === 'yes' ? 'true' : query.spot === 'no' ? 'false' : '',
      from: dayStart(query.from),
      to: dayStart(query.to, 1),
    };
    const ul = h('ul', { class: 'list', id: 'finding-list' });
    const total = h('p', { class: 'hint', id: 'finding-total', role: 'status' });
    const more = h('button', { type: 'button', class: 'btn big', id: 'finding-more' }, t('desk_more'));
    let page = 0;
    const next = async () => {
      page += 1;
      const res = await api.get(`/api/findings/${qs({ ...args, page, per_page: PER_PAGE })}`);
      for (const f of res.items) ul.append(h('li', {}, row(f, cps)));
      total.textContent = res.meta.total ? t('desk_total', { n: res.meta.total }) : t('desk_no_match');
      more.hidden = page * PER_PAGE >= res.meta.total;
    };
    more.addEventListener('click', () => next().catch((e) => { total.textContent = e.message; }));
    box.append(total, ul, more);
    await next();
  });
  return null;
}

function row(f, cps) {
  const cp = cps.get(f.checkpoint_id);
  const inner = [
    h('span', { class: 'task-line' },
      h('strong', {}, cp ? pick(cp) : t('checkpoint')),
      h('span', { class: 'badge' }, t(`cat_${f.category}`)),
      f.severity === 'major' ? h('span', { class: 'badge major' }, t('severity_major')) : null,
      f.dealt_on_spot ? h('span', { class: 'badge st-sent' }, t('dealt')) : null),
    h('span', { class: 'task-desc' }, f.description || ''),
    f.dealt_on_spot && f.spot_note ? h('span', { class: 'hint' }, `${t('spot_note')}：${f.spot_note}`) : null,
    h('span', { class: 'hint' }, fmtTime(f.observed_at), f.task_id ? ` · ${t('task_title', { id: f.task_id })}` : ''),
  ];
  // A finding with a task opens it; one dealt with on the spot has nothing further to open.
  return f.task_id
    ? h('a', { class: 'task-card', href: `#/manage/tasks/${f.task_id}`, 'data-finding': f.id }, inner)
    : h('div', { class: 'task-card', 'data-finding': f.id }, inner);
}

function filterForm(q, siteId, ctx) {
  const active = ['category', 'severity', 'spot', 'from', 'to'].filter((k) => q[k]).length;
  const dateField = (id, key, label) => h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { type: 'date', id, value: q[key] || '' }));
  const form = h('form', { class: 'filters', id: 'finding-filters' },
    h('div', { class: 'filter-grid' },
      select('ff-category', t('desk_category'), [['', t('desk_any')], ...CATEGORIES.map((c) => [c, t(`cat_${c}`)])], q.category),
      select('ff-severity', t('desk_severity'), [['', t('desk_any')], ['normal', t('desk_severity_normal')], ['major', t('severity_major')]], q.severity),
      select('ff-spot', t('dealt'), [['', t('desk_any')], ['yes', t('desk_yes')], ['no', t('desk_no')]], q.spot),
      dateField('ff-from', 'from', t('desk_from')),
      dateField('ff-to', 'to', t('desk_to'))),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'btn primary', id: 'ff-apply' }, t('desk_apply')),
      active ? h('a', { class: 'btn', href: `#/manage/findings${qs({ site: siteId })}` }, t('desk_clear')) : null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const val = (id) => form.querySelector(`#${id}`).value;
    ctx.go(`manage/findings${qs({ site: siteId, category: val('ff-category'), severity: val('ff-severity'), spot: val('ff-spot'), from: val('ff-from'), to: val('ff-to') })}`);
  });
  return h('details', { class: 'card filter-box', open: active > 0 || null },
    h('summary', {}, active ? t('desk_filters_n', { n: active }) : t('desk_filters')),
    form);
}
