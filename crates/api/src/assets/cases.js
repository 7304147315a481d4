// hotline console: complaint cases (首问负责制), their timeline, and the
// customer page. Loaded after app.js and uses its helpers (h, api, $,
// fmtTime, flash, stopStream, state) and i18n.js's t()/tOr(): every string
// shown is in the catalogue (assets/i18n/*.json, keys `cases.*`); user data
// only via textContent.
// Everything is inside one function: only window.hotlineCases is global.
'use strict';

(() => {
const STAGES = ['receive', 'investigate', 'analyse', 'handle', 'reply', 'summarise'];

// the names the server sends, in the reader's language (the raw value stays
// in data-value for scripts)
const stageName = (x) => (x ? tOr(`cases.stage.${x}`, x) : '');
const statusName = (x) => (x ? tOr(`cases.status.${x}`, x) : '');
const severityName = (x) => (x ? tOr(`cases.severity.${x}`, x) : '');
const actionName = (x) => (x ? tOr(`cases.stage.${x}`, tOr(`cases.action.${x}`, x)) : '');
const named = (id, raw, shown) => h('td', { id, 'data-value': raw || '' }, shown);
// a talk time in words (3分12秒 / 3 min 12 s); nothing when there was none
const talk = (ms) => (ms ? fmtDuration(ms) : '');

function caseRow(c) {
  return h('tr', { class: 'case-row', 'data-case': c.id },
    h('td', {}, h('a', { href: `#/case/${c.id}` }, String(c.id))),
    h('td', {}, h('a', { href: `#/customer/${encodeURIComponent(c.number)}` }, c.number)),
    h('td', {}, c.title), h('td', {}, c.owner), named(null, c.severity, severityName(c.severity)),
    named(null, c.stage, stageName(c.stage)), named(null, c.status, statusName(c.status)), h('td', {}, fmtTime(c.deadline_ms)),
    h('td', {}, c.overdue && c.status === 'open' ? h('span', { class: 'clock exceeded' }, t('cases.overdue')) : ''));
}

async function viewCases(query) {
  const q = new URLSearchParams(query || '');
  if (!q.has('status')) q.set('status', 'open');
  const sel = (name, opts) => h('select', { name }, ...opts.map(([v, label]) => h('option', { value: v, selected: q.get(name) === v }, label)));
  const form = h('form', { class: 'inline', id: 'cases-filter' },
    h('label', {}, t('cases.status'), sel('status', [['open', statusName('open')], ['closed', statusName('closed')], ['', t('filter.any')]])),
    h('label', {}, t('cases.severity'), sel('severity', [['', t('filter.any')], ...['general', 'major', 'crisis'].map((x) => [x, severityName(x)])])),
    h('label', {}, t('cases.owner'), h('input', { name: 'owner', value: q.get('owner') || '', maxlength: 128 })),
    h('label', {}, t('cases.number'), h('input', { name: 'number', value: q.get('number') || '', maxlength: 64 })),
    h('label', {}, t('cases.overdue_only'), h('input', { type: 'checkbox', name: 'overdue', checked: q.get('overdue') === 'true' })),
    h('button', { type: 'submit' }, t('filter.submit')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === 'checkbox') { if (el.checked) p.set(el.name, 'true'); } else p.set(el.name, el.value);
    }
    location.hash = `#/cases?${p}`;
  });
  const table = h('table', { id: 'cases-table' });
  $('view').replaceChildren(h('h2', {}, t('cases.title')), form, table);
  const p = new URLSearchParams();
  for (const [k, v] of q) if (v !== '') p.set(k, v);
  try {
    const page = await api('GET', `/api/cases?${p}`);
    const cols = ['cases.col.case', 'cases.number', 'cases.col.title', 'cases.owner', 'cases.severity', 'cases.stage', 'cases.status', 'cases.fact.deadline', ''];
    table.replaceChildren(h('tr', {}, cols.map((x) => h('th', {}, x ? t(x) : ''))), ...page.items.map(caseRow));
    if (!page.items.length) table.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, t('cases.none'))));
    const off = Number(q.get('offset') || 0);
    const go = (o) => { const n = new URLSearchParams(q); n.set('offset', o); location.hash = `#/cases?${n}`; };
    const nav = h('p', {});
    if (off > 0) nav.append(h('button', { type: 'button', onclick: () => go(Math.max(0, off - page.limit)) }, t('pager.newer')), ' ');
    if (off + page.items.length < page.total) nav.append(h('button', { type: 'button', onclick: () => go(off + page.limit) }, t('pager.older')));
    $('view').append(nav);
  } catch (e) {
    table.replaceChildren(h('tr', {}, h('td', { class: 'error' }, e.message)));
  }
}

function fact(key, v, id, raw) {
  return h('tr', {}, h('th', {}, t(key)), h('td', { id, 'data-value': raw }, v === null || v === undefined ? '' : v));
}

