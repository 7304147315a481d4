//! The console in the users' languages (issue 20): the message catalogues
//! (one JSON file per language under `assets/i18n/`, zh-CN first), the script
//! that looks messages up (`assets/i18n.js`), and each user's stored choice
//! (`GET`/`PUT /api/me/language`).

use std::sync::LazyLock;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_store::Role;
use serde::Deserialize;
use tracing::info;

use crate::assets::asset;
use crate::auth::{parse_json, read_body};
use crate::routes::Routes;
use crate::{ApiError, Console};

/// The languages of the console, the default first.
pub const LANGUAGES: &[&str] = &["zh-CN", "en"];

/// The Simplified Chinese catalogue (key → message).
pub const ZH_CN_JSON: &str = include_str!("assets/i18n/zh-CN.json");
/// The English catalogue.
pub const EN_JSON: &str = include_str!("assets/i18n/en.json");
/// The lookup, the language choice and the zh-CN formatting.
pub const I18N_JS: &str = include_str!("assets/i18n.js");

/// Both catalogues as one script (`window.HOTLINE_CATALOGUE`), so the pages
/// have them before their first line runs (no fetch, no flash of keys).
static CATALOGUE_JS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "// generated from assets/i18n/*.json\nwindow.HOTLINE_CATALOGUE = {{\"zh-CN\": {}, \"en\": {}}};\n",
        ZH_CN_JSON.trim(),
        EN_JSON.trim()
    )
});

pub(crate) fn routes() -> Routes<crate::engine::Api> {
    Routes::new()
        .get("/console/i18n.js", || async {
            asset("text/javascript; charset=utf-8", I18N_JS)
        })
        .get("/console/i18n/catalogue.js", || async {
            asset("text/javascript; charset=utf-8", CATALOGUE_JS.as_str())
        })
        .get("/console/i18n/zh-CN.json", || async {
            asset("application/json", ZH_CN_JSON)
        })
        .get("/console/i18n/en.json", || async {
            asset("application/json", EN_JSON)
        })
        .get("/api/me/language", get_language)
        .put("/api/me/language", put_language)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageBody {
    language: String,
}

/// The caller's stored language, `null` if they chose none (the console then
/// uses the browser's). The bearer token has no user: always `null`.
async fn get_language(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ApiError> {
    let p = c
        .authorize(&headers, &axum::http::Method::GET, Role::Agent)
        .await?;
    let language = if p.session {
        c.store()
            .user_language(&p.name)
            .await?
            .filter(|l| LANGUAGES.contains(&l.as_str()))
    } else {
        None
    };
    Ok(Json(serde_json::json!({ "language": language, "languages": LANGUAGES })).into_response())
}

/// Stores the caller's language (`{"language": "zh-CN"}` or `"en"`).
async fn put_language(State(c): State<Console>, req: Request) -> Result<Response, ApiError> {
    let p = c
        .authorize(req.headers(), req.method(), Role::Agent)
        .await?;
    let raw: serde_json::Value = parse_json(&read_body(req, 1024).await?)?;
    if !raw.is_object() {
        return Err(ApiError::bad_request(
            "send an object: {\"language\": \"zh-CN\"}",
        ));
    }
    let body: LanguageBody = serde_json::from_value(raw)
        .map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))?;
    let Some(lang) = LANGUAGES.iter().find(|l| **l == body.language) else {
        return Err(ApiError::bad_request(format!(
            "language: one of {}",
            LANGUAGES.join(", ")
        )));
    };
    if !p.session {
        return Err(ApiError::bad_request(
            "the API token has no user to store a language for: log in",
        ));
    }
    c.store().set_user_language(&p.name, lang, c.now()).await?;
    info!(user = %p.name, language = lang, "console language chosen");
    Ok(Json(serde_json::json!({ "language": lang })).into_response())
}

