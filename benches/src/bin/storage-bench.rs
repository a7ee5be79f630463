//! Study throughput on a shared storage: `--procs` processes ask and tell a trivial
//! objective with random sampling on one fresh study until it holds `--trials` trials,
//! on the journal (a path) or on PostgreSQL (a URL; build with `--features postgres`).
//! Then it reads the study back and counts duplicate numbers and lost trials.
//!
//! ```text
//! cargo run --release -p knob-benches --features postgres --bin storage-bench -- \
//!     --storage postgres://postgres:postgres@127.0.0.1/knob_bench --procs 4 --trials 400
//! cargo run --release -p knob-benches --bin storage-bench -- \
//!     --storage /tmp/bench.jsonl --procs 4 --trials 400
//! ```
//!
//! Prints one JSON line: `{"storage", "procs", "trials", "seconds", "trials_per_sec",
//! "duplicate_numbers", "lost"}`. `optuna_storage_peer.py` prints the same for Optuna's
//! RDB storage.

use std::process::Command;
use std::time::Instant;

use knob_benches::flags;
use knob_core::{
    open_storage, BoxError, CallbackList, Event, Params, Scale, SearchSpace, Study, Trainer,
    TrialContext, TrialState,
};
use knob_samplers::RandomSampler;

const ROLE: &str = "KNOB_STORAGE_BENCH_CHILD";

struct Args {
    storage: String,
    procs: usize,
    trials: usize,
    study: String,
}

fn args() -> Args {
    let mut args = Args {
        storage: String::new(),
        procs: 4,
        trials: 400,
        study: format!("storage-bench-{:016x}", rand::random::<u64>()),
    };
    for (flag, value) in flags::pairs() {
        let number = || flags::number::<usize>(&flag, &value);
        match flag.as_str() {
            "--storage" => args.storage = value.clone(),
            "--procs" => args.procs = number(),
            "--trials" => args.trials = number(),
            "--study" => args.study = value.clone(),
            other => panic!("unknown flag {other} (use --storage, --procs, --trials)"),
        }
    }
    assert!(
        !args.storage.is_empty(),
        "--storage PATH_OR_URL is required"
    );
    args
}

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("x", -5.0, 5.0, Scale::Linear)
        .float("y", -5.0, 5.0, Scale::Linear)
        .build()
        .expect("a valid space")
}

fn study(args: &Args) -> Study {
    Study::builder(space())
        .sampler(RandomSampler::new())
        .storage_at(&args.storage, &args.study)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// x² + y², nothing else: what is measured is the study.
struct Trivial;

impl Trainer for Trivial {
    fn fit(&mut self, p: &Params, _: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        Ok(p.float("x")?.powi(2) + p.float("y")?.powi(2))
    }
}

fn main() {
    let args = args();
    if std::env::var_os(ROLE).is_some() {
        study(&args)
            .optimize(args.trials, 1, |_| Ok(Trivial), |_| CallbackList::new())
            .unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    let is_url = args.storage.contains("://");
    if !is_url && std::path::Path::new(&args.storage).exists() {
        panic!("{} exists: pass a journal path that does not", args.storage);
    }
    drop(study(&args)); // created before the clock starts, as Optuna's create_study
    let started = Instant::now();
    let children: Vec<_> = (0..args.procs)
        .map(|_| {
            Command::new(std::env::current_exe().expect("this program"))
                .args(std::env::args().skip(1))
                .args(["--study", &args.study])
                .env(ROLE, "1")
                .spawn()
                .expect("a child process")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("a child").success(), "a child failed");
    }
    let seconds = started.elapsed().as_secs_f64();

    let mut storage = open_storage(&args.storage, &args.study).unwrap_or_else(|e| panic!("{e}"));
    let mut numbers = Vec::new();
    for record in storage.read_new().unwrap_or_else(|e| panic!("{e}")) {
        if let Event::TrialStarted { number, .. } = record.event {
            numbers.push(number);
        }
    }
    let duplicate_numbers = numbers
        .iter()
        .enumerate()
        .filter(|(i, n)| **n != *i as u64)
        .count();
    let complete = study(&args)
        .history()
        .map(|h| h.in_state(TrialState::Complete).count())
        .unwrap_or(0);
    let lost = args.trials.saturating_sub(complete);
    let kind = if is_url { "postgres" } else { "journal" };
    println!(
        "{}",
        serde_json::json!({
            "storage": kind,
            "procs": args.procs,
            "trials": complete,
            "seconds": seconds,
            "trials_per_sec": complete as f64 / seconds,
            "duplicate_numbers": duplicate_numbers,
            "lost": lost,
        })
    );
    #[cfg(feature = "postgres")]
    if is_url {
        let _ = knob_core::PostgresStorage::delete_study(&args.storage, &args.study);
    }
    if !is_url {
        let _ = std::fs::remove_file(&args.storage);
    }
}
