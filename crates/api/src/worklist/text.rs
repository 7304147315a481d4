//! The work list as text for the command line (`hotline worklist list|
//! quotas` and the work list's part of `hotline report`): CSV with every
//! field quoted as the import quotes it, and the same tables as HTML. The
//! binary parses the flags and prints these.

use super::{Worklist, WorklistError};
use hotline_core::Calendar;
use hotline_store::StoreError;
use hotline_worklist::csv::quote;
use hotline_worklist::quota::Period;
use hotline_worklist::{Viewer, WorkItem};

/// The id of a campaign named by its name or its id, if there is one.
pub async fn campaign_id(w: &Worklist, which: &str) -> Result<Option<i64>, StoreError> {
    let all = w.store().campaigns().await?;
    Ok(all
        .iter()
        .find(|c| c.name == which || c.id.to_string() == which)
        .map(|c| c.id))
}

/// `hotline worklist list`: the items `viewer` may see, one CSV row each,
/// times in the center's calendar; `now` decides `overdue`.
pub fn list_csv(items: &[WorkItem], viewer: &Viewer, cal: &Calendar, now: i64) -> String {
    let mut out =
        String::from("id,kind,number,name,card,owner,created,due,attempts,outcome,overdue\n");
    for i in items.iter().filter(|i| i.visible_to(viewer)) {
        let fields = [
            i.id.to_string(),
            i.new.kind.to_string(),
            i.new.number.clone(),
            i.new.name.clone(),
            i.new.card.clone(),
            i.new.owner.to_string(),
            cal.format(i.new.created_ms),
            cal.format(i.new.deadline_ms),
            i.attempts.to_string(),
            i.outcome
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
            i.is_overdue(now).to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| quote(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Quota progress per agent (week and month) and this week's calls
/// returned, as CSV sections (also appended to `hotline report --format csv`).
pub async fn quota_csv(w: &Worklist) -> Result<String, WorklistError> {
    let mut out = String::from("period,agent,target,valid,made,remaining,percent\n");
    for period in [Period::Week, Period::Month] {
        for q in w.quotas(period).await? {
            out.push_str(&format!(
                "{},{},{},{},{},{},{:.1}\n",
                period.as_str(),
                quote(q.agent.as_str()),
                q.target,
                q.valid,
                q.made,
                q.remaining,
                q.percent
            ));
        }
    }
    let week = w.weekly(None).await?;
    let r = &week.returned;
    out.push_str("\nweek_from,owed,returned,returned_in_time,open,overdue,percent_returned,avg_time_to_return_s\n");
    out.push_str(&format!(
        "{},{},{},{},{},{},{},{}\n",
        w.config().calendar.format_with_offset(week.from_ms),
        r.owed,
        r.returned,
        r.returned_in_time,
        r.open,
        r.overdue,
        r.percent_returned
            .map(|p| format!("{p:.1}"))
            .unwrap_or_default(),
        r.avg_time_to_return_ms
            .map(|t| (t / 1000).to_string())
            .unwrap_or_default()
    ));
    Ok(out)
}

/// The work list's part of `hotline report`: quota progress and calls
/// returned of the current week and month (CSV sections, or an HTML
/// section for before `</body>`).
pub async fn report_section(w: &Worklist, html: bool) -> Result<String, WorklistError> {
    let csv = quota_csv(w).await?;
    Ok(if html {
        csv_as_html(&csv)
    } else {
        format!("\n# return visits (quota progress) and calls returned this week\n{csv}")
    })
}

/// The CSV sections of [`quota_csv`] as one HTML section, a table each,
/// every cell escaped.
fn csv_as_html(csv: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::from(
        "<section id=\"worklist\"><h2>回访 return visits and 已复电话 calls returned</h2>",
    );
    for block in csv.split("\n\n") {
        out.push_str("<table>");
        for (i, line) in block.lines().enumerate() {
            let cell = if i == 0 { "th" } else { "td" };
            out.push_str("<tr>");
            for f in line.split(',') {
                out.push_str(&format!("<{cell}>{}</{cell}>", esc(f)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_section_escapes_every_cell_and_keeps_the_tables_apart() {
        let html = csv_as_html("a,b\n<x>,\"&\"\n\nc\n1\n");
        assert_eq!(html.matches("<table>").count(), 2, "{html}");
        assert!(html.contains("<th>a</th><th>b</th>"), "{html}");
        assert!(
            html.contains("<td>&lt;x&gt;</td><td>&quot;&amp;&quot;</td>"),
            "{html}"
        );
        assert!(!html.contains("<x>"), "{html}");
        assert!(html.ends_with("</table></section>"), "{html}");
    }
}
