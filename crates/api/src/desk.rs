//! The agent's desk: which call rings or talks at each agent, folded from
//! the engine's events by the live task ([`DeskBook`]), and the customer's
//! card for it, `GET /api/agents/{id}/customer`: name, VIP, blacklist entry,
//! open complaint cases with their owner (首问负责制: the owner sees it is
//! their case), the last call and note, the number of calls. The console's
//! desk page and the softphone show it while the phone rings.
//!
//! An agent's session may read only their own card; supervisors and the
//! bearer token any agent's. The card is read from the store on request,
//! never on the call's path.

use crate::api::JsonPath;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hotline_core::{CallEvent, EventKind};
use serde::Serialize;

use crate::engine::Api;

/// Callers remembered by call id (from `arrived`) before the call reaches
/// an agent; the oldest are forgotten first.
pub const REMEMBERED_CALLERS: usize = 4096;

/// Where an agent's call stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeskState {
    /// Offered: the agent's phone rings.
    Ringing,
    /// The agent answered.
    Talking,
}

/// The call at an agent's desk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeskCall {
    /// The call.
    pub call_id: String,
    /// The customer's number (the caller's, or the one called).
    pub number: Option<String>,
    /// Ringing or talking.
    pub state: DeskState,
    /// Since when, epoch ms.
    pub since_ms: i64,
}

/// Every agent's current call, from the engine's events (sans-IO: fold with
/// [`apply`](Self::apply)).
#[derive(Debug, Default)]
pub struct DeskBook {
    callers: HashMap<String, String>,
    order: VecDeque<String>,
    agents: HashMap<String, DeskCall>,
}

impl DeskBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event.
    pub fn apply(&mut self, e: &CallEvent) {
        let Some(call) = e.call_id.as_ref().map(|c| c.as_str().to_string()) else {
            return;
        };
        let agent = e.agent.as_ref().map(|a| a.as_str().to_string());
        match (&e.kind, agent) {
            (EventKind::Arrived { caller, .. }, _) => {
                if !self.callers.contains_key(&call) {
                    if self.order.len() >= REMEMBERED_CALLERS {
                        if let Some(old) = self.order.pop_front() {
                            self.callers.remove(&old);
                        }
                    }
                    self.order.push_back(call.clone());
                }
                self.callers.insert(call, caller.number.clone());
            }
            (EventKind::Offered { .. }, Some(a)) => {
                let number = self.callers.get(&call).cloned();
                self.agents.insert(
                    a,
                    DeskCall {
                        call_id: call,
                        number,
                        state: DeskState::Ringing,
                        since_ms: e.at_ms,
                    },
                );
            }
            (EventKind::AgentAnswered { .. }, Some(a)) => {
                let number = self.callers.get(&call).cloned();
                self.agents.insert(
                    a,
                    DeskCall {
                        call_id: call,
                        number,
                        state: DeskState::Talking,
                        since_ms: e.at_ms,
                    },
                );
            }
            (
                EventKind::AgentRingNoAnswer { .. }
                | EventKind::AgentRejected { .. }
                | EventKind::AgentUnreachable { .. }
                | EventKind::WrapUp { .. },
                Some(a),
            ) if self.agents.get(&a).is_some_and(|d| d.call_id == call) => {
                self.agents.remove(&a);
            }
            (
                EventKind::Completed { .. }
                | EventKind::Failed { .. }
                | EventKind::Abandoned { .. }
                | EventKind::Transferred { .. },
                _,
            ) => {
                self.agents.retain(|_, d| d.call_id != call);
                if !matches!(e.kind, EventKind::Transferred { .. }) {
                    self.callers.remove(&call);
                }
            }
            _ => {}
        }
    }

    /// The call ringing or talking at `agent`, if any.
    pub fn call_of(&self, agent: &str) -> Option<&DeskCall> {
        self.agents.get(agent)
    }
}

/// The desk book shared by the live task (writer) and the route (reader).
pub type SharedDesk = Arc<Mutex<DeskBook>>;

