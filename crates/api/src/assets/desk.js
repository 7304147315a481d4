// hotline console: the agent's desk (#/desk). While the agent's phone rings
// and during the call it shows who calls — the customer's card from
// GET /api/agents/{me}/customer: name, VIP, blacklist, open complaint cases
// with their owner (首问负责制), the last call and note — with links to the
// customer's profile and the cases. Loaded after app.js; uses its helpers
// (h, $, api, state, fmtTime) and t() of i18n.js. Only window.hotlineDesk is
// global.
'use strict';

(() => {
  let timer = null;
  let shownCall = null;

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    shownCall = null;
  }

  // the agent whose desk this is: an agent sees their own; a supervisor
  // names one (#/desk/1001)
  function agentOf(arg) {
    if (state.me.role === 'agent') return state.me.user;
    return arg ? decodeURIComponent(arg) : '';
  }

  function row(label, value) {
    return h('tr', {}, h('th', {}, label), h('td', {}, value));
  }

  function renderCard(box, answer) {
    const call = answer.call;
    if (!call) {
      box.replaceChildren(h('p', { class: 'desk-idle' }, t('desk.no_call')));
      return;
    }
    const card = answer.card || {};
    const rows = [
      row(t('desk.state'), t(call.state === 'ringing' ? 'desk.ringing' : 'desk.talking')),
      row(t('desk.number'), call.number || '-'),
      row(t('desk.name'), card.name || t('desk.unknown_name')),
    ];
    const flags = [];
    if (card.vip) flags.push(h('span', { class: 'badge vip' }, 'VIP'));
    if (card.blacklist) flags.push(h('span', { class: 'badge alarm' }, t('desk.blacklisted', { reason: card.blacklist.reason || '' })));
    if (flags.length) rows.push(row(t('desk.flags'), flags));
    const last = card.last_call;
    rows.push(row(t('desk.history'), last
      ? t('desk.last_call', { n: card.calls_total || 0, when: fmtTime(last.arrived_ms), agent: last.agent || '-' })
      : t('desk.first_call')));
    if (card.last_note) rows.push(row(t('desk.last_note'), card.last_note.summary || ''));
    const cases = (card.cases || []).map((k) => h('li', { class: k.overdue ? 'overdue' : '' },
      h('a', { href: `#/case/${k.id}` }, `#${k.id} ${k.title}`), ' ',
      t('desk.case_owner', { owner: k.owner }),
      k.owner === state.me.user ? h('strong', {}, ` ${t('desk.your_case')}`) : ''));
    rows.push(row(t('desk.open_cases', { n: card.open_cases || 0 }), cases.length ? h('ul', {}, ...cases) : t('desk.none')));
    const profile = call.number ? h('a', { href: `#/customer/${encodeURIComponent(call.number)}` }, t('desk.profile')) : '';
    box.replaceChildren(
      h('table', { class: 'desk-card' }, ...rows),
      h('p', {}, profile),
    );
  }

  async function refresh(box, agent) {
    try {
      const answer = await api('GET', `/api/agents/${encodeURIComponent(agent)}/customer`);
      const key = answer.call ? `${answer.call.call_id}/${answer.call.state}` : '';
      if (key === shownCall && key !== '') return;
      shownCall = key;
      renderCard(box, answer);
    } catch (e) {
      box.replaceChildren(h('p', { class: 'error' }, t('desk.unavailable', { error: e.message })));
      shownCall = null;
    }
  }

  function view(arg) {
    stop();
    const agent = agentOf(arg);
    const box = h('div', { id: 'desk-card' });
    $('view').replaceChildren(h('h2', {}, t('desk.title', { agent: agent || '-' })), box);
    if (!agent) {
      box.replaceChildren(h('p', {}, t('desk.pick_agent')));
      return;
    }
    refresh(box, agent);
    timer = setInterval(() => {
      if (!document.body.contains(box)) { stop(); return; }
      refresh(box, agent);
    }, 2000);
  }

  window.hotlineDesk = {
    // true when the view is the desk's (app.js asks before its own pages)
    route(view_, arg) {
      if (view_ !== 'desk') { stop(); return false; }
      view(arg);
      return true;
    },
  };
})();
