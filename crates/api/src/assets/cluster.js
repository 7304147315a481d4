// hotline console: the HA pair's line on the wallboard (issue 18). Shows
// this node (active or standby, and why) and every node of the pair (up or
// down, active) from GET /api/cluster; nothing without [cluster] or for
// agents (403). Loaded after app.js and uses its helpers (h, api, fmtTime)
// and t()/tOr() from i18n.js. User data only through textContent.
'use strict';

function clNodeLine(n) {
  const state = !n.up ? t('cluster.down') : (n.active ? t('cluster.active') : t('cluster.standby'));
  return h('span', { class: n.up ? (n.active ? 'trunk-up' : '') : 'trunk-down', 'data-node': n.node_id },
    `${n.node_id}${n.this_node ? t('cluster.this_node') : ''}: ${state} `);
}

async function clRefresh(box) {
  let data;
  try {
    data = await api('GET', '/api/cluster');
  } catch (e) {
    box.replaceChildren();
    return;
  }
  if (!data.enabled) {
    box.replaceChildren();
    return;
  }
  const me = data.node || {};
  const mine = me.active
    ? t('cluster.me_active', { node: me.node_id })
    : t('cluster.me_standby', { node: me.node_id, reason: tOr(`cluster.reason.${me.reason}`, me.reason || '') });
  const down = (data.nodes || []).some((n) => !n.up);
  box.classList.toggle('alarm', down || data.database !== 'ok');
  const parts = [h('h3', {}, t('cluster.title')), h('p', {}, mine)];
  if (data.database !== 'ok') parts.push(h('p', { class: 'trunk-down' }, t('cluster.db_down')));
  parts.push(h('p', {}, ...(data.nodes || []).map(clNodeLine)));
  const last = (me.take_overs || [])[me.take_overs ? me.take_overs.length - 1 : 0];
  if (last) {
    parts.push(h('p', { class: 'muted' }, t('cluster.took_over', { from: last.from, at: fmtTime(last.at_ms), calls: last.calls_closed == null ? '…' : String(last.calls_closed) })));
  }
  box.replaceChildren(...parts);
}

// the wallboard's line, refreshed every 5 s while the wallboard shows
function clWallboard(box) {
  if (!box) return;
  clRefresh(box);
  clearInterval(clWallboard.timer);
  clWallboard.timer = setInterval(() => {
    if (!document.body.contains(box)) { clearInterval(clWallboard.timer); return; }
    clRefresh(box);
  }, 5000);
}

window.hotlineCluster = { wallboard: clWallboard };
