//! Open hours, holidays and the greeting of each period of the day.
//!
//! Sans-IO: every question takes the time as epoch milliseconds and answers
//! it in the center's time zone, so tests walk through a week (and a daylight
//! saving change) without waiting.
//!
//! Open hours are written the way a floor manager says them:
//! `"mon-fri 08:00-20:00"`, `"sat,sun 09:00-13:00"`, `"daily 22:00-06:00"`
//! (a span whose end is not after its start runs past midnight into the next
//! day). A queue without open hours is open around the clock; a holiday closes
//! every queue that has open hours.

use hotline_core::{Calendar, QueueId};
use hotline_media::prompt::Prompt;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use std::collections::{BTreeSet, HashMap};

/// Why a piece of schedule text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The days part is not `mon`, `mon-fri`, `sat,sun`, `daily`, ...
    #[error("`{0}` is not a day list (mon, mon-fri, sat,sun, daily)")]
    Days(String),
    /// A time is not `HH:MM` within the day.
    #[error("`{0}` is not a time of day (HH:MM, 00:00 to 24:00)")]
    Time(String),
    /// The span is not `DAYS HH:MM-HH:MM`.
    #[error("`{0}` is not open hours (write `mon-fri 08:00-20:00`)")]
    Span(String),
    /// A span that opens and closes at the same minute.
    #[error("`{0}` opens and closes at the same time")]
    Empty(String),
    /// A holiday that is not `YYYY-MM-DD`.
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    Date(String),
    /// An unknown IANA time zone.
    #[error("unknown time zone `{0}` (use an IANA name such as Asia/Shanghai)")]
    TimeZone(String),
}

pub use hotline_core::TimeOfDay;

/// A time of an open span or a greeting period in minutes since midnight:
/// `HH:MM` as [`TimeOfDay`] parses it, or `24:00`, the end of the day.
pub fn minutes_of_day(s: &str) -> Result<u16, ScheduleError> {
    let s = s.trim();
    if s == "24:00" {
        return Ok(24 * 60);
    }
    s.parse::<TimeOfDay>()
        .map(TimeOfDay::minutes)
        .map_err(|_| ScheduleError::Time(s.to_string()))
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(name: &str) -> Option<usize> {
    DAY_NAMES.iter().position(|d| *d == name)
}

fn weekday_index(w: Weekday) -> usize {
    (w.to_monday_zero_offset() as usize) % 7
}

/// Days of the week, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days([bool; 7]);

impl Days {
    /// Parses `mon`, `mon-fri`, `fri-mon` (wraps), `sat,sun`, `daily`.
    pub fn parse(s: &str) -> Result<Self, ScheduleError> {
        let bad = || ScheduleError::Days(s.to_string());
        let mut days = [false; 7];
        let lower = s.trim().to_ascii_lowercase();
        if lower == "daily" || lower == "*" {
            return Ok(Days([true; 7]));
        }
        for part in lower.split(',') {
            let part = part.trim();
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        day_index(a.trim()).ok_or_else(bad)?,
                        day_index(b.trim()).ok_or_else(bad)?,
                    );
                    let mut d = a;
                    loop {
                        days[d] = true;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => days[day_index(part).ok_or_else(bad)?] = true,
            }
        }
        Ok(Days(days))
    }

    fn has(&self, index: usize) -> bool {
        self.0[index % 7]
    }
}

/// One span of open hours: days, opening and closing time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSpan {
    days: Days,
    /// Minutes since midnight.
    start: u16,
    /// Minutes since midnight, up to 1440 (`24:00`).
    end: u16,
}

impl OpenSpan {
    /// Parses `DAYS HH:MM-HH:MM`; an end at or before the start runs past
    /// midnight (the days are the days the span opens).
    pub fn parse(s: &str) -> Result<Self, ScheduleError> {
        let bad = || ScheduleError::Span(s.to_string());
        let (days, hours) = s.trim().rsplit_once(char::is_whitespace).ok_or_else(bad)?;
        let (start, end) = hours.split_once('-').ok_or_else(bad)?;
        let span = OpenSpan {
            days: Days::parse(days)?,
            start: minutes_of_day(start)?,
            end: minutes_of_day(end)?,
        };
        if span.start == span.end {
            return Err(ScheduleError::Empty(s.to_string()));
        }
        Ok(span)
    }

