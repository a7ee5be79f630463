//! Samplers raced on the job users run: `tune_digits`'s conditional space, its MLP and
//! its embedded MNIST subset (5000 images, 6 epochs a trial), many seeds.
//!
//! ```text
//! job-bench [--samplers gp,tpe,random] [--seeds 30] [--first-seed 0] [--trials 20]
//!           [--jobs 2] > job.jsonl                   # one JSON line per run
//! job-bench --eval                                   # params JSON in, accuracy out
//! job-bench --summary job.jsonl optuna-job.jsonl [--at 5,10,20]
//! job-bench --roughness [--jobs 2]                   # how rough the objective is
//! ```
//!
//! Training is a function of the params alone (one data split, one network seed, trial
//! number 0 whoever asks), so equal params give equal accuracy to every sampler; the
//! study's seed changes only the sampler's draws. `--eval` is the bridge for other
//! tuners: `optuna_job_peer.py` drives Optuna's samplers through it. `--summary` prints
//! the median and mean best validation accuracy after each budget in `--at`, per
//! sampler, and the first sampler's lead over each other one in both, in points, with
//! 95% bootstrap intervals; then the lead paired by seed, with the seeds won, tied and
//! lost (the sharp test of a variant of a sampler, which shares its initial design
//! seed for seed). `--roughness` trains neighbours of two good configurations
//! (a width one unit apart, a dropout 0.001 apart, a learning rate 0.1% apart) and
//! prints the spread of their accuracies: what part of a difference between two trials
//! no model of the params can explain.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use knob_benches::regret;
use knob_core::{Direction, Outcome, Params, Study, Trainer, TrialContext, TrialInfo};
use knob_trainers::{data, MlpTrainer};
use serde::{Deserialize, Serialize};

/// One study: the validation accuracy of each trial in order (`None`: training failed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobRun {
    sampler: String,
    seed: u64,
    accuracy: Vec<Option<f64>>,
    seconds: f64,
}

impl JobRun {
    /// The best accuracy among the first `k` trials.
    fn best_after(&self, k: usize) -> f64 {
        self.accuracy
            .iter()
            .take(k)
            .flatten()
            .copied()
            .fold(0.0, f64::max)
    }
}

/// The job's trainer, made a function of the params.
struct Job {
    trainer: MlpTrainer,
}

impl Job {
    fn new() -> Self {
        let (train, valid) = data::prepare(data::mnist5k(), 0.2, 0);
        let trainer = MlpTrainer::new(train, valid)
            .and_then(|t| t.threads(1))
            .unwrap_or_else(|e| fail(&format!("the MLP trainer: {e}")))
            .defaults(Params::from_iter([("epochs", 6.into())]))
            .seed(0);
        Self { trainer }
    }

    fn accuracy(&mut self, params: &Params) -> Option<f64> {
        let mut ctx = TrialContext::unmonitored(TrialInfo::new(0, params.clone()));
        self.trainer.fit(params, &mut ctx).ok()
    }
}

