//! The complaint-case KPIs (sans-IO): cases opened, closed and overdue, time
//! to reply and to close, by severity and by owning agent; first-contact
//! resolution as the share of closed cases whose customer did not call in
//! again while the case was open; complaints about each agent. docs/kpis.md
//! gives the formulas.

use std::collections::BTreeMap;

use serde::Serialize;

/// What a case contributes to the KPIs (the store's case plus the inbound
/// calls from its number after the first, up to its closing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseFacts {
    /// The owning agent.
    pub owner: String,
    /// `general`, `major` or `crisis`.
    pub severity: String,
    /// The agent the complaint is about, if about staff.
    pub agent_concerned: Option<String>,
    /// The validity judgement, if made.
    pub valid: Option<bool>,
    /// Opened, epoch ms.
    pub opened_ms: i64,
    /// Reply deadline, epoch ms.
    pub deadline_ms: i64,
    /// Replied to, epoch ms.
    pub replied_ms: Option<i64>,
    /// Closed, epoch ms.
    pub closed_ms: Option<i64>,
    /// Inbound calls from the customer after the first one while the case
    /// was open.
    pub repeat_calls: i64,
}

impl CaseFacts {
    /// Replied after the deadline, or not replied and the deadline passed.
    pub fn overdue_at(&self, now: i64) -> bool {
        match self.replied_ms {
            Some(r) => r > self.deadline_ms,
            None => now >= self.deadline_ms,
        }
    }
}

/// The figures of a group of cases.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CaseFigures {
    /// Cases opened.
    pub opened: u64,
    /// Of them, closed.
    pub closed: u64,
    /// Of them, still open.
    pub open: u64,
    /// Replied to late, or not replied and past the deadline.
    pub overdue: u64,
    /// Replied to (the reply stage reached).
    pub replied: u64,
    /// Mean time from opening to the reply, ms (over the replied).
    pub mean_reply_ms: Option<f64>,
    /// Mean time from opening to closing, ms (over the closed).
    pub mean_close_ms: Option<f64>,
    /// Closed cases whose customer did not call again while open, over
    /// closed cases.
    pub first_contact_resolution: Option<f64>,
    /// Judged valid.
    pub valid: u64,
    /// Judged invalid.
    pub invalid: u64,
    #[serde(skip)]
    reply_sum: i64,
    #[serde(skip)]
    close_sum: i64,
    #[serde(skip)]
    resolved_first: u64,
}

impl CaseFigures {
    fn add(&mut self, c: &CaseFacts, now: i64) {
        self.opened += 1;
        match c.closed_ms {
            Some(t) => {
                self.closed += 1;
                self.close_sum += t - c.opened_ms;
                if c.repeat_calls == 0 {
                    self.resolved_first += 1;
                }
            }
            None => self.open += 1,
        }
        if let Some(r) = c.replied_ms {
            self.replied += 1;
            self.reply_sum += r - c.opened_ms;
        }
        if c.overdue_at(now) {
            self.overdue += 1;
        }
        match c.valid {
            Some(true) => self.valid += 1,
            Some(false) => self.invalid += 1,
            None => {}
        }
    }

    fn finish(&mut self) {
        let mean = |sum: i64, n: u64| (n > 0).then(|| sum as f64 / n as f64);
        self.mean_reply_ms = mean(self.reply_sum, self.replied);
        self.mean_close_ms = mean(self.close_sum, self.closed);
        self.first_contact_resolution =
            (self.closed > 0).then(|| self.resolved_first as f64 / self.closed as f64);
    }
}

/// The case KPIs of a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CaseKpis {
    /// Every case opened in the period.
    pub all: CaseFigures,
    /// By severity (`general`, `major`, `crisis`).
    pub by_severity: BTreeMap<String, CaseFigures>,
    /// By owning agent.
    pub by_owner: BTreeMap<String, CaseFigures>,
    /// Complaints about each agent: (all, judged valid).
    pub about_agent: BTreeMap<String, (u64, u64)>,
}

