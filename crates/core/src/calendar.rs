//! The center's calendar: its IANA time zone, local days and named shifts.
//!
//! "Today", a report's `--day`, the hours of a report and the shifts are all
//! local to the center's zone (Asia/Shanghai as shipped), with the zone's
//! daylight-saving rules. Storage keeps epoch milliseconds; this is the one
//! place that turns them into local dates and back (jiff's tz database).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use std::fmt;

const MINUTE_MS: i64 = 60_000;
const DAY_MINUTES: u16 = 24 * 60;

/// Why a piece of calendar text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// An unknown IANA time zone.
    #[error("unknown time zone `{0}` (use an IANA name such as Asia/Shanghai)")]
    TimeZone(String),
    /// A time that is not `HH:MM` within the day.
    #[error("expected HH:MM (00:00 to 23:59), got {0:?}")]
    Time(String),
    /// A date that is not `YYYY-MM-DD` between 1970 and 9999.
    #[error("{0:?} is not a date YYYY-MM-DD between 1970-01-01 and 9999-12-31")]
    Date(String),
    /// A shift part that is not `HH:MM-HH:MM` or lasts no time.
    #[error("expected HH:MM-HH:MM with the end not equal to the start, got {0:?}")]
    Part(String),
    /// Parts that overlap, are out of order or span more than a day.
    #[error("the parts must follow each other within 24 hours: {0}")]
    Parts(String),
    /// An instant outside the supported range.
    #[error("{0} is outside the supported range of dates")]
    Range(i64),
}

