// hotline supervisor console. Plain JS, no build step; every page goes
// through the JSON API (docs/api.md). User data is only ever set with
// textContent, never as HTML.
'use strict';

const state = { me: null, csrf: null, stream: null, lastFrame: 0, watchdog: null, calls: new Map(), agents: [], snapshot: null, latencies: [], tick: null, kpis: null };
window.hotline = state; // read by the browser test (latencies)

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// a running clock (m:ss, the same in every language)
function fmtDur(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}
// t, tOr, fmtNum, fmtPct, fmtDateTime, fmtDuration and I18N come from
// i18n.js (loaded first)
const fmtTime = fmtDateTime;
const pct = fmtPct;

function flash(text) {
  const f = $('flash');
  f.textContent = text;
  f.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { f.hidden = true; }, 4000);
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = state.csrf || '';
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 401 && path !== '/api/login') {
    state.me = null;
    showLogin();
    throw new Error(t('err.not_logged_in'));
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!r.ok) throw new Error((data && data.code === 'node_standby' && t('ha.node_standby')) || (data && data.error) || `${r.status}`);
  return data;
}

// ---------- login ----------

function showLogin() {
  stopStream();
  $('nav').hidden = true;
  $('view').replaceChildren();
  $('login-view').hidden = false;
}

async function login(ev) {
  ev.preventDefault();
  const err = $('login-error');
  err.hidden = true;
  try {
    const me = await api('POST', '/api/login', { user: $('login-user').value, password: $('login-password').value });
    $('login-password').value = '';
    loggedIn(me);
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
  }
}

function loggedIn(me) {
  state.me = me;
  state.csrf = me.csrf;
  $('login-view').hidden = true;
  $('nav').hidden = false;
  $('whoami').textContent = t('nav.whoami', { user: me.user, role: tOr(`role.${me.role}`, me.role) });
  $('nav-audit').hidden = me.role !== 'admin';
  $('nav-desk').hidden = me.role !== 'agent'; // desk.js
  if (!location.hash || location.hash === '#/login') location.hash = me.role === 'agent' ? '#/desk' : '#/wallboard';
  // the language this user chose (stored on the server); a user who never
  // chose keeps the one this browser uses (nothing is stored until they pick)
  fetch('/api/me/language', { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : null)).then((p) => {
    if (p && p.language && p.language !== I18N.lang) window.hotlineI18n.setLanguage(p.language);
  }).catch(() => {});
  route();
}

// the language switch: now, in this browser, and for this user
async function pickLanguage(lang) {
  window.hotlineI18n.setLanguage(lang);
  if (state.me) {
    try { await api('PUT', '/api/me/language', { language: lang }); } catch (e) { flash(t('lang.not_saved', { error: e.message })); }
  }
}

async function logout() {
  try { await api('POST', '/api/logout'); } catch (_) { /* gone anyway */ }
  state.me = null;
  state.csrf = null;
  location.hash = '#/login';
  showLogin();
}

// ---------- live stream (wallboard) ----------

function stopStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
  clearInterval(state.watchdog);
  state.watchdog = null;
}

function startStream() {
  stopStream();
  const es = new EventSource('/api/stream');
  state.stream = es;
  state.lastFrame = Date.now();
  es.addEventListener('snapshot', (m) => {
    state.lastFrame = Date.now();
    setStale(false);
    try { state.snapshot = JSON.parse(m.data); } catch (_) { return; }
    renderWallboard();
  });
  es.addEventListener('call_event', (m) => {
    state.lastFrame = Date.now();
    let e;
    try { e = JSON.parse(m.data); } catch (_) { return; }
    applyEvent(e);
    renderWallboard();
    // event-to-screen latency: the event's time to the frame that shows it
    requestAnimationFrame(() => {
      const lat = Date.now() - e.at_ms;
      state.latencies.push({ type: e.kind && e.kind.type, call: e.call_id, ms: lat });
      if (state.latencies.length > 1000) state.latencies.shift();
    });
  });
  es.addEventListener('lagged', () => { setStale(true); startStream(); });
  es.onerror = () => setStale(true);
  // snapshots come every second: three missed is a stale connection
  state.watchdog = setInterval(() => {
    if (Date.now() - state.lastFrame > 3500) {
      setStale(true);
      startStream();
    }
  }, 1000);
}

function setStale(stale) {
  const b = $('banner');
  if (stale) {
    b.textContent = t('wb.stale');
    b.hidden = false;
  } else {
    b.hidden = true;
  }
}

const ENDS = new Set(['completed', 'abandoned', 'failed', 'rejected', 'voicemail_left', 'callback_requested']);
const AGENT_EVENTS = new Set(['agent_paused', 'agent_unpaused', 'agent_logged_in', 'agent_logged_out', 'agent_registered', 'agent_unregistered', 'wrap_up', 'offered', 'agent_answered', 'completed', 'agent_ring_no_answer', 'agent_rejected']);