    /// Open on weekday `day` (0 = Monday) at `minute` past midnight?
    fn covers(&self, day: usize, minute: u16) -> bool {
        if self.start < self.end {
            self.days.has(day) && self.start <= minute && minute < self.end
        } else {
            // past midnight: the evening part today, the morning part after
            // a day on which the span opened
            (self.days.has(day) && minute >= self.start)
                || (self.days.has(day + 6) && minute < self.end)
        }
    }
}

/// A queue's open hours: open when any span covers the moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenHours(Vec<OpenSpan>);

impl OpenHours {
    /// Parses every span (`["mon-fri 08:00-20:00", "sat 09:00-13:00"]`).
    pub fn parse<S: AsRef<str>>(spans: &[S]) -> Result<Self, ScheduleError> {
        spans
            .iter()
            .map(|s| OpenSpan::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(OpenHours)
    }
}

/// A period of the day with its own greeting (morning, day, evening, ...).
#[derive(Debug, Clone)]
pub struct GreetingPeriod {
    /// Its name, in the events (`morning`).
    pub name: String,
    /// When it starts, minutes after local midnight ([`minutes_of_day`]).
    pub start: u16,
    /// When it ends, minutes after local midnight (1440 = `24:00`); at or
    /// before `start` runs past midnight.
    pub end: u16,
    /// The greeting played when the engine answers during the period.
    pub greeting: Prompt,
}

impl GreetingPeriod {
    fn covers(&self, minute: u16) -> bool {
        let (start, end) = (self.start, self.end);
        if start < end {
            start <= minute && minute < end
        } else {
            minute >= start || minute < end
        }
    }
}

/// Parses a holiday `YYYY-MM-DD`.
pub fn parse_holiday(s: &str) -> Result<Date, ScheduleError> {
    s.trim()
        .parse::<Date>()
        .map_err(|_| ScheduleError::Date(s.to_string()))
}

/// The center's calendar: time zone, holidays, open hours per queue and the
/// greeting periods of the day.
#[derive(Debug, Clone)]
pub struct Schedule {
    tz: TimeZone,
    holidays: BTreeSet<Date>,
    open: HashMap<QueueId, OpenHours>,
    periods: Vec<GreetingPeriod>,
}

impl Default for Schedule {
    /// Always open, one greeting, UTC.
    fn default() -> Self {
        Schedule::new(&Calendar::utc())
    }
}

impl Schedule {
    /// An always-open schedule in the center's calendar (its time zone).
    pub fn new(calendar: &Calendar) -> Self {
        Schedule {
            tz: calendar.time_zone().clone(),
            holidays: BTreeSet::new(),
            open: HashMap::new(),
            periods: Vec::new(),
        }
    }

    /// Adds a holiday (queues with open hours are closed all that day).
    pub fn with_holiday(mut self, day: Date) -> Self {
        self.holidays.insert(day);
        self
    }

    /// Gives a queue open hours.
    pub fn with_open_hours(mut self, queue: QueueId, hours: OpenHours) -> Self {
        self.open.insert(queue, hours);
        self
    }

    /// Adds a greeting period (the first period covering a moment wins).
    pub fn with_period(mut self, period: GreetingPeriod) -> Self {
        self.periods.push(period);
        self
    }

    /// Local weekday (0 = Monday), minute of the day and date at `now_ms`.
    fn local(&self, now_ms: i64) -> Option<(usize, u16, Date)> {
        let ts = Timestamp::from_millisecond(now_ms).ok()?;
        let dt = ts.to_zoned(self.tz.clone()).datetime();
        let minute = (dt.hour() as u16) * 60 + dt.minute() as u16;
        Some((weekday_index(dt.weekday()), minute, dt.date()))
    }

    /// Does the queue take calls at `now_ms`? (A time outside the calendar's
    /// range counts as open: a clock fault must not close the hotline.)
    pub fn is_open(&self, queue: &QueueId, now_ms: i64) -> bool {
        let Some(hours) = self.open.get(queue) else {
            return true;
        };
        let Some((day, minute, date)) = self.local(now_ms) else {
            return true;
        };
        if self.holidays.contains(&date) {
            return false;
        }
        hours.0.iter().any(|span| span.covers(day, minute))
    }

