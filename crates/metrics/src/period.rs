//! The period of a report, asked for in the center's calendar: a day
//! (`--day`), a shift of a day (`--shift`, possibly across midnight or split),
//! a week, a month or any range (`--from/--to`, RFC 3339, local times or
//! dates). Pure: the CLI passes its flags and `now`; the flags' names are in
//! the errors because the operator typed them.

use crate::report::Period;
use hotline_core::calendar::CalendarError;
use hotline_core::{Calendar, Shift};

const DAY_MS: i64 = 86_400_000;

/// The longest period a report covers, days.
pub const MAX_DAYS: i64 = 31;

/// The period flags of `hotline report`, as typed (at most one way of
/// giving the period; `--shift` may come with `--day`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeriodArgs {
    /// `--day YYYY-MM-DD` (with `shift`: the day the shift starts).
    pub day: Option<String>,
    /// `--from`: RFC 3339, a local time or a date.
    pub from: Option<String>,
    /// `--to` (excluded).
    pub to: Option<String>,
    /// `--shift NAME`: a shift of the config's `[[shifts]]`.
    pub shift: Option<String>,
    /// `--week YYYY-MM-DD`: the week (Monday to Monday) holding the date.
    pub week: Option<String>,
    /// `--month YYYY-MM`.
    pub month: Option<String>,
}

/// A period that cannot be resolved; the message names the flag.
#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    /// A flag's value is malformed, out of range or inconsistent.
    #[error("{0}")]
    Args(String),
    /// The shift has no instance on the day asked for (or before now).
    #[error("shift {name}: {source}")]
    Shift {
        /// The shift's name.
        name: String,
        /// The calendar's reason.
        source: CalendarError,
    },
    /// A day outside the calendar's range.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl PeriodError {
    fn args(message: String) -> Self {
        Self::Args(message)
    }
}

