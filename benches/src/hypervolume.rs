//! Runs samplers on test functions of several objectives and summarizes the
//! hypervolume their fronts reach.

use std::fmt::Write as _;

use knob_core::pareto::{hypervolume, pareto_front};
use knob_core::{Direction, Outcome, Study};
use serde::{Deserialize, Serialize};

use knob_samplers::testing::MultiObjectiveFunction;

use crate::regret::{first_seen, median_difference, quantile};

/// One run on a function of several objectives, as one JSON line of the benchmark's
/// output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HypervolumeRun {
    /// The test function.
    pub function: String,
    /// The sampler's name.
    pub sampler: String,
    /// The study's seed.
    pub seed: u64,
    /// Trials asked for.
    pub budget: usize,
    /// After each trial, the hypervolume of the feasible non-dominated trials so far
    /// against the function's reference point.
    pub hypervolume: Vec<f64>,
    /// Seconds the whole run took, sampler and function together.
    pub seconds: f64,
}

impl HypervolumeRun {
    /// The hypervolume after `k` trials (the last one, for a shorter run).
    pub fn after(&self, k: usize) -> f64 {
        let i = k.min(self.hypervolume.len()).saturating_sub(1);
        self.hypervolume.get(i).copied().unwrap_or(0.0)
    }
}

/// Runs `sampler` on `function` for `budget` trials with `seed`.
pub fn run(
    function: &MultiObjectiveFunction,
    sampler: &str,
    seed: u64,
    budget: usize,
) -> HypervolumeRun {
    let started = std::time::Instant::now();
    let space = function.space();
    let names: Vec<String> = space.params().iter().map(|p| p.name.clone()).collect();
    let study = Study::builder(space)
        .directions(vec![Direction::Minimize; function.reference.len()])
        .sampler(knob_samplers::by_name(sampler).expect("a known sampler"))
        .seed(seed)
        .build()
        .expect("a valid study");
    let mut front: Vec<Vec<f64>> = Vec::new();
    let mut curve = Vec::with_capacity(budget);
    for _ in 0..budget {
        let Some(trial) = study.ask().expect("ask") else {
            break;
        };
        let x: Vec<f64> = names
            .iter()
            .map(|n| trial.params.float(n).expect("a float"))
            .collect();
        let (values, constraints) = (function.eval(&x), function.constraints(&x));
        if constraints.iter().all(|c| *c <= 0.0) {
            front.push(values.clone());
            front = pareto_front(&front)
                .into_iter()
                .map(|i| front[i].clone())
                .collect();
        }
        curve.push(hypervolume(&front, function.reference));
        study
            .tell(trial.number, Outcome::constrained(values, constraints))
            .expect("tell");
    }
    HypervolumeRun {
        function: function.name.into(),
        sampler: sampler.into(),
        seed,
        budget,
        hypervolume: curve,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// A markdown table of the median hypervolume after each of `at` trials per function
/// and sampler (the true front's in the first column), then the first sampler's lead
/// over each other one at each of `at`, with a 95% bootstrap interval.
pub fn summary_table(runs: &[HypervolumeRun], at: &[usize]) -> String {
    let (functions, samplers) = first_seen(
        runs.iter()
            .map(|r| (r.function.as_str(), r.sampler.as_str())),
    );
    let values = |f: &str, s: &str, k: usize| -> Vec<f64> {
        runs.iter()
            .filter(|r| r.function == f && r.sampler == s)
            .map(|r| r.after(k))
            .collect()
    };
    let at_label: Vec<String> = at.iter().map(usize::to_string).collect();
    let mut out = format!(
        "Median hypervolume after {} trials (runs per cell in brackets):\n\n\
         | function (true front) | {} |\n|---|{}\n",
        at_label.join("/"),
        samplers.join(" | "),
        "---:|".repeat(samplers.len())
    );
    for f in &functions {
        let truth = MultiObjectiveFunction::by_name(f).map_or(f64::NAN, |m| m.front_hypervolume);
        let cells: Vec<String> = samplers
            .iter()
            .map(|s| {
                let n = values(f, s, 1).len();
                let medians: Vec<String> = at
                    .iter()
                    .map(|&k| format!("{:.3}", quantile(&values(f, s, k), 0.5)))
                    .collect();
                format!("{} ({n})", medians.join(" / "))
            })
            .collect();
        let _ = writeln!(out, "| {f} ({truth:.3}) | {} |", cells.join(" | "));
    }
    let Some((first, others)) = samplers.split_first().filter(|(_, o)| !o.is_empty()) else {
        return out;
    };
    let mut rng = knob_core::trial_rng(0, 0);
    let _ = write!(
        out,
        "\n{first} minus each other sampler, median hypervolume, with a 95% bootstrap interval:\n\n\
         | function | after | {} |\n|---|---|{}\n",
        others.iter().map(|s| format!("{first} − {s}")).collect::<Vec<_>>().join(" | "),
        "---:|".repeat(others.len())
    );
    for f in &functions {
        for &k in at {
            let mine = values(f, first, k);
            let cells: Vec<String> = others
                .iter()
                .map(|s| {
                    let theirs = values(f, s, k);
                    if mine.is_empty() || theirs.is_empty() {
                        return String::new();
                    }
                    let (lead, low, high) = median_difference(&mine, &theirs, &mut rng);
                    format!("{lead:+.3} [{low:+.3}, {high:+.3}]")
                })
                .collect();
            let _ = writeln!(out, "| {f} | {k} | {} |", cells.join(" | "));
        }
    }
    out
}
