// Coverage: for a site and a range of days, which planned checkpoints were visited, missed or late, and the suspicious scans.
import * as api from '../../api.js';
import { fmtDate, fmtTime, lang, partsOf, pick, t } from '../../i18n.js';
import * as policy from '../../policy.js';
import * as vocab from '../../vocab.js';
import { COVERAGE_IN_PROGRESS } from '../../vocab.js';
import { h } from '../dom.js';
import { add, fetchAll, qs, rangeProblems, select, showRangeErrors, siteScreen, siteZone } from '../online.js';
import { chart } from './chart.js';
import { subnav } from './nav.js';

const MAX_MISSED_SHOWN = 300;
const DAY_MS = 86400000;
// The server's limit (server/coverage.py MAX_DAYS), checked here first so that the form says it at
// once; the server checks again, and its refusal lands at the same field.
const MAX_DAYS = 366;

/** Today in the site's own calendar, as YYYY-MM-DD. */
function siteToday(zone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

function shiftDay(day, by) {
  return new Date(Date.parse(`${day}T00:00:00Z`) + by * DAY_MS).toISOString().slice(0, 10);
}

const percent = (ratio) => (ratio === null || ratio === undefined ? '—' : `${Math.round(ratio * 1000) / 10}%`);

export function render(container, route, ctx) {
  const { query } = route;
  const frame = { action: 'coverage.read', noRole: 'desk_no_role', nav: subnav('manage/coverage'), path: 'manage/coverage', title: t('cov_title') };
  return siteScreen(container, frame, { ...route, ctx }, async (box, siteId) => {
    const today = siteToday(siteZone(siteId));
    const range = { from: query.from || shiftDay(today, -6), to: query.to || today, plan: query.plan || '' };
    const [plans, checkpoints] = await Promise.all([
      api.get(`/api/sites/${siteId}/plans`),
      fetchAll(`/api/checkpoints/${qs({ site_id: siteId })}`),
    ]);
    const form = rangeForm(siteId, range, today, plans, ctx);
    box.append(form);
    if (!plans.some((p) => p.active)) {
      box.append(h('p', { class: 'banner info', id: 'cov-no-plans' }, t('cov_no_plans'), ' ',
        policy.can('plan.edit', { siteId }) ? h('a', { href: `#/manage/plans/new${qs({ site: siteId })}` }, t('plan_new')) : null));
    }
    let report;
    try {
      report = await api.get(`/api/sites/${siteId}/coverage${qs({ from: range.from, to: range.to, plan_id: range.plan })}`);
    } catch (e) {
      // A range the server refuses (a link or an older page asking for too much): said beside the
      // dates, the form kept to change them; "retry" would only ask the same again.
      if (!(e instanceof api.ApiError) || e.status !== 422 || !e.details?.fields) throw e;
      showRangeErrors(form, form.querySelector('#cov-range-error'), e);
      return;
    }
    const view = new CoverageView(report, plans, checkpoints);
    add(box, view.totals(), view.openWindows(), view.byDay(), view.missed(), view.flags(), view.breakdowns(), view.windows());
  });
}

function rangeForm(siteId, range, today, plans, ctx) {
  const dateField = (id, name, label, value) => h('div', { class: 'field' }, h('label', { for: id }, label),
    h('input', { type: 'date', id, value, max: today, required: true, 'aria-describedby': `${id}-error` }),
    h('div', { class: 'error field-error', id: `${id}-error`, 'data-error-for': name }));
  const err = h('p', { class: 'error', id: 'cov-range-error', role: 'alert' });
  const form = h('form', { class: 'card filters', id: 'cov-form' },
    h('div', { class: 'filter-grid' },
      dateField('cov-from', 'from', t('cov_from'), range.from),
      dateField('cov-to', 'to', t('cov_to'), range.to),
      select('cov-plan', t('plan'), [['', t('cov_all_plans')], ...plans.map((p) => [p.id, p.active ? pick(p) : `${pick(p)} (${t('plan_paused')})`])], range.plan)),
    err,
    h('button', { type: 'submit', class: 'btn primary', id: 'cov-apply' }, t('cov_show')));
  const go = (from, to, plan = form.querySelector('#cov-plan').value) => ctx.go(`manage/coverage${qs({ site: siteId, from, to, plan })}`);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const from = form.querySelector('#cov-from').value;
    const to = form.querySelector('#cov-to').value;
    if (!from || !to) { err.textContent = t('cov_need_dates'); return; }
    const fields = rangeProblems(from, to, MAX_DAYS);
    if (fields) { showRangeErrors(form, err, { details: { fields } }); return; }
    go(from, to);
  });
  const quick = [
    ['cov-today', t('cov_today'), today, today],
    ['cov-yesterday', t('cov_yesterday'), shiftDay(today, -1), shiftDay(today, -1)],
    ['cov-week', t('cov_last_7'), shiftDay(today, -6), today],
    ['cov-month', t('cov_last_30'), shiftDay(today, -29), today],
  ];
  // The usual ranges first: one tap; the dates below are for anything else.
  form.prepend(h('ul', { class: 'chips cov-quick', 'aria-label': t('cov_quick') }, quick.map(([id, label, from, to]) => h('li', {},
    h('button', { type: 'button', class: `chip ${from === range.from && to === range.to ? 'on' : ''}`, id, 'aria-pressed': String(from === range.from && to === range.to), onclick: () => go(from, to) }, label)))));
  return form;
}

