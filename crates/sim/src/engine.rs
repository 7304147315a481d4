//! The event loop: future events in a heap, fed one by one to the ACD.

use crate::config::{SimConfig, SimError};
use crate::random::Stream;
use crate::report::{Measured, SimReport};
use hotline_acd::{default_queue, Acd, AcdConfig, CallRequest, QueueConfig, RingResult};
use hotline_core::{AgentId, CallId};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

const MS_PER_HOUR: f64 = 3_600_000.0;

/// Something that happens at a simulated time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The next caller rings in.
    Arrival,
    /// A waiting caller's patience runs out (ignored if already answered).
    Abandon(CallId),
    /// A talking call ends: the agent's wrap-up starts.
    HangUp(AgentId),
    /// An agent's wrap-up ends: they can take the next call.
    WrapUpEnd,
}

/// A caller waiting for an agent.
struct Caller {
    arrived_ms: i64,
}

/// One run in progress.
pub(crate) struct Simulation {
    acd: Acd,
    /// Future events by (time, insertion order): ties go first come, first served.
    events: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    now: i64,
    /// Measuring starts here (end of warm-up), ms.
    measure_from: i64,
    /// Nothing happens after this, ms.
    end: i64,
    wrap_up_ms: i64,
    aht_s: f64,
    patience_s: Option<f64>,
    /// Mean time between arrivals, ms.
    interarrival_ms: f64,
    /// Exact (unrounded) time of the next arrival, ms.
    next_arrival: f64,
    arrivals: Stream,
    talk_times: Stream,
    patience: Stream,
    calls_made: u64,
    waiting: HashMap<CallId, Caller>,
    /// Who is talking to which call.
    talking: HashMap<AgentId, CallId>,
    stats: Measured,
    cfg: SimConfig,
}

fn ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