/// Text for an error message: at most 64 characters of what was given.
fn shown(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A wall-clock time of the day, `HH:MM` (minutes since local midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// The time `minutes` after midnight (below 1440).
    pub fn from_minutes(minutes: u16) -> Option<Self> {
        (minutes < DAY_MINUTES).then_some(TimeOfDay(minutes))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl std::str::FromStr for TimeOfDay {
    type Err = CalendarError;

    /// `HH:MM`, two digits each, 00:00 to 23:59.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::Time(shown(s));
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let two = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
        if !two(h) || !two(m) {
            return Err(bad());
        }
        let (h, m) = (
            h.parse::<u16>().map_err(|_| bad())?,
            m.parse::<u16>().map_err(|_| bad())?,
        );
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(TimeOfDay(h * 60 + m))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// Parses a date `YYYY-MM-DD` between 1970-01-01 and 9999-12-31.
pub fn parse_date(s: &str) -> Result<Date, CalendarError> {
    let bad = || CalendarError::Date(shown(s));
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err(bad());
    }
    let date: Date = s.parse().map_err(|_| bad())?;
    if date.year() < 1970 {
        return Err(bad());
    }
    Ok(date)
}

/// The center's time zone and what follows from it.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: TimeZone,
    name: String,
}

impl Default for Calendar {
    /// UTC.
    fn default() -> Self {
        Calendar::utc()
    }
}

impl Calendar {
    /// The UTC calendar.
    pub fn utc() -> Self {
        Calendar {
            tz: TimeZone::UTC,
            name: "UTC".into(),
        }
    }

    /// The calendar of an IANA zone (`Asia/Shanghai`); the tz database is
    /// bundled, so this works on a machine without `/usr/share/zoneinfo`.
    pub fn named(name: &str) -> Result<Self, CalendarError> {
        let tz = TimeZone::get(name).map_err(|_| CalendarError::TimeZone(shown(name)))?;
        Ok(Calendar {
            tz,
            name: name.to_string(),
        })
    }

    /// The machine's own zone (UTC if it cannot be determined).
    pub fn system() -> Self {
        let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
        let name = tz.iana_name().unwrap_or("local").to_string();
        Calendar { tz, name }
    }

    /// The zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The zone's name (`Asia/Shanghai`).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn timestamp(ms: i64) -> Result<Timestamp, CalendarError> {
        Timestamp::from_millisecond(ms).map_err(|_| CalendarError::Range(ms))
    }

    /// The local date of an instant (epoch ms).
    pub fn date_of(&self, ms: i64) -> Result<Date, CalendarError> {
        Ok(Self::timestamp(ms)?.to_zoned(self.tz.clone()).date())
    }

    /// The local date and time of an instant.
    pub fn local(&self, ms: i64) -> Result<DateTime, CalendarError> {
        Ok(Self::timestamp(ms)?.to_zoned(self.tz.clone()).datetime())
    }

    /// The instant of a local wall-clock time (a time skipped by a
    /// daylight-saving change is taken after the change, a repeated one at
    /// its first occurrence).
    pub fn instant(&self, at: DateTime) -> Result<i64, CalendarError> {
        at.to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|_| CalendarError::Range(0))
    }

    /// Start (included) and end (excluded) of a local day, epoch ms: 24 hours,
    /// or 23 and 25 on the days the clocks change.
    pub fn day_bounds(&self, date: Date) -> Result<(i64, i64), CalendarError> {
        let start = self.instant(date.to_datetime(jiff::civil::Time::midnight()))?;
        let next = date.tomorrow().map_err(|_| CalendarError::Range(start))?;
        let end = self.instant(next.to_datetime(jiff::civil::Time::midnight()))?;
        Ok((start, end))
    }

    /// The start of the local day of `now_ms` ("today" began then).
    pub fn start_of_day(&self, now_ms: i64) -> Result<i64, CalendarError> {
        Ok(self.day_bounds(self.date_of(now_ms)?)?.0)
    }

    /// `YYYY-MM-DD HH:MM` local time of an instant (`?` outside the range).
    pub fn format(&self, ms: i64) -> String {
        match self.local(ms) {
            Ok(t) => t.strftime("%Y-%m-%d %H:%M").to_string(),
            Err(_) => "?".into(),
        }
    }

    /// `YYYY-MM-DD HH:MM+08:00`: local time with its offset from UTC.
    pub fn format_with_offset(&self, ms: i64) -> String {
        match Self::timestamp(ms) {
            Ok(t) => t
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M%:z")
                .to_string(),
            Err(_) => "?".into(),
        }
    }

    /// An instant written as RFC 3339 with an offset (`2026-11-22T22:00:00+08:00`,
    /// `...Z`), a local date and time without one (`2026-11-22T22:00`, in this
    /// zone) or a date (its local midnight).
    pub fn parse_instant(&self, s: &str) -> Result<i64, CalendarError> {
        let bad = || CalendarError::Date(shown(s));
        if s.len() == 10 {
            return Ok(self.day_bounds(parse_date(s)?)?.0);
        }
        if !s.is_ascii() || s.len() < 16 || s.len() > 40 {
            return Err(bad());
        }
        parse_date(&s[..10]).map_err(|_| bad())?;
        if let Ok(t) = s.parse::<Timestamp>() {
            return Ok(t.as_millisecond());
        }
        // jiff accepts a bracketed zone or an offset; without either, local time
        let has_zone = s[10..].contains(['Z', 'z', '+', '[']) || s[11..].contains('-');
        if has_zone {
            return Err(bad());
        }
        let local: DateTime = s.parse().map_err(|_| bad())?;
        self.instant(local)
    }
}

/// One stretch of a shift: from `start` to `end` local time; an end at or
/// before the start is on the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftPart {
    /// Local start.
    pub start: TimeOfDay,
    /// Local end.
    pub end: TimeOfDay,
}

impl ShiftPart {
    /// Its written length, minutes.
    pub fn minutes(self) -> u16 {
        let (s, e) = (self.start.minutes(), self.end.minutes());
        if e > s {
            e - s
        } else {
            DAY_MINUTES - s + e
        }
    }
}

impl std::str::FromStr for ShiftPart {
    type Err = CalendarError;

    /// `HH:MM-HH:MM`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::Part(shown(s));
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let start: TimeOfDay = a.trim().parse().map_err(|_| bad())?;
        let end: TimeOfDay = b.trim().parse().map_err(|_| bad())?;
        if start == end {
            return Err(bad());
        }
        Ok(ShiftPart { start, end })
    }
}

