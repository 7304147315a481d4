#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! The HA pair without Kamailio: two nodes (each its own SIP server, store
//! connection and lease task, the first in a runtime of its own so that it
//! can die like a killed process) on one throwaway PostgreSQL cluster. The
//! second stays standby (OPTIONS 503 + Retry-After) while the first is
//! active; the first dies; the second takes over within ttl + renew, answers
//! OPTIONS 200, closes the dead node's open call (`node_failure`) and says
//! so (`node_active`); the first comes back standby; a clean stop hands the
//! leases over at once; the database stops and the active node steps down
//! within the health window, then comes back.
//!
//! PostgreSQL from `hotline-testkit`, as in the store's suite (`initdb` under
//! `/usr/lib/postgresql/*/bin` or `$HOTLINE_PG_BIN`; `HOTLINE_SKIP_PG=1`
//! skips when the binaries are missing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hotline_core::{CallEvent, CallId, CallType, EventKind, Party, SystemClock};
use hotline_engine::cluster::ClusterSettings;
use hotline_engine::cluster_task::{ClusterDeps, ClusterNode, ClusterStatus};
use hotline_sip::{SipConfig, SipServer};
use hotline_store::Store;
use hotline_testkit::PgCluster;
use tokio::net::UdpSocket;

fn settings(node: &str) -> ClusterSettings {
    ClusterSettings {
        node_id: node.into(),
        lease_ttl_ms: 1_500,
        renew_every_ms: 500,
        db_health_window_ms: 1_000,
    }
}

/// One node: SIP server, store marked with the node, the lease task.
struct Started {
    sip: SipServer,
    node: ClusterNode,
    store: Store,
    sink: hotline_store::EventSink,
    _events: tokio::sync::mpsc::Receiver<hotline_sip::SipEvent>,
}

async fn start_node(url: &str, id: &str) -> Started {
    let store = Store::connect(url).await.unwrap().with_node(id);
    let (sink, _writer) = hotline_store::spawn_writer(store.clone());
    let cfg = SipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..SipConfig::default()
    };
    let (sip, events) = SipServer::start(cfg, vec![]).await.unwrap();
    let node = ClusterNode::start(
        settings(id),
        ClusterDeps {
            store: store.clone(),
            sip: sip.clone(),
            queues: vec!["general".into(), "vip".into()],
            sink: sink.clone(),
            live: None,
            clock: Arc::new(SystemClock),
            engine: None,
        },
    );
    Started {
        sip,
        node,
        store,
        sink,
        _events: events,
    }
}

/// Sends an OPTIONS from a fresh socket; the status code and Retry-After.
async fn options(to: std::net::SocketAddr) -> (u16, Option<u32>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let id = format!("probe{}", me.port());
    let msg = format!(
        "OPTIONS sip:hotline@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{id};rport\r\nMax-Forwards: 70\r\nFrom: <sip:dispatcher@{me}>;tag=1\r\nTo: <sip:hotline@{to}>\r\nCall-ID: {id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(msg.as_bytes(), to).await.unwrap();
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf))
            .await
            .expect("an answer to OPTIONS")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        let code: u16 = text[8..11].parse().unwrap();
        if code < 200 {
            continue;
        }
        let retry = text
            .lines()
            .find_map(|l| l.strip_prefix("Retry-After:"))
            .map(|v| v.trim().parse().unwrap());
        return (code, retry);
    }
}

async fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed()
}

