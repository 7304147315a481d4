//! Users, evidence marks (legal holds) and the audit log, through the CLI,
//! on a real recorded call: roles are enforced (an agent cannot mark, a
//! supervisor cannot release a hold), every mark, release, refusal and
//! export is in the hash-chained audit log, and hostile input is refused.

use super::*;
use std::process::{Command, Output};

pub(crate) fn hotline(h: &Hotline, args: &[&str]) -> Output {
    let (first, rest) = args.split_first().expect("a command");
    Command::new(Hotline::binary())
        .arg(first)
        .args(rest)
        .args(["--config", h.config_path.to_str().unwrap()])
        .args(["--data", h.data_dir.to_str().unwrap()])
        .current_dir(h.dir.path())
        .env("HOTLINE_LOG", "warn")
        .output()
        .expect("run hotline")
}

pub(crate) fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn refused(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accepted: {err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
}

#[test]
fn marks_holds_and_every_access_are_on_record_with_roles_enforced() {
    need_peers();
    let h = Hotline::start();
    let agent = {
        let port = free_udp_port();
        register(&h, "1001", port);
        Sipp::new("agent_uas.xml")
            .port(port)
            .key("agent", "1001")
            .calls(1)
            .timeout(Duration::from_secs(30))
            .spawn()
    };
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", "0616000001")
        .duration_ms(1500)
        .run()
        .assert_success("a recorded call");
    agent.wait().assert_success("agent");
    let cdr = wait_cdrs(&h, 1).remove(0);
    let id = cdr.call_id.as_str().to_string();
    assert!(
        wait_until(Duration::from_secs(10), || !h.recordings().is_empty()),
        "recorded"
    );
    // users: a supervisor, an admin, an agent; bad input refused
    let pw = |name: &str, text: &str| {
        let p = h.dir.path().join(format!("{name}.pw"));
        std::fs::write(&p, format!("{text}\n")).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (alice, root, ann) = (
        pw("alice", "correct horse"),
        pw("root", "battery staple"),
        pw("ann", "agent password"),
    );
    ok(&hotline(
        &h,
        &[
            "users",
            "add",
            "alice",
            "--role",
            "supervisor",
            "--password-file",
            &alice,
        ],
    ));
    ok(&hotline(
        &h,
        &[
            "users",
            "add",
            "root",
            "--role",
            "admin",
            "--password-file",
            &root,
        ],
    ));
    ok(&hotline(
        &h,
        &[
            "users",
            "add",
            "ann",
            "--role",
            "agent",
            "--password-file",
            &ann,
        ],
    ));
    refused(
        &hotline(
            &h,
            &[
                "users",
                "add",
                "eve",
                "--role",
                "god",
                "--password-file",
                &alice,
            ],
        ),
        "--role",
    );
    refused(
        &hotline(
            &h,
            &[
                "users",
                "add",
                "a b",
                "--role",
                "agent",
                "--password-file",
                &alice,
            ],
        ),
        "user name",
    );
    refused(
        &hotline(
            &h,
            &[
                "users",
                "add",
                "eve",
                "--role",
                "agent",
                "--password-file",
                &pw("short", "1234"),
            ],
        ),
        "at least 8",
    );
    let mark = |user: &str, pwf: &str, kind: &str| {
        hotline(
            &h,
            &[
                "recordings",
                "mark",
                &id,
                "--kind",
                kind,
                "--note",
                "threatens the agent, 00:42",
                "--user",
                user,
                "--password-file",
                pwf,
            ],
        )
    };
    // an agent may not mark; a wrong password is refused like an unknown user
    refused(&mark("ann", &ann, "extortion"), "needs the supervisor role");
    refused(
        &mark("alice", &root, "extortion"),
        "unknown user or wrong password",
    );
    refused(
        &mark("mallory", &alice, "extortion"),
        "unknown user or wrong password",
    );
    refused(&mark("alice", &alice, "gossip"), "--kind");
    ok(&mark("alice", &alice, "extortion"));
    // the hold shows in the list and the show
    let list = ok(&hotline(&h, &["recordings", "list", "--marked"]));
    assert!(
        list.contains(&id) && list.contains("extortion") && list.contains("held"),
        "{list}"
    );
    let none = ok(&hotline(&h, &["recordings", "list", "--caller", "0000"]));
    assert!(!none.contains(&id), "{none}");
    let show = ok(&hotline(&h, &["recordings", "show", &id]));
    assert!(
        show.contains("on hold") && show.contains("0616000001"),
        "{show}"
    );
    // a supervisor may not release; the refusal is on record; an admin may
    let release = |user: &str, pwf: &str| {
        hotline(
            &h,
            &[
                "recordings",
                "release",
                &id,
                "--reason",
                "case closed",
                "--user",
                user,
                "--password-file",
                pwf,
            ],
        )
    };
    refused(&release("alice", &alice), "needs the admin role");
    ok(&release("root", &root));
    refused(&release("root", &root), "not on hold");
    // export as a supervisor, with a reason
    let bundle = h.dir.path().join("evidence.zip");
    ok(&hotline(
        &h,
        &[
            "recordings",
            "export",
            &id,
            "--out",
            bundle.to_str().unwrap(),
            "--reason",
            "police request 2026-77",
            "--user",
            "alice",
            "--password-file",
            &alice,
        ],
    ));
    // the audit log has all of it, in order, and its chain is intact
    let log = ok(&hotline(&h, &["audit", "--call", &id]));
    let actions: Vec<&str> = log
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(3))
        .collect();
    assert_eq!(
        actions,
        ["mark", "release_refused", "release", "export"],
        "{log}"
    );
    assert!(
        log.contains("user:alice") && log.contains("police request 2026-77"),
        "{log}"
    );
    let verified = ok(&hotline(&h, &["audit", "--verify"]));
    assert!(verified.contains("chain intact"), "{verified}");
    // hostile ids and values
    refused(
        &hotline(&h, &["recordings", "show", "../../etc/passwd"]),
        "",
    );
    refused(
        &hotline(&h, &["recordings", "list", "--from", "2026-13-01"]),
        "--from",
    );
    refused(
        &hotline(
            &h,
            &[
                "recordings",
                "list",
                "--from",
                "2026-11-02",
                "--to",
                "2026-11-01",
            ],
        ),
        "before",
    );
    refused(
        &hotline(&h, &["recordings", "show", "c0000000000000000000000000"]),
        "no such call",
    );
    let huge = h.dir.path().join("huge.pw");
    std::fs::write(&huge, "x".repeat(5000)).unwrap();
    refused(
        &hotline(
            &h,
            &[
                "recordings",
                "mark",
                &id,
                "--kind",
                "abuse",
                "--user",
                "alice",
                "--password-file",
                huge.to_str().unwrap(),
            ],
        ),
        "longer than",
    );
}

fn recorded_call(h: &Hotline, caller: &str) -> String {
    let port = free_udp_port();
    register(h, "1001", port);
    let agent = Sipp::new("agent_uas.xml")
        .port(port)
        .key("agent", "1001")
        .calls(1)
        .timeout(Duration::from_secs(30))
        .spawn();
    Sipp::new("caller.xml")
        .remote(&h.addr())
        .service("hotline")
        .key("caller", caller)
        .duration_ms(1500)
        .run()
        .assert_success("a recorded call");
    agent.wait().assert_success("agent");
    // this caller's CDR (written when the call ends, maybe after the
    // phones are done), then its recording sealed
    let mut id = None;
    assert!(
        wait_until(Duration::from_secs(15), || {
            id = cdrs(h)
                .into_iter()
                .find(|c| c.caller == caller)
                .map(|c| c.call_id);
            id.is_some()
        }),
        "no CDR for {caller}: {}",
        h.report()
    );
    let id = id.expect("checked above");
    assert!(
        wait_until(Duration::from_secs(10), || events(h, &id)
            .iter()
            .any(|e| matches!(e.kind, EventKind::RecordingClosed { .. }))),
        "sealed"
    );
    id.as_str().to_string()
}

/// Over the quota the oldest recording without a hold goes (on record, with
/// a signed tombstone, so `verify --all` still passes); a held one never
/// does, and when only held ones are left an alarm is raised instead.
#[test]
fn the_quota_removes_the_oldest_unheld_recording_and_never_a_held_one() {
    need_peers();
    let h = Hotline::start_with(HotlineOptions {
        // two 1.5 s recordings (~48 KiB each) do not fit, one does
        extra_toml: "[retention]\nquota_mb = 0.06\n".into(),
        ..HotlineOptions::default()
    });
    let first = recorded_call(&h, "0617000001");
    std::thread::sleep(Duration::from_millis(20));
    let second = recorded_call(&h, "0617000002");
    let sup = h.dir.path().join("sup.pw");
    std::fs::write(&sup, "supervisor pw\n").unwrap();
    let sup = sup.to_str().unwrap();
    ok(&hotline(
        &h,
        &[
            "users",
            "add",
            "sup",
            "--role",
            "supervisor",
            "--password-file",
            sup,
        ],
    ));
    ok(&hotline(
        &h,
        &[
            "recordings",
            "mark",
            &first,
            "--kind",
            "dispute",
            "--user",
            "sup",
            "--password-file",
            sup,
        ],
    ));
    let dry = ok(&hotline(&h, &["recordings", "retention", "--dry-run"]));
    assert!(
        dry.contains(&format!("would remove {second}: storage quota")),
        "{dry}"
    );
    assert!(!dry.contains(&first), "{dry}");
    let done = ok(&hotline(&h, &["recordings", "retention"]));
    assert!(done.contains(&format!("removed {second}")), "{done}");
    let wavs: Vec<String> = h
        .recordings()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(wavs.iter().any(|w| w.contains(&first)), "{wavs:?}");
    assert!(!wavs.iter().any(|w| w.contains(&second)), "{wavs:?}");
    // the chain still verifies: the deletion is signed, not a gap
    let verified = hotline(&h, &["recordings", "verify", "--all"]);
    ok(&verified);
    let log = ok(&hotline(&h, &["audit", "--call", &second]));
    assert!(
        log.contains(",delete,") && log.contains("storage quota"),
        "{log}"
    );
    // a quota only the held recording exceeds: an alarm, nothing removed
    let cfg = std::fs::read_to_string(&h.config_path).unwrap();
    std::fs::write(
        &h.config_path,
        cfg.replace("quota_mb = 0.06", "quota_mb = 0.01"),
    )
    .unwrap();
    let alarm = hotline(&h, &["recordings", "retention"]);
    ok(&alarm);
    let err = String::from_utf8_lossy(&alarm.stderr);
    assert!(err.contains("ALARM") && err.contains("legal hold"), "{err}");
    assert!(h
        .recordings()
        .iter()
        .any(|p| p.display().to_string().contains(&first)));
}

/// `hotline recordings play`: the role is checked and the listen is in the
/// audit log before the player (`hotline-phone play`) starts; here a stand-in
/// player records how it was called.
#[test]
fn listening_needs_the_playback_role_and_is_audited_first() {
    need_peers();
    let h = Hotline::start();
    let id = recorded_call(&h, "0616000002");
    let cdr = wait_cdrs(&h, 1).remove(0);
    let wav = h
        .recordings_dir()
        .join(cdr.recording_path.as_deref().expect("recorded"));
    let pw = |name: &str| {
        let p = h.dir.path().join(format!("{name}.pw"));
        std::fs::write(&p, format!("{name} password\n")).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (sue, ann) = (pw("sue"), pw("ann"));
    for (user, role, file) in [("sue", "supervisor", &sue), ("ann", "agent", &ann)] {
        ok(&hotline(
            &h,
            &[
                "users",
                "add",
                user,
                "--role",
                role,
                "--password-file",
                file,
            ],
        ));
    }
    let args_file = h.dir.path().join("player-args");
    let player = h.dir.path().join("fake-player.sh");
    std::fs::write(
        &player,
        format!("#!/bin/sh\necho \"$@\" > {}\n", args_file.display()),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&player, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let play = |user: &str, file: &str, extra: &[&str]| {
        let mut a = vec![
            "recordings",
            "play",
            &id,
            "--user",
            user,
            "--password-file",
            file,
            "--player",
            player.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        hotline(&h, &a)
    };
    // agents cannot replay; bad speeds and ids are refused before anything runs
    refused(&play("ann", &ann, &[]), "supervisor");
    refused(&play("sue", &ann, &[]), "password");
    refused(&play("sue", &sue, &["--speed", "3"]), "--speed");
    refused(&play("sue", &sue, &["--speed", "0.1"]), "--speed");
    refused(&play("sue", &sue, &["--channel", "left"]), "channel");
    assert!(!args_file.exists(), "the player never ran");
    ok(&play(
        "sue",
        &sue,
        &[
            "--speed",
            "0.5",
            "--channel",
            "caller",
            "--reason",
            "dispute 42",
        ],
    ));
    let args = std::fs::read_to_string(&args_file).expect("the player ran");
    assert!(args.starts_with("play "), "{args}");
    assert!(args.contains(wav.to_str().unwrap()), "{args}");
    assert!(args.contains("--channel caller"), "{args}");
    assert!(args.contains("--speed 0.5"), "{args}");
    // the audit log: one listen by sue with her reason; the agent's refused
    // attempt wrote nothing
    let audit = read_db(&h, async |s: &Store| {
        s.audit(Some(&id)).await.expect("audit")
    });
    let listens: Vec<_> = audit.iter().filter(|a| a.action == "listen").collect();
    assert_eq!(listens.len(), 1, "{audit:?}");
    assert_eq!(listens[0].who, "user:sue");
    assert_eq!(listens[0].reason, "dispute 42");
    // hostile ids never reach the store or the player
    refused(
        &hotline(
            &h,
            &[
                "recordings",
                "play",
                "../../etc/passwd",
                "--user",
                "sue",
                "--password-file",
                &sue,
            ],
        ),
        "",
    );
    // a player that is not there: a clear message
    let o = hotline(
        &h,
        &[
            "recordings",
            "play",
            &id,
            "--user",
            "sue",
            "--password-file",
            &sue,
            "--player",
            "/nonexistent/hotline-phone",
        ],
    );
    refused(&o, "cannot run the player");
}
