//! The hotline's call flow as sans-IO state machines, in the style of
//! quinn-proto and str0m: no sockets, no tasks, no clock of their own.
//!
//! - [`Controller`] owns the ACD, the waiting calls and their overflow, who
//!   talks on which call, and agents' requests.
//! - [`Call`] is one call: an inbound call from INVITE to the end, a
//!   callback from the caller's request until it is made or given up, or an
//!   agent's call to a customer. All share the talking phase (hold, transfer,
//!   recording control, limits, call control).
//!
//! Both take inputs with `now` (epoch ms), give commands to poll, and say
//! when they next want to be woken. `hotline-engine` drives them over SIP,
//! RTP and the recorder; the tests in `tests/` drive them in simulated time.

#![warn(missing_docs)]

pub mod call;
pub mod control;
pub mod controller;
pub mod limits;
pub mod session;
pub mod settings;

pub use call::{
    BlacklistHit, Call, CallbackSpec, ClickToCall, Command, Inbound, Input, LegInput, OutboundSpec,
    OwnerHint, Phase, Sealed, ToController, MONITOR_RING_MS, OUTBOUND, STEP_DOWN_REASON,
};
pub use control::{Action, ControlError, TalkingCall};
pub use controller::{
    refusal_text, state_name, AgentRequest, AgentStatus, Controller, ControllerInput,
    ControllerOutput, QueueStatus, Requester, WaitingCaller,
};
pub use limits::LimitClock;
pub use settings::{
    AnnouncePolicy, CallbackPolicy, ClosedTreatment, DialRules, Environment, FlowSettings, Menu,
    PromptRef, Route, UnknownClosedTreatment, VOICEMAIL,
};

/// Can `number` be called back (digits with an optional leading `+`, at
/// most 32)? Anonymous callers, SIP user names and anything with letters or
/// separators cannot.
pub fn dialable(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or(number);
    !digits.is_empty() && digits.len() <= 32 && digits.chars().all(|c| c.is_ascii_digit())
}
