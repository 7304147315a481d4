//! A return-visit campaign's import: CSV, UTF-8, comma-separated, a header
//! line first. Columns (in any order; English or Chinese names):
//!
//! | column | also | required | what |
//! |---|---|---|---|
//! | `number` | `号码`, `电话` | yes | the member's phone number |
//! | `name` | `姓名` | no | their name |
//! | `card` | `卡号`, `会员号` | no | card or member number |
//! | `notes` | `备注` | no | what to ask or say |
//! | `due` | `回访日期`, `日期` | no | `YYYY-MM-DD`: due by the end of that local day |
//! | `preferred` | `时间`, `回访时间` | no | `after 13:10`, `before 10:00`, `13:00-14:00`, `13:10以后`, `10:00前` |
//! | `agent` | `坐席` | no | the agent the visit is assigned to |
//!
//! Fields may be quoted (`"Li, Wei"`, `""` for a quote). A malformed line is
//! named with its line number and the others are imported; a line whose
//! number and card are already in the campaign (or earlier in the file) is
//! skipped, so importing a file again imports nothing twice.

use crate::normalize_number;
use hotline_core::calendar::{parse_date, Calendar};
use hotline_core::{AgentId, TimeOfDay};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// Largest file accepted, bytes.
pub const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;
/// Most lines accepted (header included).
pub const MAX_LINES: usize = 20_001;
/// Longest field, characters (notes: four times this).
pub const MAX_FIELD_CHARS: usize = 256;
/// Most errors listed (the count says how many in all).
pub const MAX_ERRORS: usize = 100;

/// A file that cannot be imported at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Bigger than [`MAX_IMPORT_BYTES`].
    #[error("the file is {0} bytes; at most {MAX_IMPORT_BYTES} are accepted")]
    TooBig(usize),
    /// More lines than [`MAX_LINES`].
    #[error("the file has more than {} lines; split it", MAX_LINES - 1)]
    TooManyLines,
    /// Not UTF-8.
    #[error("the file is not UTF-8 text (save it as CSV UTF-8)")]
    NotUtf8,
    /// No header line.
    #[error(
        "the file is empty: a header line (number,name,card,notes,due,preferred,agent) is needed"
    )]
    Empty,
    /// A header without a number column, or with an unknown or repeated one.
    #[error("line 1 (header): {0}")]
    Header(String),
}

/// One line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// Its line number in the file (the header is line 1).
    pub line: usize,
    /// What is wrong.
    pub error: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// When a member prefers to be called, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferred {
    /// Not before.
    pub after: Option<TimeOfDay>,
    /// Not after.
    pub before: Option<TimeOfDay>,
}

impl Preferred {
    /// Parses `after 13:10`, `before 10:00`, `13:00-14:00`, `13:10` (= after),
    /// `13:10以后`/`13:10后`/`13:10之后`, `10:00前`/`10:00以前`/`10:00之前`.
    pub fn parse(s: &str) -> Result<Preferred, String> {
        let t = s.trim();
        let time = |x: &str| {
            let x = x.trim();
            let padded = if x.find(':') == Some(1) {
                format!("0{x}")
            } else {
                x.to_string()
            };
            padded
                .parse::<TimeOfDay>()
                .map_err(|_| format!("preferred time `{}`: expected HH:MM", shown(s)))
        };
        let lower = t.to_ascii_lowercase();
        if let Some(x) = lower.strip_prefix("after") {
            return Ok(Preferred {
                after: Some(time(x)?),
                before: None,
            });
        }
        if let Some(x) = lower.strip_prefix("before") {
            return Ok(Preferred {
                after: None,
                before: Some(time(x)?),
            });
        }
        for suffix in ["以后", "之后", "后"] {
            if let Some(x) = t.strip_suffix(suffix) {
                return Ok(Preferred {
                    after: Some(time(x)?),
                    before: None,
                });
            }
        }
        for suffix in ["以前", "之前", "前"] {
            if let Some(x) = t.strip_suffix(suffix) {
                return Ok(Preferred {
                    after: None,
                    before: Some(time(x)?),
                });
            }
        }
        if let Some((a, b)) = t.split_once('-') {
            let (a, b) = (time(a)?, time(b)?);
            if b.minutes() <= a.minutes() {
                return Err(format!(
                    "preferred time `{}`: the end must be after the start",
                    shown(s)
                ));
            }
            return Ok(Preferred {
                after: Some(a),
                before: Some(b),
            });
        }
        Ok(Preferred {
            after: Some(time(t)?),
            before: None,
        })
    }