async fn wait_for_async<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while !f().await {
        assert!(t.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn active(s: &ClusterStatus) -> bool {
    s.snapshot().unwrap().active
}

fn arrived(call: &str) -> CallEvent {
    CallEvent {
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
        call_id: Some(CallId::from_stored(call)),
        agent: None,
        queue: None,
        kind: EventKind::Arrived {
            caller: Party {
                number: "+8613700000000".into(),
                display: None,
            },
            dialled: "400".into(),
            call_type: CallType::Inquiry,
        },
    }
}

/// The first node in a runtime of its own: dropping the runtime kills it
/// (no release, no goodbye), like SIGKILL.
fn start_in_own_runtime(
    url: String,
    id: &'static str,
) -> (tokio::runtime::Runtime, ClusterStatus, std::net::SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (status, addr) = rt.block_on(async move {
        let n = start_node(&url, id).await;
        // a call in progress on this node, without an end
        n.store.append_event(&arrived("on-node-a")).await.unwrap();
        let out = (n.node.status(), n.sip.local_addr());
        // the node lives as long as its runtime
        tokio::spawn(async move {
            let _keep = n;
            std::future::pending::<()>().await;
        });
        out
    });
    (rt, status, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_when_the_active_node_dies() {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let url = pg.url();
    let ttl = Duration::from_millis(1_500);
    let renew = Duration::from_millis(500);
    let u = url.clone();
    let (rt_a, status_a, addr_a) =
        tokio::task::spawn_blocking(move || start_in_own_runtime(u, "node-a"))
            .await
            .unwrap();
    wait_for("node-a active", ttl * 2, || active(&status_a)).await;
    assert_eq!(options(addr_a).await, (200, None));

    let b = start_node(&url, "node-b").await;
    let status_b = b.node.status();
    // node-b tries, is refused, and stays standby for several ttls
    wait_for("node-b sees the holder", ttl * 2, || {
        status_b.snapshot().unwrap().holder.as_deref() == Some("node-a")
    })
    .await;
    tokio::time::sleep(ttl * 2).await;
    let s = status_b.snapshot().unwrap();
    assert!(!s.active);
    assert_eq!(s.reason.as_deref(), Some("held_by_other_node"));
    assert!(s.leases.iter().all(|l| l.owner == "node-a"), "{s:?}");
    let retry = settings("x").retry_after_s();
    assert_eq!(options(b.sip.local_addr()).await, (503, Some(retry)));
    assert_eq!(options(addr_a).await, (200, None));

    // SIGKILL node-a: its runtime goes, its socket closes, nothing released
    let killed = Instant::now();
    tokio::task::spawn_blocking(move || drop(rt_a))
        .await
        .unwrap();
    let took = wait_for("node-b active", (ttl + renew) * 2, || active(&status_b)).await;
    let took = killed.elapsed().max(took);
    eprintln!("take-over after the kill: {took:?} (ttl {ttl:?} + renew {renew:?})");
    assert_eq!(options(b.sip.local_addr()).await, (200, None));
    let s = status_b.snapshot().unwrap();
    assert!(
        s.leases.iter().all(|l| l.owner == "node-b" && l.fence == 2),
        "{s:?}"
    );
    assert_eq!(s.take_overs.len(), 1, "{s:?}");
    assert_eq!(s.take_overs[0].from, "node-a");
    // the dead node's open call is closed as ended by its failure
    wait_for("the open call closed", Duration::from_secs(10), || {
        status_b.snapshot().unwrap().take_overs[0]
            .calls_closed
            .is_some()
    })
    .await;
    assert_eq!(
        status_b.snapshot().unwrap().take_overs[0].calls_closed,
        Some(1)
    );
    let cdr = b
        .store
        .cdr(&CallId::from_stored("on-node-a"))
        .await
        .unwrap()
        .expect("a CDR for the dead node's call");
    assert_eq!(cdr.end_cause.as_deref(), Some("node_failure"));
    assert_eq!(cdr.outcome, Some(hotline_core::Outcome::Failed));
    b.sink.flush().await;
    let active_events = b.store.events_of_kind("node_active", 0, 10).await.unwrap();
    let of_b: Vec<&Vec<String>> = active_events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::NodeActive { node, taken_from } if node == "node-b" => Some(taken_from),
            _ => None,
        })
        .collect();
    assert_eq!(of_b, vec![&vec!["node-a".to_string()]], "{active_events:?}");
    let view = b.store.lease_view().await.unwrap();
    let a_row = view.nodes.iter().find(|n| n.node_id == "node-a").unwrap();
    assert!(
        view.db_now_ms - a_row.seen_ms >= ttl.as_millis() as i64,
        "node-a's heartbeat is old"
    );

    // node-a comes back (a restart): standby, the leases stay with node-b
    let a = start_node(&url, "node-a").await;
    let status_a = a.node.status();
    wait_for("node-a sees node-b", ttl * 2, || {
        status_a.snapshot().unwrap().holder.as_deref() == Some("node-b")
    })
    .await;
    assert_eq!(options(a.sip.local_addr()).await.0, 503);
    assert!(active(&status_b));

    // a clean stop of node-b hands the leases over without waiting a ttl
    let stopped = Instant::now();
    b.node.stop().await;
    assert_eq!(
        options(b.sip.local_addr()).await.0,
        503,
        "stopped: standby at once"
    );
    wait_for("node-a active after the release", renew * 3, || {
        active(&status_a)
    })
    .await;
    eprintln!("hand-over after a clean stop: {:?}", stopped.elapsed());
    assert_eq!(options(a.sip.local_addr()).await, (200, None));

    // the database stops: node-a steps down within the health window (plus
    // a renewal and the round trip's time limit), then comes back
    let pg = Arc::new(pg);
    let p = pg.clone();
    let down = Instant::now();
    tokio::task::spawn_blocking(move || p.pg_stop())
        .await
        .unwrap();
    wait_for("node-a standby without the database", ttl * 2, || {
        !active(&status_a)
    })
    .await;
    eprintln!(
        "stepped down {:?} after the database stopped",
        down.elapsed()
    );
    assert_eq!(options(a.sip.local_addr()).await.0, 503);
    assert_eq!(
        status_a.snapshot().unwrap().reason.as_deref(),
        Some("database_unhealthy")
    );
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.pg_start())
        .await
        .unwrap();
    wait_for("node-a active again", Duration::from_secs(30), || {
        active(&status_a)
    })
    .await;
    assert_eq!(options(a.sip.local_addr()).await, (200, None));
    a.node.stop().await;
}

/// The smallest engine settings: one queue, the agents, always open.
fn engine_config(agents: &[&str]) -> hotline_engine::EngineConfig {
    use hotline_core::{AgentId, QueueId};
    hotline_engine::EngineConfig {
        numbers: vec!["hotline".into()],
        queue: QueueId::new("general"),
        queues: Vec::new(),
        overflow: Default::default(),
        agent_skills: Default::default(),
        vip: Vec::new(),
        blacklist: Default::default(),
        ivr: None,
        agents: agents.iter().map(|a| AgentId::new(*a)).collect(),
        voicemail: None,
        closed_treatment: Default::default(),
        callback: None,
        announcements: None,
        schedule: Default::default(),
        queue_ring_timeout_ms: Default::default(),
        silent_line_ms: 0,
        feature_codes: Default::default(),
        cadence: Default::default(),
        answer_after_rings: 3,
        agent_ring_timeout_ms: 15_000,
        wrap_up_ms: 0,
        media_ip: "127.0.0.1".parse().unwrap(),
        record: false,
        record_queue: false,
        limits: Default::default(),
        limit_warning_fraction: 0.8,
        auto_pause_after_misses: 0,
        transfer_queue: None,
        limit_tone: false,
        outbound: None,
        media_timeout_ms: 0,
        monitor: Default::default(),
        trunks: Vec::new(),
        line_test: None,
        srtp: Default::default(),
    }
}

/// A node with its engine: the lease task tells the engine of the lost
/// node's agents, and the engine's duties follow the role.
struct WithEngine {
    node: ClusterNode,
    control: hotline_engine::control::AgentControl,
    store: Store,
    _sip: SipServer,
    _dir: tempfile::TempDir,
}

async fn start_node_with_engine(url: &str, id: &str, agents: &[&str], hold_ms: i64) -> WithEngine {
    start_node_with_engine_cfg(url, id, engine_config(agents), hold_ms).await
}

async fn start_node_with_engine_cfg(
    url: &str,
    id: &str,
    engine_cfg: hotline_engine::EngineConfig,
    hold_ms: i64,
) -> WithEngine {
    let agents: Vec<String> = engine_cfg
        .agents
        .iter()
        .map(|a| a.as_str().to_string())
        .collect();
    let store = Store::connect(url).await.unwrap().with_node(id);
    let (sink, _writer) = hotline_store::spawn_writer(store.clone());
    let cfg = SipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..SipConfig::default()
    };
    let accounts = agents
        .iter()
        .map(|a| hotline_sip::AgentAccount {
            id: a.to_string(),
            password: "secret".into(),
            algorithms: None,
            nat: false,
        })
        .collect();
    let (sip, events) = SipServer::start(cfg, accounts).await.unwrap();
    let media = hotline_media::MediaEngine::start(hotline_media::MediaConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min: 40_000,
        port_max: 40_200,
        workers: 1,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let recorder =
        hotline_recorder::Recorder::new(hotline_recorder::RecorderConfig::new(dir.path())).unwrap();
    let tone = |n| hotline_media::prompt::Prompt::tone(n, 440.0, 200, 1000);
    let prompts = hotline_engine::Prompts {
        greeting: tone("greeting"),
        music: tone("music"),
        blacklisted: None,
        silent_line: None,
        closed: None,
        agent_number: None,
        hold_resume: None,
        closing: None,
    };
    let settings = settings(id);
    let status =
        ClusterStatus::starting(settings.clone(), hotline_core::Clock::now_ms(&SystemClock));
    let engine = hotline_engine::Engine::new(
        engine_cfg,
        sip.clone(),
        media,
        recorder,
        sink.clone(),
        prompts,
    )
    .in_pair(status.role(), store.clone(), hold_ms);
    let control = engine.control();
    tokio::spawn(engine.run(events));
    let node = ClusterNode::start_with(
        settings,
        ClusterDeps {
            store: store.clone(),
            sip: sip.clone(),
            queues: vec!["general".into()],
            sink,
            live: None,
            clock: Arc::new(SystemClock),
            engine: Some(control.clone()),
        },
        status,
    );
    WithEngine {
        node,
        control,
        store,
        _sip: sip,
        _dir: dir,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A call of node-a with `agent` talking on it (no end: node-a is lost).
fn talking(call: &str, agent: &str) -> Vec<CallEvent> {
    let mut arrived = arrived(call);
    arrived.queue = Some(hotline_core::QueueId::new("general"));
    let answered = CallEvent {
        at_ms: arrived.at_ms + 1_000,
        call_id: Some(CallId::from_stored(call)),
        agent: Some(hotline_core::AgentId::new(agent)),
        queue: Some(hotline_core::QueueId::new("general")),
        kind: EventKind::AgentAnswered {
            wait_ms: 1_000,
            rings: 1,
            limit_ms: None,
        },
    };
    vec![arrived, answered]
}

/// The end of `call`, on which `agent` talked `talk_ms`: the caller hung up.
fn completed(call: &str, agent: &str, talk_ms: i64) -> CallEvent {
    CallEvent {
        at_ms: now_ms(),
        call_id: Some(CallId::from_stored(call)),
        agent: Some(hotline_core::AgentId::new(agent)),
        queue: Some(hotline_core::QueueId::new("general")),
        kind: EventKind::Completed {
            ended_by: hotline_core::EndedBy::Caller,
            talk_ms,
        },
    }
}

async fn agent_state(
    c: &hotline_engine::control::AgentControl,
    agent: &str,
) -> (String, Option<String>) {
    let all = c.list().await.unwrap();
    let s = all.iter().find(|s| s.agent == agent).unwrap();
    (s.state.to_string(), s.reason.clone())
}

async fn wait_state(
    c: &hotline_engine::control::AgentControl,
    agent: &str,
    want: &str,
    limit: Duration,
) -> Duration {
    let t = Instant::now();
    loop {
        let (state, reason) = agent_state(c, agent).await;
        if state == want {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < limit,
            "{agent}: {state} ({reason:?}), not {want} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_busy_on_the_lost_node_are_not_offered_by_the_survivor_until_released() {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let url = pg.url();
    let ttl = Duration::from_millis(1_500);
    let renew = Duration::from_millis(500);
    let agents = ["1001", "1002", "1003", "1004"];
    // node-a, active, carries three talking calls (1001, 1002, 1003); 1004
    // is free; every phone registered through the edge (stored bindings)
    let u = url.clone();
    let (rt_a, status_a, _) =
        tokio::task::spawn_blocking(move || start_in_own_runtime(u, "node-a"))
            .await
            .unwrap();
    wait_for("node-a active", ttl * 2, || active(&status_a)).await;
    let a_store = Store::connect(&url).await.unwrap().with_node("node-a");
    for (i, agent) in agents.iter().enumerate() {
        a_store
            .save_binding(
                &hotline_store::StoredBinding {
                    agent: agent.to_string(),
                    contact: format!("sip:{agent}@127.0.0.1:{}", 5990 + i),
                    source: format!("127.0.0.1:{}", 5990 + i),
                    transport: "udp".into(),
                    expires_at_ms: now_ms() + 3_600_000,
                    call_id: format!("reg-{agent}"),
                    cseq: 1,
                    path: Vec::new(),
                    nat: false,
                },
                now_ms(),
            )
            .await
            .unwrap();
    }
    for (call, agent) in [("a-1001", "1001"), ("a-1002", "1002"), ("a-1003", "1003")] {
        for e in talking(call, agent) {
            a_store.append_event(&e).await.unwrap();
        }
    }
    // a caller of node-a asked to be called back: still due
    a_store
        .append_event(&CallEvent {
            at_ms: now_ms(),
            call_id: Some(CallId::from_stored("a-cb-src")),
            agent: None,
            queue: Some(hotline_core::QueueId::new("general")),
            kind: EventKind::CallbackRequested {
                number: "13900000000".into(),
                callback: CallId::from_stored("a-cb-1"),
                deadline_ms: now_ms() + 3_600_000,
            },
        })
        .await
        .unwrap();
    // node-b with its engine, standby; a 6 s hold at most
    let b = start_node_with_engine(&url, "node-b", &agents, 6_000).await;
    let status_b = b.node.status();
    wait_for("node-b sees the holder", ttl * 2, || {
        status_b.snapshot().unwrap().holder.as_deref() == Some("node-a")
    })
    .await;
    // the standby starts no call and changes no agent it does not route
    let dial = b
        .control
        .dial(hotline_engine::control::DialRequest {
            agent: hotline_core::AgentId::new("1004"),
            number: "13800000000".into(),
            call_type: CallType::Reply,
            by: "api:test".into(),
        })
        .await;
    assert!(
        matches!(
            dial,
            Err(hotline_engine::control::ControlError::Unavailable(_))
        ),
        "{dial:?}"
    );

    // node-a is lost (SIGKILL: nothing released); node-b takes over
    tokio::task::spawn_blocking(move || drop(rt_a))
        .await
        .unwrap();
    wait_for("node-b active", (ttl + renew) * 2, || active(&status_b)).await;
    // the lost node's talking agents are held; the free one is not
    let held = Duration::from_secs(5);
    for agent in ["1001", "1002", "1003"] {
        wait_state(&b.control, agent, "paused", held).await;
        assert_eq!(
            agent_state(&b.control, agent).await.1.as_deref(),
            Some(hotline_engine::failover::HOLD_REASON)
        );
    }
    let (state, reason) = agent_state(&b.control, "1004").await;
    assert!(
        state != "paused" && reason.is_none(),
        "1004 is free: {state} {reason:?}"
    );
    let cdr = b
        .store
        .cdr(&CallId::from_stored("a-1001"))
        .await
        .unwrap()
        .expect("closed by the survivor");
    assert_eq!(cdr.end_cause.as_deref(), Some("node_failure"));

    // the lost node's callback is the survivor's now: not closed, offered
    // by node-b to the one free agent (1004: the held ones are not offered)
    wait_for_async(
        "node-b offers the callback",
        Duration::from_secs(10),
        || async {
            b.store
                .events_for_call(&CallId::from_stored("a-cb-1"))
                .await
                .unwrap()
                .iter()
                .any(|e| matches!(e.kind, EventKind::Offered { .. }))
        },
    )
    .await;
    let offers: Vec<String> = b
        .store
        .events_for_call(&CallId::from_stored("a-cb-1"))
        .await
        .unwrap()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Offered { .. }))
        .filter_map(|e| e.agent.as_ref().map(|a| a.to_string()))
        .collect();
    assert!(offers.iter().all(|a| a == "1004"), "{offers:?}");
    assert!(b
        .store
        .cdr(&CallId::from_stored("a-cb-1"))
        .await
        .unwrap()
        .is_none_or(|c| c.end_cause.as_deref() != Some("node_failure")));

    // 1001: the lost node's own end of its call reaches the database (it
    // was alive behind a database outage): released at the next look-up
    a_store
        .append_event(&completed("a-1001", "1001", 30_000))
        .await
        .unwrap();
    let took = wait_state(
        &b.control,
        "1001",
        "available",
        Duration::from_millis(hotline_engine::failover::CHECK_EVERY_MS as u64 + 2_000),
    )
    .await;
    eprintln!("1001 released {took:?} after its end reached the database");
    // 1002 sets themselves ready
    b.control
        .request(
            hotline_core::AgentId::new("1002"),
            hotline_callflow::AgentRequest::Unpause,
            hotline_engine::control::Requester {
                by: "phone".into(),
                override_minimum: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(agent_state(&b.control, "1002").await.0, "available");
    // 1003: still held until the timeout
    assert_eq!(agent_state(&b.control, "1003").await.0, "paused");
    wait_state(&b.control, "1003", "available", Duration::from_secs(8)).await;
    b.node.stop().await;
    drop(pg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarts_under_load_with_both_nodes() {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let url = pg.url();
    let ttl = Duration::from_millis(1_500);
    let a = start_node(&url, "node-a").await;
    let status_a = a.node.status();
    wait_for("node-a active", ttl * 2, || active(&status_a)).await;
    let b = start_node(&url, "node-b").await;
    let status_b = b.node.status();
    wait_for("node-b sees the holder", ttl * 2, || {
        status_b.snapshot().unwrap().holder.as_deref() == Some("node-a")
    })
    .await;
    let t0 = now_ms();

    // load: each node writes an event every 10 ms through its write-behind
    // sink, before, during and after the outage
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = |sink: hotline_store::EventSink, node: &'static str| {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sink.event(arrived(&format!("load-{node}-{sent}")));
                sent += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            sent
        })
    };
    let load_a = load(a.sink.clone(), "a");
    let load_b = load(b.sink.clone(), "b");
    // the roles, sampled every 10 ms: never both active
    let sampler = {
        let (sa, sb, stop) = (status_a.clone(), status_b.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut samples, mut both, mut none) = (0u64, 0u64, 0u64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (x, y) = (active(&sa), active(&sb));
                samples += 1;
                both += u64::from(x && y);
                none += u64::from(!x && !y);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (samples, both, none)
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    // the database restarts: down for two ttls
    let pg = Arc::new(pg);
    let p = pg.clone();
    let down = Instant::now();
    tokio::task::spawn_blocking(move || p.pg_stop())
        .await
        .unwrap();
    wait_for("node-a steps down", ttl * 2, || !active(&status_a)).await;
    let stepped = down.elapsed();
    assert!(!active(&status_b));
    assert_eq!(options(a.sip.local_addr()).await.0, 503);
    assert_eq!(options(b.sip.local_addr()).await.0, 503);
    tokio::time::sleep(ttl * 2).await;
    assert!(!active(&status_a) && !active(&status_b));
    let p = pg.clone();
    let up = Instant::now();
    tokio::task::spawn_blocking(move || p.pg_start())
        .await
        .unwrap();
    wait_for("one node active again", Duration::from_secs(30), || {
        active(&status_a) || active(&status_b)
    })
    .await;
    let back = up.elapsed();
    // it stays so: one active, the other standby, for two ttls
    tokio::time::sleep(ttl * 2).await;
    let (x, y) = (active(&status_a), active(&status_b));
    assert!(x ^ y, "exactly one active: a {x}, b {y}");
    let (winner, loser) = if x { (&a, &b) } else { (&b, &a) };
    assert_eq!(options(winner.sip.local_addr()).await, (200, None));
    assert_eq!(options(loser.sip.local_addr()).await.0, 503);

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent_a = load_a.await.unwrap();
    let sent_b = load_b.await.unwrap();
    let (samples, both, none) = sampler.await.unwrap();
    eprintln!(
        "database restart: stepped down {stepped:?} after the stop; active again {back:?} after the start; \
         {samples} samples, {both} with both active, {none} with none; {sent_a} + {sent_b} events written"
    );
    assert_eq!(both, 0, "never two active nodes");
    // no event lost: the write-behind queues held them through the outage
    for n in [&a, &b] {
        tokio::time::timeout(Duration::from_secs(30), n.sink.flush())
            .await
            .expect("the queued events written after the restart");
        assert_eq!(n.sink.lost(), 0);
    }
    let stored = a
        .store
        .events_of_kind("arrived", t0 - 1, 100_000)
        .await
        .unwrap();
    let count = |prefix: &str| {
        stored
            .iter()
            .filter(|e| {
                e.call_id
                    .as_ref()
                    .is_some_and(|c| c.as_str().starts_with(prefix))
            })
            .count() as u64
    };
    assert_eq!(count("load-a-"), sent_a);
    assert_eq!(count("load-b-"), sent_b);
    // the log tells the story: node-a standby for the database, then one
    // node active; the leases' fence grew only with a change of owner
    let standby = a
        .store
        .events_of_kind("node_standby", t0, 100)
        .await
        .unwrap();
    assert!(
        standby.iter().any(|e| matches!(&e.kind,
            EventKind::NodeStandby { node, reason, .. }
                if node == "node-a" && reason == "database_unhealthy")),
        "{standby:?}"
    );
    let view = a.store.lease_view().await.unwrap();
    let winner_id = if x { "node-a" } else { "node-b" };
    for l in &view.leases {
        assert_eq!(l.owner, winner_id, "{view:?}");
        assert_eq!(l.fence, if x { 1 } else { 2 }, "{view:?}");
    }
    a.node.stop().await;
    b.node.stop().await;
}

async fn waiting_in(c: &hotline_engine::control::AgentControl, queue: &str) -> Vec<String> {
    c.queues()
        .await
        .unwrap()
        .into_iter()
        .filter(|q| q.queue == queue)
        .flat_map(|q| q.waiting.into_iter().map(|w| w.call_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_back_from_standby_does_not_run_a_callback_the_other_node_finished() {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let url = pg.url();
    let ttl = Duration::from_millis(1_500);
    let renew = Duration::from_millis(500);
    // a callback due in the shared log; no agent anywhere (it waits)
    let log = Store::connect(&url).await.unwrap().with_node("node-0");
    log.append_event(&callback_requested("src-1", "cb-1"))
        .await
        .unwrap();
    // node-a with its engine: active, it takes the callback over
    let a = start_node_with_engine(&url, "node-a", &["1001"], 60_000).await;
    let status_a = a.node.status();
    wait_for("node-a active", ttl * 2, || active(&status_a)).await;
    wait_for_async(
        "node-a runs the callback",
        Duration::from_secs(10),
        || async { waiting_in(&a.control, "general").await == ["cb-1"] },
    )
    .await;
    // node-b (no engine) takes over on node-a's clean stop: node-a's engine
    // stays up, standby, the callback parked (no offers)
    let b = start_node(&url, "node-b").await;
    let status_b = b.node.status();
    let role_a = status_a.role();
    a.node.stop().await;
    wait_for("node-b active", renew * 4, || active(&status_b)).await;
    assert!(!role_a.is_active());
    // node-b ran the callback to its end (here: it expired)
    b.store
        .append_event(&CallEvent {
            at_ms: now_ms(),
            call_id: Some(CallId::from_stored("cb-1")),
            agent: None,
            queue: Some(hotline_core::QueueId::new("general")),
            kind: EventKind::CallbackExpired { attempts: 0 },
        })
        .await
        .unwrap();
    // node-b stops; node-a's lease task starts again on the same engine
    b.node.stop().await;
    let a2 = restart_lease_task(&a.store, &a._sip, &a.control, &status_a);
    wait_for("node-a active again", (ttl + renew) * 2, || {
        active(&status_a)
    })
    .await;
    // the callback the log says is over is dropped, not run again
    wait_for_async(
        "node-a drops the finished callback",
        Duration::from_secs(10),
        || async { waiting_in(&a.control, "general").await.is_empty() },
    )
    .await;
    let of_cb = kinds_of(&a.store, "cb-1").await;
    // queued once by node-a's first take-over, ended by node-b, nothing
    // after (no second queueing, no offer, no end of node-a's)
    assert_eq!(of_cb, ["queued", "callback_expired"]);
    a2.stop().await;
}

/// Starts node-a's lease task again on the same engine (its store, SIP
/// server and engine control, after the task was stopped), publishing
/// into `status`.
fn restart_lease_task(
    store: &Store,
    sip: &SipServer,
    control: &hotline_engine::control::AgentControl,
    status: &ClusterStatus,
) -> ClusterNode {
    ClusterNode::start_with(
        settings("node-a"),
        ClusterDeps {
            store: store.clone(),
            sip: sip.clone(),
            queues: vec!["general".into()],
            sink: hotline_store::spawn_writer(store.clone()).0,
            live: None,
            clock: Arc::new(SystemClock),
            engine: Some(control.clone()),
        },
        status.clone(),
    )
}

/// A callback requested in the shared log (as a node writes it when a
/// waiting caller presses the key).
fn callback_requested(src: &str, callback: &str) -> CallEvent {
    CallEvent {
        at_ms: now_ms(),
        call_id: Some(CallId::from_stored(src)),
        agent: None,
        queue: Some(hotline_core::QueueId::new("general")),
        kind: EventKind::CallbackRequested {
            number: "13900000000".into(),
            callback: CallId::from_stored(callback),
            deadline_ms: now_ms() + 3_600_000,
        },
    }
}

/// A stored registration of `agent` at 127.0.0.1:`port`.
fn binding(agent: &str, port: u16) -> hotline_store::StoredBinding {
    hotline_store::StoredBinding {
        agent: agent.to_string(),
        contact: format!("sip:{agent}@127.0.0.1:{port}"),
        source: format!("127.0.0.1:{port}"),
        transport: "udp".into(),
        expires_at_ms: now_ms() + 3_600_000,
        call_id: format!("reg-{agent}"),
        cseq: 1,
        path: Vec::new(),
        nat: false,
    }
}

/// The kinds of a call's events in the shared log.
async fn kinds_of(store: &Store, call: &str) -> Vec<&'static str> {
    store
        .events_for_call(&CallId::from_stored(call))
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.name())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_created_on_the_active_node_after_the_standby_started_is_worked_by_it_on_take_over(
) {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let url = pg.url();
    let ttl = Duration::from_millis(1_500);
    let renew = Duration::from_millis(500);
    // node-a active, node-b (with its engine) standby from the start
    let a = start_node_with_engine(&url, "node-a", &["1001"], 60_000).await;
    let status_a = a.node.status();
    wait_for("node-a active", ttl * 2, || active(&status_a)).await;
    let b = start_node_with_engine(&url, "node-b", &["1001"], 60_000).await;
    let status_b = b.node.status();
    wait_for("node-b sees the holder", ttl * 2, || {
        status_b.snapshot().unwrap().holder.as_deref() == Some("node-a")
    })
    .await;
    // after node-b started: agent 1001 registers through node-a's registrar
    // and a caller of node-a asks to be called back
    a.store
        .save_binding(&binding("1001", 5_981), now_ms())
        .await
        .unwrap();
    a.store
        .append_event(&callback_requested("a-src-2", "a-cb-2"))
        .await
        .unwrap();
    assert!(waiting_in(&b.control, "general").await.is_empty());
    // node-a stops; node-b takes over and works the callback: queued and
    // offered to 1001 by node-b
    a.node.stop().await;
    wait_for("node-b active", (ttl + renew) * 2, || active(&status_b)).await;
    wait_for_async(
        "node-b offers the callback",
        Duration::from_secs(10),
        || async { kinds_of(&b.store, "a-cb-2").await.contains(&"offered") },
    )
    .await;
    // (node-a never ran it: it was only in the log)
    let offered: Vec<Option<String>> = b
        .store
        .events_for_call(&CallId::from_stored("a-cb-2"))
        .await
        .unwrap()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Offered { .. }))
        .map(|e| e.agent.as_ref().map(|x| x.to_string()))
        .collect();
    assert_eq!(offered.first().cloned().flatten().as_deref(), Some("1001"));
    b.node.stop().await;
}

/// A SIPp UAS from tests/peers on 127.0.0.1:`port` for `calls` calls
/// (killed on drop).
struct Sipp {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Sipp {
    fn spawn(scenario: &str, port: u16, calls: u32, keys: &[(&str, &str)]) -> Option<Sipp> {
        let peers = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers");
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new("sipp");
        cmd.arg("-sf")
            .arg(peers.join(scenario))
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &calls.to_string(), "-d", "0", "-nostdin"])
            .args(["-timeout", "60s"]);
        for (k, v) in keys {
            cmd.args(["-key", k, v]);
        }
        match cmd
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => Some(Sipp { child, _dir: dir }),
            Err(e) => {
                eprintln!("SKIPPED: sipp not found ({e}); scripts/test.sh installs it");
                None
            }
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_between_two_attempts_is_not_made_again_by_a_node_back_from_standby() {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let url = pg.url();
    let ttl = Duration::from_millis(1_500);
    let renew = Duration::from_millis(500);
    let retry = Duration::from_secs(10);
    // agent 1001's phone answers once; the customer's line is busy once
    let (agent_port, gateway_port) = (free_udp_port(), free_udp_port());
    let Some(_agent) = Sipp::spawn(
        "agent_uas_signalling.xml",
        agent_port,
        1,
        &[("agent", "1001")],
    ) else {
        return;
    };
    let Some(_gateway) = Sipp::spawn("agent_busy.xml", gateway_port, 1, &[]) else {
        return;
    };
    let mut cfg = engine_config(&["1001"]);
    cfg.callback = Some(hotline_engine::callback::CallbackConfig {
        key: '1',
        offer: None,
        confirm: None,
        deadline_ms: 3_600_000,
        dial: format!("sip:{{number}}@127.0.0.1:{gateway_port}"),
        gateway: format!("127.0.0.1:{gateway_port}").parse().unwrap(),
        retry_ms: retry.as_millis() as i64,
        attempts: 3,
        answer_timeout_ms: 5_000,
        trunk: None,
        owner_wait_ms: 0,
    });
    let log = Store::connect(&url).await.unwrap().with_node("node-0");
    log.append_event(&callback_requested("src-4", "cb-4"))
        .await
        .unwrap();
    // node-a active: it takes the callback over; 1001 registered there
    let a = start_node_with_engine_cfg(&url, "node-a", cfg, 60_000).await;
    let status_a = a.node.status();
    wait_for("node-a active", ttl * 2, || active(&status_a)).await;
    a.store
        .save_binding(&binding("1001", agent_port), now_ms())
        .await
        .unwrap();
    hotline_engine::bindings::restore_live(&a.store, &a._sip, &SystemClock)
        .await
        .unwrap();
    // the first attempt: 1001 answers, the customer is busy
    wait_for_async(
        "the first attempt fails",
        Duration::from_secs(20),
        || async {
            kinds_of(&a.store, "cb-4")
                .await
                .contains(&"callback_attempt_failed")
        },
    )
    .await;
    let failed_at = Instant::now();
    // between two attempts: node-a steps down (its engine stays up),
    // node-b takes over and runs the callback to its end
    let b = start_node(&url, "node-b").await;
    let status_b = b.node.status();
    a.node.stop().await;
    wait_for("node-b active", renew * 4, || active(&status_b)).await;
    b.store
        .append_event(&completed("cb-4", "1001", 20_000))
        .await
        .unwrap();
    // node-b stops; node-a's lease task starts again on the same engine,
    // still before the callback's next attempt is due
    b.node.stop().await;
    let a2 = restart_lease_task(&a.store, &a._sip, &a.control, &status_a);
    wait_for("node-a active again", (ttl + renew) * 2, || {
        active(&status_a)
    })
    .await;
    assert!(
        failed_at.elapsed() < retry,
        "too slow: node-a was active again {:?} after the failed attempt (the retry is {retry:?})",
        failed_at.elapsed()
    );
    // past the retry: the callback the log says is over makes no attempt
    tokio::time::sleep(retry.saturating_sub(failed_at.elapsed()) + Duration::from_secs(3)).await;
    let kinds = kinds_of(&a.store, "cb-4").await;
    let n = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(
        (n("offered"), n("callback_attempt_failed"), n("queued")),
        (1, 1, 1),
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"completed"), "{kinds:?}");
    a2.stop().await;
}

/// A caller's INVITE to `to` (call id `call`), its answers read up to the
/// ringing (no agent: the engine answers only after three rings).
async fn ring(to: std::net::SocketAddr, call: &str) -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let rtp = me.port() + 1;
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    );
    let invite = format!(
        "INVITE sip:hotline@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call};rport\r\nMax-Forwards: 70\r\nFrom: <sip:13900000001@{me}>;tag={call}\r\nTo: <sip:hotline@{to}>\r\nCall-ID: {call}\r\nCSeq: 1 INVITE\r\nContact: <sip:13900000001@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    sock.send_to(invite.as_bytes(), to).await.unwrap();
    let mut code = next_code(&sock).await;
    while code == 100 {
        code = next_code(&sock).await;
    }
    assert!(code == 180 || code == 183, "{code}");
    sock
}

/// The ACK of a final answer to [`ring`]'s INVITE.
async fn ack(sock: &UdpSocket, to: std::net::SocketAddr, call: &str) {
    let me = sock.local_addr().unwrap();
    let ack = format!(
        "ACK sip:hotline@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{call};rport\r\nMax-Forwards: 70\r\nFrom: <sip:13900000001@{me}>;tag={call}\r\nTo: <sip:hotline@{to}>\r\nCall-ID: {call}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(ack.as_bytes(), to).await.unwrap();
}

/// The status code of the next SIP answer on `sock`.
async fn next_code(sock: &UdpSocket) -> u16 {
    let mut buf = vec![0u8; 8192];
    let (n, _) = tokio::time::timeout(Duration::from_secs(15), sock.recv_from(&mut buf))
        .await
        .expect("an answer to the INVITE")
        .unwrap();
    String::from_utf8_lossy(&buf[..n])[8..11].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_steps_down_refuses_its_ringing_caller_503_for_the_active_node() {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let url = pg.url();
    let ttl = Duration::from_millis(1_500);
    // node-a active with its engine, no agent logged in: a caller rings
    let a = start_node_with_engine(&url, "node-a", &["1001"], 60_000).await;
    let status_a = a.node.status();
    wait_for("node-a active", ttl * 2, || active(&status_a)).await;
    let sock = ring(a._sip.local_addr(), "stepdown-1").await;
    // node-a steps down (its lease task stops; node-b would be active)
    let stepped = Instant::now();
    a.node.stop().await;
    let code = next_code(&sock).await;
    let took = stepped.elapsed();
    assert_eq!(code, 503, "the ringing caller is sent back to the edge");
    assert!(
        took >= Duration::from_millis(hotline_engine::STEP_DOWN_GRACE_MS as u64 - 100)
            && took < Duration::from_secs(6),
        "{took:?}"
    );
    eprintln!("503 to the ringing caller {took:?} after the step-down");
    ack(&sock, a._sip.local_addr(), "stepdown-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_flips_back_within_the_grace_keeps_its_ringing_caller() {
    let Some(pg) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let url = pg.url();
    let ttl = Duration::from_millis(1_500);
    let a = start_node_with_engine(&url, "node-a", &["1001"], 60_000).await;
    let status_a = a.node.status();
    wait_for("node-a active", ttl * 2, || active(&status_a)).await;
    let sock = ring(a._sip.local_addr(), "flip-1").await;
    // standby and active again at once (its leases released and taken back)
    a.node.stop().await;
    let a2 = ClusterNode::start_with(
        settings("node-a"),
        ClusterDeps {
            store: a.store.clone(),
            sip: a._sip.clone(),
            queues: vec!["general".into()],
            sink: hotline_store::spawn_writer(a.store.clone()).0,
            live: None,
            clock: Arc::new(SystemClock),
            engine: Some(a.control.clone()),
        },
        status_a.clone(),
    );
    let back = wait_for("node-a active again", ttl * 2, || active(&status_a)).await;
    assert!(
        back < Duration::from_millis(hotline_engine::STEP_DOWN_GRACE_MS as u64),
        "{back:?}"
    );
    // no 503: the engine answers the caller itself after three rings
    let code = next_code(&sock).await;
    assert_eq!(code, 200);
    ack(&sock, a._sip.local_addr(), "flip-1").await;
    a2.stop().await;
}
