//! `hotline report`: a period's figures from the stored event log, as CSV or
//! as a self-contained HTML page (inline CSS and SVG charts, no scripts, no
//! external assets).
//!
//! The period is a UTC day (`--day`), a shift of a day (`--shift`, from the
//! config's `[[shifts]]`, possibly crossing midnight) or any range
//! (`--from/--to`, RFC 3339 or dates). The events of the period and of the
//! day after it (calls that end later) are folded with the same
//! [`Metrics`] as the live figures, and the figures are those of the calls
//! that arrived in the period.

use crate::config::{invalid, Config, ConfigError};
use anyhow::{bail, Context, Result};
use hotline_metrics::kpi::{Figures, KpiConfig, Metrics, Snapshot, UnansweredCall};
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::PathBuf;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// The longest period a report covers, days.
pub const MAX_DAYS: i64 = 31;

/// First-contact resolution counts a caller who calls again within this as
/// not resolved (the report reads the day after the period too).
pub const REPEAT_MS: i64 = DAY_MS;

/// Rows of the missed-call list in the HTML page (the CSV has them all).
const MAX_MISSED_ROWS: usize = 2_000;

/// `[[shifts]]`: a named shift for `hotline report --shift NAME` and the
/// live `current_shift` figures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftSection {
    /// Its name (`day`, `night`, ...).
    pub name: String,
    /// Start, `HH:MM` local time (see `utc_offset`).
    pub start: String,
    /// End, `HH:MM`; earlier than the start = the shift ends the next day.
    pub end: String,
    /// The local time's offset from UTC, `+08:00`, `-05:00` or `Z`
    /// (default: UTC). No daylight-saving rules.
    #[serde(default)]
    pub utc_offset: Option<String>,
}

/// Minutes east of UTC of `+HH:MM`, `-HH:MM` or `Z` (at most 14 hours).
fn parse_offset(s: &str) -> Option<i64> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let minutes = parse_hhmm(s.get(1..)?)?;
    (minutes <= 14 * 60).then_some(sign * minutes)
}

/// Minutes after midnight of `HH:MM`.
fn parse_hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

impl ShiftSection {
    /// The offset of its local time from UTC, ms.
    fn offset_ms(&self) -> Option<i64> {
        Some(parse_offset(self.utc_offset.as_deref().unwrap_or("Z"))? * 60_000)
    }

    /// The local date of `at_ms`, as the epoch ms of that date's UTC midnight.
    fn local_day(&self, at_ms: i64) -> Option<i64> {
        Some(at_ms.saturating_add(self.offset_ms()?).div_euclid(DAY_MS) * DAY_MS)
    }

    /// Start and end, epoch ms, of the shift that starts on the local date
    /// whose UTC midnight is `day_ms`.
    fn on_day(&self, day_ms: i64) -> Option<(i64, i64)> {
        let start = parse_hhmm(&self.start)?;
        let mut end = parse_hhmm(&self.end)?;
        if end <= start {
            end += 24 * 60;
        }
        let midnight = day_ms - self.offset_ms()?;
        Some((midnight + start * 60_000, midnight + end * 60_000))
    }
}

/// The shift running at `now_ms` (the first listed if several overlap),
/// with its start and end, epoch ms.
pub fn current_shift(shifts: &[ShiftSection], now_ms: i64) -> Option<(&ShiftSection, i64, i64)> {
    shifts.iter().find_map(|s| {
        let today = s.local_day(now_ms)?;
        [today - DAY_MS, today].into_iter().find_map(|day| {
            let (from, to) = s.on_day(day)?;
            (from <= now_ms && now_ms < to).then_some((s, from, to))
        })
    })
}