/// The keys a console script or page uses: every single-quoted literal that
/// looks like a catalogue key (`ns.name`) of a namespace the catalogue has,
/// and every `data-i18n*="key"` attribute. File names (`app.js`) are not keys.
pub fn keys_used(source: &str, namespaces: &std::collections::BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let is_key = |s: &str| {
        let mut parts = s.split('.');
        let ns = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        !rest.is_empty()
            && namespaces.contains(ns)
            && s.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' || c == '-'
            })
            && rest.iter().all(|p| !p.is_empty())
            && ![".js", ".json", ".css", ".html", ".wav", ".png"]
                .iter()
                .any(|ext| s.ends_with(ext))
    };
    for (i, quote) in source.match_indices(['\'', '"']) {
        let rest = &source[i + 1..];
        let Some(end) = rest.find(quote.chars().next().unwrap_or('\'')) else {
            continue;
        };
        let lit = &rest[..end];
        if quote == "'" && is_key(lit) {
            out.push(lit.to_string());
        }
        if quote == "\"" && source[..i].ends_with('=') {
            let attr_start = source[..i - 1]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |p| p + 1);
            if source[attr_start..i - 1].starts_with("data-i18n") {
                out.push(lit.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::{Map, Value};
    use std::collections::BTreeSet;

    fn catalogue(text: &str) -> Map<String, Value> {
        match serde_json::from_str::<Value>(text).expect("a catalogue is JSON") {
            Value::Object(m) => m,
            other => panic!("a catalogue is an object, not {other}"),
        }
    }

    /// The `{name}` placeholders of a message (of every plural form).
    fn placeholders(v: &Value) -> BTreeSet<String> {
        let texts: Vec<&str> = match v {
            Value::String(s) => vec![s],
            Value::Object(m) => m.values().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let mut out = BTreeSet::new();
        for t in texts {
            let mut rest = t;
            while let Some(a) = rest.find('{') {
                let Some(b) = rest[a..].find('}') else { break };
                out.insert(rest[a + 1..a + b].to_string());
                rest = &rest[a + b..];
            }
        }
        out
    }

    #[test]
    fn both_languages_have_every_key_with_the_same_placeholders() {
        let zh = catalogue(ZH_CN_JSON);
        let en = catalogue(EN_JSON);
        let zk: BTreeSet<_> = zh.keys().collect();
        let ek: BTreeSet<_> = en.keys().collect();
        let only_zh: Vec<_> = zk.difference(&ek).collect();
        let only_en: Vec<_> = ek.difference(&zk).collect();
        assert!(only_zh.is_empty(), "keys missing in en.json: {only_zh:?}");
        assert!(
            only_en.is_empty(),
            "keys missing in zh-CN.json: {only_en:?}"
        );
        assert!(zh.len() > 100, "{}", zh.len());
        for (k, z) in &zh {
            let e = &en[k];
            for (lang, v) in [("zh-CN", z), ("en", e)] {
                match v {
                    Value::String(s) => assert!(!s.trim().is_empty(), "{lang} {k} is empty"),
                    Value::Object(m) => assert!(
                        m.get("other").and_then(Value::as_str).is_some()
                            && m.keys()
                                .all(|f| ["zero", "one", "two", "few", "many", "other"]
                                    .contains(&f.as_str())),
                        "{lang} {k}: a plural message needs `other` and CLDR forms only"
                    ),
                    other => {
                        panic!("{lang} {k}: a message is a string or plural forms, not {other}")
                    }
                }
            }
            assert_eq!(placeholders(z), placeholders(e), "placeholders of {k}");
        }
        // the Chinese catalogue is Chinese: most messages have CJK characters
        let cjk = zh
            .values()
            .filter(|v| {
                v.to_string()
                    .chars()
                    .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
            })
            .count();
        assert!(
            cjk * 10 >= zh.len() * 8,
            "{cjk} of {} messages in Chinese",
            zh.len()
        );
    }

    #[test]
    fn every_key_a_console_script_or_page_uses_is_in_the_catalogue() {
        let zh = catalogue(ZH_CN_JSON);
        let namespaces: BTreeSet<String> = zh
            .keys()
            .filter_map(|k| k.split('.').next())
            .map(str::to_string)
            .collect();
        // every script and page of the console, also those added later
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/assets");
        let mut checked = 0;
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext != "js" && ext != "html" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for k in keys_used(&text, &namespaces) {
                checked += 1;
                if !zh.contains_key(&k) {
                    missing.push(format!("{}: {k}", path.display()));
                }
            }
        }
        assert!(missing.is_empty(), "keys not in the catalogue: {missing:?}");
        assert!(checked > 100, "only {checked} keys found in the scripts");
    }

    /// The console's scripts, by file name (every `.js` under `src/assets`).
    fn scripts() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/assets");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) == Some("js") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_pages_of_cases_work_lists_quality_and_monitoring_speak_through_the_catalogue() {
        let zh = catalogue(ZH_CN_JSON);
        let namespaces: BTreeSet<String> = zh
            .keys()
            .filter_map(|k| k.split('.').next())
            .map(str::to_string)
            .collect();
        let scripts = scripts();
        for (file, prefix, at_least) in [
            ("cases.js", "cases.", 40),
            ("worklist.js", "worklist.", 40),
            ("quality.js", "quality.", 12),
            ("monitor.js", "monitor.", 8),
        ] {
            let (_, text) = scripts
                .iter()
                .find(|(n, _)| n == file)
                .unwrap_or_else(|| panic!("{file} is a console script"));
            let keys = keys_used(text, &namespaces);
            let own = keys.iter().filter(|k| k.starts_with(prefix)).count();
            assert!(
                own >= at_least,
                "{file}: {own} `{prefix}` keys seen by the completeness test"
            );
        }
        // no page keeps its own table of languages: only i18n.js chooses one
        for (file, text) in &scripts {
            if file == "i18n.js" {
                continue;
            }
            for tell in ["'zh-CN'", "\"zh-CN\"", "navigator.language", "'zh'"] {
                assert!(
                    !text.contains(tell),
                    "{file} has `{tell}`: put its strings in the catalogue and call t()"
                );
            }
        }
    }

    /// Where `source` declares a name `t` (which hides i18n.js's `t()` in
    /// its scope, or breaks the page when at the top of a global script):
    /// `const t`, `let t`, `var t`, `function t`, `t =>`, or `t` in the
    /// parameters of an arrow function or in a destructuring.
    fn declares_t(source: &str) -> Vec<usize> {
        let b = source.as_bytes();
        let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
        let mut hits = Vec::new();
        for (i, _) in source.match_indices('t') {
            if (i > 0 && (ident(b[i - 1]) || b[i - 1] == b'.'))
                || (i + 1 < b.len() && ident(b[i + 1]))
            {
                continue;
            }
            let before = source[..i].trim_end();
            let after = source[i + 1..].trim_start();
            let keyword = ["const", "let", "var", "function"].iter().any(|k| {
                before.ends_with(k)
                    && !before[..before.len() - k.len()]
                        .bytes()
                        .next_back()
                        .is_some_and(ident)
            });
            let arrow = after.starts_with("=>");
            // `(a, t) =>`, `([v, t]) =>`, `{ t }`: a list whose end is
            // followed by `=>` or `=`
            let in_list = (before.ends_with('(')
                || before.ends_with(',')
                || before.ends_with('[')
                || before.ends_with('{'))
                && (after.starts_with(',')
                    || after.starts_with(')')
                    || after.starts_with(']')
                    || after.starts_with('}'))
                && {
                    let mut depth = 0i32;
                    let mut end = None;
                    for (j, c) in after.char_indices() {
                        match c {
                            '(' | '[' | '{' => depth += 1,
                            ')' | ']' | '}' if depth == 0 => {
                                end = Some(j);
                                if c == ')' {
                                    break;
                                }
                            }
                            ')' | ']' | '}' => depth -= 1,
                            ';' | '\n' => break,
                            _ => {}
                        }
                    }
                    end.is_some_and(|j| {
                        let rest = after[j + 1..].trim_start();
                        let rest = rest.trim_start_matches([')', ']', '}']).trim_start();
                        rest.starts_with("=>") || (rest.starts_with('=') && !rest.starts_with("=="))
                    })
                };
            if keyword || arrow || in_list {
                hits.push(source[..i].lines().count().max(1));
            }
        }
        hits
    }

    #[test]
    fn no_console_script_names_a_variable_t() {
        for (file, text) in scripts() {
            let hits = declares_t(&text);
            let allowed = if file == "i18n.js" { 1 } else { 0 };
            assert!(
                hits.len() == allowed,
                "{file}: a name `t` declared on line(s) {hits:?} hides t() from i18n.js"
            );
        }
    }

    #[test]
    fn the_t_detector_finds_declarations_and_leaves_calls_alone() {
        for bad in [
            "const t = 1;",
            "let t;",
            "var t = x;",
            "function t(k) {}",
            "xs.map(t => t + 1)",
            "xs.map((t) => 1)",
            "xs.map((a, t) => 1)",
            "opts.map(([v, t]) => h('option', {}, t))",
            "const { t } = o;",
        ] {
            assert_eq!(declares_t(bad).len(), 1, "{bad}");
        }
        for fine in [
            "t('nav.calls')",
            "h('p', {}, t('x'))",
            "tOr(`a.${t}`)",
            "a.t = 1; say.t = setTimeout(f)",
            "const type = e.kind; const at = 1; let tt = 2;",
            "f(a, t('k'))",
            "[t('a'), t('b')]",
            "const x = { a: t('k') };",
            "if (x === t) {}",
        ] {
            assert!(declares_t(fine).is_empty(), "{fine}");
        }
    }

    #[test]
    fn every_kpi_column_stage_severity_and_work_item_kind_has_its_words() {
        let zh = catalogue(ZH_CN_JSON);
        let mut missing = Vec::new();
        let mut need = |k: String| {
            if !zh.contains_key(&k) {
                missing.push(k);
            }
        };
        let names = hotline_metrics::columns::COLUMNS
            .iter()
            .map(|c| c.name)
            .chain(
                hotline_metrics::columns::AGENT_COLUMNS
                    .iter()
                    .map(|c| c.name),
            );
        for n in names {
            need(format!("kpi.{n}"));
            need(format!("kpi_help.{n}"));
        }
        for s in hotline_cases::Stage::ALL {
            need(format!("cases.stage.{}", s.as_str()));
        }
        for s in hotline_cases::Severity::ALL {
            need(format!("cases.severity.{}", s.as_str()));
        }
        for s in ["open", "closed"] {
            need(format!("cases.status.{s}"));
        }
        // the pause reasons the engine gives (feature codes, auto-pause)
        let codes = hotline_engine::control::FeatureCodes::default();
        for r in codes
            .pause_reasons
            .values()
            .chain([&codes.default_pause_reason])
            .map(String::as_str)
            .chain(["missed calls"])
        {
            need(format!("reason.{}", r.replace(' ', "_")));
        }
        for c in hotline_cases::DEFAULT_CATEGORIES {
            need(format!("desk.category.{c}"));
        }
        for a in [
            "case_open",
            "case_stage",
            "case_update",
            "case_link",
            "note_add",
            "customer_view",
        ] {
            need(format!("audit.action.{a}"));
        }
        for k in hotline_worklist::ItemKind::ALL {
            need(format!("worklist.kind.{}", k.as_str()));
        }
        assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
    }

    #[test]
    fn the_key_scanner_finds_literals_and_attributes_and_skips_file_names() {
        let ns: BTreeSet<String> = ["nav", "app", "col"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let js = "t('nav.calls'); ['col.a', 'col.b'].map(t); load('app.js'); x('other.key'); y('Nav.Calls')";
        assert_eq!(keys_used(js, &ns), ["col.a", "col.b", "nav.calls"]);
        let html = r##"<a data-i18n="nav.x" href="#/x">X</a><input data-i18n-placeholder="col.y" title="a.b">"##;
        assert_eq!(keys_used(html, &ns), ["col.y", "nav.x"]);
        // hostile input: unterminated quotes, lone '=' at the start
        assert!(keys_used("'nav.", &ns).is_empty());
        assert!(keys_used("=\"", &ns).is_empty());
        assert!(keys_used("\"=\"nav.x\"", &ns).is_empty());
    }

    #[test]
    fn the_served_catalogue_script_carries_both_catalogues() {
        let js = CATALOGUE_JS.as_str();
        let json = js
            .split_once("window.HOTLINE_CATALOGUE = ")
            .unwrap()
            .1
            .trim()
            .trim_end_matches(';');
        let v: Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["zh-CN"]["nav.calls"], "通话记录");
        assert_eq!(v["en"]["nav.calls"], "Calls");
    }
}
