// hotline console: the line self-test panel of the wallboard (issue 16).
// Lists the latest results (GET /api/line-tests), marks a failed or missing
// test as an alarm, and lets a supervisor run one now (POST). Loaded after
// app.js and uses its helpers (h, api, flash, fmtTime, state) and t() from
// i18n.js. User data only through textContent.
'use strict';

function ltKind(k) {
  return tOr(`linetest.kind.${k.type}`, k.type);
}

function ltRow(e) {
  const k = e.kind || {};
  const bad = k.type !== 'line_test_passed';
  const what = k.type === 'line_test_failed' ? k.reason : (k.type === 'line_test_missing' ? t('linetest.missing_detail') : '');
  return h('tr', { class: bad ? 'alarm' : '', 'data-line-test': k.type, title: k.detail || '' },
    h('td', {}, fmtTime(e.at_ms)),
    h('td', {}, k.slot || t('linetest.manual')),
    h('td', {}, k.shift || '–'),
    h('td', { class: bad ? 'trunk-down' : 'trunk-up' }, ltKind(k)),
    h('td', {}, what || ''));
}

async function ltRefresh(box) {
  let data;
  try {
    data = await api('GET', '/api/line-tests?days=3&limit=6');
  } catch (e) {
    box.replaceChildren(h('p', { class: 'muted' }, e.message));
    return;
  }
  const tests = data.tests || [];
  const last = tests[0];
  const alarm = last && last.kind && last.kind.type !== 'line_test_passed';
  const head = [
    h('h3', {}, t('linetest.title')),
  ];
  if (!data.enabled) head.push(h('p', { class: 'muted' }, t('linetest.off')));
  const canRun = data.enabled && state.me && state.me.role !== 'agent';
  if (canRun) {
    const btn = h('button', { type: 'button', id: 'lt-run' }, t('linetest.run'));
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      btn.textContent = t('linetest.running');
      try {
        const ev = await api('POST', '/api/line-tests');
        flash(ev.kind.type === 'line_test_passed' ? t('linetest.passed_now') : t('linetest.failed_now', { reason: ev.kind.reason || '' }));
      } catch (e) { flash(e.message); }
      ltRefresh(box);
    });
    head.push(btn);
  }
  box.classList.toggle('alarm', Boolean(alarm));
  box.replaceChildren(...head, tests.length
    ? h('table', { id: 'lt-table' },
      h('tr', {}, ['linetest.col.at', 'linetest.col.slot', 'linetest.col.shift', 'linetest.col.result', 'linetest.col.reason'].map((x) => h('th', {}, t(x)))),
      ...tests.map(ltRow))
    : h('p', { class: 'muted' }, t('linetest.none')));
}

// the wallboard's panel, refreshed every 30 s while the wallboard shows
function ltWallboard(box) {
  if (!box) return;
  ltRefresh(box);
  clearInterval(ltWallboard.timer);
  ltWallboard.timer = setInterval(() => {
    if (!document.body.contains(box)) { clearInterval(ltWallboard.timer); return; }
    ltRefresh(box);
  }, 30000);
}

window.hotlineLineTest = { wallboard: ltWallboard };
