//! The study: a search space, a sampler, a storage, and the trials they produce.
//!
//! A study is the fold of its storage's events. Every call that changes it takes the
//! in-process mutex and the storage's lock, reads the events other writers added,
//! applies them, then appends its own: so trial numbers come from line order and two
//! processes on one journal never clash. No user code (trainers, callbacks) runs under
//! the lock; samplers and pruners do, and a panicking sampler becomes an error.

mod leaderboard;
mod optimize;

pub use leaderboard::Leaderboard;
pub use optimize::Summary;

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::callback::TrialInfo;
use crate::error::{Error, Result};
use crate::history::History;
use crate::params::Params;
use crate::pruner::{NopPruner, Pruner};
use crate::sampler::{trial_rng, Sampler};
use crate::space::SearchSpace;
use crate::storage::{Event, JournalStorage, MemoryStorage, Owner, Storage, FORMAT_VERSION};
use crate::trial::{now_secs, Direction, Trial, TrialState};

/// How a trial ended, as told by whoever ran it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It produced this objective value (a non-finite one fails the trial).
    Complete(f64),
    /// It stopped early at the pruner's request.
    Pruned,
    /// It failed, for this reason.
    Failed(String),
}

/// A hyperparameter study. `Sync`: share it between threads by reference.
///
/// ```
/// use knob_core::testing::{QuadraticTrainer, UniformSampler};
/// use knob_core::{CallbackList, Direction, Scale, SearchSpace, Study};
///
/// let space = SearchSpace::builder()
///     .float("x", -1.0, 1.0, Scale::Linear)
///     .float("y", -1.0, 1.0, Scale::Linear)
///     .build()?;
/// let study = Study::builder(space)
///     .direction(Direction::Minimize)
///     .sampler(UniformSampler)
///     .seed(7)
///     .build()?;
/// let summary = study.optimize(20, 2, |_| Ok(QuadraticTrainer::default()), |_| CallbackList::new())?;
/// assert_eq!(summary.completed, 20);
/// assert!(study.best_trial()?.unwrap().value.unwrap() < 0.5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Study {
    space: SearchSpace,
    direction: Direction,
    seed: u64,
    owner: Owner,
    state: Mutex<State>,
    interrupted: AtomicBool,
}

/// Everything behind the study's lock.
struct State {
    storage: Box<dyn Storage>,
    sampler: Box<dyn Sampler>,
    pruner: Box<dyn Pruner>,
    history: History,
    created: Option<(SearchSpace, Direction)>,
    /// Enqueued params in order, with whether a trial has taken them.
    queue: Vec<(Params, bool)>,
    /// Failed trials that were enqueued again; they do not count toward `n_trials`.
    retried: HashSet<u64>,
    /// Queue entries that retry a device failure, with the worker that must not take
    /// them (this process only).
    avoid: HashMap<usize, usize>,
    owners: Vec<Owner>,
}

impl State {
    fn new(
        storage: Box<dyn Storage>,
        sampler: Box<dyn Sampler>,
        pruner: Box<dyn Pruner>,
        history: History,
    ) -> Self {
        Self {
            storage,
            sampler,
            pruner,
            history,
            created: None,
            queue: Vec::new(),
            retried: HashSet::new(),
            avoid: HashMap::new(),
            owners: Vec::new(),
        }
    }

    /// Reads and applies the events other writers appended.
    fn sync(&mut self) -> Result<()> {
        for event in self.storage.read_new()? {
            self.apply(event)?;
        }
        Ok(())
    }

    /// Appends an event and folds it in by reading it back, so that the state only
    /// ever changes through what the storage holds.
    fn record(&mut self, event: Event) -> Result<()> {
        self.storage.append(&event)?;
        self.sync()
    }