impl Simulation {
    /// A run at time 0: agents logged in and idle, nobody waiting, the first
    /// arrival scheduled.
    pub(crate) fn new(cfg: &SimConfig) -> Result<Self, SimError> {
        cfg.validate()?;
        let wrap_up_ms = ms(cfg.wrap_up_s);
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms,
            auto_pause_after_misses: 0,
        });
        let members: Vec<AgentId> = (0..cfg.agents)
            .map(|i| AgentId::new(format!("a{i}")))
            .collect();
        for a in &members {
            acd.agent_logged_in(a, 0);
        }
        acd.set_queue(QueueConfig {
            strategy: cfg.strategy,
            members,
            ..QueueConfig::new(default_queue())
        });
        let measure_from = (cfg.warmup_hours * MS_PER_HOUR).round() as i64;
        let end = measure_from + (cfg.hours * MS_PER_HOUR).round() as i64;
        let mut sim = Simulation {
            acd,
            events: BinaryHeap::new(),
            seq: 0,
            now: 0,
            measure_from,
            end,
            wrap_up_ms,
            aht_s: cfg.aht_s,
            patience_s: cfg.patience_s,
            interarrival_ms: MS_PER_HOUR / cfg.calls_per_hour,
            next_arrival: 0.0,
            arrivals: Stream::new(cfg.seed, 0),
            talk_times: Stream::new(cfg.seed, 1),
            patience: Stream::new(cfg.seed, 2),
            calls_made: 0,
            waiting: HashMap::new(),
            talking: HashMap::new(),
            stats: Measured::new(measure_from, end, ms(cfg.target_s)),
            cfg: cfg.clone(),
        };
        sim.schedule_arrival();
        Ok(sim)
    }

    fn schedule(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.events.push(Reverse((at, self.seq, event)));
    }

    fn schedule_arrival(&mut self) {
        self.next_arrival += self.arrivals.exponential(self.interarrival_ms);
        let at = self.next_arrival.round() as i64;
        if at <= self.end {
            self.schedule(at, Event::Arrival);
        }
    }

    fn inconsistent(&self, what: String) -> SimError {
        SimError::Inconsistent {
            at_ms: self.now,
            what,
        }
    }

    /// Handles the next event and the offers it allows; false once the run
    /// is over (no event left before its end).
    pub(crate) fn step(&mut self) -> Result<bool, SimError> {
        let Some(Reverse((at, _, event))) = self.events.pop() else {
            return Ok(false);
        };
        if at > self.end {
            return Ok(false);
        }
        self.now = at;
        match event {
            Event::Arrival => self.arrival()?,
            Event::Abandon(call) => self.abandon(&call),
            Event::HangUp(agent) => self.hang_up(&agent)?,
            Event::WrapUpEnd => {}
        }
        self.route()?;
        Ok(true)
    }

    fn arrival(&mut self) -> Result<(), SimError> {
        let call = CallId::from_stored(format!("c{}", self.calls_made));
        self.calls_made += 1;
        let now = self.now;
        self.acd
            .enqueue_in(&default_queue(), call.clone(), CallRequest::default(), now)
            .map_err(|e| self.inconsistent(format!("call {call} refused: {e:?}")))?;
        self.waiting
            .insert(call.clone(), Caller { arrived_ms: now });
        self.stats.arrived(now);
        if let Some(mean) = self.patience_s {
            let at = now + ms(self.patience.exponential(mean));
            self.schedule(at, Event::Abandon(call));
        }
        self.schedule_arrival();
        Ok(())
    }

    fn abandon(&mut self, call: &CallId) {
        if let Some(caller) = self.waiting.remove(call) {
            self.acd.remove_call(call, self.now);
            self.stats.abandoned(caller.arrived_ms, self.now);
        }
    }

    fn hang_up(&mut self, agent: &AgentId) -> Result<(), SimError> {
        if self.talking.remove(agent).is_none() {
            return Err(self.inconsistent(format!("{agent} hung up without a call")));
        }
        self.acd.call_ended(agent, self.now);
        if self.wrap_up_ms > 0 {
            self.schedule(self.now + self.wrap_up_ms, Event::WrapUpEnd);
        }
        Ok(())
    }

    /// Asks the ACD for offers; every offered agent answers at once (with
    /// ring-all the first one rung takes the call, the others stop ringing).
    fn route(&mut self) -> Result<(), SimError> {
        let now = self.now;
        let mut taken = std::collections::HashSet::new();
        for offer in self.acd.poll_offers(now) {
            if taken.contains(&offer.call) {
                self.acd.ring_result(
                    &offer.call,
                    &offer.agent,
                    RingResult::AnsweredElsewhere,
                    now,
                );
                continue;
            }
            taken.insert(offer.call.clone());
            let Some(caller) = self.waiting.remove(&offer.call) else {
                return Err(self.inconsistent(format!("offer for unknown call {}", offer.call)));
            };
            if self.talking.contains_key(&offer.agent) {
                return Err(self.inconsistent(format!("{} offered a second call", offer.agent)));
            }
            self.acd
                .ring_result(&offer.call, &offer.agent, RingResult::Answered, now);
            let talk_ms = ms(self.talk_times.exponential(self.aht_s));
            self.stats
                .answered(caller.arrived_ms, now, talk_ms + self.wrap_up_ms);
            self.talking.insert(offer.agent.clone(), offer.call);
            self.schedule(now + talk_ms, Event::HangUp(offer.agent));
        }
        Ok(())
    }

    /// The figures of the run so far (of the whole run once `step` said false).
    pub(crate) fn report(&self) -> SimReport {
        let still_waiting = self
            .waiting
            .values()
            .filter(|c| c.arrived_ms >= self.measure_from)
            .count() as u64;
        self.stats.report(&self.cfg, still_waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_acd::{AgentState, Strategy};

    /// A busy run: wrap-up, impatient callers, near-full occupancy.
    fn busy(seed: u64, strategy: Strategy) -> SimConfig {
        SimConfig {
            calls_per_hour: 230.0,
            aht_s: 170.0,
            agents: 12,
            hours: 40.0,
            target_s: 20.0,
            patience_s: Some(60.0),
            wrap_up_s: 15.0,
            strategy,
            seed,
            warmup_hours: 1.0,
        }
    }

    /// Checks, after every event, that the ACD and the simulation agree on
    /// who is talking and that nobody holds two calls.
    fn run_checked(cfg: &SimConfig) -> SimReport {
        let mut sim = Simulation::new(cfg).expect("valid config");
        let agents: Vec<AgentId> = (0..cfg.agents)
            .map(|i| AgentId::new(format!("a{i}")))
            .collect();
        let mut steps = 0u64;
        while sim.step().expect("consistent run") {
            steps += 1;
            // check every event early on, then every 7th (keeps debug runs quick)
            if steps > 20_000 && !steps.is_multiple_of(7) {
                continue;
            }
            let mut on_call = 0;
            for a in &agents {
                let state = sim.acd.agent_state(a);
                assert_ne!(
                    state,
                    AgentState::Ringing,
                    "{a}: offers are answered at once"
                );
                assert_ne!(state, AgentState::LoggedOut);
                let talking = sim.talking.contains_key(a);
                assert_eq!(state == AgentState::OnCall, talking, "{a}: {state:?}");
                on_call += usize::from(talking);
            }
            assert_eq!(on_call, sim.talking.len());
            // distinct agents on distinct calls
            let mut calls: Vec<&CallId> = sim.talking.values().collect();
            calls.sort();
            calls.dedup();
            assert_eq!(calls.len(), sim.talking.len(), "a call with two agents");
            assert_eq!(sim.acd.waiting(), sim.waiting.len());
            // nobody waits while an agent is free
            let idle = agents
                .iter()
                .any(|a| matches!(sim.acd.agent_state(a), AgentState::Available { .. }));
            assert!(
                !idle || sim.waiting.is_empty(),
                "a caller waits beside an idle agent"
            );
        }
        sim.report()
    }

    #[test]
    fn every_call_is_accounted_for_and_no_agent_takes_two() {
        for strategy in [
            Strategy::LongestIdle,
            Strategy::RoundRobin,
            Strategy::FewestCalls,
            Strategy::LeastTalkTime,
            Strategy::Linear,
            Strategy::RingAll,
        ] {
            let r = run_checked(&busy(3, strategy));
            assert_eq!(r.answered + r.abandoned + r.still_waiting, r.calls, "{r:?}");
            assert!(r.calls > 8_000, "{r:?}");
            assert!(r.abandoned > 0, "impatient callers abandon: {r:?}");
            assert!((0.0..=1.0).contains(&r.occupancy), "{r:?}");
            assert!((0.0..=1.0).contains(&r.service_level), "{r:?}");
            assert!((0.0..=1.0).contains(&r.abandon_rate), "{r:?}");
            assert!(r.asa_s >= 0.0 && r.max_wait_s >= r.asa_s, "{r:?}");
            // offered 230 × 185 s / 3600 = 11.8 Erlangs on 12 agents
            assert!(r.occupancy > 0.8, "{r:?}");
        }
    }

    #[test]
    fn wrap_up_keeps_the_agent_from_the_next_call() {
        // one agent, wrap-up longer than any wait would otherwise be
        let cfg = SimConfig {
            calls_per_hour: 10.0,
            aht_s: 60.0,
            agents: 1,
            hours: 400.0,
            wrap_up_s: 120.0,
            warmup_hours: 0.0,
            ..SimConfig::default()
        };
        let r = run_checked(&cfg);
        // occupancy counts wrap-up: (60 + 120) s × 10 / 3600 = 0.5, against
        // a talk share of 60 × 10 / 3600 = 0.17 without wrap-up
        assert!(r.occupancy > 0.4, "{r:?}");
        let no_wrap = run_checked(&SimConfig {
            wrap_up_s: 0.0,
            ..cfg.clone()
        });
        assert!(no_wrap.occupancy < 0.25, "{no_wrap:?}");
        // M/G/1 (Pollaczek-Khinchine): ASA 100 s with wrap-up, 12 s without
        assert!(r.asa_s > 2.0 * no_wrap.asa_s, "{r:?} vs {no_wrap:?}");
    }

    #[test]
    fn calls_before_the_warm_up_are_not_measured() {
        let cfg = SimConfig {
            hours: 5.0,
            warmup_hours: 5.0,
            ..SimConfig::default()
        };
        let mut sim = Simulation::new(&cfg).expect("valid");
        while sim.step().expect("consistent") {}
        let r = sim.report();
        // about 1000 arrivals in 5 hours, and as many before
        assert!(
            sim.calls_made > r.calls + 700,
            "{} vs {r:?}",
            sim.calls_made
        );
        assert!((800..1200).contains(&r.calls), "{r:?}");
    }
}
