//! Return-visit quotas: valid visits per agent per week (Monday 00:00 to
//! Monday 00:00, the center's local time) and per month (counted from the
//! 1st, 00:00 local), 20 and 80 by the regulations.

use crate::visit::VisitRecord;
use hotline_core::calendar::{Calendar, CalendarError};
use hotline_core::AgentId;
use jiff::ToSpan;
use serde::{Deserialize, Serialize};

/// The quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Valid visits per agent per week.
    pub weekly: u32,
    /// Valid visits per agent per month.
    pub monthly: u32,
    /// Longest valid visit, ms.
    pub max_visit_ms: i64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            weekly: 20,
            monthly: 80,
            max_visit_ms: crate::MAX_VISIT_MS,
        }
    }
}

/// A quota period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Monday to Sunday, local.
    Week,
    /// The 1st to the end of the month, local.
    Month,
}

impl Period {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// Start (included) and end (excluded) of the period holding `now_ms`, epoch ms.
    pub fn bounds(self, cal: &Calendar, now_ms: i64) -> Result<(i64, i64), CalendarError> {
        let date = cal.date_of(now_ms)?;
        let range = |_| CalendarError::Range(now_ms);
        let (first, next) = match self {
            Period::Week => {
                let back = i64::from(date.weekday().to_monday_zero_offset());
                let monday = date.checked_sub(back.days()).map_err(range)?;
                (monday, monday.checked_add(7.days()).map_err(range)?)
            }
            Period::Month => {
                let first = date.first_of_month();
                (first, first.checked_add(1.month()).map_err(range)?)
            }
        };
        Ok((cal.day_bounds(first)?.0, cal.day_bounds(next)?.0))
    }
}

/// One agent's progress against a quota.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaProgress {
    /// The agent.
    pub agent: AgentId,
    /// Week or month.
    pub period: Period,
    /// Period start, epoch ms.
    pub from_ms: i64,
    /// Period end (excluded), epoch ms.
    pub to_ms: i64,
    /// Valid visits required.
    pub target: u32,
    /// Valid visits made.
    pub valid: u32,
    /// All visits recorded (reached or not).
    pub made: u32,
    /// Still to make (0 once met).
    pub remaining: u32,
    /// valid / target, percent (100 when the target is 0).
    pub percent: f64,
    /// Valid visits expected by now at an even pace (target × elapsed share,
    /// rounded down): behind when `valid` is below it.
    pub expected_by_now: u32,
}

