//! Complaint cases under first-contact ownership (首问负责制), sans-IO.
//!
//! The person who takes the first call owns the complaint until it is
//! closed. A case goes through six stages in order — receive, investigate,
//! analyse, handle, reply (the customer is called back with the result),
//! summarise (which closes it) — each recorded with its time, who did it and
//! a note. A case has a severity (general, major, crisis), a judgement whether
//! it is valid (with a reason), a reply deadline per severity and may be
//! escalated to a role or a person.
//!
//! This crate holds the rules only: [`Stage::check_next`] says whether a
//! transition is allowed, [`DeadlinePolicy`] gives a case's reply deadline
//! and [`deadline::DeadlineChecker`] raises the warning before and the alarm
//! after it, with `now` passed in. The store persists cases
//! (`hotline-store`), the API serves them (`hotline-api`).

#![warn(missing_docs)]

pub mod deadline;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use deadline::{DeadlineChecker, DeadlineEvent, WatchedCase};

/// How bad a complaint is; crisis and major go to management at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// An ordinary complaint.
    General,
    /// A major complaint: management is told at once.
    Major,
    /// A crisis: management is told at once.
    Crisis,
}

impl Severity {
    /// Every severity, mildest first.
    pub const ALL: [Severity; 3] = [Severity::General, Severity::Major, Severity::Crisis];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::General => "general",
            Severity::Major => "major",
            Severity::Crisis => "crisis",
        }
    }

    /// Whether management must be told at once (major and crisis).
    pub fn needs_management(self) -> bool {
        self != Severity::General
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of a vocabulary's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}`: expected one of {expected}")]
pub struct UnknownName {
    /// `severity`, `stage`, ...
    pub what: &'static str,
    /// What was given (cut to 32 characters).
    pub given: String,
    /// The names allowed, comma-separated.
    pub expected: String,
}

fn unknown(what: &'static str, given: &str, expected: &[&str]) -> UnknownName {
    UnknownName {
        what,
        given: given.chars().take(32).collect(),
        expected: expected.join(", "),
    }
}

impl FromStr for Severity {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| unknown("severity", s, &Severity::ALL.map(Severity::as_str)))
    }
}

/// The six stages of the complaint procedure, in their order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The complaint is received and recorded (the case's creation).
    Receive,
    /// The facts are investigated.
    Investigate,
    /// The cause is analysed.
    Analyse,
    /// It is handled (the remedy).
    Handle,
    /// The customer is called back with the result.
    Reply,
    /// The case is summarised, which closes it.
    Summarise,
}

/// Why a stage transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The case is closed already.
    #[error("the case is closed already")]
    Closed,
    /// The stage is not the next one.
    #[error("the case is at `{current}`: the next stage is `{next}`, not `{asked}`")]
    OutOfOrder {
        /// Where the case is.
        current: Stage,
        /// The stage asked for.
        asked: Stage,
        /// The stage that would be allowed.
        next: Stage,
    },
    /// Closing needs the validity judgement first.
    #[error("judge whether the complaint is valid (with a reason) before summarising")]
    NotJudged,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 6] = [
        Stage::Receive,
        Stage::Investigate,
        Stage::Analyse,
        Stage::Handle,
        Stage::Reply,
        Stage::Summarise,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Receive => "receive",
            Stage::Investigate => "investigate",
            Stage::Analyse => "analyse",
            Stage::Handle => "handle",
            Stage::Reply => "reply",
            Stage::Summarise => "summarise",
        }
    }

    /// The stage after this one (None after summarise).
    pub fn next(self) -> Option<Stage> {
        let i = Stage::ALL.iter().position(|s| *s == self)?;
        Stage::ALL.get(i + 1).copied()
    }

    /// Whether a case at `self` (closed or not) may move to `to`: only the
    /// next stage, never out of a closed case, and summarising (closing)
    /// only once the validity is judged.
    pub fn check_next(self, closed: bool, judged: bool, to: Stage) -> Result<(), TransitionError> {
        if closed {
            return Err(TransitionError::Closed);
        }
        match self.next() {
            Some(n) if n == to => {
                if to == Stage::Summarise && !judged {
                    Err(TransitionError::NotJudged)
                } else {
                    Ok(())
                }
            }
            Some(n) => Err(TransitionError::OutOfOrder {
                current: self,
                asked: to,
                next: n,
            }),
            None => Err(TransitionError::Closed),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| unknown("stage", s, &Stage::ALL.map(Stage::as_str)))
    }
}

/// The reply deadline per severity and how long before it the owner is
/// warned (`[cases]` in the config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlinePolicy {
    /// Time to reply to a general complaint, ms.
    pub general_ms: i64,
    /// Time to reply to a major complaint, ms.
    pub major_ms: i64,
    /// Time to reply to a crisis, ms.
    pub crisis_ms: i64,
    /// The warning comes this long before the deadline, ms.
    pub warn_before_ms: i64,
}

/// One hour in ms.
pub const HOUR_MS: i64 = 3_600_000;

impl Default for DeadlinePolicy {
    /// 24 hours for every severity (the regulations' "reply within 24
    /// hours"), warned 2 hours before.
    fn default() -> Self {
        DeadlinePolicy {
            general_ms: 24 * HOUR_MS,
            major_ms: 24 * HOUR_MS,
            crisis_ms: 24 * HOUR_MS,
            warn_before_ms: 2 * HOUR_MS,
        }
    }
}

