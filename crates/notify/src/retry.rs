//! The delivery queue and its retry schedule, sans-IO: every method takes
//! `now` (epoch ms); nothing here sleeps, spawns or reads a clock. The
//! notifier's task asks [`Outbox::poll_due`] for work, reports each attempt
//! with [`Outbox::report`] and sleeps until [`Outbox::poll_timeout`].

use std::collections::VecDeque;

/// How often and how far apart a failed delivery is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt, ms; doubled for each further one.
    pub first_delay_ms: i64,
    /// The longest wait between two attempts, ms.
    pub max_delay_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            first_delay_ms: 30_000,
            max_delay_ms: 30 * 60_000,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1 = the first), ms: the
    /// first delay doubled `attempt - 1` times, at most the maximum.
    pub fn delay_after(&self, attempt: u32) -> i64 {
        let doublings = attempt.saturating_sub(1).min(40);
        self.first_delay_ms
            .max(0)
            .saturating_mul(1i64 << doublings)
            .min(self.max_delay_ms.max(0))
    }
}

/// One delivery waiting in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending<T> {
    /// Its number in this outbox (for [`Outbox::report`]).
    pub id: u64,
    /// What to deliver, and where.
    pub job: T,
    /// The attempt the next try is (1 = the first).
    pub attempt: u32,
    /// Not before this instant, epoch ms.
    pub due_ms: i64,
}

/// What became of a delivery after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered.
    Delivered,
    /// Failed; tried again at this instant (epoch ms).
    RetryAt(i64),
    /// Failed for the last time: no more attempts.
    GaveUp,
}

/// The outbox is full: the job was refused (the caller logs it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the notification queue is full ({0} deliveries waiting)")]
pub struct Full(pub usize);

/// Deliveries waiting or in flight, bounded.
#[derive(Debug)]
pub struct Outbox<T> {
    policy: RetryPolicy,
    capacity: usize,
    next_id: u64,
    waiting: VecDeque<Pending<T>>,
    in_flight: Vec<Pending<T>>,
}

impl<T: Clone> Outbox<T> {
    /// An empty outbox holding at most `capacity` deliveries (waiting and in
    /// flight together).
    pub fn new(policy: RetryPolicy, capacity: usize) -> Self {
        Outbox {
            policy,
            capacity: capacity.max(1),
            next_id: 1,
            waiting: VecDeque::new(),
            in_flight: Vec::new(),
        }
    }