function applyEvent(e) {
  const type = e.kind && e.kind.type; // (never a local `t`: it would hide t() from i18n.js)
  const id = e.call_id;
  if (id) {
    if (type === 'arrived') {
      state.calls.set(id, { id, caller: e.kind.caller && e.kind.caller.number, since: e.at_ms, type: e.kind.call_type, queue: e.queue, agent: null, answered: null, limit: null, level: '' });
    }
    const c = state.calls.get(id);
    if (c) {
      if (e.queue) c.queue = e.queue;
      if (type === 'offered' && e.agent) c.offered = e.agent;
      if (type === 'agent_answered') { c.agent = e.agent; c.answered = e.at_ms; }
      if (type === 'ivr_choice' && e.kind.call_type) c.type = e.kind.call_type;
      if (type === 'limit_warning') { c.level = 'warning'; c.limit = e.kind.limit_ms; c.type = e.kind.call_type; }
      if (type === 'limit_exceeded') { c.level = 'exceeded'; c.limit = e.kind.limit_ms; c.type = e.kind.call_type; }
      if (ENDS.has(type)) state.calls.delete(id);
    }
  }
  if (AGENT_EVENTS.has(type)) refreshAgents();
}

async function refreshAgents() {
  clearTimeout(refreshAgents.t);
  refreshAgents.t = setTimeout(async () => {
    try {
      const r = await fetch('/api/agents', { credentials: 'same-origin' });
      if (!r.ok) return;
      const list = await r.json();
      const now = Date.now();
      for (const a of list) {
        const old = state.agents.find((x) => x.agent === a.agent);
        a.since = old && old.state === a.state ? old.since : now;
      }
      state.agents = list;
      adoptCallsInProgress(list);
      renderWallboard();
      if (currentView() === 'agents') renderAgentsTable();
    } catch (_) { /* the banner says so */ }
  }, 100);
}

// Calls that were already up when the page opened: the engine tells which
// call an agent on a call talks on (the clock then counts from the page load
// and is shown with a ~).
async function adoptCallsInProgress(list) {
  state.adopted = state.adopted || new Set();
  for (const a of list) if (a.state !== 'on_call') state.adopted.delete(a.agent);
  for (const a of list) {
    if (a.state !== 'on_call' || state.adopted.has(a.agent)) continue;
    if ([...state.calls.values()].some((c) => c.agent === a.agent)) continue;
    state.adopted.add(a.agent);
    try {
      const r = await fetch(`/api/agents/${encodeURIComponent(a.agent)}/call`, { credentials: 'same-origin' });
      if (!r.ok) continue;
      const c = await r.json();
      if (!c || !c.call_id || state.calls.has(c.call_id)) continue;
      const now = Date.now();
      state.calls.set(c.call_id, { id: c.call_id, caller: c.caller, since: now, type: c.call_type, queue: c.queue, agent: c.agent || a.agent, answered: now, limit: null, level: '', approx: true });
      renderWallboard();
    } catch (_) { /* the events will tell */ }
  }
}

