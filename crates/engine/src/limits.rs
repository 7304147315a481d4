//! The handle-time clock of a call in progress: when the warning is due and
//! when the limit of the call's type is exceeded (both counted from the
//! agent's answer).

use crate::EngineConfig;
use hotline_core::{CallType, EventKind};
use tokio::time::{Duration, Instant};

/// Tracks one talking call against its type's limit.
pub(crate) struct LimitWatch {
    call_type: CallType,
    limit_ms: i64,
    answered_ms: i64,
    answered_at: Instant,
    warn_at: Instant,
    exceed_at: Instant,
    warned: bool,
    exceeded: bool,
}

impl LimitWatch {
    /// Starts the clock at the agent's answer (`answered_ms` epoch ms,
    /// `answered_at` the same moment on the monotonic clock).
    pub(crate) fn start(
        cfg: &EngineConfig,
        call_type: CallType,
        answered_ms: i64,
        answered_at: Instant,
    ) -> Self {
        let mut w = LimitWatch {
            call_type,
            limit_ms: 0,
            answered_ms,
            answered_at,
            warn_at: answered_at,
            exceed_at: answered_at,
            warned: true,
            exceeded: true,
        };
        w.retype(cfg, call_type);
        w
    }

    /// The call's type changed (the agent's disposition): the new type's
    /// limit applies, counted from the answer as if it had been the type from
    /// the start. Signals already past for the new limit fire at once.
    pub(crate) fn retype(&mut self, cfg: &EngineConfig, call_type: CallType) {
        let limit_ms = cfg
            .limits
            .get(&call_type)
            .copied()
            .filter(|l| *l > 0)
            .unwrap_or(0);
        let warn = (limit_ms as f64 * cfg.limit_warning_fraction.clamp(0.0, 1.0)) as u64;
        self.call_type = call_type;
        self.limit_ms = limit_ms;
        self.warn_at = self.answered_at + Duration::from_millis(warn);
        self.exceed_at = self.answered_at + Duration::from_millis(limit_ms.max(0) as u64);
        self.warned = limit_ms == 0;
        self.exceeded = limit_ms == 0;
    }

    /// When something is next due (None: nothing left to signal).
    pub(crate) fn next(&self) -> Option<Instant> {
        if !self.warned {
            Some(self.warn_at)
        } else if !self.exceeded {
            Some(self.exceed_at)
        } else {
            None
        }
    }

    /// Called when [`next`](Self::next) is reached: the event to emit.
    pub(crate) fn fire(&mut self, now_ms: i64) -> Option<EventKind> {
        let (call_type, limit_ms) = (self.call_type, self.limit_ms);
        if !self.warned {
            self.warned = true;
            let talk_ms = now_ms - self.answered_ms;
            tracing::info!(?call_type, limit_ms, talk_ms, "handle-time limit near");
            Some(EventKind::LimitWarning {
                call_type,
                limit_ms,
                talk_ms,
            })
        } else if !self.exceeded {
            self.exceeded = true;
            tracing::warn!(?call_type, limit_ms, "handle-time limit exceeded");
            Some(EventKind::LimitExceeded {
                call_type,
                limit_ms,
            })
        } else {
            None
        }
    }
}