impl fmt::Display for ShiftPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// A named shift: one part (`22:00-06:00`) or several (a split shift,
/// `09:00-11:30` + `12:30-18:30`), in the center's local time.
///
/// An occurrence starts on a local date. Each part starts at its local time
/// and lasts its written length, so a shift across a daylight-saving change
/// keeps its length (a 22:00-06:00 night lasts 8 hours also on the night the
/// clocks change). The occurrence runs from the start of its first part to
/// the end of its last one; the breaks between parts belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// Its name.
    pub name: String,
    parts: Vec<ShiftPart>,
    /// Each part's start, minutes after the first part's start.
    offsets: Vec<u16>,
}

impl Shift {
    /// A shift of `parts`, in order, within 24 hours of the first start.
    pub fn new(name: impl Into<String>, parts: Vec<ShiftPart>) -> Result<Self, CalendarError> {
        let Some(first) = parts.first().copied() else {
            return Err(CalendarError::Parts("a shift needs a part".into()));
        };
        let mut offsets = Vec::with_capacity(parts.len());
        let mut free_from = 0u16;
        for p in &parts {
            let offset = (p.start.minutes() + DAY_MINUTES - first.start.minutes()) % DAY_MINUTES;
            if offset < free_from || (!offsets.is_empty() && offset == 0) {
                return Err(CalendarError::Parts(format!(
                    "{p} starts before the part before it ends"
                )));
            }
            free_from = offset + p.minutes();
            if free_from > DAY_MINUTES {
                return Err(CalendarError::Parts(format!(
                    "{p} ends more than 24 hours after {} starts",
                    first.start
                )));
            }
            offsets.push(offset);
        }
        Ok(Shift {
            name: name.into(),
            parts,
            offsets,
        })
    }

    /// Its parts, in order.
    pub fn parts(&self) -> &[ShiftPart] {
        &self.parts
    }

    /// Working time, ms (the parts, without the breaks).
    pub fn working_ms(&self) -> i64 {
        self.parts
            .iter()
            .map(|p| i64::from(p.minutes()) * MINUTE_MS)
            .sum()
    }

    /// The parts of the occurrence that starts on local `date`, as
    /// `[start, end)` epoch ms.
    pub fn parts_on(&self, cal: &Calendar, date: Date) -> Result<Vec<(i64, i64)>, CalendarError> {
        let first = self.parts[0].start.minutes();
        self.parts
            .iter()
            .zip(&self.offsets)
            .map(|(p, offset)| {
                let day = if first + offset >= DAY_MINUTES {
                    date.tomorrow().map_err(|_| CalendarError::Range(0))?
                } else {
                    date
                };
                let m = p.start.minutes();
                let at = day.at((m / 60) as i8, (m % 60) as i8, 0, 0);
                let start = cal.instant(at)?;
                Ok((start, start + i64::from(p.minutes()) * MINUTE_MS))
            })
            .collect()
    }

    /// The occurrence that starts on local `date`: from its first part's
    /// start to its last part's end, epoch ms.
    pub fn on(&self, cal: &Calendar, date: Date) -> Result<(i64, i64), CalendarError> {
        let parts = self.parts_on(cal, date)?;
        match (parts.first(), parts.last()) {
            (Some(f), Some(l)) => Ok((f.0, l.1)),
            _ => Err(CalendarError::Parts("a shift needs a part".into())),
        }
    }

    /// The local date of the latest occurrence that has ended by `now_ms`.
    pub fn latest_ended(&self, cal: &Calendar, now_ms: i64) -> Result<Date, CalendarError> {
        let mut date = cal.date_of(now_ms)?;
        while self.on(cal, date)?.1 > now_ms {
            date = date.yesterday().map_err(|_| CalendarError::Range(now_ms))?;
        }
        Ok(date)
    }
}