function currentView() {
  return (location.hash.replace(/^#\//, '').split('/')[0]) || 'wallboard';
}

// a figure in the unit of its KPI column (GET /api/kpis)
function fmtFigure(col, v) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return '–';
  switch (col.unit) {
    case 'millis': case 'span': return fmtDuration(v); // 3分12秒 / 3 min 12 s
    case 'ratio': return pct(v);
    case 'count': return fmtNum(v);
    case 'rings': return t('unit.rings', { n: fmtNum(v, 1) });
    case 'per_hour': return t('unit.per_hour', { n: fmtNum(v, 1) });
    case 'money': return fmtNum(v, 2);
    default: return fmtNum(v, 1);
  }
}

function tile(k, v, id, help) {
  return h('div', { class: 'tile', title: help || null }, h('div', { class: 'v', id }, v), h('div', { class: 'k' }, k));
}

function viewWallboard() {
  const v = $('view');
  v.replaceChildren(
    h('h2', {}, t('wb.title')),
    h('div', { class: 'tiles', id: 'wb-tiles' }),
    h('h3', {}, t('wb.queues')),
    h('table', { id: 'wb-queues' }),
    h('h3', {}, t('wb.calls')),
    h('table', { id: 'wb-calls' }),
    h('h3', {}, t('wb.agents')),
    h('table', { id: 'wb-agents' }),
    h('h3', { id: 'wb-trunks-title', hidden: true }, t('wb.trunks')),
    h('table', { id: 'wb-trunks' }),
    h('div', { id: 'wb-worklist' }),
    h('div', { id: 'wb-duty' }),
    h('div', { id: 'wb-linetest' }),
    h('div', { id: 'wb-cluster' }),
  );
  refreshTrunks();
  if (window.hotlineWorklist) window.hotlineWorklist.wallboard($('wb-worklist'));
  if (window.hotlineDuty) window.hotlineDuty.wallboard($('wb-duty'));
  if (window.hotlineLineTest) window.hotlineLineTest.wallboard($('wb-linetest'));
  if (window.hotlineCluster) window.hotlineCluster.wallboard($('wb-cluster'));
  startStream();
  refreshAgents();
  if (!state.kpis) {
    fetch('/api/kpis').then((r) => (r.ok ? r.json() : null)).then((k) => { if (k) { state.kpis = k; renderWallboard(); } }).catch(() => {});
  }
  clearInterval(state.tick);
  state.tick = setInterval(() => {
    if (currentView() !== 'wallboard') return;
    renderWallboard();
    state.tickCount = (state.tickCount || 0) + 1;
    if (state.tickCount % 5 === 0) refreshTrunks();
  }, 1000);
}

// the carrier trunks (GET /api/trunks): health, channels, placed and refused
async function refreshTrunks() {
  try {
    const r = await fetch('/api/trunks', { credentials: 'same-origin' });
    if (!r.ok) return;
    state.trunks = await r.json();
    renderTrunks();
  } catch (e) { /* the next refresh tries again */ }
}

function trunkHealth(hl) {
  if (!hl || hl.state === 'unknown') return t('trunk.unknown');
  return hl.state === 'up' ? t('trunk.up') : t('trunk.down', { reason: hl.reason || '' });
}

function renderTrunks() {
  const table = $('wb-trunks');
  if (!table) return;
  const list = state.trunks || [];
  $('wb-trunks-title').hidden = !list.length;
  table.replaceChildren(
    ...(list.length ? [h('tr', {}, ['col.trunk', 'col.health', 'col.channels', 'col.placed', 'col.refused'].map((x) => h('th', {}, t(x))))] : []),
    ...list.map((tr) => h('tr', { 'data-trunk': tr.name, class: tr.health && tr.health.state === 'down' ? 'alarm' : '' },
      h('td', {}, tr.name), h('td', { class: `trunk-${tr.health ? tr.health.state : 'unknown'}` }, trunkHealth(tr.health)),
      h('td', { class: 'num' }, `${fmtNum(tr.in_use)} / ${fmtNum(tr.max_channels)}`),
      h('td', { class: 'num' }, fmtNum(tr.placed)),
      h('td', { class: 'num' }, `${fmtNum(tr.refused_full)} / ${fmtNum(tr.refused_down)}`))),
  );
}

function renderWallboard() {
  if (currentView() !== 'wallboard' || !$('wb-tiles')) return;
  const s = state.snapshot && state.snapshot.today;
  const c = s ? s.center : null;
  // the tiles and the queue table are the columns /api/kpis names for the wallboard
  const cols = (state.kpis && state.kpis.wallboard.map((n) => state.kpis.columns.find((x) => x.name === n)).filter(Boolean)) || [];
  const ids = { waiting_now: 'wb-waiting', talking_now: 'wb-talking', offered: 'wb-offered' };
  $('wb-tiles').replaceChildren(...cols.map((col) => tile(kpiTitle(col), c ? fmtFigure(col, c[col.name]) : '–', ids[col.name], kpiHelp(col))));
  const qs = s ? Object.entries(s.queues || {}) : [];
  $('wb-queues').replaceChildren(
    h('tr', {}, [t('col.queue'), ...cols.map(kpiTitle)].map((x, i) => h('th', { class: i ? 'num' : '', title: i ? kpiHelp(cols[i - 1]) : '' }, x))),
    ...qs.map(([q, f]) => h('tr', { 'data-queue': q },
      h('td', {}, queueName(q)), ...cols.map((col) => h('td', { class: 'num' }, fmtFigure(col, f[col.name]))))),
  );
  const now = Date.now();
  const calls = [...state.calls.values()].sort((a, b) => a.since - b.since);
  $('wb-calls').replaceChildren(
    h('tr', {}, ['col.call', 'col.caller', 'col.queue', 'col.type', 'col.agent', 'col.waiting_talking', 'col.limit'].map((x) => h('th', {}, t(x)))),
    ...calls.map((c) => h('tr', { class: 'live-call', 'data-call': c.id },
      h('td', {}, h('a', { href: `#/call/${encodeURIComponent(c.id)}` }, c.id.slice(0, 12))),
      h('td', {}, c.caller || ''), h('td', {}, queueName(c.queue)), h('td', {}, callType(c.type)), h('td', {}, c.agent || (c.offered ? t('wb.ringing', { agent: c.offered }) : t('wb.waiting'))),
      h('td', {}, h('span', { class: `clock ${c.level}` }, (c.approx ? '~' : '') + (c.answered ? fmtDur(now - c.answered) : fmtDur(now - c.since)))),
      h('td', {}, c.limit ? fmtDur(c.limit) : ''))),
  );
  if (!calls.length) $('wb-calls').append(h('tr', {}, h('td', { colspan: 7, class: 'muted', id: 'wb-no-calls' }, t('wb.no_calls'))));
  const figures = (state.snapshot && state.snapshot.today && state.snapshot.today.agents) || {};
  $('wb-agents').replaceChildren(
    h('tr', {}, ['col.agent', 'col.state', 'col.in_state', 'col.reason', 'col.call', 'col.handle_time', 'col.missed_today', 'col.within_limit'].map((x) => h('th', {}, t(x)))),
    ...state.agents.map((a) => {
      const call = calls.find((c) => c.agent === a.agent);
      const f = figures[a.agent] || {};
      return h('tr', { 'data-agent': a.agent },
        h('td', {}, a.agent), h('td', { class: `state-${a.state}` }, agentState(a.state)), h('td', {}, fmtDur(now - a.since)),
        h('td', {}, pauseReason(a.reason)), h('td', {}, call ? callType(call.type) : ''),
        h('td', {}, call && call.answered ? h('span', { class: `clock ${call.level}` }, fmtDur(now - call.answered) + (call.limit ? ` / ${fmtDur(call.limit)}` : '')) : ''),
        h('td', { class: 'num' }, fmtNum(f.missed !== undefined ? f.missed : a.missed)), h('td', { class: 'num' }, pct(f.within_limit)));
    }),
  );
}

// ---------- calls and recordings ----------

function filterForm(kind, q) {
  const field = (name, label, attrs) => h('label', {}, label, h('input', Object.assign({ name, value: q.get(name) || '' }, attrs || {})));
  const sel = (name, label, options, show) => h('label', {}, label, h('select', { name }, options.map((o) => h('option', { value: o, selected: (q.get(name) || '') === o }, o ? show(o) : t('filter.any')))));
  const yesNo = (o) => (o === 'true' ? t('common.yes') : t('common.no'));
  return h('form', { class: 'inline', id: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(ev.target)) if (v) p.set(k, v);
    location.hash = `#/${kind}?${p}`;
  } },
  field('from', t('filter.from'), { type: 'date' }), field('to', t('filter.to'), { type: 'date' }), field('caller', t('col.caller')), field('agent', t('col.agent')), field('queue', t('col.queue')),
  sel('type', t('col.type'), ['', 'order', 'inquiry', 'callback', 'complaint', 'reply', 'return_visit', 'other'], callType),
  sel('outcome', t('col.outcome'), ['', 'answered', 'abandoned', 'rejected', 'failed', 'voicemail', 'callback'], outcomeName),
  sel('marked', t('filter.marked'), ['', 'true', 'false'], yesNo),
  kind === 'recordings' ? sel('held', t('filter.held'), ['', 'true', 'false'], yesNo) : null,
  h('button', { type: 'submit' }, t('filter.submit')));
}

