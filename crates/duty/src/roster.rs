//! The roster: which agent works which shift on which local date.
//!
//! A weekly pattern (`[[roster]]` in the config: an agent, a shift, the
//! weekdays) is expanded per date; per-date changes (API, CLI, CSV) add an
//! agent to a shift on a date or take them off it. A shift is a configured
//! `[[shifts]]` name or, for one date, written hours (`18:00-22:00`, or a
//! split `09:00-11:30+12:30-18:30`). The shifts' instants come from the
//! core calendar, so daylight saving is the calendar's business.

use hotline_core::{AgentId, Calendar, CalendarError, Shift, ShiftPart};
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Why a roster or a change of it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// The agent is not configured (`[[agents]]`).
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    /// Neither a configured shift nor valid hours.
    #[error("unknown shift `{0}` (a [[shifts]] name or hours HH:MM-HH:MM)")]
    UnknownShift(String),
    /// Hours that are not valid (zero length, out of order, ...).
    #[error("shift `{spec}`: {reason}")]
    BadShift {
        /// What was given.
        spec: String,
        /// Why it is not a shift.
        reason: String,
    },
    /// One agent on two shifts at the same time.
    #[error("agent `{agent}` would be on overlapping shifts: {first} and {second} on {date}")]
    Overlap {
        /// The agent.
        agent: String,
        /// One shift.
        first: String,
        /// The other.
        second: String,
        /// The local date of the later one.
        date: String,
    },
    /// A weekday that is not `mon` .. `sun`.
    #[error("unknown weekday `{0}` (mon, tue, wed, thu, fri, sat, sun)")]
    Weekday(String),
    /// A calendar problem (date out of range).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// Parses a weekday: `mon` .. `sun` (also full English names, any case).
pub fn parse_weekday(s: &str) -> Result<Weekday, RosterError> {
    let w = s.trim().to_ascii_lowercase();
    Ok(match w.as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return Err(RosterError::Weekday(s.chars().take(32).collect())),
    })
}

/// One line of the weekly pattern: `agent` works `shift` on `days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyEntry {
    /// The agent.
    pub agent: AgentId,
    /// A configured shift's name.
    pub shift: String,
    /// The weekdays the shift starts on.
    pub days: Vec<Weekday>,
}

/// What a per-date change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// The agent works the shift on the date (extra duty, a swap's new side).
    Add,
    /// The agent does not work the shift on the date (day off, leave); an
    /// empty shift takes them off every shift starting that date.
    Remove,
}

impl ChangeOp {
    /// `add` or `remove`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Add => "add",
            ChangeOp::Remove => "remove",
        }
    }
}

impl std::str::FromStr for ChangeOp {
    type Err = String;

    /// `add` or `remove` (also `+` and `-`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "add" | "+" => Ok(ChangeOp::Add),
            "remove" | "-" | "off" => Ok(ChangeOp::Remove),
            other => Err(format!(
                "unknown action `{}` (add or remove)",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

/// A change of the roster on one local date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterChange {
    /// The local date the shift starts on.
    #[serde(with = "date_text")]
    pub date: Date,
    /// The agent.
    pub agent: AgentId,
    /// A shift name or hours; empty with [`ChangeOp::Remove`] = every shift.
    pub shift: String,
    /// Add or remove.
    pub op: ChangeOp,
    /// Why (free text, may be empty).
    #[serde(default)]
    pub note: String,
}

/// One agent's duty: a shift occurrence they are rostered on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duty {
    /// The agent.
    pub agent: AgentId,
    /// The shift (name or hours).
    pub shift: String,
    /// The local date the occurrence starts on.
    #[serde(with = "date_text")]
    pub date: Date,
    /// Its working parts, `[start, end)` epoch ms.
    pub parts: Vec<(i64, i64)>,
    /// From the first part's start, epoch ms.
    pub start_ms: i64,
    /// To the last part's end, epoch ms.
    pub end_ms: i64,
}

impl Duty {
    /// Scheduled working time, ms (the parts, without breaks).
    pub fn scheduled_ms(&self) -> i64 {
        self.parts.iter().map(|(a, b)| b - a).sum()
    }

