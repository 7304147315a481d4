//! What agents and supervisors ask of a call in progress, and what they get
//! back: the vocabulary shared by the call, the controller and the API.

use hotline_core::{CallType, MonitorMode, QueueId};

/// What an agent or a supervisor asks of a talking call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing: the call as it stands.
    Show,
    /// Put the caller on hold (music for the caller).
    Hold,
    /// Take the caller back from hold.
    Resume,
    /// Blind transfer to a queue (None: the configured shift-leader queue).
    Transfer {
        /// The queue.
        to: Option<QueueId>,
    },
    /// Set the call's type (the agent's disposition).
    SetType(CallType),
    /// Pause the recording.
    PauseRecording,
    /// Resume a paused recording.
    ResumeRecording,
    /// Start recording a call that is not recorded.
    StartRecording,
    /// The agent's closing hang-up: the closing phrase (if configured) to
    /// both sides, then the line is cleared (ended by the agent).
    Close,
    /// Play an earlier recording into the call (the driver holds the audio).
    PlayIntoCall {
        /// Which recording (its call id), for the event.
        recording: String,
        /// Its length, ms.
        duration_ms: i64,
    },
    /// A supervisor listens in (or whispers, or barges in): their phone is
    /// rung and joins the call when answered, or (`own_leg`) the
    /// supervisor's own INVITE (a feature code) is answered and joined.
    Monitor {
        /// The supervisor's phone (its SIP account).
        supervisor: String,
        /// How they take part.
        mode: MonitorMode,
        /// The supervisor dialled in: their INVITE is the leg.
        own_leg: bool,
        /// A short beep to the agent when the supervisor joins.
        beep: bool,
    },
    /// Switch the monitoring's mode.
    SetMonitorMode(MonitorMode),
    /// End the monitoring (the supervisor's leg is hung up; the call goes on).
    StopMonitor,
}

/// Why a request was not carried out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// No such agent in the configuration.
    #[error("unknown agent `{0}`")]
    UnknownAgent(String),
    /// The request is refused (minimum staffing, no phone registered, ...).
    #[error("{0}")]
    Refused(String),
    /// The engine is shutting down.
    #[error("the engine is not running")]
    Stopped,
    /// Not allowed at all (a number the dial rules refuse: no private calls;
    /// a phone without the supervisor role asking to monitor).
    #[error("{0}")]
    Forbidden(String),
    /// No call in progress by that id, or the agent is on no call.
    #[error("{0}")]
    NoCall(String),
    /// This node may not start calls now (the HA pair's standby node).
    #[error("{0}")]
    Unavailable(String),
}

/// A talking call as the API returns it after an action.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TalkingCall {
    /// The call.
    pub call_id: String,
    /// The agent on it (None right after a transfer).
    pub agent: Option<String>,
    /// The caller's number.
    pub caller: String,
    /// Its queue.
    pub queue: Option<String>,
    /// Its type.
    pub call_type: CallType,
    /// On hold.
    pub held: bool,
    /// Recording paused on request.
    pub recording_paused: bool,
    /// Whether the call is recorded at all.
    pub recorded: bool,
    /// The supervisor's phone monitoring the call (ringing or joined).
    pub monitored_by: Option<String>,
    /// How the supervisor takes part.
    pub monitor_mode: Option<MonitorMode>,
    /// The supervisor's phone has answered and is on the call.
    pub monitor_joined: bool,
}
