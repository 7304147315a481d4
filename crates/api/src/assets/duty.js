// hotline console: the duty floor (值班). Loaded after app.js and uses its
// helpers (h, api, $, flash, fmtTime, tile, state) and t() from i18n.js.
// Pages: #/duty?date=YYYY-MM-DD (roster, changes, CSV import, attendance),
// #/handover (the handover form and the list to acknowledge); on the
// wallboard a small "on duty: should be / is" panel. Every string is in the
// catalogue under duty.*; user data only via textContent.
// Everything is inside one function: only window.hotlineDuty is global.
'use strict';

(() => {
const isLead = () => state.me && state.me.role !== 'agent';
const pctOrDash = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(0)}%`);
const todayLocal = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};
const statusName = (s) => tOr(`duty.status.${s}`, s.replace(/_/g, ' '));

// the wallboard panel: who should be on the floor now and who is
async function wallboard(box) {
  if (!box) return;
  const draw = async () => {
    try {
      const f = await api('GET', '/api/duty/floor');
      const missing = f.missing || [];
      box.replaceChildren(
        h('h3', {}, t('duty.on_duty')),
        h('div', { class: 'tiles' },
          tile(t('duty.should'), String((f.should || []).length), 'duty-should'),
          tile(t('duty.is'), String((f.is || []).filter((a) => (f.should || []).includes(a)).length), 'duty-is'),
          tile(t('duty.missing'), missing.length ? missing.join(' ') : '–', 'duty-missing')),
        h('p', { class: 'muted' },
          `${t('duty.shifts')}: ${(f.shifts || []).join(' ') || '–'} · ${t('duty.supervisors')}: ${(f.supervisors || []).join(' ') || '–'}`),
      );
      box.classList.toggle('alarm', missing.length > 0);
    } catch (e) {
      // duty disabled (404) or no access: no panel
      box.replaceChildren();
    }
  };
  await draw();
  clearInterval(wallboard.timer);
  wallboard.timer = setInterval(() => {
    if (!document.body.contains(box)) { clearInterval(wallboard.timer); return; }
    draw();
  }, 15000);
}

function rosterTable(r) {
  const rows = r.duties.map((d) => h('tr', {},
    h('td', {}, d.agent), h('td', {}, d.shift), h('td', {}, fmtTime(d.start_ms)), h('td', {}, fmtTime(d.end_ms))));
  if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, t('duty.nobody'))));
  return h('table', { id: 'duty-roster' },
    h('tr', {}, ...['duty.agent', 'duty.shift', 'duty.start', 'duty.end'].map((k) => h('th', {}, t(k)))),
    ...rows);
}

function attendanceTable(a) {
  const rows = a.duties.map((d) => h('tr', { class: d.status === 'absent' ? 'overdue' : '' },
    h('td', {}, d.agent), h('td', {}, d.shift), h('td', {}, statusName(d.status)),
    h('td', {}, d.first_in_ms ? fmtTime(d.first_in_ms) : ''), h('td', {}, d.last_out_ms ? fmtTime(d.last_out_ms) : ''),
    h('td', { class: 'num' }, d.scheduled_ms ? pctOrDash(d.available_ms / d.scheduled_ms) : '–')));
  return [
    h('div', { class: 'tiles' },
      tile(t('duty.scheduled'), String(a.scheduled), 'duty-scheduled'),
      tile(t('duty.present'), String(a.present), 'duty-present'),
      tile(t('duty.late'), String(a.late), 'duty-late'),
      tile(t('duty.absent'), String(a.absent), 'duty-absent'),
      tile(t('duty.attendance_rate'), pctOrDash(a.attendance_rate), 'duty-rate'),
      tile(t('duty.adherence'), pctOrDash(a.adherence), 'duty-adherence')),
    h('table', { id: 'duty-attendance' },
      h('tr', {}, ...['duty.agent', 'duty.shift', 'duty.status_col', 'duty.first_in', 'duty.last_out', 'duty.adherence'].map((k) => h('th', {}, t(k)))),
      ...rows),
  ];
}

function changeForm(date, reload) {
  const form = h('form', { id: 'duty-change', class: 'inline' },
    h('label', {}, `${t('duty.agent')} `, h('input', { name: 'agent', required: true, maxlength: 64 })),
    h('label', {}, `${t('duty.shift')} `, h('input', { name: 'shift', maxlength: 64, placeholder: 'early / 18:00-22:00' })),
    h('label', {}, `${t('duty.action')} `, h('select', { name: 'action' },
      h('option', { value: 'add' }, t('duty.add')), h('option', { value: 'remove' }, t('duty.remove')))),
    h('label', {}, `${t('duty.note')} `, h('input', { name: 'note', maxlength: 200 })),
    h('button', { type: 'submit' }, t('duty.save')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    try {
      await api('POST', '/api/roster', { date, agent: d.get('agent'), shift: d.get('shift'), action: d.get('action'), note: d.get('note') });
      flash(t('duty.saved'));
      reload();
    } catch (e) { flash(e.message); }
  });
  const imp = h('form', { id: 'duty-import', class: 'inline' },
    h('label', {}, `${t('duty.import')} `, h('input', { name: 'file', type: 'file', accept: '.csv,text/csv', required: true })),
    h('button', { type: 'submit' }, t('duty.upload')));
  imp.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const file = new FormData(imp).get('file');
    try {
      const r = await fetch('/api/roster/import', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': state.csrf || '', 'Content-Type': 'text/csv' }, body: file });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(body.error || String(r.status));
      flash(t('duty.imported', { n: body.imported }));
      reload();
    } catch (e) { flash(e.message); }
  });
  return [h('h3', {}, t('duty.change')), form, imp];
}

async function viewDuty(query) {
  const v = $('view');
  const date = new URLSearchParams(query || '').get('date') || todayLocal();
  const reload = () => viewDuty(`date=${date}`);
  const picker = h('input', { type: 'date', value: date, id: 'duty-date' });
  picker.addEventListener('change', () => { location.hash = `#/duty?date=${picker.value}`; });
  v.replaceChildren(h('h2', {}, t('duty.title')), h('label', {}, `${t('duty.date')} `, picker), h('p', { class: 'muted' }, t('duty.loading')));
  try {
    const [r, a] = await Promise.all([
      api('GET', `/api/roster?date=${encodeURIComponent(date)}`),
      api('GET', `/api/attendance?from=${encodeURIComponent(date)}&to=${encodeURIComponent(date)}`),
    ]);
    const floor = h('div', { id: 'duty-floor' });
    v.replaceChildren(
      h('h2', {}, t('duty.title')), h('label', {}, `${t('duty.date')} `, picker),
      floor,
      h('h3', {}, t('duty.roster')), rosterTable(r),
      r.changes.length ? h('ul', { id: 'duty-changes' }, ...r.changes.map((c) => h('li', {}, `${c.op === 'add' ? t('duty.add') : t('duty.remove')} ${c.agent} ${c.shift || t('duty.all_shifts')} ${c.note || ''}`))) : '',
      ...(isLead() ? changeForm(date, reload) : []),
      h('h3', {}, t('duty.attendance')), ...attendanceTable(a.attendance),
    );
    wallboard(floor);
  } catch (e) { v.replaceChildren(h('h2', {}, t('duty.title')), h('p', { class: 'error' }, e.message)); }
}

