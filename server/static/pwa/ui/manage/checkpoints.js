// A site's checkpoints: find them (kind, floor, words), create, edit, retire, import and export as CSV, print QR labels.
import * as api from '../../api.js';
import { pick, t } from '../../i18n.js';
import * as policy from '../../policy.js';
import * as vocab from '../../vocab.js';
import { h, toast } from '../dom.js';
import { act, add, dangerZone, fetchAll, qs, select, showFieldErrors, siteScreen, textField, writeButton } from '../online.js';
import { DESK, subnav } from './nav.js';

const LABELS_PER_PAGE = 8; // the A4 sheet: 2 × 4 labels

/** Basements first (B2, B1), then 1, 2, … 10, then other names; the same order as the coverage report. */
function floorKey(floor) {
  const b = /^[Bb](\d+)$/.exec(floor || '');
  if (b) return [0, -Number(b[1]), floor];
  if (/^\d+$/.test(floor || '')) return [1, Number(floor), floor];
  return [floor ? 2 : 3, 0, floor || ''];
}

function compareFloors(a, b) {
  const [x, y] = [floorKey(a), floorKey(b)];
  return x[0] - y[0] || x[1] - y[1] || String(x[2]).localeCompare(String(y[2]));
}

const where = (cp) => [cp.building, cp.floor ? t('cp_floor_n', { f: cp.floor }) : '', cp.unit ? t('cp_unit_n', { u: cp.unit }) : ''].filter(Boolean).join(' · ');
const labelsUrl = (siteId, ids) => `/api/sites/${siteId}/labels.pdf${ids ? qs({ checkpoint_ids: ids.join(',') }) : ''}`;

export function render(container, route, ctx) {
  const { query } = route;
  return siteScreen(container, { ...DESK, nav: subnav('manage/checkpoints'), path: 'manage/checkpoints', title: t('cp_title') }, { ...route, ctx }, async (box, siteId) => {
    const editor = policy.can('checkpoint.edit', { siteId });
    const printer = policy.can('checkpoint.print', { siteId });
    const [all, plans] = await Promise.all([
      fetchAll(`/api/checkpoints/${qs({ site_id: siteId })}`),
      api.get(`/api/sites/${siteId}/plans${qs({ active: 'true' })}`),
    ]);
    const screen = new CheckpointsScreen(box, { siteId, editor, printer, all, plans, query, ctx });
    screen.draw();
  });
}

class CheckpointsScreen {
  constructor(box, { siteId, editor, printer, all, plans, query, ctx }) {
    Object.assign(this, { box, siteId, editor, printer, all, plans, ctx });
    this.filters = { q: query.q || '', kind: query.kind || '', floor: query.floor || '', retired: !!query.retired };
    this.selected = new Set();
    this.highlight = Number(query.cp) || null;
  }

  async reload(highlight = null) {
    this.all = await fetchAll(`/api/checkpoints/${qs({ site_id: this.siteId })}`);
    this.highlight = highlight;
    this.drawList();
  }

  draw() {
    const tools = h('div', { class: 'row cp-tools' });
    if (this.editor) {
      tools.append(h('button', { type: 'button', class: 'btn primary', id: 'cp-new', onclick: () => this.openEditor(null) }, t('cp_new')));
    }
    if (this.printer) {
      tools.append(
        h('a', { class: 'btn', id: 'cp-export', href: `/api/sites/${this.siteId}/checkpoints.csv`, download: '' }, t('cp_export')),
        h('a', { class: 'btn', id: 'cp-print-all', href: labelsUrl(this.siteId), target: '_blank', rel: 'noopener' }, t('cp_print_all')));
    }
    this.editorSlot = h('div', { id: 'cp-editor-slot' });
    add(this.box,
      tools,
      this.editor ? this.importPanel() : h('p', { class: 'hint', id: 'cp-readonly' }, t('cp_readonly')),
      this.editorSlot,
      this.filterBar(),
      this.printer ? this.selectionBar() : null,
      h('p', { class: 'hint', id: 'cp-total', role: 'status' }),
      h('ul', { class: 'list', id: 'cp-list' }));
    this.drawList();
  }

  // --- finding checkpoints ------------------------------------------------------------------

