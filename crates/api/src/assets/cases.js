// hotline console: complaint cases (首问负责制), their timeline, and the
// customer page. Loaded after app.js and uses its helpers (h, api, $,
// fmtTime, flash, stopStream, state). Every string shown is in STR below
// (to move into the zh-CN/en catalogue); user data only via textContent.
// Everything is inside one function: only window.hotlineCases is global.
'use strict';

(() => {
const STR = {
  nav: 'Cases',
  navOverdue: (n) => `Cases (${n} overdue)`,
  cases: 'Cases',
  filter: 'Filter',
  status: 'Status', open: 'open', closed: 'closed', any: 'any',
  severity: 'Severity', owner: 'Owner', number: 'Number', stage: 'Stage', overdueOnly: 'Overdue only',
  columns: ['case', 'number', 'title', 'owner', 'severity', 'stage', 'status', 'reply by', ''],
  overdue: 'OVERDUE',
  none: 'no case',
  prev: '← newer', next: 'older →',
  caseTitle: (id) => `Case ${id}`,
  facts: {
    number: 'Customer', owner: 'Owner (first contact)', severity: 'Severity', stage: 'Stage',
    status: 'Status', deadline: 'Reply by', replied: 'Replied', valid: 'Judged', escalated: 'Escalated to',
    concerned: 'About agent', closing: 'Closing summary', opened: 'Opened',
  },
  validYes: 'valid', validNo: 'invalid', notJudged: 'not judged',
  nextStage: (s) => `Move to “${s}”`,
  stageNote: 'What was done',
  judge: 'Judge and escalate',
  valid: 'Valid complaint', reason: 'Reason', escalateTo: 'Escalate to (role or person)', save: 'Save',
  timeline: 'Timeline',
  linkedCalls: 'Linked calls and recordings',
  callCols: ['call', 'arrived', 'agent', 'talk', 'recording'],
  listen: 'listen',
  notes: 'Call notes',
  customer: (n) => `Customer ${n}`,
  vip: 'VIP', blacklisted: 'Blacklisted', language: 'Language', name: 'Name',
  calls: 'Calls', noteCols: ['time', 'call', 'category', 'summary', 'follow-up', 'by'],
  caseCols: ['case', 'title', 'owner', 'stage', 'status'],
  conflict: 'Someone else changed this case: reloaded.',
  saved: 'Saved.',
};

const STAGES = ['receive', 'investigate', 'analyse', 'handle', 'reply', 'summarise'];

function caseRow(c) {
  return h('tr', { class: 'case-row', 'data-case': c.id },
    h('td', {}, h('a', { href: `#/case/${c.id}` }, String(c.id))),
    h('td', {}, h('a', { href: `#/customer/${encodeURIComponent(c.number)}` }, c.number)),
    h('td', {}, c.title), h('td', {}, c.owner), h('td', {}, c.severity), h('td', {}, c.stage),
    h('td', {}, c.status), h('td', {}, fmtTime(c.deadline_ms)),
    h('td', {}, c.overdue && c.status === 'open' ? h('span', { class: 'clock exceeded' }, STR.overdue) : ''));
}

async function viewCases(query) {
  const q = new URLSearchParams(query || '');
  if (!q.has('status')) q.set('status', 'open');
  const sel = (name, opts) => h('select', { name }, ...opts.map(([v, t]) => h('option', { value: v, selected: q.get(name) === v }, t)));
  const form = h('form', { class: 'inline', id: 'cases-filter' },
    h('label', {}, STR.status, sel('status', [['open', STR.open], ['closed', STR.closed], ['', STR.any]])),
    h('label', {}, STR.severity, sel('severity', [['', STR.any], ['general', 'general'], ['major', 'major'], ['crisis', 'crisis']])),
    h('label', {}, STR.owner, h('input', { name: 'owner', value: q.get('owner') || '', maxlength: 128 })),
    h('label', {}, STR.number, h('input', { name: 'number', value: q.get('number') || '', maxlength: 64 })),
    h('label', {}, STR.overdueOnly, h('input', { type: 'checkbox', name: 'overdue', checked: q.get('overdue') === 'true' })),
    h('button', { type: 'submit' }, STR.filter));
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
  $('view').replaceChildren(h('h2', {}, STR.cases), form, table);
  const p = new URLSearchParams();
  for (const [k, v] of q) if (v !== '') p.set(k, v);
  try {
    const page = await api('GET', `/api/cases?${p}`);
    table.replaceChildren(h('tr', {}, STR.columns.map((x) => h('th', {}, x))), ...page.items.map(caseRow));
    if (!page.items.length) table.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, STR.none)));
    const off = Number(q.get('offset') || 0);
    const go = (o) => { const n = new URLSearchParams(q); n.set('offset', o); location.hash = `#/cases?${n}`; };
    const nav = h('p', {});
    if (off > 0) nav.append(h('button', { type: 'button', onclick: () => go(Math.max(0, off - page.limit)) }, STR.prev), ' ');
    if (off + page.items.length < page.total) nav.append(h('button', { type: 'button', onclick: () => go(off + page.limit) }, STR.next));
    $('view').append(nav);
  } catch (e) {
    table.replaceChildren(h('tr', {}, h('td', { class: 'error' }, e.message)));
  }
}

