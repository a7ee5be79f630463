//! Population-based training: many models train at once, and every few epochs the
//! worst copy the weights and hyperparameters of the best, then perturb the
//! hyperparameters (Jaderberg et al., 2017).
//!
//! Where a study tunes fixed hyperparameters, PBT tunes *schedules*: a member's
//! learning rate can change at every generation, and its lineage records the schedule
//! that worked. It is automated babysitting: the decisions a person makes while
//! watching one run ("the loss has flattened, lower the learning rate") are made by
//! selection over a population.
//!
//! The driver is synchronous: each generation, every member trains the same span of
//! epochs (in parallel, one per worker), then the population is ranked. That makes a
//! run deterministic for a seed whatever the number of workers, and lets a run that
//! was killed resume from the last finished generation (see [`Pbt::directory`]).

mod persist;

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use knob_core::pool::{catch_panic, channel, Built, WorkerPool};
use knob_core::Callback;
use knob_core::{
    trial_rng, BoxError, CallbackList, Checkpoint, Direction, Error, Params, Result, Resumable,
    SearchSpace, Span, TrialContext, TrialInfo, TrialState, Worker, Workers,
};
use rand::Rng;

/// One generation of one member's life.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    /// The generation, from 0.
    pub generation: usize,
    /// The epochs it trained.
    pub epochs: Range<usize>,
    /// The hyperparameters it trained with.
    pub params: Params,
    /// The member whose weights it started from, when it had just copied another.
    pub copied_from: Option<usize>,
    /// Its score at the end; `None` when the span failed.
    pub score: Option<f64>,
    /// Why the span failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A member of the population.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its index in the population.
    pub id: usize,
    /// The hyperparameters it trains with next.
    pub params: Params,
    /// Its model, once it has trained.
    pub checkpoint: Option<Checkpoint>,
    /// Every generation it lived, in order: its schedule and where its weights came from.
    pub history: Vec<Step>,
}

impl Member {
    /// The score of its last generation (`None` if that failed).
    pub fn score(&self) -> Option<f64> {
        self.history.last().and_then(|s| s.score)
    }
}

/// What [`Pbt::run`] ends with.
#[derive(Debug, Clone)]
pub struct Population {
    /// The members, by id.
    pub members: Vec<Member>,
    /// The direction scores were ranked in.
    pub direction: Direction,
    /// Epochs trained over all members in this call (not counting resumed ones).
    pub epochs_trained: usize,
}

impl Population {
    /// The steps that made member `id`'s final model, first to last: its own recent
    /// generations and, before each copy, those of the member it copied. Its
    /// hyperparameters along the way are the schedule PBT found.
    pub fn lineage(&self, id: usize) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut owner = id;
        let Some(last) = self.members.get(id).and_then(|m| m.history.last()) else {
            return steps;
        };
        for generation in (0..=last.generation).rev() {
            let Some(step) = self.members[owner]
                .history
                .iter()
                .find(|s| s.generation == generation)
            else {
                break;
            };
            steps.push(step.clone());
            if let Some(parent) = step.copied_from {
                owner = parent;
            }
        }
        steps.reverse();
        steps
    }

    /// The member with the best final score.
    pub fn best(&self) -> Option<&Member> {
        self.members
            .iter()
            .filter(|m| m.score().is_some())
            .reduce(|a, b| {
                if self
                    .direction
                    .better(b.score().unwrap_or(f64::NAN), a.score().unwrap_or(f64::NAN))
                {
                    b
                } else {
                    a
                }
            })
    }
}