    /// Whether `now_ms` falls in the window (local time of `cal`).
    pub fn fits(&self, cal: &Calendar, now_ms: i64) -> bool {
        let Ok(local) = cal.local(now_ms) else {
            return false;
        };
        let m =
            u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
        self.after.is_none_or(|a| m >= a.minutes()) && self.before.is_none_or(|b| m < b.minutes())
    }
}

impl fmt::Display for Preferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.after, self.before) {
            (Some(a), Some(b)) => write!(f, "{a}-{b}"),
            (Some(a), None) => write!(f, "after {a}"),
            (None, Some(b)) => write!(f, "before {b}"),
            (None, None) => Ok(()),
        }
    }
}

/// One member to visit, as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRow {
    /// Its line in the file.
    pub line: usize,
    /// Normalized number.
    pub number: String,
    /// Name.
    pub name: String,
    /// Card or member number.
    pub card: String,
    /// Notes.
    pub notes: String,
    /// Due by (end of the local due date), epoch ms; None: the campaign's default.
    pub due_ms: Option<i64>,
    /// Preferred time (canonical text, empty if none).
    pub preferred: String,
    /// Assigned agent (None: shared by the campaign's queue).
    pub agent: Option<AgentId>,
}

impl CampaignRow {
    /// What makes a line the same member twice: number and card.
    pub fn key(&self) -> (String, String) {
        (self.number.clone(), self.card.clone())
    }
}

/// What a file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    /// Lines to import.
    pub rows: Vec<CampaignRow>,
    /// Lines refused (at most [`MAX_ERRORS`]).
    pub errors: Vec<LineError>,
    /// How many lines were refused in all.
    pub error_count: usize,
    /// Lines skipped because the same member is earlier in the file or
    /// already in the campaign.
    pub duplicates: Vec<usize>,
}

/// What the import checks lines against.
pub struct ImportContext<'a> {
    /// The center's calendar (due dates are local days).
    pub calendar: &'a Calendar,
    /// Now, epoch ms (a due date already past is refused).
    pub now_ms: i64,
    /// Agents that exist (an `agent` column must name one of them).
    pub agents: &'a [AgentId],
    /// Members (number, card) already in the campaign.
    pub existing: &'a HashSet<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Col {
    Number,
    Name,
    Card,
    Notes,
    Due,
    Preferred,
    Agent,
}

fn column(name: &str) -> Option<Col> {
    let n = name.trim().to_ascii_lowercase();
    Some(match n.as_str() {
        "number" | "phone" | "号码" | "电话" | "电话号码" => Col::Number,
        "name" | "姓名" => Col::Name,
        "card" | "card_number" | "member" | "卡号" | "会员号" | "会员卡号" => Col::Card,
        "notes" | "note" | "备注" => Col::Notes,
        "due" | "due_date" | "回访日期" | "日期" => Col::Due,
        "preferred" | "preferred_time" | "时间" | "回访时间" => Col::Preferred,
        "agent" | "坐席" => Col::Agent,
        _ => return None,
    })
}

fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Splits one line into fields (RFC 4180 quoting, no line breaks inside quotes).
pub(crate) fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' {
            if !cur.trim().is_empty() || was_quoted {
                return Err(
                    "a quote inside an unquoted field (quote the whole field and double the quote)"
                        .into(),
                );
            }
            cur.clear();
            quoted = true;
            was_quoted = true;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            was_quoted = false;
        } else if was_quoted {
            if !c.is_whitespace() {
                return Err("text after a closing quote".into());
            }
        } else {
            cur.push(c);
        }
    }
    if quoted {
        return Err("a quote is not closed (line breaks inside a field are not accepted)".into());
    }
    out.push(cur);
    Ok(out)
}