function fact(k, v, id) {
  return h('tr', {}, h('th', {}, k), h('td', { id }, v === null || v === undefined ? '' : v));
}

async function viewCase(id) {
  let c;
  try { c = await api('GET', `/api/cases/${encodeURIComponent(id)}`); } catch (e) {
    $('view').replaceChildren(h('p', { class: 'error' }, e.message));
    return;
  }
  const F = STR.facts;
  const judged = c.valid === null ? STR.notJudged : `${c.valid ? STR.validYes : STR.validNo}: ${c.validity_reason || ''}`;
  const facts = h('table', { id: 'case-facts' },
    fact(F.number, h('a', { href: `#/customer/${encodeURIComponent(c.number)}` }, `${c.number}${c.customer_name ? ` (${c.customer_name})` : ''}`)),
    fact(F.owner, c.owner, 'case-owner'), fact(F.severity, c.severity, 'case-severity'),
    fact(F.stage, c.stage, 'case-stage'), fact(F.status, c.status, 'case-status'),
    fact(F.deadline, h('span', { class: c.overdue && c.status === 'open' ? 'clock exceeded' : '' }, fmtTime(c.deadline_ms))),
    fact(F.replied, fmtTime(c.replied_ms)), fact(F.valid, judged, 'case-valid'),
    fact(F.escalated, c.escalated_to), fact(F.concerned, c.agent_concerned),
    fact(F.opened, `${fmtTime(c.opened_ms)} · ${c.opened_by}`), fact(F.closing, c.closing_summary, 'case-closing'));
  const parts = [h('h2', {}, STR.caseTitle(c.id), ' — ', c.title), facts];
  const again = () => viewCase(id);
  const failed = (e) => { if (/changed by someone else/.test(e.message)) { flash(STR.conflict); again(); } else flash(e.message); };
  if (c.status === 'open') {
    const next = STAGES[STAGES.indexOf(c.stage) + 1];
    if (next) {
      const note = h('textarea', { id: 'stage-note', rows: 2, cols: 60, maxlength: 4000, placeholder: STR.stageNote });
      const f = h('form', { class: 'inline', id: 'stage-form' }, note, h('button', { type: 'submit', id: 'stage-next' }, STR.nextStage(next)));
      f.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        try { await api('POST', `/api/cases/${c.id}/stage`, { version: c.version, stage: next, note: note.value }); flash(STR.saved); again(); } catch (e) { failed(e); }
      });
      parts.push(f);
    }
    const valid = h('input', { type: 'checkbox', id: 'judge-valid', checked: c.valid !== false });
    const reason = h('input', { id: 'judge-reason', maxlength: 128, value: c.validity_reason || '' });
    const esc = h('input', { id: 'judge-escalate', maxlength: 128, value: c.escalated_to || '' });
    const j = h('form', { class: 'inline', id: 'judge-form' },
      h('label', {}, STR.valid, valid), h('label', {}, STR.reason, reason), h('label', {}, STR.escalateTo, esc),
      h('button', { type: 'submit' }, STR.save));
    j.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { version: c.version };
      if (reason.value.trim()) { body.valid = valid.checked; body.validity_reason = reason.value; }
      if (esc.value.trim() && esc.value !== c.escalated_to) body.escalate_to = esc.value;
      try { await api('POST', `/api/cases/${c.id}`, body); flash(STR.saved); again(); } catch (e) { failed(e); }
    });
    parts.push(h('h3', {}, STR.judge), j);
  }
  parts.push(h('h3', {}, STR.timeline), h('ol', { class: 'timeline', id: 'case-timeline' },
    ...c.steps.map((s) => h('li', { 'data-action': s.action }, h('span', { class: 't' }, fmtTime(s.at_ms)), ' ', h('b', {}, s.action), ` · ${s.by} · `, s.note))));
  parts.push(h('h3', {}, STR.linkedCalls), h('table', { id: 'case-calls' },
    h('tr', {}, STR.callCols.map((x) => h('th', {}, x))),
    ...c.calls.map((x) => h('tr', { 'data-call': x.call_id },
      h('td', {}, h('a', { href: `#/call/${encodeURIComponent(x.call_id)}` }, x.call_id.slice(0, 12))),
      h('td', {}, fmtTime(x.arrived_ms)), h('td', {}, x.agent || ''), h('td', {}, fmtDur(x.talk_ms)),
      h('td', {}, x.recorded ? h('a', { class: 'case-recording', href: `#/call/${encodeURIComponent(x.call_id)}` }, STR.listen) : '')))));
  if (c.notes.length) parts.push(h('h3', {}, STR.notes), notesTable(c.notes));
  $('view').replaceChildren(...parts);
}