/// Checks `[[shifts]]`: names unique and plain, times `HH:MM`, start ≠ end.
pub fn validate_shifts(shifts: &[ShiftSection]) -> Result<(), ConfigError> {
    for (i, s) in shifts.iter().enumerate() {
        let key = |k: &str| format!("shifts[{i}].{k}");
        if s.name.is_empty()
            || s.name.len() > 32
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                key("name"),
                "1-32 characters among letters, digits, - and _",
            ));
        }
        if shifts[..i].iter().any(|o| o.name == s.name) {
            return Err(invalid(
                key("name"),
                format!("shift `{}` is defined twice", s.name),
            ));
        }
        for (k, v) in [("start", &s.start), ("end", &s.end)] {
            if parse_hhmm(v).is_none() {
                return Err(invalid(
                    key(k),
                    format!("expected HH:MM (00:00 to 23:59), got {v:?}"),
                ));
            }
        }
        if s.start == s.end {
            return Err(invalid(key("end"), "a shift cannot end when it starts"));
        }
        if let Some(o) = &s.utc_offset {
            if parse_offset(o).is_none() {
                return Err(invalid(
                    key("utc_offset"),
                    format!("expected +HH:MM or -HH:MM (at most 14:00) or Z, got {o:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// Output format of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated tables: scopes, call types, agents, hours, missed calls.
    Csv,
    /// One self-contained HTML page with tables and SVG charts.
    Html,
}

/// `hotline report` arguments (the period, the output).
#[derive(Clone, Debug, clap::Args)]
pub struct ReportArgs {
    /// A UTC day, YYYY-MM-DD: calls that arrived that day (with --shift: the day the shift starts).
    #[arg(long)]
    pub day: Option<String>,
    /// Start of the period: RFC 3339 (2026-11-22T22:00:00+08:00) or a date (UTC midnight).
    #[arg(long, requires = "to", conflicts_with_all = ["day", "shift"])]
    pub from: Option<String>,
    /// End of the period (excluded): RFC 3339 or a date; at most 31 days after --from.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// A shift of the config's [[shifts]]: on --day, or the latest one that has ended.
    #[arg(long)]
    pub shift: Option<String>,
    /// csv or html.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The period a report covers: `[from_ms, to_ms)` and its name.
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    /// Start, epoch ms (included).
    pub from_ms: i64,
    /// End, epoch ms (excluded).
    pub to_ms: i64,
    /// How it was asked (`day 2026-11-22`, `shift night 2026-11-22`, ...).
    pub label: String,
}

/// Days since 1970-01-01 of a civil date (H. Hinnant).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of days since 1970-01-01 (H. Hinnant).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD HH:MM` (UTC) of epoch ms.
pub fn format_utc(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let mins = ms.rem_euclid(DAY_MS) / 60_000;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", mins / 60, mins % 60)
}

/// Epoch ms of 00:00 UTC of `YYYY-MM-DD`; `flag` names the option in errors.
fn date_ms(flag: &str, day: &str) -> Result<i64> {
    let parts: Vec<&str> = day.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        bail!("{flag}: expected YYYY-MM-DD, got {day:?}");
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        bail!("{flag}: expected YYYY-MM-DD, got {day:?}");
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) else {
        bail!("{flag}: expected YYYY-MM-DD, got {day:?}");
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || d == 0
        || d > days_in_month[(m - 1) as usize]
    {
        bail!("{flag}: {day:?} is not a date between 1970-01-01 and 9999-12-31");
    }
    Ok(days_from_civil(y, m, d) * DAY_MS)
}

/// Epoch ms of 00:00 UTC of `YYYY-MM-DD`.
pub fn day_start_ms(day: &str) -> Result<i64> {
    date_ms("--day", day)
}

/// Epoch ms of an RFC 3339 time (`2026-11-22T22:00:00Z`,
/// `2026-11-22T22:00:00.5+08:00`) or of a date (its UTC midnight).
pub fn parse_instant(flag: &str, s: &str) -> Result<i64> {
    if s.len() == 10 {
        return date_ms(flag, s);
    }
    let bad = || {
        anyhow::anyhow!(
            "{flag}: expected an RFC 3339 time (2026-11-22T22:00:00Z, 2026-11-22T06:00:00+08:00) or a date (2026-11-22), got {:?}",
            s.chars().take(64).collect::<String>()
        )
    };
    if !s.is_ascii() || s.len() < 20 || s.len() > 40 {
        return Err(bad());
    }
    let (date, rest) = s.split_at(10);
    let day = date_ms(flag, date).map_err(|_| bad())?;
    let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(bad)?;
    let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return Err(bad()),
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let hms: Vec<&str> = hms.split(':').collect();
    let num = |p: &str, max: i64| -> Option<i64> {
        (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<i64>().ok())
            .flatten()
            .filter(|v| (0..=max).contains(v))
    };
    let [h, m, sec] = hms.as_slice() else {
        return Err(bad());
    };
    // 60: a leap second, taken as the next second
    let (Some(h), Some(m), Some(sec)) = (num(h, 23), num(m, 59), num(sec, 60)) else {
        return Err(bad());
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (time.contains('.') && frac.is_empty()) {
        return Err(bad());
    }
    let millis = frac
        .bytes()
        .take(3)
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let offset_min = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (oh, om) = zone[1..].split_once(':').ok_or_else(bad)?;
            let (Some(oh), Some(om)) = (num(oh, 23), num(om, 59)) else {
                return Err(bad());
            };
            sign * (oh * 60 + om)
        }
    };
    Ok(day + ((h * 60 + m - offset_min) * 60 + sec) * 1000 + millis)
}

/// The period asked for. `now_ms` picks the latest ended shift when
/// `--shift` comes without `--day`.
pub fn period(args: &ReportArgs, shifts: &[ShiftSection], now_ms: i64) -> Result<Period> {
    if let Some(name) = &args.shift {
        let Some(shift) = shifts.iter().find(|s| &s.name == name) else {
            let known: Vec<&str> = shifts.iter().map(|s| s.name.as_str()).collect();
            bail!(
                "--shift: no shift named {:?} in the config's [[shifts]] (known: {})",
                name.chars().take(64).collect::<String>(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        };
        let day = match &args.day {
            Some(d) => day_start_ms(d)?,
            None => {
                // the latest occurrence that has ended by now
                let mut day = shift
                    .local_day(now_ms)
                    .with_context(|| format!("shift {name}: bad utc_offset"))?;
                while shift.on_day(day).is_some_and(|(_, end)| end > now_ms) {
                    day -= DAY_MS;
                }
                day
            }
        };
        let (from_ms, to_ms) = shift
            .on_day(day)
            .with_context(|| format!("shift {name}: bad start or end"))?;
        return Ok(Period {
            from_ms,
            to_ms,
            label: format!(
                "shift {name} of {} ({} to {} UTC)",
                &format_utc(day)[..10],
                format_utc(from_ms),
                format_utc(to_ms)
            ),
        });
    }
    match (&args.day, &args.from, &args.to) {
        (Some(day), None, None) => {
            let from_ms = day_start_ms(day)?;
            Ok(Period {
                from_ms,
                to_ms: from_ms + DAY_MS,
                label: format!("day {day} (UTC)"),
            })
        }
        (None, Some(from), Some(to)) => {
            let from_ms = parse_instant("--from", from)?;
            let to_ms = parse_instant("--to", to)?;
            if to_ms <= from_ms {
                bail!(
                    "--to ({}) must be after --from ({})",
                    format_utc(to_ms),
                    format_utc(from_ms)
                );
            }
            if to_ms - from_ms > MAX_DAYS * DAY_MS {
                bail!("--from/--to: a report covers at most {MAX_DAYS} days; split the range");
            }
            Ok(Period {
                from_ms,
                to_ms,
                label: format!("{} to {} UTC", format_utc(from_ms), format_utc(to_ms)),
            })
        }
        _ => bail!("give the period: --day YYYY-MM-DD, --from/--to, or --shift NAME [--day]"),
    }
}

/// Everything a report shows, computed by the calculator.
pub struct Report {
    /// The period.
    pub period: Period,
    /// Figures of the calls that arrived in the period.
    pub total: Snapshot,
    /// The same per hour of the period (start of the hour, figures).
    pub hours: Vec<(i64, Figures)>,
    /// Calls of the period that no agent answered.
    pub unanswered: Vec<UnansweredCall>,
    /// First-contact resolution (repeat within [`REPEAT_MS`]) of the center
    /// and per queue.
    pub fcr: (Option<f64>, std::collections::BTreeMap<String, Option<f64>>),
}

/// The report of `period` from the folded events.
pub fn build(metrics: &Metrics, period: Period) -> Report {
    let mut hours = Vec::new();
    let mut at = period.from_ms;
    while at < period.to_ms {
        let end = (at + HOUR_MS).min(period.to_ms);
        hours.push((at, metrics.snapshot_window(at, end).center));
        at = end;
    }
    let total = metrics.snapshot_window(period.from_ms, period.to_ms);
    let fcr = |q: Option<&str>| {
        metrics.first_contact_resolution(period.from_ms, period.to_ms, REPEAT_MS, q)
    };
    let by_queue = total
        .queues
        .keys()
        .map(|q| (q.clone(), fcr(Some(q))))
        .collect();
    Report {
        fcr: (fcr(None), by_queue),
        total,
        unanswered: metrics.unanswered(period.from_ms, period.to_ms),
        hours,
        period,
    }
}

fn opt(v: Option<f64>, scale: f64) -> String {
    v.map(|v| format!("{:.3}", v * scale)).unwrap_or_default()
}

/// A CSV field: quoted when it holds a comma, quote or line break; a
/// leading `=`, `+`, `-` or `@` is prefixed with `'` (no formula injection).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn row(scope: &str, f: &Figures, fcr: Option<f64>) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        csv_field(scope),
        f.offered,
        f.answered,
        f.abandoned,
        f.short_abandoned,
        f.rejected,
        opt(f.asa_ms, 0.001),
        opt(f.service_level, 1.0),
        opt(f.abandon_rate, 1.0),
        opt(f.abandon_rate_without_short, 1.0),
        opt(f.avg_talk_ms, 0.001),
        opt(f.avg_rings_to_answer, 1.0),
        opt(f.system_answered_within_rings, 1.0),
        opt(f.agent_answered_within_rings, 1.0),
        opt(f.calls_per_hour, 1.0),
        f.blocked,
        opt(f.busy_rate, 1.0),
        f.overflowed,
        f.silent_line,
        opt(f.within_limit, 1.0),
        opt(f.avg_time_to_abandon_ms, 0.001),
        opt(fcr, 1.0),
        f.voicemail,
        f.callbacks_requested,
        f.callbacks_done,
        f.callbacks_expired,
        f.callbacks_overdue,
        opt(f.avg_hold_ms, 0.001),
        opt(f.aht_ms, 0.001),
        f.transferred,
        opt(f.transfer_rate, 1.0),
        f.callbacks_due,
    )
}

const SCOPE_HEADER: &str = "scope,offered,answered,abandoned,short_abandoned,rejected,asa_s,service_level,abandon_rate,abandon_rate_without_short,avg_talk_s,avg_rings_to_answer,system_answered_within_3_rings,agent_answered_within_3_rings,calls_per_hour,blocked,busy_rate,overflowed,silent_line,within_limit,avg_time_to_abandon_s,first_contact_resolution,voicemail,callbacks_requested,callbacks_done,callbacks_expired,callbacks_overdue,avg_hold_s,aht_s,transferred,transfer_rate,callbacks_due\n";

/// The CSV text of a snapshot: one table for the center and queues (with
/// their first-contact resolution from `r.fcr`), one for agents.
fn csv(r: &Report) -> String {
    let s = &r.total;
    let mut out = String::from(SCOPE_HEADER);
    out.push_str(&row("center", &s.center, r.fcr.0));
    for (q, f) in &s.queues {
        let fcr = r.fcr.1.get(q).copied().flatten();
        out.push_str(&row(&format!("queue:{q}"), f, fcr));
    }
    out.push_str("\nagent,answered,missed,talk_s,avg_talk_s,rang_out,refused,limit_exceeded,within_limit,staffed_s,paused_s,occupancy,utilisation,attendance,transferred\n");
    for (a, f) in &s.agents {
        let _ = writeln!(
            out,
            "{},{},{},{:.3},{},{},{},{},{},{:.3},{:.3},{},{},{},{}",
            csv_field(a),
            f.answered,
            f.missed,
            f.talk_ms as f64 / 1000.0,
            opt(f.avg_talk_ms, 0.001),
            f.rang_out,
            f.refused,
            f.limit_exceeded,
            opt(f.within_limit, 1.0),
            f.staffed_ms as f64 / 1000.0,
            f.paused_ms as f64 / 1000.0,
            opt(f.occupancy, 1.0),
            opt(f.utilisation, 1.0),
            opt(f.attendance, 1.0),
            f.transferred,
        );
    }
    out
}

/// The whole report as CSV: a `# period` line, the scope and agent tables,
/// then call types, hours and missed calls, each table after a blank line.
pub fn report_csv(r: &Report) -> String {
    let mut out = format!(
        "# hotline report: {}, from_ms={}, to_ms={}\n",
        r.period.label, r.period.from_ms, r.period.to_ms
    );
    out.push_str(&csv(r));
    out.push_str("\ncall_type,answered,completed,aht_s,avg_talk_s,limit_exceeded,within_limit\n");
    for (t, f) in &r.total.center.by_type {
        let _ = writeln!(
            out,
            "{t},{},{},{},{},{},{}",
            f.answered,
            f.completed,
            opt(f.aht_ms, 0.001),
            opt(f.avg_talk_ms, 0.001),
            f.limit_exceeded,
            opt(f.within_limit, 1.0)
        );
    }
    out.push_str("\nhour_utc,offered,answered,abandoned,asa_s,service_level\n");
    for (at, f) in &r.hours {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            format_utc(*at),
            f.offered,
            f.answered,
            f.abandoned,
            opt(f.asa_ms, 0.001),
            opt(f.service_level, 1.0)
        );
    }
    out.push_str("\nmissed_call,arrived_utc,caller,queue,outcome,wait_s\n");
    for u in &r.unanswered {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            csv_field(&u.call_id),
            format_utc(u.arrived_ms),
            csv_field(u.caller.as_deref().unwrap_or("")),
            csv_field(u.queue.as_deref().unwrap_or("")),
            u.outcome,
            u.wait_ms
                .map(|w| format!("{:.3}", w as f64 / 1000.0))
                .unwrap_or_default()
        );
    }
    out
}

/// Text made safe for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}&#8239;%", v * 100.0))
        .unwrap_or_else(|| "&ndash;".into())
}

