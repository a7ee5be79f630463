//! What knob itself costs per trial: `ask` + `tell` with the random sampler, in memory
//! and on the fsync'd journal, and the time to reopen a journal of that many trials.
//!
//! Prints one JSON line per measurement. Usage: `study-overhead [TRIALS]` (default 2000).

use std::time::Instant;

use knob_core::{Outcome, Scale, SearchSpace, Study, StudyBuilder};
use knob_samplers::RandomSampler;

fn builder() -> StudyBuilder {
    let space = SearchSpace::builder()
        .float("lr", 1e-5, 1e-1, Scale::Log)
        .float("momentum", 0.9, 0.999, Scale::LogOneMinus)
        .int("layers", 1, 4, Scale::Linear)
        .int("units", 16, 512, Scale::Log)
        .categorical("optimizer", ["sgd", "adam", "rmsprop"])
        .build()
        .expect("a valid space");
    Study::builder(space).sampler(RandomSampler::new())
}

/// Microseconds per ask + report + tell over `trials` trials.
fn per_trial_us(study: &Study, trials: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..trials {
        let t = study.ask().unwrap().expect("random search never runs out");
        study.report(t.number, 0, 0.5).unwrap();
        study.tell(t.number, Outcome::Complete(0.5)).unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / trials as f64
}

fn main() {
    let trials: usize = std::env::args()
        .nth(1)
        .map_or(2000, |a| a.parse().expect("TRIALS is a number"));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("study.jsonl");

    let memory = per_trial_us(&builder().build().unwrap(), trials);
    println!(
        r#"{{"bench": "ask_report_tell", "storage": "memory", "trials": {trials}, "us_per_trial": {memory:.1}}}"#
    );
    let journal = per_trial_us(&builder().journal(&path).build().unwrap(), trials);
    println!(
        r#"{{"bench": "ask_report_tell", "storage": "journal", "trials": {trials}, "us_per_trial": {journal:.1}}}"#
    );

    let start = Instant::now();
    let reopened = builder().journal(&path).build().unwrap();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert_eq!(reopened.trials().unwrap().len(), trials);
    println!(
        r#"{{"bench": "reopen_journal", "trials": {trials}, "bytes": {bytes}, "ms": {ms:.1}}}"#
    );
}
