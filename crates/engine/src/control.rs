//! Agent control: log in, log out, pause and unpause, asked from the agent's
//! phone (feature codes such as `*63`) or through the API. Requests go to the
//! controller, which owns the ACD, and come back with the result; every
//! change and every refusal is an event.

pub use hotline_callflow::{
    refusal_text, state_name, AgentRequest, AgentStatus, ControlError, QueueStatus, Requester,
    TalkingCall, WaitingCaller,
};
use hotline_core::{AgentId, CallId, CallType, MonitorMode, QueueId};
use std::collections::BTreeMap;
use tokio::sync::{mpsc, oneshot};

/// What an agent or a supervisor asks of a call in progress.
#[derive(Clone, Debug)]
pub enum CallAction {
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
    /// Set the call's type (the agent's disposition); the limit of the new
    /// type applies from the answer.
    SetType(CallType),
    /// Pause the recording (silence is written; the span is in the manifest).
    PauseRecording,
    /// Resume a paused recording.
    ResumeRecording,
    /// Start recording a call that is not recorded (on-demand recording
    /// when `hotline.record` is off).
    StartRecording,
    /// The agent's closing hang-up: the closing phrase 「谢谢您的电话，再见！」
    /// (`prompts.closing`) to both sides, then the line is cleared.
    Close,
    /// Play an earlier recording into the call: both parties hear it.
    PlayIntoCall {
        /// The recording as mono audio.
        audio: hotline_media::prompt::Prompt,
        /// Which recording (its call id), for the event.
        recording: String,
    },
    /// A supervisor listens in (whispers, barges in): the engine rings the
    /// supervisor's phone and joins it to the call when answered.
    Monitor {
        /// The supervisor's phone (a SIP account in `[monitor] supervisors`).
        supervisor: String,
        /// How they take part.
        mode: MonitorMode,
    },
    /// Switch the monitoring's mode.
    MonitorMode(MonitorMode),
    /// End the monitoring (the call goes on).
    StopMonitor,
}

impl CallAction {
    /// The action's name in the API.
    pub fn name(&self) -> &'static str {
        match self {
            CallAction::Show => "show",
            CallAction::Hold => "hold",
            CallAction::Resume => "resume",
            CallAction::Transfer { .. } => "transfer",
            CallAction::SetType(_) => "type",
            CallAction::PauseRecording => "record_pause",
            CallAction::ResumeRecording => "record_resume",
            CallAction::StartRecording => "record_start",
            CallAction::PlayIntoCall { .. } => "play",
            CallAction::Monitor { .. } => "monitor",
            CallAction::MonitorMode(_) => "monitor_mode",
            CallAction::StopMonitor => "monitor_stop",
            CallAction::Close => "close",
        }
    }
}

/// Which call an action is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallTarget {
    /// By its id.
    Call(CallId),
    /// The call the agent is talking on.
    Agent(AgentId),
}

/// Feature codes dialled from an agent's phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureCodes {
    /// e.g. `*61`.
    pub login: String,
    /// e.g. `*62`.
    pub logout: String,
    /// e.g. `*63`; followed by a reason key (`*631` = the reason of key 1).
    pub pause: String,
    /// e.g. `*64`.
    pub unpause: String,
    /// Reason keys after the pause code (`1` → `meal`).
    pub pause_reasons: BTreeMap<String, String>,
    /// Reason of a pause dialled without a key.
    pub default_pause_reason: String,
}

impl Default for FeatureCodes {
    fn default() -> Self {
        FeatureCodes {
            login: "*61".into(),
            logout: "*62".into(),
            pause: "*63".into(),
            unpause: "*64".into(),
            pause_reasons: BTreeMap::from([
                ("1".to_string(), "meal".to_string()),
                ("2".to_string(), "training".to_string()),
                ("3".to_string(), "meeting".to_string()),
            ]),
            default_pause_reason: "break".into(),
        }
    }
}

impl FeatureCodes {
    /// The request a dialled code stands for, if any (`*632` → pause for
    /// the reason of key 2; an unknown key is no request).
    pub fn parse(&self, dialled: &str) -> Option<AgentRequest> {
        if dialled == self.login {
            return Some(AgentRequest::Login);
        }
        if dialled == self.logout {
            return Some(AgentRequest::Logout);
        }
        if dialled == self.unpause {
            return Some(AgentRequest::Unpause);
        }
        let key = dialled.strip_prefix(self.pause.as_str())?;
        let reason = if key.is_empty() {
            self.default_pause_reason.clone()
        } else {
            self.pause_reasons.get(key)?.clone()
        };
        Some(AgentRequest::Pause { reason })
    }
}

