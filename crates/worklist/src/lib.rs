//! Work lists and return visits (回访), sans-IO.
//!
//! The regulations make agents call customers as much as customers call
//! them: every missed, abandoned or voicemail call and every "I'll call you
//! back" promise is called back within 24 hours, and members get return
//! visits against a quota (20 valid a week, 80 a month counted from the
//! 1st, at most 3 minutes each, with a record of card number, name, time and
//! opinions). This crate holds the rules, with time always an argument:
//!
//! - [`item`]: a [`WorkItem`] (number, kind, deadline, owner, attempts,
//!   outcome) and who may see and dial it;
//! - [`book`]: the [`WorkBook`], the open items folded from the event log
//!   (items created from missed calls, closed by an answered call from the
//!   owner), and the [`WorkBook::may_dial`] lookup of the "no private calls" rule;
//! - [`csv`]: the campaign import;
//! - [`visit`]: the visit record and its validity;
//! - [`quota`]: weeks and months in the center's time zone, quota progress;
//! - [`kpi`]: 已复电话百分比 (share of calls returned), time to return and the
//!   weekly summary.

#![warn(missing_docs)]

pub mod book;
pub mod csv;
#[doc(hidden)]
pub mod fuzzing;
pub mod item;
pub mod kpi;
pub mod quota;
pub mod visit;

pub use book::{Action, WorkBook};
pub use item::{ItemKind, ItemOutcome, NewItem, Owner, Viewer, WorkItem, DEFAULT_DEADLINE_MS};
pub use quota::{Period, Quota, QuotaProgress};
pub use visit::{VisitError, VisitOutcome, VisitRecord, MAX_VISIT_MS};

/// A number as compared by the rules: spaces, dashes, dots and brackets
/// removed (`0612-345 678` is `0612345678`); None when what is left is not
/// a number that can be dialled (1-32 digits, an optional leading `+`).
pub fn normalize_number(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for (i, c) in raw.trim().chars().enumerate() {
        match c {
            '0'..='9' => out.push(c),
            '+' if i == 0 => out.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let digits = out.trim_start_matches('+').len();
    (1..=32).contains(&digits).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalized_or_refused() {
        assert_eq!(
            normalize_number(" 0612-345 678 ").as_deref(),
            Some("0612345678")
        );
        assert_eq!(
            normalize_number("+86 (138) 0000.0000").as_deref(),
            Some("+8613800000000")
        );
        assert_eq!(normalize_number("06@evil"), None);
        assert_eq!(normalize_number("1+2"), None);
        assert_eq!(normalize_number(""), None);
        assert_eq!(normalize_number("+"), None);
        assert_eq!(normalize_number(&"1".repeat(33)), None);
        assert_eq!(normalize_number("anonymous"), None);
    }
}