/// Parses a campaign file.
pub fn parse(bytes: &[u8], ctx: &ImportContext<'_>) -> Result<Parsed, ImportError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooBig(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ImportError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)));
    if text
        .split('\n')
        .nth(MAX_LINES)
        .is_some_and(|l| !l.trim().is_empty())
        || text.split('\n').count() > MAX_LINES + 1
    {
        return Err(ImportError::TooManyLines);
    }
    let header = loop {
        match lines.next() {
            None => return Err(ImportError::Empty),
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((_, l)) => break l,
        }
    };
    let names = split_fields(header).map_err(ImportError::Header)?;
    let mut cols = Vec::with_capacity(names.len());
    for n in &names {
        let c = column(n).ok_or_else(|| {
            ImportError::Header(format!(
                "unknown column `{}` (number, name, card, notes, due, preferred, agent)",
                shown(n)
            ))
        })?;
        if cols.contains(&c) {
            return Err(ImportError::Header(format!(
                "column `{}` appears twice",
                shown(n)
            )));
        }
        cols.push(c);
    }
    if !cols.contains(&Col::Number) {
        return Err(ImportError::Header("no `number` column".into()));
    }
    let mut out = Parsed::default();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        match parse_row(line, text, &cols, ctx) {
            Ok(row) => {
                let key = row.key();
                if ctx.existing.contains(&key) || !seen.insert(key) {
                    out.duplicates.push(line);
                } else {
                    out.rows.push(row);
                }
            }
            Err(error) => {
                out.error_count += 1;
                if out.errors.len() < MAX_ERRORS {
                    out.errors.push(LineError { line, error });
                }
            }
        }
    }
    Ok(out)
}

fn parse_row(
    line: usize,
    text: &str,
    cols: &[Col],
    ctx: &ImportContext<'_>,
) -> Result<CampaignRow, String> {
    let fields = split_fields(text)?;
    if fields.len() != cols.len() {
        return Err(format!(
            "{} fields, the header has {}",
            fields.len(),
            cols.len()
        ));
    }
    let mut row = CampaignRow {
        line,
        number: String::new(),
        name: String::new(),
        card: String::new(),
        notes: String::new(),
        due_ms: None,
        preferred: String::new(),
        agent: None,
    };
    for (col, raw) in cols.iter().zip(fields) {
        let v = raw.trim();
        let limit = if *col == Col::Notes {
            4 * MAX_FIELD_CHARS
        } else {
            MAX_FIELD_CHARS
        };
        if v.chars().count() > limit {
            return Err(format!("{col:?} is longer than {limit} characters").to_lowercase());
        }
        if v.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("{col:?} contains control characters").to_lowercase());
        }
        match col {
            Col::Number => {
                row.number = normalize_number(v)
                    .ok_or_else(|| format!("number `{}` is not a phone number", shown(v)))?;
            }
            Col::Name => row.name = v.to_string(),
            Col::Card => row.card = v.to_string(),
            Col::Notes => row.notes = v.to_string(),
            Col::Due if v.is_empty() => {}
            Col::Due => {
                let date = parse_date(v)
                    .map_err(|_| format!("due date `{}`: expected YYYY-MM-DD", shown(v)))?;
                let (_, end) = ctx
                    .calendar
                    .day_bounds(date)
                    .map_err(|_| format!("due date `{}` is out of range", shown(v)))?;
                if end <= ctx.now_ms {
                    return Err(format!("due date {v} has passed"));
                }
                row.due_ms = Some(end);
            }
            Col::Preferred if v.is_empty() => {}
            Col::Preferred => row.preferred = Preferred::parse(v)?.to_string(),
            Col::Agent if v.is_empty() => {}
            Col::Agent => {
                let a = AgentId::new(v);
                if !ctx.agents.contains(&a) {
                    return Err(format!("agent `{}` does not exist", shown(v)));
                }
                row.agent = Some(a);
            }
        }
    }
    Ok(row)
}

