//! `hotline-phone`: see the library documentation and docs/operations.md
//! ("USB headset softphone").

use clap::{Parser, Subcommand};
use hotline_phone::api::{read_token, AgentView, ApiAction, ApiTarget};
use hotline_phone::device::{list_devices, render_devices};
use hotline_phone::phone::{run, AudioMode, Command, PhoneConfig, PhoneError, Reporter};
use hotline_phone::play::{Channel, PlayOptions};
use hotline_phone::tui::ApiUi;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

/// Agent softphone bridge: registers to the hotline as an agent and bridges
/// calls to a USB headset (or to WAV files).
#[derive(Parser, Debug)]
#[command(name = "hotline-phone", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// The hotline's SIP address, HOST[:PORT] (default port 5060).
    #[arg(long)]
    server: Option<String>,
    /// The agent's extension.
    #[arg(long)]
    agent: Option<String>,
    /// File holding the agent's password (first line).
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// The password itself (prefer --password-file or HOTLINE_PHONE_PASSWORD).
    #[arg(long)]
    password: Option<String>,
    /// Capture device (name or id substring; default: the system default).
    #[arg(long)]
    input: Option<String>,
    /// Playback device (name or id substring; default: the system default).
    #[arg(long)]
    output: Option<String>,
    /// Use this WAV as the microphone (looped), paced by a clock, no device.
    #[arg(long)]
    input_wav: Option<PathBuf>,
    /// Write what the caller says to this WAV (mono, 16-bit), no device.
    #[arg(long)]
    output_wav: Option<PathBuf>,
    /// Sample rate of --output-wav (the stand-in device's rate).
    #[arg(long, default_value_t = 48000)]
    output_rate: u32,
    /// Answer automatically after this many ms (0 = at once); without it,
    /// answer with `a` + Enter.
    #[arg(long)]
    auto_answer_ms: Option<u64>,
    /// Hang up each call after this many ms (unattended use, tests).
    #[arg(long)]
    hangup_after_ms: Option<u64>,
    /// Exit after this many calls.
    #[arg(long)]
    calls: Option<u32>,
    /// Registration length to ask for, seconds.
    #[arg(long, default_value_t = 600)]
    expires: u32,
    /// OPTIONS keep-alive toward the server every this many seconds
    /// (randomised 80-100 %, RFC 5626); 0 = off. Two unanswered in a row:
    /// reported, and the phone registers again.
    #[arg(long, default_value_t = hotline_sip::DEFAULT_KEEPALIVE_S)]
    keepalive_s: u32,
    /// Full-screen terminal interface (keys a/h/m/q) instead of status lines.
    #[arg(long)]
    tui: bool,
    /// Language of --tui: zh (Simplified Chinese) or en; default from
    /// LC_ALL / LC_MESSAGES / LANG, else zh.
    #[arg(long, value_parser = parse_lang)]
    lang: Option<hotline_phone::tui::Lang>,
    /// The engine's HTTP API, http://HOST:PORT (e.g. http://127.0.0.1:8080):
    /// follow the agent's events (state, call type, handle-time limit,
    /// missed calls) and send pause/hold/transfer/type/mark requests.
    #[arg(long)]
    api: Option<String>,
    /// File holding the API bearer token (the server's http.api_token),
    /// first line. Needed for the requests, not for following events.
    #[arg(long)]
    api_token_file: Option<PathBuf>,
    /// Local IP for SIP and RTP (default: the one that routes to the server).
    #[arg(long)]
    bind: Option<std::net::IpAddr>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List audio devices and their sample rates.
    Devices,
    /// Play a hotline recording (WAV, 8 kHz stereo: left caller, right
    /// agent) on the output device, or render it to a WAV. On a terminal:
    /// space pause, <-/-> seek 5 s, +/- speed, q quit. Exit codes: 0 done,
    /// 64 bad option, 65 bad input file, 3 audio device, 73 output file.
    Play {
        /// The recording.
        file: PathBuf,
        /// Which side to hear: caller (left), agent (right), both (stereo).
        #[arg(long, default_value = "both", value_parser = parse_channel)]
        channel: Channel,
        /// Speed from 0.2 to 1.0; slower keeps the pitch (time-stretch).
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
        speed: f64,
        /// Start this many seconds into the recording.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        start: f64,
        /// Playback device (name or id substring; default: the system default).
        #[arg(long)]
        output: Option<String>,
        /// Render to this WAV (16-bit, the recording's rate; mono for caller
        /// or agent, stereo for both) instead of playing.
        #[arg(long)]
        output_wav: Option<PathBuf>,
    },
}

