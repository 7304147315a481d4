//! The HA pair's lease keeper (issue 18, phase 1), sans-IO: a state machine
//! that takes `now` (the node's monotonic clock, ms) and the results of the
//! lease round trips to the database, and decides when to renew, when the
//! node is active (takes new calls, answers OPTIONS 200), when it steps down
//! and when it takes over from another node. The IO around it (the store, the
//! SIP gate, the events) is [`crate::cluster_task`].
//!
//! Why it can neither flap nor overlap: the lease's expiry is computed by the
//! database on its own clock ([`hotline_store::Store::acquire_leases`]); the
//! keeper uses only its local monotonic clock, and only durations on it. A
//! renew sent at local time `s` and granted makes the lease expire at the
//! database's `exec + ttl` (with `exec` after `s`), so the keeper counts its
//! lease as held until `s + ttl − margin`: it steps down before the other
//! node can take the lease, whatever the clocks' offsets, with `margin`
//! (ttl/4) for clock rates that differ. A node is active only while it holds
//! every lease it asked for **and** its last successful round trip to the
//! database was sent within the health window: a node that loses the
//! database stops taking calls instead of routing on stale state.
//!
//! Lives in `hotline-engine` rather than a crate of its own: its only user is
//! the engine's driver task next to it, it needs nothing but `std`, and a
//! crate more would cost the workspace a manifest and a lock-file change for
//! ~300 lines.

use std::collections::VecDeque;

/// The keeper's settings (`[cluster]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSettings {
    /// This node's id (`[cluster] node_id`), written on its events.
    pub node_id: String,
    /// How long a lease lasts after a renewal, database clock, ms.
    pub lease_ttl_ms: i64,
    /// Time between renewals (and between tries to take the leases while
    /// standby), ms.
    pub renew_every_ms: i64,
    /// The node stays active only while its last successful round trip to
    /// the database was sent within this window, ms.
    pub db_health_window_ms: i64,
}

impl ClusterSettings {
    /// The defaults for `node_id`: ttl 6 s, renew every 2 s, health 4 s.
    pub fn new(node_id: impl Into<String>) -> Self {
        ClusterSettings {
            node_id: node_id.into(),
            lease_ttl_ms: 6_000,
            renew_every_ms: 2_000,
            db_health_window_ms: 4_000,
        }
    }

    /// The safety margin: a lease counts as lost `ttl − margin` after the
    /// renewal that last confirmed it was sent (a quarter of the ttl).
    pub fn margin_ms(&self) -> i64 {
        self.lease_ttl_ms / 4
    }

    /// How long after sending a granted renewal the lease counts as held.
    pub fn hold_ms(&self) -> i64 {
        self.lease_ttl_ms - self.margin_ms()
    }

    /// Retry-After seconds for the 503s of a standby node: about when the
    /// other node's lease would have lapsed (at least 1).
    pub fn retry_after_s(&self) -> u32 {
        u32::try_from(((self.lease_ttl_ms + self.renew_every_ms) / 1000).max(1)).unwrap_or(1)
    }
}

/// Why a node is not (or no longer) active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StandbyReason {
    /// Just started: it has not taken the leases yet.
    Starting,
    /// Another node holds the leases.
    HeldBy(String),
    /// No renewal was confirmed within `ttl − margin` (slow or failing
    /// database round trips).
    RenewLate,
    /// No successful round trip to the database within the health window.
    DatabaseUnhealthy,
    /// The node gave its leases up (a clean stop).
    Released,
}

impl StandbyReason {
    /// Short snake_case name (events, metrics, the API).
    pub fn as_str(&self) -> &'static str {
        match self {
            StandbyReason::Starting => "starting",
            StandbyReason::HeldBy(_) => "held_by_other_node",
            StandbyReason::RenewLate => "renew_late",
            StandbyReason::DatabaseUnhealthy => "database_unhealthy",
            StandbyReason::Released => "released",
        }
    }
}

/// What the keeper decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The node holds every lease and the database answers: take calls.
    Active,
    /// Stop taking new calls (503 to INVITE and OPTIONS).
    Standby(StandbyReason),
    /// Leases were taken from these nodes (their lease had lapsed): close
    /// the calls they left open and reload the registrations.
    TookOver(Vec<String>),
}

/// The result of one lease round trip, as the driver read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenewOutcome {
    /// Every lease is ours now; `taken_from`: the other nodes that held
    /// some of them before (leases newly taken), empty on a plain renewal.
    Granted {
        /// Previous owners of leases taken by this round trip.
        taken_from: Vec<String>,
    },
    /// Another node holds (some of) them: nothing changed.
    Refused {
        /// A node holding one of them.
        holder: String,
    },
    /// The round trip failed (database down, timeout).
    Failed,
}

