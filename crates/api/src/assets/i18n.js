// hotline console: the message catalogue (issue 20). zh-CN first, en
// second. The catalogues are JSON files (assets/i18n/*.json) that the server
// serves inline as /console/i18n/catalogue.js (window.HOTLINE_CATALOGUE);
// this file is the lookup, the choice of language and the zh-CN formatting of
// numbers, dates and durations. Other pages' scripts call t(key, args).
'use strict';

const I18N = {
  languages: ['zh-CN', 'en'],
  names: { 'zh-CN': '中文', en: 'English' },
  lang: 'zh-CN',
  catalogue: window.HOTLINE_CATALOGUE || {},
  listeners: [],
};

// The browser's preferred language mapped to one we have: zh* → zh-CN,
// en* → en, anything else → zh-CN (the callers' and agents' language).
function browserLanguage() {
  const prefs = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || '']);
  for (const p of prefs) {
    const l = String(p || '').toLowerCase();
    if (l.startsWith('zh')) return 'zh-CN';
    if (l.startsWith('en')) return 'en';
  }
  return 'zh-CN';
}

function supportedLanguage(l) {
  return I18N.languages.includes(l) ? l : null;
}

// t('pager.calls', { n: 3, from: 1, to: 3 }): the message in the current language, with
// {name} replaced by args.name; a plural message is an object
// { "one": ..., "other": ... } chosen by args.n. A key missing in the current
// language falls back to English, then to the key itself (the catalogue test
// keeps both complete).
function t(key, args) {
  let m = (I18N.catalogue[I18N.lang] || {})[key];
  if (m === undefined) m = (I18N.catalogue.en || {})[key];
  if (m === undefined) return key;
  if (typeof m === 'object' && m !== null) {
    const n = Number(args && args.n);
    const rule = new Intl.PluralRules(I18N.lang).select(Number.isFinite(n) ? n : 0);
    m = m[rule] !== undefined ? m[rule] : m.other;
  }
  return String(m).replace(/\{(\w+)\}/g, (all, name) => {
    if (!args || args[name] === undefined || args[name] === null) return '';
    const v = args[name];
    return typeof v === 'number' ? fmtNum(v) : String(v);
  });
}

// a key built at run time (an event type, an agent state): its message if
// the catalogue has one, else the fallback
function tOr(key, fallback) {
  const has = (I18N.catalogue[I18N.lang] || {})[key] !== undefined || (I18N.catalogue.en || {})[key] !== undefined;
  return has ? t(key) : fallback;
}

function fmtNum(x, digits) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return '–';
  const o = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(I18N.lang, o).format(Number(x));
}

function fmtPct(x) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return '–';
  return new Intl.NumberFormat(I18N.lang, { style: 'percent', maximumFractionDigits: 0 }).format(Number(x));
}

// a date and time in the browser's time zone: 2026/12/06 14:03:09 in zh-CN,
// 12/06/2026, 14:03:09 in en
function fmtDateTime(ms) {
  if (!ms) return '';
  return new Intl.DateTimeFormat(I18N.lang, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(new Date(ms));
}

// a duration in words: 2分05秒 / 1小时02分 in zh-CN, 2 min 05 s in en
function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const p = (x) => String(x).padStart(2, '0');
  if (hh) return t('dur.hm', { h: String(hh), m: p(mm) });
  if (mm) return t('dur.ms', { m: String(mm), s: p(ss) });
  return t('dur.s', { s: String(ss) });
}

// the text of the static page (index.html): elements with data-i18n get
// their text, data-i18n-placeholder / data-i18n-title their attribute
function applyStatic(root) {
  const r = root || document;
  for (const e of r.querySelectorAll('[data-i18n]')) e.textContent = t(e.getAttribute('data-i18n'));
  for (const e of r.querySelectorAll('[data-i18n-placeholder]')) e.setAttribute('placeholder', t(e.getAttribute('data-i18n-placeholder')));
  for (const e of r.querySelectorAll('[data-i18n-title]')) e.setAttribute('title', t(e.getAttribute('data-i18n-title')));
  document.documentElement.lang = I18N.lang;
  document.title = t('app.title');
  for (const s of document.querySelectorAll('select.lang-switch')) s.value = I18N.lang;
}

// switches the language: the page's static text now, the listeners (the
// console re-renders its current page) after
function setLanguage(l) {
  const lang = supportedLanguage(l) || I18N.lang;
  I18N.lang = lang;
  try { localStorage.setItem('hotline.lang', lang); } catch (_) { /* private mode */ }
  applyStatic();
  for (const f of I18N.listeners) f(lang);
}

function onLanguageChange(f) { I18N.listeners.push(f); }

// a <select> of the languages; calls onpick(lang) when changed
function languageSwitch(onpick) {
  const s = document.createElement('select');
  s.className = 'lang-switch';
  s.setAttribute('aria-label', 'language / 语言');
  for (const l of I18N.languages) {
    const o = document.createElement('option');
    o.value = l;
    o.textContent = I18N.names[l];
    s.append(o);
  }
  s.value = I18N.lang;
  s.addEventListener('change', () => onpick(s.value));
  return s;
}

// before the user is known: the last choice made in this browser, else the
// browser's language
(function initLanguage() {
  let saved = null;
  try { saved = localStorage.getItem('hotline.lang'); } catch (_) { saved = null; }
  I18N.lang = supportedLanguage(saved) || browserLanguage();
}());

window.hotlineI18n = { I18N, t, tOr, fmtNum, fmtPct, fmtDateTime, fmtDuration, setLanguage, onLanguageChange, languageSwitch, applyStatic, browserLanguage };
