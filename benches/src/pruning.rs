//! What early stopping and population-based training buy on the digits MLP.
//!
//! Per seed, four runs on the same split:
//!
//! - **none**: a random-search study of `trials` trials, `epochs` epochs each;
//! - **asha**: the same study (the same params for every trial number, since random
//!   search ignores the history) with ASHA stopping trials at rungs of
//!   `asha_min_epochs` times 1, 3, 9, ... epochs;
//! - **pbt**: a population of `population` members trained `epochs` epochs, exploiting
//!   and exploring every `interval` epochs;
//! - **random, same budget**: random search with as many trials as PBT has members, at
//!   `epochs` each: the same total epochs as PBT.
//!
//! The objective is validation accuracy; a run's result is the best accuracy of a
//! trial (or member) that trained all its epochs, and the epochs all trials trained.

use std::sync::Arc;

use knob_core::{
    BoxError, CallbackList, Direction, Params, Scale, SearchSpace, Study, TrialState, Workers,
};
use knob_samplers::{AshaPruner, Pbt, RandomSampler};
use knob_trainers::data::{self, Dataset};
use knob_trainers::MlpTrainer;
use serde::Serialize;

/// The sizes of the runs.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Trials of the none and asha studies.
    pub trials: usize,
    /// Epochs of a full trial, and of each PBT member.
    pub epochs: usize,
    /// PBT members (and random trials at PBT's budget).
    pub population: usize,
    /// Epochs per PBT generation.
    pub interval: usize,
    /// ASHA's first rung, in epochs (η = 3).
    pub asha_min_epochs: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            trials: 30,
            epochs: 27,
            population: 8,
            interval: 3,
            asha_min_epochs: 3,
        }
    }
}

/// One seed's results.
#[derive(Debug, Clone, Serialize)]
pub struct SeedResult {
    /// The seed of the split, the samplers and the networks.
    pub seed: u64,
    /// Best validation accuracy without pruning.
    pub none_best_acc: f64,
    /// Best validation accuracy of a trial ASHA let finish.
    pub asha_best_acc: f64,
    /// Epochs trained without pruning.
    pub none_epochs: usize,
    /// Epochs trained with ASHA.
    pub asha_epochs: usize,
    /// Best final validation accuracy of a PBT member.
    pub pbt_best_acc: f64,
    /// Best validation accuracy of random search at PBT's epoch budget.
    pub random_same_budget_best_acc: f64,
}

/// The hyperparameters the studies tune. Their range is wide on purpose: tuning has
/// bad regions to avoid, as in practice.
pub fn study_space() -> SearchSpace {
    SearchSpace::builder()
        .float("lr", 1e-5, 1.0, Scale::Log)
        .int("units", 16, 256, Scale::Log)
        .float("dropout", 0.0, 0.6, Scale::Linear)
        .categorical("batch_size", [16, 64, 256])
        .build()
        .expect("a valid space")
}

/// The hyperparameters PBT and its random baseline tune: those a checkpoint can
/// change during training (the width is fixed at 128 units).
pub fn schedule_space() -> SearchSpace {
    SearchSpace::builder()
        .float("lr", 1e-5, 1.0, Scale::Log)
        .float("dropout", 0.0, 0.6, Scale::Linear)
        .categorical("batch_size", [16, 64, 256])
        .build()
        .expect("a valid space")
}

fn trainer(
    train: &Arc<Dataset>,
    valid: &Arc<Dataset>,
    epochs: usize,
    seed: u64,
    fixed: &[(&str, knob_core::Value)],
) -> Result<MlpTrainer, BoxError> {
    let mut defaults = Params::from_iter(fixed.iter().cloned());
    defaults.insert("epochs", epochs as i64);
    Ok(MlpTrainer::new(train.clone(), valid.clone())?
        .defaults(defaults)
        .seed(seed))
}

