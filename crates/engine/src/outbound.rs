//! Agents calling customers: an agent's phone dials the dial prefix (`9`)
//! and the number; the engine authenticates the agent (the SIP layer
//! challenges INVITEs to the prefix like feature codes), checks the dial
//! rules and calls the number through the gateway, then bridges and records
//! the call like any other (`hotline_callflow::Call::outbound`).

use hotline_core::{AgentId, CallType};
use std::net::SocketAddr;
use std::sync::Arc;

/// A reason besides the allowed prefixes for `agent` to dial `number` (the
/// "no private calls" rule): the number is on one of their open work items,
/// or it is the customer of a complaint case they own. Consulted
/// synchronously by the engine when an agent dials, so it must be cheap (an
/// in-memory index, no IO).
pub trait DialPermit: Send + Sync {
    /// `agent` owes `number` a call.
    fn may_dial(&self, agent: &AgentId, number: &str) -> bool;
}

/// The case owner owes the customer of their open case the reply call
/// (首问负责制).
impl DialPermit for crate::owners::CaseOwners {
    fn may_dial(&self, agent: &AgentId, number: &str) -> bool {
        self.owner_of(number).is_some_and(|o| &o.agent == agent)
    }
}

/// The [`DialPermit`]s consulted (none: only the allowed prefixes count).
#[derive(Clone, Default)]
pub struct Permit(Vec<(&'static str, Arc<dyn DialPermit>)>);

impl Permit {
    /// Adds a source, named for logs (`work list`, `case owner`).
    pub fn with(mut self, name: &'static str, p: Arc<dyn DialPermit>) -> Self {
        self.0.push((name, p));
        self
    }

    /// Whether a source lets `agent` dial `number`.
    pub fn allows(&self, agent: &AgentId, number: &str) -> bool {
        self.0.iter().any(|(_, p)| p.may_dial(agent, number))
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(n, _)| *n).collect();
        write!(f, "Permit({})", names.join(", "))
    }
}

#[cfg(test)]
mod permit_tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_case_owner_may_dial_their_customer_and_nobody_elses() {
        let owners = crate::owners::CaseOwners::new();
        owners.replace(HashMap::from([(
            "0612".to_string(),
            crate::owners::Owner {
                agent: AgentId::new("1001"),
                case_id: 3,
            },
        )]));
        let none = Permit::default();
        assert!(!none.allows(&AgentId::new("1001"), "0612"));
        let p = Permit::default().with("case owner", Arc::new(owners));
        assert!(p.allows(&AgentId::new("1001"), "0612"));
        assert!(!p.allows(&AgentId::new("1002"), "0612"));
        assert!(!p.allows(&AgentId::new("1001"), "0613"));
        assert_eq!(format!("{p:?}"), "Permit(case owner)");
    }
}

/// How agents dial out.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// What an agent dials before the number (`9`).
    pub prefix: String,
    /// Request-URI to call a number, `{number}` replaced by it:
    /// `sip:{number}@192.0.2.10:5060`.
    pub dial: String,
    /// Where that INVITE is sent (the gateway or trunk).
    pub gateway: SocketAddr,
    /// A number must start with one of these (empty: any number).
    pub allowed_prefixes: Vec<String>,
    /// How long the customer's phone rings, ms.
    pub answer_timeout_ms: i64,
    /// The type of an outbound call (its handle-time limit).
    pub call_type: CallType,
    /// Numbers allowed besides the prefixes: those on the agent's open
    /// work items and the customers of the complaint cases they own.
    pub permit: Permit,
    /// The trunk calls go through (`[[trunks]]` name); None: `dial` and
    /// `gateway`, a plain gateway without credentials, limit or probes.
    pub trunk: Option<String>,
}

impl OutboundConfig {
    /// The number an agent dialled (`dialled` without the prefix), or None
    /// when it is not a call out.
    pub fn number<'a>(&self, dialled: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return None;
        }
        dialled.strip_prefix(self.prefix.as_str())
    }

    /// The Request-URI to call `number`, or None for a number that cannot
    /// be dialled.
    pub fn uri_for(&self, number: &str) -> Option<String> {
        hotline_callflow::dialable(number).then(|| self.dial.replace("{number}", number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_stripped_and_only_numbers_are_dialled() {
        let c = OutboundConfig {
            prefix: "9".into(),
            dial: "sip:{number}@127.0.0.1:5070".into(),
            gateway: SocketAddr::from(([127, 0, 0, 1], 5070)),
            allowed_prefixes: Vec::new(),
            answer_timeout_ms: 30_000,
            call_type: CallType::Callback,
            permit: Permit::default(),
            trunk: None,
        };
        assert_eq!(c.number("90612345678"), Some("0612345678"));
        assert_eq!(c.number("*61"), None);
        assert_eq!(
            c.uri_for("0612").as_deref(),
            Some("sip:0612@127.0.0.1:5070")
        );
        assert_eq!(c.uri_for("06@evil"), None);
        let off = OutboundConfig {
            prefix: String::new(),
            ..c
        };
        assert_eq!(off.number("90612"), None);
    }
}
