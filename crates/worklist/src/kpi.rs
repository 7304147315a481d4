//! The work list's KPIs: 已复电话百分比 (share of calls returned), time to
//! return, and the weekly return-visit summary the regulations ask for.
//!
//! - **Owed**: items of an owed-reply kind (missed, abandoned, voicemail,
//!   promise, callback) created in the period.
//! - **Returned**: those closed by an answered call to the customer
//!   (outcome `returned`); **in time**: returned by their deadline.
//! - **已复电话百分比** = returned / owed × 100 (None when nothing is owed).
//! - **Time to return**: from the item's creation (the missed call's end, the
//!   promise) to the answer of the returning call; average and longest over
//!   the returned items.

use crate::item::{ItemOutcome, WorkItem};
use crate::quota::{Period, Quota};
use crate::visit::{VisitOutcome, VisitRecord};
use hotline_core::calendar::{Calendar, CalendarError};
use hotline_core::AgentId;
use serde::{Deserialize, Serialize};

/// Calls returned over a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Returned {
    /// Items owed (created in the period).
    pub owed: u32,
    /// Closed by an answered call.
    pub returned: u32,
    /// Returned by their deadline.
    pub returned_in_time: u32,
    /// Closed otherwise (resolved, given up).
    pub closed_otherwise: u32,
    /// Still open at `now`.
    pub open: u32,
    /// Open and past their deadline at `now`.
    pub overdue: u32,
    /// 已复电话百分比: returned / owed × 100.
    pub percent_returned: Option<f64>,
    /// Returned in time / owed × 100.
    pub percent_in_time: Option<f64>,
    /// Average time to return, ms.
    pub avg_time_to_return_ms: Option<i64>,
    /// Longest time to return, ms.
    pub max_time_to_return_ms: Option<i64>,
}

/// 已复电话百分比 and time to return of the owed items created in
/// `[from_ms, to_ms)`, as they stand at `now_ms`.
pub fn returned(items: &[WorkItem], from_ms: i64, to_ms: i64, now_ms: i64) -> Returned {
    let mut r = Returned::default();
    let mut total_ms: i64 = 0;
    for i in items
        .iter()
        .filter(|i| i.new.kind.is_owed_reply() && (from_ms..to_ms).contains(&i.new.created_ms))
    {
        r.owed += 1;
        match i.outcome {
            None => {
                r.open += 1;
                if i.is_overdue(now_ms) {
                    r.overdue += 1;
                }
            }
            Some(ItemOutcome::Returned) => {
                r.returned += 1;
                if i.closed_in_time() {
                    r.returned_in_time += 1;
                }
                let t = i.time_to_close_ms().unwrap_or(0);
                total_ms += t;
                r.max_time_to_return_ms = Some(r.max_time_to_return_ms.unwrap_or(0).max(t));
            }
            Some(_) => r.closed_otherwise += 1,
        }
    }
    if r.owed > 0 {
        r.percent_returned = Some(f64::from(r.returned) * 100.0 / f64::from(r.owed));
        r.percent_in_time = Some(f64::from(r.returned_in_time) * 100.0 / f64::from(r.owed));
    }
    if r.returned > 0 {
        r.avg_time_to_return_ms = Some(total_ms / i64::from(r.returned));
    }
    r
}

/// One agent's week of return visits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentWeek {
    /// The agent.
    pub agent: AgentId,
    /// Visits recorded.
    pub made: u32,
    /// Valid (count towards the quota).
    pub valid: u32,
    /// Reached.
    pub reached: u32,
    /// Not reached.
    pub not_reached: u32,
    /// Refused.
    pub refused: u32,
    /// Reached but longer than the limit.
    pub over_time: u32,
    /// Average satisfaction of those who gave one.
    pub avg_satisfaction: Option<f64>,
    /// The weekly quota.
    pub target: u32,
    /// Still to make.
    pub remaining: u32,
}