    /// Whether `now` is inside one of its parts.
    pub fn covers(&self, now: i64) -> bool {
        self.parts.iter().any(|(a, b)| *a <= now && now < *b)
    }

    fn overlaps(&self, other: &Duty) -> bool {
        self.parts
            .iter()
            .any(|(a, b)| other.parts.iter().any(|(c, d)| a < d && c < b))
    }
}

/// The roster: shifts, agents, the weekly pattern and the per-date changes.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    shifts: Vec<Shift>,
    agents: BTreeSet<AgentId>,
    pattern: Vec<WeeklyEntry>,
    changes: Vec<RosterChange>,
}

/// A Monday far from any daylight-saving change in UTC, to check patterns.
fn reference_monday() -> Date {
    jiff::civil::date(2024, 1, 1)
}

impl Roster {
    /// A roster of `shifts` for `agents` with a weekly `pattern`: refused if
    /// it names an unknown agent or shift, or puts an agent on overlapping
    /// shifts (also a night shift running into the next day's shift).
    pub fn new(
        shifts: Vec<Shift>,
        agents: impl IntoIterator<Item = AgentId>,
        pattern: Vec<WeeklyEntry>,
    ) -> Result<Self, RosterError> {
        let roster = Roster {
            shifts,
            agents: agents.into_iter().collect(),
            pattern,
            changes: Vec::new(),
        };
        for e in &roster.pattern {
            roster.known_agent(&e.agent)?;
            if !roster.shifts.iter().any(|s| s.name == e.shift) {
                return Err(RosterError::UnknownShift(shown(&e.shift)));
            }
        }
        // two weeks of the pattern in UTC cover every weekday pair
        let cal = Calendar::utc();
        let mut date = reference_monday();
        for _ in 0..15 {
            roster.check_overlaps(&cal, date)?;
            date = next(date)?;
        }
        Ok(roster)
    }

    /// The configured shifts.
    pub fn shifts(&self) -> &[Shift] {
        &self.shifts
    }

    /// The configured agents.
    pub fn agents(&self) -> &BTreeSet<AgentId> {
        &self.agents
    }

    /// The weekly pattern.
    pub fn pattern(&self) -> &[WeeklyEntry] {
        &self.pattern
    }

    /// The per-date changes in force, in the order they were made.
    pub fn changes(&self) -> &[RosterChange] {
        &self.changes
    }

    fn known_agent(&self, agent: &AgentId) -> Result<(), RosterError> {
        if self.agents.contains(agent) {
            Ok(())
        } else {
            Err(RosterError::UnknownAgent(shown(agent.as_str())))
        }
    }