async function viewList(kind, query) {
  const q = new URLSearchParams(query || '');
  const v = $('view');
  const table = h('table', { id: `${kind}-table` });
  const pager = h('div', { class: 'pager' });
  v.replaceChildren(h('h2', {}, kind === 'calls' ? t('nav.calls') : t('nav.recordings')), filterForm(kind, q), table, pager);
  const limit = 50;
  const offset = Number(q.get('offset') || 0);
  q.set('limit', limit);
  let page;
  try { page = await api('GET', `/api/${kind}?${q}`); } catch (e) { table.replaceChildren(h('tr', {}, h('td', { class: 'error' }, e.message))); return; }
  table.replaceChildren(
    h('tr', {}, ['col.arrived', 'col.call', 'col.caller', 'col.queue', 'col.agent', 'col.type', 'col.outcome', 'col.wait', 'col.talk', 'col.marks', 'col.hold'].map((x) => h('th', {}, t(x)))),
    ...page.items.map((c) => h('tr', { 'data-call': c.call_id },
      h('td', {}, fmtTime(c.arrived_ms)), h('td', {}, h('a', { href: `#/call/${encodeURIComponent(c.call_id)}` }, c.call_id.slice(0, 16))),
      h('td', {}, c.caller), h('td', {}, queueName(c.queue)), h('td', {}, c.agent || ''), h('td', {}, callType(c.type)), h('td', {}, outcomeName(c.outcome)),
      h('td', { class: 'num' }, fmtDuration(c.wait_ms)), h('td', { class: 'num' }, fmtDuration(c.talk_ms)),
      h('td', {}, c.marks.map((m) => markKind(m.kind)).join(t('common.list_sep'))), h('td', { class: c.held ? 'held' : '' }, c.held ? t('list.on_hold') : ''))),
  );
  const go = (off) => { const p = new URLSearchParams(query || ''); p.set('offset', off); location.hash = `#/${kind}?${p}`; };
  // (replaceChildren writes a null child as the text "null": only nodes here)
  const shown = page.items.length;
  pager.replaceChildren(...[
    h('span', { class: 'muted', id: `${kind}-pager` }, shown
      ? t(kind === 'calls' ? 'pager.calls' : 'pager.recordings', { n: page.total, from: offset + 1, to: offset + shown })
      : t(kind === 'calls' ? 'pager.no_calls' : 'pager.no_recordings')),
    offset > 0 ? h('button', { onclick: () => go(Math.max(0, offset - limit)) }, t('pager.newer')) : null,
    offset + limit < page.total ? h('button', { onclick: () => go(offset + limit) }, t('pager.older')) : null,
  ].filter(Boolean));
}