class CoverageView {
  constructor(report, plans, checkpoints) {
    this.r = report;
    this.zone = report.timezone;
    this.plans = new Map(plans.map((p) => [p.id, p]));
    this.cps = new Map(checkpoints.map((c) => [c.id, c]));
    this.byCode = new Map(checkpoints.map((c) => [c.short_code, c]));
    this.locale = lang() === 'en' ? 'en-GB' : 'zh-CN';
  }

  time(iso) {
    const p = partsOf(iso, this.zone); // the app's one formatter (i18n.js), on the site's clock
    return p ? `${p.hh}:${p.mm}` : '';
  }

  dateTime(iso) {
    return fmtTime(iso, { zone: this.zone });
  }

  day(day) {
    // A site-local calendar day: read it at noon UTC so no timezone moves it to a neighbour.
    const noon = `${day}T12:00:00Z`;
    const weekday = new Date(noon).toLocaleDateString(this.locale, { timeZone: 'UTC', weekday: 'short' });
    return `${fmtDate(noon, { zone: 'UTC' })} ${weekday}`;
  }

  planName(id, row = null) {
    const p = this.plans.get(id);
    return p ? pick(p) : row ? pick(row, 'plan_name') : `#${id}`;
  }

  cpName(id) {
    const cp = this.cps.get(id);
    return cp ? `${pick(cp)} (${cp.short_code})` : `#${id}`;
  }

  totals() {
    const x = this.r.totals;
    const tile = (id, n, label, tone = '') => h('div', { class: `stat ${tone} ${n ? '' : 'zero'}`, id, 'data-count': String(n) },
      h('span', { class: 'stat-n' }, String(n)), h('span', { class: 'stat-label' }, label));
    const rate = h('div', { class: `stat ${x.coverage !== null && x.coverage < 1 ? 'alarm' : ''}`, id: 'cov-rate', 'data-rate': String(x.coverage) },
      h('span', { class: 'stat-n rate' }, percent(x.coverage)), h('span', { class: 'stat-label' }, t('cov_rate')));
    return h('section', { id: 'cov-totals', 'aria-labelledby': 'cov-totals-title', 'data-from': this.r.from, 'data-to': this.r.to },
      h('h2', { id: 'cov-totals-title' }, this.r.from === this.r.to ? this.day(this.r.from) : t('cov_totals', { from: this.day(this.r.from), to: this.day(this.r.to) })),
      h('div', { class: 'stat-grid' },
        rate,
        tile('cov-planned', x.planned, t('cov_planned')),
        tile('cov-visited', x.visited, t('cov_visited')),
        tile('cov-missed', x.missed, t('cov_missed'), x.missed ? 'alarm' : ''),
        tile('cov-late', x.late, t('cov_late'), x.late ? 'warn' : ''),
        tile('cov-explained', x.explained || 0, t('cov_explained')),
        tile('cov-flags', this.r.flags.length, t('cov_flags'), this.r.flags.length ? 'alarm' : '')),
      h('p', { class: 'hint' }, t('cov_rules', { n: x.windows })));
  }

