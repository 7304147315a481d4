//! A period's figures as CSV or as one self-contained HTML page (inline CSS
//! and SVG charts, no scripts, no external assets), rendered from the
//! folded events (the same [`Metrics`] as the live figures) and the one list
//! of [`COLUMNS`]. Times are local to the center's [`Calendar`].

use crate::columns::{Column, Unit, AGENT_COLUMNS, COLUMNS};
use crate::kpi::{Figures, Metrics, Snapshot, UnansweredCall};
use hotline_core::Calendar;
use std::fmt::Write as _;

const HOUR_MS: i64 = 3_600_000;

/// First-contact resolution counts a caller who calls again within this as
/// not resolved (a report reads the day after its period too).
pub const REPEAT_MS: i64 = 86_400_000;

/// Rows of the missed-call list in the HTML page (the CSV has them all).
const MAX_MISSED_ROWS: usize = 2_000;

/// The period a report covers: `[from_ms, to_ms)` and its name.
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    /// Start, epoch ms (included).
    pub from_ms: i64,
    /// End, epoch ms (excluded).
    pub to_ms: i64,
    /// How it was asked (`day 2026-11-22 (Asia/Shanghai)`, ...).
    pub label: String,
}

/// Everything a report shows, computed by the calculator.
pub struct Report {
    /// The center's calendar (hours and times are local to it).
    pub calendar: Calendar,
    /// The ring target of the "within N rings" figures.
    pub rings: u32,
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
pub fn build(metrics: &Metrics, period: Period, calendar: Calendar) -> Report {
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
        calendar,
        rings: metrics.config().rings,
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

/// The scope table's header: scope, every column, first-contact resolution.
fn scope_header(rings: u32) -> String {
    let mut h = String::from("scope");
    for c in COLUMNS {
        h.push(',');
        h.push_str(&c.csv_name(rings));
    }
    h.push_str(",first_contact_resolution\n");
    h
}

fn row(scope: &str, f: &Figures, fcr: Option<f64>) -> String {
    let mut r = csv_field(scope);
    for c in COLUMNS {
        r.push(',');
        r.push_str(&c.csv_cell(f));
    }
    let _ = writeln!(r, ",{}", opt(fcr, 1.0));
    r
}

/// The CSV text of a snapshot: one table for the center and queues (with
/// their first-contact resolution from `r.fcr`), one for agents.
fn csv(r: &Report) -> String {
    let s = &r.total;
    let mut out = scope_header(r.rings);
    out.push_str(&row("center", &s.center, r.fcr.0));
    for (q, f) in &s.queues {
        let fcr = r.fcr.1.get(q).copied().flatten();
        out.push_str(&row(&format!("queue:{q}"), f, fcr));
    }
    out.push_str("\nagent");
    for c in AGENT_COLUMNS {
        out.push(',');
        out.push_str(&c.csv_name(r.rings));
    }
    out.push('\n');
    for (a, f) in &s.agents {
        out.push_str(&csv_field(a));
        for c in AGENT_COLUMNS {
            out.push(',');
            out.push_str(&c.csv_cell(f));
        }
        out.push('\n');
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
    out.push_str("\nhour,offered,answered,abandoned,asa_s,service_level,dropped,dropped_rate\n");
    for (at, f) in &r.hours {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            r.calendar.format(*at),
            f.offered,
            f.answered,
            f.abandoned,
            opt(f.asa_ms, 0.001),
            opt(f.service_level, 1.0),
            f.dropped,
            opt(f.dropped_rate, 1.0)
        );
    }
    out.push_str("\nmissed_call,arrived,caller,queue,outcome,wait_s\n");
    for u in &r.unanswered {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            csv_field(&u.call_id),
            r.calendar.format(u.arrived_ms),
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

/// The period's call notes counted per category (orders, bookings,
/// feedback, cancellations, complaints, ...: `cases.note_categories`), as a
/// CSV section (`html` false) or an HTML section for the end of the page.
pub fn categories_section(counts: &[(String, i64)], html: bool) -> String {
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    if html {
        let mut out = String::from(
            "<section id=\"categories\"><h2>Calls by note category</h2>\n<table><tr><th>category</th><th>notes</th><th>share</th></tr>\n",
        );
        for (c, n) in counts {
            let share = if total > 0 {
                *n as f64 / total as f64
            } else {
                0.0
            };
            out.push_str(&format!(
                "<tr><td>{}</td><td>{n}</td><td>{:.1} %</td></tr>\n",
                esc(c),
                share * 100.0
            ));
        }
        out.push_str(&format!(
            "<tr><th>all</th><th>{total}</th><th></th></tr></table></section>\n"
        ));
        out
    } else {
        let mut out = String::from("\n# categories: calls noted per category\ncategory,notes\n");
        for (c, n) in counts {
            out.push_str(&format!("{},{n}\n", csv_field(c)));
        }
        out.push_str(&format!("all,{total}\n"));
        out
    }
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

/// The top of a chart's axis: the smallest 1, 2 or 5 × 10^k at or above
/// `max`, and at least 1 (a chart of 0.02 s is drawn against 1 s, not a
/// full bar against "0.0").
fn axis_top(max: f64) -> f64 {
    if !(max.is_finite() && max > 1.0) {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|t| *t >= max)
        .unwrap_or(10.0 * p)
}

/// A bar chart of a value per hour as inline SVG; hours without a value
/// (no answered call for an average) get an empty bar.
fn bar_chart(
    title: &str,
    unit: &str,
    cal: &Calendar,
    hours: &[(i64, Figures)],
    value: impl Fn(&Figures) -> Option<f64>,
) -> String {
    let (w, h, left, bottom) = (720.0_f64, 200.0_f64, 48.0_f64, 28.0_f64);
    let values: Vec<Option<f64>> = hours
        .iter()
        .map(|(_, f)| value(f).filter(|v| v.is_finite()).map(|v| v.max(0.0)))
        .collect();
    let max = values.iter().flatten().copied().fold(0.0_f64, f64::max);
    let top = axis_top(max);
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
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" class=\"axis\"/><text x=\"{lx}\" y=\"14\" class=\"lbl\" text-anchor=\"end\">{top} {}</text><text x=\"{lx}\" y=\"{y}\" class=\"lbl\" text-anchor=\"end\">0</text>",
        esc(unit),
        y = h - bottom,
        x2 = w - 8.0,
        lx = left - 4.0,
    );
    let label_every = (values.len() / 12).max(1);
    for (i, ((at, _), v)) in hours.iter().zip(&values).enumerate() {
        let bh = v.map_or(0.0, |v| (v / top).min(1.0) * plot_h);
        let x = left + i as f64 * slot + slot * 0.1;
        let shown = v.map_or_else(|| "–".to_string(), |v| format!("{v:.1} {unit}"));
        let when = cal.format(*at);
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" class=\"bar\"><title>{}: {}</title></rect>",
            h - bottom - bh,
            (slot * 0.8).max(0.5),
            esc(&when),
            esc(&shown)
        );
        if i % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"lbl\" text-anchor=\"middle\">{}</text>",
                x + slot * 0.4,
                h - 10.0,
                when.get(11..13).unwrap_or("")
            );
        }
    }
    svg.push_str("</svg></figure>\n");
    svg
}

/// The headline figures of the HTML page (columns, in order).
const HEADLINE: &[&str] = &[
    "offered",
    "answered",
    "abandoned",
    "blocked",
    "asa_ms",
    "service_level",
    "service_level_20s",
    "busy_rate",
    "avg_queue_ms",
    "queue_placement_rate",
    "avg_call_ms",
    "aht_ms",
    "avg_hold_ms",
    "occupancy",
    "transfer_rate",
    "within_limit",
    "dropped",
    "dropped_rate",
    "cost_per_call",
    "qa_score",
    "agent_turnover",
];

/// The columns of the HTML page's center-and-queues table.
const SCOPE_TABLE: &[&str] = &[
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "blocked",
    "overflowed",
    "silent_line",
    "dropped",
    "dropped_rate",
    "one_way_audio",
    "asa_ms",
    "service_level",
    "abandon_rate",
    "aht_ms",
    "avg_talk_ms",
    "within_limit",
];

/// A figure as HTML text in its unit (a dash when there is nothing to divide by).
fn cell<F>(col: &Column<F>, f: &F) -> String {
    match (col.unit, (col.value)(f)) {
        (_, None) => "&ndash;".into(),
        (Unit::Count, Some(v)) => format!("{v:.0}"),
        (Unit::Ratio, v) => pct(v),
        (Unit::Millis, v) => secs(v),
        (Unit::Span, Some(v)) => hms(v as i64),
        (Unit::Rings | Unit::PerHour | Unit::Score, Some(v)) => format!("{v:.1}"),
        (Unit::Money, Some(v)) => format!("{v:.2}"),
    }
}

/// `calls` → `Calls`; `ASA` stays.
fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|first| first.to_uppercase().chain(c).collect())
        .unwrap_or_default()
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
    out.push_str("<div class=\"kpis\">\n");
    for name in HEADLINE {
        let Some(col) = crate::columns::column(name) else {
            continue;
        };
        let mut v = cell(col, c);
        if col.name == "abandoned" {
            let _ = write!(v, " <small>({} short)</small>", c.short_abandoned);
        }
        let _ = writeln!(
            out,
            "<div class=\"kpi\">{}<b>{v}</b></div>",
            esc(&capitalised(col.title))
        );
    }
    let _ = writeln!(
        out,
        "<div class=\"kpi\">First-contact resolution<b>{}</b></div>",
        pct(r.fcr.0)
    );
    out.push_str("</div>\n<p>Abandoned counts every caller who hung up before an agent answered; short abandons (before the short-abandon threshold) are shown apart. Service level = answered within the target ÷ (answered + abandoned after the short threshold). AHT = talk + hold + wrap-up. First-contact resolution = answered calls whose caller did not call again within 24 h. Definitions: docs/kpis.md.</p>\n");
    let by_name = |n: &str| crate::columns::column(n);
    if let Some(col) = by_name("offered") {
        out.push_str(&bar_chart(
            "Calls per hour",
            "calls",
            &r.calendar,
            &r.hours,
            |f| col.exported(f),
        ));
    }
    if let Some(col) = by_name("asa_ms") {
        out.push_str(&bar_chart(
            "Average speed of answer per hour",
            "s",
            &r.calendar,
            &r.hours,
            |f| col.exported(f),
        ));
    }
    if let Some(col) = by_name("dropped") {
        out.push_str(&bar_chart(
            "Dropped calls per hour",
            "calls",
            &r.calendar,
            &r.hours,
            |f| col.exported(f),
        ));
    }
    let table: Vec<&Column<Figures>> = SCOPE_TABLE.iter().filter_map(|n| by_name(n)).collect();
    out.push_str("<h2>Center and queues</h2>\n<table><thead><tr><th>scope</th>");
    for col in &table {
        let _ = write!(
            out,
            "<th title=\"{}\">{}</th>",
            esc(col.help),
            esc(col.title)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    let scope_row = |out: &mut String, name: &str, f: &Figures| {
        let _ = write!(out, "<tr><td>{}</td>", esc(name));
        for col in &table {
            let _ = write!(out, "<td>{}</td>", cell(col, f));
        }
        out.push_str("</tr>\n");
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
    out.push_str("</tbody></table>\n<p>AHT = talk + hold + wrap-up (docs/kpis.md).</p>\n<h2>Agents</h2>\n<table><thead><tr><th>agent</th>");
    for col in AGENT_COLUMNS {
        let _ = write!(
            out,
            "<th title=\"{}\">{}</th>",
            esc(col.help),
            esc(col.title)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for (a, f) in &r.total.agents {
        let _ = write!(out, "<tr><td>{}</td>", esc(a));
        for col in AGENT_COLUMNS {
            let _ = write!(out, "<td>{}</td>", cell(col, f));
        }
        out.push_str("</tr>\n");
    }
    let _ = writeln!(
        out,
        "</tbody></table>\n<h2>Missed calls ({})</h2>\n<table><thead><tr><th>arrived</th><th>caller</th><th>queue</th><th>outcome</th><th>waited</th></tr></thead><tbody>",
        r.unanswered.len()
    );
    for u in r.unanswered.iter().take(MAX_MISSED_ROWS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.calendar.format(u.arrived_ms),
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

#[cfg(test)]
mod tests {

    #[test]
    fn the_categories_section_counts_and_escapes() {
        let counts = vec![
            ("complaint".to_string(), 3),
            ("order".to_string(), 1),
            ("=cmd,x".to_string(), 1),
        ];
        let csv = categories_section(&counts, false);
        assert!(
            csv.contains("category,notes\ncomplaint,3\norder,1\n\"'=cmd,x\",1\nall,5\n"),
            "{csv}"
        );
        let html = categories_section(&counts, true);
        assert!(
            html.contains("<td>complaint</td><td>3</td><td>60.0 %</td>"),
            "{html}"
        );
        assert!(html.contains("<th>all</th><th>5</th>"));
        let hostile = vec![("<script>".to_string(), 1)];
        assert!(!categories_section(&hostile, true).contains("<script>"));
        assert!(categories_section(&[], false).ends_with("all,0\n"));
    }
    use super::*;
    use crate::kpi::KpiConfig;
    use hotline_core::{AgentId, CallEvent, CallId, CallType, EndedBy, EventKind, Party, QueueId};

    const D: i64 = 1_795_305_600_000; // 2026-11-22 00:00 UTC

    fn ev(at: i64, kind: EventKind) -> CallEvent {
        CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored("c1")),
            agent: Some(AgentId::new("1001")),
            queue: Some(QueueId::new("general")),
            kind,
        }
    }

    /// One call at 10:00 UTC: answered after 20 ms at ring 2, 8 s of talk,
    /// 5 s of wrap-up.
    fn one_call(rings: u32) -> Metrics {
        let mut m = Metrics::new(KpiConfig {
            rings,
            ..KpiConfig::default()
        });
        let at = D + 10 * HOUR_MS;
        for e in [
            ev(
                at,
                EventKind::Arrived {
                    caller: Party {
                        number: "0612345678".into(),
                        display: None,
                    },
                    dialled: "hotline".into(),
                    call_type: CallType::Inquiry,
                },
            ),
            ev(
                at + 20,
                EventKind::AgentAnswered {
                    wait_ms: 20,
                    rings: 2,
                    limit_ms: None,
                },
            ),
            ev(
                at + 8_020,
                EventKind::Completed {
                    ended_by: EndedBy::Caller,
                    talk_ms: 8_000,
                },
            ),
            ev(at + 13_020, EventKind::WrapUp { wrap_ms: 5_000 }),
        ] {
            m.apply(&e);
        }
        m
    }

    fn day() -> Period {
        Period {
            from_ms: D,
            to_ms: D + 24 * HOUR_MS,
            label: "day 2026-11-22 (UTC)".into(),
        }
    }

    #[test]
    fn the_html_tables_name_only_columns() {
        for name in HEADLINE.iter().chain(SCOPE_TABLE) {
            assert!(
                crate::columns::column(name).is_some(),
                "{name} is no column"
            );
        }
    }

    #[test]
    fn the_html_page_agrees_with_itself_on_aht() {
        let r = build(&one_call(3), day(), Calendar::utc());
        assert_eq!(r.total.center.aht_ms, Some(13_000.0));
        let html = report_html(&r);
        assert!(
            html.contains("<div class=\"kpi\">AHT<b>13.0&#8239;s</b></div>"),
            "{html}"
        );
        // the table's AHT column is the same figure; average talk is its own column
        let header = html
            .split("<h2>Center and queues</h2>")
            .nth(1)
            .and_then(|t| t.split("</thead>").next())
            .expect("table header");
        let titles: Vec<&str> = header
            .split("</th>")
            .filter_map(|h| h.rsplit('>').next())
            .filter(|t| !t.is_empty())
            .collect();
        let center = html
            .split("<tr><td>center</td>")
            .nth(1)
            .and_then(|t| t.split("</tr>").next())
            .expect("center row");
        let cells: Vec<&str> = center
            .split("</td>")
            .filter_map(|c| c.strip_prefix("<td>"))
            .collect();
        let at = |title: &str| {
            let i = titles.iter().position(|t| *t == title).expect(title);
            cells[i - 1]
        };
        assert_eq!(at("AHT"), "13.0&#8239;s", "{titles:?} {cells:?}");
        assert_eq!(at("average talk"), "8.0&#8239;s");
        assert_eq!(at("ASA"), "0.0&#8239;s");
    }

    #[test]
    fn a_chart_of_tiny_values_has_an_axis_above_zero() {
        let r = build(&one_call(3), day(), Calendar::utc());
        let html = report_html(&r);
        let asa = html
            .split("aria-label=\"Average speed of answer per hour\">")
            .nth(1)
            .and_then(|c| c.split("</svg>").next())
            .expect("ASA chart");
        // the axis goes to 1 s: the 0.02 s bar is a sliver (3 of 162 px), not a full bar
        assert!(asa.contains(">1 s</text>"), "{asa}");
        assert!(!asa.contains(">0.0 s</text>"), "{asa}");
        let heights: Vec<f64> = asa
            .split("<rect ")
            .skip(1)
            .take(24)
            .filter_map(|r| r.split("height=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        assert_eq!(heights.len(), 24);
        assert!(heights.iter().all(|h| *h < 5.0), "{heights:?}");
        for (max, top) in [
            (0.0, 1.0),
            (0.02, 1.0),
            (1.0, 1.0),
            (1.5, 2.0),
            (13.0, 20.0),
            (48.0, 50.0),
            (100.0, 100.0),
            (f64::NAN, 1.0),
        ] {
            assert_eq!(axis_top(max), top, "{max}");
        }
    }

    #[test]
    fn the_ring_target_names_the_csv_columns() {
        for rings in [2, 3] {
            let csv = report_csv(&build(&one_call(rings), day(), Calendar::utc()));
            let header = csv
                .lines()
                .find(|l| l.starts_with("scope,"))
                .expect("scope header");
            assert!(
                header.contains(&format!(",agent_answered_within_{rings}_rings,")),
                "{header}"
            );
            let other = if rings == 2 { 3 } else { 2 };
            assert!(
                !header.contains(&format!("within_{other}_rings")),
                "{header}"
            );
        }
        // the call heard 2 rings: within a target of 2 and of 3, not of 1
        let within = |rings| {
            build(&one_call(rings), day(), Calendar::utc())
                .total
                .center
                .agent_answered_within_rings
        };
        assert_eq!(within(2), Some(1.0));
        assert_eq!(within(1), Some(0.0));
    }

    #[test]
    fn hours_and_times_are_local_to_the_center() {
        let shanghai = Calendar::named("Asia/Shanghai").expect("zone");
        let (from_ms, to_ms) = shanghai
            .day_bounds(hotline_core::calendar::parse_date("2026-11-22").expect("date"))
            .expect("bounds");
        let r = build(
            &one_call(3),
            Period {
                from_ms,
                to_ms,
                label: "day".into(),
            },
            shanghai,
        );
        let csv = report_csv(&r);
        // 10:00 UTC is 18:00 in Shanghai
        assert!(csv.contains("\n2026-11-22 18:00,1,1,0,"), "{csv}");
        assert!(csv.contains("\n2026-11-22 00:00,0,0,0,"), "{csv}");
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

    #[test]
    fn the_csv_and_html_carry_the_dropped_calls_per_scope_and_hour() {
        // one call answered at 10:00 and dropped by a media timeout, one
        // answered at 11:00 and ended by the caller
        let mut m = one_call(3);
        let at = D + 11 * HOUR_MS;
        let dropped = |t, kind| CallEvent {
            at_ms: t,
            call_id: Some(CallId::from_stored("c2")),
            agent: Some(AgentId::new("1001")),
            queue: Some(QueueId::new("general")),
            kind,
        };
        for kind in [
            EventKind::Arrived {
                caller: Party {
                    number: "0612345679".into(),
                    display: None,
                },
                dialled: "hotline".into(),
                call_type: CallType::Inquiry,
            },
            EventKind::AgentAnswered {
                wait_ms: 0,
                rings: 1,
                limit_ms: None,
            },
        ] {
            m.apply(&dropped(at, kind));
        }
        m.apply(&dropped(
            at + 5_000,
            EventKind::OneWayAudio {
                side: hotline_core::Side::Caller,
                idle_ms: 5_000,
            },
        ));
        m.apply(&dropped(
            at + 10_000,
            EventKind::MediaTimeout {
                side: hotline_core::Side::Caller,
                idle_ms: 10_000,
            },
        ));
        m.apply(&dropped(
            at + 10_000,
            EventKind::Completed {
                ended_by: EndedBy::System,
                talk_ms: 10_000,
            },
        ));
        let r = build(&m, day(), Calendar::utc());
        let csv = report_csv(&r);
        let lines: Vec<&str> = csv.lines().collect();
        let header: Vec<&str> = lines
            .iter()
            .find(|l| l.starts_with("scope,"))
            .expect("scope header")
            .split(',')
            .collect();
        let center: Vec<&str> = lines
            .iter()
            .find(|l| l.starts_with("center,"))
            .expect("center row")
            .split(',')
            .collect();
        let cell = |name: &str| {
            let i = header.iter().position(|h| *h == name).expect(name);
            center[i]
        };
        assert_eq!(
            (cell("answered"), cell("dropped"), cell("dropped_rate")),
            ("2", "1", "0.500")
        );
        assert_eq!(cell("one_way_audio"), "1");
        assert!(
            csv.contains(
                "\nhour,offered,answered,abandoned,asa_s,service_level,dropped,dropped_rate\n"
            ),
            "{csv}"
        );
        assert!(
            csv.contains("\n2026-11-22 10:00,1,1,0,0.020,1.000,0,0.000\n"),
            "{csv}"
        );
        assert!(
            csv.contains("\n2026-11-22 11:00,1,1,0,0.000,1.000,1,1.000\n"),
            "{csv}"
        );
        assert!(csv.contains("\n2026-11-22 12:00,0,0,0,,,0,\n"), "{csv}");
        let html = report_html(&r);
        assert!(
            html.contains("<div class=\"kpi\">Dropped<b>1</b></div>"),
            "{html}"
        );
        assert!(
            html.contains("<div class=\"kpi\">Dropped rate<b>50.0&#8239;%</b></div>"),
            "{html}"
        );
        assert!(html.contains("aria-label=\"Dropped calls per hour\""));
        let table = html
            .split("<h2>Center and queues</h2>")
            .nth(1)
            .and_then(|t| t.split("</thead>").next())
            .expect("table header");
        for title in [">dropped</th>", ">dropped rate</th>", ">one-way audio</th>"] {
            assert!(table.contains(title), "{title} in {table}");
        }
    }
}
