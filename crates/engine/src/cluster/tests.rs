//! The keeper alone, then two keepers against a simulated database for
//! hours of simulated time: clock offsets of ±5 s between the nodes and the
//! database (no flapping), a database outage, a slow renewal, a dead node,
//! and the split (both nodes see the database, not each other).

use super::*;

fn cfg(node: &str) -> ClusterSettings {
    ClusterSettings::new(node)
}

#[test]
fn starts_standby_takes_the_leases_and_renews() {
    let mut k = Keeper::new(cfg("a"), 1_000);
    assert!(!k.is_active());
    assert_eq!(k.standby_reason(), &StandbyReason::Starting);
    assert!(k.poll_renew(1_000));
    assert!(!k.poll_renew(1_001), "one round trip at a time");
    k.handle_renewed(
        1_020,
        1_000,
        RenewOutcome::Granted {
            taken_from: vec!["a".into(), "b".into()],
        },
    );
    assert_eq!(
        k.poll_transition(),
        Some(Transition::TookOver(vec!["b".into()]))
    );
    assert_eq!(k.poll_transition(), Some(Transition::Active));
    assert_eq!(k.poll_transition(), None);
    assert!(k.is_active());
    // the next renewal is due renew_every after the send
    assert_eq!(k.poll_timeout(), 3_000);
    assert!(!k.poll_renew(2_999));
    assert!(k.poll_renew(3_000));
    k.handle_renewed(3_010, 3_000, RenewOutcome::Granted { taken_from: vec![] });
    assert_eq!(k.poll_transition(), None, "a renewal changes nothing");
    // renewals stop being confirmed: the health window lapses first (4 s
    // after the last good send), before ttl − margin (4.5 s)
    assert!(k.poll_renew(5_000));
    k.handle_renewed(5_100, 5_000, RenewOutcome::Failed);
    k.tick(6_999);
    assert!(k.is_active());
    k.tick(7_000);
    assert_eq!(
        k.poll_transition(),
        Some(Transition::Standby(StandbyReason::DatabaseUnhealthy))
    );
}

#[test]
fn refused_stays_standby_and_names_the_holder() {
    let mut k = Keeper::new(cfg("b"), 0);
    assert!(k.poll_renew(0));
    k.handle_renewed(5, 0, RenewOutcome::Refused { holder: "a".into() });
    assert!(!k.is_active());
    assert_eq!(k.standby_reason(), &StandbyReason::HeldBy("a".into()));
    assert_eq!(k.holder(), Some("a"));
    assert_eq!(k.poll_transition(), None);
    assert!(!k.poll_renew(1_999));
    assert!(k.poll_renew(2_005));
}

#[test]
fn a_lost_answer_counts_as_failed_and_a_stale_one_is_ignored() {
    let mut k = Keeper::new(cfg("a"), 0);
    assert!(k.poll_renew(0));
    // no answer for a ttl: given up, and a new round trip may go
    assert!(!k.poll_renew(5_999));
    assert_eq!(k.poll_timeout(), 6_000);
    assert!(!k.poll_renew(6_000), "failed: retried after renew_every/2");
    assert!(k.poll_renew(7_000));
    // the old answer arrives late: ignored
    k.handle_renewed(7_001, 0, RenewOutcome::Granted { taken_from: vec![] });
    assert!(!k.is_active());
    k.handle_renewed(7_002, 7_000, RenewOutcome::Granted { taken_from: vec![] });
    assert!(k.is_active());
}

#[test]
fn a_slow_grant_counts_from_its_send_time() {
    let mut k = Keeper::new(cfg("a"), 0);
    assert!(k.poll_renew(0));
    // granted, but the answer took longer than ttl − margin: the lease may
    // already have lapsed on the database's side; never active on it
    k.handle_renewed(4_600, 0, RenewOutcome::Granted { taken_from: vec![] });
    assert!(!k.is_active());
    assert_eq!(k.poll_transition(), None);
    assert_eq!(k.standby_reason(), &StandbyReason::RenewLate);
}

#[test]
fn release_steps_down_and_stops_renewing() {
    let mut k = Keeper::new(cfg("a"), 0);
    assert!(k.poll_renew(0));
    k.handle_renewed(1, 0, RenewOutcome::Granted { taken_from: vec![] });
    assert_eq!(k.poll_transition(), Some(Transition::Active));
    k.release(10);
    assert_eq!(
        k.poll_transition(),
        Some(Transition::Standby(StandbyReason::Released))
    );
    assert!(!k.poll_renew(1_000_000));
    assert_eq!(
        ClusterSettings::new("a").retry_after_s(),
        8,
        "ttl + renew, in s"
    );
}

