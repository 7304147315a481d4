//! `hotline-server`: the composition root. It wires the engine, the store,
//! the recorder and the HTTP API into a running node (`serve`: the order the
//! pieces start in, the event tee to the live KPIs, work list and notifier,
//! the restart take-over, the SIGHUP TLS reload and the shutdown), and the
//! settings into each subcommand's library calls. The binary keeps only its
//! command-line arguments and calls these functions.

pub mod access;
pub mod cases;
pub mod duty;
pub mod notify;
pub mod recordings;
pub mod report;
pub mod worklist;

use anyhow::{bail, Context, Result};
use config::settings::Settings;
use config::Config;
use hotline_config as config;
use hotline_engine::Engine;
use hotline_media::MediaEngine;
use hotline_recorder::Recorder;
use hotline_sip::SipServer;
use tracing::{error, info, warn};

/// A single-threaded runtime for a subcommand's database work.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The config's database, for a subcommand (`storage.database_url`).
pub async fn open_store(cfg: &Config) -> Result<hotline_store::Store> {
    hotline_store::Store::connect(&cfg.database_url())
        .await
        .context("cannot open the database (storage.database_url)")
}

/// Start and end of a day (YYYY-MM-DD) of the center's calendar, epoch ms;
/// an error names the flag `key`.
pub fn day_bounds(cal: &hotline_core::Calendar, day: &str, key: &str) -> Result<(i64, i64)> {
    let d = hotline_core::calendar::parse_date(day).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    cal.day_bounds(d).map_err(|e| anyhow::anyhow!("{key}: {e}"))
}

/// Writes a subcommand's output to the `--out` file, or to stdout.
pub fn write_out(out: Option<&std::path::Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("--out: cannot write {}", path.display())),
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
            Ok(())
        }
    }
}

/// Who keeps the agents' registrations for this node.
enum Registrations {
    /// This node's registrar, written behind to the database.
    Here(hotline_engine::bindings::WriteBehind),
    /// Kamailio (`cluster.registrar = "kamailio"`), read from its table.
    AtTheEdge(hotline_engine::edge_registrar::EdgeRegistrar),
}

/// `hotline serve` after the settings are built: runs the node on a
/// multi-threaded runtime until SIGINT or SIGTERM.
pub fn serve(settings: Settings) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hotline-io")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(settings))
}

/// The supervisor console over the store, with the engine's blacklist
/// (its run-time entries loaded from the store).
async fn console(
    cfg: &Config,
    store: hotline_store::Store,
    blacklist: hotline_engine::routing::Blacklist,
) -> Result<hotline_api::Console> {
    let console = hotline_api::Console::new(
        store,
        cfg.console_config()?,
        std::sync::Arc::new(hotline_core::SystemClock),
        Some(blacklist),
    );
    let n = console
        .load_blacklist()
        .await
        .context("console: cannot load the run-time blacklist")?;
    info!(entries = n, "run-time blacklist loaded");
    Ok(console)
}