    /// The shift a spec names: a configured shift, or hours
    /// `HH:MM-HH:MM[+HH:MM-HH:MM...]` (a zero-length part is refused).
    pub fn shift(&self, spec: &str) -> Result<Shift, RosterError> {
        if let Some(s) = self.shifts.iter().find(|s| s.name == spec) {
            return Ok(s.clone());
        }
        if spec.is_empty() || !spec.contains(':') || spec.len() > 64 {
            return Err(RosterError::UnknownShift(shown(spec)));
        }
        let bad = |e: CalendarError| RosterError::BadShift {
            spec: shown(spec),
            reason: e.to_string(),
        };
        let parts = spec
            .split('+')
            .map(|p| p.parse::<ShiftPart>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        Shift::new(spec, parts).map_err(bad)
    }

    /// Adds a change after checking it (known agent and shift, no overlap
    /// with the agent's other duties around the date).
    pub fn apply(&mut self, cal: &Calendar, change: RosterChange) -> Result<(), RosterError> {
        self.known_agent(&change.agent)?;
        if change.op == ChangeOp::Add || !change.shift.is_empty() {
            self.shift(&change.shift)?;
        }
        let date = change.date;
        self.changes.push(change);
        let checked = (|| {
            self.check_overlaps(cal, prev(date)?)?;
            self.check_overlaps(cal, date)?;
            self.check_overlaps(cal, next(date)?)
        })();
        if let Err(e) = checked {
            self.changes.pop();
            return Err(e);
        }
        Ok(())
    }

    /// This roster with `changes` applied in order (each checked).
    pub fn with_changes(
        mut self,
        cal: &Calendar,
        changes: impl IntoIterator<Item = RosterChange>,
    ) -> Result<Self, RosterError> {
        for c in changes {
            self.apply(cal, c)?;
        }
        Ok(self)
    }

    /// Checks that no agent has overlapping duties starting on `date` or
    /// the day before (a night running into the morning).
    fn check_overlaps(&self, cal: &Calendar, date: Date) -> Result<(), RosterError> {
        let mut duties = self.on(cal, prev(date)?)?;
        let today = self.on(cal, date)?;
        let first_today = duties.len();
        duties.extend(today);
        for (i, a) in duties.iter().enumerate().skip(first_today) {
            for b in duties[..i].iter() {
                if a.agent == b.agent && a.overlaps(b) {
                    return Err(RosterError::Overlap {
                        agent: a.agent.to_string(),
                        first: b.shift.clone(),
                        second: a.shift.clone(),
                        date: date.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The duties starting on local `date`, by shift start then agent.
    pub fn on(&self, cal: &Calendar, date: Date) -> Result<Vec<Duty>, RosterError> {
        let weekday = date.weekday();
        let mut set: BTreeMap<(AgentId, String), ()> = BTreeMap::new();
        for e in &self.pattern {
            if e.days.contains(&weekday) {
                set.insert((e.agent.clone(), e.shift.clone()), ());
            }
        }
        for c in self.changes.iter().filter(|c| c.date == date) {
            match c.op {
                ChangeOp::Add => {
                    set.insert((c.agent.clone(), c.shift.clone()), ());
                }
                ChangeOp::Remove if c.shift.is_empty() => set.retain(|(a, _), _| a != &c.agent),
                ChangeOp::Remove => {
                    set.remove(&(c.agent.clone(), c.shift.clone()));
                }
            }
        }
        let mut out = Vec::with_capacity(set.len());
        for (agent, spec) in set.into_keys() {
            let shift = self.shift(&spec)?;
            let parts = shift.parts_on(cal, date)?;
            let (start_ms, end_ms) = match (parts.first(), parts.last()) {
                (Some(f), Some(l)) => (f.0, l.1),
                _ => continue,
            };
            out.push(Duty {
                agent,
                shift: spec,
                date,
                parts,
                start_ms,
                end_ms,
            });
        }
        out.sort_by(|a, b| (a.start_ms, &a.agent).cmp(&(b.start_ms, &b.agent)));
        Ok(out)
    }

    /// The duties that overlap `[from_ms, to_ms)` (by their span), in order.
    pub fn between(
        &self,
        cal: &Calendar,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Duty>, RosterError> {
        let mut date = prev(cal.date_of(from_ms)?)?;
        let last = cal.date_of(to_ms.max(from_ms))?;
        let mut out = Vec::new();
        while date <= last {
            out.extend(
                self.on(cal, date)?
                    .into_iter()
                    .filter(|d| d.start_ms < to_ms && d.end_ms > from_ms),
            );
            date = next(date)?;
        }
        Ok(out)
    }

    /// The duties working at `now` (inside one of their parts).
    pub fn at(&self, cal: &Calendar, now: i64) -> Vec<Duty> {
        self.between(cal, now, now + 1)
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d.covers(now))
            .collect()
    }
}

/// Dates as `YYYY-MM-DD` text in JSON.
mod date_text {
    use jiff::civil::Date;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        hotline_core::calendar::parse_date(&s).map_err(serde::de::Error::custom)
    }
}

/// The next local date.
fn next(d: Date) -> Result<Date, RosterError> {
    d.tomorrow()
        .map_err(|_| RosterError::Calendar(CalendarError::Date(d.to_string())))
}

/// The local date before.
fn prev(d: Date) -> Result<Date, RosterError> {
    d.yesterday()
        .map_err(|_| RosterError::Calendar(CalendarError::Date(d.to_string())))
}

/// Text for an error message: at most 64 characters of what was given.
fn shown(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn shift(name: &str, parts: &[&str]) -> Shift {
        Shift::new(name, parts.iter().map(|p| p.parse().unwrap()).collect()).unwrap()
    }

    pub(crate) fn regulation_shifts() -> Vec<Shift> {
        vec![
            shift("early", &["08:00-15:00"]),
            shift("late", &["13:00-20:00"]),
            shift("split", &["09:00-11:30", "12:30-18:30"]),
            shift("night", &["20:00-08:00"]),
        ]
    }

    fn a(s: &str) -> AgentId {
        AgentId::new(s)
    }

    fn weekdays() -> Vec<Weekday> {
        ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| parse_weekday(d).unwrap())
            .collect()
    }

    fn entry(agent: &str, shift: &str, days: Vec<Weekday>) -> WeeklyEntry {
        WeeklyEntry {
            agent: a(agent),
            shift: shift.into(),
            days,
        }
    }

    #[test]
    fn weekly_pattern_expands_per_date_with_changes() {
        let cal = Calendar::named("Asia/Shanghai").unwrap();
        let mut r = Roster::new(
            regulation_shifts(),
            [a("1001"), a("1002"), a("1003")],
            vec![
                entry("1001", "early", weekdays()),
                entry("1002", "late", weekdays()),
                entry("1003", "split", vec![Weekday::Saturday]),
            ],
        )
        .unwrap();
        // Monday 2026-12-07
        let mon = jiff::civil::date(2026, 12, 7);
        let d = r.on(&cal, mon).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].agent.as_str(), d[0].shift.as_str()),
            ("1001", "early")
        );
        // 08:00 Shanghai = 00:00 UTC
        assert_eq!(
            d[0].start_ms,
            cal.parse_instant("2026-12-07T08:00").unwrap()
        );
        assert_eq!(d[0].scheduled_ms(), 7 * 3_600_000);
        let sat = jiff::civil::date(2026, 12, 12);
        let d = r.on(&cal, sat).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].parts.len(), 2);
        assert_eq!(d[0].scheduled_ms(), (150 + 360) * 60_000);
        assert!(r
            .on(&cal, jiff::civil::date(2026, 12, 13))
            .unwrap()
            .is_empty());
        // a day off, and a swap: 1003 works 1001's early shift on Monday
        r.apply(
            &cal,
            RosterChange {
                date: mon,
                agent: a("1001"),
                shift: String::new(),
                op: ChangeOp::Remove,
                note: "leave".into(),
            },
        )
        .unwrap();
        r.apply(
            &cal,
            RosterChange {
                date: mon,
                agent: a("1003"),
                shift: "early".into(),
                op: ChangeOp::Add,
                note: String::new(),
            },
        )
        .unwrap();
        let d = r.on(&cal, mon).unwrap();
        let who: Vec<_> = d
            .iter()
            .map(|d| (d.agent.as_str(), d.shift.as_str()))
            .collect();
        assert_eq!(who, [("1003", "early"), ("1002", "late")]);
        // Tuesday unchanged
        assert_eq!(r.on(&cal, mon.tomorrow().unwrap()).unwrap().len(), 2);
        // who works at 14:00 on Monday: both (overlap of early and late)
        let at = cal.parse_instant("2026-12-07T14:00").unwrap();
        assert_eq!(r.at(&cal, at).len(), 2);
        // a week: 5 + 5 + 1 duties, minus the leave, plus the swap
        let (from, _) = cal.day_bounds(mon).unwrap();
        let week = r.between(&cal, from, from + 7 * 86_400_000).unwrap();
        assert_eq!(week.len(), 11);
    }