// ---- two keepers against a simulated database

/// A deterministic pseudo-random source (tests must replay).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below.max(1) as u64) as i64
    }
}

/// The lease row on the simulated database (one lease group: all queues).
#[derive(Default)]
struct Row {
    owner: Option<usize>,
    expires: i64,
    fence: i64,
}

struct Node {
    keeper: Keeper,
    /// local = offset + t + t * ppm / 1e6
    offset: i64,
    ppm: i64,
    alive: bool,
    /// extra one-way latency to the database until this true time
    slow_until: i64,
    slow_ms: i64,
    active_since: Option<i64>,
    transitions: Vec<(i64, Transition)>,
}

impl Node {
    fn local(&self, t: i64) -> i64 {
        self.offset + t + t * self.ppm / 1_000_000
    }
}

struct Sim {
    t: i64,
    db_offset: i64,
    db_down: Vec<(i64, i64)>,
    row: Row,
    nodes: Vec<Node>,
    /// (deliver at true time, node, sent_at local)
    requests: Vec<(i64, usize, i64)>,
    /// (deliver at, node, sent_at, outcome)
    answers: Vec<(i64, usize, i64, RenewOutcome)>,
    rng: Lcg,
    /// true-time ms during which two nodes were active at once
    overlap_ms: i64,
    /// true-time ms during which an active node did not hold the lease on
    /// the database
    unfenced_ms: i64,
}

const STEP: i64 = 10;

impl Sim {
    fn new(offsets: [(i64, i64); 2], db_offset: i64, seed: u64) -> Sim {
        let nodes = ["node-a", "node-b"]
            .iter()
            .zip(offsets)
            .map(|(id, (offset, ppm))| Node {
                keeper: Keeper::new(cfg(id), offset),
                offset,
                ppm,
                alive: true,
                slow_until: 0,
                slow_ms: 0,
                active_since: None,
                transitions: Vec::new(),
            })
            .collect();
        Sim {
            t: 0,
            db_offset,
            db_down: Vec::new(),
            row: Row::default(),
            nodes,
            requests: Vec::new(),
            answers: Vec::new(),
            rng: Lcg(seed),
            overlap_ms: 0,
            unfenced_ms: 0,
        }
    }

    fn db_is_down(&self) -> bool {
        self.db_down.iter().any(|(a, b)| (*a..*b).contains(&self.t))
    }

    fn latency(&mut self, node: usize) -> i64 {
        let base = 1 + self.rng.next(30);
        let n = &self.nodes[node];
        if self.t < n.slow_until {
            base + n.slow_ms
        } else {
            base
        }
    }

    fn run_until(&mut self, end: i64) {
        while self.t < end {
            self.step();
        }
    }

