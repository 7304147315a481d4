//! The record of a return visit (回访): the regulations keep card number,
//! name, time and the customer's opinions; a visit lasts at most 3 minutes.
//!
//! A visit is **valid** (counts towards the quota) when the member was
//! reached, their opinions are written down and the call lasted at most
//! [`MAX_VISIT_MS`] (or the configured limit). Visits not reached or refused
//! are kept and summarised, but do not count.

use hotline_core::AgentId;
use serde::{Deserialize, Serialize};

/// The regulations' limit for a reply or return visit: 3 minutes.
pub const MAX_VISIT_MS: i64 = 3 * 60_000;
/// Longest opinions text, characters.
pub const MAX_OPINIONS_CHARS: usize = 2000;

/// What came of the visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitOutcome {
    /// The member was reached and gave their opinions.
    Reached,
    /// Nobody answered, wrong number, switched off.
    NotReached,
    /// The member did not want the visit.
    Refused,
}

impl VisitOutcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            VisitOutcome::Reached => "reached",
            VisitOutcome::NotReached => "not_reached",
            VisitOutcome::Refused => "refused",
        }
    }

    /// The outcome of a name.
    pub fn parse(s: &str) -> Option<VisitOutcome> {
        [
            VisitOutcome::Reached,
            VisitOutcome::NotReached,
            VisitOutcome::Refused,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// The work item's outcome once the visit is recorded.
    pub fn item_outcome(self) -> crate::ItemOutcome {
        match self {
            VisitOutcome::Reached => crate::ItemOutcome::Reached,
            VisitOutcome::NotReached => crate::ItemOutcome::NotReached,
            VisitOutcome::Refused => crate::ItemOutcome::Refused,
        }
    }
}

/// Why a visit form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitError {
    /// Satisfaction outside 1-5.
    #[error("satisfaction must be 1 to 5, not {0}")]
    BadSatisfaction(i64),
    /// Satisfaction given for a member who was not reached.
    #[error("satisfaction is only given by a member who was reached")]
    SatisfactionWithoutReach,
    /// Opinions too long.
    #[error("opinions are longer than {MAX_OPINIONS_CHARS} characters")]
    OpinionsTooLong,
    /// Control characters in the opinions.
    #[error("opinions contain control characters")]
    ControlCharacters,
    /// A reached member without opinions.
    #[error("a reached member's opinions must be written down (the regulations keep them)")]
    NoOpinions,
    /// A negative or absurd length.
    #[error("duration must be 0 to 86400 seconds, not {0} ms")]
    BadDuration(i64),
}

/// One visit as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitRecord {
    /// The work item visited.
    pub item_id: i64,
    /// The campaign (from the item).
    pub campaign: Option<i64>,
    /// Who made it.
    pub agent: AgentId,
    /// When it was recorded, epoch ms.
    pub at_ms: i64,
    /// What came of it.
    pub outcome: VisitOutcome,
    /// The member's opinions, in their words.
    pub opinions: String,
    /// Satisfaction 1-5, if reached and given.
    pub satisfaction: Option<u8>,
    /// The call's length, ms (from its CDR when known).
    pub duration_ms: i64,
    /// The call, if known.
    pub call_id: Option<String>,
    /// The member's card number (from the item).
    pub card: String,
    /// Their name (from the item).
    pub name: String,
    /// Their number (from the item).
    pub number: String,
}

