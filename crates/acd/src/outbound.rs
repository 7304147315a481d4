//! An agent who dials out is busy like an agent on an inbound call: no offer
//! reaches them until the call and its wrap-up are over.

use crate::{Acd, AgentState};
use hotline_core::AgentId;

/// Why an agent may not dial out now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialRefused {
    /// Their phone rings for a call or they are talking.
    Busy,
}

impl Acd {
    /// The agent starts a call of their own (outbound): an available agent
    /// (or one in wrap-up) is on a call from `now`, and wrap-up follows
    /// [`Acd::call_ended`]; a paused or logged-out agent stays so (a paused
    /// agent may call customers back); an agent ringing or talking is
    /// refused.
    pub fn outbound_started(&mut self, agent: &AgentId, now: i64) -> Result<(), DialRefused> {
        let ix = self.agent_mut(agent);
        match self.agents[ix as usize].state {
            AgentState::Ringing | AgentState::OnCall => Err(DialRefused::Busy),
            // not taking calls: they stay as they are
            AgentState::Paused { .. } | AgentState::LoggedOut => Ok(()),
            AgentState::Available { .. } | AgentState::WrapUp { .. } => {
                self.update_agent(ix, |a| {
                    a.state = AgentState::OnCall;
                    a.on_call_since = now;
                    a.call_queue = None;
                });
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AcdConfig, AgentState};
    use hotline_core::{CallId, QueueId};

    #[test]
    fn an_agent_dialling_out_gets_no_offer_until_the_wrap_up_is_over() {
        let mut acd = Acd::new(AcdConfig {
            wrap_up_ms: 5_000,
            auto_pause_after_misses: 0,
        });
        let a = AgentId::new("a1");
        acd.agent_logged_in(&a, 0);
        assert_eq!(acd.outbound_started(&a, 1_000), Ok(()));
        assert_eq!(acd.outbound_started(&a, 1_500), Err(DialRefused::Busy));
        acd.enqueue_in(
            &QueueId::new("general"),
            CallId::from_stored("c1"),
            Default::default(),
            2_000,
        )
        .expect("queued");
        assert!(
            acd.poll_offers(2_000).is_empty(),
            "busy on the outbound call"
        );
        assert_eq!(acd.call_ended(&a, 61_000), Some(5_000));
        assert!(acd.poll_offers(65_999).is_empty(), "wrap-up");
        assert_eq!(acd.poll_offers(66_000).len(), 1);
        assert_eq!(acd.counters(&a).talk_ms, 60_000);
        // a paused agent may dial and stays paused
        let b = AgentId::new("b1");
        acd.agent_logged_in(&b, 0);
        acd.pause(&b, "visits", 0, None).expect("paused");
        assert_eq!(acd.outbound_started(&b, 1_000), Ok(()));
        assert!(matches!(acd.agent_state(&b), AgentState::Paused { .. }));
        assert_eq!(acd.call_ended(&b, 2_000), None);
    }
}
