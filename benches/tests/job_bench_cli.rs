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
