//! `tune_digits` refuses bad input with one clear line that names the thing at fault,
//! printed with `Display`, never a Debug dump.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use knob_core::testing::UniformSampler;
use knob_core::{Direction, Scale, SearchSpace, Study};

/// The `tune_digits` example that `cargo test` builds beside this test.
fn tune_digits(args: &[&str]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin: PathBuf = profile_dir.join("examples/tune_digits");
    // `cargo test` builds the examples (a lone `--test cli` does not: build them first).
    assert!(bin.exists(), "{} is built by `cargo test`", bin.display());
    Command::new(bin)
        .args(["--dataset", "digits", "--quiet", "--trials", "2"])
        .args(args)
        .output()
        .unwrap()
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
