//! The location service: which contacts each agent has registered, until when.

use std::collections::HashMap;
use std::net::SocketAddr;

/// How the agent's phone reached us (and so how we reach it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SipTransport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP (`;transport=tls`).
    Tls,
}

/// One registered contact of an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI the phone registered, as text.
    pub contact: String,
    /// Where the REGISTER came from (INVITEs go there only where NAT is
    /// evident or configured: see [`crate::reach`]).
    pub source: SocketAddr,
    /// Transport it came over.
    pub transport: SipTransport,
    /// Expiry, epoch ms.
    pub expires_at_ms: i64,
    /// Call-ID of the registration (a new Call-ID with the same contact replaces it).
    pub call_id: String,
    /// CSeq number of the last REGISTER accepted for this binding.
    pub cseq: u32,
    /// The REGISTER's `Path` URIs, in order (RFC 3327): requests to this
    /// contact carry them as `Route`. Empty without proxies between.
    pub path: Vec<String>,
    /// Send to `source` whatever the Contact says (an agent configured
    /// `nat = true`, or a gateway given by address).
    pub nat: bool,
}

impl Binding {
    /// Where requests to this contact go (see [`crate::reach::target`]).
    pub fn target(&self) -> crate::reach::Target {
        crate::reach::target(&self.contact, self.source, &self.path, self.nat)
    }
}

/// What an update of the bindings changed, for events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingChange {
    /// A contact was added or refreshed for `expires_s` seconds.
    Added {
        /// The agent.
        agent: String,
        /// The contact.
        contact: String,
        /// Seconds.
        expires_s: u32,
    },
    /// A contact was removed (expires=0, `*`, or timed out).
    Removed {
        /// The agent.
        agent: String,
        /// The contact.
        contact: String,
    },
}

/// All agents' bindings. Bounded: at most `max_contacts` per agent.
#[derive(Debug, Default)]
pub struct Location {
    bindings: HashMap<String, Vec<Binding>>,
    max_contacts: usize,
    /// Bumped by every change (for the write-behind of the bindings).
    generation: u64,
}

/// A REGISTER that must be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// CSeq not higher than the last one for this Call-ID (RFC 3261 §10.3 step 7).
    #[error("out-of-order REGISTER (CSeq not increasing)")]
    OutOfOrder,
    /// More contacts than allowed.
    #[error("too many contacts for this agent")]
    TooManyContacts,
}

impl Location {
    /// An empty location service allowing `max_contacts` contacts per agent.
    pub fn new(max_contacts: usize) -> Self {
        Location {
            bindings: HashMap::new(),
            max_contacts: max_contacts.max(1),
            generation: 0,
        }
    }

    /// Applies one contact of a REGISTER: `expires_s == 0` removes it.
    pub fn update(
        &mut self,
        agent: &str,
        binding: Binding,
        expires_s: u32,
        now_ms: i64,
    ) -> Result<Option<BindingChange>, RegisterError> {
        self.generation += 1;
        let list = self.bindings.entry(agent.to_string()).or_default();
        let existing = list.iter().position(|b| b.contact == binding.contact);
        if let Some(i) = existing {
            if list[i].call_id == binding.call_id && binding.cseq <= list[i].cseq {
                return Err(RegisterError::OutOfOrder);
            }
        }
        if expires_s == 0 {
            return Ok(existing.map(|i| {
                let b = list.remove(i);
                BindingChange::Removed {
                    agent: agent.to_string(),
                    contact: b.contact,
                }
            }));
        }
        let contact = binding.contact.clone();
        let binding = Binding {
            expires_at_ms: now_ms + i64::from(expires_s) * 1000,
            ..binding
        };
        match existing {
            Some(i) => list[i] = binding,
            None => {
                if list.len() >= self.max_contacts {
                    return Err(RegisterError::TooManyContacts);
                }
                list.push(binding)
            }
        }
        Ok(Some(BindingChange::Added {
            agent: agent.to_string(),
            contact,
            expires_s,
        }))
    }

    /// Removes every contact of `agent` (`Contact: *`).
    pub fn remove_all(&mut self, agent: &str) -> Vec<BindingChange> {
        self.generation += 1;
        self.bindings
            .remove(agent)
            .unwrap_or_default()
            .into_iter()
            .map(|b| BindingChange::Removed {
                agent: agent.to_string(),
                contact: b.contact,
            })
            .collect()
    }

    /// Drops bindings that expired before `now_ms`.
    pub fn expire(&mut self, now_ms: i64) -> Vec<BindingChange> {
        let mut out = Vec::new();
        for (agent, list) in self.bindings.iter_mut() {
            list.retain(|b| {
                let keep = b.expires_at_ms > now_ms;
                if !keep {
                    out.push(BindingChange::Removed {
                        agent: agent.clone(),
                        contact: b.contact.clone(),
                    });
                }
                keep
            });
        }
        self.bindings.retain(|_, l| !l.is_empty());
        if !out.is_empty() {
            self.generation += 1;
        }
        out
    }

