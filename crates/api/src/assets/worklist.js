// hotline console: work lists and return visits (回访). Loaded after app.js
// and uses its helpers (h, api, flash, fmtTime, state). Pages:
// #/worklist (my work list, promise form), #/campaigns (progress, import,
// quotas), #/visit/ID (the visit form); a work-list box on the wallboard.
'use strict';

// every string shown is in the catalogue (assets/i18n/*.json, keys
// `worklist.*`), looked up with i18n.js's t()/tOr()
const wlKind = (k) => (k ? tOr(`worklist.kind.${k}`, k.replace(/_/g, ' ')) : '');
const wlOwner = (o) => (o.agent ? o.agent : t('worklist.owner_queue', { queue: o.queue || '' }));
// a label with its field after a space
const wlLabel = (key, field) => h('label', {}, `${t(key)} `, field);

async function wlFigures(box) {
  try {
    const f = await api('GET', '/api/worklist/figures');
    const today = f.today || {};
    const ttr = today.avg_time_to_return_ms;
    box.replaceChildren(
      tile(t('worklist.open'), fmtNum(f.open), 'wl-open'),
      tile(t('worklist.overdue'), fmtNum(f.overdue), 'wl-overdue'),
      tile(t('worklist.refused'), fmtNum(f.refused_dials), 'wl-refused'),
      tile(t('worklist.returned_today'), today.percent_returned === null || today.percent_returned === undefined ? '–' : fmtPct(today.percent_returned / 100), 'wl-returned'),
      tile(t('worklist.time_to_return'), ttr === null || ttr === undefined ? '–' : fmtDuration(ttr), 'wl-ttr'),
    );
    box.classList.toggle('alarm', f.overdue > 0);
  } catch (e) { box.replaceChildren(h('p', { class: 'muted' }, e.message)); }
}

// click-to-call: the agent's phone rings first, then the item's number (an
// agent dials as themselves, a supervisor for the item's owner)
async function wlDial(i) {
  const agent = state.me.role === 'agent' ? state.me.user : (i.owner && i.owner.agent);
  if (!agent) { flash(t('worklist.dial_no_agent')); return; }
  const type = i.kind === 'return_visit' ? 'return_visit' : (i.kind === 'promise' ? 'reply' : 'callback');
  try {
    await api('POST', `/api/agents/${encodeURIComponent(agent)}/dial`, { number: i.number, type });
    flash(t('worklist.dialling', { agent }));
  } catch (e) { flash(e.message); }
}

async function wlList(v) {
  const [list] = await Promise.all([api('GET', '/api/worklist')]);
  const rows = list.items.map((i) => h('tr', { 'data-item': i.id, class: i.overdue ? 'overdue' : '' },
    h('td', {}, i.id), h('td', {}, wlKind(i.kind)), h('td', {}, i.number),
    h('td', {}, [i.name, i.card].filter(Boolean).join(' / ')), h('td', {}, wlOwner(i.owner)),
    h('td', { class: i.overdue ? 'error' : '' }, fmtTime(i.deadline_ms)), h('td', { class: 'num' }, fmtNum(i.attempts)),
    h('td', {}, i.preferred || ''), h('td', {}, i.notes || ''),
    h('td', {},
      h('button', { type: 'button', class: 'wl-dial', onclick: () => wlDial(i) }, t('worklist.dial')), ' ',
      i.kind === 'return_visit' ? h('a', { href: `#/visit/${i.id}` }, t('worklist.visit')) : [
        h('button', { type: 'button', onclick: () => wlClose(i.id, 'resolved') }, t('worklist.resolved')), ' ',
        h('button', { type: 'button', onclick: () => wlClose(i.id, 'given_up') }, t('worklist.give_up'))])));
  const form = h('form', { id: 'wl-promise', class: 'inline' },
    wlLabel('worklist.number', h('input', { name: 'number', required: true, maxlength: 40 })),
    wlLabel('worklist.name', h('input', { name: 'name', maxlength: 64 })),
    wlLabel('worklist.notes', h('input', { name: 'notes', maxlength: 1000 })),
    wlLabel('worklist.due', h('input', { name: 'due', type: 'datetime-local' })),
    h('button', { type: 'submit' }, t('worklist.add')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const body = { number: d.get('number'), name: d.get('name'), notes: d.get('notes') };
    if (d.get('due')) body.due = d.get('due');
    try { await api('POST', '/api/worklist/promise', body); flash(t('worklist.saved')); wlRoute('worklist'); } catch (e) { flash(e.message); }
  });
  const box = h('div', { class: 'tiles', id: 'wl-figures' });
  const cols = ['worklist.id', 'worklist.kind', 'worklist.number', 'worklist.name_card', 'worklist.owner', 'worklist.due', 'worklist.attempts', 'worklist.preferred', 'worklist.notes', 'worklist.actions'];
  v.replaceChildren(h('h2', {}, t('worklist.title')), box,
    h('table', { id: 'wl-items' }, h('tr', {}, cols.map((x) => h('th', {}, t(x)))), ...rows),
    rows.length ? '' : h('p', { class: 'muted' }, t('worklist.no_items')),
    h('h3', {}, t('worklist.promise')), form);
  wlFigures(box);
}

