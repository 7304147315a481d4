//! The binary's command line: config checking, start-up errors, warnings.

use super::*;
use std::path::Path;
use std::process::Command;

fn hotline() -> Command {
    let mut c = Command::new(Hotline::binary());
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn the_shipped_config_is_valid() {
    let out = hotline()
        .args(["check-config", "config/hotline.toml"])
        .output()
        .expect("run hotline");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("OK (4 agents, numbers hotline, 4000, SIP on 127.0.0.1:5060)"),
        "{stdout}"
    );
}

#[test]
fn a_bad_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "[sip]\nlisten = \"127.0.0.1:5060\"\nlisten_typo = 1\n",
            "listen_typo",
        ),
        ("[ring]\non_ms = 0\n", "ring.on_ms"),
        ("[media]\nport_min = 20001\n", "media.port_min"),
        ("[sip]\nalgorithms = [\"SHA-1\"]\n", "sip.algorithms"),
        (
            "[prompts]\ngreeting = \"/nonexistent/greeting.wav\"\n",
            "prompts.greeting",
        ),
        ("this is = = not toml", "hotline.toml"),
        (
            "[limits]\nwarning_fraction = 1.5\n",
            "limits.warning_fraction",
        ),
        ("[limits]\norder_s = 100000\n", "limits.order_s"),
        ("[http]\nlisten = \"not an address\"\n", "listen"),
        // every file serve loads, check-config loads too
        (
            "[announcements]\nevery_s = 45\nmessage = \"/nonexistent/still_waiting.wav\"\n",
            "announcements.message",
        ),
        (
            "[voicemail]\nenabled = true\nprompt = \"/nonexistent/voicemail.wav\"\n",
            "voicemail.prompt",
        ),
        (
            "[schedule]\ntimezone = \"Mars/Olympus\"\n",
            "schedule.timezone",
        ),
    ];
    for (text, key) in cases {
        let path = dir.path().join("hotline.toml");
        std::fs::write(&path, text).expect("write config");
        let out = hotline()
            .arg("check-config")
            .arg(&path)
            .output()
            .expect("run hotline");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(
            stderr.contains(key),
            "{text}: the error must name {key}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = hotline()
        .args(["check-config", "/nonexistent/hotline.toml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/hotline.toml"));
}

#[test]
fn an_unusable_recordings_directory_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    // a file where the recordings directory should be: not creatable, even as root
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").expect("write");
    let config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hotline.toml"))
            .expect("shipped config")
            .replace(
                "recordings = \"recordings\"",
                &format!("recordings = \"{}/recordings\"", blocker.display()),
            );
    let path = dir.path().join("hotline.toml");
    std::fs::write(&path, config).expect("write config");
    let port = free_udp_port();
    let out = hotline()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .arg("--sip")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .expect("run hotline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("storage.recordings") && stderr.contains("not-a-dir"),
        "{stderr}"
    );
}

#[test]
fn demo_passwords_on_a_network_address_are_refused() {
    // loopback: the shipped demo passwords are fine
    let h = Hotline::start_with(HotlineOptions {
        extra_args: vec![],
        ..HotlineOptions::default()
    });
    assert!(
        !h.stderr().contains("demo passwords"),
        "loopback: no refusal"
    );
    drop(h);
    // the same config on every interface: refused, naming the agents
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_udp_port();
    let config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hotline.toml"))
            .expect("config")
            .replace(
                "recordings = \"recordings\"",
                &format!("recordings = \"{}/rec\"", dir.path().display()),
            );
    let path = dir.path().join("hotline.toml");
    std::fs::write(&path, &config).expect("write");
    let serve = |path: &Path| {
        let mut child = hotline()
            .arg("serve")
            .arg("--config")
            .arg(path)
            .arg("--sip")
            .arg(format!("0.0.0.0:{port}"))
            .args(["--http", "127.0.0.1:0"])
            .arg("--data")
            .arg(dir.path().join("data"))
            .env("HOTLINE_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn hotline");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut stdout, &mut line);
        let status = terminate(&mut child, Duration::from_secs(5));
        let mut stderr = String::new();
        let _ =
            std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr);
        (status, line, stderr)
    };
    let (status, line, stderr) = serve(&path);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(2),
        "refused with the config error code: {line}\n{stderr}"
    );
    assert!(line.is_empty(), "it must not start: {line}");
    assert!(
        stderr.contains("demo passwords")
            && stderr.contains("1001")
            && stderr.contains("[[agents]]"),
        "{stderr}"
    );
    // check-config says the same about a file that listens on every interface
    let open = dir.path().join("open.toml");
    std::fs::write(
        &open,
        config.replace("listen = \"127.0.0.1:5060\"", "listen = \"0.0.0.0:5060\""),
    )
    .expect("write");
    let out = hotline()
        .args(["check-config"])
        .arg(&open)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo passwords"));
    // with real passwords it serves on every interface
    let real = dir.path().join("real.toml");
    std::fs::write(&real, config.replace("\"demo100", "\"Real-secret-100")).expect("write");
    let (_, line, stderr) = serve(&real);
    assert!(
        line.starts_with(&format!("hotline: ready sip=0.0.0.0:{port}")),
        "{line}\n{stderr}"
    );
}

