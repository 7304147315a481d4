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

  // The call note (来电记录单) of `callId`: who, contact, category, what,
  // follow-up, and optionally a complaint case opened from it (owned by
  // the call's agent). Lists the notes already written. For the desk and
  // the call page.
  async function noteForm(callId) {
    const box = h('div', { class: 'call-notes', id: 'call-notes' });
    let facts;
    try {
      facts = await api('GET', `/api/calls/${encodeURIComponent(callId)}/notes`);
    } catch (e) {
      box.append(h('p', { class: 'error' }, t('desk.notes_unavailable', { error: e.message })));
      return box;
    }
    const list = h('ul', { id: 'call-notes-list' }, ...facts.notes.map((n) => h('li', {},
      `${fmtTime(n.at_ms)} · ${n.by} · ${tOr(`desk.category.${n.category}`, n.category)}: ${n.summary}`,
      n.case_id ? h('a', { href: `#/case/${n.case_id}` }, ` #${n.case_id}`) : '')));
    const name = h('input', { id: 'note-name', maxlength: 64, placeholder: t('desk.note_name') });
    const contact = h('input', { id: 'note-contact', maxlength: 64, placeholder: t('desk.note_contact') });
    const category = h('select', { id: 'note-category' }, ...facts.categories.map((k) => h('option', { value: k }, tOr(`desk.category.${k}`, k))));
    const summary = h('textarea', { id: 'note-summary', rows: 3, cols: 60, maxlength: 4000, placeholder: t('desk.note_summary') });
    const follow = h('input', { id: 'note-follow-up', maxlength: 4000, size: 60, placeholder: t('desk.note_follow_up') });
    const openCase = h('input', { id: 'note-open-case', type: 'checkbox' });
    const severity = h('select', { id: 'note-severity' }, ...['general', 'major', 'crisis'].map((s) => h('option', { value: s }, t(`desk.severity.${s}`))));
    const form = h('form', { id: 'note-form' },
      h('p', {}, name, ' ', contact, ' ', category),
      h('p', {}, summary),
      h('p', {}, follow),
      h('p', {}, h('label', {}, openCase, ' ', t('desk.note_open_case')), ' ', severity),
      h('button', { type: 'submit', id: 'note-save' }, t('desk.note_save')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { category: category.value, summary: summary.value, open_case: openCase.checked, severity: severity.value };
      if (name.value) body.caller_name = name.value;
      if (contact.value) body.contact = contact.value;
      if (follow.value) body.follow_up = follow.value;
      try {
        const r = await api('POST', `/api/calls/${encodeURIComponent(callId)}/notes`, body);
        list.append(h('li', {}, `${fmtTime(r.note.at_ms)} · ${r.note.by} · ${tOr(`desk.category.${r.note.category}`, r.note.category)}: ${r.note.summary}`,
          r.case ? h('a', { href: `#/case/${r.case.id}` }, ` #${r.case.id}`) : ''));
        form.reset();
        flash(r.case ? t('desk.note_saved_case', { id: r.case.id }) : t('desk.note_saved'));
      } catch (e) { flash(e.message); }
    });
    box.append(h('h3', {}, t('desk.notes_title')), list, form);
    return box;
  }

  function row(label, value) {
    return h('tr', {}, h('th', {}, label), h('td', {}, value));
  }

  // the call whose note form is shown: the current one, or the last one
  // until the next call (notes are written during the call and after it)
  let noteCall = null;

  async function showNotes(notes, callId) {
    if (!callId || callId === noteCall) return;
    noteCall = callId;
    notes.replaceChildren(await noteForm(callId));
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

  async function refresh(box, notes, agent) {
    try {
      const answer = await api('GET', `/api/agents/${encodeURIComponent(agent)}/customer`);
      const key = answer.call ? `${answer.call.call_id}/${answer.call.state}` : '';
      if (key === shownCall && key !== '') return;
      shownCall = key;
      renderCard(box, answer);
      // the note form once the agent talks (it stays after the call)
      if (answer.call && answer.call.state === 'talking') await showNotes(notes, answer.call.call_id);
    } catch (e) {
      box.replaceChildren(h('p', { class: 'error' }, t('desk.unavailable', { error: e.message })));
      shownCall = null;
    }
  }

  function view(arg) {
    stop();
    const agent = agentOf(arg);
    const box = h('div', { id: 'desk-card' });
    const notes = h('div', { id: 'desk-notes' });
    noteCall = null;
    $('view').replaceChildren(h('h2', {}, t('desk.title', { agent: agent || '-' })), box, notes);
    if (!agent) {
      box.replaceChildren(h('p', {}, t('desk.pick_agent')));
      return;
    }
    refresh(box, notes, agent);
    timer = setInterval(() => {
      if (!document.body.contains(box)) { stop(); return; }
      refresh(box, notes, agent);
    }, 2000);
  }

  window.hotlineDesk = {
    noteForm,
    // true when the view is the desk's (app.js asks before its own pages)
    route(view_, arg) {
      if (view_ !== 'desk') { stop(); return false; }
      view(arg);
      return true;
    },
  };
})();
