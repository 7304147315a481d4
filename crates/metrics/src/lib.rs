//! The call center's numbers, computed without IO or clocks.
//!
//! So far: [`erlang`], the Erlang C model behind `hotline staffing` (agents
//! needed for a service-level target, predicted waiting, ASA and occupancy).

#![warn(missing_docs)]

pub mod erlang;
