//! Kills `tune_digits` with SIGKILL at random moments, resumes it, and checks the
//! journal with a reader of its own (plain JSON, not knob's types): no corrupt line, no
//! completed trial lost or changed, no trial number given twice, no trial stranded (left
//! running, queued and never taken, or failed by a crash and never retried without the
//! retry cap saying so), and the final count exact.
//!
//! A third of the kills land 1-60 ms after the process starts (while it opens and
//! recovers the study), the others anywhere in a run. Each study takes up to
//! `--per-study` kills, then runs to the end unkilled and is checked; studies follow
//! one another until `--kills` kills have landed. Prints one JSON line of counts and
//! exits 1 when any violation count is not 0.
//!
//! ```text
//! cargo build --release --example tune_digits
//! cargo run --release -p knob-benches --bin kill-harness -- --kills 120
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use knob_benches::flags;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// What one pass over a journal found.
#[derive(Debug, Default)]
struct Journal {
    corrupt_lines: usize,
    torn_lines: usize,
    duplicate_numbers: usize,
    /// Complete trials: number → the whole `trial_finished` line and the params.
    completed: BTreeMap<u64, (Value, Value)>,
    /// Trials started and neither finished nor requeued.
    running: usize,
    /// Failed trials that nothing reruns and that were not given up on by the retry
    /// cap: a crash recovery that wrote the failure but not the retry.
    unretried_failures: usize,
    /// Queued params no trial has taken.
    untaken: usize,
    /// Trials that count toward `--trials`: not failed-and-retried.
    counted: usize,
    retries: usize,
    failed_for_good: usize,
}

/// Reads a journal line by line, skipping a torn last line (a JSON value cut short) and
/// sealed torn lines, as knob's contract says a reader must.
fn read_journal(path: &Path) -> Journal {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut j = Journal::default();
    let mut started: Vec<Value> = Vec::new(); // params by number
    let mut state: Vec<&'static str> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut retried = HashSet::new();
    let mut queue_taken: Vec<bool> = Vec::new();
    let complete_part = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete_part < bytes.len() {
        j.torn_lines += 1; // an unfinished last line
    }
    for line in bytes[..complete_part].split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        if line.ends_with(b"<- torn: its writer was stopped mid-write") {
            j.torn_lines += 1;
            continue;
        }
        let event: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) if e.is_eof() => {
                j.torn_lines += 1;
                continue;
            }
            Err(_) => {
                j.corrupt_lines += 1;
                continue;
            }
        };
        let number = event["number"].as_u64();
        match event["event"].as_str() {
            Some("trial_started") => {
                let n = number.unwrap_or(u64::MAX);
                if n != started.len() as u64 {
                    j.duplicate_numbers += 1;
                    continue;
                }
                if let Some(q) = event["queued"].as_u64() {
                    if let Some(taken) = queue_taken.get_mut(q as usize) {
                        *taken = true;
                    }
                }
                started.push(event["params"].clone());
                state.push("running");
                errors.push(String::new());
            }
            Some("trial_finished") => {
                let n = number.unwrap_or(u64::MAX) as usize;
                if let Some(s) = state.get_mut(n) {
                    *s = match event["state"].as_str() {
                        Some("complete") => "complete",
                        Some("pruned") => "pruned",
                        _ => "failed",
                    };
                    errors[n] = event["error"].as_str().unwrap_or_default().to_owned();
                    if *s == "complete" {
                        j.completed
                            .insert(n as u64, (event.clone(), started[n].clone()));
                    }
                }
            }
            Some("trial_requeued") => {
                let n = number.unwrap_or(u64::MAX);
                if let Some(s) = state.get_mut(n as usize) {
                    *s = "failed";
                }
                retried.insert(n);
                queue_taken.push(false);
            }
            Some("trial_enqueued") => {
                retried.extend(event["retry_of"].as_u64());
                queue_taken.push(false);
            }
            _ => {}
        }
    }
    j.running = state.iter().filter(|s| **s == "running").count();
    j.untaken = queue_taken.iter().filter(|t| !**t).count();
    j.retries = retried.len();
    j.counted = (0..state.len())
        .filter(|&n| !(state[n] == "failed" && retried.contains(&(n as u64))))
        .count();
    j.failed_for_good = (0..state.len())
        .filter(|&n| state[n] == "failed" && !retried.contains(&(n as u64)))
        .count();
    // This job's trainer does not fail: a failure for good must be the retry cap's.
    j.unretried_failures = (0..state.len())
        .filter(|&n| state[n] == "failed" && !retried.contains(&(n as u64)))
        .filter(|&n| !errors[n].contains("not retried again"))
        .count();
    j
}

