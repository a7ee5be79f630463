//! `tune_digits` refuses bad input with one clear line that names the thing at fault,
//! printed with `Display`, never a Debug dump.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use knob_core::testing::UniformSampler;
use knob_core::{Direction, Scale, SearchSpace, Study};

/// The `tune_digits` example that `cargo test` builds beside this test, on the small
/// digits set, quiet, 2 trials unless `args` say.
fn command(args: &[&str]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin: PathBuf = profile_dir.join("examples/tune_digits");
    // `cargo test` builds the examples (a lone `--test cli` does not: build them first).
    assert!(bin.exists(), "{} is built by `cargo test`", bin.display());
    let trials = if args.contains(&"--trials") {
        &[][..]
    } else {
        &["--trials", "2"][..]
    };
    let mut command = Command::new(bin);
    command
        .args(["--dataset", "digits", "--quiet"])
        .args(trials)
        .args(args);
    command
}

fn tune_digits(args: &[&str]) -> Output {
    command(args).output().unwrap()
}

/// The error `tune_digits` printed; asserts it failed and printed no Debug dump.
fn error_of(out: &Output) -> String {
    assert!(!out.status.success(), "it should have failed");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for dump in ["Os {", "code:", "{ path", "Io {", "StudyMismatch {"] {
        assert!(!stderr.contains(dump), "a Debug dump: {stderr}");
    }
    stderr
}

#[test]
fn zero_epochs_are_refused() {
    let e = error_of(&tune_digits(&["--epochs", "0"]));
    assert!(e.contains("--epochs must be at least 1"), "{e}");
}

#[test]
fn an_unusable_logdir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"").unwrap();
    let logdir = file.join("tb");
    let storage = dir.path().join("study.jsonl");
    let e = error_of(&tune_digits(&[
        "--logdir",
        logdir.to_str().unwrap(),
        "--storage",
        storage.to_str().unwrap(),
    ]));
    assert!(
        e.contains(logdir.to_str().unwrap()) && e.contains("Not a directory"),
        "{e}"
    );
}

#[test]
fn a_journal_that_cannot_be_written_ends_the_job_at_once() {
    let started = Instant::now();
    let e = error_of(&tune_digits(&["--storage", "/dev/full"]));
    assert!(e.contains("/dev/full") && e.contains("regular file"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_journal_of_another_space_says_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.jsonl");
    let other = SearchSpace::builder()
        .float("lr", 1e-3, 1e-1, Scale::Log)
        .build()
        .unwrap();
    drop(
        Study::builder(other)
            .direction(Direction::Maximize)
            .sampler(UniformSampler)
            .journal(&journal)
            .build()
            .unwrap(),
    );
    let e = error_of(&tune_digits(&[
        "--storage",
        journal.to_str().unwrap(),
        "--logdir",
        dir.path().join("tb").to_str().unwrap(),
    ]));
    assert!(
        e.contains("study.jsonl") && e.contains("belongs to a different study"),
        "{e}"
    );
    assert!(
        e.contains("`lr` was float [0.001, 0.1] (log), now float [0.0001, 0.03] (log)"),
        "{e}"
    );
    assert!(e.contains("`beta1`") && e.contains("is new"), "{e}");
}

#[test]
fn several_objectives_end_with_a_feasible_front_and_bad_combinations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("study.jsonl");
    let out = tune_digits(&[
        "--objectives",
        "accuracy,params",
        "--max-params",
        "8000",
        "--trials",
        "8",
        "--epochs",
        "2",
        "--space",
        "flat",
        "--sampler",
        "nsga2-pop4",
        "--storage",
        storage.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(line["best_value"].is_null(), "no one best trial: {line}");
    let front = line["front"].as_array().unwrap();
    assert!(!front.is_empty(), "{line}");
    let values: Vec<(f64, f64)> = front
        .iter()
        .map(|t| {
            let v = t["values"].as_array().unwrap();
            (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
        })
        .collect();
    for (i, &(acc, size)) in values.iter().enumerate() {
        assert!(size <= 8000.0, "an infeasible network on the front: {size}");
        // 64 inputs, 10 classes: no network is smaller than one unit's.
        assert!(size >= 75.0 && (0.0..=1.0).contains(&acc));
        for (j, &(a, s)) in values.iter().enumerate() {
            assert!(
                i == j || !(a >= acc && s <= size && (a > acc || s < size)),
                "trial {} dominates trial {}",
                front[j]["trial"],
                front[i]["trial"]
            );
        }
    }
    // The journal holds both objectives and the constraint of every trial.
    let reopened = Study::builder(knob_examples::tune_digits_space(false))
        .directions([Direction::Maximize, Direction::Minimize])
        .sampler(UniformSampler)
        .journal(&storage)
        .build()
        .unwrap();
    let trials = reopened.trials().unwrap();
    assert_eq!(trials.len(), 8);
    assert!(trials
        .iter()
        .all(|t| t.values().len() == 2 && t.constraints.len() == 1));

    let e = error_of(&tune_digits(&["--objectives", "params,accuracy"]));
    assert!(e.contains("--objectives must start with accuracy"), "{e}");
    let e = error_of(&tune_digits(&[
        "--objectives",
        "accuracy,seconds",
        "--pruner",
        "median",
    ]));
    assert!(
        e.contains("--pruner cannot be used with several --objectives"),
        "{e}"
    );
}

#[test]
fn a_parameter_limit_below_the_smallest_network_is_refused_up_front() {
    // On the 8x8 digits: 64 inputs, one layer of 32 units, 10 classes.
    let smallest = 64 * 32 + 32 + 32 * 10 + 10;
    let e = error_of(&tune_digits(&["--max-params", &(smallest - 1).to_string()]));
    assert!(
        e.contains(&format!("--max-params {}", smallest - 1))
            && e.contains(&format!(
                "smallest network in the space has {smallest} parameters"
            )),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("study.jsonl");
    let out = tune_digits(&[
        "--max-params",
        &smallest.to_string(),
        "--trials",
        "1",
        "--epochs",
        "1",
        "--storage",
        storage.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn runs_started_in_the_same_second_get_a_directory_each() {
    let cwd = tempfile::tempdir().unwrap();
    let parent = cwd.path().join("runs/tune_digits");
    // Every name of the next minute is taken, as by other runs started in that second.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for stamp in now..now + 60 {
        std::fs::create_dir_all(parent.join(stamp.to_string())).unwrap();
    }
    let runs: Vec<_> = ["0", "1"]
        .map(|seed| {
            command(&["--trials", "1", "--epochs", "1", "--seed", seed, "--json"])
                .current_dir(cwd.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .into_iter()
        .map(|run| run.wait_with_output().unwrap())
        .collect();
    for out in &runs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut journals: Vec<String> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|dir| dir.join("study.jsonl").exists())
        .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    journals.sort();
    assert_eq!(journals.len(), 2, "one journal per run: {journals:?}");
    for name in &journals {
        let (stamp, n) = name.split_once('-').unwrap_or_else(|| panic!("{name}"));
        let stamp: u64 = stamp.parse().unwrap();
        assert!((now..now + 60).contains(&stamp), "{name}");
        assert!(["2", "3"].contains(&n), "{name}");
    }
}
