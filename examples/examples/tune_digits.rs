//! The main job: tune a dfdx MLP on the embedded handwritten digits.
//!
//! A Bayesian-optimization study (by default) over the learning rate (log scale), the
//! optimizer with its own momentum parameter (Adam's β1, SGD's momentum or RMSprop's ρ,
//! each on the log of 1-β), 1 to 3 hidden layers with a width each (log scale), dropout
//! and batch size, a few epochs per trial, on two workers (`--space flat`: Adam only,
//! one width for every layer). It writes the journal (rerun with `--storage` to
//! resume), TensorBoard logs (scalars, histograms, input images, confusion matrices,
//! HParams) and a report under `runs/`, and ends with a leaderboard, the best params,
//! the best validation accuracy and the parameters ranked by importance.
//!
//! `--objectives accuracy,params` (or `accuracy,seconds`, or all three) trades the
//! accuracy against the network's size (or training time): the study then has several
//! objectives and ends with its Pareto front; `--max-params N` makes larger networks
//! infeasible.
//!
//! ```text
//! cargo run --release --example tune_digits -- --help
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use knob_callbacks::report::{importance, write_report, MIN_TRIALS_FOR_IMPORTANCE};
use knob_callbacks::{ConfusionMatrix, ModelCheckpoint, StudyProgress, TensorBoard};
use knob_core::{
    BoxError, CallbackList, Device, Direction, Params, Report, SearchSpace, Study, Trainer,
    TrialState, Workers,
};
use knob_samplers::{AshaPruner, GpSampler, MedianPruner};
use knob_trainers::{data, Config, Cost, MlpDevice, MlpTrainer};

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
enum DatasetName {
    /// 5000 real MNIST images, 28x28 (embedded).
    Mnist5k,
    /// 1797 8x8 digits (embedded).
    Digits,
}

/// The search space of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SpaceName {
    /// The optimizer and its own momentum parameter, and a width per layer: `beta1`
    /// with Adam, `momentum` with SGD, `rho` with RMSprop, `units_i` for each layer.
    Conditional,
    /// Adam only, one width for every layer.
    Flat,
}

/// What the study optimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ObjectiveName {
    /// Validation accuracy (maximized).
    Accuracy,
    /// The network's trainable parameters (minimized).
    Params,
    /// Seconds a trial trains (minimized).
    Seconds,
}

impl ObjectiveName {
    fn direction(self) -> Direction {
        match self {
            ObjectiveName::Accuracy => Direction::Maximize,
            ObjectiveName::Params | ObjectiveName::Seconds => Direction::Minimize,
        }
    }