    #[test]
    fn bad_rosters_are_refused() {
        let cal = Calendar::utc();
        // overlapping shifts for one agent
        let e = Roster::new(
            regulation_shifts(),
            [a("1001")],
            vec![
                entry("1001", "early", weekdays()),
                entry("1001", "late", vec![Weekday::Wednesday]),
            ],
        )
        .unwrap_err();
        assert!(matches!(e, RosterError::Overlap { .. }), "{e}");
        // a night ending 08:00 then the early shift at 08:00 touch, fine
        let mut r = Roster::new(
            regulation_shifts(),
            [a("1001")],
            vec![
                entry("1001", "night", vec![Weekday::Monday]),
                entry("1001", "early", vec![Weekday::Tuesday]),
            ],
        )
        .unwrap();
        // but hours from 07:30 on Tuesday run into Monday's night
        let e = r
            .apply(
                &cal,
                RosterChange {
                    date: jiff::civil::date(2026, 12, 8),
                    agent: a("1001"),
                    shift: "07:30-07:45".into(),
                    op: ChangeOp::Add,
                    note: String::new(),
                },
            )
            .unwrap_err();
        assert!(e.to_string().contains("overlapping"), "{e}");
        // unknown agent, unknown shift
        let e = Roster::new(
            regulation_shifts(),
            [a("1001")],
            vec![entry("9999", "early", weekdays())],
        )
        .unwrap_err();
        assert_eq!(e, RosterError::UnknownAgent("9999".into()));
        let e = Roster::new(
            regulation_shifts(),
            [a("1001")],
            vec![entry("1001", "brunch", weekdays())],
        )
        .unwrap_err();
        assert!(matches!(e, RosterError::UnknownShift(_)));
        // changes: zero-length hours, overlap, unknown agent; nothing is kept
        let mut r = Roster::new(
            regulation_shifts(),
            [a("1001"), a("1002")],
            vec![entry("1001", "early", weekdays())],
        )
        .unwrap();
        let mon = jiff::civil::date(2026, 12, 7);
        let change = |agent: &str, shift: &str| RosterChange {
            date: mon,
            agent: a(agent),
            shift: shift.into(),
            op: ChangeOp::Add,
            note: String::new(),
        };
        let e = r.apply(&cal, change("1002", "18:00-18:00")).unwrap_err();
        assert!(matches!(e, RosterError::BadShift { .. }), "{e}");
        let e = r.apply(&cal, change("1001", "14:00-16:00")).unwrap_err();
        assert!(matches!(e, RosterError::Overlap { .. }), "{e}");
        let e = r.apply(&cal, change("nobody", "early")).unwrap_err();
        assert!(matches!(e, RosterError::UnknownAgent(_)));
        let e = r
            .apply(&cal, change("1002", "x".repeat(10_000).as_str()))
            .unwrap_err();
        assert!(e.to_string().len() < 200);
        assert!(r.changes().is_empty());
        // hours for one date work; a split written with +
        r.apply(&cal, change("1002", "09:00-11:30+12:30-18:30"))
            .unwrap();
        assert_eq!(r.on(&cal, mon).unwrap().len(), 2);
        assert!(parse_weekday("funday").is_err());
    }

