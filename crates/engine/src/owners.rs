//! Routing by ownership (首问负责制): which agent owns an open complaint
//! case of a caller's number. The map lives in memory so a call's arrival
//! never waits on the database: the API side loads it from the store at
//! start and replaces it after every change of a case
//! ([`CaseOwners::replace`]); a call reads it once when it arrives.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hotline_core::AgentId;

/// An open case's owner, as the routing sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The owning agent.
    pub agent: AgentId,
    /// The case (the newest open one of the number).
    pub case_id: i64,
}

/// The number → owner map shared by the API side (writer) and the engine
/// (reader); cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct CaseOwners(Arc<RwLock<Arc<HashMap<String, Owner>>>>);

impl CaseOwners {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `map` in place of the current one; calls arriving from now on
    /// see it.
    pub fn replace(&self, map: HashMap<String, Owner>) {
        let new = Arc::new(map);
        match self.0.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// The owner of `number`'s open case, if it has one.
    pub fn owner_of(&self, number: &str) -> Option<Owner> {
        let map = match self.0.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        map.get(number).cloned()
    }

    /// How many numbers have an owner.
    pub fn len(&self) -> usize {
        match self.0.read() {
            Ok(g) => g.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// Whether no number has an owner.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_maps_are_seen_by_clones() {
        let a = CaseOwners::new();
        let b = a.clone();
        assert!(b.owner_of("139").is_none() && b.is_empty());
        a.replace(HashMap::from([(
            "139".to_string(),
            Owner {
                agent: AgentId::new("1001"),
                case_id: 7,
            },
        )]));
        assert_eq!(b.owner_of("139").map(|o| o.case_id), Some(7));
        assert_eq!(b.len(), 1);
        a.replace(HashMap::new());
        assert!(b.owner_of("139").is_none());
    }
}