  filterBar() {
    const f = this.filters;
    const floors = [...new Set(this.all.map((c) => c.floor).filter(Boolean))].sort(compareFloors);
    const search = h('input', { id: 'cp-search', type: 'search', value: f.q, placeholder: t('cp_search_hint'), autocomplete: 'off' });
    const bar = h('div', { class: 'card filters cp-filters', role: 'search' },
      h('div', { class: 'filter-grid' },
        h('div', { class: 'field' }, h('label', { for: 'cp-search' }, t('cp_search')), search),
        select('cp-kind', t('desk_kind'), [['', t('desk_any')], ...vocab.options('checkpoint_kinds')], f.kind),
        select('cp-floor', t('cp_floor'), [['', t('desk_any')], ...floors.map((x) => [x, x])], f.floor)),
      h('label', { class: 'check', for: 'cp-retired' }, h('input', { type: 'checkbox', id: 'cp-retired', checked: f.retired }), t('cp_show_retired')));
    const changed = () => {
      Object.assign(this.filters, {
        q: search.value.trim(),
        kind: bar.querySelector('#cp-kind').value,
        floor: bar.querySelector('#cp-floor').value,
        retired: bar.querySelector('#cp-retired').checked,
      });
      // The filters live in the address (a reload or a shared link shows the same list) without re-rendering the screen.
      const { q, kind, floor, retired } = this.filters;
      history.replaceState(null, '', `#/manage/checkpoints${qs({ site: this.siteId, q, kind, floor, retired: retired ? 1 : '' })}`);
      this.drawList();
    };
    search.addEventListener('input', changed);
    for (const id of ['#cp-kind', '#cp-floor', '#cp-retired']) bar.querySelector(id).addEventListener('change', changed);
    return bar;
  }

  shown() {
    const { q, kind, floor, retired } = this.filters;
    const words = q.toLowerCase();
    return this.all.filter((cp) => (retired || cp.active)
      && (!kind || cp.kind === kind)
      && (!floor || cp.floor === floor)
      && (!words || [cp.name_zh, cp.name_en, cp.short_code, cp.building, cp.unit].some((v) => (v || '').toLowerCase().includes(words))));
  }

  drawList() {
    const ul = this.box.querySelector('#cp-list');
    const shown = this.shown();
    ul.replaceChildren(...shown.map((cp) => this.row(cp)));
    const total = this.box.querySelector('#cp-total');
    total.textContent = shown.length ? t('cp_total', { n: shown.length, all: this.all.length }) : t('desk_no_match');
    this.updateSelection();
    if (this.highlight) {
      const li = ul.querySelector(`[data-checkpoint="${this.highlight}"]`);
      if (li) {
        li.classList.add('just-saved');
        li.scrollIntoView({ block: 'center' });
      }
      this.highlight = null;
    }
  }

  row(cp) {
    const name = pick(cp);
    // Ticking places is for printing their labels together.
    const box = this.printer ? h('input', { type: 'checkbox', id: `cp-pick-${cp.id}`, class: 'cp-pick', checked: this.selected.has(cp.id), 'aria-label': t('cp_pick', { name }) }) : null;
    box?.addEventListener('change', () => {
      if (box.checked) this.selected.add(cp.id);
      else this.selected.delete(cp.id);
      this.updateSelection();
    });
    const actions = h('div', { class: 'row cp-actions' });
    if (this.printer) {
      actions.append(
        h('a', { class: 'btn small', href: labelsUrl(this.siteId, [cp.id]), target: '_blank', rel: 'noopener', id: `cp-label-${cp.id}`, 'aria-label': t('cp_label_of', { name }) }, t('cp_label')),
        h('a', { class: 'btn small', href: `/api/checkpoints/${cp.id}/qr.svg`, target: '_blank', rel: 'noopener', 'aria-label': t('cp_qr_svg_of', { name }) }, t('cp_qr_svg')));
    }
    const li = h('li', { class: `card cp-row ${cp.active ? '' : 'retired'}`, 'data-checkpoint': cp.id, 'data-code': cp.short_code },
      h('div', { class: 'cp-head' },
        box,
        h('div', { class: 'cp-main' },
          h('p', { class: 'task-line' },
            h('strong', { class: 'cp-name' }, name),
            h('span', { class: 'badge cp-code' }, cp.short_code),
            cp.active ? null : h('span', { class: 'badge major' }, t('cp_retired'))),
          h('p', { class: 'hint' }, [vocab.label('checkpoint_kinds', cp.kind), where(cp), t('cp_position_n', { n: cp.position })].filter(Boolean).join(' · ')))),
      actions);
    if (this.editor) {
      actions.append(h('button', { type: 'button', class: 'btn small', id: `cp-edit-${cp.id}`, 'aria-label': t('cp_edit_of', { name }), onclick: () => this.openEditor(cp) }, t('cp_edit')));
      actions.append(cp.active
        ? h('button', { type: 'button', class: 'btn small danger-text', id: `cp-retire-${cp.id}`, 'aria-label': t('cp_retire_of', { name }), onclick: () => this.confirmRetire(cp, li) }, t('cp_retire'))
        : h('button', { type: 'button', class: 'btn small', id: `cp-restore-${cp.id}`, 'aria-label': t('cp_restore_of', { name }), onclick: () => this.setActive(cp, true, li) }, t('cp_restore')));
    }
    return li;
  }

