//! CSV import of roster changes: `date,agent,shift,action[,note]` per line
//! (a header line starting with `date` is skipped; `#` lines and blank
//! lines too). A bad line is refused with its number; nothing is taken
//! from a file with a bad line.

use crate::roster::{ChangeOp, RosterChange};
use hotline_core::{calendar::parse_date, AgentId};

/// The most lines one import takes.
pub const MAX_LINES: usize = 10_000;
/// The longest field.
const MAX_FIELD: usize = 200;

/// A bad CSV line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CsvError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Splits one CSV line (fields may be quoted with `"`, `""` inside).
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.trim().is_empty() && !was_quoted => {
                cur.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err("a quote inside an unquoted field".into()),
            (false, ',') => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                was_quoted = false;
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("an unterminated quote".into());
    }
    out.push(cur.trim().to_string());
    Ok(out)
}

/// Parses roster changes from CSV text.
pub fn parse(text: &str) -> Result<Vec<RosterChange>, CsvError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let bad = |reason: String| CsvError { line, reason };
        if line > MAX_LINES {
            return Err(bad(format!("more than {MAX_LINES} lines")));
        }
        let raw = raw
            .strip_prefix('\u{feff}')
            .unwrap_or(raw)
            .trim_end_matches('\r');
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        let f = fields(raw).map_err(bad)?;
        if out.is_empty() && f.first().is_some_and(|h| h.eq_ignore_ascii_case("date")) {
            continue;
        }
        if !(4..=5).contains(&f.len()) {
            return Err(bad(format!(
                "expected 4 or 5 fields (date,agent,shift,action[,note]), got {}",
                f.len()
            )));
        }
        if let Some(long) = f.iter().find(|x| x.chars().count() > MAX_FIELD) {
            return Err(bad(format!(
                "a field longer than {MAX_FIELD} characters ({}...)",
                long.chars().take(16).collect::<String>()
            )));
        }
        let date = parse_date(&f[0]).map_err(|e| bad(e.to_string()))?;
        if f[1].is_empty() {
            return Err(bad("empty agent".into()));
        }
        let op: ChangeOp = f[3].parse().map_err(bad)?;
        if op == ChangeOp::Add && f[2].is_empty() {
            return Err(bad("an added duty needs a shift".into()));
        }
        out.push(RosterChange {
            date,
            agent: AgentId::new(f[1].clone()),
            shift: f[2].clone(),
            op,
            note: f.get(4).cloned().unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_csv_parses() {
        let text = "\u{feff}date,agent,shift,action,note\r\n\
                    2026-12-07,1001,early,add,swap with 1002\r\n\
                    # a comment\n\n\
                    2026-12-07,1002,,remove,\"sick, doctor's note\"\n\
                    2026-12-08,1003,18:00-22:00,+\n";
        let c = parse(text).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[1].note, "sick, doctor's note");
        assert_eq!(c[1].op, ChangeOp::Remove);
        assert_eq!(c[2].shift, "18:00-22:00");
    }

    #[test]
    fn bad_lines_name_their_number() {
        for (text, line) in [
            ("date,agent,shift,action\n2026-13-01,1001,early,add\n", 2),
            ("2026-12-07,1001,early\n", 1),
            ("2026-12-07,1001,early,add\n2026-12-07,1001,early,swap\n", 2),
            ("2026-12-07,,early,add\n", 1),
            ("2026-12-07,1001,,add\n", 1),
            ("2026-12-07,1001,early,add,\"open\n", 1),
            ("2026-12-07,1001,ea\"rly,add\n", 1),
            ("x,y\n", 1),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
        let long = format!("2026-12-07,{},early,add\n", "9".repeat(5000));
        let e = parse(&long).unwrap_err();
        assert!(e.to_string().len() < 200, "{e}");
        let many = "2026-12-07,1001,early,add\n".repeat(MAX_LINES + 1);
        assert_eq!(parse(&many).unwrap_err().line, MAX_LINES + 1);
    }
}