fn secs(ms: Option<f64>) -> String {
    ms.map(|v| format!("{:.1}&#8239;s", v / 1000.0))
        .unwrap_or_else(|| "&ndash;".into())
}

/// `H:MM:SS` of ms.
fn hms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A bar chart of `values` per hour as inline SVG.
fn bar_chart(
    title: &str,
    unit: &str,
    hours: &[(i64, Figures)],
    value: impl Fn(&Figures) -> f64,
) -> String {
    let (w, h, left, bottom) = (720.0_f64, 200.0_f64, 48.0_f64, 28.0_f64);
    let values: Vec<f64> = hours.iter().map(|(_, f)| value(f).max(0.0)).collect();
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max } else { 1.0 };
    let n = values.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    let plot_h = h - bottom - 10.0;
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" class=\"axis\"/><text x=\"{lx}\" y=\"14\" class=\"lbl\" text-anchor=\"end\">{top:.1} {}</text><text x=\"{lx}\" y=\"{y}\" class=\"lbl\" text-anchor=\"end\">0</text>",
        esc(unit),
        y = h - bottom,
        x2 = w - 8.0,
        lx = left - 4.0,
    );
    let label_every = (values.len() / 12).max(1);
    for (i, ((at, _), v)) in hours.iter().zip(&values).enumerate() {
        let bh = v / top * plot_h;
        let x = left + i as f64 * slot + slot * 0.1;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" class=\"bar\"><title>{} UTC: {v:.1} {}</title></rect>",
            h - bottom - bh,
            (slot * 0.8).max(0.5),
            format_utc(*at),
            esc(unit)
        );
        if i % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"lbl\" text-anchor=\"middle\">{}</text>",
                x + slot * 0.4,
                h - 10.0,
                &format_utc(*at)[11..13]
            );
        }
    }
    svg.push_str("</svg></figure>\n");
    svg
}