    fn apply(&mut self, event: Event) -> Result<()> {
        match event {
            Event::StudyCreated {
                space, direction, ..
            } => {
                if self.created.is_none() {
                    self.created = Some((space, direction));
                }
            }
            Event::TrialStarted {
                number,
                params,
                unit,
                time,
                owner,
                queued,
            } => {
                if number != self.history.len() as u64 {
                    return Err(Error::CorruptJournal {
                        path: PathBuf::from(self.storage.location()),
                        line: 0,
                        message: format!(
                            "trial {number} started after {} trials: numbers out of order",
                            self.history.len()
                        ),
                    });
                }
                if let Some(entry) = queued.and_then(|q| self.queue.get_mut(q as usize)) {
                    entry.1 = true;
                }
                self.owners.push(owner);
                self.history.push(Trial {
                    number,
                    params,
                    unit,
                    state: TrialState::Running,
                    value: None,
                    intermediate: Default::default(),
                    started: time,
                    finished: None,
                    error: None,
                });
            }
            Event::TrialReported {
                number,
                step,
                value,
            } => {
                if let Some(t) = self.history.get_mut(number) {
                    t.intermediate.insert(step, value);
                }
            }
            Event::TrialFinished {
                number,
                state,
                value,
                error,
                time,
            } => {
                if let Some(t) = self.history.get_mut(number) {
                    t.state = state;
                    t.value = value;
                    t.error = error;
                    t.finished = Some(time);
                }
            }
            Event::TrialEnqueued { params, retry_of } => {
                self.queue.push((params, false));
                if let Some(n) = retry_of {
                    self.retried.insert(n);
                }
            }
        }
        Ok(())
    }

    /// Trials that count toward `optimize`'s target: finished ones that were not
    /// retried, plus running ones.
    fn counted(&self) -> usize {
        self.history
            .trials()
            .iter()
            .filter(|t| !(t.state == TrialState::Failed && self.retried.contains(&t.number)))
            .count()
    }

    fn running(&self, number: u64) -> Result<&Trial> {
        let trial = self
            .history
            .get(number)
            .ok_or(Error::UnknownTrial(number))?;
        if trial.state != TrialState::Running {
            return Err(Error::TrialNotRunning {
                number,
                state: trial.state.to_string(),
            });
        }
        Ok(trial)
    }
}

impl Study {
    /// Starts building a study over `space`.
    pub fn builder(space: SearchSpace) -> StudyBuilder {
        StudyBuilder {
            space,
            direction: Direction::Minimize,
            sampler: None,
            pruner: Box::new(NopPruner),
            storage: StorageChoice::Memory,
            seed: 0,
            retry_crashed: true,
            warm_start: Vec::new(),
        }
    }

    /// The search space.
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// The direction.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The seed proposals derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic under the lock can only come from a pruner or storage bug; the state
        // is a fold of durable events, so carrying on with it is safe.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` holding the study's mutex and the storage's lock, after reading new
    /// events.
    fn locked<R>(&self, f: impl FnOnce(&mut State) -> Result<R>) -> Result<R> {
        let mut state = self.lock_state();
        state.storage.lock()?;
        let result = state.sync().and_then(|_| f(&mut state));
        let unlocked = state.storage.unlock();
        let value = result?;
        unlocked?;
        Ok(value)
    }

    /// The next trial to run, or `None` when the sampler has nothing left.
    ///
    /// For users who drive their own loop: train with the returned params, then
    /// [`Study::tell`] the outcome.
    pub fn ask(&self) -> Result<Option<TrialInfo>> {
        Ok(self.ask_within(usize::MAX, None)?.map(|(info, _)| info))
    }

