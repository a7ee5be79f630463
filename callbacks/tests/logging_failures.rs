//! Logging never costs a result: when the TensorBoard or CSV logs cannot be written
//! (a full disk, a log directory that cannot exist), every trial still completes with
//! its value, and the study goes on.

use std::path::Path;
use std::process::Command;

use knob_callbacks::{CsvLogger, TensorBoard};
use knob_core::testing::{QuadraticTrainer, UniformSampler};
use knob_core::{CallbackList, Scale, SearchSpace, Study, TrialState};

const TRIALS: usize = 24;

/// Runs a study whose callbacks log under `logdir`; checks that every trial completed
/// with the value its trainer computed.
fn study_logging_to(logdir: &Path) {
    let space = SearchSpace::builder()
        .float("x", -1.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    let study = Study::builder(space.clone())
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let trainer = QuadraticTrainer {
        centre: 0.0,
        epochs: 12,
    };
    let summary = study
        .optimize(
            TRIALS,
            2,
            |_| Ok(trainer),
            |_| {
                CallbackList::new()
                    .with(TensorBoard::new(logdir))
                    .with(CsvLogger::new(logdir.join("csv/trial_{trial}.csv")))
            },
        )
        .unwrap();
    assert_eq!(summary.completed, TRIALS, "{summary}");
    for t in study.trials().unwrap() {
        assert_eq!(
            t.state,
            TrialState::Complete,
            "trial {}: {:?}",
            t.number,
            t.error
        );
        assert_eq!(t.value, Some(trainer.objective(&t.params)));
    }
}

#[test]
fn a_log_directory_that_cannot_exist_costs_no_trial() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    study_logging_to(&file.join("tb"));
}

#[test]
fn a_full_disk_under_the_logs_costs_no_trial() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24k", "knob-full-disk"])
        .arg(dir.path())
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let result = std::panic::catch_unwind(|| {
        study_logging_to(dir.path());
        // The logs did fill the disk: the failures above were real ones.
        let more = std::fs::write(dir.path().join("probe"), vec![0u8; 8192]);
        assert!(more.is_err(), "the 24 KB disk never filled up");
    });
    let _ = Command::new("umount").arg(dir.path()).status();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