/// The shift running at `now_ms` (the first listed if several overlap), with
/// the start and end of its occurrence, epoch ms.
pub fn current_shift<'a>(
    shifts: &'a [Shift],
    cal: &Calendar,
    now_ms: i64,
) -> Option<(&'a Shift, i64, i64)> {
    let today = cal.date_of(now_ms).ok()?;
    let yesterday = today.yesterday().ok()?;
    shifts.iter().find_map(|s| {
        [yesterday, today].into_iter().find_map(|day| {
            let (from, to) = s.on(cal, day).ok()?;
            (from <= now_ms && now_ms < to).then_some((s, from, to))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn part(s: &str) -> ShiftPart {
        s.parse().expect("part")
    }

    fn date(s: &str) -> Date {
        parse_date(s).expect("date")
    }

    #[test]
    fn a_shanghai_day_starts_at_16_utc_the_day_before() {
        let cal = Calendar::named("Asia/Shanghai").expect("zone");
        let utc = Calendar::utc();
        let (from, to) = cal.day_bounds(date("2026-11-23")).expect("bounds");
        assert_eq!(from, utc.parse_instant("2026-11-22T16:00:00Z").expect("t"));
        assert_eq!(to - from, 24 * H);
        // 07:30 in Shanghai on the 23rd is 23:30 UTC on the 22nd
        let call = cal.parse_instant("2026-11-23T07:30:00+08:00").expect("t");
        assert_eq!(cal.date_of(call).expect("date"), date("2026-11-23"));
        assert_eq!(utc.date_of(call).expect("date"), date("2026-11-22"));
        assert_eq!(cal.start_of_day(call).expect("start"), from);
        assert_eq!(cal.format(call), "2026-11-23 07:30");
        assert_eq!(cal.format_with_offset(call), "2026-11-23 07:30+08:00");
        // a date and a local time without an offset are in the center's zone
        assert_eq!(cal.parse_instant("2026-11-23").expect("t"), from);
        assert_eq!(cal.parse_instant("2026-11-23T07:30").expect("t"), call);
    }

    #[test]
    fn days_when_the_clocks_change_last_23_and_25_hours() {
        let berlin = Calendar::named("Europe/Berlin").expect("zone");
        let (a, b) = berlin.day_bounds(date("2026-03-29")).expect("spring");
        assert_eq!(b - a, 23 * H);
        let (a, b) = berlin.day_bounds(date("2026-10-25")).expect("autumn");
        assert_eq!(b - a, 25 * H);
    }

    #[test]
    fn a_night_shift_across_a_daylight_saving_change_keeps_its_length() {
        let berlin = Calendar::named("Europe/Berlin").expect("zone");
        let night = Shift::new("night", vec![part("22:00-06:00")]).expect("shift");
        for day in ["2026-03-28", "2026-03-29", "2026-10-24", "2026-10-25"] {
            let (from, to) = night.on(&berlin, date(day)).expect("on");
            assert_eq!(to - from, 8 * H, "{day}");
            assert_eq!(berlin.format(from), format!("{day} 22:00"), "{day}");
        }
        // it starts at 22:00 local: 21:00 UTC in winter, 20:00 UTC in summer
        let utc = Calendar::utc();
        let (from, _) = night.on(&berlin, date("2026-03-28")).expect("on");
        assert_eq!(utc.format(from), "2026-03-28 21:00");
        let (from, to) = night.on(&berlin, date("2026-03-29")).expect("on");
        assert_eq!(utc.format(from), "2026-03-29 20:00");
        // the night the clocks go forward ends at 07:00 summer time, 8 h later
        let (from, to2) = night.on(&berlin, date("2026-03-28")).expect("on");
        assert_eq!(berlin.format(to2), "2026-03-29 07:00");
        assert_eq!(to2 - from, 8 * H);
        assert_eq!(berlin.format(to), "2026-03-30 06:00");
        // a fixed offset would get the summer start wrong by an hour
        assert_ne!(utc.format(from), "2026-03-29 21:00");
    }

    #[test]
    fn split_shifts_have_parts_and_a_break() {
        let cal = Calendar::named("Asia/Shanghai").expect("zone");
        let split =
            Shift::new("split", vec![part("09:00-11:30"), part("12:30-18:30")]).expect("split");
        assert_eq!(split.working_ms(), 8 * H + 30 * 60_000);
        let parts = split.parts_on(&cal, date("2026-11-23")).expect("parts");
        assert_eq!(cal.format(parts[0].0), "2026-11-23 09:00");
        assert_eq!(cal.format(parts[0].1), "2026-11-23 11:30");
        assert_eq!(cal.format(parts[1].0), "2026-11-23 12:30");
        assert_eq!(cal.format(parts[1].1), "2026-11-23 18:30");
        let (from, to) = split.on(&cal, date("2026-11-23")).expect("on");
        assert_eq!((from, to), (parts[0].0, parts[1].1));
        // an evening split shift running past midnight
        let late =
            Shift::new("late", vec![part("13:00-17:30"), part("18:30-23:30")]).expect("late");
        let (_, to) = late.on(&cal, date("2026-11-23")).expect("on");
        assert_eq!(cal.format(to), "2026-11-23 23:30");
        let past = Shift::new("past", vec![part("18:00-23:00"), part("00:30-03:00")])
            .expect("past midnight");
        let (_, to) = past.on(&cal, date("2026-11-23")).expect("on");
        assert_eq!(cal.format(to), "2026-11-24 03:00");
        for bad in [
            vec![part("09:00-12:00"), part("11:00-18:00")],
            vec![part("12:30-18:30"), part("09:00-13:00")],
            vec![part("09:00-11:00"), part("09:00-10:00")],
            vec![part("06:00-22:00"), part("23:00-07:00")],
            vec![],
        ] {
            assert!(Shift::new("x", bad.clone()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_current_shift_is_found_across_midnight() {
        let cal = Calendar::named("Asia/Shanghai").expect("zone");
        let shifts = vec![
            Shift::new("day", vec![part("06:00-22:00")]).expect("day"),
            Shift::new("night", vec![part("22:00-06:00")]).expect("night"),
        ];
        let at = |s: &str| cal.parse_instant(s).expect("t");
        let (s, from, to) = current_shift(&shifts, &cal, at("2026-11-23T03:00")).expect("night");
        assert_eq!(s.name, "night");
        assert_eq!((from, to), (at("2026-11-22T22:00"), at("2026-11-23T06:00")));
        let (s, ..) = current_shift(&shifts, &cal, at("2026-11-23T06:00")).expect("day");
        assert_eq!(s.name, "day");
        assert!(current_shift(&shifts[..1], &cal, at("2026-11-23T23:00")).is_none());
        assert!(current_shift(&[], &cal, at("2026-11-23T23:00")).is_none());
        // the latest night that has ended at 03:00 on the 23rd: that of the 21st
        let night = &shifts[1];
        let d = night.latest_ended(&cal, at("2026-11-23T03:00")).expect("d");
        assert_eq!(d, date("2026-11-21"));
        let d = night.latest_ended(&cal, at("2026-11-23T07:00")).expect("d");
        assert_eq!(d, date("2026-11-22"));
    }

    #[test]
    fn bad_text_is_refused_without_panics() {
        for bad in [
            "",
            "24:00",
            "7:30",
            "07:60",
            "07:3",
            "ab:cd",
            "07:30:00",
            "０７:30",
        ] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
        for bad in [
            "09:00",
            "09:00-09:00",
            "09:00-",
            "-10:00",
            "9-10",
            "09:00-10:00-11:00",
        ] {
            assert!(bad.parse::<ShiftPart>().is_err(), "{bad}");
        }
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-32",
            "22-11-2026",
            "",
            "1969-12-31",
            "+026-11-22",
            "2026-11-22x",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2024-02-29").is_ok());
        assert!(Calendar::named("Nowhere/Land").is_err());
        let cal = Calendar::utc();
        for bad in [
            "2026-11-22T25:00:00Z",
            "2026-11-22T08:00:00+8:00",
            "2026-11-22T08:00:00.Z",
            "2026-02-30T08:00:00Z",
            "2026-11-22X08:00:00Z",
            "tomorrow",
            "2026-11-22T08:00:00Z garbage garbage garbage",
            "２０２６-11-22T08:00:00Z",
            "",
        ] {
            assert!(cal.parse_instant(bad).is_err(), "{bad}");
        }
        assert_eq!(cal.format(i64::MAX), "?");
        assert!(cal.date_of(i64::MIN).is_err());
    }
}
