// hotline console: live monitoring (issue 17). Adds listen / whisper /
// barge / stop buttons to the wallboard's live calls; the engine rings the
// supervisor's phone (entered once, kept in this browser) and joins it.
// Plain JS; user data only through textContent. Needs app.js (window.hotline)
// and i18n.js (t).
'use strict';

// Every string shown is in the catalogue (assets/i18n/*.json, keys
// `monitor.*`), looked up with i18n.js's t() when drawn.

(() => {
  const monitored = new Map(); // call id -> mode
  const PHONE_KEY = 'hotline.monitor.phone';
  const MODES = { listen: 'monitor.listen', whisper: 'monitor.whisper', barge: 'monitor.barge' };
  const modeName = (mode) => (MODES[mode] ? t(MODES[mode]) : mode);

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function say(text) {
    const f = document.getElementById('flash');
    if (!f) return;
    f.textContent = text;
    f.hidden = false;
    clearTimeout(say.t);
    say.t = setTimeout(() => { f.hidden = true; }, 4000);
  }

  async function send(method, path, body) {
    const state = window.hotline || {};
    const opts = { method, credentials: 'same-origin', headers: { 'X-CSRF-Token': state.csrf || '' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    let data = null;
    try { data = await r.json(); } catch (_) { data = null; }
    if (!r.ok) throw new Error((data && data.code === 'node_standby' && t('ha.node_standby')) || (data && data.error) || `${r.status}`);
    return data;
  }

  async function request(callId, mode) {
    const phone = (localStorage.getItem(PHONE_KEY) || '').trim();
    try {
      if (mode === 'stop') {
        await send('DELETE', `/api/monitor/${encodeURIComponent(callId)}`);
        monitored.delete(callId);
        say(t('monitor.stopped'));
      } else if (monitored.has(callId)) {
        await send('POST', `/api/monitor/${encodeURIComponent(callId)}`, { mode });
        monitored.set(callId, mode);
        say(t('monitor.on', { mode: modeName(mode) }));
      } else {
        if (!phone) { say(t('monitor.no_phone')); return; }
        await send('POST', '/api/monitor', { call: callId, phone, mode });
        monitored.set(callId, mode);
        say(t('monitor.ringing', { phone }));
      }
    } catch (e) {
      say(e.message);
    }
    decorate();
  }

  function phoneField() {
    const table = document.getElementById('wb-calls');
    if (!table || document.getElementById('monitor-phone')) return;
    const input = el('input', { id: 'monitor-phone', size: '10', title: t('monitor.phone_hint'), value: localStorage.getItem(PHONE_KEY) || '' });
    const keep = () => localStorage.setItem(PHONE_KEY, input.value.trim());
    input.addEventListener('input', keep);
    input.addEventListener('change', keep);
    const label = el('label', { class: 'monitor-phone' }, `${t('monitor.phone')} `);
    label.append(input);
    table.parentNode.insertBefore(label, table);
  }

  // after each render of the live calls: a button cell on talking calls
  function decorate() {
    const table = document.getElementById('wb-calls');
    if (!table) return;
    phoneField();
    const state = window.hotline || { calls: new Map() };
    const head = table.querySelector('tr');
    if (head && !head.querySelector('.monitor-col')) head.append(el('th', { class: 'monitor-col' }, t('monitor.column')));
    for (const row of table.querySelectorAll('tr.live-call')) {
      if (row.querySelector('.monitor-cell')) continue;
      const id = row.getAttribute('data-call');
      const call = state.calls && state.calls.get(id);
      const cell = el('td', { class: 'monitor-cell' });
      if (call && call.agent && call.answered) {
        const current = monitored.get(id);
        for (const mode of ['listen', 'whisper', 'barge']) {
          cell.append(el('button', { type: 'button', class: current === mode ? 'monitor-btn active' : 'monitor-btn', 'data-mode': mode, onclick: () => request(id, mode) }, modeName(mode)));
        }
        if (current) cell.append(el('button', { type: 'button', class: 'monitor-btn', 'data-mode': 'stop', onclick: () => request(id, 'stop') }, t('monitor.stop')));
      }
      row.append(cell);
    }
    // calls that ended are forgotten
    for (const id of [...monitored.keys()]) if (state.calls && !state.calls.has(id)) monitored.delete(id);
  }

  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => { pending = false; decorate(); });
  }).observe(document.body, { childList: true, subtree: true });
})();