fn run(sampler: &str, seed: u64, trials: usize) -> JobRun {
    let space = knob_examples::tune_digits_space(true);
    let chosen = knob_samplers::by_name_for(sampler, trials, space.len())
        .unwrap_or_else(|e| fail(&e.to_string()));
    let study = Study::builder(space)
        .direction(Direction::Maximize)
        .sampler(chosen)
        .seed(seed)
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let mut job = Job::new();
    let started = Instant::now();
    let mut accuracy = Vec::new();
    while accuracy.len() < trials {
        let Some(trial) = study.ask().unwrap_or_else(|e| fail(&e.to_string())) else {
            break;
        };
        let value = job.accuracy(&trial.params);
        let outcome = value.map_or(Outcome::Failed("training failed".into()), Outcome::Complete);
        study
            .tell(trial.number, outcome)
            .unwrap_or_else(|e| fail(&e.to_string()));
        accuracy.push(value);
    }
    JobRun {
        sampler: sampler.to_owned(),
        seed,
        accuracy,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Reads one JSON object of params per line, writes one `{"accuracy": …}` per line.
fn eval() {
    let mut job = Job::new();
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap_or_else(|e| fail(&format!("reading params: {e}")));
        let params: Params = serde_json::from_str(&line)
            .unwrap_or_else(|e| fail(&format!("params must be a JSON object: {e}: {line}")));
        let accuracy = job.accuracy(&params);
        let mut out = stdout.lock();
        let _ = writeln!(out, "{}", serde_json::json!({ "accuracy": accuracy }));
        let _ = out.flush();
    }
}

/// Accuracy of neighbours of two good configurations, one parameter moved by a step
/// too small to matter, and the spread it shows.
fn roughness(jobs: usize) {
    let base = |optimizer: &str, lr: f64| {
        let momentum = if optimizer == "adam" {
            "beta1"
        } else {
            "momentum"
        };
        Params::from_iter([
            ("lr", lr.into()),
            ("optimizer", optimizer.into()),
            (momentum, 0.9.into()),
            ("layers", 2i64.into()),
            ("units_0", 400i64.into()),
            ("units_1", 200i64.into()),
            ("dropout", 0.1.into()),
            ("batch_size", 32i64.into()),
        ])
    };
    const STEPS: i64 = 12;
    let mut groups: Vec<(String, Vec<Params>)> = Vec::new();
    for (optimizer, lr) in [("adam", 2e-3), ("sgd", 5e-2)] {
        let moved = |name: &str, value: &dyn Fn(i64) -> knob_core::Value| {
            let params = (0..STEPS)
                .map(|k| {
                    let mut p = base(optimizer, lr);
                    p.insert(name, value(k));
                    p
                })
                .collect();
            (format!("{optimizer}, lr {lr}: {name}"), params)
        };
        groups.push(moved("units_0", &|k| (400 + k).into()));
        groups.push(moved("dropout", &|k| (0.1 + 0.001 * k as f64).into()));
        groups.push(moved("lr", &|k| (lr * (1.0 + 0.001 * k as f64)).into()));
    }
    let work: Vec<(usize, Params)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, (_, ps))| ps.iter().map(move |p| (g, p.clone())))
        .collect();
    let queue = Mutex::new(work.into_iter());
    let results = Mutex::new(vec![Vec::new(); groups.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let mut job = Job::new();
                loop {
                    let next = queue.lock().expect("not poisoned").next();
                    let Some((g, params)) = next else { break };
                    let accuracy = job.accuracy(&params).unwrap_or(f64::NAN);
                    results.lock().expect("not poisoned")[g].push(100.0 * accuracy);
                }
            });
        }
    });
    println!("| configuration: parameter moved ({STEPS} steps) | mean accuracy (%) | standard deviation | range |");
    println!("|---|---:|---:|---:|");
    for ((label, _), values) in groups
        .iter()
        .zip(results.into_inner().expect("not poisoned"))
    {
        let mean = regret::mean(&values);
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
            / (values.len() - 1) as f64)
            .sqrt();
        let (low, high) = (
            regret::quantile(&values, 0.0),
            regret::quantile(&values, 1.0),
        );
        println!("| {label} | {mean:.2} | {sd:.2} | {low:.1} to {high:.1} |");
    }
}

/// Stops the program with `message`.
fn fail(message: &str) -> ! {
    eprintln!("job-bench: {message}");
    std::process::exit(2)
}

