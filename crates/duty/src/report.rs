//! The duty part of the day and shift reports: every missed call with the
//! agents and supervisors on duty when it came in (the regulations charge
//! it to them), and attendance per shift.

use crate::attendance::Attendance;
use crate::floor::DutyRules;
use crate::roster::Roster;
use crate::{on_duty, OnDuty};
use hotline_core::Calendar;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A call no agent answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// The call.
    pub call_id: String,
    /// When it arrived, epoch ms.
    pub arrived_ms: i64,
    /// The caller's number.
    pub caller: String,
    /// How it ended (`abandoned`, `voicemail`, ...).
    pub outcome: String,
}

/// A missed call with the people it is charged to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    /// The call.
    pub missed: Missed,
    /// Who was on duty.
    pub on_duty: OnDuty,
}

/// A shift's handover, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverRow {
    /// The shift.
    pub shift: String,
    /// The local date its occurrence started.
    pub date: String,
    /// Who wrote it.
    pub written_by: String,
    /// When, epoch ms.
    pub written_ms: i64,
    /// Who of the incoming shift acknowledged it.
    pub acknowledged_by: Option<String>,
    /// When, epoch ms.
    pub acknowledged_ms: Option<i64>,
    /// Prefilled items kept with it.
    pub items: usize,
}

/// Charges every missed call to the people on duty when it arrived.
pub fn charge(
    roster: &Roster,
    rules: &DutyRules,
    cal: &Calendar,
    missed: &[Missed],
) -> Vec<Charged> {
    missed
        .iter()
        .map(|m| Charged {
            missed: m.clone(),
            on_duty: on_duty(roster, rules, cal, m.arrived_ms),
        })
        .collect()
}

/// Missed calls per person charged (agents and supervisors), sorted.
pub fn per_person(charged: &[Charged]) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for c in charged {
        for p in c.on_duty.agents.iter().chain(&c.on_duty.supervisors) {
            *out.entry(p.clone()).or_insert(0) += 1;
        }
    }
    out
}

fn field(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    let s = match s.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{s}"),
        _ => s,
    };
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The duty section as CSV tables: the missed calls charged, the count per
/// person, attendance per shift occurrence, and the handovers (a shift
/// occurrence of the period that ended with people rostered and no
/// handover is listed as `missing`).
pub fn csv(
    cal: &Calendar,
    charged: &[Charged],
    attendance: &Attendance,
    handovers: &[HandoverRow],
    now: i64,
) -> String {
    let mut out = String::from(
        "\n# duty: missed calls charged to the shift on duty\n\
         missed_call,arrived,caller,outcome,shifts,agents_on_duty,supervisors_on_duty\n",
    );
    for c in charged {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            field(&c.missed.call_id),
            cal.format(c.missed.arrived_ms),
            field(&c.missed.caller),
            field(&c.missed.outcome),
            field(&c.on_duty.shifts.join(" ")),
            field(&c.on_duty.agents.join(" ")),
            field(&c.on_duty.supervisors.join(" ")),
        );
    }
    out.push_str("\nperson,missed_calls_charged\n");
    for (p, n) in per_person(charged) {
        let _ = writeln!(out, "{},{n}", field(&p));
    }
    out.push_str(
        "\nshift,date,scheduled,present,late,absent,left_early,attendance_rate,adherence\n",
    );
    let mut by_shift: BTreeMap<(String, String), [u32; 5]> = BTreeMap::new();
    let mut time: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for d in &attendance.duties {
        let key = (d.date.clone(), d.shift.clone());
        let e = by_shift.entry(key.clone()).or_default();
        let t = time.entry(key).or_default();
        if d.status == "upcoming" {
            continue;
        }
        e[0] += 1;
        t.0 += d.scheduled_ms;
        t.1 += d.available_ms;
        match d.status.as_str() {
            "absent" => e[3] += 1,
            s => {
                e[1] += 1;
                if s.starts_with("late") {
                    e[2] += 1;
                }
                if s.ends_with("left_early") {
                    e[4] += 1;
                }
            }
        }
    }
    let mut ended: BTreeMap<(String, String), ()> = BTreeMap::new();
    for d in attendance.duties.iter().filter(|d| d.end_ms <= now) {
        ended.insert((d.date.clone(), d.shift.clone()), ());
    }
    for ((date, shift), n) in &by_shift {
        let (sched, avail) = time
            .get(&(date.clone(), shift.clone()))
            .copied()
            .unwrap_or_default();
        let rate = if n[0] > 0 {
            format!("{:.3}", f64::from(n[1]) / f64::from(n[0]))
        } else {
            String::new()
        };
        let adherence = if sched > 0 {
            format!("{:.3}", avail as f64 / sched as f64)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{},{date},{},{},{},{},{},{rate},{adherence}",
            field(shift),
            n[0],
            n[1],
            n[2],
            n[3],
            n[4]
        );
    }
    out.push_str("\nhandover,date,written_by,written_at,acknowledged_by,acknowledged_at,items\n");
    for h in handovers {
        ended.remove(&(h.date.clone(), h.shift.clone()));
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            field(&h.shift),
            field(&h.date),
            field(&h.written_by),
            cal.format(h.written_ms),
            field(h.acknowledged_by.as_deref().unwrap_or("")),
            h.acknowledged_ms.map(|t| cal.format(t)).unwrap_or_default(),
            h.items
        );
    }
    for (date, shift) in ended.keys() {
        let _ = writeln!(out, "{},{date},missing,,,,", field(shift));
    }
    out
}

/// The same tables as an HTML section.
pub fn html(
    cal: &Calendar,
    charged: &[Charged],
    attendance: &Attendance,
    handovers: &[HandoverRow],
    now: i64,
) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let text = csv(cal, charged, attendance, handovers, now);
    let mut out = String::from(
        "<section id=\"duty\"><h2>值班 duty: missed calls charged to the shift, 出勤率 attendance</h2>",
    );
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        out.push_str("<table>");
        for (i, line) in lines.iter().enumerate() {
            let cell = if i == 0 { "th" } else { "td" };
            out.push_str("<tr>");
            for f in split_csv(line) {
                let _ = write!(out, "<{cell}>{}</{cell}>", esc(&f));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
    out
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (_, '"') => quoted = !quoted,
            (false, ',') => out.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    out.push(cur);
    out
}
