//! What samplers and pruners read: every trial of the study, as losses.
//!
//! The history turns objective values into losses (smaller is better) with the study's
//! direction, so no sampler or pruner ever needs to know the direction.

use crate::trial::{Direction, Trial, TrialState};

/// All trials of a study, running ones included, in number order.
#[derive(Debug, Clone, Default)]
pub struct History {
    trials: Vec<Trial>,
    direction: Direction,
    /// Complete trials of earlier studies, lent as evidence (warm starting).
    prior: Vec<Trial>,
}

/// A finished observation, as samplers see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation<'a> {
    /// The trial's number.
    pub number: u64,
    /// Its point in the unit cube.
    pub unit: &'a [f64],
    /// Its objective as a loss: smaller is better, whatever the study's direction.
    pub loss: f64,
}

impl History {
    /// A history of `trials` (in number order) for a study going `direction`.
    pub fn new(trials: Vec<Trial>, direction: Direction) -> Self {
        Self {
            trials,
            direction,
            prior: Vec::new(),
        }
    }

    /// Adds complete trials of earlier studies as evidence for model-based samplers
    /// (see [`History::evidence`]); they are not trials of this study.
    pub fn with_prior(mut self, prior: Vec<Trial>) -> Self {
        self.prior = prior;
        self
    }

    /// The earlier studies' trials lent as evidence.
    pub fn prior(&self) -> &[Trial] {
        &self.prior
    }

    /// What a model should fit: the earlier studies' complete trials (warm starting),
    /// then this study's [`History::observations`].
    pub fn evidence(&self) -> impl Iterator<Item = Observation<'_>> {
        self.complete(&self.prior).chain(self.observations())
    }

    /// The complete trials among `trials`, as observations.
    fn complete<'a>(&'a self, trials: &'a [Trial]) -> impl Iterator<Item = Observation<'a>> {
        trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .filter_map(|t| {
                Some(Observation {
                    number: t.number,
                    unit: &t.unit,
                    loss: self.loss(t)?,
                })
            })
    }

    /// Every trial, in number order.
    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    /// The trial with this number.
    pub fn get(&self, number: u64) -> Option<&Trial> {
        self.trials.get(usize::try_from(number).ok()?)
    }

    pub(crate) fn get_mut(&mut self, number: u64) -> Option<&mut Trial> {
        self.trials.get_mut(usize::try_from(number).ok()?)
    }

    pub(crate) fn push(&mut self, trial: Trial) {
        debug_assert_eq!(trial.number as usize, self.trials.len());
        self.trials.push(trial);
    }

    /// The number of trials, running ones included.
    pub fn len(&self) -> usize {
        self.trials.len()
    }

    /// Whether no trial has started.
    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// The study's direction (for reports; samplers should use losses).
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// A trial's value as a loss, when it has a value.
    pub fn loss(&self, trial: &Trial) -> Option<f64> {
        trial.value.map(|v| self.direction.loss(v))
    }

    /// Complete trials as (unit point, loss): what a model-based sampler fits.
    pub fn observations(&self) -> impl Iterator<Item = Observation<'_>> {
        self.complete(&self.trials)
    }

    /// Unit points of running trials, which a sampler should not propose again.
    pub fn pending(&self) -> impl Iterator<Item = &[f64]> {
        self.trials
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .map(|t| t.unit.as_slice())
    }

    /// Trials in `state`.
    pub fn in_state(&self, state: TrialState) -> impl Iterator<Item = &Trial> {
        self.trials.iter().filter(move |t| t.state == state)
    }

    /// Losses that other trials reported at `step`: what a median or successive-halving
    /// pruner compares against.
    pub fn losses_at_step(&self, step: u64, except: u64) -> Vec<f64> {
        self.trials
            .iter()
            .filter(|t| t.number != except)
            .filter_map(|t| t.intermediate.get(&step))
            .map(|&v| self.direction.loss(v))
            .collect()
    }

    /// The complete trial with the best value.
    pub fn best(&self) -> Option<&Trial> {
        self.observations()
            .min_by(|a, b| a.loss.total_cmp(&b.loss))
            .and_then(|o| self.get(o.number))
    }
}
