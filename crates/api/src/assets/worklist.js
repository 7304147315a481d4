// hotline console: work lists and return visits (回访). Loaded after app.js
// and uses its helpers (h, api, flash, fmtDur, fmtTime, state). Pages:
// #/worklist (my work list, promise form), #/campaigns (progress, import,
// quotas), #/visit/ID (the visit form); a work-list box on the wallboard.
'use strict';

// Every UI string of this file, in one table (for the zh-CN/en catalogue).
const WL_TEXT = {
  'zh-CN': {
    worklist: '待回电', campaigns: '回访活动', open: '待办', overdue: '已超时', refused: '拒绝的私人外呼',
    returned_today: '今日已复电话百分比', time_to_return: '平均回电时间', id: '编号', kind: '类型', number: '号码',
    name: '姓名', card: '卡号', owner: '负责', due: '期限', attempts: '尝试', preferred: '时间', notes: '备注',
    actions: '操作', resolved: '已解决', give_up: '放弃', visit: '回访记录', promise: '承诺回电', add: '添加',
    no_items: '没有待办事项', members: '成员', reached: '已联系', refused_v: '拒绝', progress: '进度',
    import: '导入 CSV', campaign_name: '活动名称', queue: '队列', file: '文件', export: '导出',
    quotas: '回访配额', week: '本周', month: '本月', agent: '坐席', target: '目标', valid: '有效', made: '已做',
    remaining: '剩余', outcome: '结果', not_reached: '未联系上', opinions: '客户意见', satisfaction: '满意度',
    duration: '通话时长（秒，没有通话记录时）', save: '保存', saved: '已保存', imported: '已导入',
    duplicates: '重复（未导入）', errors: '错误行', dial: '呼叫', dialling: '{agent} 的话机先振铃，接听后呼叫客户', dial_no_agent: '该事项没有负责坐席', kinds: { missed: '未接', abandoned: '放弃', voicemail: '留言', promise: '承诺', callback: '回拨', return_visit: '回访' },
  },
  en: {
    worklist: 'Work list', campaigns: 'Campaigns', open: 'open', overdue: 'overdue', refused: 'private calls refused',
    returned_today: 'calls returned today', time_to_return: 'average time to return', id: 'id', kind: 'kind', number: 'number',
    name: 'name', card: 'card', owner: 'owner', due: 'due', attempts: 'attempts', preferred: 'preferred', notes: 'notes',
    actions: '', resolved: 'resolved', give_up: 'give up', visit: 'visit form', promise: "I'll call you back", add: 'add',
    no_items: 'nothing owed', members: 'members', reached: 'reached', refused_v: 'refused', progress: 'progress',
    import: 'Import a CSV', campaign_name: 'campaign', queue: 'queue', file: 'file', export: 'export',
    quotas: 'Return-visit quotas', week: 'this week', month: 'this month', agent: 'agent', target: 'target', valid: 'valid', made: 'made',
    remaining: 'remaining', outcome: 'outcome', not_reached: 'not reached', opinions: "the member's opinions", satisfaction: 'satisfaction',
    duration: 'call length, s (when no call record)', save: 'save', saved: 'saved', imported: 'imported',
    duplicates: 'already there (skipped)', errors: 'refused lines', dial: 'call', dialling: "{agent}'s phone rings first, then the customer", dial_no_agent: 'no agent owns this item', kinds: {},
  },
};
const WL = (navigator.language || '').toLowerCase().startsWith('zh') ? WL_TEXT['zh-CN'] : WL_TEXT.en;
const wlKind = (k) => WL.kinds[k] || k.replace('_', ' ');
const wlOwner = (o) => (o.agent ? o.agent : `${WL.queue} ${o.queue}`);

async function wlFigures(box) {
  try {
    const f = await api('GET', '/api/worklist/figures');
    const t = f.today || {};
    box.replaceChildren(
      tile(WL.open, String(f.open), 'wl-open'),
      tile(WL.overdue, String(f.overdue), 'wl-overdue'),
      tile(WL.refused, String(f.refused_dials), 'wl-refused'),
      tile(WL.returned_today, t.percent_returned === null || t.percent_returned === undefined ? '–' : `${t.percent_returned.toFixed(0)}%`, 'wl-returned'),
      tile(WL.time_to_return, fmtDur(t.avg_time_to_return_ms), 'wl-ttr'),
    );
    box.classList.toggle('alarm', f.overdue > 0);
  } catch (e) { box.replaceChildren(h('p', { class: 'muted' }, e.message)); }
}