impl VisitRecord {
    /// Checks a form's fields; `satisfaction` as typed (any integer).
    pub fn check(
        outcome: VisitOutcome,
        opinions: &str,
        satisfaction: Option<i64>,
        duration_ms: i64,
    ) -> Result<Option<u8>, VisitError> {
        if !(0..=86_400_000).contains(&duration_ms) {
            return Err(VisitError::BadDuration(duration_ms));
        }
        if opinions.chars().count() > MAX_OPINIONS_CHARS {
            return Err(VisitError::OpinionsTooLong);
        }
        if opinions
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            return Err(VisitError::ControlCharacters);
        }
        let sat = match satisfaction {
            None => None,
            Some(s) if (1..=5).contains(&s) => Some(s as u8),
            Some(s) => return Err(VisitError::BadSatisfaction(s)),
        };
        if sat.is_some() && outcome != VisitOutcome::Reached {
            return Err(VisitError::SatisfactionWithoutReach);
        }
        if outcome == VisitOutcome::Reached && opinions.trim().is_empty() {
            return Err(VisitError::NoOpinions);
        }
        Ok(sat)
    }

    /// Longer than `max_ms`.
    pub fn over_time(&self, max_ms: i64) -> bool {
        self.duration_ms > max_ms
    }

    /// Counts towards the quota: reached, opinions written, within `max_ms`.
    pub fn valid(&self, max_ms: i64) -> bool {
        self.outcome == VisitOutcome::Reached
            && !self.opinions.trim().is_empty()
            && !self.over_time(max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn visit(
        agent: &str,
        at: i64,
        outcome: VisitOutcome,
        duration_ms: i64,
        sat: Option<u8>,
    ) -> VisitRecord {
        VisitRecord {
            item_id: at,
            campaign: Some(1),
            agent: AgentId::new(agent),
            at_ms: at,
            outcome,
            opinions: if outcome == VisitOutcome::Reached {
                "满意".into()
            } else {
                String::new()
            },
            satisfaction: sat,
            duration_ms,
            call_id: None,
            card: "M1".into(),
            name: "李".into(),
            number: "0611".into(),
        }
    }

    #[test]
    fn forms_are_checked() {
        use VisitOutcome::*;
        assert_eq!(
            VisitRecord::check(Reached, "ok", Some(5), 60_000),
            Ok(Some(5))
        );
        assert_eq!(VisitRecord::check(Reached, "ok", None, 0), Ok(None));
        assert_eq!(
            VisitRecord::check(Reached, "ok", Some(0), 1),
            Err(VisitError::BadSatisfaction(0))
        );
        assert_eq!(
            VisitRecord::check(Reached, "ok", Some(6), 1),
            Err(VisitError::BadSatisfaction(6))
        );
        assert_eq!(
            VisitRecord::check(Reached, "ok", Some(-300), 1),
            Err(VisitError::BadSatisfaction(-300))
        );
        assert_eq!(
            VisitRecord::check(NotReached, "", Some(3), 1),
            Err(VisitError::SatisfactionWithoutReach)
        );
        assert_eq!(
            VisitRecord::check(Reached, "  ", None, 1),
            Err(VisitError::NoOpinions)
        );
        assert_eq!(
            VisitRecord::check(Refused, "", None, -1),
            Err(VisitError::BadDuration(-1))
        );
        assert_eq!(
            VisitRecord::check(Refused, &"意".repeat(2001), None, 1),
            Err(VisitError::OpinionsTooLong)
        );
        assert_eq!(
            VisitRecord::check(Refused, "a\u{0}b", None, 1),
            Err(VisitError::ControlCharacters)
        );
        assert_eq!(
            VisitRecord::check(Refused, "line1\nline2", None, 1),
            Ok(None)
        );
        assert_eq!(VisitOutcome::parse("not_reached"), Some(NotReached));
        assert_eq!(VisitOutcome::parse("yes"), None);
    }

    #[test]
    fn only_a_reached_visit_within_three_minutes_is_valid() {
        use VisitOutcome::*;
        assert!(visit("1001", 0, Reached, MAX_VISIT_MS, Some(4)).valid(MAX_VISIT_MS));
        assert!(!visit("1001", 0, Reached, MAX_VISIT_MS + 1, Some(4)).valid(MAX_VISIT_MS));
        assert!(visit("1001", 0, Reached, MAX_VISIT_MS + 1, None).over_time(MAX_VISIT_MS));
        assert!(!visit("1001", 0, NotReached, 10, None).valid(MAX_VISIT_MS));
        assert!(!visit("1001", 0, Refused, 10, None).valid(MAX_VISIT_MS));
    }
}