function describe(e) {
  const k = e.kind || {};
  const bits = [];
  if (k.caller) bits.push(t('ev.from', { number: k.caller.number }));
  if (e.agent) bits.push(t('ev.agent', { agent: e.agent }));
  if (e.queue) bits.push(t('ev.queue', { queue: queueName(e.queue) }));
  for (const key of ['wait_ms', 'talk_ms', 'rings', 'ended_by', 'reason', 'call_type', 'limit_ms', 'position', 'to']) {
    if (k[key] === undefined || k[key] === null) continue;
    let val = k[key];
    if (key.endsWith('_ms')) val = fmtDuration(val);
    else if (key === 'call_type') val = callType(val);
    else if (key === 'ended_by') val = tOr(`ended_by.${val}`, val);
    else if (key === 'to') val = queueName(val);
    else if (typeof val === 'number') val = fmtNum(val);
    bits.push(`${tOr(`field.${key}`, key)} ${val}`);
  }
  if (k.suite) bits.push(t('srtp.suite', { suite: k.suite })); // media_encrypted (SRTP)
  if (k.side === 'caller') bits.push(t('srtp.side.caller'));
  else if (k.side === 'agent') bits.push(t('srtp.side.agent'));
  return bits.join(t('common.list_sep'));
}

async function viewCall(id) {
  const v = $('view');
  v.replaceChildren(h('h2', {}, t('call.title', { id })));
  let call;
  try { call = await api('GET', `/api/calls/${encodeURIComponent(id)}`); } catch (e) { v.append(h('p', { class: 'error' }, e.message)); return; }
  const c = call.cdr;
  if (c) {
    v.append(h('table', { class: 'facts' },
      [['caller', c.caller], ['dialled', c.dialled], ['queue', queueName(c.queue)], ['agent', c.agent], ['type', callType(c.type)], ['arrived', fmtTime(c.arrived_ms)], ['outcome', outcomeName(c.outcome)], ['wait', fmtDuration(c.wait_ms)], ['talk', fmtDuration(c.talk_ms)], ['hold', call.held ? t('call.on_legal_hold_caps') : t('common.no')]]
        .map(([k, x]) => h('tr', {}, h('th', {}, t(`col.${k}`)), h('td', { class: k === 'hold' && call.held ? 'held' : '' }, x || '')))));
  }
  const t0 = call.events.length ? call.events[0].at_ms : 0;
  v.append(h('h3', {}, t('call.timeline')), h('ol', { class: 'timeline', id: 'timeline' },
    call.events.map((e) => h('li', {}, h('span', { class: 't' }, t('call.offset_s', { s: fmtNum((e.at_ms - t0) / 1000, 1) })), h('b', {}, tOr(`event.${e.kind.type}`, (e.kind.type || '').replace(/_/g, ' '))), ' ', describe(e)))));
  if (call.marks.length) {
    v.append(h('h3', {}, t('call.marks')), h('ul', { id: 'marks' }, call.marks.map((m) => h('li', {}, t('call.mark_line', { kind: markKind(m.kind), by: m.by, at: fmtTime(m.at_ms), note: m.note }), m.released_ms ? t('call.mark_released', { by: m.released_by, reason: m.release_reason }) : t('call.mark_held')))));
  }
  if (c && c.recorded) {
    await player(v, id, call.held);
    if (window.hotlineQuality) await window.hotlineQuality.attach(v, id, c); // quality.js
  }
  if (window.hotlineDesk) v.append(await window.hotlineDesk.noteForm(id)); // desk.js: the call note
  if (c) {
    v.append(h('p', {}, h('a', { href: `#/blacklist?caller=${encodeURIComponent(c.caller)}&call=${encodeURIComponent(id)}` }, t('call.blacklist_caller'))));
  }
}

// ---------- recording player ----------