    /// Deliveries held (waiting and in flight).
    pub fn len(&self) -> usize {
        self.waiting.len() + self.in_flight.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues a new delivery, due at once.
    pub fn push(&mut self, now: i64, job: T) -> Result<u64, Full> {
        if self.len() >= self.capacity {
            return Err(Full(self.len()));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.waiting.push_back(Pending {
            id,
            job,
            attempt: 1,
            due_ms: now,
        });
        Ok(id)
    }

    /// The next delivery to try now (earliest due first), moved in flight;
    /// None when nothing is due.
    pub fn poll_due(&mut self, now: i64) -> Option<Pending<T>> {
        let (i, _) = self
            .waiting
            .iter()
            .enumerate()
            .filter(|(_, p)| p.due_ms <= now)
            .min_by_key(|(_, p)| (p.due_ms, p.id))?;
        let p = self.waiting.remove(i)?;
        self.in_flight.push(p.clone());
        Some(p)
    }

    /// When the next waiting delivery is due (None: nothing waits).
    pub fn poll_timeout(&self) -> Option<i64> {
        self.waiting.iter().map(|p| p.due_ms).min()
    }

    /// Reports how attempt `id` went; a failure is scheduled again with the
    /// policy's backoff until its attempts are used up. An unknown id (not in
    /// flight) is ignored and reported as given up.
    pub fn report(&mut self, now: i64, id: u64, delivered: bool) -> Verdict {
        let Some(i) = self.in_flight.iter().position(|p| p.id == id) else {
            return Verdict::GaveUp;
        };
        let mut p = self.in_flight.swap_remove(i);
        if delivered {
            return Verdict::Delivered;
        }
        if p.attempt >= self.policy.max_attempts.max(1) {
            return Verdict::GaveUp;
        }
        let at = now.saturating_add(self.policy.delay_after(p.attempt));
        p.attempt += 1;
        p.due_ms = at;
        self.waiting.push_back(p);
        Verdict::RetryAt(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            first_delay_ms: 1_000,
            max_delay_ms: 3_000,
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        assert_eq!(p.delay_after(1), 1_000);
        assert_eq!(p.delay_after(2), 2_000);
        assert_eq!(p.delay_after(3), 3_000);
        assert_eq!(p.delay_after(30), 3_000);
        assert_eq!(p.delay_after(u32::MAX), 3_000);
        let d = RetryPolicy::default();
        assert_eq!(d.delay_after(1), 30_000);
        assert_eq!(d.delay_after(100), 30 * 60_000);
    }

    #[test]
    fn a_failing_target_is_retried_on_schedule_then_given_up() {
        let mut o = Outbox::new(policy(), 10);
        let id = o.push(0, "mail").unwrap();
        let mut now = 0;
        let mut tries = vec![];
        loop {
            let Some(p) = o.poll_due(now) else {
                match o.poll_timeout() {
                    Some(t) => {
                        assert!(t > now);
                        now = t;
                        continue;
                    }
                    None => break,
                }
            };
            assert_eq!(p.id, id);
            tries.push((p.attempt, now));
            match o.report(now, p.id, false) {
                Verdict::RetryAt(t) => assert!(t > now),
                Verdict::GaveUp => {}
                Verdict::Delivered => unreachable!(),
            }
        }
        assert_eq!(tries, vec![(1, 0), (2, 1_000), (3, 3_000), (4, 6_000)]);
        assert!(o.is_empty());
    }

    #[test]
    fn success_on_the_second_attempt_ends_the_delivery() {
        let mut o = Outbox::new(policy(), 10);
        o.push(100, 1u8).unwrap();
        let p = o.poll_due(100).unwrap();
        assert_eq!(o.report(150, p.id, false), Verdict::RetryAt(1_150));
        assert!(o.poll_due(1_149).is_none(), "not before its time");
        let p = o.poll_due(1_150).unwrap();
        assert_eq!(p.attempt, 2);
        assert_eq!(o.report(1_200, p.id, true), Verdict::Delivered);
        assert!(o.is_empty());
        assert_eq!(o.poll_timeout(), None);
    }

    #[test]
    fn the_outbox_is_bounded_and_stray_reports_are_ignored() {
        let mut o = Outbox::new(policy(), 2);
        o.push(0, 'a').unwrap();
        o.push(0, 'b').unwrap();
        assert_eq!(o.push(0, 'c'), Err(Full(2)));
        // in flight still counts
        let p = o.poll_due(0).unwrap();
        assert_eq!(o.push(0, 'c'), Err(Full(2)));
        assert_eq!(o.report(0, 999, true), Verdict::GaveUp);
        assert_eq!(o.report(0, p.id, true), Verdict::Delivered);
        assert!(o.push(0, 'c').is_ok());
    }

    #[test]
    fn one_slow_target_does_not_hold_back_the_others() {
        let mut o = Outbox::new(policy(), 10);
        o.push(0, "smtp").unwrap();
        o.push(0, "webhook").unwrap();
        let a = o.poll_due(0).unwrap();
        let b = o.poll_due(0).unwrap();
        assert_ne!(a.id, b.id);
        assert!(o.poll_due(0).is_none());
        // the webhook answers while the SMTP attempt is still in flight
        assert_eq!(o.report(10, b.id, true), Verdict::Delivered);
        assert_eq!(o.len(), 1);
    }
}