async function wlClose(id, outcome) {
  try { await api('POST', `/api/worklist/${id}/close`, { outcome }); flash(t('worklist.saved')); wlRoute('worklist'); } catch (e) { flash(e.message); }
}

function wlQuotaTable(q, title) {
  return [h('h3', {}, t('worklist.quotas_of', { period: title })), h('table', { class: 'wl-quota' },
    h('tr', {}, ['worklist.agent', 'worklist.target', 'worklist.valid', 'worklist.made', 'worklist.remaining', 'worklist.progress'].map((x) => h('th', {}, t(x)))),
    ...q.agents.map((a) => h('tr', { 'data-agent': a.agent }, h('td', {}, a.agent), h('td', { class: 'num' }, fmtNum(a.target)),
      h('td', { class: 'num' }, fmtNum(a.valid)), h('td', { class: 'num' }, fmtNum(a.made)), h('td', { class: 'num' }, fmtNum(a.remaining)),
      h('td', {}, h('progress', { max: Math.max(1, a.target), value: Math.min(a.valid, a.target) }), ` ${fmtPct(a.percent / 100)}`))))];
}

async function wlCampaigns(v) {
  const [c, week, month] = await Promise.all([api('GET', '/api/campaigns'), api('GET', '/api/visits/quotas?period=week'), api('GET', '/api/visits/quotas?period=month')]);
  const sup = state.me.role !== 'agent';
  const out = h('div', { id: 'wl-import-result' });
  const form = h('form', { id: 'wl-import', class: 'inline' },
    wlLabel('worklist.campaign_name', h('input', { name: 'name', required: true, maxlength: 64 })),
    wlLabel('worklist.queue', h('input', { name: 'queue', maxlength: 64 })),
    wlLabel('worklist.due', h('input', { name: 'due', type: 'date' })),
    wlLabel('worklist.file', h('input', { name: 'file', type: 'file', accept: '.csv,text/csv', required: true })),
    h('button', { type: 'submit' }, t('worklist.import')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const q = new URLSearchParams({ name: d.get('name') });
    if (d.get('queue')) q.set('queue', d.get('queue'));
    if (d.get('due')) q.set('due', d.get('due'));
    const r = await fetch(`/api/campaigns/import?${q}`, { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': state.csrf || '', 'Content-Type': 'text/csv' }, body: d.get('file') });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) { out.replaceChildren(h('p', { class: 'error' }, j.error || String(r.status))); return; }
    out.replaceChildren(h('p', {}, t('worklist.import_result', { imported: j.imported, duplicates: j.duplicates.length, errors: j.error_count })),
      h('ul', {}, ...j.errors.map((e) => h('li', { class: 'error' }, t('worklist.line_error', { line: e.line, error: e.error })))));
  });
  const cols = ['worklist.campaign_name', 'worklist.members', 'worklist.open', 'worklist.reached', 'worklist.refused_v', 'worklist.attempts', ''];
  v.replaceChildren(h('h2', {}, t('worklist.campaigns')),
    h('table', { id: 'wl-campaigns' }, h('tr', {}, cols.map((x) => h('th', {}, x ? t(x) : ''))),
      ...c.campaigns.map((x) => h('tr', { 'data-campaign': x.id }, h('td', {}, x.name), h('td', { class: 'num' }, fmtNum(x.members)), h('td', { class: 'num' }, fmtNum(x.open)),
        h('td', { class: 'num' }, fmtNum(x.reached)), h('td', { class: 'num' }, fmtNum(x.refused)), h('td', { class: 'num' }, fmtNum(x.attempts)),
        h('td', {}, sup ? h('a', { href: `/api/campaigns/${x.id}/export` }, t('worklist.export')) : '')))),
    ...wlQuotaTable(week, t('worklist.week')), ...wlQuotaTable(month, t('worklist.month')),
    sup ? h('h3', {}, t('worklist.import')) : '', sup ? form : '', out);
}

async function wlVisit(v, id) {
  const item = await api('GET', `/api/worklist/${encodeURIComponent(id)}`);
  const form = h('form', { id: 'wl-visit' },
    h('p', {}, [item.name, item.card, item.number].filter(Boolean).join(' / '), item.preferred ? ` (${item.preferred})` : ''),
    wlLabel('worklist.outcome', h('select', { name: 'outcome' }, h('option', { value: 'reached' }, t('worklist.reached')), h('option', { value: 'not_reached' }, t('worklist.not_reached')), h('option', { value: 'refused' }, t('worklist.refused_v')))),
    wlLabel('worklist.satisfaction', h('select', { name: 'satisfaction' }, h('option', { value: '' }, '–'), ...[5, 4, 3, 2, 1].map((n) => h('option', { value: n }, fmtNum(n))))),
    wlLabel('worklist.opinions', h('textarea', { name: 'opinions', maxlength: 2000, rows: 4 })),
    wlLabel('worklist.duration', h('input', { name: 'duration_s', type: 'number', min: 0, max: 86400 })),
    h('button', { type: 'submit' }, t('worklist.save')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const body = { item: item.id, outcome: d.get('outcome'), opinions: d.get('opinions') };
    if (d.get('satisfaction')) body.satisfaction = Number(d.get('satisfaction'));
    if (d.get('duration_s')) body.duration_s = Number(d.get('duration_s'));
    try { const r = await api('POST', '/api/visits', body); flash(r.valid ? t('worklist.saved_valid') : t('worklist.saved_not_valid')); location.hash = '#/worklist'; } catch (e) { flash(e.message); }
  });
  v.replaceChildren(h('h2', {}, t('worklist.visit_title', { id: item.id })), form);
}

// Called by app.js's route(): true when the view is one of ours.
function wlRoute(view, arg) {
  const v = $('view');
  const fail = (e) => v.replaceChildren(h('p', { class: 'error' }, e.message));
  switch (view) {
    case 'worklist': wlList(v).catch(fail); return true;
    case 'campaigns': wlCampaigns(v).catch(fail); return true;
    case 'visit': wlVisit(v, arg || '').catch(fail); return true;
    default: return false;
  }
}

// The wallboard's work-list box (open, overdue, returned today), refreshed
// every 5 s while the wallboard shows.
function wlWallboard(box) {
  const tiles = h('div', { class: 'tiles', id: 'wl-figures' });
  const quota = h('div', { id: 'wl-wb-quota' });
  box.replaceChildren(h('h3', {}, t('worklist.title')), tiles, quota);
  const refresh = () => {
    wlFigures(tiles);
    api('GET', '/api/visits/quotas?period=week').then((q) => quota.replaceChildren(...wlQuotaTable(q, t('worklist.week')))).catch(() => {});
  };
  refresh();
  clearInterval(wlWallboard.t);
  wlWallboard.t = setInterval(() => { if (document.body.contains(box)) refresh(); else clearInterval(wlWallboard.t); }, 5000);
}

window.hotlineWorklist = { route: wlRoute, wallboard: wlWallboard };