/// The weekly summary: per agent, and the visits themselves (card number,
/// name, time, opinions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeeklySummary {
    /// Week start (Monday 00:00 local), epoch ms.
    pub from_ms: i64,
    /// Week end (excluded).
    pub to_ms: i64,
    /// Per agent, in the order given (then others who made visits).
    pub agents: Vec<AgentWeek>,
    /// The week's visits, oldest first.
    pub visits: Vec<VisitRecord>,
    /// Calls returned: the owed items created this week.
    pub returned: Returned,
}

/// The summary of the week holding `now_ms`.
pub fn weekly_summary(
    cal: &Calendar,
    quota: &Quota,
    now_ms: i64,
    agents: &[AgentId],
    visits: &[VisitRecord],
    items: &[WorkItem],
) -> Result<WeeklySummary, CalendarError> {
    let (from, to) = Period::Week.bounds(cal, now_ms)?;
    let mut week: Vec<VisitRecord> = visits
        .iter()
        .filter(|v| (from..to).contains(&v.at_ms) && v.at_ms <= now_ms)
        .cloned()
        .collect();
    week.sort_by_key(|v| (v.at_ms, v.item_id));
    let mut names: Vec<AgentId> = agents.to_vec();
    for v in &week {
        if !names.contains(&v.agent) {
            names.push(v.agent.clone());
        }
    }
    let rows = names
        .into_iter()
        .map(|agent| {
            let mut a = AgentWeek {
                agent: agent.clone(),
                made: 0,
                valid: 0,
                reached: 0,
                not_reached: 0,
                refused: 0,
                over_time: 0,
                avg_satisfaction: None,
                target: quota.weekly,
                remaining: quota.weekly,
            };
            let (mut sat_sum, mut sat_n) = (0u32, 0u32);
            for v in week.iter().filter(|v| v.agent == agent) {
                a.made += 1;
                match v.outcome {
                    VisitOutcome::Reached => a.reached += 1,
                    VisitOutcome::NotReached => a.not_reached += 1,
                    VisitOutcome::Refused => a.refused += 1,
                }
                if v.outcome == VisitOutcome::Reached && v.over_time(quota.max_visit_ms) {
                    a.over_time += 1;
                }
                if v.valid(quota.max_visit_ms) {
                    a.valid += 1;
                }
                if let Some(s) = v.satisfaction {
                    sat_sum += u32::from(s);
                    sat_n += 1;
                }
            }
            if sat_n > 0 {
                a.avg_satisfaction = Some(f64::from(sat_sum) / f64::from(sat_n));
            }
            a.remaining = quota.weekly.saturating_sub(a.valid);
            a
        })
        .collect();
    Ok(WeeklySummary {
        from_ms: from,
        to_ms: to,
        agents: rows,
        visits: week,
        returned: returned(items, from, to, now_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{ItemKind, NewItem, Owner, DEFAULT_DEADLINE_MS};
    use hotline_core::QueueId;

    const MIN: i64 = 60_000;
    const H: i64 = 60 * MIN;

    fn item(id: i64, kind: ItemKind, created: i64, closed: Option<(ItemOutcome, i64)>) -> WorkItem {
        let mut i = WorkItem::open(
            id,
            NewItem {
                kind,
                number: format!("06{id}"),
                name: String::new(),
                card: String::new(),
                notes: String::new(),
                owner: Owner::Queue(QueueId::new("general")),
                campaign: None,
                call_id: None,
                created_ms: created,
                deadline_ms: created + DEFAULT_DEADLINE_MS,
                preferred: String::new(),
                created_by: "event".into(),
            },
        );
        if let Some((o, at)) = closed {
            i.outcome = Some(o);
            i.closed_ms = Some(at);
        }
        i
    }

    #[test]
    fn share_of_calls_returned_and_time_to_return_by_hand() {
        use ItemKind::*;
        use ItemOutcome::*;
        let items = vec![
            // returned after 30 min, 2 h, 30 h (late)
            item(1, Missed, 0, Some((Returned, 30 * MIN))),
            item(2, Voicemail, H, Some((Returned, 3 * H))),
            item(3, Promise, 2 * H, Some((Returned, 32 * H))),
            // resolved by hand, open in time, open overdue
            item(4, Abandoned, 3 * H, Some((Resolved, 4 * H))),
            item(5, Callback, 20 * H, None),
            item(6, Missed, 4 * H, None),
            // not owed (a return visit), and one created outside the period
            item(7, ReturnVisit, 5 * H, Some((Reached, 6 * H))),
            item(8, Missed, 48 * H, None),
        ];
        let now = 40 * H;
        let r = returned(&items, 0, 24 * H, now);
        assert_eq!(
            (
                r.owed,
                r.returned,
                r.returned_in_time,
                r.closed_otherwise,
                r.open,
                r.overdue
            ),
            (6, 3, 2, 1, 2, 1)
        );
        // 3 / 6 = 50 %; 2 / 6 = 33.33 %
        assert_eq!(r.percent_returned, Some(50.0));
        assert!((r.percent_in_time.unwrap() - 100.0 / 3.0).abs() < 1e-9);
        // (30 min + 2 h + 30 h) / 3 = 32.5 h / 3 = 10 h 50 min
        assert_eq!(r.avg_time_to_return_ms, Some(10 * H + 50 * MIN));
        assert_eq!(r.max_time_to_return_ms, Some(30 * H));
        let none = returned(&items, 100 * H, 200 * H, now);
        assert_eq!(
            (none.owed, none.percent_returned, none.avg_time_to_return_ms),
            (0, None, None)
        );
    }

    #[test]
    fn the_weekly_summary_counts_by_hand() {
        let cal = Calendar::utc();
        // Monday 2026-11-30T00:00Z
        let monday = 1_796_083_200_000 - 24 * H;
        let q = Quota::default();
        let mk = |agent: &str, at: i64, o: VisitOutcome, d: i64, s: Option<u8>| VisitRecord {
            item_id: at,
            campaign: Some(1),
            agent: AgentId::new(agent),
            at_ms: at,
            outcome: o,
            opinions: if o == VisitOutcome::Reached {
                "ok".into()
            } else {
                String::new()
            },
            satisfaction: s,
            duration_ms: d,
            call_id: None,
            card: "M".into(),
            name: "N".into(),
            number: "0611".into(),
        };
        let visits = vec![
            mk("1001", monday + H, VisitOutcome::Reached, 60_000, Some(5)),
            mk(
                "1001",
                monday + 2 * H,
                VisitOutcome::Reached,
                200_000,
                Some(2),
            ),
            mk(
                "1001",
                monday + 3 * H,
                VisitOutcome::NotReached,
                10_000,
                None,
            ),
            mk("1002", monday + 4 * H, VisitOutcome::Refused, 5_000, None),
            mk(
                "1002",
                monday + 5 * H,
                VisitOutcome::Reached,
                100_000,
                Some(4),
            ),
            mk("1002", monday - 1, VisitOutcome::Reached, 100_000, Some(1)),
        ];
        let s = weekly_summary(
            &cal,
            &q,
            monday + 50 * H,
            &[AgentId::new("1001")],
            &visits,
            &[],
        )
        .unwrap();
        assert_eq!(s.from_ms, monday);
        assert_eq!(s.visits.len(), 5);
        let a = &s.agents[0];
        assert_eq!(
            (
                a.made,
                a.valid,
                a.reached,
                a.not_reached,
                a.refused,
                a.over_time
            ),
            (3, 1, 2, 1, 0, 1)
        );
        assert_eq!(a.avg_satisfaction, Some(3.5));
        assert_eq!(a.remaining, 19);
        let b = &s.agents[1];
        assert_eq!(b.agent.as_str(), "1002");
        assert_eq!(
            (b.made, b.valid, b.refused, b.avg_satisfaction),
            (2, 1, 1, Some(4.0))
        );
        assert_eq!(s.returned.owed, 0);
    }
}