function handoverBlock(x, reload) {
  const ack = x.acknowledged_by
    ? h('span', { class: 'muted' }, t('duty.acknowledged_by', { who: x.acknowledged_by, at: fmtTime(x.acknowledged_ms) }))
    : h('button', { type: 'button', class: 'duty-ack', onclick: async () => {
      try { await api('POST', `/api/handovers/${x.id}/ack`); flash(t('duty.acknowledged')); reload(); } catch (e) { flash(e.message); }
    } }, t('duty.acknowledge'));
  return h('article', { class: 'handover', 'data-handover': x.id },
    h('h4', {}, `${x.shift} ${x.date} · ${t('duty.written_by', { who: x.written_by, at: fmtTime(x.written_ms) })}`),
    h('pre', {}, x.text),
    x.items.length ? h('ul', {}, ...x.items.map((i) => h('li', {}, `[${tOr(`duty.item.${i.kind}`, i.kind)}] ${i.text}`))) : '',
    ack);
}

async function viewHandover(query) {
  const v = $('view');
  const reload = () => viewHandover(query);
  v.replaceChildren(h('h2', {}, t('duty.handover')), h('p', { class: 'muted' }, t('duty.loading')));
  try {
    const [r, list] = await Promise.all([api('GET', '/api/roster'), api('GET', '/api/handovers')]);
    const shifts = r.shifts.map((s) => s.name);
    const select = h('select', { name: 'shift', id: 'duty-handover-shift' }, ...shifts.map((s) => h('option', { value: s }, s)));
    const items = h('ul', { id: 'duty-prefill' });
    const text = h('textarea', { name: 'text', rows: 8, cols: 80, maxlength: 20000, required: true });
    const prefill = async () => {
      if (!select.value) return;
      try {
        const p = await api('GET', `/api/handovers/prefill?shift=${encodeURIComponent(select.value)}`);
        items.replaceChildren(...p.items.map((i) => h('li', {}, `[${tOr(`duty.item.${i.kind}`, i.kind)}] ${i.text}`)));
        if (!items.children.length) items.append(h('li', { class: 'muted' }, t('duty.nothing_open')));
        if (p.handover && !text.value) text.value = p.handover.text;
      } catch (e) { items.replaceChildren(h('li', { class: 'error' }, e.message)); }
    };
    select.addEventListener('change', prefill);
    const form = h('form', { id: 'duty-handover' },
      h('label', {}, `${t('duty.shift')} `, select),
      h('h4', {}, t('duty.prefilled')), items,
      h('label', {}, t('duty.handover_text'), h('br', {}), text),
      h('button', { type: 'submit' }, t('duty.write')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', '/api/handovers', { shift: select.value, text: text.value });
        flash(t('duty.saved'));
        reload();
      } catch (e) { flash(e.message); }
    });
    v.replaceChildren(
      h('h2', {}, t('duty.handover')), form,
      h('h3', {}, t('duty.handovers')),
      ...(list.handovers.length ? list.handovers.slice().reverse().map((x) => handoverBlock(x, reload)) : [h('p', { class: 'muted' }, t('duty.no_handovers'))]),
    );
    prefill();
  } catch (e) { v.replaceChildren(h('h2', {}, t('duty.handover')), h('p', { class: 'error' }, e.message)); }
}

function route(view, arg, query) {
  if (view === 'duty') { viewDuty(query); return true; }
  if (view === 'handover') { viewHandover(query); return true; }
  return false;
}

window.hotlineDuty = { route, wallboard };
})();
