//! What samplers and pruners read: every trial of the study, as losses.
//!
//! The history turns objective values into losses (smaller is better) with the study's
//! direction, so no sampler or pruner ever needs to know the direction.
//!
//! Constraints: an [`Observation`]'s loss ranks every infeasible trial behind every
//! feasible one (see [`Observation::loss`]), so a sampler of one objective that knows
//! nothing of constraints still prefers feasible points. Samplers of several objectives
//! read [`History::multi_observations`], with the raw losses and the violation.

use crate::trial::{Direction, Trial, TrialState};

/// All trials of a study, running ones included, in number order.
#[derive(Debug, Clone, Default)]
pub struct History {
    trials: Vec<Trial>,
    /// One per objective; never empty.
    directions: Vec<Direction>,
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
    /// Its objective (the first, when there are several) as a loss: smaller is better,
    /// whatever the study's direction. An infeasible trial's loss is its violation
    /// added to the worst feasible loss (or its violation alone while no trial is
    /// feasible), so it ranks behind every feasible trial and behind less infeasible
    /// ones.
    pub loss: f64,
    /// How far it is from feasible: the sum of its constraint values above 0 (0 when
    /// feasible or unconstrained).
    pub violation: f64,
    /// Its constraint values (empty without constraints), for a sampler that models
    /// them.
    pub constraints: &'a [f64],
}

/// A complete trial with every objective, as samplers of several objectives see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiObservation<'a> {
    /// The trial's number.
    pub number: u64,
    /// Its point in the unit cube.
    pub unit: &'a [f64],
    /// Each objective as a loss (smaller is better), not penalized.
    pub losses: Vec<f64>,
    /// The sum of its constraint values above 0 (0 when feasible).
    pub violation: f64,
}

impl History {
    /// A history of `trials` (in number order) for a study going `direction`.
    pub fn new(trials: Vec<Trial>, direction: Direction) -> Self {
        Self::with_directions(trials, vec![direction])
    }

    /// A history of `trials` for a study of one objective per direction.
    ///
    /// # Panics
    /// When `directions` is empty.
    pub fn with_directions(trials: Vec<Trial>, directions: Vec<Direction>) -> Self {
        assert!(!directions.is_empty(), "a study has at least one objective");
        Self {
            trials,
            directions,
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
        let complete = move || {
            trials
                .iter()
                .filter(|t| t.state == TrialState::Complete)
                .filter_map(|t| Some((t, self.loss(t)?)))
        };
        // The worst feasible loss, behind which infeasible trials rank.
        let worst_feasible = complete()
            .filter(|(t, _)| t.is_feasible())
            .map(|(_, loss)| loss)
            .reduce(f64::max);
        complete().map(move |(t, loss)| {
            let violation = t.violation();
            Observation {
                number: t.number,
                unit: &t.unit,
                loss: match worst_feasible {
                    _ if violation == 0.0 => loss,
                    Some(worst) => worst + violation,
                    None => violation,
                },
                violation,
                constraints: &t.constraints,
            }
        })
    }

    /// The complete trials (earlier studies' first, as [`History::evidence`]) with
    /// every objective as a loss and their violation: what samplers of several
    /// objectives fit.
    pub fn multi_observations(&self) -> Vec<MultiObservation<'_>> {
        self.prior
            .iter()
            .chain(&self.trials)
            .filter(|t| t.state == TrialState::Complete)
            .filter_map(|t| {
                Some(MultiObservation {
                    number: t.number,
                    unit: &t.unit,
                    losses: self.losses(t)?,
                    violation: t.violation(),
                })
            })
            .collect()
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

    /// The study's direction (the first objective's when it has several; for reports,
    /// samplers should use losses).
    pub fn direction(&self) -> Direction {
        self.directions[0]
    }

    /// Every objective's direction.
    pub fn directions(&self) -> &[Direction] {
        &self.directions
    }

    /// How many objectives the study has.
    pub fn objectives(&self) -> usize {
        self.directions.len()
    }

    /// A trial's value (its first objective's) as a loss, when it has a value.
    pub fn loss(&self, trial: &Trial) -> Option<f64> {
        trial.value.map(|v| self.direction().loss(v))
    }

    /// Every objective of a complete trial as a loss; `None` without one value per
    /// objective.
    pub fn losses(&self, trial: &Trial) -> Option<Vec<f64>> {
        let values = trial.values();
        (values.len() == self.directions.len()).then(|| {
            values
                .iter()
                .zip(&self.directions)
                .map(|(v, d)| d.loss(*v))
                .collect()
        })
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

    /// The names of the user attributes any trial holds, sorted: the columns of a table
    /// of trials.
    pub fn user_attr_keys(&self) -> std::collections::BTreeSet<&str> {
        self.trials
            .iter()
            .flat_map(|t| t.user_attrs.keys().map(String::as_str))
            .collect()
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
            .map(|&v| self.direction().loss(v))
            .collect()
    }

    /// The feasible complete trial with the best value (of the first objective, when
    /// there are several: see [`History::best_trials`]).
    pub fn best(&self) -> Option<&Trial> {
        self.observations()
            .filter(|o| o.violation == 0.0)
            .min_by(|a, b| a.loss.total_cmp(&b.loss))
            .and_then(|o| self.get(o.number))
    }

    /// The feasible complete trials that no other feasible complete trial beats in
    /// every objective (the Pareto front), in number order. With one objective: the
    /// trials that share the best value.
    pub fn best_trials(&self) -> Vec<&Trial> {
        let feasible: Vec<(&Trial, Vec<f64>)> = self
            .in_state(TrialState::Complete)
            .filter(|t| t.is_feasible())
            .filter_map(|t| Some((t, self.losses(t)?)))
            .collect();
        let points: Vec<Vec<f64>> = feasible.iter().map(|(_, l)| l.clone()).collect();
        crate::pareto::pareto_front(&points)
            .into_iter()
            .map(|i| feasible[i].0)
            .collect()
    }
}
