//! Complaint cases as text for the command line (`hotline cases list|show|
//! export`): CSV rows with formulas defused, and one case with its timeline
//! and links. The binary parses the flags and prints these.

use hotline_cases::Stage;
use hotline_store::{Case, CaseWithRepeats, Store, StoreError};
use std::fmt::Write;

/// A CSV field: quoted when needed; a leading `=`, `+`, `-`, `@` is
/// defused so a spreadsheet does not run it as a formula.
fn csv(s: &str) -> String {
    let s = if s.starts_with(['=', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn num(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// The CSV columns of a case.
pub const HEADER: &str = "id,number,customer_name,owner,severity,stage,status,valid,validity_reason,\
opened_ms,deadline_ms,replied_ms,closed_ms,overdue,escalated_to,agent_concerned,call_id,title,closing_summary";

/// One case as a CSV row (no line end); `now` decides `overdue`.
pub fn row(c: &Case, now: i64) -> String {
    [
        c.id.to_string(),
        csv(&c.number),
        csv(opt(&c.customer_name)),
        csv(&c.owner),
        c.severity.to_string(),
        c.stage.to_string(),
        if c.is_closed() { "closed" } else { "open" }.into(),
        match c.valid {
            Some(true) => "valid".into(),
            Some(false) => "invalid".into(),
            None => String::new(),
        },
        csv(opt(&c.validity_reason)),
        c.opened_ms.to_string(),
        c.deadline_ms.to_string(),
        num(c.replied_ms),
        num(c.closed_ms),
        c.overdue_at(now).to_string(),
        csv(opt(&c.escalated_to)),
        csv(opt(&c.agent_concerned)),
        csv(opt(&c.call_id)),
        csv(&c.title),
        csv(opt(&c.closing_summary)),
    ]
    .join(",")
}

/// `hotline cases list`: the header and one row per case.
pub fn list_csv(cases: &[Case], now: i64) -> String {
    let mut text = format!("{HEADER}\n");
    for c in cases {
        text.push_str(&row(c, now));
        text.push('\n');
    }
    text
}

/// `hotline cases export`: the cases of a period with the number of
/// calls from the same number after each was opened.
pub fn export_csv(rows: &[CaseWithRepeats], now: i64) -> String {
    let mut text = format!("{HEADER},repeat_calls\n");
    for r in rows {
        text.push_str(&row(&r.case, now));
        text.push_str(&format!(",{}\n", r.repeat_calls));
    }
    text
}

/// `hotline cases show`: one case with its timeline and links, or `None`
/// when there is no such case.
pub async fn show(store: &Store, id: i64, now: i64) -> Result<Option<String>, StoreError> {
    let Some(c) = store.case(id).await? else {
        return Ok(None);
    };
    let mut out = String::new();
    // writing to a String cannot fail
    macro_rules! w {
        ($($t:tt)*) => {
            let _ = writeln!(out, $($t)*);
        };
    }
    w!(
        "case {}  {}  owner {}  {}  {}",
        c.id,
        c.number,
        c.owner,
        c.severity,
        if c.is_closed() { "closed" } else { "open" }
    );
    w!("title: {}", c.title);
    w!(
        "stage: {} (next: {})",
        c.stage,
        c.stage.next().map_or("-", Stage::as_str)
    );
    w!(
        "reply deadline: {}{}",
        c.deadline_ms,
        if c.overdue_at(now) { "  OVERDUE" } else { "" }
    );
    if let Some(v) = c.valid {
        w!(
            "judged {}: {}",
            if v { "valid" } else { "invalid" },
            opt(&c.validity_reason)
        );
    }
    if let Some(e) = &c.escalated_to {
        w!("escalated to {e}");
    }
    if let Some(a) = &c.agent_concerned {
        w!("about agent {a}");
    }
    w!("timeline:");
    for s in store.case_steps(id).await? {
        w!(
            "  {}  {:<11} {:<10} {}",
            s.at_ms,
            s.action,
            s.by,
            s.note.replace('\n', "\n      ")
        );
    }
    for l in store.case_links(id).await? {
        w!("link: {} {} (by {})", l.kind.as_str(), l.target, l.by);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv("plain"), "plain");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(csv("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            csv("+8613800000000"),
            "+8613800000000",
            "numbers keep their +"
        );
        assert_eq!(csv("-1"), "'-1");
    }
}
