//! The engine's answers to the call flow's questions about the world that
//! are pure: open hours and greeting periods (the schedule) and the audio of
//! the prompts it names.

use crate::{EngineConfig, Prompts};
use hotline_callflow::{Environment, PromptRef};
use hotline_core::QueueId;
use hotline_media::prompt::Prompt;
use std::sync::Arc;

/// The schedule and the loaded prompts, as the call flow sees them.
pub(crate) struct EngineEnv {
    pub cfg: Arc<EngineConfig>,
    pub prompts: Prompts,
}

impl EngineEnv {
    /// The audio of a prompt (empty when it is not configured).
    pub fn resolve(&self, prompt: &PromptRef) -> Vec<Prompt> {
        let cfg = &self.cfg;
        let p = &self.prompts;
        match prompt {
            PromptRef::Greeting(Some(name)) => cfg
                .schedule
                .periods()
                .iter()
                .find(|g| &g.name == name)
                .map(|g| g.greeting.clone())
                .into_iter()
                .collect(),
            PromptRef::Greeting(None) => vec![p.greeting.clone()],
            PromptRef::Music => vec![p.music.clone()],
            PromptRef::Menu => cfg.ivr.iter().map(|m| m.prompt.clone()).collect(),
            PromptRef::Blacklisted => p.blacklisted.iter().cloned().collect(),
            PromptRef::SilentLine => p.silent_line.iter().cloned().collect(),
            PromptRef::Closed => p.closed.iter().cloned().collect(),
            PromptRef::CallbackOffer => cfg
                .callback
                .as_ref()
                .and_then(|c| c.offer.clone())
                .into_iter()
                .collect(),
            PromptRef::CallbackConfirm => cfg
                .callback
                .as_ref()
                .and_then(|c| c.confirm.clone())
                .into_iter()
                .collect(),
            PromptRef::VoicemailGreeting => cfg
                .voicemail
                .as_ref()
                .and_then(|v| v.prompt.clone())
                .into_iter()
                .collect(),
            PromptRef::VoicemailBeep => vec![Prompt::tone("voicemail-beep", 1000.0, 500, 8000)],
            PromptRef::Announcement {
                position,
                expected_wait_ms,
            } => cfg
                .announcements
                .as_ref()
                .map(|a| a.build(*position, *expected_wait_ms))
                .unwrap_or_default(),
            PromptRef::MonitorBeep => vec![Prompt::tone("monitor_beep", 1200.0, 150, 5000)],
            PromptRef::AgentNumber(agent) => p
                .agent_number
                .as_ref()
                .map(|w| w.announce(agent))
                .unwrap_or_default(),
            PromptRef::HoldResume => p.hold_resume.iter().cloned().collect(),
            PromptRef::Closing => p.closing.iter().cloned().collect(),
            PromptRef::LimitTone { exceeded: true } => {
                vec![Prompt::tone("limit_exceeded", 1400.0, 400, 6000)]
            }
            PromptRef::LimitTone { exceeded: false } => {
                vec![Prompt::tone("limit_warning", 1000.0, 200, 6000)]
            }
        }
    }
}

impl Environment for EngineEnv {
    fn is_open(&self, queue: &QueueId, now_ms: i64) -> bool {
        self.cfg.schedule.is_open(queue, now_ms)
    }

    fn greeting(&self, now_ms: i64) -> PromptRef {
        PromptRef::Greeting(self.cfg.schedule.period(now_ms).map(|p| p.name.clone()))
    }

    fn prompt_name(&self, prompt: &PromptRef) -> String {
        if let PromptRef::AgentNumber(agent) = prompt {
            return format!("agent_number:{agent}");
        }
        self.resolve(prompt)
            .first()
            .map(|p| p.name().to_string())
            .unwrap_or_else(|| prompt.name())
    }

    fn prompt_ms(&self, prompt: &PromptRef) -> Option<i64> {
        let audio = self.resolve(prompt);
        if audio.is_empty() {
            return None;
        }
        Some(audio.iter().map(|p| p.duration_ms() as i64).sum())
    }
}