    fn step(&mut self) {
        let t = self.t;
        let db_now = t + self.db_offset;
        // the database executes the requests that reached it
        let (due, later): (Vec<_>, Vec<_>) =
            self.requests.drain(..).partition(|(at, _, _)| *at <= t);
        self.requests = later;
        for (_, node, sent) in due {
            let outcome = if self.db_is_down() {
                // the driver's connect/statement timeout
                self.answers
                    .push((t + 2_000, node, sent, RenewOutcome::Failed));
                continue;
            } else {
                let ttl = self.nodes[node].keeper.settings().lease_ttl_ms;
                let free = self.row.owner.is_none() || self.row.expires <= db_now;
                if self.row.owner == Some(node) || free {
                    let taken_from = match self.row.owner {
                        Some(o) if o != node => {
                            self.row.fence += 1;
                            vec![self.nodes[o].keeper.settings().node_id.clone()]
                        }
                        None => {
                            self.row.fence += 1;
                            vec![]
                        }
                        _ => vec![],
                    };
                    self.row.owner = Some(node);
                    self.row.expires = db_now + ttl;
                    RenewOutcome::Granted { taken_from }
                } else {
                    let o = self.row.owner.unwrap_or_default();
                    RenewOutcome::Refused {
                        holder: self.nodes[o].keeper.settings().node_id.clone(),
                    }
                }
            };
            let back = t + self.latency(node);
            self.answers.push((back, node, sent, outcome));
        }
        // answers reach the nodes; the nodes act
        let (due, later): (Vec<_>, Vec<_>) = self.answers.drain(..).partition(|(at, ..)| *at <= t);
        self.answers = later;
        for (_, node, sent, outcome) in due {
            let n = &mut self.nodes[node];
            if n.alive {
                let now = n.local(t);
                n.keeper.handle_renewed(now, sent, outcome);
            }
        }
        for i in 0..self.nodes.len() {
            if !self.nodes[i].alive {
                continue;
            }
            let now = self.nodes[i].local(t);
            self.nodes[i].keeper.tick(now);
            if self.nodes[i].keeper.poll_renew(now) {
                let at = t + self.latency(i);
                self.requests.push((at, i, now));
            }
            let n = &mut self.nodes[i];
            while let Some(tr) = n.keeper.poll_transition() {
                match tr {
                    Transition::Active => n.active_since = Some(t),
                    Transition::Standby(_) => n.active_since = None,
                    Transition::TookOver(_) => {}
                }
                n.transitions.push((t, tr));
            }
        }
        // the invariants
        let active: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].alive && self.nodes[*i].keeper.is_active())
            .collect();
        if active.len() > 1 {
            self.overlap_ms += STEP;
        }
        for i in active {
            if self.row.owner != Some(i) || self.row.expires <= db_now {
                self.unfenced_ms += STEP;
            }
        }
        self.t += STEP;
    }

    fn kill(&mut self, i: usize) {
        self.nodes[i].alive = false;
        self.nodes[i].active_since = None;
    }

    fn active(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].alive && self.nodes[*i].keeper.is_active())
            .collect()
    }

    fn changes(&self, i: usize) -> usize {
        self.nodes[i]
            .transitions
            .iter()
            .filter(|(_, t)| !matches!(t, Transition::TookOver(_)))
            .count()
    }

    fn assert_safe(&self) {
        assert_eq!(self.overlap_ms, 0, "two nodes active at once");
        assert_eq!(self.unfenced_ms, 0, "active without the lease");
    }
}

const HOUR: i64 = 3_600_000;

#[test]
fn clocks_off_by_seconds_do_not_make_the_leases_flap() {
    for (offsets, db, seed) in [
        ([(5_000, 50), (-5_000, -50)], 0, 1),
        ([(-5_000, 0), (5_000, 30)], 5_000, 2),
        ([(0, -50), (0, 50)], -5_000, 3),
        ([(123_456_789, 20), (-5_000, -20)], 4_999, 4),
    ] {
        let mut sim = Sim::new(offsets, db, seed);
        sim.run_until(3 * HOUR);
        sim.assert_safe();
        let active = sim.active();
        assert_eq!(active.len(), 1, "{offsets:?}");
        let (winner, loser) = (active[0], 1 - active[0]);
        assert_eq!(sim.changes(winner), 1, "active once, never lost it");
        assert_eq!(sim.changes(loser), 0, "never active");
        assert!(
            sim.nodes[winner].active_since.unwrap() < 1_000,
            "active within the first round trips"
        );
        assert_eq!(
            sim.nodes[loser].keeper.standby_reason(),
            &StandbyReason::HeldBy(sim.nodes[winner].keeper.settings().node_id.clone())
        );
    }
}

#[test]
fn a_database_outage_steps_down_within_the_window_and_one_comes_back() {
    let mut sim = Sim::new([(5_000, 10), (-5_000, -10)], 0, 7);
    let window = cfg("x").db_health_window_ms;
    let ttl = cfg("x").lease_ttl_ms;
    for k in 0..4 {
        let start = HOUR / 2 + k * HOUR / 2;
        let (from, to) = (start, start + 60_000 + k * 7_000);
        sim.db_down.push((from, to));
        sim.run_until(from);
        let before = sim.active();
        assert_eq!(before.len(), 1, "outage {k}");
        sim.run_until(from + window + STEP);
        assert!(
            sim.active().is_empty(),
            "outage {k}: stepped down within the window"
        );
        let down_at = sim.nodes[before[0]]
            .transitions
            .iter()
            .rev()
            .find_map(|(t, tr)| matches!(tr, Transition::Standby(_)).then_some(*t))
            .unwrap();
        assert!(down_at > from && down_at <= from + window, "{down_at}");
        assert!(matches!(
            sim.nodes[before[0]].transitions.last(),
            Some((_, Transition::Standby(StandbyReason::DatabaseUnhealthy)))
        ));
        sim.run_until(to);
        assert!(
            sim.active().is_empty(),
            "nobody active without the database"
        );
        // back: exactly one node active again within ttl + renew
        sim.run_until(to + ttl + 2_000 + 2_000);
        assert_eq!(sim.active().len(), 1, "outage {k}");
    }
    sim.run_until(3 * HOUR);
    sim.assert_safe();
    // 4 outages: at most down and up again each time, per node
    assert!(
        sim.changes(0) + sim.changes(1) <= 1 + 4 * 2,
        "{:?}",
        sim.nodes[0].transitions
    );
}