    /// Asks the study to stop, as on Ctrl-C: `optimize` starts no new trial, running
    /// trials are told to stop at their next report and are then recorded as failed
    /// ("interrupted") and queued again, so a rerun on the same journal redoes them.
    /// Safe to call from a signal handler's thread.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
    }

    /// Whether [`Study::interrupt`] was called.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Records trial `number` as failed with `reason` and queues its params again;
    /// `avoid` keeps the retry away from the worker that failed it (for this process).
    pub(crate) fn requeue(&self, number: u64, reason: &str, avoid: Option<usize>) -> Result<()> {
        self.tell(number, Outcome::Failed(reason.into()))?;
        self.locked(|state| {
            let params = state
                .history
                .get(number)
                .ok_or(Error::UnknownTrial(number))?
                .params
                .clone();
            if let Some(worker) = avoid {
                state.avoid.insert(state.queue.len(), worker);
            }
            state.record(Event::TrialEnqueued {
                params,
                retry_of: Some(number),
            })
        })
    }

    /// [`Study::ask`] for `optimize`'s workers, `None` once `limit` trials are
    /// finished or running; also says whether the trial retries a device failure.
    /// `avoid_for` names the asking worker when retries of its device failures are
    /// to go to someone else.
    pub(crate) fn ask_within(
        &self,
        limit: usize,
        avoid_for: Option<usize>,
    ) -> Result<Option<(TrialInfo, bool)>> {
        if self.is_interrupted() {
            return Ok(None);
        }
        self.locked(|state| {
            if state.counted() >= limit {
                return Ok(None);
            }
            let number = state.history.len() as u64;
            let queued = (0..state.queue.len()).find(|&q| {
                !state.queue[q].1
                    && (avoid_for.is_none() || state.avoid.get(&q) != avoid_for.as_ref())
            });
            let params = match queued {
                Some(q) => state.queue[q].0.clone(),
                None => {
                    let mut rng = trial_rng(self.seed, number);
                    let State {
                        sampler, history, ..
                    } = &mut *state;
                    let suggested = catch_unwind(AssertUnwindSafe(|| {
                        sampler.suggest(&self.space, history, &mut rng)
                    }))
                    .map_err(|panic| Error::Sampler {
                        sampler: sampler.name().to_owned(),
                        message: format!("panicked: {}", panic_message(&*panic)),
                    })??;
                    match suggested {
                        Some(point) => self.space.from_unit(&point)?,
                        None => return Ok(None),
                    }
                }
            };
            // The canonical unit point: integers and choices at the centre of their
            // slice, so models see the value that actually ran.
            let unit = self.space.to_unit(&params)?;
            state.record(Event::TrialStarted {
                number,
                params: params.clone(),
                unit,
                time: now_secs(),
                owner: self.owner,
                queued: queued.map(|q| q as u64),
            })?;
            let is_retry = queued.is_some_and(|q| state.avoid.contains_key(&q));
            Ok(Some((TrialInfo { number, params }, is_retry)))
        })
    }

    /// Records how trial `number` ended. A finished trial is on disk (fsync'd) before
    /// this returns.
    pub fn tell(&self, number: u64, outcome: Outcome) -> Result<()> {
        self.locked(|state| {
            let trial = state.running(number)?;
            let (finished, value, error) = match outcome {
                Outcome::Complete(v) if v.is_finite() => (TrialState::Complete, Some(v), None),
                Outcome::Complete(v) => (
                    TrialState::Failed,
                    None,
                    Some(format!("objective value is {v}")),
                ),
                Outcome::Pruned => (
                    TrialState::Pruned,
                    trial.last_intermediate().map(|(_, v)| v),
                    None,
                ),
                Outcome::Failed(message) => (TrialState::Failed, None, Some(message)),
            };
            state.record(Event::TrialFinished {
                number,
                state: finished,
                value,
                error,
                time: now_secs(),
            })
        })
    }

    /// Records an intermediate value of a running trial; returns whether the pruner
    /// wants it stopped. Trainers call this through [`crate::TrialContext::report`].
    pub fn report(&self, number: u64, step: u64, value: f64) -> Result<bool> {
        if !value.is_finite() {
            return Err(Error::NonFiniteReport {
                number,
                step,
                value,
            });
        }
        self.locked(|state| {
            state.running(number)?;
            state.record(Event::TrialReported {
                number,
                step,
                value,
            })?;
            let trial = state.running(number)?;
            Ok(state.pruner.should_prune(trial, &state.history))
        })
    }

    /// Queues params to run before the sampler is asked again (a known good
    /// configuration, or a retry). They must lie in the space.
    pub fn enqueue(&self, params: Params) -> Result<()> {
        self.space.to_unit(&params)?;
        self.locked(|state| {
            state.record(Event::TrialEnqueued {
                params,
                retry_of: None,
            })
        })
    }

    /// A snapshot of the history, with what other writers added.
    pub fn history(&self) -> Result<History> {
        self.locked(|state| Ok(state.history.clone()))
    }

    /// Every trial, in number order.
    pub fn trials(&self) -> Result<Vec<Trial>> {
        Ok(self.history()?.trials().to_vec())
    }

    /// The complete trial with the best value.
    pub fn best_trial(&self) -> Result<Option<Trial>> {
        Ok(self.history()?.best().cloned())
    }

    /// The `top` best complete trials, best first, as a printable table.
    pub fn leaderboard(&self, top: usize) -> Result<Leaderboard> {
        Ok(Leaderboard::new(&self.history()?, top))
    }
}