/// `GET /api/agents/{id}/customer`: the call at the agent's desk and its
/// customer's card (`call: null` when the agent has none).
pub async fn customer(
    State(api): State<Api>,
    JsonPath(agent): JsonPath<String>,
    headers: HeaderMap,
) -> Response {
    let who = crate::auth::principal(
        Some(&api.console),
        api.console.api_token(),
        &headers,
        false,
        hotline_store::Role::Agent,
        crate::auth::NoToken::Disabled("the agent's desk"),
    )
    .await;
    match who {
        Ok(p) if p.role == hotline_store::Role::Agent && p.name != agent => {
            return crate::ApiError::forbidden("an agent sees only the customer at their own desk")
                .into_response()
        }
        Ok(_) => {}
        Err(e) => return e.into_response(),
    }
    if agent.is_empty() || agent.len() > 64 || agent.chars().any(char::is_control) {
        return crate::ApiError::bad_request("agent: 1-64 characters").into_response();
    }
    let call = api.live.desk_call(&agent);
    let Some(call) = call else {
        return Json(serde_json::json!({ "agent": agent, "call": null, "card": null }))
            .into_response();
    };
    let card = match call.number.as_deref() {
        Some(n) => match crate::cases::customer_card(&api.console, n).await {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        },
        None => serde_json::Value::Null,
    };
    (
        StatusCode::OK,
        Json(serde_json::json!({ "agent": agent, "call": call, "card": card })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use hotline_core::{AgentId, CallId, CallType, Party};

    fn ev(at: i64, call: &str, agent: Option<&str>, kind: EventKind) -> CallEvent {
        CallEvent {
            at_ms: at,
            call_id: Some(CallId::from_stored(call)),
            agent: agent.map(AgentId::new),
            queue: None,
            kind,
        }
    }

    fn arrived(number: &str) -> EventKind {
        EventKind::Arrived {
            caller: Party {
                number: number.into(),
                display: None,
            },
            dialled: "hotline".into(),
            call_type: CallType::Inquiry,
        }
    }

    #[test]
    fn a_call_rings_talks_and_leaves_the_desk() {
        let mut d = DeskBook::new();
        d.apply(&ev(0, "c1", None, arrived("0612")));
        assert!(d.call_of("1001").is_none());
        d.apply(&ev(
            5,
            "c1",
            Some("1001"),
            EventKind::Offered {
                contact: "x".into(),
            },
        ));
        let c = d.call_of("1001").unwrap();
        assert_eq!(
            (c.number.as_deref(), c.state),
            (Some("0612"), DeskState::Ringing)
        );
        d.apply(&ev(
            9,
            "c1",
            Some("1001"),
            EventKind::AgentAnswered {
                wait_ms: 9,
                rings: 1,
                limit_ms: None,
            },
        ));
        assert_eq!(d.call_of("1001").unwrap().state, DeskState::Talking);
        d.apply(&ev(
            99,
            "c1",
            Some("1001"),
            EventKind::Completed {
                talk_ms: 90,
                ended_by: hotline_core::EndedBy::Caller,
            },
        ));
        assert!(d.call_of("1001").is_none());
    }

    #[test]
    fn a_missed_offer_clears_only_its_own_call() {
        let mut d = DeskBook::new();
        d.apply(&ev(0, "c1", None, arrived("0612")));
        d.apply(&ev(0, "c2", None, arrived("0613")));
        d.apply(&ev(
            1,
            "c1",
            Some("1001"),
            EventKind::Offered {
                contact: "x".into(),
            },
        ));
        // a late no-answer of an older call leaves the new offer alone
        d.apply(&ev(
            2,
            "c0",
            Some("1001"),
            EventKind::AgentRingNoAnswer { rang_ms: 1 },
        ));
        assert_eq!(d.call_of("1001").unwrap().call_id, "c1");
        d.apply(&ev(
            3,
            "c1",
            Some("1001"),
            EventKind::AgentRingNoAnswer { rang_ms: 2 },
        ));
        assert!(d.call_of("1001").is_none());
        d.apply(&ev(
            4,
            "c2",
            Some("1002"),
            EventKind::Offered {
                contact: "y".into(),
            },
        ));
        d.apply(&ev(
            5,
            "c2",
            None,
            EventKind::Abandoned {
                wait_ms: 5,
                position: 1,
            },
        ));
        assert!(d.call_of("1002").is_none());
    }

    #[test]
    fn the_callers_remembered_are_bounded() {
        let mut d = DeskBook::new();
        for i in 0..(REMEMBERED_CALLERS + 10) {
            d.apply(&ev(0, &format!("c{i}"), None, arrived("0612")));
        }
        assert_eq!(d.callers.len(), REMEMBERED_CALLERS);
        assert_eq!(d.order.len(), REMEMBERED_CALLERS);
        // the oldest are gone: an offer of one knows no number
        d.apply(&ev(
            1,
            "c0",
            Some("1001"),
            EventKind::Offered {
                contact: "x".into(),
            },
        ));
        assert_eq!(d.call_of("1001").unwrap().number, None);
    }
}