async function player(v, id, held) {
  const enc = encodeURIComponent(id);
  const canvas = h('canvas', { id: 'wave', width: 1200, height: 200 });
  const audio = h('audio', { id: 'audio', preload: 'auto' });
  const playBtn = h('button', { id: 'play', type: 'button', disabled: true }, t('player.play'));
  const pos = h('span', { id: 'pos', class: 'clock' }, '0:00');
  // the regulations: slow replay from 20 % to 100 %
  const speed = h('select', { id: 'speed' }, ['0.2', '0.25', '0.5', '0.75', '1'].map((s) => h('option', { value: s, selected: s === '1' }, fmtPct(Number(s)))));
  const channel = h('select', { id: 'channel' }, [['both', 'player.both'], ['caller', 'player.caller_only'], ['agent', 'player.agent_only']].map(([val, key]) => h('option', { value: val }, t(key))));
  const kind = h('select', { id: 'mark-kind' }, ['extortion', 'abuse', 'dispute', 'other'].map((k) => h('option', { value: k }, markKind(k))));
  const note = h('input', { id: 'mark-note', placeholder: t('player.note'), maxlength: 4000, size: 40 });
  const markBtn = h('button', { id: 'mark', type: 'button' }, t('player.mark_button'));
  v.append(
    h('h3', {}, t('player.title')),
    h('p', { class: 'muted' }, h('span', { class: 'legend-caller' }, t('player.legend_caller')), '  ', h('span', { class: 'legend-agent' }, t('player.legend_agent')), '  ', h('span', { class: 'legend-loud' }, t('player.legend_loud'))),
    canvas, audio,
    h('div', { class: 'player-controls' }, playBtn, pos, h('label', {}, t('player.speed'), speed), h('label', {}, t('player.channel'), channel),
      h('a', { id: 'bundle', href: `/api/recordings/${enc}/bundle`, download: `${id}.zip` }, t('player.bundle'))),
    h('div', { class: 'player-controls' }, h('label', {}, t('player.mark'), kind), h('label', {}, t('player.note'), note), markBtn, h('span', { id: 'hold-state', class: held ? 'held' : 'muted', 'data-held': held ? 'true' : 'false' }, held ? t('player.held') : t('player.not_held'))),
  );
  markBtn.addEventListener('click', async () => {
    try {
      await api('POST', `/api/recordings/${enc}/marks`, { kind: kind.value, note: note.value });
      $('hold-state').textContent = t('player.held');
      $('hold-state').className = 'held';
      $('hold-state').setAttribute('data-held', 'true');
      flash(t('player.marked', { kind: markKind(kind.value) }));
    } catch (e) { flash(t('player.not_marked', { error: e.message })); }
  });
  let wave = null;
  let loud = [];
  try {
    [wave, loud] = await Promise.all([
      api('GET', `/api/recordings/${enc}/waveform?points=600`),
      api('GET', `/api/recordings/${enc}/loudness`).then((l) => l.loudest || []).catch(() => []),
    ]);
  } catch (e) { v.append(h('p', { class: 'error' }, t('player.waveform_error', { error: e.message }))); }
  const draw = () => {
    const g = canvas.getContext('2d');
    const W = canvas.width, H = canvas.height, half = H / 2;
    g.clearRect(0, 0, W, H);
    if (!wave) return;
    const dur = wave.duration_ms || 1;
    for (const s of loud) {
      const x0 = (s.start_ms / dur) * W, x1 = (s.end_ms / dur) * W;
      g.fillStyle = 'rgba(248,81,73,0.35)';
      g.fillRect(x0, s.channel === 'caller' ? 0 : half, Math.max(2, x1 - x0), half);
    }
    const lane = (peaks, y0, color) => {
      g.fillStyle = color;
      const n = peaks.length || 1;
      for (let i = 0; i < peaks.length; i++) {
        const a = (peaks[i] / 32768) * (half / 2 - 2);
        g.fillRect((i / n) * W, y0 + half / 2 - a, Math.max(1, W / n - 0.5), 2 * a + 1);
      }
    };
    lane(wave.caller, 0, '#58a6ff');
    lane(wave.agent, half, '#56d364');
    g.fillStyle = '#283040';
    g.fillRect(0, half, W, 1);
    if (audio.duration) {
      g.fillStyle = '#fff';
      g.fillRect((audio.currentTime / audio.duration) * W, 0, 2, H);
    }
  };
  draw();
  // the audio is fetched once (one `listen` entry in the audit log) and
  // played from memory
  let graph = null;
  const routeChannels = () => {
    if (!graph) return;
    const m = channel.value;
    graph.cl.gain.value = m !== 'agent' ? 1 : 0;
    graph.cr.gain.value = m === 'caller' ? 1 : 0;
    graph.al.gain.value = m === 'agent' ? 1 : 0;
    graph.ar.gain.value = m !== 'caller' ? 1 : 0;
  };
  const ensureGraph = () => {
    if (graph || !window.AudioContext) return;
    const ctx = new AudioContext();
    const src = ctx.createMediaElementSource(audio);
    const split = ctx.createChannelSplitter(2);
    const merge = ctx.createChannelMerger(2);
    const cl = ctx.createGain(), cr = ctx.createGain(), al = ctx.createGain(), ar = ctx.createGain();
    src.connect(split);
    split.connect(cl, 0); split.connect(cr, 0); split.connect(al, 1); split.connect(ar, 1);
    cl.connect(merge, 0, 0); cr.connect(merge, 0, 1); al.connect(merge, 0, 0); ar.connect(merge, 0, 1);
    merge.connect(ctx.destination);
    graph = { ctx, cl, cr, al, ar };
    routeChannels();
  };
  try {
    const r = await fetch(`/api/recordings/${enc}/audio`, { credentials: 'same-origin' });
    if (!r.ok) throw new Error(`${r.status}`);
    audio.src = URL.createObjectURL(await r.blob());
    playBtn.disabled = false;
  } catch (e) { v.append(h('p', { class: 'error' }, t('player.audio_error', { error: e.message }))); }
  audio.preservesPitch = true;
  playBtn.addEventListener('click', () => {
    ensureGraph();
    if (graph && graph.ctx.state === 'suspended') graph.ctx.resume();
    if (audio.paused) audio.play().catch((e) => flash(t('player.cannot_play', { error: e.message }))); else audio.pause();
  });
  audio.addEventListener('play', () => { playBtn.textContent = t('player.pause'); });
  audio.addEventListener('pause', () => { playBtn.textContent = t('player.play'); });
  audio.addEventListener('timeupdate', () => { pos.textContent = fmtDur(audio.currentTime * 1000); draw(); });
  speed.addEventListener('change', () => { audio.preservesPitch = true; audio.playbackRate = Number(speed.value); });
  channel.addEventListener('change', () => { ensureGraph(); routeChannels(); });
  canvas.addEventListener('click', (ev) => {
    const r = canvas.getBoundingClientRect();
    if (audio.duration) { audio.currentTime = ((ev.clientX - r.left) / r.width) * audio.duration; draw(); }
  });
}