/// The period asked for, in the center's calendar. `now_ms` picks the
/// latest ended shift when `--shift` comes without `--day`.
pub fn period(
    args: &PeriodArgs,
    cal: &Calendar,
    shifts: &[Shift],
    now_ms: i64,
) -> Result<Period, PeriodError> {
    let day = |flag: &str, d: &str| {
        hotline_core::calendar::parse_date(d).map_err(|e| PeriodError::args(format!("{flag}: {e}")))
    };
    let zone = cal.name();
    if let Some(w) = &args.week {
        let d = day("--week", w)?;
        let monday = d
            .checked_sub(jiff::Span::new().days(i64::from(d.weekday().to_monday_zero_offset())))
            .map_err(|e| PeriodError::args(format!("--week: {e}")))?;
        let next = monday
            .checked_add(jiff::Span::new().days(7))
            .map_err(|e| PeriodError::args(format!("--week: {e}")))?;
        let (from_ms, _) = cal.day_bounds(monday)?;
        let (to_ms, _) = cal.day_bounds(next)?;
        return Ok(Period {
            from_ms,
            to_ms,
            label: format!("week of {monday} ({zone})"),
        });
    }
    if let Some(m) = &args.month {
        let bad = || {
            PeriodError::args(format!(
                "--month: expected YYYY-MM, got {:?}",
                m.chars().take(16).collect::<String>()
            ))
        };
        if m.len() != 7 {
            return Err(bad());
        }
        let first = day("--month", &format!("{m}-01")).map_err(|_| bad())?;
        let next = first
            .checked_add(jiff::Span::new().months(1))
            .map_err(|_| bad())?;
        let (from_ms, _) = cal.day_bounds(first)?;
        let (to_ms, _) = cal.day_bounds(next)?;
        return Ok(Period {
            from_ms,
            to_ms,
            label: format!("month {m} ({zone})"),
        });
    }
    if let Some(name) = &args.shift {
        let Some(shift) = shifts.iter().find(|s| &s.name == name) else {
            let known: Vec<&str> = shifts.iter().map(|s| s.name.as_str()).collect();
            return Err(PeriodError::args(format!(
                "--shift: no shift named {:?} in the config's [[shifts]] (known: {})",
                name.chars().take(64).collect::<String>(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let date = match &args.day {
            Some(d) => day("--day", d)?,
            None => shift
                .latest_ended(cal, now_ms)
                .map_err(|source| PeriodError::Shift {
                    name: name.clone(),
                    source,
                })?,
        };
        let (from_ms, to_ms) = shift.on(cal, date).map_err(|source| PeriodError::Shift {
            name: name.clone(),
            source,
        })?;
        return Ok(Period {
            from_ms,
            to_ms,
            label: format!(
                "shift {name} of {date} ({} to {} {zone})",
                cal.format(from_ms),
                cal.format(to_ms)
            ),
        });
    }
    match (&args.day, &args.from, &args.to) {
        (Some(d), None, None) => {
            let (from_ms, to_ms) = cal.day_bounds(day("--day", d)?)?;
            Ok(Period {
                from_ms,
                to_ms,
                label: format!("day {d} ({zone})"),
            })
        }
        (None, Some(from), Some(to)) => {
            let instant = |flag: &str, s: &str| {
                cal.parse_instant(s).map_err(|_| {
                    PeriodError::args(format!(
                        "{flag}: expected an RFC 3339 time (2026-11-22T22:00:00Z, 2026-11-22T06:00:00+08:00), a local time (2026-11-22T06:00) or a date (2026-11-22) between 1970 and 9999, got {:?}",
                        s.chars().take(64).collect::<String>()
                    ))
                })
            };
            let from_ms = instant("--from", from)?;
            let to_ms = instant("--to", to)?;
            if to_ms <= from_ms {
                return Err(PeriodError::args(format!(
                    "--to ({}) must be after --from ({})",
                    cal.format(to_ms),
                    cal.format(from_ms)
                )));
            }
            if to_ms - from_ms > MAX_DAYS * DAY_MS {
                return Err(PeriodError::args(format!("--from/--to: a report covers at most {MAX_DAYS} days; split the range"
                )));
            }
            Ok(Period {
                from_ms,
                to_ms,
                label: format!("{} to {} {zone}", cal.format(from_ms), cal.format(to_ms)),
            })
        }
        _ => Err(PeriodError::args("give the period: --day YYYY-MM-DD, --from/--to, --shift NAME [--day], --week YYYY-MM-DD or --month YYYY-MM".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_core::ShiftPart;

    fn args(
        day: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        shift: Option<&str>,
    ) -> PeriodArgs {
        PeriodArgs {
            day: day.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            shift: shift.map(str::to_string),
            week: None,
            month: None,
        }
    }

    fn night() -> Vec<Shift> {
        let part: ShiftPart = "22:00-06:00".parse().expect("part");
        vec![Shift::new("night", vec![part]).expect("shift")]
    }

    const D: i64 = 1_795_305_600_000; // 2026-11-22 00:00 UTC
    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn periods_of_days_ranges_and_shifts() {
        let utc = Calendar::utc();
        let p = period(&args(Some("2026-11-22"), None, None, None), &utc, &[], 0).unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D, D + DAY_MS));
        assert_eq!(p.label, "day 2026-11-22 (UTC)");
        let p = period(
            &args(
                None,
                Some("2026-11-22T08:00:00+08:00"),
                Some("2026-11-23"),
                None,
            ),
            &utc,
            &[],
            0,
        )
        .unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D, D + DAY_MS));
        // the night shift crosses midnight
        let p = period(
            &args(Some("2026-11-22"), None, None, Some("night")),
            &utc,
            &night(),
            0,
        )
        .unwrap();
        assert_eq!(
            (p.from_ms, p.to_ms),
            (D + 22 * HOUR_MS, D + DAY_MS + 6 * HOUR_MS)
        );
        assert_eq!(
            p.label,
            "shift night of 2026-11-22 (2026-11-22 22:00 to 2026-11-23 06:00 UTC)"
        );
        // without --day: the latest night that has ended
        let at_3am = D + DAY_MS + 3 * HOUR_MS; // during the night of the 22nd
        let p = period(
            &args(None, None, None, Some("night")),
            &utc,
            &night(),
            at_3am,
        )
        .unwrap();
        assert_eq!(p.from_ms, D - 2 * HOUR_MS, "the night of the 21st");
        let at_7am = D + DAY_MS + 7 * HOUR_MS;
        let p = period(
            &args(None, None, None, Some("night")),
            &utc,
            &night(),
            at_7am,
        )
        .unwrap();
        assert_eq!(
            p.from_ms,
            D + 22 * HOUR_MS,
            "the night of the 22nd has ended"
        );
    }

    #[test]
    fn days_and_shifts_are_those_of_the_center_s_zone() {
        let shanghai = Calendar::named("Asia/Shanghai").unwrap();
        // 2026-11-23 in Shanghai: 16:00 UTC on the 22nd to 16:00 UTC on the 23rd
        let p = period(
            &args(Some("2026-11-23"), None, None, None),
            &shanghai,
            &[],
            0,
        )
        .unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D + 16 * HOUR_MS, D + 40 * HOUR_MS));
        assert_eq!(p.label, "day 2026-11-23 (Asia/Shanghai)");
        // a call at 07:30 local on the 23rd (23:30 UTC on the 22nd) is in it
        let call = D + 23 * HOUR_MS + 30 * 60_000;
        assert!(p.from_ms <= call && call < p.to_ms);
        // the night shift 22:00-06:00 local of the 22nd: 14:00 to 22:00 UTC
        let p = period(
            &args(Some("2026-11-22"), None, None, Some("night")),
            &shanghai,
            &night(),
            0,
        )
        .unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D + 14 * HOUR_MS, D + 22 * HOUR_MS));
        // a local time without an offset is in the center's zone
        let p = period(
            &args(
                None,
                Some("2026-11-23T07:00"),
                Some("2026-11-23T08:00"),
                None,
            ),
            &shanghai,
            &[],
            0,
        )
        .unwrap();
        assert_eq!(p.from_ms, D + 23 * HOUR_MS);
    }

    #[test]
    fn week_and_month_presets() {
        let shanghai = Calendar::named("Asia/Shanghai").unwrap();
        let mut a = args(None, None, None, None);
        // Thursday 2026-11-26: the week from Monday 2026-11-23 00:00 local
        a.week = Some("2026-11-26".into());
        let p = period(&a, &shanghai, &[], 0).unwrap();
        assert_eq!(
            (p.from_ms, p.to_ms),
            (D + 16 * HOUR_MS, D + 16 * HOUR_MS + 7 * DAY_MS)
        );
        assert_eq!(p.label, "week of 2026-11-23 (Asia/Shanghai)");
        let mut a = args(None, None, None, None);
        a.month = Some("2026-02".into());
        let p = period(&a, &Calendar::utc(), &[], 0).unwrap();
        assert_eq!(p.to_ms - p.from_ms, 28 * DAY_MS);
        assert_eq!(p.label, "month 2026-02 (UTC)");
        for bad in [
            "2026-13",
            "2026-2",
            "202602",
            "2026-02-01",
            "",
            "x".repeat(500).as_str(),
        ] {
            let mut a = args(None, None, None, None);
            a.month = Some(bad.into());
            let e = period(&a, &Calendar::utc(), &[], 0)
                .unwrap_err()
                .to_string();
            assert!(e.contains("--month") && e.len() < 200, "{bad}: {e}");
        }
        let mut a = args(None, None, None, None);
        a.week = Some("2026-02-30".into());
        assert!(period(&a, &Calendar::utc(), &[], 0)
            .unwrap_err()
            .to_string()
            .contains("--week"));
    }

    #[test]
    fn absurd_periods_are_refused_with_the_flag_named() {
        let cases: [(PeriodArgs, &str); 8] = [
            (
                args(None, Some("2026-11-23"), Some("2026-11-22"), None),
                "must be after --from",
            ),
            (
                args(None, Some("2026-11-22"), Some("2026-11-22"), None),
                "must be after --from",
            ),
            (
                args(None, Some("2026-01-01"), Some("2026-12-31"), None),
                "at most 31 days",
            ),
            (
                args(None, Some("1970-01-01"), Some("9999-12-30T00:00:00Z"), None),
                "at most 31 days",
            ),
            (
                args(None, Some("2026-13-01"), Some("2026-11-22"), None),
                "--from",
            ),
            (args(Some("2026-02-30"), None, None, None), "--day"),
            (args(Some("2026-11-22"), None, None, Some("day")), "--shift"),
            (args(None, None, None, None), "--day"),
        ];
        for (a, want) in cases {
            let e = period(&a, &Calendar::utc(), &night(), D)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{a:?}: {e}");
        }
    }
}