#[test]
fn report_refuses_bad_days_and_missing_databases() {
    let dir = tempfile::tempdir().expect("temp dir");
    for day in ["2026-02-30", "yesterday", "2026/11/22"] {
        let out = hotline()
            .args(["report", "--day", day, "--data"])
            .arg(dir.path())
            .output()
            .expect("run hotline");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{day}: {stderr}");
        assert!(stderr.contains("--day"), "{day}: {stderr}");
    }
    let out = hotline()
        .args(["report", "--day", "2026-11-22", "--data"])
        .arg(dir.path().join("empty"))
        .output()
        .expect("run hotline");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no database"), "{stderr}");
}

/// Runs `hotline simulate` with `args`, expects success and every row in
/// the report.
fn simulates(args: &[&str], rows: &[&str]) {
    let out = hotline()
        .arg("simulate")
        .args(args)
        .output()
        .expect("run hotline");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for row in rows {
        assert!(stdout.contains(row), "{row} missing:\n{stdout}");
    }
    // the simulated calls' own logs stay out of the terminal
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn simulate_runs_the_call_flow_against_erlang_c_and_refuses_absurd_values() {
    simulates(
        &[
            "--calls-per-hour",
            "200",
            "--aht",
            "180",
            "--agents",
            "12",
            "--hours",
            "20",
            "--patience",
            "120",
            "--wrap-up",
            "5",
        ],
        &[
            "Service level (20 s)",
            "Average speed of answer",
            "Occupancy",
            "Abandon rate",
            "Erlang C",
        ],
    );
    // the treatments: every one shows in the report
    simulates(
        &[
            "--calls-per-hour",
            "300",
            "--aht",
            "180",
            "--agents",
            "15",
            "--hours",
            "10",
            "--patience",
            "240",
            "--agent-answer",
            "3",
            "--no-answer-share",
            "0.1",
            "--ring-timeout",
            "12",
            "--max-wait",
            "120",
            "--overflow",
            "voicemail",
            "--callback-after",
            "60",
            "--announce-every",
            "30",
        ],
        &[
            "max wait 120 s, then voicemail",
            "callback asked after 60 s",
            "Engine answered (3 rings)",
            "Offers rung out",
            "Callbacks made",
            "Announcements",
            "CDRs written",
        ],
    );
    let cases: [(&[&str], &str); 17] = [
        (&["--agents", "0"], "--agents"),
        (&["--agents", "-3"], "--agents"),
        (&["--calls-per-hour", "-5"], "--calls-per-hour"),
        (&["--aht", "0"], "--aht"),
        (&["--hours", "1e9"], "--hours"),
        (&["--strategy", "ring-all-at-once"], "--strategy"),
        (&["--answer-after-rings", "0"], "--answer-after-rings"),
        (&["--answer-after-rings", "-1"], "--answer-after-rings"),
        (&["--no-answer-share", "1.5"], "--no-answer-share"),
        (&["--agent-answer", "20"], "--agent-answer"),
        (&["--ring-timeout", "0"], "--ring-timeout"),
        (&["--max-wait", "60"], "--overflow"),
        (&["--overflow", "voicemail"], "--max-wait"),
        (&["--overflow", "mailbox", "--max-wait", "60"], "--overflow"),
        (
            &["--max-wait", "-1", "--overflow", "voicemail"],
            "--max-wait",
        ),
        (&["--callback-after", "5"], "--callback-after"),
        (&["--announce-every", "0"], "--announce-every"),
    ];
    for (bad, flag) in cases {
        // the good value of every flag, unless this case sets it
        let mut args = vec!["simulate"];
        for (f, v) in [
            ("--calls-per-hour", "100"),
            ("--aht", "60"),
            ("--agents", "3"),
        ] {
            if f != bad[0] {
                args.extend([f, v]);
            }
        }
        args.extend_from_slice(bad);
        let out = hotline().args(&args).output().expect("run hotline");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(!stderr.contains("multiple times"), "{stderr}");
        assert!(
            stderr.contains(flag),
            "{bad:?} should name {flag}: {stderr}"
        );
    }
}