impl CaseKpis {
    /// Folds the cases opened in a period, as of `now`.
    pub fn fold(cases: &[CaseFacts], now: i64) -> CaseKpis {
        let mut k = CaseKpis::default();
        for c in cases {
            k.all.add(c, now);
            k.by_severity
                .entry(c.severity.clone())
                .or_default()
                .add(c, now);
            k.by_owner.entry(c.owner.clone()).or_default().add(c, now);
            if let Some(a) = &c.agent_concerned {
                let e = k.about_agent.entry(a.clone()).or_default();
                e.0 += 1;
                if c.valid == Some(true) {
                    e.1 += 1;
                }
            }
        }
        k.all.finish();
        k.by_severity.values_mut().for_each(CaseFigures::finish);
        k.by_owner.values_mut().for_each(CaseFigures::finish);
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn case(owner: &str, sev: &str, opened: i64) -> CaseFacts {
        CaseFacts {
            owner: owner.into(),
            severity: sev.into(),
            agent_concerned: None,
            valid: None,
            opened_ms: opened,
            deadline_ms: opened + 24 * H,
            replied_ms: None,
            closed_ms: None,
            repeat_calls: 0,
        }
    }

    /// Five cases worked out by hand.
    #[test]
    fn hand_computed_period() {
        // A: 1001 general, replied after 2 h, closed after 4 h, no repeat call
        let a = CaseFacts {
            replied_ms: Some(2 * H),
            closed_ms: Some(4 * H),
            valid: Some(true),
            ..case("1001", "general", 0)
        };
        // B: 1001 major, replied after 30 h (late), closed after 40 h, the
        // customer called again once while it was open
        let b = CaseFacts {
            replied_ms: Some(10 * H + 30 * H),
            closed_ms: Some(10 * H + 40 * H),
            repeat_calls: 1,
            valid: Some(false),
            agent_concerned: Some("1003".into()),
            ..case("1001", "major", 10 * H)
        };
        // C: 1002 general, replied after 6 h, closed after 8 h, no repeat
        let c = CaseFacts {
            replied_ms: Some(20 * H + 6 * H),
            closed_ms: Some(20 * H + 8 * H),
            valid: Some(true),
            agent_concerned: Some("1003".into()),
            ..case("1002", "general", 20 * H)
        };
        // D: 1002 crisis, open, not replied, deadline passed at now
        let d = case("1002", "crisis", 30 * H);
        // E: 1002 general, open, replied after 1 h, in time
        let e = CaseFacts {
            replied_ms: Some(40 * H + H),
            ..case("1002", "general", 40 * H)
        };
        let now = 60 * H; // D's deadline was 54 h
        let k = CaseKpis::fold(&[a, b, c, d, e], now);
        let all = &k.all;
        assert_eq!((all.opened, all.closed, all.open), (5, 3, 2));
        assert_eq!((all.replied, all.overdue), (4, 2), "B late, D unreplied");
        // reply: (2 + 30 + 6 + 1) / 4 = 9.75 h; close: (4 + 40 + 8) / 3 h
        assert_eq!(all.mean_reply_ms, Some(9.75 * H as f64));
        assert_eq!(all.mean_close_ms, Some(52.0 * H as f64 / 3.0));
        // A and C closed without a second call, B with one: 2 of 3
        assert_eq!(all.first_contact_resolution, Some(2.0 / 3.0));
        assert_eq!((all.valid, all.invalid), (2, 1));

        let g = &k.by_severity["general"];
        assert_eq!((g.opened, g.closed, g.overdue), (3, 2, 0));
        assert_eq!(g.mean_reply_ms, Some(3.0 * H as f64));
        assert_eq!(g.first_contact_resolution, Some(1.0));
        let m = &k.by_severity["major"];
        assert_eq!((m.overdue, m.first_contact_resolution), (1, Some(0.0)));
        let cr = &k.by_severity["crisis"];
        assert_eq!((cr.open, cr.overdue, cr.mean_close_ms), (1, 1, None));
        assert_eq!(cr.first_contact_resolution, None, "nothing closed");

        let o1 = &k.by_owner["1001"];
        assert_eq!((o1.opened, o1.closed, o1.overdue), (2, 2, 1));
        assert_eq!(o1.mean_close_ms, Some(22.0 * H as f64));
        assert_eq!(o1.first_contact_resolution, Some(0.5));
        let o2 = &k.by_owner["1002"];
        assert_eq!((o2.opened, o2.closed, o2.replied), (3, 1, 2));
        assert_eq!(k.about_agent["1003"], (2, 1));
        assert_eq!(k.about_agent.len(), 1);

        let json = serde_json::to_value(&k).unwrap();
        assert_eq!(json["all"]["opened"], 5);
        assert!(json["all"].get("reply_sum").is_none());
    }

    #[test]
    fn no_cases_no_divisions() {
        let k = CaseKpis::fold(&[], 0);
        assert_eq!(k.all.opened, 0);
        assert_eq!(k.all.mean_reply_ms, None);
        assert_eq!(k.all.first_contact_resolution, None);
    }
}
