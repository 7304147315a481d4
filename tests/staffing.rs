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
    // defaults: 80 % in 20 s
    let (code, out2, _) = staffing(&["--calls-per-hour", "360", "--aht", "240"]);
    assert_eq!((code, out2), (Some(0), out));
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
    ] {
        let (code, _, err) = staffing(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