    /// Puts back a binding saved before a restart: false (and nothing
    /// changes) when it has expired at `now_ms`, its contact is already on
    /// record, or the agent has `max_contacts` already.
    pub fn restore(&mut self, agent: &str, binding: Binding, now_ms: i64) -> bool {
        if binding.expires_at_ms <= now_ms {
            return false;
        }
        let list = self.bindings.entry(agent.to_string()).or_default();
        if list.len() >= self.max_contacts || list.iter().any(|b| b.contact == binding.contact) {
            return false;
        }
        list.push(binding);
        self.generation += 1;
        true
    }

    /// A number that changes whenever the bindings change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Makes the bindings exactly `wanted` (agent, binding), as read from a
    /// registrar elsewhere (Kamailio's `location` table): a contact not on
    /// record is [`BindingChange::Added`], one on record and not wanted is
    /// [`BindingChange::Removed`]; a contact on both keeps its place and
    /// takes the new facts (expiry, source, transport) without an event.
    /// `max_contacts` applies as to a REGISTER (extra contacts are left out).
    pub fn replace_all(
        &mut self,
        wanted: Vec<(String, Binding)>,
        now_ms: i64,
    ) -> Vec<BindingChange> {
        let mut next: HashMap<String, Vec<Binding>> = HashMap::with_capacity(wanted.len());
        for (agent, b) in wanted {
            let list = next.entry(agent).or_default();
            if list.len() < self.max_contacts && !list.iter().any(|x| x.contact == b.contact) {
                list.push(b);
            }
        }
        let mut changes = Vec::new();
        for (agent, list) in &self.bindings {
            for b in list {
                let kept = next
                    .get(agent)
                    .is_some_and(|l| l.iter().any(|x| x.contact == b.contact));
                if !kept {
                    changes.push(BindingChange::Removed {
                        agent: agent.clone(),
                        contact: b.contact.clone(),
                    });
                }
            }
        }
        for (agent, list) in &next {
            for b in list {
                let known = self
                    .bindings
                    .get(agent)
                    .is_some_and(|l| l.iter().any(|x| x.contact == b.contact));
                if !known {
                    changes.push(BindingChange::Added {
                        agent: agent.clone(),
                        contact: b.contact.clone(),
                        expires_s: u32::try_from((b.expires_at_ms - now_ms).max(0) / 1000)
                            .unwrap_or(u32::MAX),
                    });
                }
            }
        }
        if next != self.bindings {
            self.generation += 1;
        }
        self.bindings = next;
        changes
    }

    /// Every binding on record, by agent (for the write-behind).
    pub fn all(&self) -> Vec<(String, Binding)> {
        self.bindings
            .iter()
            .flat_map(|(a, l)| l.iter().map(move |b| (a.clone(), b.clone())))
            .collect()
    }