/// Every agent's progress in the period holding `now_ms`, from the visits
/// recorded (any order, any period: those outside it or after `now_ms` are ignored). Agents in
/// `agents` are listed even without visits; others who made visits too.
pub fn progress(
    cal: &Calendar,
    quota: &Quota,
    period: Period,
    now_ms: i64,
    agents: &[AgentId],
    visits: &[VisitRecord],
) -> Result<Vec<QuotaProgress>, CalendarError> {
    let (from, to) = period.bounds(cal, now_ms)?;
    let target = match period {
        Period::Week => quota.weekly,
        Period::Month => quota.monthly,
    };
    // visits up to now (a simulation's later visits are not made yet)
    let upto = to.min(now_ms.saturating_add(1));
    let mut names: Vec<AgentId> = agents.to_vec();
    for v in visits {
        if (from..upto).contains(&v.at_ms) && !names.contains(&v.agent) {
            names.push(v.agent.clone());
        }
    }
    let elapsed = (now_ms.clamp(from, to) - from) as f64 / (to - from).max(1) as f64;
    Ok(names
        .into_iter()
        .map(|agent| {
            let mine = visits
                .iter()
                .filter(|v| v.agent == agent && (from..upto).contains(&v.at_ms));
            let (mut made, mut valid) = (0u32, 0u32);
            for v in mine {
                made += 1;
                if v.valid(quota.max_visit_ms) {
                    valid += 1;
                }
            }
            QuotaProgress {
                agent,
                period,
                from_ms: from,
                to_ms: to,
                target,
                valid,
                made,
                remaining: target.saturating_sub(valid),
                percent: if target == 0 {
                    100.0
                } else {
                    f64::from(valid) * 100.0 / f64::from(target)
                },
                expected_by_now: (f64::from(target) * elapsed).floor() as u32,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visit::VisitOutcome;

    const H: i64 = 3_600_000;
    const DAY: i64 = 24 * H;
    // 2026-12-01T00:00:00Z, a Tuesday; 08:00 in Shanghai
    const DEC1: i64 = 1_796_083_200_000;

    fn v(agent: &str, at: i64, outcome: VisitOutcome, duration_ms: i64) -> VisitRecord {
        VisitRecord {
            item_id: 1,
            campaign: None,
            agent: AgentId::new(agent),
            at_ms: at,
            outcome,
            opinions: "好".into(),
            satisfaction: None,
            duration_ms,
            call_id: None,
            card: String::new(),
            name: String::new(),
            number: "0611".into(),
        }
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first_in_local_time() {
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        // Monday 2026-11-30 00:00 +08:00 = 2026-11-29T16:00Z
        let monday = DEC1 - 32 * H;
        assert_eq!(
            Period::Week.bounds(&cal, DEC1).unwrap(),
            (monday, monday + 7 * DAY)
        );
        // Sunday 23:59 local is still that week; Monday 00:00 local the next
        assert_eq!(
            Period::Week.bounds(&cal, monday + 7 * DAY - 1).unwrap().0,
            monday
        );
        assert_eq!(
            Period::Week.bounds(&cal, monday + 7 * DAY).unwrap().0,
            monday + 7 * DAY
        );
        // December: 2026-12-01 00:00 +08:00 to 2027-01-01 00:00 +08:00
        let dec = DEC1 - 8 * H;
        assert_eq!(
            Period::Month.bounds(&cal, DEC1).unwrap(),
            (dec, dec + 31 * DAY)
        );
        // 2026-12-01T15:59Z is still 23:59 on Dec 1st locally; 2026-11-30T16:00Z is Dec 1st 00:00
        assert_eq!(Period::Month.bounds(&cal, dec).unwrap().0, dec);
        assert_eq!(
            Period::Month.bounds(&cal, dec - 1).unwrap().0,
            dec - 30 * DAY
        );
        // in UTC the same instant is in the same week but the month starts 8 h later
        let utc = Calendar::utc();
        assert_eq!(Period::Month.bounds(&utc, DEC1).unwrap().0, DEC1);
    }

    #[test]
    fn a_simulated_month_of_visits_against_20_a_week_and_80_a_month() {
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        let q = Quota::default();
        let dec = DEC1 - 8 * H; // local midnight Dec 1st
        let mut visits = Vec::new();
        // agent 1001: 4 valid visits every local day from Dec 1st to Dec 21st at 10:00 local
        for day in 0..21 {
            for k in 0..4 {
                visits.push(v(
                    "1001",
                    dec + day * DAY + 10 * H + k * 60_000,
                    VisitOutcome::Reached,
                    120_000,
                ));
            }
        }
        // agent 1002: on Dec 3rd 5 reached (one too long), 3 not reached, 1 refused
        for k in 0..5 {
            let d = if k == 0 { 181_000 } else { 90_000 };
            visits.push(v(
                "1002",
                dec + 2 * DAY + 9 * H + k * 60_000,
                VisitOutcome::Reached,
                d,
            ));
        }
        for k in 0..3 {
            visits.push(v(
                "1002",
                dec + 2 * DAY + 11 * H + k,
                VisitOutcome::NotReached,
                30_000,
            ));
        }
        visits.push(v(
            "1002",
            dec + 2 * DAY + 12 * H,
            VisitOutcome::Refused,
            20_000,
        ));
        // a visit of November does not count in December
        visits.push(v("1002", dec - 1, VisitOutcome::Reached, 60_000));
        let agents = [
            AgentId::new("1001"),
            AgentId::new("1002"),
            AgentId::new("1003"),
        ];

        // now: Thursday Dec 3rd 18:00 local
        let now = dec + 2 * DAY + 18 * H;
        let week = progress(&cal, &q, Period::Week, now, &agents, &visits).unwrap();
        // week of Mon Nov 30: 1001 made 3 days × 4 = 12 (Dec 1-3)
        assert_eq!(
            (week[0].valid, week[0].made, week[0].remaining),
            (12, 12, 8)
        );
        assert!((week[0].percent - 60.0).abs() < 1e-9);
        // elapsed: Mon 00:00 to Thu 18:00 = 3.75 days of 7 → 20 × 3.75/7 = 10.71 → 10
        assert_eq!(week[0].expected_by_now, 10);
        // 1002: 4 valid (one over 3 min), 9 made in the week + the Nov 30 visit (Monday, same week)
        assert_eq!((week[1].valid, week[1].made), (5, 10));
        assert_eq!((week[2].valid, week[2].made, week[2].remaining), (0, 0, 20));

        let month = progress(&cal, &q, Period::Month, now, &agents, &visits).unwrap();
        assert_eq!((month[0].valid, month[0].remaining), (12, 68));
        assert_eq!((month[1].valid, month[1].made), (4, 9));

        // Dec 21st 23:00 local: 1001 has 84 valid in the month (quota met), week of Dec 21 (Mon): 4
        let late = dec + 20 * DAY + 23 * H;
        let month = progress(&cal, &q, Period::Month, late, &agents, &visits).unwrap();
        assert_eq!((month[0].valid, month[0].remaining), (84, 0));
        assert!((month[0].percent - 105.0).abs() < 1e-9);
        let week = progress(&cal, &q, Period::Week, late, &agents, &visits).unwrap();
        assert_eq!(week[0].valid, 4);
        // January 1st: a fresh month
        let jan = dec + 31 * DAY;
        let month = progress(&cal, &q, Period::Month, jan, &agents, &visits).unwrap();
        assert_eq!(month[0].valid, 0);
    }
}