    #[test]
    fn dst_day_keeps_shift_lengths() {
        // Europe/Berlin: clocks go forward on 2026-03-29 at 02:00
        let cal = Calendar::named("Europe/Berlin").unwrap();
        let r = Roster::new(
            regulation_shifts(),
            [a("1001"), a("1002")],
            vec![
                entry("1001", "night", vec![Weekday::Saturday]),
                entry("1002", "early", vec![Weekday::Sunday]),
            ],
        )
        .unwrap();
        let sat = jiff::civil::date(2026, 3, 28);
        let night = &r.on(&cal, sat).unwrap()[0];
        // the night keeps its 12 hours of work, ending 09:00 local
        assert_eq!(night.scheduled_ms(), 12 * 3_600_000);
        assert_eq!(cal.format(night.end_ms), "2026-03-29 09:00");
        let early = &r.on(&cal, sat.tomorrow().unwrap()).unwrap()[0];
        assert_eq!(cal.format(early.start_ms), "2026-03-29 08:00");
        // 08:00 local is 06:00 UTC in summer time
        assert_eq!(
            early.start_ms,
            Calendar::utc().parse_instant("2026-03-29T06:00").unwrap()
        );
        // the day bounds are 23 hours: the duties of that date are found
        let (from, to) = cal.day_bounds(sat.tomorrow().unwrap()).unwrap();
        assert_eq!(to - from, 23 * 3_600_000);
        assert_eq!(r.between(&cal, from, to).unwrap().len(), 2);
    }
}
