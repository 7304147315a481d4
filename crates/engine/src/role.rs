//! The node's role in the HA pair as one source of truth for the duties
//! only one node may do (issue 18, phase 2): the lease task
//! ([`crate::cluster_task`]) publishes it, the engine (callbacks, the line
//! self-test, the duty alarms, click-to-call, monitoring), the API (503 on
//! a standby node for every request that starts a call) and the scheduled
//! jobs of the server (the daily report, the handover watch, the case
//! deadlines) read it. A single node (no `[cluster]`) is always active.

use tokio::sync::watch;

/// What a node may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRole {
    /// No `[cluster]`: the only node, always does everything.
    Single,
    /// The pair's active node: it holds the leases and takes the calls.
    Active,
    /// The pair's standby node: reads only, no calls started, no duty.
    Standby,
}

impl NodeRole {
    /// Whether the node runs the node-only duties and starts calls.
    pub fn is_active(self) -> bool {
        !matches!(self, NodeRole::Standby)
    }

    /// Short snake_case name (the API, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Single => "single",
            NodeRole::Active => "active",
            NodeRole::Standby => "standby",
        }
    }
}

/// A reader of the node's role (cheap to clone).
#[derive(Clone, Debug)]
pub struct RoleWatch(Option<watch::Receiver<NodeRole>>);

impl Default for RoleWatch {
    fn default() -> Self {
        RoleWatch::single()
    }
}

impl RoleWatch {
    /// A single node's: always [`NodeRole::Single`].
    pub fn single() -> Self {
        RoleWatch(None)
    }

    /// The role now.
    pub fn role(&self) -> NodeRole {
        match &self.0 {
            None => NodeRole::Single,
            Some(rx) => *rx.borrow(),
        }
    }

    /// Whether the node may run the node-only duties and start calls now.
    pub fn is_active(&self) -> bool {
        self.role().is_active()
    }

    /// Waits until the role changes; the new role. Never returns for a
    /// single node or once the publisher is gone (the role stays).
    pub async fn changed(&mut self) -> NodeRole {
        match &mut self.0 {
            Some(rx) => {
                if rx.changed().await.is_ok() {
                    return *rx.borrow_and_update();
                }
                std::future::pending().await
            }
            None => std::future::pending().await,
        }
    }

    /// Waits until the node is active (at once if it is).
    pub async fn active(&mut self) {
        while !self.is_active() {
            self.changed().await;
        }
    }
}

/// The publisher of the role (the lease task holds it).
#[derive(Debug)]
pub struct RolePublisher(watch::Sender<NodeRole>);

impl RolePublisher {
    /// A pair's node: standby until the leases are taken.
    pub fn new() -> Self {
        RolePublisher(watch::channel(NodeRole::Standby).0)
    }

    /// Sets the role (the readers wake only on a change).
    pub fn set(&self, role: NodeRole) {
        self.0.send_if_modified(|r| {
            let changed = *r != role;
            *r = role;
            changed
        });
    }

    /// A reader.
    pub fn watch(&self) -> RoleWatch {
        RoleWatch(Some(self.0.subscribe()))
    }
}

impl Default for RolePublisher {
    fn default() -> Self {
        RolePublisher::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_node_is_always_active() {
        let w = RoleWatch::single();
        assert_eq!(w.role(), NodeRole::Single);
        assert!(w.is_active());
    }

    #[tokio::test]
    async fn readers_see_each_change_once() {
        let p = RolePublisher::new();
        let mut w = p.watch();
        assert!(!w.is_active());
        p.set(NodeRole::Active);
        assert_eq!(w.changed().await, NodeRole::Active);
        assert!(w.is_active());
        // the same role again wakes no one
        p.set(NodeRole::Active);
        p.set(NodeRole::Standby);
        assert_eq!(w.changed().await, NodeRole::Standby);
        let mut w2 = w.clone();
        p.set(NodeRole::Active);
        tokio::time::timeout(std::time::Duration::from_secs(1), w2.active())
            .await
            .unwrap();
    }
}