  // --- labels --------------------------------------------------------------------------------

  selectionBar() {
    return h('div', { class: 'card cp-selection', id: 'cp-selection' },
      h('p', { class: 'hint', id: 'cp-selected', role: 'status' }),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'btn small', id: 'cp-select-shown', onclick: () => { for (const cp of this.shown()) this.selected.add(cp.id); this.drawList(); } }, t('cp_select_shown')),
        h('button', { type: 'button', class: 'btn small', id: 'cp-select-none', onclick: () => { this.selected.clear(); this.drawList(); } }, t('cp_select_none')),
        h('a', { class: 'btn small primary', id: 'cp-print-selected', target: '_blank', rel: 'noopener', href: '#' }, t('cp_print_selected'))));
  }

  updateSelection() {
    if (!this.printer) return;
    // Labels come out in walking order, whatever order they were ticked in.
    const ids = this.all.filter((cp) => this.selected.has(cp.id)).map((cp) => cp.id);
    const n = ids.length;
    const note = this.box.querySelector('#cp-selected');
    note.textContent = n ? t('cp_selected_n', { n, pages: Math.ceil(n / LABELS_PER_PAGE) }) : t('cp_selected_none');
    const link = this.box.querySelector('#cp-print-selected');
    link.hidden = !n;
    link.href = n ? labelsUrl(this.siteId, ids) : '#';
    this.box.querySelector('#cp-select-none').hidden = !n;
    this.box.querySelector('#cp-selection').classList.toggle('has-selection', n > 0);
  }

  // --- create, edit, retire -----------------------------------------------------------------

  openEditor(cp) {
    const isNew = !cp;
    const v = cp || { kind: this.filters.kind || vocab.values('checkpoint_kinds')[0], name_zh: '', name_en: '', building: '', floor: this.filters.floor || '', unit: '', short_code: '', position: '' };
    const err = h('p', { class: 'error', id: 'cp-form-error', role: 'alert' });
    const form = h('form', { class: 'card cp-editor', id: 'cp-editor', 'aria-labelledby': 'cp-editor-title', novalidate: true },
      h('h2', { id: 'cp-editor-title' }, isNew ? t('cp_new') : t('cp_edit_title', { name: pick(cp) })),
      h('div', { class: 'filter-grid' },
        select('cp-f-kind', t('desk_kind'), vocab.options('checkpoint_kinds'), v.kind, { name: 'kind' }),
        textField('cp-f-name-zh', 'name_zh', t('cp_name_zh'), v.name_zh, { required: true, maxlength: 200, lang: 'zh-CN' }),
        textField('cp-f-name-en', 'name_en', t('cp_name_en'), v.name_en, { maxlength: 200, lang: 'en' }),
        textField('cp-f-building', 'building', t('cp_building'), v.building, { maxlength: 64 }),
        textField('cp-f-floor', 'floor', t('cp_floor'), v.floor, { maxlength: 16 }),
        textField('cp-f-unit', 'unit', t('cp_unit'), v.unit, { maxlength: 32 }),
        textField('cp-f-code', 'short_code', t('cp_short_code'), v.short_code, { maxlength: 16, autocapitalize: 'characters' }),
        textField('cp-f-position', 'position', t('cp_position'), v.position === '' ? '' : String(v.position), { inputmode: 'numeric' })),
      h('p', { class: 'hint' }, isNew ? t('cp_code_hint_new') : t('cp_code_hint')),
      err,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'btn primary', id: 'cp-save' }, t('save')),
        h('button', { type: 'button', class: 'btn', id: 'cp-cancel', onclick: () => this.editorSlot.replaceChildren() }, t('cancel'))));
    if (!isNew) form.append(this.reissuePanel(cp));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const val = (id) => form.querySelector(`#${id}`).value.trim();
      const body = { kind: val('cp-f-kind'), name_zh: val('cp-f-name-zh'), name_en: val('cp-f-name-en'), building: val('cp-f-building'), floor: val('cp-f-floor'), unit: val('cp-f-unit') };
      const code = val('cp-f-code');
      const position = val('cp-f-position');
      if (code) body.short_code = code;
      if (position !== '') body.position = /^\d+$/.test(position) ? Number(position) : position;
      // Like a CSV row without a position, a new place goes after all the others in the walking order.
      else if (isNew) body.position = Math.max(0, ...this.all.map((c) => c.position)) + 10;
      const save = form.querySelector('#cp-save');
      save.disabled = true;
      try {
        const saved = isNew ? await api.post('/api/checkpoints/', { site_id: this.siteId, ...body }) : await api.patch(`/api/checkpoints/${cp.id}`, body);
        toast(isNew ? t('cp_created', { code: saved.short_code }) : t('desk_saved'));
        this.editorSlot.replaceChildren();
        await this.reload(saved.id);
      } catch (ex) {
        showFieldErrors(form, err, ex);
      } finally {
        save.disabled = false;
      }
    });
    this.editorSlot.replaceChildren(form);
    form.scrollIntoView({ block: 'start' });
    form.querySelector('#cp-f-name-zh').focus();
  }

  reissuePanel(cp) {
    const err = h('p', { class: 'error', id: 'cp-reissue-error', role: 'alert' });
    const done = h('p', { class: 'hint', id: 'cp-reissued', role: 'status' });
    return dangerZone('cp-reissue', t('cp_reissue'),
      h('p', {}, t('cp_reissue_hint')),
      writeButton({ class: 'btn danger', id: 'cp-reissue-confirm' }, t('cp_reissue_confirm'), err, () => api.post(`/api/checkpoints/${cp.id}/reissue`), () => {
        done.replaceChildren(t('cp_reissued'), ' ',
          h('a', { href: labelsUrl(this.siteId, [cp.id]), target: '_blank', rel: 'noopener', id: 'cp-reissued-label' }, t('cp_print_new_label')));
      }),
      err, done);
  }

  confirmRetire(cp, li) {
    li.querySelector('.cp-confirm')?.remove();
    const inPlans = this.plans.filter((p) => p.checkpoint_ids.includes(cp.id)).map((p) => pick(p));
    const err = h('p', { class: 'error', role: 'alert' });
    const box = h('div', { class: 'cp-confirm banner warn', role: 'group', 'aria-label': t('cp_retire_of', { name: pick(cp) }) },
      h('p', {}, t('cp_retire_hint')),
      inPlans.length ? h('p', { id: 'cp-retire-plans' }, t('cp_retire_in_plans', { plans: inPlans.join('、') })) : null,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'btn danger', id: 'cp-retire-confirm', onclick: () => this.setActive(cp, false, li, err) }, t('cp_retire_confirm')),
        h('button', { type: 'button', class: 'btn', onclick: () => box.remove() }, t('cancel'))),
      err);
    li.append(box);
    box.querySelector('#cp-retire-confirm').focus();
  }

  async setActive(cp, active, li, err = null) {
    const errorBox = err || li.appendChild(h('p', { class: 'error', role: 'alert' }));
    const saved = await act(errorBox, () => api.patch(`/api/checkpoints/${cp.id}`, { active }));
    if (!saved) return;
    toast(active ? t('cp_restored', { name: pick(cp) }) : t('cp_retired_toast', { name: pick(cp) }));
    if (!active) this.selected.delete(cp.id);
    await this.reload(saved.id);
  }

  // --- CSV import with a dry run first ------------------------------------------------------

  importPanel() {
    const file = h('input', { type: 'file', id: 'cp-csv-file', accept: '.csv,text/csv' });
    const out = h('div', { id: 'cp-csv-result' });
    const err = h('p', { class: 'error', id: 'cp-csv-error', role: 'alert' });
    let bytes = null;
    const url = (dry) => `/api/sites/${this.siteId}/checkpoints.csv${dry ? '?dry_run=true' : ''}`;
    const check = h('button', {
      type: 'button', class: 'btn primary', id: 'cp-csv-check',
      onclick: async () => {
        err.textContent = '';
        out.replaceChildren();
        const chosen = file.files[0];
        if (!chosen) { err.textContent = t('cp_csv_choose'); return; }
        // The preview and the import send the very same bytes, even if the file changes on disk meanwhile.
        bytes = await chosen.arrayBuffer();
        check.disabled = true;
        try {
          const preview = await api.upload(url(true), bytes, 'text/csv');
          out.append(...this.previewTable(preview, async (button) => {
            button.disabled = true;
            const done = await act(err, () => api.upload(url(false), bytes, 'text/csv'));
            button.disabled = false;
            if (!done) return;
            out.replaceChildren(h('p', { class: 'ok-text', id: 'cp-csv-done', role: 'status' }, t('cp_csv_done', { c: done.created, u: done.updated, s: done.unchanged })));
            file.value = '';
            toast(t('cp_csv_done', { c: done.created, u: done.updated, s: done.unchanged }));
            await this.reload();
          }));
        } catch (e) {
          if (e.code === 'csv_invalid') out.append(...this.errorTable(e));
          else err.textContent = e instanceof api.ApiError && e.offline ? t('desk_offline') : e.message;
        } finally {
          check.disabled = false;
        }
      },
    }, t('cp_csv_check'));
    file.addEventListener('change', () => { out.replaceChildren(); err.textContent = ''; bytes = null; });
    return h('details', { class: 'card filter-box', id: 'cp-import' },
      h('summary', {}, t('cp_import')),
      h('p', { class: 'hint' }, t('cp_csv_hint')),
      h('p', { class: 'hint mono' }, 'kind,name_zh,name_en,building,floor,unit,short_code,position,active'),
      h('label', { for: 'cp-csv-file' }, t('cp_csv_file')),
      file,
      h('div', { class: 'row' }, check),
      err,
      out);
  }

  errorTable(e) {
    const rows = e.details?.rows || [];
    return [
      h('p', { class: 'error', id: 'cp-csv-invalid', role: 'alert' }, t('cp_csv_invalid', { n: rows.length })),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'data', id: 'cp-csv-errors' },
          h('caption', { class: 'sr-only' }, t('cp_csv_errors_caption')),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('cp_csv_line')), h('th', { scope: 'col' }, t('cp_csv_problems')))),
          h('tbody', {}, rows.map((r) => h('tr', { 'data-line': r.line },
            h('th', { scope: 'row' }, String(r.line)),
            h('td', {}, h('ul', { class: 'plain' }, r.errors.map((m) => h('li', {}, m))))))))),
    ];
  }

  previewTable(p, apply) {
    const changing = p.checkpoints.filter((r) => r.action !== 'unchanged');
    const button = h('button', { type: 'button', class: 'btn ok big', id: 'cp-csv-apply', disabled: !changing.length || null, onclick: () => apply(button) },
      t('cp_csv_apply', { n: changing.length }));
    return [
      h('p', { class: 'ok-text', id: 'cp-csv-summary', role: 'status' }, t('cp_csv_preview', { c: p.created, u: p.updated, s: p.unchanged })),
      changing.length
        ? h('div', { class: 'table-wrap' },
          h('table', { class: 'data', id: 'cp-csv-preview' },
            h('caption', { class: 'sr-only' }, t('cp_csv_preview_caption')),
            h('thead', {}, h('tr', {}, ...['cp_csv_line', 'cp_short_code', 'cp_name_zh', 'cp_csv_action'].map((k) => h('th', { scope: 'col' }, t(k))))),
            h('tbody', {}, changing.map((r) => h('tr', { 'data-line': r.line, 'data-action': r.action },
              h('th', { scope: 'row' }, String(r.line)),
              h('td', {}, r.short_code || t('cp_csv_new_code')),
              h('td', {}, r.name_zh),
              h('td', {}, t(`cp_csv_${r.action}`), r.changed.length ? h('span', { class: 'hint' }, ` (${r.changed.map((c) => t(`cp_col_${c}`)).join('、')})`) : null))))))
        : h('p', { class: 'hint' }, t('cp_csv_nothing')),
      button,
    ];
  }
}
