//! The sampler benchmark's command line, as the samplers issue writes it.

use std::process::Command;

use knob_benches::regret::Run;

const BIN: &str = env!("CARGO_BIN_EXE_sampler-bench");

#[test]
fn the_issues_command_writes_one_line_per_run_to_the_out_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.jsonl");
    let status = Command::new(BIN)
        .args([
            "--function",
            "branin",
            "--sampler",
            "random",
            "--trials",
            "7",
        ])
        .args(["--seeds", "3", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for (seed, line) in lines.iter().enumerate() {
        // Exactly the issue's keys, in its order.
        let keys: Vec<String> = serde_json::from_str::<serde_json::Value>(line)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut expected = [
            "function",
            "sampler",
            "seed",
            "budget",
            "best_so_far",
            "sampler_seconds",
            "latency_last_ms",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected, "serde_json sorts keys");
        assert!(line.starts_with(r#"{"function":"branin","sampler":"random","seed":"#));
        let run: Run = serde_json::from_str(line).unwrap();
        assert_eq!((run.seed, run.budget), (seed as u64, 7));
        assert_eq!(run.best_so_far.len(), 7);
        assert!(run.best_so_far.windows(2).all(|w| w[1] <= w[0]));
    }
    // The summary reads the file back.
    let summary = Command::new(BIN)
        .args(["--summary", "--png"])
        .arg(dir.path().join("curves.png"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(summary.status.success());
    let table = String::from_utf8(summary.stdout).unwrap();
    assert!(table.contains("| branin | "), "{table}");
    assert!(dir.path().join("curves.png").exists());
}

#[test]
fn an_unwritable_out_path_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("missing").join("results.jsonl");
    let output = Command::new(BIN)
        .args([
            "--function",
            "branin",
            "--sampler",
            "random",
            "--trials",
            "2",
        ])
        .args(["--seeds", "1", "--out"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8(output.stderr).unwrap();
    assert!(message.contains("missing/results.jsonl"), "{message}");
}
