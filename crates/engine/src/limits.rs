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
    warn_at: Instant,
    exceed_at: Instant,
    warned: bool,
    exceeded: bool,
}

impl LimitWatch {
    /// Starts the clock at the agent's answer (`answered_ms`, epoch ms).
    pub(crate) fn start(cfg: &EngineConfig, call_type: CallType, answered_ms: i64) -> Self {
        let limit_ms = cfg
            .limits
            .get(&call_type)
            .copied()
            .filter(|l| *l > 0)
            .unwrap_or(0);
        let now = Instant::now();
        let warn = (limit_ms as f64 * cfg.limit_warning_fraction.clamp(0.0, 1.0)) as u64;
        LimitWatch {
            call_type,
            limit_ms,
            answered_ms,
            warn_at: now + Duration::from_millis(warn),
            exceed_at: now + Duration::from_millis(limit_ms.max(0) as u64),
            warned: limit_ms == 0,
            exceeded: limit_ms == 0,
        }
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
