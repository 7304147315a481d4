//! `hotline report`: the flags; the work is `hotline_server::report`.

use hotline_metrics::period::PeriodArgs;
use std::path::PathBuf;

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
    /// A day of the center's calendar (schedule.timezone), YYYY-MM-DD: calls that arrived that day (with --shift: the day the shift starts).
    #[arg(long)]
    pub day: Option<String>,
    /// Start of the period: RFC 3339 (2026-11-22T22:00:00+08:00), a local time (2026-11-22T22:00) or a date (local midnight).
    #[arg(long, requires = "to", conflicts_with_all = ["day", "shift"])]
    pub from: Option<String>,
    /// End of the period (excluded): RFC 3339, a local time or a date; at most 31 days after --from.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// A shift of the config's [[shifts]]: on --day, or the latest one that has ended.
    #[arg(long)]
    pub shift: Option<String>,
    /// The week (Monday to Monday, local) holding this date, YYYY-MM-DD.
    #[arg(long, conflicts_with_all = ["day", "shift", "from", "month"])]
    pub week: Option<String>,
    /// A calendar month, YYYY-MM (the 1st to the 1st, local).
    #[arg(long, conflicts_with_all = ["day", "shift", "from", "week"])]
    pub month: Option<String>,
    /// csv or html.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl ReportArgs {
    /// The period flags.
    pub fn period_args(&self) -> PeriodArgs {
        PeriodArgs {
            day: self.day.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            shift: self.shift.clone(),
            week: self.week.clone(),
            month: self.month.clone(),
        }
    }
}