/// An engine request typed on stdin (without --tui).
fn parse_api_line(l: &str) -> Option<ApiAction> {
    let (cmd, arg) = l.split_once(' ').unwrap_or((l, ""));
    let arg = arg.trim();
    Some(match cmd {
        "pause" | "p" => ApiAction::Pause(if arg.is_empty() { "break" } else { arg }.into()),
        "unpause" | "u" => ApiAction::Unpause,
        "hold" => ApiAction::Hold,
        "resume" => ApiAction::Resume,
        "transfer" | "t" => ApiAction::Transfer((!arg.is_empty()).then(|| arg.to_string())),
        "type" if !arg.is_empty() => ApiAction::SetType(arg.into()),
        "abuse" | "x" => ApiAction::MarkAbuse(arg.into()),
        "record_pause" => ApiAction::RecordPause,
        "record_resume" => ApiAction::RecordResume,
        "record_start" => ApiAction::RecordStart,
        "close" => ApiAction::Close,
        "dial" | "d" if !arg.is_empty() => ApiAction::Dial(arg.into()),
        _ => return None,
    })
}

fn parse_lang(s: &str) -> Result<hotline_phone::tui::Lang, String> {
    hotline_phone::tui::Lang::parse(s).ok_or_else(|| "expected zh or en".to_string())
}

fn parse_channel(s: &str) -> Result<Channel, String> {
    s.parse()
}

fn fail(msg: &str, code: i32) -> ! {
    eprintln!("hotline-phone: {msg}");
    std::process::exit(code)
}