// click-to-call: the agent's phone rings first, then the item's number (an
// agent dials as themselves, a supervisor for the item's owner)
async function wlDial(i) {
  const agent = state.me.role === 'agent' ? state.me.user : (i.owner && i.owner.agent);
  if (!agent) { flash(WL.dial_no_agent); return; }
  const type = i.kind === 'return_visit' ? 'return_visit' : (i.kind === 'promise' ? 'reply' : 'callback');
  try {
    await api('POST', `/api/agents/${encodeURIComponent(agent)}/dial`, { number: i.number, type });
    flash(WL.dialling.replace('{agent}', agent));
  } catch (e) { flash(e.message); }
}

async function wlList(v) {
  const [list] = await Promise.all([api('GET', '/api/worklist')]);
  const rows = list.items.map((i) => h('tr', { 'data-item': i.id, class: i.overdue ? 'overdue' : '' },
    h('td', {}, i.id), h('td', {}, wlKind(i.kind)), h('td', {}, i.number),
    h('td', {}, [i.name, i.card].filter(Boolean).join(' / ')), h('td', {}, wlOwner(i.owner)),
    h('td', { class: i.overdue ? 'error' : '' }, fmtTime(i.deadline_ms)), h('td', { class: 'num' }, i.attempts),
    h('td', {}, i.preferred || ''), h('td', {}, i.notes || ''),
    h('td', {},
      h('button', { type: 'button', class: 'wl-dial', onclick: () => wlDial(i) }, WL.dial), ' ',
      i.kind === 'return_visit' ? h('a', { href: `#/visit/${i.id}` }, WL.visit) : [
        h('button', { type: 'button', onclick: () => wlClose(i.id, 'resolved') }, WL.resolved), ' ',
        h('button', { type: 'button', onclick: () => wlClose(i.id, 'given_up') }, WL.give_up)])));
  const form = h('form', { id: 'wl-promise', class: 'inline' },
    h('label', {}, `${WL.number} `, h('input', { name: 'number', required: true, maxlength: 40 })),
    h('label', {}, `${WL.name} `, h('input', { name: 'name', maxlength: 64 })),
    h('label', {}, `${WL.notes} `, h('input', { name: 'notes', maxlength: 1000 })),
    h('label', {}, `${WL.due} `, h('input', { name: 'due', type: 'datetime-local' })),
    h('button', { type: 'submit' }, WL.add));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const body = { number: d.get('number'), name: d.get('name'), notes: d.get('notes') };
    if (d.get('due')) body.due = d.get('due');
    try { await api('POST', '/api/worklist/promise', body); flash(WL.saved); wlRoute('worklist'); } catch (e) { flash(e.message); }
  });
  const box = h('div', { class: 'tiles', id: 'wl-figures' });
  v.replaceChildren(h('h2', {}, WL.worklist), box,
    h('table', { id: 'wl-items' }, h('tr', {}, [WL.id, WL.kind, WL.number, `${WL.name} / ${WL.card}`, WL.owner, WL.due, WL.attempts, WL.preferred, WL.notes, WL.actions].map((x) => h('th', {}, x))), ...rows),
    rows.length ? '' : h('p', { class: 'muted' }, WL.no_items),
    h('h3', {}, WL.promise), form);
  wlFigures(box);
}

async function wlClose(id, outcome) {
  try { await api('POST', `/api/worklist/${id}/close`, { outcome }); flash(WL.saved); wlRoute('worklist'); } catch (e) { flash(e.message); }
}

function wlQuotaTable(q, title) {
  return [h('h3', {}, `${WL.quotas}: ${title}`), h('table', { class: 'wl-quota' },
    h('tr', {}, [WL.agent, WL.target, WL.valid, WL.made, WL.remaining, WL.progress].map((x) => h('th', {}, x))),
    ...q.agents.map((a) => h('tr', { 'data-agent': a.agent }, h('td', {}, a.agent), h('td', { class: 'num' }, a.target),
      h('td', { class: 'num' }, a.valid), h('td', { class: 'num' }, a.made), h('td', { class: 'num' }, a.remaining),
      h('td', {}, h('progress', { max: Math.max(1, a.target), value: Math.min(a.valid, a.target) }), ` ${a.percent.toFixed(0)}%`))))];
}