/// Population-based training over a search space, configured builder style.
///
/// Each member starts from a random point of the space. After every generation of
/// `interval` epochs, the members in the bottom `quantile` copy the checkpoint and
/// hyperparameters of a random member of the top `quantile` (exploit), then each
/// hyperparameter is, with probability `resample`, drawn afresh from the space, or
/// else moved by `perturb` of its range on its own scale, up or down at random
/// (explore): integers move at least one value, and choices move to a neighbour in
/// the order they are listed. Architecture parameters that a checkpoint cannot change belong in the
/// trainer's fixed defaults, not in the space.
///
/// ```
/// use std::ops::Range;
/// use knob_core::{BoxError, Checkpoint, Direction, Params, Resumable, Scale,
///     SearchSpace, Span, TrialContext, Workers};
/// use knob_samplers::Pbt;
///
/// /// A "model" that is one number walking toward 1 at speed `lr`.
/// struct Walker;
/// impl Resumable for Walker {
///     fn train_span(&mut self, p: &Params, from: Option<&Checkpoint>, epochs: Range<usize>,
///                   _: &mut TrialContext<'_>) -> Result<Span, BoxError> {
///         let mut x = from.map_or(0.0, |c| f64::from_le_bytes(c.as_bytes().try_into().unwrap()));
///         for _ in epochs {
///             x += p.float("lr")? * (1.0 - x);
///         }
///         Ok(Span { score: x, checkpoint: Checkpoint::new(x.to_le_bytes().to_vec()) })
///     }
/// }
/// let space = SearchSpace::builder().float("lr", 1e-3, 0.5, Scale::Log).build()?;
/// let population = Pbt::new(space)
///     .direction(Direction::Maximize)
///     .population(6)
///     .epochs(12)
///     .interval(3)
///     .run(&Workers::cpu(2), |_| Ok(Walker))?;
/// assert_eq!(population.epochs_trained, 6 * 12);
/// assert!(population.best().unwrap().score().unwrap() > 0.9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pbt {
    space: Arc<SearchSpace>,
    direction: Direction,
    population: usize,
    epochs: usize,
    interval: usize,
    quantile: f64,
    resample: f64,
    perturb: f64,
    seed: u64,
    directory: Option<PathBuf>,
}

impl Pbt {
    /// PBT over `space`, minimizing, with 8 members, 20 epochs in generations of 2,
    /// quantile 0.25, resample probability 0.25, perturbation 0.1, seed 0.
    pub fn new(space: SearchSpace) -> Self {
        Self {
            space: Arc::new(space),
            direction: Direction::Minimize,
            population: 8,
            epochs: 20,
            interval: 2,
            quantile: 0.25,
            resample: 0.25,
            perturb: 0.1,
            seed: 0,
            directory: None,
        }
    }

    /// Minimize (the default) or maximize the score.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// How many members train at once (at least 2 for selection to happen).
    pub fn population(mut self, members: usize) -> Self {
        self.population = members;
        self
    }

    /// Epochs each member trains in all.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Epochs between exploit/explore steps: a generation.
    pub fn interval(mut self, epochs: usize) -> Self {
        self.interval = epochs;
        self
    }

    /// The share of the population replaced each generation, and the share it copies
    /// from (in (0, 0.5]).
    pub fn quantile(mut self, quantile: f64) -> Self {
        self.quantile = quantile;
        self
    }

    /// The probability that exploring draws a hyperparameter afresh instead of
    /// perturbing it.
    pub fn resample(mut self, probability: f64) -> Self {
        self.resample = probability;
        self
    }

    /// How far exploring moves a hyperparameter, as a share of its range on its own
    /// scale (0.1: a tenth of the decades of a log-scaled learning rate).
    pub fn perturb(mut self, share: f64) -> Self {
        self.perturb = share;
        self
    }