fn resolve(server: &str) -> Result<SocketAddr, String> {
    let with_port = if server.parse::<SocketAddr>().is_ok()
        || server
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        server.to_string()
    } else {
        format!("{server}:5060")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve --server {server}: {e}"))?
        .next()
        .ok_or_else(|| format!("--server {server} resolves to no address"))
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOTLINE_PHONE_LOG").unwrap_or_else(|_| {
                // the TUI owns the screen: logs only when asked for
                tracing_subscriber::EnvFilter::new(if cli.tui { "off" } else { "warn" })
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.cmd {
        Some(Cmd::Devices) => match list_devices() {
            Ok(d) => {
                print!("{}", render_devices(&d));
                std::process::exit(if d.is_empty() { 3 } else { 0 })
            }
            Err(e) => fail(&e.to_string(), 3),
        },
        Some(Cmd::Play {
            file,
            channel,
            speed,
            start,
            output,
            output_wav,
        }) => {
            let o = PlayOptions {
                file,
                channel,
                speed,
                start_s: start,
                output,
                output_wav,
            };
            match hotline_phone::play::run(o) {
                Ok(summary) => {
                    println!("hotline-phone: {summary}");
                    std::process::exit(0)
                }
                Err(e) => fail(&e.to_string(), e.exit_code()),
            }
        }
        None => {}
    }
    let server = cli
        .server
        .as_deref()
        .unwrap_or_else(|| fail("--server HOST[:PORT] is required", 64));
    let server = resolve(server).unwrap_or_else(|e| fail(&e, 64));
    let agent = cli
        .agent
        .clone()
        .unwrap_or_else(|| fail("--agent EXTENSION is required", 64));
    let password = match (&cli.password_file, &cli.password) {
        (Some(f), _) => match std::fs::read_to_string(f) {
            Ok(s) => s.lines().next().unwrap_or_default().trim().to_string(),
            Err(e) => fail(
                &format!("cannot read --password-file {}: {e}", f.display()),
                64,
            ),
        },
        (None, Some(p)) => p.clone(),
        (None, None) if std::env::var("HOTLINE_PHONE_PASSWORD").is_ok() => {
            std::env::var("HOTLINE_PHONE_PASSWORD").unwrap_or_default()
        }
        (None, None) => fail(
            "give the password with --password-file FILE (or HOTLINE_PHONE_PASSWORD)",
            64,
        ),
    };
    let audio = if cli.input_wav.is_some() || cli.output_wav.is_some() {
        if cli.input.is_some() || cli.output.is_some() {
            fail("--input/--output (devices) and --input-wav/--output-wav (files) exclude each other", 64);
        }
        AudioMode::Wav {
            input: cli.input_wav.clone(),
            output: cli.output_wav.clone(),
            output_rate: cli.output_rate,
        }
    } else {
        AudioMode::Device {
            input: cli.input.clone(),
            output: cli.output.clone(),
        }
    };
    let api = cli.api.as_deref().map(|url| {
        let token = match &cli.api_token_file {
            Some(f) => read_token(f).unwrap_or_else(|e| fail(&e.to_string(), 64)),
            None => String::new(),
        };
        ApiTarget::parse(url, token).unwrap_or_else(|e| fail(&e.to_string(), 64))
    });
    if api.is_none() && cli.api_token_file.is_some() {
        fail("--api-token-file needs --api URL", 64);
    }
    let cfg = PhoneConfig {
        server,
        agent,
        password,
        bind_ip: cli.bind,
        expires_s: cli.expires,
        keepalive_s: cli.keepalive_s,
        auto_answer_ms: cli.auto_answer_ms,
        hangup_after_ms: cli.hangup_after_ms,
        max_calls: cli.calls,
        audio,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => fail(&format!("cannot start the runtime: {e}"), 1),
    };
    let (rep, state) = Reporter::new(&cfg.agent, !cli.tui);
    let (tx, rx) = mpsc::channel(16);
    // the engine API: an event follower and a request worker (tokio tasks)
    let api_parts = api.map(|target| {
        let (view_tx, view_rx) = tokio::sync::watch::channel(AgentView::new(&cfg.agent));
        let (act_tx, act_rx) = mpsc::channel::<ApiAction>(4);
        (target, view_tx, view_rx, act_tx, act_rx)
    });
    let (api_ui, api_tasks, api_stdin) = match api_parts {
        Some((target, view_tx, view_rx, act_tx, act_rx)) => (
            Some(ApiUi {
                view: view_rx,
                actions: act_tx.clone(),
            }),
            Some((target, view_tx, act_rx)),
            Some(act_tx),
        ),
        None => (None, None, None),
    };
    let ui = cli.tui.then(|| {
        let keys = tx.clone();
        let lang = cli.lang.unwrap_or_else(hotline_phone::tui::Lang::from_env);
        std::thread::spawn(move || hotline_phone::tui::run(state, keys, api_ui, lang))
    });
    let tui = cli.tui;
    let agent = cfg.agent.clone();
    let api_rep = rep.clone();
    let r: Result<(), PhoneError> = rt.block_on(async move {
        if let Some((target, view_tx, act_rx)) = api_tasks {
            let (r1, r2) = (api_rep.clone(), api_rep);
            tokio::spawn(hotline_phone::api::follow(
                target.clone(),
                view_tx.clone(),
                Box::new(move |d| r1.line(&format!("engine: {d}"))),
            ));
            tokio::spawn(hotline_phone::api::actions(
                target,
                agent,
                act_rx,
                view_tx,
                Box::new(move |m| r2.line(&format!("engine: {m}"))),
            ));
        }
        if !tui {
            // keys: a line on stdin (a = answer, h = hang up, m = mute, q =
            // quit; with --api also `pause REASON`, `unpause`, `hold`,
            // `resume`, `transfer [QUEUE]`, `type TYPE`, `abuse NOTE`,
            // `record_pause`, `record_resume`, `record_start`, `close`)
            let keys = tx.clone();
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    let c = match l.trim() {
                        "a" => Command::Answer,
                        "h" => Command::Hangup,
                        "m" => Command::ToggleMute,
                        "q" => Command::Quit,
                        other => {
                            if let (Some(act), Some(a)) = (&api_stdin, parse_api_line(other)) {
                                let _ = act.try_send(a);
                            }
                            continue;
                        }
                    };
                    if keys.send(c).await.is_err() {
                        return;
                    }
                }
            });
        }
        let signals = tx;
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                if let Ok(mut term) = signal(SignalKind::terminate()) {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                } else {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            let _ = signals.send(Command::Quit).await;
        });
        run(cfg, rx, rep).await
    });
    // the phone stopped: the UI sees its channel close and restores the terminal
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    let ui_error = match ui.map(|t| t.join()) {
        Some(Ok(Err(e))) => Some(format!("terminal: {e}")),
        Some(Err(_)) => Some("terminal: the interface thread panicked".to_string()),
        _ => None,
    };
    if let Err(e) = r {
        fail(&e.to_string(), e.exit_code());
    }
    if let Some(e) = ui_error {
        fail(&e, 1);
    }
}