pub(crate) enum ControlMsg {
    Request {
        agent: AgentId,
        request: AgentRequest,
        requester: Requester,
        reply: oneshot::Sender<Result<AgentStatus, ControlError>>,
    },
    List {
        reply: oneshot::Sender<Vec<AgentStatus>>,
    },
    Queues {
        reply: oneshot::Sender<Vec<QueueStatus>>,
    },
    Call {
        target: CallTarget,
        action: CallAction,
        by: String,
        reply: oneshot::Sender<Result<TalkingCall, ControlError>>,
    },
    Dial {
        request: DialRequest,
        reply: oneshot::Sender<Result<CallId, ControlError>>,
    },
    /// The HA pair: agents who were on calls of a lost node, held out of
    /// routing ([`crate::failover`]).
    HoldAfterFailover {
        agents: Vec<(AgentId, CallId)>,
        reply: oneshot::Sender<()>,
    },
    /// The events of a held agent's call as the store has them.
    HeldCallEvents {
        call: CallId,
        events: Vec<hotline_core::CallEvent>,
    },
    /// Callbacks pending in the shared log, for a node that became active.
    ResumeCallbacks {
        pending: Vec<crate::callback::PendingCallback>,
    },
    /// The node stepped down a while ago ([`crate::STEP_DOWN_GRACE_MS`]):
    /// its ringing callers go to the active node, if it is still standby.
    SteppedDown,
}

/// Click-to-call: ring `agent`'s phone, then dial `number`.
#[derive(Clone, Debug)]
pub struct DialRequest {
    /// The agent whose phone rings first.
    pub agent: AgentId,
    /// The customer's number.
    pub number: String,
    /// The call's type.
    pub call_type: hotline_core::CallType,
    /// Who asked (`api:<user>`), in the refusal event.
    pub by: String,
}

/// A handle for agent requests (the API holds one). Cheap to clone.
#[derive(Clone)]
pub struct AgentControl {
    pub(crate) tx: mpsc::Sender<ControlMsg>,
}

impl AgentControl {
    /// A handle with no engine behind it (an API served without an engine,
    /// e.g. the console alone): every request fails with
    /// [`ControlError::Stopped`].
    pub fn detached() -> AgentControl {
        let (tx, _) = mpsc::channel(1);
        AgentControl { tx }
    }

    /// Carries out a request and returns the agent's status after it.
    pub async fn request(
        &self,
        agent: AgentId,
        request: AgentRequest,
        requester: Requester,
    ) -> Result<AgentStatus, ControlError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ControlMsg::Request {
                agent,
                request,
                requester,
                reply,
            })
            .await
            .map_err(|_| ControlError::Stopped)?;
        rx.await.map_err(|_| ControlError::Stopped)?
    }

    /// Carries out `action` on a talking call; returns the call after it.
    /// `by` goes into the event (`api:<name>`).
    pub async fn call(
        &self,
        target: CallTarget,
        action: CallAction,
        by: String,
    ) -> Result<TalkingCall, ControlError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ControlMsg::Call {
                target,
                action,
                by,
                reply,
            })
            .await
            .map_err(|_| ControlError::Stopped)?;
        rx.await.map_err(|_| ControlError::Stopped)?
    }

    /// Click-to-call: the engine rings the agent's phone and dials the
    /// customer once the agent answered. The new call's id, or why not
    /// (unknown agent, no phone registered, on a call, a number the dial
    /// rules refuse).
    pub async fn dial(&self, request: DialRequest) -> Result<CallId, ControlError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ControlMsg::Dial { request, reply })
            .await
            .map_err(|_| ControlError::Stopped)?;
        rx.await.map_err(|_| ControlError::Stopped)?
    }

    /// Every queue with its waiting callers.
    pub async fn queues(&self) -> Result<Vec<QueueStatus>, ControlError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ControlMsg::Queues { reply })
            .await
            .map_err(|_| ControlError::Stopped)?;
        rx.await.map_err(|_| ControlError::Stopped)
    }

    /// The HA pair: holds `agents` out of routing, each with the call it
    /// was on when its node was lost ([`crate::failover`]): paused
    /// `unknown_after_failover` until the lost node's end of the call is in
    /// the store, the agent sets themselves ready, or the hold times out.
    pub async fn hold_after_failover(
        &self,
        agents: Vec<(AgentId, CallId)>,
    ) -> Result<(), ControlError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ControlMsg::HoldAfterFailover { agents, reply })
            .await
            .map_err(|_| ControlError::Stopped)?;
        rx.await.map_err(|_| ControlError::Stopped)
    }

    /// Every configured agent's status.
    pub async fn list(&self) -> Result<Vec<AgentStatus>, ControlError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(ControlMsg::List { reply })
            .await
            .map_err(|_| ControlError::Stopped)?;
        rx.await.map_err(|_| ControlError::Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_codes_parse() {
        let c = FeatureCodes::default();
        assert_eq!(c.parse("*61"), Some(AgentRequest::Login));
        assert_eq!(c.parse("*62"), Some(AgentRequest::Logout));
        assert_eq!(c.parse("*64"), Some(AgentRequest::Unpause));
        assert_eq!(
            c.parse("*63"),
            Some(AgentRequest::Pause {
                reason: "break".into()
            })
        );
        assert_eq!(
            c.parse("*631"),
            Some(AgentRequest::Pause {
                reason: "meal".into()
            })
        );
        for bad in ["*639", "*6", "*65", "", "*", "*61 ", "hotline", "*6311"] {
            assert_eq!(c.parse(bad), None, "{bad}");
        }
    }
}