/// The lease keeper of one node.
#[derive(Debug)]
pub struct Keeper {
    cfg: ClusterSettings,
    active: bool,
    reason: StandbyReason,
    /// Local time until which the leases count as held.
    held_until: Option<i64>,
    /// Local time until which the database counts as healthy.
    healthy_until: Option<i64>,
    /// Send time of the round trip under way.
    in_flight: Option<i64>,
    next_try: i64,
    out: VecDeque<Transition>,
    holder: Option<String>,
}

impl Keeper {
    /// A standby keeper that tries to take the leases at once.
    pub fn new(cfg: ClusterSettings, now: i64) -> Keeper {
        Keeper {
            cfg,
            active: false,
            reason: StandbyReason::Starting,
            held_until: None,
            healthy_until: None,
            in_flight: None,
            next_try: now,
            out: VecDeque::new(),
            holder: None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &ClusterSettings {
        &self.cfg
    }

    /// Active: holds the leases and the database answers.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Why the node is standby (meaningless while active).
    pub fn standby_reason(&self) -> &StandbyReason {
        &self.reason
    }

    /// The node that held the leases at the last refusal, if any.
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }

    /// Local time until which the leases count as held, if they do.
    pub fn held_until(&self) -> Option<i64> {
        self.held_until
    }

    /// True when a round trip should be sent now; the driver must answer it
    /// with [`Keeper::handle_renewed`] and the same `now` as `sent_at`. A
    /// round trip unanswered for a ttl counts as failed.
    pub fn poll_renew(&mut self, now: i64) -> bool {
        if let Some(sent) = self.in_flight {
            if now - sent < self.cfg.lease_ttl_ms {
                return false;
            }
            self.handle_renewed(now, sent, RenewOutcome::Failed);
        }
        if now < self.next_try {
            return false;
        }
        self.in_flight = Some(now);
        true
    }

    /// The result of the round trip sent at `sent_at` (an answer to an
    /// older one, given up on, is ignored).
    pub fn handle_renewed(&mut self, now: i64, sent_at: i64, outcome: RenewOutcome) {
        if self.in_flight != Some(sent_at) {
            return;
        }
        self.in_flight = None;
        let every = self.cfg.renew_every_ms;
        match outcome {
            RenewOutcome::Granted { taken_from } => {
                self.healthy_until = Some(sent_at + self.cfg.db_health_window_ms);
                self.held_until = Some(sent_at + self.cfg.hold_ms());
                self.holder = None;
                self.next_try = (sent_at + every).max(now);
                let others: Vec<String> = taken_from
                    .into_iter()
                    .filter(|n| *n != self.cfg.node_id)
                    .collect();
                if !others.is_empty() {
                    self.out.push_back(Transition::TookOver(others));
                }
            }
            RenewOutcome::Refused { holder } => {
                self.healthy_until = Some(sent_at + self.cfg.db_health_window_ms);
                self.held_until = None;
                self.holder = Some(holder);
                self.next_try = now + every;
            }
            RenewOutcome::Failed => {
                // try again sooner while the lease may still be saved
                self.next_try = now + (every / 2).max(100);
            }
        }
        self.evaluate(now);
    }

    /// Time passes: steps down when the lease or the database's health
    /// lapsed.
    pub fn tick(&mut self, now: i64) {
        self.evaluate(now);
    }

    /// Gives the leases up (a clean stop); the driver releases them in the
    /// database.
    pub fn release(&mut self, now: i64) {
        self.held_until = None;
        self.next_try = i64::MAX;
        if self.active {
            self.active = false;
            self.reason = StandbyReason::Released;
            self.out
                .push_back(Transition::Standby(StandbyReason::Released));
        }
        let _ = now;
    }

    /// The next decision, if any.
    pub fn poll_transition(&mut self) -> Option<Transition> {
        self.out.pop_front()
    }

    /// When to call [`Keeper::poll_renew`] / [`Keeper::tick`] next.
    pub fn poll_timeout(&self) -> i64 {
        let mut t = match self.in_flight {
            Some(sent) => sent + self.cfg.lease_ttl_ms,
            None => self.next_try,
        };
        if self.active {
            for until in [self.held_until, self.healthy_until].into_iter().flatten() {
                t = t.min(until);
            }
        }
        t
    }

    fn evaluate(&mut self, now: i64) {
        let held = self.held_until.is_some_and(|u| now < u);
        let healthy = self.healthy_until.is_some_and(|u| now < u);
        if held && healthy {
            if !self.active {
                self.active = true;
                self.out.push_back(Transition::Active);
            }
            return;
        }
        let reason = if let (None, Some(h)) = (self.held_until, &self.holder) {
            StandbyReason::HeldBy(h.clone())
        } else if self.held_until.is_some() && !held {
            StandbyReason::RenewLate
        } else if !healthy && self.healthy_until.is_some() {
            StandbyReason::DatabaseUnhealthy
        } else {
            self.reason.clone()
        };
        self.reason = reason.clone();
        if self.active {
            self.active = false;
            self.out.push_back(Transition::Standby(reason));
        }
    }
}

#[cfg(test)]
mod tests;