    /// The seed of initial draws and of every exploit/explore choice (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Saves the population (params, lineage, checkpoints) to `dir` after every
    /// generation; a run on a directory that holds a saved population resumes it from
    /// its last finished generation and ends where an uninterrupted run would.
    pub fn directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.directory = Some(dir.into());
        self
    }

    fn check(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Config(format!("PBT: {why}")));
        if self.population < 2 {
            return bad(format!(
                "population must be at least 2, got {}",
                self.population
            ));
        }
        if self.epochs == 0 || self.interval == 0 {
            return bad(format!(
                "epochs ({}) and interval ({}) must be positive",
                self.epochs, self.interval
            ));
        }
        if !(self.quantile > 0.0 && self.quantile <= 0.5) {
            return bad(format!(
                "quantile must be in (0, 0.5], got {}",
                self.quantile
            ));
        }
        if !(0.0..=1.0).contains(&self.resample) || !(0.0..=1.0).contains(&self.perturb) {
            return bad(format!(
                "resample ({}) and perturb ({}) must be in [0, 1]",
                self.resample, self.perturb
            ));
        }
        Ok(())
    }

    fn generations(&self) -> usize {
        self.epochs.div_ceil(self.interval)
    }

    /// Trains the population on `workers` (each builds its trainer with `make_trainer`
    /// in its own thread) and returns it after the last generation.
    ///
    /// A member whose span fails (an error or a panic) keeps its previous model and
    /// ranks last, so the next exploit replaces it; the run fails only when every
    /// member of a generation fails.
    pub fn run<T, F>(&self, workers: &Workers, make_trainer: F) -> Result<Population>
    where
        T: Resumable,
        F: Fn(Worker) -> Result<T, BoxError> + Sync,
    {
        self.run_with_callbacks(workers, make_trainer, |_| CallbackList::new())
    }

    /// [`Pbt::run`], with callbacks watching each member's training: `make_callbacks`
    /// builds a list for every span (the member's id is the trial number, the
    /// span's hyperparameters its params). Epochs are numbered from the start of the
    /// member's life, so a TensorBoard callback draws one curve per member across
    /// generations, which jumps where the member copied a better one. Batches are
    /// counted from each span's start, so batch-level metrics of one member overlap
    /// across generations: log per epoch here.
    pub fn run_with_callbacks<T, F, C>(
        &self,
        workers: &Workers,
        make_trainer: F,
        make_callbacks: C,
    ) -> Result<Population>
    where
        T: Resumable,
        F: Fn(Worker) -> Result<T, BoxError> + Sync,
        C: Fn(&TrialInfo) -> CallbackList + Sync,
    {
        self.check()?;
        if workers.is_empty() {
            return Err(Error::Config("PBT needs at least one worker".into()));
        }
        let (mut members, first) = match self.load()? {
            Some(saved) => saved,
            None => (self.initial_members()?, 0),
        };
        let mut epochs_trained = 0;
        for generation in first..self.generations() {
            let epochs =
                generation * self.interval..((generation + 1) * self.interval).min(self.epochs);
            let results = self.train_generation(
                &members,
                epochs.clone(),
                workers,
                &make_trainer,
                &make_callbacks,
            )?;
            if results.iter().all(|r| r.is_err()) {
                let why = results
                    .into_iter()
                    .find_map(|r| r.err())
                    .unwrap_or_default();
                return Err(Error::PopulationFailed {
                    generation,
                    message: why,
                });
            }
            for (member, result) in members.iter_mut().zip(results) {
                epochs_trained += epochs.len();
                if member.history.last().map(|s| s.generation) != Some(generation) {
                    let step = self.pending_step(generation, &member.params, None);
                    member.history.push(step);
                }
                let step = member.history.last_mut().expect("a step");
                match result {
                    Ok(span) => {
                        step.score = Some(span.score);
                        member.checkpoint = Some(span.checkpoint);
                    }
                    Err(message) => step.error = Some(message),
                }
            }
            let last = generation + 1 == self.generations();
            if !last {
                self.exploit_and_explore(&mut members, generation)?;
            }
            self.save(&members, generation + 1)?;
        }
        // The pending step that exploring opened for a next generation is not kept.
        for m in &mut members {
            if m.history
                .last()
                .is_some_and(|s| s.score.is_none() && s.error.is_none())
            {
                m.history.pop();
            }
        }
        Ok(Population {
            members,
            direction: self.direction,
            epochs_trained,
        })
    }

    fn initial_members(&self) -> Result<Vec<Member>> {
        let mut rng = trial_rng(self.seed, u64::MAX);
        (0..self.population)
            .map(|id| {
                let point: Vec<f64> = (0..self.space.len()).map(|_| rng.gen()).collect();
                let params = self.space.from_unit(&point)?;
                Ok(Member {
                    id,
                    params,
                    checkpoint: None,
                    history: Vec::new(),
                })
            })
            .collect()
    }

    fn pending_step(&self, generation: usize, params: &Params, copied_from: Option<usize>) -> Step {
        Step {
            generation,
            epochs: generation * self.interval..((generation + 1) * self.interval).min(self.epochs),
            params: params.clone(),
            copied_from,
            score: None,
            error: None,
        }
    }

    /// Trains every member for `epochs` on the worker pool: the members go to the
    /// workers through one channel, their spans come back through another. One result
    /// per member, an error as its message.
    fn train_generation<T, F, C>(
        &self,
        members: &[Member],
        epochs: Range<usize>,
        workers: &Workers,
        make_trainer: &F,
        make_callbacks: &C,
    ) -> Result<Vec<std::result::Result<Span, String>>>
    where
        T: Resumable,
        F: Fn(Worker) -> Result<T, BoxError> + Sync,
        C: Fn(&TrialInfo) -> CallbackList + Sync,
    {
        let (deal, dealt) = channel();
        for dealt in members.iter().enumerate() {
            deal.send(dealt).expect("the receiver lives");
        }
        drop(deal);
        let (report, reported) = channel();
        let pool = WorkerPool::new(workers)?;
        pool.run(|worker| {
            // Built for the first member this worker gets, again after a panic.
            let mut trainer = None;
            for (i, member) in dealt.iter() {
                let trainer = match &mut trainer {
                    Some(trainer) => trainer,
                    None => match pool.build(worker, make_trainer) {
                        Built::Trainer(t) => trainer.insert(t),
                        Built::Stopped => return,
                    },
                };
                let (result, panicked) =
                    self.train_member(trainer, member, &epochs, make_callbacks);
                report.send((i, result)).expect("the receiver lives");
                if panicked {
                    *trainer = match pool.build(worker, make_trainer) {
                        Built::Trainer(t) => t,
                        Built::Stopped => return,
                    };
                }
            }
        })?;
        drop(report);
        let mut results: Vec<_> = vec![None; members.len()];
        for (i, result) in reported {
            results[i] = Some(result);
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("not trained".into())))
            .collect())
    }

    /// Trains one member's span; the result (an error as its message), and whether
    /// the trainer panicked.
    fn train_member<T, C>(
        &self,
        trainer: &mut T,
        member: &Member,
        epochs: &Range<usize>,
        make_callbacks: &C,
    ) -> (std::result::Result<Span, String>, bool)
    where
        T: Resumable,
        C: Fn(&TrialInfo) -> CallbackList + Sync,
    {
        let info =
            TrialInfo::new(member.id as u64, member.params.clone()).in_space(self.space.clone());
        let callbacks = make_callbacks(&info);
        let mut ctx = TrialContext::unmonitored(info).with_callbacks(callbacks);
        let checkpoint = member.checkpoint.as_ref();
        let trained = catch_panic(|| {
            trainer.train_span(&member.params, checkpoint, epochs.clone(), &mut ctx)
        });
        let (result, panicked) = match trained {
            Ok(Ok(span)) if span.score.is_finite() => (Ok(span), false),
            Ok(Ok(span)) => (Err(format!("score is {}", span.score)), false),
            Ok(Err(e)) => (Err(e.to_string()), false),
            Err(panic) => (Err(format!("trainer panicked: {panic}")), true),
        };
        let state = if result.is_ok() {
            TrialState::Complete
        } else {
            TrialState::Failed
        };
        if let Err(e) = ctx.callbacks.on_trial_end(state) {
            eprintln!("knob: warning: PBT member {}: {e}", member.id);
        }
        (result, panicked)
    }

    /// Replaces the bottom quantile with perturbed copies of the top quantile, and
    /// opens every member's step for the next generation.
    fn exploit_and_explore(&self, members: &mut [Member], generation: usize) -> Result<()> {
        let mut rng = trial_rng(self.seed, generation as u64);
        // Best first; failed spans last.
        let mut ranked: Vec<usize> = (0..members.len()).collect();
        let key = |m: &Member| m.score().map_or(f64::INFINITY, |s| self.direction.loss(s));
        ranked.sort_by(|&a, &b| {
            key(&members[a])
                .total_cmp(&key(&members[b]))
                .then(a.cmp(&b))
        });
        let cut =
            ((self.quantile * members.len() as f64).ceil() as usize).clamp(1, members.len() / 2);
        let (top, bottom) = (&ranked[..cut], &ranked[members.len() - cut..]);
        let mut copied = vec![None; members.len()];
        for &loser in bottom {
            let winner = top[rng.gen_range(0..top.len())];
            if members[winner].checkpoint.is_none() {
                continue;
            }
            let params = self.explore(&members[winner].params, &mut rng)?;
            members[loser].checkpoint = members[winner].checkpoint.clone();
            members[loser].params = params;
            copied[loser] = Some(winner);
        }
        for m in members.iter_mut() {
            let step = self.pending_step(generation + 1, &m.params, copied[m.id]);
            m.history.push(step);
        }
        Ok(())
    }

    /// A perturbed copy of `params`.
    fn explore(&self, params: &Params, rng: &mut impl Rng) -> Result<Params> {
        let mut unit = self.space.to_unit(params)?;
        for (u, param) in unit.iter_mut().zip(self.space.params()) {
            if rng.gen::<f64>() < self.resample {
                *u = rng.gen();
                continue;
            }
            let before = param.domain.from_unit(*u);
            let sign = if rng.gen::<bool>() { 1.0 } else { -1.0 };
            let nudged = (*u + sign * self.perturb).clamp(0.0, 1.0);
            *u = match param.domain.cardinality() {
                // An integer or a choice moves at least one value, away from the end
                // of its range when it sits there.
                Some(n) if param.domain.from_unit(nudged) == before => {
                    let slice = 1.0 / n as f64;
                    let lo = 0.5 * slice;
                    let step = *u + sign * slice;
                    if (lo..=1.0 - lo).contains(&step) {
                        step
                    } else {
                        (*u - sign * slice).clamp(lo, 1.0 - lo)
                    }
                }
                _ => nudged,
            };
        }
        self.space.from_unit(&unit)
    }
}

#[cfg(test)]
mod tests;