async function wlCampaigns(v) {
  const [c, week, month] = await Promise.all([api('GET', '/api/campaigns'), api('GET', '/api/visits/quotas?period=week'), api('GET', '/api/visits/quotas?period=month')]);
  const sup = state.me.role !== 'agent';
  const out = h('div', { id: 'wl-import-result' });
  const form = h('form', { id: 'wl-import', class: 'inline' },
    h('label', {}, `${WL.campaign_name} `, h('input', { name: 'name', required: true, maxlength: 64 })),
    h('label', {}, `${WL.queue} `, h('input', { name: 'queue', maxlength: 64 })),
    h('label', {}, `${WL.due} `, h('input', { name: 'due', type: 'date' })),
    h('label', {}, `${WL.file} `, h('input', { name: 'file', type: 'file', accept: '.csv,text/csv', required: true })),
    h('button', { type: 'submit' }, WL.import));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const q = new URLSearchParams({ name: d.get('name') });
    if (d.get('queue')) q.set('queue', d.get('queue'));
    if (d.get('due')) q.set('due', d.get('due'));
    const r = await fetch(`/api/campaigns/import?${q}`, { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': state.csrf || '', 'Content-Type': 'text/csv' }, body: d.get('file') });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) { out.replaceChildren(h('p', { class: 'error' }, j.error || String(r.status))); return; }
    out.replaceChildren(h('p', {}, `${WL.imported}: ${j.imported}; ${WL.duplicates}: ${j.duplicates.length}; ${WL.errors}: ${j.error_count}`),
      h('ul', {}, ...j.errors.map((e) => h('li', { class: 'error' }, `line ${e.line}: ${e.error}`))));
  });
  v.replaceChildren(h('h2', {}, WL.campaigns),
    h('table', { id: 'wl-campaigns' }, h('tr', {}, [WL.campaign_name, WL.members, WL.open, WL.reached, WL.refused_v, WL.attempts, ''].map((x) => h('th', {}, x))),
      ...c.campaigns.map((x) => h('tr', { 'data-campaign': x.id }, h('td', {}, x.name), h('td', { class: 'num' }, x.members), h('td', { class: 'num' }, x.open),
        h('td', { class: 'num' }, x.reached), h('td', { class: 'num' }, x.refused), h('td', { class: 'num' }, x.attempts),
        h('td', {}, sup ? h('a', { href: `/api/campaigns/${x.id}/export` }, WL.export) : '')))),
    ...wlQuotaTable(week, WL.week), ...wlQuotaTable(month, WL.month),
    sup ? h('h3', {}, WL.import) : '', sup ? form : '', out);
}

async function wlVisit(v, id) {
  const item = await api('GET', `/api/worklist/${encodeURIComponent(id)}`);
  const form = h('form', { id: 'wl-visit' },
    h('p', {}, `${item.name} / ${item.card} / ${item.number} ${item.preferred ? `(${item.preferred})` : ''}`),
    h('label', {}, `${WL.outcome} `, h('select', { name: 'outcome' }, h('option', { value: 'reached' }, WL.reached), h('option', { value: 'not_reached' }, WL.not_reached), h('option', { value: 'refused' }, WL.refused_v))),
    h('label', {}, `${WL.satisfaction} `, h('select', { name: 'satisfaction' }, h('option', { value: '' }, '–'), ...[5, 4, 3, 2, 1].map((n) => h('option', { value: n }, n)))),
    h('label', {}, `${WL.opinions} `, h('textarea', { name: 'opinions', maxlength: 2000, rows: 4 })),
    h('label', {}, `${WL.duration} `, h('input', { name: 'duration_s', type: 'number', min: 0, max: 86400 })),
    h('button', { type: 'submit' }, WL.save));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const body = { item: item.id, outcome: d.get('outcome'), opinions: d.get('opinions') };
    if (d.get('satisfaction')) body.satisfaction = Number(d.get('satisfaction'));
    if (d.get('duration_s')) body.duration_s = Number(d.get('duration_s'));
    try { const r = await api('POST', '/api/visits', body); flash(`${WL.saved} (${r.valid ? WL.valid : '–'})`); location.hash = '#/worklist'; } catch (e) { flash(e.message); }
  });
  v.replaceChildren(h('h2', {}, `${WL.visit} #${item.id}`), form);
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
  box.replaceChildren(h('h3', {}, WL.worklist), tiles, quota);
  const refresh = () => {
    wlFigures(tiles);
    api('GET', '/api/visits/quotas?period=week').then((q) => quota.replaceChildren(...wlQuotaTable(q, WL.week))).catch(() => {});
  };
  refresh();
  clearInterval(wlWallboard.t);
  wlWallboard.t = setInterval(() => { if (document.body.contains(box)) refresh(); else clearInterval(wlWallboard.t); }, 5000);
}

window.hotlineWorklist = { route: wlRoute, wallboard: wlWallboard };