/// The whole report as one HTML page: inline CSS and SVG charts, no
/// script, no external URL.
pub fn report_html(r: &Report) -> String {
    let c = &r.total.center;
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    let _ = write!(
        out,
        "<title>hotline report: {}</title>\n<style>\nbody{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\ntable{{border-collapse:collapse;margin:1em 0}}\nth,td{{border:1px solid #bbb;padding:.25em .6em;text-align:right}}\nth:first-child,td:first-child{{text-align:left}}\nthead th{{background:#eee}}\n.kpis{{display:flex;flex-wrap:wrap;gap:1em}}\n.kpi{{border:1px solid #bbb;border-radius:6px;padding:.5em 1em;min-width:9em}}\n.kpi b{{display:block;font-size:1.6em}}\n.bar{{fill:#3a7bd5}}\n.axis{{stroke:#444}}\n.lbl{{font-size:11px;fill:#444}}\n@media print{{body{{margin:0}}}}\n</style></head><body>\n",
        esc(&r.period.label)
    );
    let _ = writeln!(
        out,
        "<h1>hotline report</h1>\n<p>{}</p>",
        esc(&r.period.label)
    );
    let short = c.short_abandoned;
    let kpis = [
        ("Calls", c.offered.to_string()),
        ("Answered", c.answered.to_string()),
        (
            "Abandoned",
            format!("{} <small>({short} short)</small>", c.abandoned - short),
        ),
        ("Blocked", c.blocked.to_string()),
        ("ASA", secs(c.asa_ms)),
        ("Service level", pct(c.service_level)),
        ("AHT", secs(c.aht_ms)),
        ("Average hold", secs(c.avg_hold_ms)),
        ("Transfer rate", pct(c.transfer_rate)),
        ("Within limit", pct(c.within_limit)),
        ("First-contact resolution", pct(r.fcr.0)),
    ];
    out.push_str("<div class=\"kpis\">\n");
    for (name, v) in kpis {
        let _ = writeln!(out, "<div class=\"kpi\">{name}<b>{v}</b></div>");
    }
    out.push_str("</div>\n<p>Abandoned counts the abandons after the short-abandon threshold; short abandons are shown apart. Service level = answered within the target ÷ (answered + abandoned after the short threshold). First-contact resolution = answered calls whose caller did not call again within 24 h. Definitions: docs/kpis.md.</p>\n");
    out.push_str(&bar_chart("Calls per hour", "calls", &r.hours, |f| {
        f.offered as f64
    }));
    out.push_str(&bar_chart(
        "Average speed of answer per hour",
        "s",
        &r.hours,
        |f| f.asa_ms.unwrap_or(0.0) / 1000.0,
    ));
    out.push_str("<h2>Center and queues</h2>\n<table><thead><tr><th>scope</th><th>calls</th><th>answered</th><th>abandoned</th><th>short abandoned</th><th>blocked</th><th>overflowed</th><th>silent line</th><th>ASA</th><th>service level</th><th>abandon rate</th><th>AHT</th><th>within limit</th></tr></thead><tbody>\n");
    let scope_row = |out: &mut String, name: &str, f: &Figures| {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            f.offered,
            f.answered,
            f.abandoned - f.short_abandoned,
            f.short_abandoned,
            f.blocked,
            f.overflowed,
            f.silent_line,
            secs(f.asa_ms),
            pct(f.service_level),
            pct(f.abandon_rate),
            secs(f.avg_talk_ms),
            pct(f.within_limit)
        );
    };
    scope_row(&mut out, "center", c);
    for (q, f) in &r.total.queues {
        scope_row(&mut out, &format!("queue {q}"), f);
    }
    out.push_str("</tbody></table>\n<h2>Handle time per call type</h2>\n<table><thead><tr><th>type</th><th>answered</th><th>completed</th><th>AHT</th><th>over the limit</th><th>within limit</th></tr></thead><tbody>\n");
    for (t, f) in &c.by_type {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(t),
            f.answered,
            f.completed,
            secs(f.aht_ms),
            f.limit_exceeded,
            pct(f.within_limit)
        );
    }
    out.push_str("</tbody></table>\n<p>AHT = talk + hold + wrap-up (docs/kpis.md).</p>\n<h2>Agents</h2>\n<table><thead><tr><th>agent</th><th>answered</th><th>missed</th><th>rang out</th><th>refused</th><th>talk</th><th>average talk</th><th>over the limit</th><th>within limit</th><th>staffed</th><th>attendance</th><th>paused</th><th>occupancy</th><th>transferred</th></tr></thead><tbody>\n");
    for (a, f) in &r.total.agents {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(a),
            f.answered,
            f.missed,
            f.rang_out,
            f.refused,
            secs(Some(f.talk_ms as f64)),
            secs(f.avg_talk_ms),
            f.limit_exceeded,
            pct(f.within_limit),
            hms(f.staffed_ms),
            pct(f.attendance),
            hms(f.paused_ms),
            pct(f.occupancy),
            f.transferred
        );
    }
    let _ = writeln!(
        out,
        "</tbody></table>\n<h2>Missed calls ({})</h2>\n<table><thead><tr><th>arrived (UTC)</th><th>caller</th><th>queue</th><th>outcome</th><th>waited</th></tr></thead><tbody>",
        r.unanswered.len()
    );
    for u in r.unanswered.iter().take(MAX_MISSED_ROWS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            format_utc(u.arrived_ms),
            esc(u.caller.as_deref().unwrap_or("")),
            esc(u.queue.as_deref().unwrap_or("")),
            u.outcome.replace('_', " "),
            secs(u.wait_ms.map(|w| w as f64))
        );
    }
    out.push_str("</tbody></table>\n");
    if r.unanswered.len() > MAX_MISSED_ROWS {
        let _ = writeln!(
            out,
            "<p>… and {} more (the CSV report lists them all).</p>",
            r.unanswered.len() - MAX_MISSED_ROWS
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// Folds the stored events of `[from_ms, to_ms)` into a new calculator.
pub async fn load(
    store: &hotline_store::Store,
    from_ms: i64,
    to_ms: i64,
    kpi: KpiConfig,
) -> Result<Metrics> {
    const PAGE: usize = 50_000;
    let mut metrics = Metrics::new(kpi);
    let mut cursor = from_ms;
    // page through the log so a busy day does not load at once
    loop {
        let page = store
            .events_between(cursor, to_ms, PAGE as i64)
            .await
            .context("storage: cannot read events")?;
        let Some(last) = page.last().map(|e| e.at_ms) else {
            break;
        };
        let full = page.len() == PAGE;
        for e in page.iter().filter(|e| e.at_ms < last || !full) {
            metrics.apply(e);
        }
        if !full {
            break;
        }
        // re-read the last millisecond on the next page (events of one ms never straddle pages twice)
        if last == cursor {
            for e in page.iter().filter(|e| e.at_ms == last) {
                metrics.apply(e);
            }
            cursor = last + 1;
        } else {
            cursor = last;
        }
    }
    Ok(metrics)
}

/// Runs `hotline report`: the period's figures as CSV or HTML text.
pub async fn run(cfg: &Config, args: &ReportArgs, now_ms: i64) -> Result<String> {
    let period = period(args, &cfg.shifts, now_ms)?;
    let url = cfg.database_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).exists() {
            bail!("storage: no database at {path} (has the hotline run with this data directory?)");
        }
    }
    let store = hotline_store::Store::connect(&url)
        .await
        .context("storage: cannot open the database")?;
    // and the next day: calls of the period that end after it
    let metrics = load(
        &store,
        period.from_ms,
        period.to_ms.saturating_add(DAY_MS),
        cfg.kpi_config(),
    )
    .await;
    store.close().await;
    let report = build(&metrics?, period);
    Ok(match args.format {
        Format::Csv => report_csv(&report),
        Format::Html => report_html(&report),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        day: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        shift: Option<&str>,
    ) -> ReportArgs {
        ReportArgs {
            day: day.map(str::to_string),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            shift: shift.map(str::to_string),
            format: Format::Csv,
            out: None,
        }
    }

    fn night() -> Vec<ShiftSection> {
        vec![ShiftSection {
            name: "night".into(),
            start: "22:00".into(),
            end: "06:00".into(),
            utc_offset: None,
        }]
    }

    const D: i64 = 1_795_305_600_000; // 2026-11-22

    #[test]
    fn days_convert_to_utc_midnight() {
        assert_eq!(day_start_ms("1970-01-01").unwrap(), 0);
        assert_eq!(day_start_ms("2026-11-22").unwrap(), D);
        assert_eq!(day_start_ms("2024-02-29").unwrap(), 1_709_164_800_000);
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-32",
            "2026-1-3",
            "22-11-2026x",
            "",
            "1969-12-31",
            "2026-11",
            "+026-11-22",
        ] {
            let e = day_start_ms(bad).unwrap_err().to_string();
            assert!(e.contains("--day"), "{bad}: {e}");
        }
        for ms in [0, D, D + 86_399_999, 253_402_300_799_000] {
            let text = format_utc(ms);
            assert_eq!(
                day_start_ms(&text[..10]).unwrap(),
                ms - ms % DAY_MS,
                "{text}"
            );
        }
        assert_eq!(format_utc(D + 22 * HOUR_MS + 60_000), "2026-11-22 22:01");
    }

    #[test]
    fn rfc3339_times_and_dates_parse_with_offsets() {
        let ok = [
            ("2026-11-22", D),
            ("2026-11-22T00:00:00Z", D),
            (
                "2026-11-22t08:30:15z",
                D + 8 * HOUR_MS + 30 * 60_000 + 15_000,
            ),
            ("2026-11-22 08:00:00+08:00", D),
            (
                "2026-11-22T06:00:00.5-01:30",
                D + 7 * HOUR_MS + 30 * 60_000 + 500,
            ),
            ("2026-11-22T00:00:00.123456Z", D + 123),
            ("2026-11-22T23:59:60Z", D + DAY_MS),
        ];
        for (text, want) in ok {
            assert_eq!(parse_instant("--from", text).unwrap(), want, "{text}");
        }
        for bad in [
            "2026-11-22T25:00:00Z",
            "2026-11-22T08:00Z",
            "2026-11-22T08:00:00",
            "2026-11-22T08:00:00+8:00",
            "2026-11-22T08:00:00.Z",
            "2026-11-22T08:00:00+24:00",
            "2026-02-30T08:00:00Z",
            "2026-11-22X08:00:00Z",
            "tomorrow",
            "2026-11-22T08:00:00Z garbage garbage garbage",
            "２０２６-11-22T08:00:00Z",
            "",
        ] {
            let e = parse_instant("--from", bad).unwrap_err().to_string();
            assert!(e.starts_with("--from"), "{bad}: {e}");
        }
    }

    #[test]
    fn periods_of_days_ranges_and_shifts() {
        let p = period(&args(Some("2026-11-22"), None, None, None), &[], 0).unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D, D + DAY_MS));
        let p = period(
            &args(
                None,
                Some("2026-11-22T08:00:00+08:00"),
                Some("2026-11-23"),
                None,
            ),
            &[],
            0,
        )
        .unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D, D + DAY_MS));
        // the night shift crosses midnight
        let p = period(
            &args(Some("2026-11-22"), None, None, Some("night")),
            &night(),
            0,
        )
        .unwrap();
        assert_eq!(
            (p.from_ms, p.to_ms),
            (D + 22 * HOUR_MS, D + DAY_MS + 6 * HOUR_MS)
        );
        assert!(p.label.contains("night"), "{}", p.label);
        // without --day: the latest night that has ended
        let at_3am = D + DAY_MS + 3 * HOUR_MS; // during the night of the 22nd
        let p = period(&args(None, None, None, Some("night")), &night(), at_3am).unwrap();
        assert_eq!(p.from_ms, D - 2 * HOUR_MS, "the night of the 21st");
        let at_7am = D + DAY_MS + 7 * HOUR_MS;
        let p = period(&args(None, None, None, Some("night")), &night(), at_7am).unwrap();
        assert_eq!(
            p.from_ms,
            D + 22 * HOUR_MS,
            "the night of the 22nd has ended"
        );
    }

    #[test]
    fn shifts_in_local_time_move_by_their_offset() {
        // Beijing's night shift: 22:00 to 06:00 at +08:00 = 14:00 to 22:00 UTC
        let beijing = vec![ShiftSection {
            utc_offset: Some("+08:00".into()),
            ..night().remove(0)
        }];
        let p = period(
            &args(Some("2026-11-22"), None, None, Some("night")),
            &beijing,
            0,
        )
        .unwrap();
        assert_eq!((p.from_ms, p.to_ms), (D + 14 * HOUR_MS, D + 22 * HOUR_MS));
        // at 23:00 UTC on the 22nd it is 07:00 on the 23rd in Beijing: that
        // night has ended
        let p = period(
            &args(None, None, None, Some("night")),
            &beijing,
            D + 23 * HOUR_MS,
        )
        .unwrap();
        assert_eq!(p.from_ms, D + 14 * HOUR_MS);
        // at 15:00 UTC it runs
        let (_, from, to) = current_shift(&beijing, D + 15 * HOUR_MS).unwrap();
        assert_eq!((from, to), (D + 14 * HOUR_MS, D + 22 * HOUR_MS));
        assert!(current_shift(&beijing, D + 22 * HOUR_MS).is_none());
        // New York's (-05:00) night of the 22nd: 03:00 to 11:00 UTC on the 23rd
        let ny = vec![ShiftSection {
            utc_offset: Some("-05:00".into()),
            ..night().remove(0)
        }];
        let p = period(&args(Some("2026-11-22"), None, None, Some("night")), &ny, 0).unwrap();
        assert_eq!(
            (p.from_ms, p.to_ms),
            (D + DAY_MS + 3 * HOUR_MS, D + DAY_MS + 11 * HOUR_MS)
        );
    }

    #[test]
    fn the_current_shift_is_found_across_midnight() {
        let mut shifts = night();
        shifts.push(ShiftSection {
            name: "day".into(),
            start: "06:00".into(),
            end: "22:00".into(),
            utc_offset: Some("+00:00".into()),
        });
        let at = |ms| current_shift(&shifts, ms).map(|(s, from, to)| (s.name.as_str(), from, to));
        let night_of_21 = Some(("night", D - 2 * HOUR_MS, D + 6 * HOUR_MS));
        assert_eq!(at(D + 3 * HOUR_MS), night_of_21);
        assert_eq!(at(D + 6 * HOUR_MS - 1), night_of_21);
        assert_eq!(
            at(D + 6 * HOUR_MS),
            Some(("day", D + 6 * HOUR_MS, D + 22 * HOUR_MS))
        );
        assert_eq!(
            at(D + 23 * HOUR_MS),
            Some(("night", D + 22 * HOUR_MS, D + DAY_MS + 6 * HOUR_MS))
        );
        assert_eq!(current_shift(&night(), D + 12 * HOUR_MS).map(|s| s.1), None);
        assert!(current_shift(&[], D).is_none());
    }

    #[test]
    fn absurd_periods_are_refused_with_the_flag_named() {
        let cases: [(ReportArgs, &str); 7] = [
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
                args(None, Some("1970-01-01"), Some("9999-12-31T23:59:59Z"), None),
                "at most 31 days",
            ),
            (
                args(None, Some("2026-13-01"), Some("2026-11-22"), None),
                "--from",
            ),
            (args(Some("2026-11-22"), None, None, Some("day")), "--shift"),
            (args(None, None, None, None), "--day"),
        ];
        for (a, want) in cases {
            let e = period(&a, &night(), D).unwrap_err().to_string();
            assert!(e.contains(want), "{a:?}: {e}");
        }
    }

    #[test]
    fn shifts_in_the_config_are_checked() {
        let shift = |name: &str, start: &str, end: &str| ShiftSection {
            name: name.into(),
            start: start.into(),
            end: end.into(),
            utc_offset: None,
        };
        let zoned = |o: &str| ShiftSection {
            utc_offset: Some(o.into()),
            ..shift("n", "22:00", "06:00")
        };
        for ok in ["+08:00", "-05:30", "Z", "+14:00", "-00:00"] {
            assert!(validate_shifts(&[zoned(ok)]).is_ok(), "{ok}");
        }
        for bad in ["08:00", "+8", "+15:00", "UTC+8", "", "+08:00 "] {
            let e = validate_shifts(&[zoned(bad)]).unwrap_err().to_string();
            assert!(e.starts_with("shifts[0].utc_offset"), "{bad}: {e}");
        }
        assert!(validate_shifts(&night()).is_ok());
        let cases = [
            (vec![shift("", "22:00", "06:00")], "shifts[0].name"),
            (vec![shift("a b", "22:00", "06:00")], "shifts[0].name"),
            (vec![shift("n", "24:00", "06:00")], "shifts[0].start"),
            (vec![shift("n", "22:00", "6:00")], "shifts[0].end"),
            (vec![shift("n", "22:00", "22:00")], "shifts[0].end"),
            (
                vec![shift("n", "22:00", "06:00"), shift("n", "06:00", "14:00")],
                "shifts[1].name",
            ),
        ];
        for (shifts, key) in cases {
            let e = validate_shifts(&shifts).unwrap_err().to_string();
            assert!(e.starts_with(key), "{key}: {e}");
        }
    }

    #[test]
    fn csv_and_html_escape_what_callers_control() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(
            esc("<a href='x'>&\u{7}"),
            "&lt;a href=&#39;x&#39;&gt;&amp;\u{fffd}"
        );
    }
}