    /// Is `now_ms` on a holiday?
    pub fn is_holiday(&self, now_ms: i64) -> bool {
        self.local(now_ms)
            .is_some_and(|(_, _, date)| self.holidays.contains(&date))
    }

    /// The greeting periods of the day.
    pub fn periods(&self) -> &[GreetingPeriod] {
        &self.periods
    }

    /// The greeting period at `now_ms`, if one covers it.
    pub fn period(&self, now_ms: i64) -> Option<&GreetingPeriod> {
        let (_, minute, _) = self.local(now_ms)?;
        self.periods.iter().find(|p| p.covers(minute))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tz: &str, local: &str) -> i64 {
        let dt: jiff::civil::DateTime = local.parse().unwrap();
        dt.to_zoned(Calendar::named(tz).unwrap().time_zone().clone())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn q(s: &str) -> QueueId {
        QueueId::new(s.to_string())
    }

    fn prompt(name: &str) -> Prompt {
        Prompt::from_samples(name, vec![0; 80])
    }

    #[test]
    fn weekday_hours_in_the_centers_time_zone() {
        let s = Schedule::new(&Calendar::named("Asia/Shanghai").unwrap()).with_open_hours(
            q("general"),
            OpenHours::parse(&["mon-fri 08:00-20:00", "sat 09:00-13:00"]).unwrap(),
        );
        // 2026-11-23 is a Monday
        assert!(s.is_open(&q("general"), at("Asia/Shanghai", "2026-11-23T08:00")));
        assert!(s.is_open(&q("general"), at("Asia/Shanghai", "2026-11-23T19:59")));
        assert!(!s.is_open(&q("general"), at("Asia/Shanghai", "2026-11-23T20:00")));
        assert!(!s.is_open(&q("general"), at("Asia/Shanghai", "2026-11-23T07:59")));
        assert!(s.is_open(&q("general"), at("Asia/Shanghai", "2026-11-28T12:00")));
        assert!(!s.is_open(&q("general"), at("Asia/Shanghai", "2026-11-28T13:00")));
        assert!(!s.is_open(&q("general"), at("Asia/Shanghai", "2026-11-29T12:00")));
        // 08:00 in Shanghai is 00:00 UTC: the same instant, read in UTC terms
        assert!(s.is_open(&q("general"), at("UTC", "2026-11-23T00:30")));
        // a queue without hours is always open
        assert!(s.is_open(&q("night"), at("Asia/Shanghai", "2026-11-29T03:00")));
    }

    #[test]
    fn a_night_span_runs_past_midnight_into_the_next_day() {
        let s = Schedule::new(&Calendar::utc())
            .with_open_hours(q("night"), OpenHours::parse(&["fri 22:00-06:00"]).unwrap());
        assert!(s.is_open(&q("night"), at("UTC", "2026-11-27T23:00"))); // Friday
        assert!(s.is_open(&q("night"), at("UTC", "2026-11-28T05:59"))); // Saturday morning
        assert!(!s.is_open(&q("night"), at("UTC", "2026-11-28T06:00")));
        assert!(!s.is_open(&q("night"), at("UTC", "2026-11-27T05:00"))); // Friday morning: Thursday did not open
        assert!(!s.is_open(&q("night"), at("UTC", "2026-11-28T23:00")));
        // sun-mon wraps round the week
        let d = Days::parse("sun-mon").unwrap();
        assert!(d.has(6) && d.has(0) && !d.has(1));
        let s = Schedule::new(&Calendar::utc())
            .with_open_hours(q("w"), OpenHours::parse(&["sun 20:00-02:00"]).unwrap());
        assert!(s.is_open(&q("w"), at("UTC", "2026-11-30T01:00"))); // Monday 01:00
    }

    #[test]
    fn a_holiday_closes_queues_with_hours_only() {
        let s = Schedule::new(&Calendar::utc())
            .with_open_hours(
                q("general"),
                OpenHours::parse(&["daily 00:00-24:00"]).unwrap(),
            )
            .with_holiday(parse_holiday("2026-12-25").unwrap());
        assert!(s.is_open(&q("general"), at("UTC", "2026-12-24T23:59")));
        assert!(!s.is_open(&q("general"), at("UTC", "2026-12-25T12:00")));
        assert!(s.is_holiday(at("UTC", "2026-12-25T00:00")));
        assert!(s.is_open(&q("general"), at("UTC", "2026-12-26T00:00")));
        assert!(s.is_open(&q("always"), at("UTC", "2026-12-25T12:00")));
    }

    #[test]
    fn daylight_saving_changes_keep_local_hours() {
        // Europe/Berlin: clocks go back on 2026-10-25; 08:00 local stays 08:00
        let s = Schedule::new(&Calendar::named("Europe/Berlin").unwrap())
            .with_open_hours(q("g"), OpenHours::parse(&["daily 08:00-09:00"]).unwrap());
        for day in ["2026-10-24", "2026-10-25", "2026-10-26"] {
            assert!(s.is_open(&q("g"), at("Europe/Berlin", &format!("{day}T08:30"))));
            assert!(!s.is_open(&q("g"), at("Europe/Berlin", &format!("{day}T09:30"))));
        }
    }

    #[test]
    fn times_are_the_calendars_with_24_00_as_the_end_of_the_day() {
        assert_eq!(minutes_of_day("24:00").unwrap(), 1440);
        assert_eq!(minutes_of_day("08:30").unwrap(), 510);
        for bad in ["8:30", "24:01", "25:00", "12:60", "", "noon", "08:30:00"] {
            assert!(minutes_of_day(bad).is_err(), "{bad}");
        }
        let all_day = Schedule::new(&Calendar::utc())
            .with_open_hours(q("g"), OpenHours::parse(&["daily 00:00-24:00"]).unwrap());
        for t in ["2026-11-23T00:00", "2026-11-23T12:00", "2026-11-23T23:59"] {
            assert!(all_day.is_open(&q("g"), at("UTC", t)), "{t}");
        }
    }

    #[test]
    fn greeting_periods_cover_the_day() {
        let s = Schedule::new(&Calendar::utc())
            .with_period(GreetingPeriod {
                name: "morning".into(),
                start: minutes_of_day("06:00").unwrap(),
                end: minutes_of_day("12:00").unwrap(),
                greeting: prompt("m"),
            })
            .with_period(GreetingPeriod {
                name: "night".into(),
                start: minutes_of_day("18:00").unwrap(),
                end: minutes_of_day("06:00").unwrap(),
                greeting: prompt("n"),
            });
        let name = |t: &str| s.period(at("UTC", t)).map(|p| p.name.clone());
        assert_eq!(name("2026-11-23T06:00").as_deref(), Some("morning"));
        assert_eq!(name("2026-11-23T12:00"), None);
        assert_eq!(name("2026-11-23T23:00").as_deref(), Some("night"));
        assert_eq!(name("2026-11-23T05:59").as_deref(), Some("night"));
    }

    #[test]
    fn malformed_schedule_text_is_refused_with_a_reason() {
        for bad in [
            "",
            "mon",
            "08:00-20:00",
            "moon 08:00-20:00",
            "mon-fri 8-20",
            "mon-fri 08:00-25:00",
            "mon-fri 08:60-20:00",
            "mon-fri 08:00-08:00",
            "mon-fri 24:01-02:00",
            "mon-fri 08:00~20:00",
            "mon-fri 123:00-20:00",
            &"x".repeat(10_000),
        ] {
            assert!(OpenSpan::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_holiday("2026-02-30").is_err());
        assert!(parse_holiday("tomorrow").is_err());
        assert!(Calendar::named("Mars/Olympus").is_err());
        assert!(Calendar::named("Asia/Shanghai").is_ok());
        // an absurd timestamp is answered, not a panic
        let s = Schedule::new(&Calendar::utc())
            .with_open_hours(q("g"), OpenHours::parse(&["daily 08:00-09:00"]).unwrap());
        assert!(s.is_open(&q("g"), i64::MAX));
        assert!(s.period(i64::MIN).is_none());
    }
}
