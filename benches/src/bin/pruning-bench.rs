//! ASHA against no pruning, and PBT against random search at the same epoch budget,
//! on the digits MLP over seeds (see `knob_benches::pruning` for the four arms).
//! Prints one JSON line per seed to stderr and ends with the means on stdout:
//!
//! ```text
//! pruning-bench [--seeds 5] [--trials 30] [--epochs 27] [--population 8] [--interval 3]
//!               [--asha-min-epochs 3]
//! {"seeds":5,"none_best_acc":…,"asha_best_acc":…,"none_epochs":…,"asha_epochs":…,
//!  "pbt_best_acc":…,"random_same_budget_best_acc":…}
//! ```
//!
//! Seeds run two at a time.

use knob_benches::pruning::{run_seed, Setup, Summary};
use rayon::prelude::*;

fn fail(message: &str) -> ! {
    eprintln!("pruning-bench: {message}");
    std::process::exit(2);
}

fn main() {
    let mut setup = Setup::default();
    let mut seeds = 5u64;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            fail(&format!("{} needs a value", pair[0]))
        };
        let n: usize = value
            .parse()
            .unwrap_or_else(|_| fail(&format!("{flag}: `{value}` is not a count")));
        match flag.as_str() {
            "--seeds" => seeds = n as u64,
            "--trials" => setup.trials = n,
            "--epochs" => setup.epochs = n,
            "--population" => setup.population = n,
            "--interval" => setup.interval = n,
            "--asha-min-epochs" => setup.asha_min_epochs = n,
            other => fail(&format!("unknown flag {other}")),
        }
    }
    if seeds == 0 {
        fail("--seeds must be at least 1");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let results: Vec<_> = pool.install(|| {
        (0..seeds)
            .into_par_iter()
            .map(|seed| {
                let r =
                    run_seed(&setup, seed).unwrap_or_else(|e| fail(&format!("seed {seed}: {e}")));
                eprintln!("{}", serde_json::to_string(&r).expect("serializable"));
                r
            })
            .collect()
    });
    println!(
        "{}",
        serde_json::to_string(&Summary::of(&results)).expect("serializable")
    );
}