    /// The column heading of the Pareto front's table.
    fn heading(self) -> &'static str {
        match self {
            ObjectiveName::Accuracy => "val acc %",
            ObjectiveName::Params => "param count",
            ObjectiveName::Seconds => "seconds",
        }
    }

    /// A value of this objective as the front's table shows it.
    fn show(self, value: f64) -> String {
        match self {
            ObjectiveName::Accuracy => format!("{:.2}", 100.0 * value),
            ObjectiveName::Params => format!("{value:.0}"),
            ObjectiveName::Seconds => format!("{value:.2}"),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PrunerName {
    None,
    Median,
    Asha,
}

/// Tune an MLP on handwritten digits with knob.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// How proposals are made: gp, tpe, random, sobol, zoom, grid (sized to the trials),
    /// tpe-uni, nsga2 (several objectives), gp-startupN (the GP after N design points),
    /// gp-pi or gp-ucbB (other acquisitions), tpe-candidatesN or nsga2-popN.
    #[arg(long, default_value = "gp", value_parser = known_sampler)]
    sampler: String,
    /// The search space.
    #[arg(long, value_enum, default_value = "conditional")]
    space: SpaceName,
    /// Trials in the study (a resumed study is topped up to this many).
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// Trials trained at once and where: `2` or `cpu:2` (one per core), or `gpu:0,1`
    /// (one per GPU listed; needs the `cuda` feature).
    #[arg(long, default_value = "2")]
    workers: Workers,
    /// Epochs per trial.
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// Start no trial after this many seconds (running trials finish); the study still
    /// stops at `--trials`.
    #[arg(long)]
    time_budget: Option<f64>,
    /// Seed of the study, the split and the networks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The embedded dataset to tune on.
    #[arg(long, value_enum, default_value = "mnist5k")]
    dataset: DatasetName,
    /// Where the study lives: a journal file, or a PostgreSQL URL
    /// (`postgres://user@host/db`, with `--features postgres`) that processes on many
    /// machines share. Rerunning with the same storage resumes the study.
    #[arg(long)]
    storage: Option<String>,
    /// The study's name in a PostgreSQL database (one database holds many studies).
    #[arg(long, default_value = "tune_digits")]
    study: String,
    /// TensorBoard log directory (default: next to the journal).
    #[arg(long)]
    logdir: Option<PathBuf>,
    /// Use full MNIST from IDX files in this folder (train-images-idx3-ubyte[.gz],
    /// train-labels-idx1-ubyte[.gz]) instead of an embedded set.
    #[arg(long)]
    mnist: Option<PathBuf>,
    /// Stop hopeless trials early (a study of one objective only).
    #[arg(long, value_enum, default_value = "none")]
    pruner: PrunerName,
    /// What to optimize, comma-separated, accuracy first: `accuracy`, or
    /// `accuracy,params` (smaller networks), `accuracy,seconds` (faster training), or
    /// all three. With more than one the study ends with its Pareto front.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "accuracy")]
    objectives: Vec<ObjectiveName>,
    /// A network of more trainable parameters than this is infeasible: never the best,
    /// and the sampler steers away from it.
    #[arg(long)]
    max_params: Option<usize>,
    /// Finish with one JSON line of results.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn space(name: SpaceName) -> SearchSpace {
    knob_examples::tune_digits_space(name == SpaceName::Conditional)
}

/// Accepts `name` when `knob_samplers::by_name` knows it.
fn known_sampler(name: &str) -> Result<String, knob_samplers::NameError> {
    knob_samplers::by_name(name).map(|_| name.to_owned())
}

/// `trainer` with `costs` as further objectives, and networks above `max_params`
/// infeasible.
fn with_objectives<D: MlpDevice>(
    costs: &[Cost],
    max_params: Option<usize>,
    trainer: MlpTrainer<D>,
) -> MlpTrainer<D> {
    let trainer = costs.iter().fold(trainer, |t, c| t.cost(*c));
    match max_params {
        Some(most) => trainer.max_parameters(most),
        None => trainer,
    }
}

/// The Pareto front as a table, most accurate first.
fn print_front(front: &[knob_core::Trial], objectives: &[ObjectiveName]) {
    let mut rows: Vec<&knob_core::Trial> = front.iter().collect();
    rows.sort_by(|a, b| b.values()[0].total_cmp(&a.values()[0]));
    println!(
        "Pareto front ({} trials: none is better on every objective than another):",
        rows.len()
    );
    let headings: Vec<String> = objectives
        .iter()
        .map(|o| format!("{:>11}", o.heading()))
        .collect();
    println!("{:>6}  {}  hyperparameters", "trial", headings.join("  "));
    for t in rows {
        let cells: Vec<String> = objectives
            .iter()
            .zip(t.values())
            .map(|(o, v)| format!("{:>11}", o.show(*v)))
            .collect();
        println!("{:>6}  {}  {}", t.number, cells.join("  "), t.params);
    }
    println!();
}

fn idx_file(dir: &std::path::Path, stem: &str) -> PathBuf {
    let gz = dir.join(format!("{stem}.gz"));
    if gz.exists() {
        gz
    } else {
        dir.join(stem)
    }
}

/// Trainable parameters of the smallest network in `space` on `data`: every parameter
/// at the low end of its range, which is one hidden layer of the fewest units.
fn smallest_network(space: &SearchSpace, data: &data::Dataset) -> Result<usize, BoxError> {
    let lowest = space.from_unit(&vec![0.0; space.len()])?;
    Ok(Config::from_params(&lowest)?.parameter_count(data.dim, data.classes))
}

/// A directory of this run's own under `parent`, named by the time it started. Two
/// runs started in the same second (a script starting a seed per core) must not share
/// a journal, or the second would join the first's study: the name is claimed with
/// `create_dir`, which only one process wins, and a taken one becomes `<time>-2`,
/// `<time>-3`, ...
fn fresh_run_dir(parent: &Path) -> Result<PathBuf, BoxError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("run directory {}: {e}", parent.display()))?;
    let mut n = 1;
    loop {
        let name = match n {
            1 => stamp.to_string(),
            _ => format!("{stamp}-{n}"),
        };
        let dir = parent.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(format!("run directory {}: {e}", dir.display()).into()),
        }
    }
}

