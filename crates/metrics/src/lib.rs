//! The call center's numbers, computed without IO or clocks.
//!
//! - [`kpi`]: the KPIs of the center, of each queue and of each agent, folded
//!   from the `CallEvent` stream (the same code live and over a stored day).
//!   Agents' staffed and paused time (attendance, occupancy) come from their
//!   registration, login and pause events.
//! - [`prometheus`]: the same figures in the Prometheus text format.
//! - [`erlang`]: the Erlang C model behind `hotline staffing` (agents needed for
//!   a service-level target, predicted waiting, ASA and occupancy).

#![warn(missing_docs)]

pub mod erlang;
pub mod kpi;
mod presence;
pub mod prometheus;