impl Drop for Study {
    fn drop(&mut self) {
        live_tokens().retain(|&t| t != self.owner.token);
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Tokens of the studies alive in this process: a running trial whose owner is this
/// process but not one of these was left behind by a dropped study.
fn live_tokens() -> MutexGuard<'static, Vec<u64>> {
    static TOKENS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    TOKENS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the process (and study object) that started a trial still runs.
///
/// Other processes are looked up in `/proc`; where there is no `/proc` (not Linux),
/// every other process counts as gone, which suits the common case of resuming after
/// a crash but would fail the running trials of a second live process.
fn owner_alive(owner: &Owner) -> bool {
    if owner.pid == std::process::id() {
        live_tokens().contains(&owner.token)
    } else {
        std::path::Path::new(&format!("/proc/{}", owner.pid)).exists()
    }
}

/// The complete trials of the study in `journal`, re-expressed in `space`.
fn earlier_trials(
    journal: &std::path::Path,
    space: &SearchSpace,
    direction: Direction,
) -> Result<Vec<Trial>> {
    if !journal.exists() {
        return Err(Error::Config(format!(
            "warm start: no journal at {}",
            journal.display()
        )));
    }
    let mut storage = JournalStorage::open(journal)?;
    let mut state = State::new(
        Box::new(MemoryStorage::new()),
        Box::new(crate::testing::UniformSampler),
        Box::new(NopPruner),
        History::new(Vec::new(), direction),
    );
    for event in storage.read_new()? {
        state.apply(event)?;
    }
    if let Some((_, earlier)) = &state.created {
        if *earlier != direction {
            return Err(Error::StudyMismatch {
                path: journal.to_owned(),
                message: format!("warm start: it was created to {earlier:?}, not {direction:?}"),
            });
        }
    }
    Ok(state
        .history
        .in_state(TrialState::Complete)
        .filter_map(|t| {
            let unit = space.to_unit(&t.params).ok()?;
            Some(Trial { unit, ..t.clone() })
        })
        .collect())
}

enum StorageChoice {
    Memory,
    Journal(PathBuf),
    Custom(Box<dyn Storage>),
}

/// Configures a [`Study`]; [`StudyBuilder::build`] opens or creates it.
pub struct StudyBuilder {
    space: SearchSpace,
    direction: Direction,
    sampler: Option<Box<dyn Sampler>>,
    pruner: Box<dyn Pruner>,
    storage: StorageChoice,
    seed: u64,
    retry_crashed: bool,
    warm_start: Vec<PathBuf>,
}

impl StudyBuilder {
    /// Minimize (the default) or maximize.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// Where proposals come from (required).
    pub fn sampler(mut self, sampler: impl Sampler + 'static) -> Self {
        self.sampler = Some(Box::new(sampler));
        self
    }

    /// Which trials stop early (default: none).
    pub fn pruner(mut self, pruner: impl Pruner + 'static) -> Self {
        self.pruner = Box::new(pruner);
        self
    }

    /// Persists the study in a JSON Lines journal at `path`; reopening the same path
    /// continues the study. Without a storage the study lives in memory.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.storage = StorageChoice::Journal(path.into());
        self
    }

    /// Persists the study in any storage.
    pub fn storage(mut self, storage: impl Storage + 'static) -> Self {
        self.storage = StorageChoice::Custom(Box::new(storage));
        self
    }

    /// The seed that, with a trial's number, fixes what the sampler draws for it
    /// (default 0). The same seed and one worker give the same sequence of params.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether trials left running by a process that died are queued to run again
    /// (default: yes). Either way they are marked failed.
    pub fn retry_crashed(mut self, retry: bool) -> Self {
        self.retry_crashed = retry;
        self
    }

    /// Lends the complete trials of an earlier study's journal to model-based samplers
    /// (GP, TPE) as evidence, so a study re-run on changed data or code starts from what
    /// was learned. The earlier study must have the same direction; its trials whose
    /// params do not fit this space are skipped. They do not count as trials of this
    /// study. May be called several times.
    pub fn warm_start(mut self, journal: impl Into<PathBuf>) -> Self {
        self.warm_start.push(journal.into());
        self
    }

    /// Opens the storage, checks that it belongs to this space and direction (or
    /// starts it), and fails the trials whose process died.
    pub fn build(self) -> Result<Study> {
        let sampler = self.sampler.ok_or_else(|| {
            Error::Config(
                "no sampler set: call .sampler(..), e.g. knob_samplers::RandomSampler".into(),
            )
        })?;
        let storage: Box<dyn Storage> = match self.storage {
            StorageChoice::Memory => Box::new(MemoryStorage::new()),
            StorageChoice::Journal(path) => Box::new(JournalStorage::open(path)?),
            StorageChoice::Custom(storage) => storage,
        };
        let prior = self
            .warm_start
            .iter()
            .map(|path| earlier_trials(path, &self.space, self.direction))
            .collect::<Result<Vec<_>>>()?
            .concat();
        let owner = Owner {
            pid: std::process::id(),
            token: rand::random(),
        };
        live_tokens().push(owner.token);
        let study = Study {
            space: self.space,
            direction: self.direction,
            seed: self.seed,
            owner,
            interrupted: AtomicBool::new(false),
            state: Mutex::new(State::new(
                storage,
                sampler,
                self.pruner,
                History::new(Vec::new(), self.direction).with_prior(prior),
            )),
        };
        study.locked(|state| {
            match &state.created {
                None => state.record(Event::StudyCreated {
                    version: FORMAT_VERSION,
                    space: study.space.clone(),
                    direction: study.direction,
                    time: now_secs(),
                })?,
                Some((space, direction)) => {
                    let mismatch = if *direction != study.direction {
                        Some(format!(
                            "it was created to {direction:?}, not {:?}",
                            study.direction
                        ))
                    } else if *space != study.space {
                        Some(format!(
                            "its search space is {} but this study's is {}",
                            serde_json::to_string(space).unwrap_or_default(),
                            serde_json::to_string(&study.space).unwrap_or_default()
                        ))
                    } else {
                        None
                    };
                    if let Some(message) = mismatch {
                        return Err(Error::StudyMismatch {
                            path: state.storage.location().into(),
                            message,
                        });
                    }
                }
            }
            study.fail_orphans(state, self.retry_crashed)
        })?;
        Ok(study)
    }
}

impl Study {
    /// Marks failed the running trials whose process is gone, and queues them again.
    fn fail_orphans(&self, state: &mut State, retry: bool) -> Result<()> {
        let orphans: Vec<(u64, Params, u32)> = state
            .history
            .in_state(TrialState::Running)
            .filter(|t| !owner_alive(&state.owners[t.number as usize]))
            .map(|t| {
                (
                    t.number,
                    t.params.clone(),
                    state.owners[t.number as usize].pid,
                )
            })
            .collect();
        for (number, params, pid) in orphans {
            state.record(Event::TrialFinished {
                number,
                state: TrialState::Failed,
                value: None,
                error: Some(format!(
                    "its process (pid {pid}) stopped before the trial finished"
                )),
                time: now_secs(),
            })?;
            if retry {
                state.record(Event::TrialEnqueued {
                    params,
                    retry_of: Some(number),
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Scale;
    use crate::testing::UniformSampler;

    fn space() -> SearchSpace {
        SearchSpace::builder()
            .float("x", 0.0, 1.0, Scale::Linear)
            .int("n", 1, 4, Scale::Linear)
            .build()
            .unwrap()
    }

    fn study_at(path: &std::path::Path, seed: u64) -> Study {
        Study::builder(space())
            .sampler(UniformSampler)
            .seed(seed)
            .journal(path)
            .build()
            .unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_params() {
        let run = |seed| {
            let study = Study::builder(space())
                .sampler(UniformSampler)
                .seed(seed)
                .build()
                .unwrap();
            (0..5)
                .map(|_| {
                    let t = study.ask().unwrap().unwrap();
                    study.tell(t.number, Outcome::Complete(1.0)).unwrap();
                    t.params
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn tell_rejects_unknown_and_finished_trials() {
        let study = Study::builder(space())
            .sampler(UniformSampler)
            .build()
            .unwrap();
        assert!(matches!(
            study.tell(0, Outcome::Complete(1.0)),
            Err(Error::UnknownTrial(0))
        ));
        let t = study.ask().unwrap().unwrap();
        study.tell(t.number, Outcome::Complete(1.0)).unwrap();
        let e = study.tell(t.number, Outcome::Complete(2.0)).unwrap_err();
        assert!(e.to_string().contains("trial 0 is complete"), "{e}");
    }

    #[test]
    fn nan_objectives_fail_the_trial() {
        let study = Study::builder(space())
            .sampler(UniformSampler)
            .build()
            .unwrap();
        let t = study.ask().unwrap().unwrap();
        study.tell(t.number, Outcome::Complete(f64::NAN)).unwrap();
        let trial = &study.trials().unwrap()[0];
        assert_eq!(trial.state, TrialState::Failed);
        assert!(trial.error.as_deref().unwrap().contains("NaN"));
    }

    #[test]
    fn pruned_trials_keep_their_last_intermediate_value() {
        let study = Study::builder(space())
            .sampler(UniformSampler)
            .build()
            .unwrap();
        let t = study.ask().unwrap().unwrap();
        study.report(t.number, 0, 0.9).unwrap();
        study.report(t.number, 1, 0.7).unwrap();
        study.tell(t.number, Outcome::Pruned).unwrap();
        let trial = &study.trials().unwrap()[0];
        assert_eq!(trial.state, TrialState::Pruned);
        assert_eq!(trial.value, Some(0.7));
        assert_eq!(trial.intermediate.len(), 2);
    }

    #[test]
    fn reopening_continues_and_resumes_the_same_proposals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("study.jsonl");
        let uninterrupted: Vec<Params> = {
            let study = Study::builder(space())
                .sampler(UniformSampler)
                .seed(9)
                .build()
                .unwrap();
            (0..6)
                .map(|_| {
                    let t = study.ask().unwrap().unwrap();
                    study.tell(t.number, Outcome::Complete(0.0)).unwrap();
                    t.params
                })
                .collect()
        };
        let mut seen = Vec::new();
        for _ in 0..2 {
            let study = study_at(&path, 9);
            for _ in 0..3 {
                let t = study.ask().unwrap().unwrap();
                study.tell(t.number, Outcome::Complete(0.0)).unwrap();
                seen.push(t.params);
            }
        }
        assert_eq!(seen, uninterrupted);
        assert_eq!(study_at(&path, 9).trials().unwrap().len(), 6);
    }

    #[test]
    fn a_dropped_study_leaves_failed_trials_that_are_retried() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("study.jsonl");
        let abandoned = {
            let study = study_at(&path, 1);
            study.ask().unwrap().unwrap()
        };
        let study = study_at(&path, 1);
        let trials = study.trials().unwrap();
        assert_eq!(trials[0].state, TrialState::Failed);
        assert!(trials[0]
            .error
            .as_deref()
            .unwrap()
            .contains("stopped before"));
        let retry = study.ask().unwrap().unwrap();
        assert_eq!(retry.number, 1);
        assert_eq!(retry.params, abandoned.params);
    }

    #[test]
    fn a_journal_for_another_space_or_direction_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("study.jsonl");
        drop(study_at(&path, 0));
        let other = SearchSpace::builder()
            .float("x", 0.0, 2.0, Scale::Linear)
            .build()
            .unwrap();
        let e = Study::builder(other)
            .sampler(UniformSampler)
            .journal(&path)
            .build();
        assert!(matches!(e, Err(Error::StudyMismatch { .. })));
        let e = Study::builder(space())
            .sampler(UniformSampler)
            .direction(Direction::Maximize)
            .journal(&path)
            .build();
        let e = e.err().unwrap().to_string();
        assert!(e.contains("study.jsonl") && e.contains("Minimize"), "{e}");
    }

    #[test]
    fn enqueued_params_run_first_and_are_checked() {
        let study = Study::builder(space())
            .sampler(UniformSampler)
            .build()
            .unwrap();
        let fixed = Params::from_iter([("x", 0.25.into()), ("n", 3.into())]);
        study.enqueue(fixed.clone()).unwrap();
        assert_eq!(study.ask().unwrap().unwrap().params, fixed);
        let bad = Params::from_iter([("x", 2.0.into()), ("n", 3.into())]);
        assert!(matches!(study.enqueue(bad), Err(Error::OutOfDomain { .. })));
    }

    #[test]
    fn a_study_without_a_sampler_says_so() {
        let e = Study::builder(space()).build().err().unwrap().to_string();
        assert!(e.contains("no sampler"), "{e}");
    }

    #[test]
    fn study_is_send_and_sync() {
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<Study>();
    }
}
