//! The IO around the lease keeper ([`crate::cluster`]): a task that renews
//! the queues' leases in the store on the keeper's schedule, opens and
//! closes the SIP gate ([`SipServer::set_standby`]: 503 + Retry-After to
//! OPTIONS and new INVITEs while standby), writes `node_active` /
//! `node_standby` events, and on taking the leases over from a dead node
//! closes the calls it left open (ended by `node_failure`) and reloads the
//! registrations its registrar wrote. [`ClusterStatus`] is what the API's
//! `/api/cluster` and `/metrics` show.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotline_core::{CallEvent, Clock, EventKind};
use hotline_sip::SipServer;
use hotline_store::{EventSink, LeaseGrant, NodeBeat, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use crate::cluster::{ClusterSettings, Keeper, RenewOutcome, StandbyReason, Transition};
use crate::role::{NodeRole, RolePublisher, RoleWatch};

/// Most take-overs kept in the status.
const MAX_TAKE_OVERS: usize = 20;

/// A lease as this node last saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSeen {
    /// The queue.
    pub queue: String,
    /// Its owner.
    pub owner: String,
    /// Its fencing counter.
    pub fence: i64,
    /// Its expiry, database clock, epoch ms.
    pub expires_ms: i64,
}

/// A take-over this node did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakeOver {
    /// The node whose leases lapsed.
    pub from: String,
    /// When, epoch ms (this node's clock).
    pub at_ms: i64,
    /// Calls it left open that were closed (None: still closing).
    pub calls_closed: Option<usize>,
}

/// The node's state in the pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// `[cluster] node_id`.
    pub node_id: String,
    /// Takes new calls.
    pub active: bool,
    /// Why not, while standby (`held_by_other_node`, ...).
    pub reason: Option<String>,
    /// The node holding the leases at the last refusal.
    pub holder: Option<String>,
    /// The last change of state, epoch ms (this node's clock).
    pub since_ms: i64,
    /// The last successful round trip to the database, epoch ms.
    pub last_db_ok_ms: Option<i64>,
    /// The database's clock at that round trip, epoch ms.
    pub db_now_ms: Option<i64>,
    /// The leases as last seen, by queue.
    pub leases: Vec<LeaseSeen>,
    /// The last take-overs, oldest first.
    pub take_overs: Vec<TakeOver>,
    /// The settings.
    pub settings: ClusterSettings,
}

/// A shared view of the node's state (cheap to clone), and its role
/// ([`crate::role`]: the one source of truth of what the node may do).
#[derive(Clone, Debug)]
pub struct ClusterStatus(Arc<Mutex<NodeStatus>>, Arc<RolePublisher>);

impl ClusterStatus {
    /// A node's status before its task runs (standby, `starting`): what
    /// the node's duties read their role from
    /// ([`ClusterStatus::role`]); hand it to [`ClusterNode::start_with`].
    pub fn starting(settings: ClusterSettings, now_ms: i64) -> Self {
        Self::new(settings, now_ms)
    }

    fn new(settings: ClusterSettings, now_ms: i64) -> Self {
        ClusterStatus::of(NodeStatus {
            node_id: settings.node_id.clone(),
            active: false,
            reason: Some(StandbyReason::Starting.as_str().into()),
            holder: None,
            since_ms: now_ms,
            last_db_ok_ms: None,
            db_now_ms: None,
            leases: Vec::new(),
            take_overs: Vec::new(),
            settings,
        })
    }

    /// A status that only changes through `replace` (a tool's or a test's
    /// view of a node; the running task makes its own); its role follows
    /// `active`.
    pub fn of(status: NodeStatus) -> Self {
        let role = RolePublisher::new();
        role.set(if status.active {
            NodeRole::Active
        } else {
            NodeRole::Standby
        });
        ClusterStatus(Arc::new(Mutex::new(status)), Arc::new(role))
    }

    /// The node's role, as the node-only duties and the API read it.
    pub fn role(&self) -> RoleWatch {
        self.1.watch()
    }

    /// Replaces the whole status (see [`ClusterStatus::of`]).
    pub fn replace(&self, status: NodeStatus) {
        self.update(|s| *s = status);
    }

    /// The state now.
    pub fn snapshot(&self) -> Option<NodeStatus> {
        self.0.lock().ok().map(|s| s.clone())
    }

