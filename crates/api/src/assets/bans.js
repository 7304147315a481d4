// hotline console: SIP bans for password guessing (issue 19), a panel on the
// blacklist page. Lists the sources banned and user names locked
// (GET /api/sip/bans) and lifts one (DELETE /api/sip/bans/{kind}/{target}).
// Loaded after app.js and uses its helpers (h, api, flash, fmtTime) and t()
// from i18n.js. User data only through textContent.
'use strict';

async function bansRefresh(box) {
  let data;
  try {
    data = await api('GET', '/api/sip/bans');
  } catch (e) {
    box.replaceChildren(h('h3', {}, t('bans.title')), h('p', { class: 'muted' }, e.message));
    return;
  }
  const bans = data.bans || [];
  const rows = bans.map((b) => h('tr', { 'data-ban': `${b.kind}:${b.target}` },
    h('td', {}, t(`bans.kind.${b.kind}`)),
    h('td', {}, b.target),
    h('td', {}, fmtTime(b.until_ms)),
    h('td', { class: 'num' }, String(b.remaining_s)),
    h('td', { class: 'num' }, String(b.offences)),
    h('td', {}, h('button', { type: 'button', class: 'ban-lift', onclick: async () => {
      try {
        await api('DELETE', `/api/sip/bans/${b.kind}/${encodeURIComponent(b.target)}`);
        flash(t('bans.lifted', { target: b.target }));
      } catch (e) { flash(t('bans.not_lifted', { error: e.message })); }
      bansRefresh(box);
    } }, t('bans.lift')))));
  box.replaceChildren(
    h('h3', {}, t('bans.title')),
    h('p', { class: 'muted' }, data.enabled ? t('bans.help') : t('bans.off')),
    h('p', { id: 'bans-dropped' }, t('bans.dropped', {
      datagrams: String(data.dropped ? data.dropped.banned_datagrams : 0),
      connections: String(data.dropped ? data.dropped.banned_connections : 0),
      scanners: String(data.dropped ? data.dropped.scanner_requests : 0),
    })),
    bans.length
      ? h('table', { id: 'bans-table' },
        h('tr', {}, ['bans.col.kind', 'bans.col.target', 'bans.col.until', 'bans.col.remaining', 'bans.col.offences', ''].map((x) => h('th', {}, x ? t(x) : ''))),
        ...rows)
      : h('p', { id: 'bans-none' }, t('bans.none')));
}

// the panel under the blacklist: `view` is the page's element
function bansPanel(view) {
  if (!view) return;
  const box = h('section', { id: 'bans' });
  view.append(box);
  bansRefresh(box);
}

window.hotlineBans = { panel: bansPanel };
