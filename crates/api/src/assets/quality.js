// hotline console: quality scoring (监听分值) beside the recording player.
// Uses app.js's helpers (h, api, flash, fmtDur, fmtTime, state). A reviewer
// rates each criterion of a score form 0-5, leaves comments at positions of
// the recording, and saves; every reviewer's score of the call is listed
// (two reviewers side by side = calibration). User data only via textContent.
'use strict';

// every string shown is in the catalogue (assets/i18n/*.json, keys
// `quality.*`), looked up with i18n.js's t()
(function () {
  function totalOf(form, ratings, max) {
    let got = 0;
    let full = 0;
    for (const c of form.criteria) {
      if (ratings[c.id] === undefined) return null;
      got += c.weight * ratings[c.id];
      full += c.weight * max;
    }
    return full ? (got * 100) / full : 0;
  }

  function seekTo(ms) {
    const audio = document.getElementById('audio');
    if (audio) audio.currentTime = ms / 1000;
  }

  function commentItem(c) {
    return h('li', {},
      h('button', { type: 'button', class: 'qa-seek', 'data-ms': String(c.offset_ms), onclick: () => seekTo(c.offset_ms) }, fmtDur(c.offset_ms)),
      ' ', c.text);
  }

  async function listScores(box, id) {
    let data;
    try { data = await api('GET', `/api/calls/${encodeURIComponent(id)}/scores`); } catch (e) { box.replaceChildren(h('p', { class: 'error' }, e.message)); return; }
    if (!data.scores.length) { box.replaceChildren(h('p', { class: 'muted', id: 'qa-none' }, t('quality.none'))); return; }
    box.replaceChildren(h('table', { id: 'qa-scores' },
      h('thead', {}, h('tr', {}, ['quality.reviewer', 'quality.total', 'quality.form', 'quality.when', 'quality.comments'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, data.scores.map((s) => h('tr', { 'data-reviewer': s.reviewer },
        h('td', {}, s.reviewer),
        h('td', { class: 'num qa-total' }, fmtNum(s.total, 1)),
        h('td', {}, s.form),
        h('td', {}, fmtTime(s.at_ms)),
        h('td', {}, h('ul', { class: 'qa-comments' }, s.comments.map(commentItem))))))));
  }

  async function attach(view, id) {
    const section = h('section', { id: 'qa', class: 'qa' }, h('h3', {}, t('quality.title')));
    view.append(section);
    const scoresBox = h('div', { id: 'qa-list' });
    let meta;
    try { meta = await api('GET', '/api/quality/forms'); } catch (e) { section.append(h('p', { class: 'error' }, e.message)); return; }
    const canScore = state.me && state.me.role !== 'agent';
    if (canScore && meta.forms.length) {
      const ratings = {};
      const comments = [];
      const pick = h('select', { id: 'qa-form-select' }, meta.forms.map((f) => h('option', { value: f.id }, f.name)));
      const rows = h('tbody', { id: 'qa-criteria' });
      const total = h('span', { id: 'qa-total' }, '–');
      const commentList = h('ul', { id: 'qa-new-comments', class: 'qa-comments' });
      const form = () => meta.forms.find((f) => f.id === pick.value) || meta.forms[0];
      const showTotal = () => {
        const sum = totalOf(form(), ratings, meta.max_rating);
        total.textContent = sum === null ? '–' : fmtNum(sum, 1);
      };
      const drawCriteria = () => {
        for (const k of Object.keys(ratings)) delete ratings[k];
        rows.replaceChildren(...form().criteria.map((c) => {
          const sel = h('select', { id: `qa-r-${c.id}`, 'data-criterion': c.id },
            h('option', { value: '' }, '–'),
            Array.from({ length: meta.max_rating + 1 }, (_, i) => h('option', { value: String(i) }, fmtNum(i))));
          sel.addEventListener('change', () => {
            if (sel.value === '') delete ratings[c.id]; else ratings[c.id] = Number(sel.value);
            showTotal();
          });
          return h('tr', {}, h('th', {}, c.label), h('td', { class: 'num' }, `×${c.weight}`), h('td', {}, sel));
        }));
        showTotal();
      };
      pick.addEventListener('change', drawCriteria);
      const text = h('input', { id: 'qa-comment-text', maxlength: '1000', placeholder: t('quality.comment_placeholder') });
      const add = h('button', { type: 'button', id: 'qa-comment-add' }, t('quality.add_comment'));
      add.addEventListener('click', () => {
        const said = text.value.trim();
        if (!said) { flash(t('quality.empty_comment')); return; }
        const audio = document.getElementById('audio');
        const c = { offset_ms: Math.round((audio ? audio.currentTime : 0) * 1000), text: said };
        comments.push(c);
        commentList.append(commentItem(c));
        text.value = '';
      });
      const save = h('button', { type: 'button', id: 'qa-save' }, t('quality.save'));
      save.addEventListener('click', async () => {
        const missing = form().criteria.find((c) => ratings[c.id] === undefined);
        if (missing) { flash(t('quality.not_rated', { criterion: missing.label })); return; }
        try {
          const r = await api('POST', `/api/calls/${encodeURIComponent(id)}/scores`, { form: form().id, ratings, comments });
          flash(t('quality.saved', { total: fmtNum(r.total, 1) }));
          await listScores(scoresBox, id);
        } catch (e) { flash(e.message); }
      });
      section.append(
        h('div', { class: 'player-controls' }, h('label', {}, t('quality.form'), pick), h('span', {}, `${t('quality.total')} `, total)),
        h('table', { class: 'facts qa-form' }, rows),
        h('div', { class: 'player-controls' }, text, add),
        commentList,
        h('div', { class: 'player-controls' }, save));
      drawCriteria();
    } else if (canScore) {
      section.append(h('p', { class: 'muted' }, t('quality.no_forms')));
    }
    section.append(h('h4', {}, t('quality.scores_title')), scoresBox);
    await listScores(scoresBox, id);
  }

  window.hotlineQuality = { attach, totalOf };
}());