async function viewCase(id) {
  let c;
  try { c = await api('GET', `/api/cases/${encodeURIComponent(id)}`); } catch (e) {
    $('view').replaceChildren(h('p', { class: 'error' }, e.message));
    return;
  }
  const judged = c.valid === null || c.valid === undefined
    ? t('cases.not_judged')
    : t('cases.judged', { verdict: c.valid ? t('cases.valid_yes') : t('cases.valid_no'), reason: c.validity_reason || '' });
  const facts = h('table', { id: 'case-facts' },
    fact('cases.fact.number', h('a', { href: `#/customer/${encodeURIComponent(c.number)}` }, c.customer_name ? t('cases.number_name', { number: c.number, name: c.customer_name }) : c.number)),
    fact('cases.fact.owner', c.owner, 'case-owner'), fact('cases.severity', severityName(c.severity), 'case-severity', c.severity),
    fact('cases.stage', stageName(c.stage), 'case-stage', c.stage), fact('cases.status', statusName(c.status), 'case-status', c.status),
    fact('cases.fact.deadline', h('span', { class: c.overdue && c.status === 'open' ? 'clock exceeded' : '' }, fmtTime(c.deadline_ms))),
    fact('cases.fact.replied', fmtTime(c.replied_ms)), fact('cases.fact.valid', judged, 'case-valid'),
    fact('cases.fact.escalated', c.escalated_to), fact('cases.fact.concerned', c.agent_concerned),
    fact('cases.fact.opened', t('cases.opened_by', { at: fmtTime(c.opened_ms), by: c.opened_by })), fact('cases.fact.closing', c.closing_summary, 'case-closing'));
  const parts = [h('h2', {}, t('cases.case_title', { id: c.id, title: c.title })), facts];
  const again = () => viewCase(id);
  const failed = (e) => { if (/changed by someone else/.test(e.message)) { flash(t('cases.conflict')); again(); } else flash(e.message); };
  if (c.status === 'open') {
    const next = STAGES[STAGES.indexOf(c.stage) + 1];
    if (next) {
      const note = h('textarea', { id: 'stage-note', rows: 2, cols: 60, maxlength: 4000, placeholder: t('cases.stage_note') });
      const f = h('form', { class: 'inline', id: 'stage-form' }, note, h('button', { type: 'submit', id: 'stage-next' }, t('cases.next_stage', { stage: stageName(next) })));
      f.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try { await api('POST', `/api/cases/${c.id}/stage`, { version: c.version, stage: next, note: note.value }); flash(t('cases.saved')); again(); } catch (e) { failed(e); }
      });
      parts.push(f);
    }
    const valid = h('input', { type: 'checkbox', id: 'judge-valid', checked: c.valid !== false });
    const reason = h('input', { id: 'judge-reason', maxlength: 128, value: c.validity_reason || '' });
    const esc = h('input', { id: 'judge-escalate', maxlength: 128, value: c.escalated_to || '' });
    const j = h('form', { class: 'inline', id: 'judge-form' },
      h('label', {}, t('cases.valid'), valid), h('label', {}, t('col.reason'), reason), h('label', {}, t('cases.escalate_to'), esc),
      h('button', { type: 'submit' }, t('cases.save')));
    j.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { version: c.version };
      if (reason.value.trim()) { body.valid = valid.checked; body.validity_reason = reason.value; }
      if (esc.value.trim() && esc.value !== c.escalated_to) body.escalate_to = esc.value;
      try { await api('POST', `/api/cases/${c.id}`, body); flash(t('cases.saved')); again(); } catch (e) { failed(e); }
    });
    parts.push(h('h3', {}, t('cases.judge')), j);
  }
  parts.push(h('h3', {}, t('cases.timeline')), h('ol', { class: 'timeline', id: 'case-timeline' },
    ...c.steps.map((s) => h('li', { 'data-action': s.action }, h('span', { class: 't' }, fmtTime(s.at_ms)), ' ', h('b', {}, actionName(s.action)), ` · ${s.by} · `, s.note || ''))));
  parts.push(h('h3', {}, t('cases.linked_calls')), h('table', { id: 'case-calls' },
    callHead(),
    ...c.calls.map((x) => h('tr', { 'data-call': x.call_id },
      h('td', {}, h('a', { href: `#/call/${encodeURIComponent(x.call_id)}` }, x.call_id.slice(0, 12))),
      h('td', {}, fmtTime(x.arrived_ms)), h('td', {}, x.agent || ''), h('td', { class: 'num' }, talk(x.talk_ms)),
      h('td', {}, x.recorded ? h('a', { class: 'case-recording', href: `#/call/${encodeURIComponent(x.call_id)}` }, t('cases.listen')) : '')))));
  if (c.notes.length) parts.push(h('h3', {}, t('cases.notes')), notesTable(c.notes));
  $('view').replaceChildren(...parts);
}