#[test]
fn a_slow_renewal_hands_over_without_overlap() {
    let mut sim = Sim::new([(5_000, 0), (-5_000, 0)], 2_000, 11);
    sim.run_until(HOUR);
    let a = sim.active()[0];
    let b = 1 - a;
    // the holder's link to the database slows to 6 s each way for a minute
    sim.nodes[a].slow_until = HOUR + 60_000;
    sim.nodes[a].slow_ms = 6_000;
    sim.run_until(HOUR + 20_000);
    sim.assert_safe();
    assert_eq!(sim.active(), vec![b], "the other node took over");
    assert!(sim.nodes[b]
        .transitions
        .iter()
        .any(|(_, t)| *t
            == Transition::TookOver(vec![sim.nodes[a].keeper.settings().node_id.clone()])));
    sim.run_until(3 * HOUR);
    sim.assert_safe();
    assert_eq!(
        sim.active(),
        vec![b],
        "it stays with the new owner: no flapping back"
    );
    assert_eq!(sim.changes(a), 2, "active, then down once");
    assert_eq!(sim.changes(b), 1);
}

#[test]
fn a_dead_node_is_replaced_within_ttl_plus_renew() {
    let ttl = cfg("x").lease_ttl_ms;
    let every = cfg("x").renew_every_ms;
    for seed in 20..30 {
        let mut sim = Sim::new([(5_000, 40), (-5_000, -40)], -3_000, seed);
        sim.run_until(HOUR / 4 + seed as i64 * 777);
        let a = sim.active()[0];
        let b = 1 - a;
        let killed = sim.t;
        sim.kill(a);
        sim.run_until(killed + ttl + every + 200);
        sim.assert_safe();
        assert_eq!(sim.active(), vec![b], "seed {seed}");
        let (at, _) = sim.nodes[b]
            .transitions
            .iter()
            .find(|(_, t)| *t == Transition::Active)
            .unwrap();
        assert!(
            *at - killed <= ttl + every + 200,
            "seed {seed}: {}",
            at - killed
        );
        assert!(sim.nodes[b].transitions.iter().any(|(_, t)| matches!(
            t,
            Transition::TookOver(from) if from == &vec![sim.nodes[a].keeper.settings().node_id.clone()]
        )));
        // the dead node comes back (a restart): it stays standby
        sim.nodes[a].alive = true;
        sim.nodes[a].keeper = Keeper::new(
            cfg(if a == 0 { "node-a" } else { "node-b" }),
            sim.nodes[a].local(sim.t),
        );
        sim.nodes[a].transitions.clear();
        sim.run_until(sim.t + HOUR / 4);
        sim.assert_safe();
        assert_eq!(sim.active(), vec![b]);
        assert_eq!(sim.changes(a), 0);
    }
}

#[test]
fn split_both_see_the_database_not_each_other_exactly_one_active() {
    // the nodes never talk to each other in this design: the split is the
    // normal case; hammer it with a database whose answers jitter widely
    // and a start at the same instant
    for seed in 40..50 {
        let mut sim = Sim::new([(0, 0), (0, 0)], 0, seed);
        for n in &mut sim.nodes {
            n.slow_until = 2 * HOUR;
            n.slow_ms = 0;
        }
        let mut t = 0;
        while t < 2 * HOUR {
            // every 10 minutes a burst of slow answers on one side or the other
            let i = (t / 600_000 % 2) as usize;
            sim.nodes[i].slow_until = t + 30_000;
            sim.nodes[i].slow_ms = 1_500 + (seed as i64 % 5) * 1_000;
            sim.run_until(t + 600_000);
            assert!(sim.active().len() <= 1);
            t += 600_000;
        }
        sim.assert_safe();
        sim.run_until(2 * HOUR + 30_000);
        assert_eq!(sim.active().len(), 1, "seed {seed}");
    }
}
