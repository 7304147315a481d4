//! Shared vocabulary of the hotline: identifiers, call types, parties, the
//! [`CallEvent`] record that every other crate produces or consumes, the ring
//! cadence and the [`Clock`] abstraction that keeps time out of the sans-IO cores.

#![warn(missing_docs)]

mod audio;
mod cadence;
pub mod calendar;
mod cdr;
mod clock;
mod event;
mod ids;
mod monitor;

pub use audio::{AudioFrame, Side};
pub use cadence::{CadenceError, RingCadence};
pub use calendar::{Calendar, CalendarError, Shift, ShiftPart, TimeOfDay};
pub use cdr::Cdr;
pub use clock::{Clock, ManualClock, SystemClock};
pub use event::{CallEvent, EndedBy, EventKind, Outcome, OUTBOUND};
pub use ids::{AgentId, CallId, CallType, Party, QueueId, UnknownCallType};
pub use monitor::{BadMonitorMode, MonitorMode, Party3};