/// Starts every piece of the node in order and waits for a signal to stop.
pub async fn run(settings: Settings) -> Result<()> {
    let Settings {
        cfg,
        center,
        engine: engine_cfg,
        prompts,
        sip: sip_cfg,
        accounts,
        media: media_cfg,
        tls,
    } = settings;
    std::fs::create_dir_all(&cfg.storage.data_dir).with_context(|| {
        format!(
            "storage.data_dir: cannot create {}",
            cfg.storage.data_dir.display()
        )
    })?;
    let recorder_cfg = recordings::recorder_config(&cfg)?;
    let sealed = recorder_cfg.sealed.clone();
    let recorder = Recorder::new(recorder_cfg).with_context(|| {
        format!(
            "storage.recordings: {} is not usable",
            cfg.recordings_dir().display()
        )
    })?;
    let store = hotline_store::Store::connect(&cfg.database_url())
        .await
        .context("storage: cannot open the database")?;
    // the HA pair: events marked with this node, the SIP gate shut until
    // the leases are taken
    let cluster_cfg = cfg.cluster_settings()?;
    let store = match &cluster_cfg {
        Some(c) => store.with_node(&c.node_id),
        None => store,
    };
    hotline_recorder::startup_sweep(&recorder, &store)
        .await
        .context("recordings sweep")?;
    // recordings on shared storage: proven now, uploaded behind
    let shared = recordings::start_shared_store(&cfg, &recorder, sealed, store.clone()).await?;
    let (sink, writer) = hotline_store::spawn_writer(store.clone());
    if let Some(notary) = recorder.notary().cloned() {
        hotline_recorder::retention::spawn(
            cfg.recordings_dir(),
            center.retention.clone(),
            std::time::Duration::from_secs(u64::from(cfg.retention.check_every_s)),
            store.clone(),
            notary,
            sink.clone(),
            recordings::store_sweep(&cfg, &center, shared)?,
        );
    }

    let media = MediaEngine::start(media_cfg).context("media: cannot start RTP workers")?;
    for a in &cfg.agents {
        info!(agent = %a.id, name = a.name.as_deref().unwrap_or("-"), "agent account");
    }
    let (sip, sip_events) = SipServer::start_with_lockout(sip_cfg, accounts, cfg.sip_lockout()?)
        .await
        .context("sip.listen")?;
    if let Some(c) = &cluster_cfg {
        sip.set_standby(Some(c.retry_after_s()));
    }
    let clock = std::sync::Arc::new(hotline_core::SystemClock);
    let bindings = match cfg.edge_registrar()? {
        // Kamailio is the registrar: its location table is read all the time
        Some(edge) => {
            let realm = cfg.sip.realm.clone();
            let subscribers = cfg
                .agents
                .iter()
                .map(|a| {
                    let (ha1, ha1b) =
                        hotline_sip::DigestAlgorithm::Md5.ha1_pair(&a.id, &realm, &a.password);
                    hotline_store::Subscriber {
                        username: a.id.clone(),
                        ha1,
                        ha1b,
                    }
                })
                .collect();
            info!(%edge, "agents register with Kamailio (cluster.registrar = \"kamailio\")");
            Registrations::AtTheEdge(hotline_engine::edge_registrar::EdgeRegistrar::start(
                store.clone(),
                sip.clone(),
                edge,
                realm,
                subscribers,
                clock,
            ))
        }
        // registrations saved before a restart come back; changes are saved behind
        None => {
            if let Err(e) = hotline_engine::bindings::restore(&store, &sip, clock.as_ref()).await {
                warn!(error = %e, "saved registrations could not be read; phones register again");
            }
            Registrations::Here(hotline_engine::bindings::WriteBehind::start(
                store.clone(),
                sip.clone(),
                clock,
            ))
        }
    };
    // bans and locks for password guessing, to the audit log
    hotline_engine::bans::spawn_audit(&sip, store.clone());
    // the HA pair's role: one source of truth for the node-only duties
    // (published by the lease task started below); a single node is always
    // active
    let cluster_status = cluster_cfg.as_ref().map(|c| {
        hotline_engine::cluster_task::ClusterStatus::starting(
            c.clone(),
            hotline_core::Clock::now_ms(&hotline_core::SystemClock),
        )
    });
    let role = cluster_status
        .as_ref()
        .map(|s| s.role())
        .unwrap_or_default();
    let blacklist = engine_cfg.blacklist.clone();
    let case_owners = hotline_engine::owners::CaseOwners::new();
    // the engine's events, as they happen, to the live KPIs and the work list
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut event_outputs = Vec::new();
    let worklist = worklist::start(
        &cfg,
        &center,
        store.clone(),
        sink.clone(),
        events_tx.clone(),
        case_owners.clone(),
    )
    .await?;
    let mut engine_cfg = engine_cfg;
    worklist::permit(&cfg, worklist.as_ref(), &mut engine_cfg);
    // the case owner may call their complaint's customer (the reply call)
    if let Some(o) = engine_cfg.outbound.as_mut() {
        o.permit = std::mem::take(&mut o.permit)
            .with("case owner", std::sync::Arc::new(case_owners.clone()));
    }
    // alarms out by e-mail and webhook, and the twice-daily line test
    let line_test_since = notify::start(
        &cfg,
        &center,
        &store,
        &engine_cfg,
        &mut event_outputs,
        role.clone(),
    )
    .await;
    if let Some(w) = &worklist {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(w.clone().run_as(rx, role.clone()));
        event_outputs.push(tx);
    }
    let lease_names = hotline_engine::cluster_task::queue_leases(&engine_cfg);
    let mut engine = Engine::new(
        engine_cfg,
        sip.clone(),
        media.clone(),
        recorder,
        sink.clone(),
        prompts,
    )
    .with_case_owners(
        case_owners.clone(),
        i64::from(cfg.cases.owner_wait_s) * 1000,
    )
    .with_audit(store.clone())
    .with_line_test_since(line_test_since);
    let duty = duty::start(&cfg, &store, &center.calendar).await?;
    if let Some(d) = &duty {
        engine = engine.with_duty(d.board.clone());
    }
    let cluster = match (cluster_cfg.clone(), cluster_status) {
        (Some(c), Some(status)) => {
            let deps = hotline_engine::cluster_task::ClusterDeps {
                store: store.clone(),
                sip: sip.clone(),
                queues: lease_names,
                sink: sink.clone(),
                live: Some(events_tx.clone()),
                clock: std::sync::Arc::new(hotline_core::SystemClock),
                engine: Some(engine.control()),
            };
            engine = engine.in_pair(role.clone(), store.clone(), cfg.failover_hold_ms());
            Some(hotline_engine::cluster_task::ClusterNode::start_with(
                c, deps, status,
            ))
        }
        _ => None,
    };
    let mut http_addr = None;
    if cfg.http.enabled {
        let (live_tx, live_rx) = tokio::sync::mpsc::unbounded_channel();
        event_outputs.push(live_tx.clone());
        let live = hotline_api::engine::LiveKpis::spawn(live_rx, center.live());
        let console = console(&cfg, store.clone(), blacklist).await?;
        let console = cases::attach(
            &cfg,
            console,
            sink.clone(),
            live_tx.clone(),
            case_owners.clone(),
            role.clone(),
        )
        .await?;
        let duty = duty.map(|d| {
            duty::api(
                &cfg,
                d,
                store.clone(),
                engine.control(),
                &sink,
                &live_tx,
                role.clone(),
            )
        });
        let api = hotline_api::engine::Api {
            duty,
            worklist: worklist.clone(),
            console,
            live,
            agents: engine.control(),
            trunks: engine.trunks(),
            line_tests: engine.line_tests(),
            bans: hotline_engine::bans::SipBans::new(std::sync::Arc::new(sip.clone())),
            cluster: cluster.as_ref().map(|c| c.status()),
            tls,
            console_routes: cfg.console.enabled,
        };
        let limits = hotline_api::edge::HttpLimits {
            max_per_source: cfg.http.max_connections_per_source,
            max_total: cfg.http.max_connections,
            header_timeout: std::time::Duration::from_secs(u64::from(cfg.http.header_timeout_s)),
        };
        let (addr, _) = hotline_api::engine::serve_within(cfg.http.listen, api, limits).await?;
        http_addr = Some(addr);
    }
    if !event_outputs.is_empty() {
        hotline_api::worklist::service::tee(events_rx, event_outputs);
        engine = engine.with_live_events(events_tx);
    }
    // callbacks pending from before a restart are taken over; the other
    // calls a killed engine left unfinished get their end and CDR
    let now = hotline_core::Clock::now_ms(&hotline_core::SystemClock);
    match &cluster_cfg {
        // in the pair only this node's own calls (the other node's may be
        // up); callbacks still due stay open: whichever node is active
        // takes them over (Engine::in_pair)
        Some(c) => {
            let keep = hotline_engine::callback::load_pending(&store, now)
                .await
                .into_iter()
                .map(|p| p.id)
                .collect();
            hotline_engine::restart::close_node_calls_except(
                &store,
                now,
                &c.node_id,
                hotline_engine::restart::RESTART_REASON,
                &keep,
            )
            .await;
        }
        None => {
            let pending = hotline_engine::restart::take_over(&store, now).await;
            engine = engine.with_pending_callbacks(pending);
        }
    }
    let engine_task = tokio::spawn(engine.run(sip_events));
    info!(sip = %sip.local_addr(), http = ?http_addr, data = %cfg.storage.data_dir.display(), recordings = %cfg.recordings_dir().display(), "hotline ready");
    let tls = sip
        .tls_addr()
        .map(|a| format!(" tls={a}"))
        .unwrap_or_default();
    match http_addr {
        Some(h) => println!("hotline: ready sip={}{tls} http={h}", sip.local_addr()),
        None => println!("hotline: ready sip={}{tls}", sip.local_addr()),
    }
    // SIGHUP: the SIP TLS certificate and key read again (calls stay up)
    #[cfg(unix)]
    if sip.tls_addr().is_some() {
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            let sip = sip.clone();
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    if let Err(e) = sip.reload_tls().await {
                        error!(error = %e, "SIGHUP: the TLS certificate was not reloaded; the previous one stays");
                    }
                }
            });
        }
    }

    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => info!("interrupted, shutting down"),
        _ = term => info!("terminated, shutting down"),
        r = engine_task => {
            error!(?r, "engine stopped unexpectedly");
            sink.flush().await;
            bail!("the engine stopped");
        }
    }
    if let Some(c) = cluster {
        c.stop().await;
    }
    sip.shutdown();
    match bindings {
        Registrations::Here(w) => w.stop().await,
        Registrations::AtTheEdge(e) => e.stop().await,
    }
    sink.flush().await;
    media.shutdown();
    drop(sink);
    writer.abort();
    Ok(())
}