    /// The live contacts of `agent`, most recently registered first.
    pub fn contacts(&self, agent: &str, now_ms: i64) -> Vec<Binding> {
        let mut v: Vec<Binding> = self
            .bindings
            .get(agent)
            .map(|l| {
                l.iter()
                    .filter(|b| b.expires_at_ms > now_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by_key(|b| std::cmp::Reverse(b.expires_at_ms));
        v
    }

    /// Contacts on record (live or not yet swept), all agents.
    pub fn len(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    /// No contact on record.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Agents with at least one live contact.
    pub fn registered_agents(&self, now_ms: i64) -> Vec<String> {
        let mut v: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, l)| l.iter().any(|b| b.expires_at_ms > now_ms))
            .map(|(a, _)| a.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_all_reports_only_contacts_that_came_or_went() {
        let mut l = Location::new(2);
        let mut x = b("sip:1001@edge", "c", 1);
        x.expires_at_ms = 70_000;
        let ch = l.replace_all(vec![("1001".into(), x.clone())], 10_000);
        assert_eq!(
            ch,
            vec![BindingChange::Added {
                agent: "1001".into(),
                contact: "sip:1001@edge".into(),
                expires_s: 60
            }]
        );
        let g = l.generation();
        // the same again, with a later expiry: no event, the new expiry
        let mut later = x.clone();
        later.expires_at_ms = 90_000;
        assert!(l
            .replace_all(vec![("1001".into(), later)], 20_000)
            .is_empty());
        assert_eq!(l.contacts("1001", 80_000).len(), 1);
        assert!(l.generation() > g);
        let g = l.generation();
        let mut same = x.clone();
        same.expires_at_ms = 90_000;
        assert!(l
            .replace_all(vec![("1001".into(), same)], 20_000)
            .is_empty());
        assert_eq!(l.generation(), g, "nothing changed");
        // 1001 gone, 1002 came; more contacts than allowed are left out
        let ch = l.replace_all(
            vec![
                ("1002".into(), b("sip:a", "c", 1)),
                ("1002".into(), b("sip:b", "c", 1)),
                ("1002".into(), b("sip:c", "c", 1)),
                ("1002".into(), b("sip:a", "c", 1)),
            ],
            20_000,
        );
        assert_eq!(ch.len(), 3, "{ch:?}");
        assert!(ch.contains(&BindingChange::Removed {
            agent: "1001".into(),
            contact: "sip:1001@edge".into()
        }));
        assert_eq!(l.len(), 2);
        assert!(l.replace_all(Vec::new(), 20_000).len() == 2);
        assert!(l.is_empty());
    }

    fn b(contact: &str, call_id: &str, cseq: u32) -> Binding {
        Binding {
            contact: contact.into(),
            source: "127.0.0.1:5070".parse().unwrap(),
            transport: SipTransport::Udp,
            expires_at_ms: 0,
            call_id: call_id.into(),
            cseq,
            path: Vec::new(),
            nat: false,
        }
    }

    #[test]
    fn several_contacts_expire_and_refresh() {
        let mut l = Location::new(4);
        l.update("1001", b("sip:1001@a", "x", 1), 60, 0).unwrap();
        l.update("1001", b("sip:1001@b", "y", 1), 120, 0).unwrap();
        assert_eq!(l.contacts("1001", 1000).len(), 2);
        assert_eq!(l.contacts("1001", 1000)[0].contact, "sip:1001@b");
        // refresh a with a higher cseq
        l.update("1001", b("sip:1001@a", "x", 2), 300, 50_000)
            .unwrap();
        assert_eq!(l.expire(70_000), vec![]);
        let removed = l.expire(130_000);
        assert_eq!(
            removed,
            vec![BindingChange::Removed {
                agent: "1001".into(),
                contact: "sip:1001@b".into()
            }]
        );
        assert_eq!(l.registered_agents(130_000), vec!["1001".to_string()]);
        assert!(l.contacts("1001", 400_000).is_empty());
    }

    #[test]
    fn restored_bindings_are_live_until_they_expire() {
        let mut l = Location::new(2);
        let g0 = l.generation();
        let mut x = b("sip:1001@a", "x", 3);
        x.expires_at_ms = 100_000;
        assert!(l.restore("1001", x.clone(), 50_000));
        assert!(l.generation() > g0);
        // twice the same contact, an expired one, one over the limit
        assert!(!l.restore("1001", x.clone(), 50_000));
        let mut old = b("sip:1001@b", "y", 1);
        old.expires_at_ms = 50_000;
        assert!(!l.restore("1001", old, 50_000));
        let mut y = b("sip:1001@c", "z", 1);
        y.expires_at_ms = 90_000;
        assert!(l.restore("1001", y, 50_000));
        let mut z = b("sip:1001@d", "w", 1);
        z.expires_at_ms = 90_000;
        assert!(!l.restore("1001", z, 50_000));
        assert_eq!(l.registered_agents(60_000), vec!["1001".to_string()]);
        assert_eq!(l.all().len(), 2);
        // a refresh of the restored binding goes on with its Call-ID and CSeq
        assert_eq!(
            l.update("1001", b("sip:1001@a", "x", 3), 60, 60_000),
            Err(RegisterError::OutOfOrder)
        );
        assert!(l
            .update("1001", b("sip:1001@a", "x", 4), 60, 60_000)
            .is_ok());
        let g = l.generation();
        assert_eq!(l.expire(95_000).len(), 1);
        assert!(l.generation() > g);
        assert!(l.contacts("1001", 95_000).len() == 1);
    }

    #[test]
    fn out_of_order_and_removal_and_limit() {
        let mut l = Location::new(2);
        l.update("1001", b("sip:a", "x", 5), 60, 0).unwrap();
        assert_eq!(
            l.update("1001", b("sip:a", "x", 5), 60, 0),
            Err(RegisterError::OutOfOrder)
        );
        l.update("1001", b("sip:b", "y", 1), 60, 0).unwrap();
        assert_eq!(
            l.update("1001", b("sip:c", "z", 1), 60, 0),
            Err(RegisterError::TooManyContacts)
        );
        assert!(matches!(
            l.update("1001", b("sip:a", "x", 6), 0, 0),
            Ok(Some(BindingChange::Removed { .. }))
        ));
        assert_eq!(l.remove_all("1001").len(), 1);
        assert!(l.registered_agents(0).is_empty());
    }
}