fn summary(files: &[String], at: &[usize]) {
    let mut runs: Vec<JobRun> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| fail(&format!("{file}: {e}")));
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            runs.push(
                serde_json::from_str(line)
                    .unwrap_or_else(|e| fail(&format!("{file} line {}: {e}", i + 1))),
            );
        }
    }
    let mut samplers: Vec<String> = Vec::new();
    for r in &runs {
        if !samplers.contains(&r.sampler) {
            samplers.push(r.sampler.clone());
        }
    }
    let best = |s: &str, k: usize| -> Vec<f64> {
        runs.iter()
            .filter(|r| r.sampler == s)
            .map(|r| 100.0 * r.best_after(k))
            .collect()
    };
    let seeds: Vec<String> = samplers
        .iter()
        .map(|s| format!("{s} ({})", runs.iter().filter(|r| &r.sampler == s).count()))
        .collect();
    println!(
        "Best validation accuracy (%), median / mean over the runs, runs per sampler in brackets:\n\n| after | {} |\n|---|{}",
        seeds.join(" | "),
        "---:|".repeat(samplers.len())
    );
    for &k in at {
        let cells: Vec<String> = samplers
            .iter()
            .map(|s| {
                let values = best(s, k);
                format!(
                    "{:.2} / {:.2}",
                    regret::quantile(&values, 0.5),
                    regret::mean(&values)
                )
            })
            .collect();
        println!("| {k} trials | {} |", cells.join(" | "));
    }
    let Some((first, others)) = samplers.split_first().filter(|(_, o)| !o.is_empty()) else {
        return;
    };
    // The head of each table of the first sampler's lead over the others.
    let lead_header = format!(
        "| after | {} |\n|---|{}",
        others
            .iter()
            .map(|s| format!("{first} − {s}"))
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(others.len())
    );
    let mut rng = knob_core::trial_rng(0, 0);
    for (statistic, difference) in [
        ("median", regret::median_difference as Difference),
        ("mean", regret::mean_difference),
    ] {
        println!(
            "\n{first} minus each other sampler, {statistic} best accuracy in points, with a 95% bootstrap interval:\n\n{lead_header}"
        );
        for &k in at {
            let mine = best(first, k);
            let cells: Vec<String> = others
                .iter()
                .map(|s| {
                    let (lead, low, high) = difference(&mine, &best(s, k), &mut rng);
                    format!("{lead:+.2} [{low:+.2}, {high:+.2}]")
                })
                .collect();
            println!("| {k} trials | {} |", cells.join(" | "));
        }
    }
    println!(
        "\n{first} minus each other sampler, paired by seed (the seeds both ran): mean difference of the best accuracy in points, with a 95% bootstrap interval, and the seeds {first} beat / tied / lost:\n\n{lead_header}"
    );
    let by_seed = |s: &str, k: usize| -> BTreeMap<u64, f64> {
        runs.iter()
            .filter(|r| r.sampler == s)
            .map(|r| (r.seed, 100.0 * r.best_after(k)))
            .collect()
    };
    for &k in at {
        let mine = by_seed(first, k);
        let cells: Vec<String> = others
            .iter()
            .map(|s| {
                let (a, b): (Vec<f64>, Vec<f64>) = by_seed(s, k)
                    .iter()
                    .filter_map(|(seed, theirs)| Some((*mine.get(seed)?, *theirs)))
                    .unzip();
                if a.is_empty() {
                    return "no seed in common".to_owned();
                }
                let (lead, low, high) = regret::paired_difference(&a, &b, &mut rng);
                // Accuracies sit on a grid of 0.1 point: closer than that is a tie.
                let count =
                    |f: fn(f64) -> bool| a.iter().zip(&b).filter(|(x, y)| f(*x - *y)).count();
                format!(
                    "{lead:+.2} [{low:+.2}, {high:+.2}], {} / {} / {}",
                    count(|d| d > 0.05),
                    count(|d| d.abs() <= 0.05),
                    count(|d| d < -0.05)
                )
            })
            .collect();
        println!("| {k} trials | {} |", cells.join(" | "));
    }
}

/// A statistic's difference between two sets of runs, with its bootstrap interval.
type Difference = fn(&[f64], &[f64], &mut knob_core::KnobRng) -> (f64, f64, f64);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--eval") {
        return eval();
    }
    let summarize = args.first().map(String::as_str) == Some("--summary");
    let rough = args.first().map(String::as_str) == Some("--roughness");
    let (mut files, mut at) = (Vec::new(), vec![5, 10, 20]);
    let mut samplers: Vec<String> = ["gp", "tpe", "random"].map(String::from).to_vec();
    let (mut seeds, mut first, mut trials, mut jobs) = (30u64, 0u64, 20usize, 2usize);
    let mut it = args.iter().skip(usize::from(summarize || rough));
    while let Some(flag) = it.next() {
        if summarize && !flag.starts_with("--") {
            files.push(flag.clone());
            continue;
        }
        let value = it
            .next()
            .unwrap_or_else(|| fail(&format!("{flag} needs a value")));
        let number = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| fail(&format!("{flag}: `{v}` is not a count")))
        };
        match flag.as_str() {
            "--at" => at = value.split(',').map(|k| number(k) as usize).collect(),
            "--samplers" => samplers = value.split(',').map(String::from).collect(),
            "--seeds" => seeds = number(value),
            "--first-seed" => first = number(value),
            "--trials" => trials = number(value) as usize,
            "--jobs" => jobs = (number(value) as usize).max(1),
            other => fail(&format!("unknown flag {other}")),
        }
    }
    if rough {
        return roughness(jobs);
    }
    if summarize {
        if files.is_empty() {
            fail("--summary needs result files");
        }
        return summary(&files, &at);
    }
    for s in &samplers {
        knob_samplers::by_name(s).unwrap_or_else(|e| fail(&e.to_string()));
    }
    let work: Vec<(String, u64)> = samplers
        .iter()
        .flat_map(|s| (first..first + seeds).map(move |seed| (s.clone(), seed)))
        .collect();
    let queue = Arc::new(Mutex::new(work.into_iter()));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let queue = Arc::clone(&queue);
            scope.spawn(move || loop {
                let next = queue.lock().expect("not poisoned").next();
                let Some((sampler, seed)) = next else { break };
                let line =
                    serde_json::to_string(&run(&sampler, seed, trials)).expect("a run serializes");
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            });
        }
    });
}