// ---------- agents ----------

function viewAgents() {
  $('view').replaceChildren(h('h2', {}, t('nav.agents')), h('table', { id: 'agents-table' }));
  refreshAgents();
  if (!state.snapshot) fetch('/api/stats').then((r) => r.json()).then((s) => { state.snapshot = s; renderAgentsTable(); }).catch(() => {});
  renderAgentsTable();
}

function renderAgentsTable() {
  const tbl = $('agents-table');
  if (!tbl) return;
  const figures = (state.snapshot && state.snapshot.today && state.snapshot.today.agents) || {};
  const act = async (a, action) => {
    let body = {};
    if (action === 'pause') {
      const r = document.getElementById(`reason-${a}`).value.trim() || 'break';
      body = { reason: r };
    }
    try { await api('POST', `/api/agents/${encodeURIComponent(a)}/${action}`, body); flash(t('agents.done', { agent: a, action: t(`agents.${action}`) })); } catch (e) { flash(t('agents.failed', { agent: a, error: e.message })); }
    refreshAgents();
  };
  tbl.replaceChildren(
    h('tr', {}, ['col.agent', 'col.state', 'col.reason', 'col.registered', 'col.answered', 'col.missed', 'col.within_limit', ''].map((x) => h('th', {}, x ? t(x) : ''))),
    ...state.agents.map((a) => {
      const f = figures[a.agent] || {};
      return h('tr', { 'data-agent': a.agent },
        h('td', {}, a.agent), h('td', { class: `state-${a.state}` }, agentState(a.state)), h('td', {}, pauseReason(a.reason)),
        h('td', {}, a.registered ? t('common.yes') : t('common.no')), h('td', { class: 'num' }, fmtNum(a.answered)), h('td', { class: 'num' }, fmtNum(a.missed)), h('td', { class: 'num' }, pct(f.within_limit)),
        h('td', {}, h('input', { id: `reason-${a.agent}`, placeholder: t('agents.pause_reason'), size: 12, maxlength: 64 }),
          h('button', { onclick: () => act(a.agent, 'pause') }, t('agents.pause')), h('button', { onclick: () => act(a.agent, 'unpause') }, t('agents.unpause')),
          h('button', { onclick: () => act(a.agent, 'login') }, t('agents.login')), h('button', { onclick: () => act(a.agent, 'logout') }, t('agents.logout'))));
    }),
  );
}

// ---------- blacklist ----------

async function viewBlacklist(query) {
  const q = new URLSearchParams(query || '');
  const v = $('view');
  const pattern = h('input', { name: 'pattern', id: 'bl-pattern', placeholder: t('bl.pattern_placeholder'), value: q.get('caller') || '', required: true });
  const reason = h('input', { name: 'reason', id: 'bl-reason', placeholder: t('bl.reason_placeholder'), required: true, maxlength: 500, size: 30 });
  const call = h('input', { name: 'call_id', id: 'bl-call', placeholder: t('bl.call_placeholder'), value: q.get('call') || '' });
  const table = h('table', { id: 'blacklist-table' });
  v.replaceChildren(h('h2', {}, t('nav.blacklist')),
    h('form', { class: 'inline', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', '/api/blacklist', { pattern: pattern.value, reason: reason.value, call_id: call.value || undefined });
        flash(t('bl.added', { pattern: pattern.value }));
        location.hash = '#/blacklist';
        viewBlacklist('');
      } catch (e) { flash(t('bl.not_added', { error: e.message })); }
    } }, h('label', {}, t('bl.pattern'), pattern), h('label', {}, t('col.reason'), reason), h('label', {}, t('bl.caused_by'), call), h('button', { type: 'submit', id: 'bl-add' }, t('bl.add'))),
    table);
  let list;
  try { list = await api('GET', '/api/blacklist'); } catch (e) { table.replaceChildren(h('tr', {}, h('td', { class: 'error' }, e.message))); return; }
  table.replaceChildren(
    h('tr', {}, ['col.pattern', 'col.action', 'col.reason', 'col.call', 'col.by', 'col.since', ''].map((x) => h('th', {}, x ? t(x) : ''))),
    ...list.entries.map((r) => h('tr', { 'data-pattern': r.pattern },
      h('td', {}, r.pattern), h('td', {}, tOr(`bl.action.${r.action}`, r.action)), h('td', {}, r.reason),
      h('td', {}, r.call_id ? h('a', { href: `#/call/${encodeURIComponent(r.call_id)}` }, r.call_id.slice(0, 16)) : ''),
      h('td', {}, r.by), h('td', {}, fmtTime(r.at_ms)),
      h('td', {}, h('button', { onclick: async () => {
        try { await api('DELETE', `/api/blacklist/${r.id}`); flash(t('bl.removed', { pattern: r.pattern })); viewBlacklist(''); } catch (e) { flash(e.message); }
      } }, t('bl.remove'))))),
    ...list.configured.map((r) => h('tr', { class: 'muted' }, h('td', {}, r.pattern), h('td', {}, tOr(`bl.action.${r.action}`, r.action)), h('td', {}, r.reason), h('td', {}, ''), h('td', {}, t('bl.config_file')), h('td', {}, ''), h('td', {}, ''))),
  );
  if (window.hotlineBans) window.hotlineBans.panel(v); // bans.js: SIP bans for password guessing
}