impl DeadlinePolicy {
    /// How long a case of `severity` has to be replied to, ms.
    pub fn reply_within_ms(&self, severity: Severity) -> i64 {
        match severity {
            Severity::General => self.general_ms,
            Severity::Major => self.major_ms,
            Severity::Crisis => self.crisis_ms,
        }
    }

    /// The reply deadline of a case of `severity` opened at `opened_ms`.
    pub fn deadline(&self, severity: Severity, opened_ms: i64) -> i64 {
        opened_ms.saturating_add(self.reply_within_ms(severity))
    }
}

/// The call-note categories shipped (`cases.note_categories` replaces them).
pub const DEFAULT_CATEGORIES: [&str; 7] = [
    "inquiry",
    "status_query",
    "order",
    "complaint",
    "suggestion",
    "return_visit",
    "other",
];

/// Most bytes of a note's summary or follow-up, a stage note or a closing
/// summary.
pub const MAX_TEXT: usize = 4000;
/// Most bytes of a name, number, category, reason or escalation target.
pub const MAX_SHORT: usize = 128;

/// Why a text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty or blank where something is needed.
    #[error("{0}: must not be empty")]
    Empty(&'static str),
    /// Longer than allowed.
    #[error("{what}: at most {max} bytes (got {len})")]
    TooLong {
        /// The field.
        what: &'static str,
        /// The limit.
        max: usize,
        /// What came.
        len: usize,
    },
    /// Control characters (line breaks are allowed in long texts only).
    #[error("{0}: control characters are not allowed")]
    Control(&'static str),
}

/// Checks a short single-line field (names, numbers, reasons): trimmed,
/// 1..=[`MAX_SHORT`] bytes, no control characters.
pub fn check_short<'a>(what: &'static str, s: &'a str) -> Result<&'a str, TextError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(TextError::Empty(what));
    }
    if t.len() > MAX_SHORT {
        return Err(TextError::TooLong {
            what,
            max: MAX_SHORT,
            len: t.len(),
        });
    }
    if t.chars().any(char::is_control) {
        return Err(TextError::Control(what));
    }
    Ok(t)
}

/// Checks a long text (summaries, notes): trimmed, 1..=[`MAX_TEXT`] bytes,
/// line breaks and tabs allowed, other control characters not.
pub fn check_text<'a>(what: &'static str, s: &'a str) -> Result<&'a str, TextError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(TextError::Empty(what));
    }
    if t.len() > MAX_TEXT {
        return Err(TextError::TooLong {
            what,
            max: MAX_TEXT,
            len: t.len(),
        });
    }
    if t.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(TextError::Control(what));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_clear() {
        for s in Stage::ALL {
            assert_eq!(s.as_str().parse::<Stage>(), Ok(s));
        }
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
        }
        let e = "closed".parse::<Stage>().unwrap_err();
        assert!(e.to_string().contains("receive, investigate"), "{e}");
        let long = "x".repeat(10_000);
        let e = long.parse::<Severity>().unwrap_err();
        assert_eq!(e.given.len(), 32);
    }

    #[test]
    fn stages_go_in_order_and_close_once() {
        assert_eq!(
            Stage::Receive.check_next(false, false, Stage::Investigate),
            Ok(())
        );
        assert!(matches!(
            Stage::Receive.check_next(false, false, Stage::Handle),
            Err(TransitionError::OutOfOrder {
                next: Stage::Investigate,
                ..
            })
        ));
        assert!(matches!(
            Stage::Handle.check_next(false, true, Stage::Handle),
            Err(TransitionError::OutOfOrder { .. })
        ));
        assert_eq!(
            Stage::Reply.check_next(false, false, Stage::Summarise),
            Err(TransitionError::NotJudged)
        );
        assert_eq!(
            Stage::Reply.check_next(false, true, Stage::Summarise),
            Ok(())
        );
        assert_eq!(
            Stage::Summarise.check_next(true, true, Stage::Summarise),
            Err(TransitionError::Closed)
        );
        assert_eq!(
            Stage::Summarise.check_next(false, true, Stage::Receive),
            Err(TransitionError::Closed)
        );
        assert_eq!(Stage::Summarise.next(), None);
    }

    #[test]
    fn deadline_per_severity_defaults_to_a_day() {
        let p = DeadlinePolicy::default();
        for s in Severity::ALL {
            assert_eq!(p.deadline(s, 1_000), 1_000 + 24 * HOUR_MS);
        }
        let p = DeadlinePolicy {
            crisis_ms: 2 * HOUR_MS,
            ..DeadlinePolicy::default()
        };
        assert_eq!(p.deadline(Severity::Crisis, 0), 2 * HOUR_MS);
        assert_eq!(p.deadline(Severity::General, i64::MAX), i64::MAX);
        assert!(Severity::Crisis.needs_management() && !Severity::General.needs_management());
    }

    #[test]
    fn texts_are_checked() {
        assert_eq!(check_short("name", "  张伟 "), Ok("张伟"));
        assert_eq!(check_short("name", " "), Err(TextError::Empty("name")));
        assert_eq!(
            check_short("name", "a\u{0}b"),
            Err(TextError::Control("name"))
        );
        assert!(matches!(
            check_short("name", &"x".repeat(129)),
            Err(TextError::TooLong { len: 129, .. })
        ));
        assert_eq!(
            check_text("summary", "line\nbreak\ttab"),
            Ok("line\nbreak\ttab")
        );
        assert_eq!(
            check_text("summary", "bell\u{7}"),
            Err(TextError::Control("summary"))
        );
        assert!(check_text("summary", &"长".repeat(1334)).is_err()); // 4002 bytes
        assert!(check_text("summary", &"长".repeat(1333)).is_ok());
    }
}
