//! The real-job benchmark's summary: medians, means and the first sampler's lead.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_job-bench");

/// One run's line with the given accuracies.
fn line(sampler: &str, seed: u64, accuracy: &[f64]) -> String {
    serde_json::json!({ "sampler": sampler, "seed": seed, "accuracy": accuracy, "seconds": 1.0 })
        .to_string()
}

#[test]
fn the_summary_reads_two_files_and_prints_the_lead_in_median_and_mean() {
    let dir = tempfile::tempdir().unwrap();
    let (mine, theirs) = (
        dir.path().join("mine.jsonl"),
        dir.path().join("theirs.jsonl"),
    );
    // Forty runs each; "better" ends one point above "worse" on every seed, with the
    // same first trial, so they are level after one trial.
    let runs = |sampler: &str, lift: f64| -> String {
        (0..40)
            .map(|seed| {
                let spread = f64::from((seed * 7 % 10) as u32) / 1000.0;
                line(sampler, seed, &[0.5, 0.9 + spread + lift, 0.1])
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(&mine, runs("better", 0.01)).unwrap();
    std::fs::write(&theirs, runs("worse", 0.0) + "\n").unwrap();
    let out = Command::new(BIN)
        .args(["--summary", "--at", "1,3"])
        .arg(&mine)
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |prefix: &str, skip: usize| -> String {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .nth(skip)
            .unwrap_or_else(|| panic!("no row {prefix} #{skip} in\n{text}"))
            .to_owned()
    };
    assert!(text.contains("| better (40) | worse (40) |"), "{text}");
    assert_eq!(
        row("| 1 trials", 0),
        "| 1 trials | 50.00 / 50.00 | 50.00 / 50.00 |"
    );
    assert_eq!(
        row("| 3 trials", 0),
        "| 3 trials | 91.45 / 91.45 | 90.45 / 90.45 |"
    );
    // Median lead, then mean lead: level after one trial, a point after three.
    assert_eq!(row("| 1 trials", 1), "| 1 trials | +0.00 [+0.00, +0.00] |");
    for skip in [1, 2] {
        let lead = row("| 3 trials", skip);
        assert!(lead.starts_with("| 3 trials | +1.00 ["), "{lead}");
        let low: f64 = lead[20..25].parse().unwrap_or_else(|_| panic!("{lead}"));
        assert!(low > 0.5 && low < 1.0, "{lead}");
    }
    assert_eq!(row("| 1 trials", 2), "| 1 trials | +0.00 [+0.00, +0.00] |");
    // Paired by seed: exactly one point on every seed, a tie everywhere after one trial.
    assert_eq!(
        row("| 1 trials", 3),
        "| 1 trials | +0.00 [+0.00, +0.00], 0 / 40 / 0 |"
    );
    assert_eq!(
        row("| 3 trials", 3),
        "| 3 trials | +1.00 [+1.00, +1.00], 40 / 0 / 0 |"
    );
}

#[test]
fn the_paired_lead_counts_only_the_seeds_both_ran() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("runs.jsonl");
    // "a" ran seeds 0 to 3, "b" seeds 2 to 5; on the shared seeds 2 and 3 "a" wins one
    // by 0.2 points and loses one by 0.1.
    let lines = [
        line("a", 0, &[0.5]),
        line("a", 1, &[0.5]),
        line("a", 2, &[0.902]),
        line("a", 3, &[0.899]),
        line("b", 2, &[0.9]),
        line("b", 3, &[0.9]),
        line("b", 4, &[0.1]),
        line("b", 5, &[0.1]),
        line("c", 9, &[0.1]),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = Command::new(BIN)
        .args(["--summary", "--at", "1"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let paired = text
        .lines()
        .filter(|l| l.starts_with("| 1 trials"))
        .nth(3)
        .unwrap_or_else(|| panic!("no paired row in\n{text}"));
    assert!(
        paired.starts_with("| 1 trials | +0.05 [-0.10, +0.20], 1 / 0 / 1 | no seed in common |"),
        "{paired}"
    );
}

#[test]
fn a_bad_line_is_named_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("runs.jsonl");
    std::fs::write(&file, line("gp", 0, &[0.9]) + "\n{not json\n").unwrap();
    let out = Command::new(BIN)
        .arg("--summary")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("runs.jsonl line 2"), "{err}");
}

/// Runs `job-bench --eval` on `lines`; its stdout lines, or its exit code and stderr.
fn eval(lines: &[&str]) -> Result<Vec<String>, (Option<i32>, String)> {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("--eval")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err((
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    Ok(String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect())
}

#[test]
fn the_bridge_gives_equal_params_equal_accuracy_in_any_process() {
    // A small network, so three trainings take seconds in a debug build. Other
    // tuners' proposals go through this bridge: the comparison is fair only if the
    // accuracy is a function of the params alone.
    let small = r#"{"lr":0.003,"optimizer":"adam","beta1":0.9,"layers":1,"units_0":32,"dropout":0.1,"batch_size":128}"#;
    let other = small.replace("0.003", "0.01");
    let first = eval(&[small, &other, small]).unwrap();
    assert_eq!(first.len(), 3, "{first:?}");
    assert_eq!(
        first[0], first[2],
        "the same params after others in one process"
    );
    assert!(first[0].starts_with(r#"{"accuracy":0."#), "{first:?}");
    assert_ne!(
        first[0], first[1],
        "another learning rate trains another network"
    );
    let fresh = eval(&[small]).unwrap();
    assert_eq!(fresh[0], first[0], "the same params in a new process");
    // A line that is not params stops the bridge with the line quoted.
    let (code, err) = eval(&["[1, 2]"]).unwrap_err();
    assert_eq!(code, Some(2));
    assert!(
        err.contains("params must be a JSON object") && err.contains("[1, 2]"),
        "{err}"
    );
}