function notesTable(notes) {
  return h('table', { class: 'notes' }, h('tr', {}, STR.noteCols.map((x) => h('th', {}, x))),
    ...notes.map((n) => h('tr', {}, h('td', {}, fmtTime(n.at_ms)),
      h('td', {}, h('a', { href: `#/call/${encodeURIComponent(n.call_id)}` }, n.call_id.slice(0, 12))),
      h('td', {}, n.category), h('td', {}, n.summary), h('td', {}, n.follow_up || ''), h('td', {}, n.by))));
}

async function viewCustomer(number) {
  let p;
  try { p = await api('GET', `/api/customers/${encodeURIComponent(number)}`); } catch (e) {
    $('view').replaceChildren(h('p', { class: 'error' }, e.message));
    return;
  }
  const flags = [];
  if (p.vip) flags.push(h('span', { class: 'clock warning', id: 'customer-vip' }, STR.vip));
  if (p.blacklist) flags.push(' ', h('span', { class: 'clock exceeded', id: 'customer-blacklisted' }, `${STR.blacklisted}: ${p.blacklist.reason}`));
  $('view').replaceChildren(
    h('h2', {}, STR.customer(p.number)), h('p', {}, ...flags),
    h('table', { id: 'customer-facts' }, fact(STR.name, p.name, 'customer-name'), fact(STR.language, p.language),
      fact(STR.calls, String(p.calls_total), 'customer-calls-total')),
    h('h3', {}, STR.cases), h('table', { id: 'customer-cases' }, h('tr', {}, STR.caseCols.map((x) => h('th', {}, x))),
      ...p.cases.map((c) => h('tr', {}, h('td', {}, h('a', { href: `#/case/${c.id}` }, String(c.id))), h('td', {}, c.title),
        h('td', {}, c.owner), h('td', {}, c.stage), h('td', {}, c.status)))),
    h('h3', {}, STR.notes), notesTable(p.notes),
    h('h3', {}, STR.calls), h('table', { id: 'customer-calls' }, h('tr', {}, STR.callCols.map((x) => h('th', {}, x))),
      ...p.calls.map((x) => h('tr', {}, h('td', {}, h('a', { href: `#/call/${encodeURIComponent(x.call_id)}` }, x.call_id.slice(0, 12))),
        h('td', {}, fmtTime(x.arrived_ms)), h('td', {}, x.agent || ''), h('td', {}, fmtDur(x.talk_ms)),
        h('td', {}, x.recorded ? STR.listen : '')))));
}

// the overdue figure beside the nav link, refreshed every 15 s
async function refreshBadge() {
  const a = $('nav-cases');
  if (!a || !state.me) return;
  try {
    const s = await api('GET', '/api/cases/summary');
    a.textContent = s.overdue > 0 ? STR.navOverdue(s.overdue) : STR.nav;
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