  openWindows() {
    const open = this.r.windows.filter((w) => w.status === COVERAGE_IN_PROGRESS);
    if (!open.length) return null;
    return h('section', { class: 'card', id: 'cov-open', 'aria-labelledby': 'cov-open-title' },
      h('h2', { id: 'cov-open-title' }, t('cov_in_progress')),
      h('ul', { class: 'plain' }, open.map((w) => h('li', {},
        `${w.window} ${this.planName(w.plan_id, w)} · ${t('cov_so_far', { v: w.visited, p: w.planned })}`,
        (w.reasons || []).length ? h('ul', { class: 'plain cov-open-reasons' }, w.reasons.map((r) => h('li', { class: 'cov-missed', 'data-checkpoint': r.checkpoint_id },
          h('span', {}, this.cpName(r.checkpoint_id)), this.reason(r)))) : null))));
  }

  /** The patroller's reason for a miss (what they chose, their words, who and when), or nothing. */
  reason(r) {
    if (!r) return null;
    return h('span', { class: 'cov-reason', 'data-reason': r.reason },
      h('span', { class: 'badge' }, t('cov_reason', { r: vocab.label('missed_reasons', r.reason) })),
      r.note ? h('span', { class: 'cov-reason-note' }, r.note) : null,
      h('span', { class: 'hint' }, `${r.user_name || `#${r.user_id}`} · ${this.dateTime(r.given_at)}`));
  }

  byDay() {
    const days = this.r.by_day;
    if (days.length < 2 || !days.some((d) => d.planned)) return null;
    return [
      h('h2', { id: 'cov-day-title' }, t('cov_by_day')),
      chart({
        id: 'cov-chart-day',
        labelledBy: 'cov-day-title',
        max: 100,
        rows: days.map((d) => ({
          label: d.planned ? `${this.day(d.day)} · ${d.visited}/${d.planned}` : this.day(d.day),
          value: d.coverage === null ? 0 : Math.round(d.coverage * 100),
          text: d.planned ? percent(d.coverage) : t('cov_nothing_planned'),
          tone: d.coverage !== null && d.coverage < 1 ? 'late' : '',
        })),
      }),
      h('p', { class: 'hint' }, t('cov_by_day_hint')),
    ];
  }

  missed() {
    const all = this.r.missed;
    const section = h('section', { 'aria-labelledby': 'cov-missed-title' }, h('h2', { id: 'cov-missed-title' }, t('cov_missed_title', { n: all.length })));
    if (!all.length) {
      section.append(h('p', { class: 'ok-text', id: 'cov-all-visited' }, this.r.totals.planned ? t('cov_all_visited') : t('cov_nothing_ended')));
      return section;
    }
    // One group per window, in time order, as a supervisor walks through the day.
    const groups = new Map();
    for (const m of all.slice(0, MAX_MISSED_SHOWN)) {
      const key = `${m.start}|${m.plan_id}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(m);
    }
    const list = h('div', { id: 'cov-missed-list' });
    for (const rows of groups.values()) {
      const first = rows[0];
      list.append(h('div', { class: 'card cov-group', 'data-day': first.day, 'data-window': first.window },
        h('h3', {}, `${this.day(first.day)} ${first.window} · ${this.planName(first.plan_id)}`),
        h('ul', { class: 'plain' }, rows.map((m) => h('li', { class: 'cov-missed', 'data-checkpoint': m.checkpoint_id, 'data-late': m.late_at ? '1' : '0' },
          h('span', {}, `${pick(m)} (${m.short_code})`),
          h('span', { class: 'hint' }, [m.building, m.floor ? t('cp_floor_n', { f: m.floor }) : ''].filter(Boolean).join(' ')),
          m.late_at
            ? h('span', { class: 'badge late' }, t('cov_late_at', { t: this.dateTime(m.late_at) }))
            : h('span', { class: 'badge major' }, t('cov_not_visited')),
          this.reason(m.reason))))));
    }
    section.append(list);
    if (all.length > MAX_MISSED_SHOWN) section.append(h('p', { class: 'hint' }, t('cov_more_missed', { n: all.length - MAX_MISSED_SHOWN })));
    return section;
  }

  flags() {
    const flags = this.r.flags;
    const th = this.r.thresholds;
    const section = h('section', { 'aria-labelledby': 'cov-flags-title' },
      h('h2', { id: 'cov-flags-title' }, t('cov_flags_title', { n: flags.length })),
      h('p', { class: 'hint' }, t('cov_flags_hint', { gap: th.min_scan_gap_seconds, n: th.repeat_scans, m: th.repeat_minutes })));
    if (!flags.length) {
      section.append(h('p', { class: 'ok-text', id: 'cov-no-flags' }, t('cov_no_flags')));
      return section;
    }
    const name = (code, id) => {
      const cp = this.cps.get(id) || this.byCode.get(code);
      return cp ? `${pick(cp)} (${cp.short_code})` : code;
    };
    section.append(h('ul', { class: 'list', id: 'cov-flag-list' }, flags.map((f) => {
      const places = f.checkpoint_ids.map((id, i) => name(f.short_codes[i], id));
      const what = f.type === 'too_fast'
        ? t('cov_too_fast_detail', { a: places[0], b: places[1], s: f.gap_seconds, min: f.min_gap_seconds })
        : t('cov_repeated_detail', { cp: places[0], n: f.count, from: this.time(f.at), to: this.time(f.last_at) });
      return h('li', { class: 'card cov-flag', 'data-type': f.type, 'data-user': f.user_id },
        h('p', { class: 'task-line' }, h('span', { class: 'badge major' }, t(`cov_flag_${f.type}`)), h('strong', {}, f.user_name || `#${f.user_id}`)),
        h('p', {}, what),
        h('p', { class: 'hint' }, this.dateTime(f.at)));
    })));
    return section;
  }

  breakdowns() {
    const table = (id, title, head, rows) => (rows.length ? [
      h('h2', { id: `${id}-title` }, title),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data', id, 'aria-labelledby': `${id}-title` },
        h('thead', {}, h('tr', {}, [head, t('cov_planned'), t('cov_visited'), t('cov_missed'), t('cov_rate')].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows.map(([label, r]) => h('tr', { class: r.missed ? 'has-missed' : '' },
          h('th', { scope: 'row' }, label),
          h('td', {}, String(r.planned)), h('td', {}, String(r.visited)), h('td', {}, String(r.missed)), h('td', {}, percent(r.coverage))))))),
    ] : null);
    const floor = (r) => [r.building, r.floor ? t('cp_floor_n', { f: r.floor }) : t('cov_no_floor')].filter(Boolean).join(' ');
    return [
      table('cov-by-floor', t('cov_by_floor'), t('cp_floor'), this.r.by_floor.map((r) => [floor(r), r])),
      table('cov-by-kind', t('cov_by_kind'), t('desk_kind'), this.r.by_kind.map((r) => [vocab.label('checkpoint_kinds', r.kind), r])),
      this.r.by_plan.length > 1 ? table('cov-by-plan', t('cov_by_plan'), t('plan'), this.r.by_plan.map((r) => [this.planName(r.plan_id, { plan_name_zh: r.name_zh, plan_name_en: r.name_en }), r])) : null,
    ].flat();
  }

  windows() {
    const rows = this.r.windows;
    if (!rows.length) return null;
    return h('details', { class: 'card filter-box', id: 'cov-windows' },
      h('summary', {}, t('cov_windows', { n: rows.length })),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
        h('caption', { class: 'sr-only' }, t('cov_windows', { n: rows.length })),
        h('thead', {}, h('tr', {}, [t('cov_day'), t('cov_window'), t('plan'), t('cov_status'), t('cov_visited')].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows.map((w) => h('tr', { 'data-status': w.status },
          h('td', {}, this.day(w.day)), h('td', {}, w.window), h('td', {}, this.planName(w.plan_id, w)),
          h('td', {}, t(`cov_status_${w.status}`)), h('td', {}, `${w.visited}/${w.planned}`
            + (w.late ? ` · ${t('cov_late_n', { n: w.late })}` : '')
            + (w.missed_checkpoint_ids?.length ? ` · ${w.missed_checkpoint_ids.map((id) => this.cpName(id)).join('、')}` : ''))))))));
  }
}
