//! When the ACD next changes by itself, without any input: a wrap-up ends,
//! a waiting call reaches its queue's maximum wait or its skill needs widen.
//! The driver sleeps until then instead of polling on a tick.

use crate::Acd;

impl Acd {
    /// The earliest time after `now` at which [`Acd::poll_offers`] may decide
    /// something it would not decide at `now` (None: nothing pending; only a
    /// new input can change anything). Times already past are returned as
    /// `now`.
    pub fn next_deadline(&self, now: i64) -> Option<i64> {
        let wrap_up = self.wrap_ups.first().map(|&(until, _)| until);
        let waits = self.queues.iter().flat_map(|q| {
            // the oldest call nobody rings for reaches the maximum wait first
            let max_wait = q.cfg.max_wait_ms.and_then(|m| {
                q.unrung
                    .first()
                    .map(|&(since, _, _)| since.saturating_add(m))
            });
            // the oldest call not yet widened widens next
            let widen = q.cfg.widen_after_ms.and_then(|t| {
                q.unrung
                    .iter()
                    .map(|&(since, _, _)| since.saturating_add(t))
                    .find(|at| *at > now)
            });
            [max_wait, widen]
        });
        waits
            .flatten()
            .chain(wrap_up)
            .chain(self.next_hold_end())
            .min()
            .map(|t| t.max(now))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Acd, AcdConfig, CallRequest, QueueConfig, RingResult};
    use hotline_core::{AgentId, CallId, QueueId};

    #[test]
    fn wrap_up_end_and_max_wait_are_the_next_deadlines() {
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: 5_000,
            auto_pause_after_misses: 0,
        });
        let q = QueueId::new("general");
        let mut cfg = QueueConfig::new(q.clone());
        cfg.max_wait_ms = Some(60_000);
        acd.set_queue(cfg);
        assert_eq!(acd.next_deadline(0), None);
        let a = AgentId::new("a1");
        acd.agent_logged_in(&a, 0);
        acd.enqueue_in(&q, CallId::from_stored("c1"), CallRequest::default(), 1_000)
            .expect("queued");
        let offers = acd.poll_offers(1_000);
        assert_eq!(offers.len(), 1);
        // ringing: no max wait while an agent rings
        assert_eq!(acd.next_deadline(1_000), None);
        acd.ring_result(&CallId::from_stored("c1"), &a, RingResult::Answered, 2_000);
        acd.call_ended(&a, 10_000);
        assert_eq!(acd.next_deadline(10_000), Some(15_000));
        acd.enqueue_in(
            &q,
            CallId::from_stored("c2"),
            CallRequest::default(),
            11_000,
        )
        .expect("queued");
        assert_eq!(acd.next_deadline(11_000), Some(15_000));
        acd.poll_offers(15_000);
        // c2 was offered at 15 s (the wrap-up ended): nothing pending
        assert_eq!(acd.next_deadline(15_000), None);
        acd.ring_result(&CallId::from_stored("c2"), &a, RingResult::NoAnswer, 20_000);
        // back to waiting: its max wait is next
        assert_eq!(acd.next_deadline(20_000), Some(71_000));
    }
}
