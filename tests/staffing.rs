#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
//! `hotline staffing`: Erlang C from the command line.

use std::process::Command;

fn staffing(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("staffing")
        .args(args)
        .output()
        .expect("run hotline");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn answers_the_worked_example_with_a_table() {
    let (code, out, err) = staffing(&[
        "--calls-per-hour",
        "360",
        "--aht",
        "240",
        "--target-sl",
        "0.8",
        "--target-seconds",
        "20",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("24.00 Erlangs") && out.contains("needs 29 agents"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.contains("<- needed"))
        .expect("the needed row");
    assert!(
        row.trim_start().starts_with("29") && row.contains("84.0%") && row.contains("11.6"),
        "{row}"
    );
    let row28 = out
        .lines()
        .find(|l| l.trim_start().starts_with("28 "))
        .expect("28 agents row");
    assert!(row28.contains("76.1%"), "{row28}");
    assert!(row.contains("82.8%"), "occupancy 24/29: {row}");
    // the table: 26 to 33 agents, every column a number, better with more agents
    let rows: Vec<Vec<f64>> = out
        .lines()
        .skip(2)
        .map(|l| {
            l.replace(['%', '<', '-'], " ")
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect()
        })
        .collect();
    assert_eq!(
        rows.iter().map(|r| r[0] as u32).collect::<Vec<_>>(),
        (26..=33).collect::<Vec<_>>(),
        "{out}"
    );
    for w in rows.windows(2) {
        assert!(w[1][1] < w[0][1], "P(wait) falls: {out}");
        assert!(w[1][2] > w[0][2], "service level rises: {out}");
        assert!(w[1][3] < w[0][3], "ASA falls: {out}");
        assert!(w[1][4] < w[0][4], "occupancy falls: {out}");
    }
    // defaults: 80 % in 20 s
    let (code, out2, _) = staffing(&["--calls-per-hour", "360", "--aht", "240"]);
    assert_eq!((code, out2), (Some(0), out));
}

#[test]
fn the_textbook_example_and_a_large_center() {
    // 100 calls in 30 minutes, AHT 180 s: 10 Erlangs; 12 agents wait 44.9 %,
    // answer 64.0 % within 20 s, ASA 40.4 s
    let (code, out, err) = staffing(&["--calls-per-hour", "200", "--aht", "180"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("10.00 Erlangs") && out.contains("needs 14 agents"),
        "{out}"
    );
    let row12 = out
        .lines()
        .find(|l| l.trim_start().starts_with("12 "))
        .expect("12 agents row");
    assert!(
        row12.contains("0.449") && row12.contains("64.0%") && row12.contains("40.4"),
        "{row12}"
    );
    // 2000 Erlangs: answered at once, no factorial overflow
    let (code, out, err) = staffing(&["--calls-per-hour", "40000", "--aht", "180"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("2000.00 Erlangs"), "{out}");
    assert!(!out.contains("NaN") && !out.contains("inf"), "{out}");
}

#[test]
fn max_agents_caps_the_search_and_the_table() {
    let base = ["--calls-per-hour", "360", "--aht", "240"];
    let (code, out, err) = staffing(&[&base[..], &["--max-agents", "30"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("needs 29 agents"), "{out}");
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.trim_start().starts_with("30 "),
        "no row above 30: {out}"
    );
    let (code, _, err) = staffing(&[&base[..], &["--max-agents", "26"]].concat());
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("not reachable with 26 agents") && err.contains("--max-agents"),
        "{err}"
    );
}

#[test]
fn bad_arguments_exit_2_naming_the_flag() {
    for (args, flag) in [
        (
            vec!["--calls-per-hour", "-5", "--aht", "180"],
            "--calls-per-hour",
        ),
        (
            vec!["--calls-per-hour", "0", "--aht", "180"],
            "--calls-per-hour",
        ),
        (
            vec!["--calls-per-hour", "NaN", "--aht", "180"],
            "--calls-per-hour",
        ),
        (vec!["--calls-per-hour", "100", "--aht", "inf"], "--aht"),
        (
            vec![
                "--calls-per-hour",
                "100",
                "--aht",
                "180",
                "--target-sl",
                "1.5",
            ],
            "--target-sl",
        ),
        (
            vec![
                "--calls-per-hour",
                "100",
                "--aht",
                "180",
                "--target-seconds",
                "-1",
            ],
            "--target-seconds",
        ),
        (
            vec!["--calls-per-hour", "lots", "--aht", "180"],
            "--calls-per-hour",
        ),
        (vec!["--aht", "180"], "--calls-per-hour"),
        (
            vec!["--calls-per-hour", "1e9", "--aht", "180"],
            "--calls-per-hour",
        ),
        (vec!["--calls-per-hour", "100", "--aht", "0"], "--aht"),
        (vec!["--calls-per-hour", "100", "--aht", "-180"], "--aht"),
        (
            vec![
                "--calls-per-hour",
                "100",
                "--aht",
                "180",
                "--target-sl",
                "0",
            ],
            "--target-sl",
        ),
        (
            vec![
                "--calls-per-hour",
                "100",
                "--aht",
                "180",
                "--target-sl",
                "NaN",
            ],
            "--target-sl",
        ),
        (
            vec![
                "--calls-per-hour",
                "100",
                "--aht",
                "180",
                "--target-seconds",
                "inf",
            ],
            "--target-seconds",
        ),
        (
            vec![
                "--calls-per-hour",
                "100",
                "--aht",
                "180",
                "--max-agents",
                "0",
            ],
            "--max-agents",
        ),
        (
            vec![
                "--calls-per-hour",
                "100",
                "--aht",
                "180",
                "--max-agents",
                "-3",
            ],
            "--max-agents",
        ),
        (
            vec![
                "--calls-per-hour",
                "100",
                "--aht",
                "180",
                "--max-agents",
                "2000000",
            ],
            "--max-agents",
        ),
    ] {
        let (code, _, err) = staffing(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