struct Args {
    kills: usize,
    per_study: usize,
    trials: usize,
    seed: u64,
    bin: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        kills: 120,
        per_study: 10,
        trials: 8,
        seed: 0,
        bin: std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join("examples/tune_digits")))
            .unwrap_or_default(),
    };
    for (flag, value) in flags::pairs() {
        let number = || flags::number::<usize>(&flag, &value);
        match flag.as_str() {
            "--kills" => args.kills = number(),
            "--per-study" => args.per_study = number().max(1),
            "--trials" => args.trials = number(),
            "--seed" => args.seed = number() as u64,
            "--bin" => args.bin = PathBuf::from(&value),
            other => {
                panic!("unknown flag {other} (use --kills, --per-study, --trials, --seed, --bin)")
            }
        }
    }
    assert!(
        args.bin.exists(),
        "{} not found: build it with `cargo build --release --example tune_digits`, or pass --bin",
        args.bin.display()
    );
    args
}

fn tune_digits(args: &Args, dir: &Path) -> Command {
    let mut cmd = Command::new(&args.bin);
    cmd.args([
        "--dataset",
        "digits",
        "--epochs",
        "2",
        "--workers",
        "2",
        "--quiet",
        "--json",
    ])
    .arg("--trials")
    .arg(args.trials.to_string())
    .arg("--storage")
    .arg(dir.join("study.jsonl"))
    .arg("--logdir")
    .arg(dir.join("tb"))
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    cmd
}

#[derive(Default)]
struct Tally {
    kills: usize,
    early_kills: usize,
    studies: usize,
    corrupt_lines: usize,
    torn_lines: usize,
    lost_or_changed: usize,
    duplicate_numbers: usize,
    stranded: usize,
    wrong_final_count: usize,
    failed_runs: usize,
    retries: usize,
    failed_for_good: usize,
}

fn main() {
    let args = args();
    let started = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    // One unkilled study sets the span of kill times.
    let probe = tempfile::tempdir().expect("a temporary folder");
    let t0 = Instant::now();
    let ok = tune_digits(&args, probe.path())
        .output()
        .expect("tune_digits runs");
    assert!(ok.status.success(), "an unkilled tune_digits run failed");
    let full_run = t0.elapsed();

    let mut tally = Tally::default();
    while tally.kills < args.kills {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let journal = dir.path().join("study.jsonl");
        let mut seen: BTreeMap<u64, (Value, Value)> = BTreeMap::new();
        for _ in 0..args.per_study.min(args.kills - tally.kills) {
            let early = rng.gen_bool(1.0 / 3.0);
            let delay = if early {
                Duration::from_millis(rng.gen_range(1..=60))
            } else {
                full_run.mul_f64(rng.gen_range(0.05..1.0))
            };
            let mut child = tune_digits(&args, dir.path())
                .spawn()
                .expect("tune_digits starts");
            std::thread::sleep(delay);
            if child.try_wait().expect("a child to wait on").is_some() {
                break; // the study finished before the kill: check it below
            }
            child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
            child.wait().expect("the killed child is reaped");
            tally.kills += 1;
            tally.early_kills += usize::from(early);
            let now = read_journal(&journal);
            for (n, trial) in &seen {
                if now.completed.get(n) != Some(trial) {
                    tally.lost_or_changed += 1;
                }
            }
            seen = now.completed;
        }
        let finished = tune_digits(&args, dir.path())
            .output()
            .expect("tune_digits runs");
        if !finished.status.success() {
            tally.failed_runs += 1;
        }
        let end = read_journal(&journal);
        for (n, trial) in &seen {
            if end.completed.get(n) != Some(trial) {
                tally.lost_or_changed += 1;
            }
        }
        tally.studies += 1;
        tally.corrupt_lines += end.corrupt_lines;
        tally.torn_lines += end.torn_lines;
        tally.duplicate_numbers += end.duplicate_numbers;
        tally.stranded += end.running + end.untaken + end.unretried_failures;
        tally.wrong_final_count += usize::from(end.counted != args.trials);
        tally.retries += end.retries;
        tally.failed_for_good += end.failed_for_good;
    }
    let violations = tally.corrupt_lines
        + tally.lost_or_changed
        + tally.duplicate_numbers
        + tally.stranded
        + tally.wrong_final_count
        + tally.failed_runs;
    println!(
        "{}",
        serde_json::json!({
            "bench": "kill-harness",
            "kills": tally.kills,
            "early_kills": tally.early_kills,
            "studies": tally.studies,
            "trials_per_study": args.trials,
            "corrupt_lines": tally.corrupt_lines,
            "lost_or_changed": tally.lost_or_changed,
            "duplicate_numbers": tally.duplicate_numbers,
            "stranded": tally.stranded,
            "wrong_final_count": tally.wrong_final_count,
            "failed_runs": tally.failed_runs,
            "torn_lines": tally.torn_lines,
            "retries": tally.retries,
            "failed_for_good": tally.failed_for_good,
            "unkilled_run_s": full_run.as_secs_f64(),
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
    if violations > 0 {
        std::process::exit(1);
    }
}