// ---------- audit ----------

async function viewAudit(query) {
  const q = new URLSearchParams(query || '');
  const v = $('view');
  const table = h('table', { id: 'audit-table' });
  const verdict = h('span', { id: 'audit-verdict', class: 'muted' });
  v.replaceChildren(h('h2', {}, t('audit.title')), h('p', {}, h('button', { onclick: async () => {
    try { const r = await api('GET', '/api/audit/verify'); verdict.textContent = r.ok ? t('audit.intact', { n: r.entries }) : t('audit.fault', { fault: r.fault }); } catch (e) { verdict.textContent = e.message; }
  } }, t('audit.verify')), ' ', verdict), table);
  if (!q.has('limit')) q.set('limit', 200);
  let page;
  try { page = await api('GET', `/api/audit?${q}`); } catch (e) { table.replaceChildren(h('tr', {}, h('td', { class: 'error' }, e.message))); return; }
  table.replaceChildren(
    h('tr', {}, ['col.time', 'col.who', 'col.action', 'col.call', 'col.reason'].map((x) => h('th', {}, t(x)))),
    ...page.items.map((a) => h('tr', { 'data-action': a.action },
      h('td', {}, fmtTime(a.at_ms)), h('td', {}, a.who), h('td', {}, tOr(`audit.action.${a.action}`, a.action)),
      h('td', {}, a.call_id ? h('a', { href: `#/call/${encodeURIComponent(a.call_id)}` }, a.call_id.slice(0, 16)) : ''), h('td', {}, a.reason))),
  );
}

// ---------- routing ----------

function route() {
  if (!state.me) { showLogin(); return; }
  const [path, query] = location.hash.replace(/^#\//, '').split('?');
  const [view, arg] = path.split('/');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.id === `nav-${view}`);
  if (view !== 'wallboard') { clearInterval(state.tick); }
  if (window.hotlineDesk && window.hotlineDesk.route(view, arg)) { stopStream(); return; } // desk.js
  if (window.hotlineCases && window.hotlineCases.route(view, arg, query)) return; // cases.js
  if (window.hotlineWorklist && window.hotlineWorklist.route(view, arg, query)) { stopStream(); return; }
  if (window.hotlineDuty && window.hotlineDuty.route(view, arg, query)) { stopStream(); return; } // duty.js
  if (state.me.role === 'agent') {
    $('view').replaceChildren(h('p', {}, t('agents.no_access')));
    return;
  }
  switch (view) {
    case 'calls': case 'recordings': stopStream(); viewList(view, query); break;
    case 'call': stopStream(); viewCall(decodeURIComponent(arg || '')); break;
    case 'agents': viewAgents(); break;
    case 'blacklist': stopStream(); viewBlacklist(query); break;
    case 'audit': stopStream(); viewAudit(query); break;
    default: viewWallboard();
  }
}

// names the engine sends, in the reader's language
const callType = (x) => (x ? tOr(`type.${x}`, x) : '');
// a queue's label: the shipped queues have words, others show their id
const queueName = (x) => (x ? tOr(`queue.${x}`, x) : '');
// a pause reason: the shipped ones (feature codes, auto-pause) have words
const pauseReason = (x) => (x ? tOr(`reason.${x.replace(/ /g, '_')}`, x) : '');
const outcomeName = (x) => (x ? tOr(`outcome.${x}`, x) : '');
const agentState = (x) => (x ? tOr(`state.${x}`, x.replace(/_/g, ' ')) : '');
const markKind = (x) => (x ? tOr(`mark.${x}`, x) : '');
// a KPI column's title and help (GET /api/kpis names them in English)
const kpiTitle = (col) => tOr(`kpi.${col.name}`, col.title);
const kpiHelp = (col) => tOr(`kpi_help.${col.name}`, col.help || '');

async function start() {
  window.hotlineI18n.setLanguage(I18N.lang);
  $('lang-slot').replaceChildren(window.hotlineI18n.languageSwitch(pickLanguage));
  onLanguageChangeRerender();
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  try {
    const r = await fetch('/api/session', { credentials: 'same-origin' });
    if (r.ok) { loggedIn(await r.json()); return; }
  } catch (_) { /* not logged in */ }
  showLogin();
}

// a new language re-renders the page shown (its data is fetched again)
function onLanguageChangeRerender() {
  window.hotlineI18n.onLanguageChange(() => {
    if (state.me) {
      $('whoami').textContent = t('nav.whoami', { user: state.me.user, role: tOr(`role.${state.me.role}`, state.me.role) });
      route();
    }
  });
}

start();