function callHead() {
  return h('tr', {}, ['col.call', 'col.arrived', 'col.agent', 'col.talk', 'cases.col.recording'].map((x) => h('th', {}, t(x))));
}

function notesTable(notes) {
  return h('table', { class: 'notes' }, h('tr', {}, ['col.time', 'col.call', 'cases.col.category', 'cases.col.summary', 'cases.col.follow_up', 'col.by'].map((x) => h('th', {}, t(x)))),
    ...notes.map((n) => h('tr', {}, h('td', {}, fmtTime(n.at_ms)),
      h('td', {}, h('a', { href: `#/call/${encodeURIComponent(n.call_id)}` }, n.call_id.slice(0, 12))),
      h('td', { 'data-value': n.category }, tOr(`desk.category.${n.category}`, n.category)), h('td', {}, n.summary), h('td', {}, n.follow_up || ''), h('td', {}, n.by))));
}

async function viewCustomer(number) {
  let p;
  try { p = await api('GET', `/api/customers/${encodeURIComponent(number)}`); } catch (e) {
    $('view').replaceChildren(h('p', { class: 'error' }, e.message));
    return;
  }
  const flags = [];
  if (p.vip) flags.push(h('span', { class: 'clock warning', id: 'customer-vip' }, t('cases.vip')));
  if (p.blacklist) flags.push(' ', h('span', { class: 'clock exceeded', id: 'customer-blacklisted' }, t('cases.blacklisted', { reason: p.blacklist.reason || '' })));
  $('view').replaceChildren(
    h('h2', {}, t('cases.customer', { number: p.number })), h('p', {}, ...flags),
    h('table', { id: 'customer-facts' }, fact('cases.name', p.name, 'customer-name'), fact('cases.language', p.language || ''),
      fact('cases.calls', fmtNum(p.calls_total), 'customer-calls-total', String(p.calls_total))),
    h('h3', {}, t('cases.title')), h('table', { id: 'customer-cases' }, h('tr', {}, ['cases.col.case', 'cases.col.title', 'cases.owner', 'cases.stage', 'cases.status'].map((x) => h('th', {}, t(x)))),
      ...p.cases.map((c) => h('tr', {}, h('td', {}, h('a', { href: `#/case/${c.id}` }, String(c.id))), h('td', {}, c.title),
        h('td', {}, c.owner), named(null, c.stage, stageName(c.stage)), named(null, c.status, statusName(c.status))))),
    h('h3', {}, t('cases.notes')), notesTable(p.notes),
    h('h3', {}, t('worklist.title')), h('table', { id: 'customer-work-items' },
      h('tr', {}, ['worklist.kind', 'worklist.owner', 'worklist.due', 'worklist.outcome'].map((x) => h('th', {}, t(x)))),
      ...(p.work_items || []).map((i) => h('tr', { class: i.overdue ? 'overdue' : '' },
        named(null, i.kind, tOr(`worklist.kind.${i.kind}`, i.kind)),
        h('td', {}, i.owner.agent ? i.owner.agent : t('worklist.owner_queue', { queue: i.owner.queue || '' })),
        h('td', {}, fmtTime(i.deadline_ms)),
        named(null, i.outcome || 'open', i.outcome ? tOr(`worklist.outcome.${i.outcome}`, i.outcome) : t('worklist.open'))))),
    h('h3', {}, t('cases.calls')), h('table', { id: 'customer-calls' }, callHead(),
      ...p.calls.map((x) => h('tr', {}, h('td', {}, h('a', { href: `#/call/${encodeURIComponent(x.call_id)}` }, x.call_id.slice(0, 12))),
        h('td', {}, fmtTime(x.arrived_ms)), h('td', {}, x.agent || ''), h('td', { class: 'num' }, talk(x.talk_ms)),
        h('td', {}, x.recorded ? t('cases.listen') : '')))));
}

// the overdue figure beside the nav link, refreshed every 15 s
async function refreshBadge() {
  const a = $('nav-cases');
  if (!a || !state.me) return;
  try {
    const s = await api('GET', '/api/cases/summary');
    a.textContent = s.overdue > 0 ? t('cases.nav_overdue', { n: s.overdue }) : t('nav.cases');
    a.classList.toggle('held', s.overdue > 0);
    a.dataset.overdue = String(s.overdue);
  } catch (_) { /* logged out or no database: keep the last */ }
}
setInterval(refreshBadge, 15000);

window.hotlineCases = {
  // called by app.js's route(): true when the view is one of ours
  route(view, arg, query) {
    refreshBadge();
    switch (view) {
      case 'cases': stopStream(); viewCases(query); return true;
      case 'case': stopStream(); viewCase(decodeURIComponent(arg || '')); return true;
      case 'customer': stopStream(); viewCustomer(decodeURIComponent(arg || '')); return true;
      default: return false;
    }
  },
};
})();