/// Writes rows back as CSV (the export), with the header `number,name,card,notes,due,preferred,agent`
/// and due dates as local `YYYY-MM-DD`.
pub fn quote(field: &str) -> String {
    // a leading = + - @ would be a formula in a spreadsheet: prefix a quote
    let risky = field.starts_with(['=', '-', '@']);
    let f = if risky {
        format!("'{field}")
    } else {
        field.to_string()
    };
    if f.contains([',', '"', '\n', '\r']) || f != f.trim() {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_083_200_000; // 2026-12-01T00:00:00Z

    fn ctx<'a>(
        cal: &'a Calendar,
        existing: &'a HashSet<(String, String)>,
        agents: &'a [AgentId],
    ) -> ImportContext<'a> {
        ImportContext {
            calendar: cal,
            now_ms: NOW,
            agents,
            existing,
        }
    }

    #[test]
    fn a_file_with_chinese_headers_quotes_and_a_bom_is_read() {
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        let none = HashSet::new();
        let agents = [AgentId::new("1001")];
        let text = "\u{feff}号码,姓名,卡号,备注,回访日期,时间,坐席\r\n\
                    0612-345678,\"Li, Wei\",M001,\"said \"\"ok\"\"\",2026-12-03,after 13:10,1001\r\n\
                    \r\n\
                    0698765432,王芳,M002,,,10:00前,\n";
        let p = parse(text.as_bytes(), &ctx(&cal, &none, &agents)).unwrap();
        assert_eq!(p.errors, vec![]);
        assert_eq!(p.rows.len(), 2);
        let r = &p.rows[0];
        assert_eq!(
            (r.line, r.number.as_str(), r.name.as_str(), r.card.as_str()),
            (2, "0612345678", "Li, Wei", "M001")
        );
        assert_eq!(r.notes, "said \"ok\"");
        // end of 2026-12-03 in Shanghai = 2026-12-03T16:00:00Z
        assert_eq!(r.due_ms, Some(NOW + 2 * 86_400_000 + 16 * 3_600_000));
        assert_eq!(r.preferred, "after 13:10");
        assert_eq!(r.agent, Some(AgentId::new("1001")));
        assert_eq!(
            (
                p.rows[1].line,
                p.rows[1].preferred.as_str(),
                p.rows[1].agent.clone()
            ),
            (4, "before 10:00", None)
        );
    }

    #[test]
    fn malformed_lines_are_named_with_their_line_numbers_and_the_rest_is_kept() {
        let cal = Calendar::utc();
        let none = HashSet::new();
        let agents = [AgentId::new("1001")];
        let text = "number,name,card,due,preferred,agent\n\
                    0611,A,1,,,\n\
                    06@evil,B,2,,,\n\
                    0613,C,3,2026-02-30,,\n\
                    0614,D,4,2026-11-30,,\n\
                    0615,E,5,,after 25:00,\n\
                    0616,F,6,,,9999\n\
                    0617,G\n\
                    0618,\"H,7,,,\n\
                    0619,I,9,,14:00-13:00,\n\
                    0620,J,10,,,\n";
        let p = parse(text.as_bytes(), &ctx(&cal, &none, &agents)).unwrap();
        let lines: Vec<usize> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(p.error_count, 8);
        assert!(
            p.errors[0].error.contains("not a phone number"),
            "{}",
            p.errors[0]
        );
        assert!(p.errors[2].error.contains("has passed"), "{}", p.errors[2]);
        assert!(
            p.errors[5].error.contains("2 fields, the header has 6"),
            "{}",
            p.errors[5]
        );
        assert_eq!(
            p.errors[4].to_string(),
            "line 7: agent `9999` does not exist"
        );
        let kept: Vec<usize> = p.rows.iter().map(|r| r.line).collect();
        assert_eq!(kept, vec![2, 11]);
    }

    #[test]
    fn a_re_import_imports_nothing_twice() {
        let cal = Calendar::utc();
        let agents = [];
        let text = "number,card\n0611,1\n0612,2\n0611,1\n0611,3\n";
        let none = HashSet::new();
        let first = parse(text.as_bytes(), &ctx(&cal, &none, &agents)).unwrap();
        assert_eq!(first.rows.len(), 3);
        assert_eq!(first.duplicates, vec![4]);
        let existing: HashSet<_> = first.rows.iter().map(CampaignRow::key).collect();
        let again = parse(
            format!("{text}0613,4\n").as_bytes(),
            &ctx(&cal, &existing, &agents),
        )
        .unwrap();
        assert_eq!(
            again.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![6]
        );
        assert_eq!(again.duplicates, vec![2, 3, 4, 5]);
    }

    #[test]
    fn hostile_files_are_refused_whole_with_a_reason() {
        let cal = Calendar::utc();
        let none = HashSet::new();
        let c = ctx(&cal, &none, &[]);
        assert_eq!(parse(b"", &c), Err(ImportError::Empty));
        assert_eq!(parse(b"\n\n", &c), Err(ImportError::Empty));
        assert_eq!(parse(&[0xff, 0xfe, 0x00], &c), Err(ImportError::NotUtf8));
        let big = vec![b'1'; MAX_IMPORT_BYTES + 1];
        assert_eq!(
            parse(&big, &c),
            Err(ImportError::TooBig(MAX_IMPORT_BYTES + 1))
        );
        let many = format!("number\n{}", "0611\n".repeat(MAX_LINES + 1));
        assert_eq!(parse(many.as_bytes(), &c), Err(ImportError::TooManyLines));
        assert!(
            matches!(parse(b"name,card\nA,1\n", &c), Err(ImportError::Header(m)) if m.contains("no `number`"))
        );
        assert!(
            matches!(parse(b"number,password\n", &c), Err(ImportError::Header(m)) if m.contains("unknown column `password`"))
        );
        assert!(
            matches!(parse(b"number,phone\n", &c), Err(ImportError::Header(m)) if m.contains("twice"))
        );
        let long = format!(
            "number,name\n0611,{}\n0612,\u{0007}bell\n",
            "x".repeat(MAX_FIELD_CHARS + 1)
        );
        let p = parse(long.as_bytes(), &c).unwrap();
        assert_eq!(p.errors.len(), 2);
        assert!(
            p.errors[0].error.contains("longer than 256"),
            "{:?}",
            p.errors
        );
        assert!(p.errors[1].error.contains("control"), "{:?}", p.errors);
        let errs = format!("number\n{}", "x\n".repeat(MAX_ERRORS + 5));
        let p = parse(errs.as_bytes(), &c).unwrap();
        assert_eq!(
            (p.errors.len(), p.error_count),
            (MAX_ERRORS, MAX_ERRORS + 5)
        );
    }

    #[test]
    fn preferred_times_parse_and_fit() {
        let t = |s: &str| Preferred::parse(s).map(|p| p.to_string());
        assert_eq!(t("after 13:10").as_deref(), Ok("after 13:10"));
        assert_eq!(t("AFTER 9:05").as_deref(), Ok("after 09:05"));
        assert_eq!(t("13:10以后").as_deref(), Ok("after 13:10"));
        assert_eq!(t("13:10后").as_deref(), Ok("after 13:10"));
        assert_eq!(t("10:00之前").as_deref(), Ok("before 10:00"));
        assert_eq!(t("13:00-14:00").as_deref(), Ok("13:00-14:00"));
        assert_eq!(t("13:10").as_deref(), Ok("after 13:10"));
        assert!(t("lunch").is_err());
        assert!(t("14:00-13:00").is_err());
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        let p = Preferred::parse("13:00-14:00").unwrap();
        // 05:30Z = 13:30 in Shanghai
        assert!(p.fits(&cal, NOW + 5 * 3_600_000 + 30 * 60_000));
        assert!(!p.fits(&cal, NOW + 6 * 3_600_000));
    }

    #[test]
    fn exported_fields_are_quoted_and_formulas_defused() {
        assert_eq!(quote("Li, Wei"), "\"Li, Wei\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("=cmd()"), "'=cmd()");
        assert_eq!(quote("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(quote("+8613800000000"), "+8613800000000");
        assert_eq!(quote("plain"), "plain");
    }
}