    fn update(&self, f: impl FnOnce(&mut NodeStatus)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
            // the duties start once a take-over's closing is done (the
            // lost node's agents are held before the first offer)
            let closing = s.take_overs.iter().any(|t| t.calls_closed.is_none());
            self.1.set(if s.active && !closing {
                NodeRole::Active
            } else {
                NodeRole::Standby
            });
        }
    }
}

/// What the task works with.
pub struct ClusterDeps {
    /// The shared database (marked with this node: [`Store::with_node`]).
    pub store: Store,
    /// The SIP server whose gate follows the state.
    pub sip: SipServer,
    /// The queues whose leases the node must hold to be active.
    pub queues: Vec<String>,
    /// The event log.
    pub sink: EventSink,
    /// The live event stream (wallboard, KPIs), if any.
    pub live: Option<mpsc::UnboundedSender<CallEvent>>,
    /// Wall clock for events.
    pub clock: Arc<dyn Clock>,
    /// The engine, told of the agents of the lost node's calls (held out
    /// of routing, [`crate::failover`]); None: no engine (a tool, a test).
    pub engine: Option<crate::control::AgentControl>,
}

/// The running task ([`ClusterNode::start`]).
pub struct ClusterNode {
    status: ClusterStatus,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl ClusterNode {
    /// Starts standby (the SIP gate answers 503 at once) and tries to take
    /// the leases.
    pub fn start(settings: ClusterSettings, deps: ClusterDeps) -> ClusterNode {
        let status = ClusterStatus::new(settings.clone(), deps.clock.now_ms());
        Self::start_with(settings, deps, status)
    }

    /// [`ClusterNode::start`] publishing to `status` (made earlier with
    /// [`ClusterStatus::starting`], so that the duties started before the
    /// task already follow its role).
    pub fn start_with(
        settings: ClusterSettings,
        deps: ClusterDeps,
        status: ClusterStatus,
    ) -> ClusterNode {
        deps.sip.set_standby(Some(settings.retry_after_s()));
        let cancel = CancellationToken::new();
        let span = info_span!("cluster", node = %settings.node_id);
        let task =
            tokio::spawn(run(settings, deps, status.clone(), cancel.clone()).instrument(span));
        ClusterNode {
            status,
            cancel,
            task,
        }
    }

    /// The node's state, for the API.
    pub fn status(&self) -> ClusterStatus {
        self.status.clone()
    }

    /// A clean stop: standby, and the leases released so that the other
    /// node takes them at its next try (not after the ttl).
    pub async fn stop(self) {
        self.cancel.cancel();
        self.task.await.ok();
    }
}

struct Node {
    settings: ClusterSettings,
    deps: ClusterDeps,
    status: ClusterStatus,
    t0: tokio::time::Instant,
    /// The fence of each lease as last granted to this node.
    granted: Mutex<std::collections::HashMap<String, i64>>,
}

impl Node {
    fn mono(&self) -> i64 {
        i64::try_from(self.t0.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    fn beat(&self, active: bool) -> NodeBeat {
        NodeBeat {
            node_id: self.settings.node_id.clone(),
            active,
            sip: self.deps.sip.local_addr().to_string(),
        }
    }

    fn publish(&self, kind: EventKind) {
        let e = CallEvent {
            at_ms: self.deps.clock.now_ms(),
            call_id: None,
            agent: None,
            queue: None,
            kind,
        };
        if let Some(live) = &self.deps.live {
            let _ = live.send(e.clone());
        }
        self.deps.sink.event(e);
    }

    fn outcome(&self, r: Result<LeaseGrant, String>) -> RenewOutcome {
        let me = &self.settings.node_id;
        match r {
            Ok(g) => {
                let seen = g
                    .leases
                    .iter()
                    .map(|l| LeaseSeen {
                        queue: l.name.clone(),
                        owner: l.owner.clone(),
                        fence: l.fence,
                        expires_ms: l.expires_ms,
                    })
                    .collect();
                let now = self.deps.clock.now_ms();
                self.status.update(|s| {
                    s.leases = seen;
                    s.last_db_ok_ms = Some(now);
                    s.db_now_ms = Some(g.db_now_ms);
                });
                if g.granted {
                    // taken by this round trip (renewals 0), or by an
                    // earlier one whose answer was lost: a fence not seen
                    // yet, taken within the last ttl
                    let ttl = self.settings.lease_ttl_ms;
                    let Ok(mut granted) = self.granted.lock() else {
                        return RenewOutcome::Failed;
                    };
                    let mut taken_from: Vec<String> = g
                        .leases
                        .iter()
                        .filter(|l| {
                            l.renewals == 0
                                || (granted.get(&l.name) != Some(&l.fence)
                                    && g.db_now_ms - l.acquired_ms < ttl)
                        })
                        .filter_map(|l| l.previous_owner.clone())
                        .filter(|p| p != me)
                        .collect();
                    for l in &g.leases {
                        granted.insert(l.name.clone(), l.fence);
                    }
                    taken_from.sort();
                    taken_from.dedup();
                    RenewOutcome::Granted { taken_from }
                } else {
                    let holder = g
                        .leases
                        .iter()
                        .find(|l| l.owner != *me && l.expires_ms > g.db_now_ms)
                        .map(|l| l.owner.clone())
                        .unwrap_or_else(|| "unknown".into());
                    RenewOutcome::Refused { holder }
                }
            }
            Err(why) => {
                warn!(%why, "lease round trip to the database failed");
                RenewOutcome::Failed
            }
        }
    }

    /// Closes the calls `from` left open and reloads the registrations, in
    /// the background (the keeper keeps renewing meanwhile).
    fn take_over(&self, from: Vec<String>) {
        let now = self.deps.clock.now_ms();
        self.status.update(|s| {
            for f in &from {
                s.take_overs.push(TakeOver {
                    from: f.clone(),
                    at_ms: now,
                    calls_closed: None,
                });
            }
            let extra = s.take_overs.len().saturating_sub(MAX_TAKE_OVERS);
            s.take_overs.drain(..extra);
        });
        let store = self.deps.store.clone();
        let status = self.status.clone();
        let engine = self.deps.engine.clone();
        tokio::spawn(
            async move {
                // the callbacks still due stay open: the engine of the
                // active node takes them over (crate::Engine::in_pair)
                let keep: std::collections::HashSet<hotline_core::CallId> =
                    crate::callback::load_pending(&store, now)
                        .await
                        .into_iter()
                        .map(|p| p.id)
                        .collect();
                for node in from {
                    let closed = crate::restart::close_node_calls_except(
                        &store,
                        now,
                        &node,
                        crate::restart::NODE_FAILURE_REASON,
                        &keep,
                    )
                    .await;
                    let n = closed.len();
                    let agents: Vec<_> = closed
                        .into_iter()
                        .filter_map(|c| c.agent.map(|a| (a, c.call)))
                        .collect();
                    info!(from = %node, calls_closed = n, agents_held = agents.len(), "leases taken over from a node; its open calls closed");
                    if let (Some(e), false) = (&engine, agents.is_empty()) {
                        if let Err(err) = e.hold_after_failover(agents).await {
                            warn!(error = %err, "the engine could not hold the lost node's agents");
                        }
                    }
                    status.update(|s| {
                        if let Some(t) = s
                            .take_overs
                            .iter_mut()
                            .rev()
                            .find(|t| t.from == node && t.at_ms == now)
                        {
                            t.calls_closed = Some(n);
                        }
                    });
                }
            }
            .in_current_span(),
        );
    }

    fn reload_bindings(&self) {
        if self.deps.sip.registrar_at_edge() {
            // Kamailio's location table is read all the time (edge_registrar)
            return;
        }
        let store = self.deps.store.clone();
        let sip = self.deps.sip.clone();
        let clock = self.deps.clock.clone();
        tokio::spawn(
            async move {
                if let Err(e) = crate::bindings::restore_live(&store, &sip, clock.as_ref()).await {
                    warn!(error = %e, "registrations could not be reloaded; phones register again");
                }
            }
            .in_current_span(),
        );
    }

    fn apply(&self, keeper: &mut Keeper, pending_from: &mut Vec<String>) {
        let retry = self.settings.retry_after_s();
        let node = self.settings.node_id.clone();
        while let Some(t) = keeper.poll_transition() {
            match t {
                Transition::TookOver(from) => {
                    pending_from.extend(from.iter().cloned());
                    self.take_over(from);
                }
                Transition::Active => {
                    self.deps.sip.set_standby(None);
                    let taken_from = std::mem::take(pending_from);
                    info!(?taken_from, "active: this node takes the calls");
                    let now = self.deps.clock.now_ms();
                    self.status.update(|s| {
                        s.active = true;
                        s.reason = None;
                        s.holder = None;
                        s.since_ms = now;
                    });
                    self.publish(EventKind::NodeActive {
                        node: node.clone(),
                        taken_from,
                    });
                    self.reload_bindings();
                }
                Transition::Standby(reason) => {
                    self.deps.sip.set_standby(Some(retry));
                    let holder = keeper.holder().map(str::to_string);
                    warn!(
                        reason = reason.as_str(),
                        ?holder,
                        "standby: new calls get 503"
                    );
                    let now = self.deps.clock.now_ms();
                    self.status.update(|s| {
                        s.active = false;
                        s.reason = Some(reason.as_str().into());
                        s.holder = holder.clone();
                        s.since_ms = now;
                    });
                    self.publish(EventKind::NodeStandby {
                        node: node.clone(),
                        reason: reason.as_str().into(),
                        holder,
                    });
                }
            }
        }
        if !keeper.is_active() {
            // the reason may change while standby (a holder appears)
            let reason = keeper.standby_reason().as_str().to_string();
            let holder = keeper.holder().map(str::to_string);
            self.status.update(|s| {
                s.reason = Some(reason);
                s.holder = holder;
            });
        }
    }
}

type RoundTrip = tokio::task::JoinHandle<Result<LeaseGrant, String>>;

async fn run(
    settings: ClusterSettings,
    deps: ClusterDeps,
    status: ClusterStatus,
    cancel: CancellationToken,
) {
    let node = Node {
        settings: settings.clone(),
        deps,
        status,
        t0: tokio::time::Instant::now(),
        granted: Mutex::default(),
    };
    if let Err(e) = node.deps.store.node_started(&node.beat(false)).await {
        warn!(error = %e, "the node's start could not be written");
    }
    node.publish(EventKind::NodeStandby {
        node: settings.node_id.clone(),
        reason: StandbyReason::Starting.as_str().into(),
        holder: None,
    });
    let mut keeper = Keeper::new(settings.clone(), node.mono());
    let mut inflight: Option<(i64, RoundTrip)> = None;
    let mut pending_from = Vec::new();
    // a round trip that takes longer than the lease is held is no use
    let round_trip_limit = Duration::from_millis(u64::try_from(settings.hold_ms()).unwrap_or(1));
    loop {
        let now = node.mono();
        keeper.tick(now);
        if inflight.is_none() && keeper.poll_renew(now) {
            let store = node.deps.store.clone();
            let beat = node.beat(keeper.is_active());
            let queues = node.deps.queues.clone();
            let ttl = settings.lease_ttl_ms;
            let trip = tokio::spawn(async move {
                match tokio::time::timeout(
                    round_trip_limit,
                    store.acquire_leases(&beat, &queues, ttl),
                )
                .await
                {
                    Ok(Ok(g)) => Ok(g),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {round_trip_limit:?}")),
                }
            });
            inflight = Some((now, trip));
        }
        node.apply(&mut keeper, &mut pending_from);
        let wait = (keeper.poll_timeout() - node.mono()).clamp(1, 1_000);
        let sleep = tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(1)));
        tokio::select! {
            _ = cancel.cancelled() => break,
            r = async {
                match inflight.as_mut() {
                    Some((_, trip)) => trip.await,
                    None => std::future::pending().await,
                }
            } => {
                let sent = inflight.take().map(|(s, _)| s).unwrap_or_default();
                let r = r.unwrap_or_else(|e| Err(format!("round trip task: {e}")));
                let outcome = node.outcome(r);
                keeper.handle_renewed(node.mono(), sent, outcome);
                node.apply(&mut keeper, &mut pending_from);
            }
            _ = sleep => {}
        }
    }
    // a clean stop: standby at once, the leases given up
    keeper.release(node.mono());
    node.apply(&mut keeper, &mut pending_from);
    node.deps.sip.set_standby(Some(settings.retry_after_s()));
    match tokio::time::timeout(
        Duration::from_secs(2),
        node.deps.store.release_leases(&settings.node_id),
    )
    .await
    {
        Ok(Ok(n)) => info!(leases = n, "leases released"),
        Ok(Err(e)) => warn!(error = %e, "leases not released; they lapse after the ttl"),
        Err(_) => warn!("leases not released in time; they lapse after the ttl"),
    }
    if let Err(e) = node.deps.store.heartbeat(&node.beat(false)).await {
        warn!(error = %e, "the node's stop could not be written");
    }
}

/// The leases a node must hold to be active: one per queue of `cfg` (the
/// default queue included), sorted.
pub fn queue_leases(cfg: &crate::EngineConfig) -> Vec<String> {
    let mut v: Vec<String> = cfg
        .queues
        .iter()
        .map(|q| q.id.as_str().to_string())
        .chain(std::iter::once(cfg.queue.as_str().to_string()))
        .collect();
    v.sort();
    v.dedup();
    v
}
