//! The handle-time clock of a talking call: when the warning is due and when
//! the limit of the call's type is exceeded, both counted from the agent's
//! answer. Pure: times are epoch ms given by the caller.

use crate::settings::FlowSettings;
use hotline_core::{CallType, EventKind};

/// Tracks one talking call against its type's limit.
#[derive(Clone, Debug)]
pub struct LimitClock {
    call_type: CallType,
    limit_ms: i64,
    answered_ms: i64,
    warn_at: i64,
    exceed_at: i64,
    warned: bool,
    exceeded: bool,
}

impl LimitClock {
    /// Starts the clock at the agent's answer.
    pub fn start(cfg: &FlowSettings, call_type: CallType, answered_ms: i64) -> Self {
        let mut w = LimitClock {
            call_type,
            limit_ms: 0,
            answered_ms,
            warn_at: answered_ms,
            exceed_at: answered_ms,
            warned: true,
            exceeded: true,
        };
        w.retype(cfg, call_type);
        w
    }

    /// The call's type changed: the new type's limit applies, counted from
    /// the answer; signals already past fire at the next poll.
    pub fn retype(&mut self, cfg: &FlowSettings, call_type: CallType) {
        let limit_ms = cfg.limit_ms(call_type).unwrap_or(0);
        let warn = (limit_ms as f64 * cfg.limit_warning_fraction.clamp(0.0, 1.0)) as i64;
        self.call_type = call_type;
        self.limit_ms = limit_ms;
        self.warn_at = self.answered_ms + warn;
        self.exceed_at = self.answered_ms + limit_ms.max(0);
        self.warned = limit_ms == 0;
        self.exceeded = limit_ms == 0;
    }

    /// The limit of the call's type, ms (None: the type has none).
    pub fn limit_ms(&self) -> Option<i64> {
        (self.limit_ms > 0).then_some(self.limit_ms)
    }

    /// When something is next due, epoch ms (None: nothing left to signal).
    pub fn next(&self) -> Option<i64> {
        if !self.warned {
            Some(self.warn_at)
        } else if !self.exceeded {
            Some(self.exceed_at)
        } else {
            None
        }
    }

    /// The signal due at `now_ms`, if any (call until None).
    pub fn fire(&mut self, now_ms: i64) -> Option<EventKind> {
        let (call_type, limit_ms) = (self.call_type, self.limit_ms);
        if !self.warned && self.warn_at <= now_ms {
            self.warned = true;
            Some(EventKind::LimitWarning {
                call_type,
                limit_ms,
                talk_ms: now_ms - self.answered_ms,
            })
        } else if self.warned && !self.exceeded && self.exceed_at <= now_ms {
            self.exceeded = true;
            Some(EventKind::LimitExceeded {
                call_type,
                limit_ms,
            })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_then_limit_and_a_retype_rebases_on_the_answer() {
        let cfg = FlowSettings::basic(&[]);
        let mut c = LimitClock::start(&cfg, CallType::Order, 1_000);
        assert_eq!(c.limit_ms(), Some(60_000));
        assert_eq!(c.next(), Some(1_000 + 48_000));
        assert_eq!(c.fire(40_000), None);
        assert!(matches!(
            c.fire(49_000),
            Some(EventKind::LimitWarning {
                talk_ms: 48_000,
                ..
            })
        ));
        assert_eq!(c.next(), Some(61_000));
        assert!(matches!(
            c.fire(61_000),
            Some(EventKind::LimitExceeded {
                limit_ms: 60_000,
                ..
            })
        ));
        assert_eq!(c.next(), None);
        // an inquiry re-typed as an order 70 s after the answer: both at once
        let mut c = LimitClock::start(&cfg, CallType::Inquiry, 0);
        c.retype(&cfg, CallType::Order);
        assert!(matches!(
            c.fire(70_000),
            Some(EventKind::LimitWarning { .. })
        ));
        assert!(matches!(
            c.fire(70_000),
            Some(EventKind::LimitExceeded { .. })
        ));
        // a type without a limit signals nothing
        let mut c = LimitClock::start(&cfg, CallType::Complaint, 0);
        assert_eq!(
            (c.limit_ms(), c.next(), c.fire(i64::MAX)),
            (None, None, None)
        );
    }
}