fn main() -> Result<(), Report> {
    let args = Args::parse();
    if args.epochs == 0 {
        return Err("--epochs must be at least 1: a trial of 0 epochs trains nothing".into());
    }
    let objectives = &args.objectives;
    if objectives.first() != Some(&ObjectiveName::Accuracy) {
        return Err("--objectives must start with accuracy: accuracy,params".into());
    }
    if (1..objectives.len()).any(|i| objectives[..i].contains(&objectives[i])) {
        return Err("--objectives names an objective twice".into());
    }
    let several = objectives.len() > 1;
    if several && !matches!(args.pruner, PrunerName::None) {
        return Err(
            "--pruner cannot be used with several --objectives: a trial behind on accuracy \
             may lead on the others"
                .into(),
        );
    }
    let costs: Vec<Cost> = objectives[1..]
        .iter()
        .map(|o| match o {
            ObjectiveName::Params => Cost::Parameters,
            _ => Cost::Seconds,
        })
        .collect();
    let started = Instant::now();
    let dataset = match (&args.mnist, args.dataset) {
        (Some(dir), _) => data::read_idx(
            idx_file(dir, "train-images-idx3-ubyte"),
            idx_file(dir, "train-labels-idx1-ubyte"),
        )?,
        (None, DatasetName::Mnist5k) => data::mnist5k(),
        (None, DatasetName::Digits) => data::digits(),
    };
    let (train, valid) = data::prepare(dataset, 0.2, args.seed);
    let space = space(args.space);
    if let Some(most) = args.max_params {
        // Every trial would break the constraint: say so now, not after the study.
        let least = smallest_network(&space, &train)?;
        if least > most {
            return Err(format!(
                "--max-params {most}: the smallest network in the space has {least} \
                 parameters (one hidden layer of the fewest units), so no trial could meet it"
            )
            .into());
        }
    }

    let run_dir = match &args.storage {
        Some(spec) if !knob_core::is_database_url(spec) => PathBuf::from(spec)
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default(),
        _ => fresh_run_dir(Path::new("runs/tune_digits"))?,
    };
    let storage = args
        .storage
        .clone()
        .unwrap_or_else(|| run_dir.join("study.jsonl").display().to_string());
    let logdir = args.logdir.clone().unwrap_or_else(|| run_dir.join("tb"));
    // TensorBoard logging never fails a trial, so an unusable log directory is
    // refused here, before any training.
    std::fs::create_dir_all(&logdir)
        .map_err(|e| format!("log directory {}: {e}", logdir.display()))?;
    // Each trial's best epoch, so the best trial's model can be loaded afterwards.
    let models = run_dir.join("models").join("trial-{trial}.knobmlp");
    let models = models.display().to_string();
    let mut builder = Study::builder(space.clone())
        .directions(objectives.iter().map(|o| o.direction()))
        .sampler(knob_samplers::by_name_for(
            &args.sampler,
            args.trials,
            space.len(),
        )?)
        .storage_at(&storage, &args.study)
        .seed(args.seed);
    builder = match args.pruner {
        PrunerName::None => builder,
        PrunerName::Median => builder.pruner(MedianPruner::new().startup(4).warmup(2)),
        PrunerName::Asha => builder.pruner(AshaPruner::new().min_resource(2)?.eta(3)?),
    };
    let study = Arc::new(builder.build()?);

    // Ctrl-C: finish cleanly (running trials are marked and queued again); twice: quit.
    let handle = study.clone();
    ctrlc::set_handler(move || {
        if handle.is_interrupted() {
            std::process::exit(130);
        }
        eprintln!(
            "\nknob: stopping after the running trials' next epoch (Ctrl-C again to quit now)"
        );
        handle.interrupt();
    })?;

    let progress = if args.quiet {
        StudyProgress::hidden(args.trials as u64, args.epochs as u64)
    } else {
        StudyProgress::new(args.trials as u64, args.epochs as u64)
    };
    let done = study
        .history()?
        .trials()
        .iter()
        .filter(|t| t.state.is_finished())
        .count();
    progress.skip(done.min(args.trials) as u64);

    let fixed = Params::from_iter([("epochs", (args.epochs as i64).into())]);
    let budget = match args.time_budget {
        Some(s) if s.is_finite() && s > 0.0 => std::time::Duration::from_secs_f64(s),
        Some(s) => {
            return Err(
                format!("--time-budget must be a positive number of seconds, got {s}").into(),
            )
        }
        None => std::time::Duration::MAX,
    };
    let summary = study.optimize_for(
        args.trials,
        budget,
        &args.workers,
        |worker| -> Result<Box<dyn Trainer>, BoxError> {
            match worker.device {
                Device::Cpu => Ok(Box::new(with_objectives(
                    &costs,
                    args.max_params,
                    MlpTrainer::new(train.clone(), valid.clone())?
                        .defaults(fixed.clone())
                        .seed(args.seed),
                ))),
                #[cfg(feature = "cuda")]
                Device::Gpu(ordinal) => Ok(Box::new(with_objectives(
                    &costs,
                    args.max_params,
                    MlpTrainer::<knob_trainers::Cuda>::on_device(
                        train.clone(),
                        valid.clone(),
                        ordinal,
                    )?
                    .defaults(fixed.clone())
                    .seed(args.seed),
                ))),
                #[cfg(not(feature = "cuda"))]
                Device::Gpu(_) => {
                    Err("GPU workers need the `cuda` feature: --features cuda".into())
                }
            }
        },
        |_| {
            CallbackList::new()
                .with(
                    TensorBoard::new(&logdir)
                        .histogram_freq(1)
                        .experiment_name("tune_digits")
                        .objective("val_accuracy"),
                )
                .with(ConfusionMatrix::new(&logdir))
                .with(
                    ModelCheckpoint::new(models.clone())
                        .monitor("val_accuracy")
                        .save_best_only(true),
                )
                .with(progress.trial())
        },
    )?;
    progress.finish();

    let history = study.history()?;
    // Every study ranks parameters by fANOVA; a GP study also by its lengthscales.
    let lengthscales = if args.sampler.starts_with("gp") {
        GpSampler::new().importance(&space, &history)
    } else {
        None
    };
    let shares = importance(&history, &space);
    let title = match objectives.as_slice() {
        [_] => "tune_digits: validation accuracy".to_owned(),
        [_, rest @ ..] => format!(
            "tune_digits: validation accuracy against {}",
            rest.iter()
                .map(|o| o.heading())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        [] => unreachable!("checked above"),
    };
    let report = write_report(
        &run_dir.join("report"),
        &history,
        &space,
        &title,
        lengthscales.clone().map(|r| ("GP lengthscales", r)),
    )?;
    let count = |s| history.in_state(s).count();
    // With several objectives there is no one best trial: the front answers instead.
    let best = (!several).then(|| history.best().cloned()).flatten();
    let front = study.best_trials()?;
    // The sampler's pick when its model finds the accuracy noisy (the GP does).
    let recommended = if several {
        None
    } else {
        study
            .recommend()?
            .filter(|r| best.as_ref().is_some_and(|b| b.number != r.number))
    };
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let best_params: serde_json::Map<String, serde_json::Value> = best
            .as_ref()
            .map(|b| {
                b.params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), serde_json::to_value(v).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let failed_for_good: Vec<serde_json::Value> = study
            .failed_for_good()?
            .iter()
            .map(|t| serde_json::json!({"trial": t.number, "error": t.error}))
            .collect();
        let front: Vec<serde_json::Value> = front
            .iter()
            .filter(|_| several)
            .map(|t| serde_json::json!({"trial": t.number, "values": t.values(), "params": t.params}))
            .collect();
        let line = serde_json::json!({
            "front": front,
            "best_value": best.as_ref().and_then(|b| b.value),
            "best_params": best_params,
            "completed": count(TrialState::Complete),
            "failed": count(TrialState::Failed),
            "failed_for_good": failed_for_good,
            "pruned": count(TrialState::Pruned),
            "best_model": best.as_ref().and_then(ModelCheckpoint::saved),
            "recommended_trial": recommended.as_ref().map(|r| r.number),
            "seconds": seconds,
        });
        println!("{line}");
        return Ok(());
    }
    println!("{summary}\n");
    if several {
        print_front(&front, objectives);
    } else {
        println!(
            "Leaderboard (validation accuracy):\n{}",
            study.leaderboard(5)?
        );
    }
    if let Some(b) = &best {
        println!("Best params: {}", b.params);
        println!(
            "Best validation accuracy: {:.2}%\n",
            100.0 * b.value.unwrap_or(f64::NAN)
        );
    }
    if let Some(r) = &recommended {
        println!(
            "Recommended: trial {} ({:.2}%, {}): the model finds the accuracy noisy \
             and predicts this trial best\n",
            r.number,
            100.0 * r.value.unwrap_or(f64::NAN),
            r.params
        );
    }
    let complete = history.in_state(TrialState::Complete).count();
    if complete < MIN_TRIALS_FOR_IMPORTANCE {
        println!(
            "Importance: needs {MIN_TRIALS_FOR_IMPORTANCE} complete trials; this study has {complete}."
        );
    } else {
        let gp = |name: &str| {
            let share = lengthscales.as_ref()?.iter().find(|r| r.0 == name)?.1;
            Some(format!("{:>8.1}%", 100.0 * share))
        };
        let beside = if lengthscales.is_some() {
            "; GP lengthscales beside"
        } else {
            ""
        };
        let of = if several { " of the accuracy" } else { "" };
        println!(
            "Importance{of} ({}{beside}):",
            knob_callbacks::report::METHOD
        );
        for (name, share) in shares {
            let model = gp(&name).unwrap_or_default();
            println!("  {name:<11} {:>5.1}%{model}", 100.0 * share);
        }
    }
    if knob_core::is_database_url(&storage) {
        println!(
            "\nStudy:   {} in the database (resume with the same --storage and --study)",
            args.study
        );
    } else {
        println!("\nJournal: {storage} (resume with --storage {storage})");
    }
    println!(
        "Report:  {} (every trial, sortable), {} and {}",
        report.html.display(),
        report.png.display(),
        report.markdown.display()
    );
    if let Some(model) = best.as_ref().and_then(ModelCheckpoint::saved) {
        println!(
            "Model:   {} (the best trial's best epoch; Mlp::from_file loads it)",
            model.display()
        );
    } else if several {
        println!(
            "Models:  {} (each trial's best epoch; pick one off the front)",
            run_dir.join("models").display()
        );
    }
    println!(
        "View:    tensorboard --logdir {} {}",
        logdir.display(),
        knob_callbacks::tensorboard::VIEW_FLAGS
    );
    println!("Took {seconds:.0} s.");
    Ok(())
}
