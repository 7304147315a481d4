//! The call center's numbers, computed without IO or clocks.
//!
//! - [`kpi`]: the KPIs of the center, of each queue and of each agent, folded
//!   from the `CallEvent` stream (the same code live and over a stored day).
//!   Agents' staffed and paused time (attendance, occupancy) come from their
//!   registration, login and pause events.
//! - [`columns`]: the one list of figures (name, Prometheus family, help,
//!   unit) that `/metrics`, the reports and the wallboard are rendered from.
//! - [`prometheus`]: the same figures in the Prometheus text format.
//! - [`report`]: a period's figures as CSV or a self-contained HTML page;
//!   [`period`]: the period asked for (day, shift, week, month, range) in the
//!   center's calendar.
//! - [`cases`]: the complaint-case KPIs (opened, closed, overdue, time to
//!   reply and close, first-contact resolution), folded from the cases.
//! - [`erlang`]: the Erlang C model behind `hotline staffing` (agents needed for
//!   a service-level target, predicted waiting, ASA and occupancy).

#![warn(missing_docs)]

pub mod cases;
pub mod columns;
pub mod erlang;
pub mod kpi;
pub mod period;
mod presence;
pub mod prometheus;
pub mod report;