/// A random-search study; returns its best full-length accuracy and the epochs trained.
fn study(
    setup: &Setup,
    space: SearchSpace,
    trials: usize,
    pruner: Option<AshaPruner>,
    fixed: &[(&str, knob_core::Value)],
    seed: u64,
    data: &(Arc<Dataset>, Arc<Dataset>),
) -> Result<(f64, usize), BoxError> {
    let builder = Study::builder(space)
        .direction(Direction::Maximize)
        .sampler(RandomSampler)
        .seed(seed);
    let builder = match pruner {
        Some(p) => builder.pruner(p),
        None => builder.pruner(knob_core::NopPruner),
    };
    let study = builder.build()?;
    study.optimize(
        trials,
        1,
        |_| trainer(&data.0, &data.1, setup.epochs, seed, fixed),
        |_| CallbackList::new(),
    )?;
    let history = study.history()?;
    let epochs = history.trials().iter().map(|t| t.intermediate.len()).sum();
    let best = history
        .in_state(TrialState::Complete)
        .filter(|t| t.intermediate.len() == setup.epochs)
        .filter_map(|t| t.value)
        .fold(f64::NEG_INFINITY, f64::max);
    Ok((best, epochs))
}

/// Runs the four arms for one seed, on one worker each.
pub fn run_seed(setup: &Setup, seed: u64) -> Result<SeedResult, BoxError> {
    let data = data::prepare(data::digits(), 0.2, seed);
    let asha = AshaPruner::new()
        .min_resource(setup.asha_min_epochs as u64)?
        .eta(3)?;
    let (none_best_acc, none_epochs) =
        study(setup, study_space(), setup.trials, None, &[], seed, &data)?;
    let (asha_best_acc, asha_epochs) = study(
        setup,
        study_space(),
        setup.trials,
        Some(asha),
        &[],
        seed,
        &data,
    )?;
    let fixed = [("units", knob_core::Value::Int(128))];
    let (random_same_budget_best_acc, _) = study(
        setup,
        schedule_space(),
        setup.population,
        None,
        &fixed,
        seed,
        &data,
    )?;
    let population = Pbt::new(schedule_space())
        .direction(Direction::Maximize)
        .population(setup.population)
        .epochs(setup.epochs)
        .interval(setup.interval)
        .seed(seed)
        .run(&Workers::cpu(1), |_| {
            trainer(&data.0, &data.1, setup.epochs, seed, &fixed)
        })?;
    let pbt_best_acc = population
        .best()
        .and_then(|m| m.score())
        .ok_or("PBT ended without a scored member")?;
    Ok(SeedResult {
        seed,
        none_best_acc,
        asha_best_acc,
        none_epochs,
        asha_epochs,
        pbt_best_acc,
        random_same_budget_best_acc,
    })
}

/// The means over seeds, as the benchmark's last line reports them.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// How many seeds.
    pub seeds: usize,
    /// Mean of [`SeedResult::none_best_acc`].
    pub none_best_acc: f64,
    /// Mean of [`SeedResult::asha_best_acc`].
    pub asha_best_acc: f64,
    /// Mean of [`SeedResult::none_epochs`].
    pub none_epochs: f64,
    /// Mean of [`SeedResult::asha_epochs`].
    pub asha_epochs: f64,
    /// Mean of [`SeedResult::pbt_best_acc`].
    pub pbt_best_acc: f64,
    /// Mean of [`SeedResult::random_same_budget_best_acc`].
    pub random_same_budget_best_acc: f64,
}

impl Summary {
    /// Averages `results` (at least one).
    pub fn of(results: &[SeedResult]) -> Self {
        let mean = |f: &dyn Fn(&SeedResult) -> f64| {
            results.iter().map(f).sum::<f64>() / results.len() as f64
        };
        Self {
            seeds: results.len(),
            none_best_acc: mean(&|r| r.none_best_acc),
            asha_best_acc: mean(&|r| r.asha_best_acc),
            none_epochs: mean(&|r| r.none_epochs as f64),
            asha_epochs: mean(&|r| r.asha_epochs as f64),
            pbt_best_acc: mean(&|r| r.pbt_best_acc),
            random_same_budget_best_acc: mean(&|r| r.random_same_budget_best_acc),
        }
    }
}
