//! The study: a search space, a sampler, a storage, and the trials they produce.
//!
//! A study is the fold of its storage's events ([`ledger`]). Every call that changes it
//! takes the in-process mutex and the storage's lock, reads the events other writers
//! added, applies them, then appends its own: so trial numbers come from line order and
//! two processes on one journal never clash. No user code (trainers, callbacks) runs
//! under the lock; samplers and pruners do, and a panicking one becomes an error.

mod builder;
mod leaderboard;
mod ledger;
mod liveness;
mod optimize;
mod snapshot;

pub use builder::StudyBuilder;
pub use leaderboard::Leaderboard;
pub use liveness::{DEFAULT_HEARTBEAT, GRACE_BEATS};
pub use optimize::Summary;
pub use snapshot::StudySnapshot;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::callback::TrialInfo;
use crate::error::{panic_message, Error, Result};
use crate::history::History;
use crate::params::{Params, Value};
use crate::pruner::Pruner;
use crate::sampler::{trial_rng, Sampler};
use crate::space::SearchSpace;
use crate::storage::{Event, Owner, Storage};
use crate::trainer::TrialMonitor;
use crate::trial::Outcome;
use crate::trial::{now_secs, Direction, Trial, TrialState};
use ledger::Ledger;
use liveness::Heartbeat;

/// What `ask_within` gives a worker.
pub(crate) enum Asked {
    /// A trial to run, and whether it retries a device failure.
    Trial(TrialInfo, bool),
    /// Nothing now; trials of other processes still run and may come back.
    Wait,
    /// Nothing left to run.
    Done,
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
///
/// # When a process dies
///
/// Each trial records its owner: host (hostname, boot id and PID namespace), pid,
/// the process's start time and a token. When the study opens, and before each new
/// trial, running trials whose owner is gone are failed and their params queued again,
/// in one event, so that no kill can leave one without the other. An owner is gone
///
/// - on the same host: when its pid no longer runs, or runs with another start time
///   (the pid was reused);
/// - anywhere else (another machine sharing the journal, a container in its own PID
///   namespace): when it has not sent a heartbeat for its grace period. A study with
///   running trials appends one every [`StudyBuilder::heartbeat`] interval (10 s by
///   default; one line of about 80 bytes, some 28 KB an hour), and its grace is three
///   intervals unless [`StudyBuilder::grace`] says otherwise. Clocks of machines that
///   share a study must agree to well within the grace.
///
/// Params whose process died more than [`StudyBuilder::max_retries`] times (2 by
/// default) are failed for good instead ([`Study::failed_for_good`]).
pub struct Study {
    space: Arc<SearchSpace>,
    /// One per objective.
    directions: Vec<Direction>,
    seed: u64,
    owner: Owner,
    retry_crashed: bool,
    max_retries: u32,
    /// How often `optimize` looks again at trials other processes run.
    poll: std::time::Duration,
    state: Arc<Mutex<State>>,
    interrupted: AtomicBool,
    /// Set when `optimize` fails (a storage that cannot be written): running trials
    /// stop at their next report.
    aborted: AtomicBool,
    /// Called after each trial this process tells.
    on_finished: Mutex<Vec<TrialFinishedCallback>>,
    _heartbeat: Heartbeat,
}

/// A study callback: see [`Study::on_trial_finished`].
type TrialFinishedCallback = Arc<dyn Fn(&Study, &Trial) + Send + Sync>;

/// Everything behind the study's lock.
struct State {
    storage: Box<dyn Storage>,
    sampler: Box<dyn Sampler>,
    pruner: Box<dyn Pruner>,
    ledger: Ledger,
    /// Queue entries that retry a device failure, with the worker that must not take
    /// them (this process only).
    avoid: HashMap<usize, usize>,
}

impl State {
    /// Reads and applies the events other writers appended.
    fn sync(&mut self) -> Result<()> {
        let location = self.storage.location();
        for record in self.storage.read_new()? {
            self.ledger.apply(record, &location)?;
        }
        Ok(())
    }

    /// Appends an event and folds it in by reading it back, so that the state only
    /// ever changes through what the storage holds.
    fn record(&mut self, event: Event) -> Result<()> {
        self.storage.append(&event)?;
        self.sync()
    }

    /// Starts the fold again from the storage's first event, after the storage lost
    /// events this process had folded in ([`Error::RolledBack`]).
    fn refold(&mut self, directions: &[Direction]) -> Result<()> {
        self.storage.rewind()?;
        let prior = self.ledger.history.prior().to_vec();
        self.ledger = Ledger::new(
            History::with_directions(Vec::new(), directions.to_vec()).with_prior(prior),
        );
        Ok(())
    }
}

/// Appends a heartbeat for owner `token` when it has running trials. A storage error
/// is left to the study's own calls to report; the next beat tries again.
fn beat(state: &Mutex<State>, token: u64) {
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    if state.sync().is_err() {
        return;
    }
    if state.ledger.running_tokens().any(|t| t == token) {
        let _ = state.record(Event::Heartbeat {
            token,
            time: now_secs(),
        });
    }
}

impl Study {
    /// Starts building a study over `space`.
    pub fn builder(space: SearchSpace) -> StudyBuilder {
        StudyBuilder::new(space)
    }

    /// The search space.
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// The direction (the first objective's, when there are several).
    pub fn direction(&self) -> Direction {
        self.directions[0]
    }

    /// Every objective's direction.
    pub fn directions(&self) -> &[Direction] {
        &self.directions
    }

    /// The seed proposals derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic under the lock can only come from a storage bug (samplers and
        // pruners run under catch_unwind); the state is a fold of durable events, so
        // carrying on with it is safe.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` holding the study's mutex and the storage's lock, after reading new
    /// events. When a server storage loses its lock with its connection, `f` runs again
    /// from a fresh read, so a step is never half done under a lock someone else took.
    fn locked<R>(&self, mut f: impl FnMut(&mut State) -> Result<R>) -> Result<R> {
        const ATTEMPTS: usize = 10;
        let mut state = self.lock_state();
        for attempt in 1.. {
            let result = state
                .storage
                .lock()
                .and_then(|_| state.sync())
                .and_then(|_| f(&mut state));
            let unlocked = state.storage.unlock();
            let retry = attempt < ATTEMPTS;
            match (result, unlocked) {
                (Err(Error::RolledBack { .. }), _) | (_, Err(Error::RolledBack { .. }))
                    if retry =>
                {
                    state.refold(&self.directions)?;
                }
                (Err(Error::LockLost { .. }), _) if retry => {}
                (result, unlocked) => {
                    let value = result?;
                    unlocked?;
                    return Ok(value);
                }
            }
        }
        unreachable!("the loop returns")
    }

    /// The next trial to run, or `None` when the sampler has nothing left.
    ///
    /// For users who drive their own loop: train with the returned params, then
    /// [`Study::tell`] the outcome.
    pub fn ask(&self) -> Result<Option<TrialInfo>> {
        Ok(match self.ask_within(usize::MAX, None)? {
            Asked::Trial(info, _) => Some(info),
            Asked::Wait | Asked::Done => None,
        })
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

    /// Whether running trials should stop now: interrupted, or `optimize` failed.
    pub(crate) fn should_stop(&self) -> bool {
        self.is_interrupted() || self.aborted.load(Ordering::SeqCst)
    }

    /// Records trial `number` as failed with `reason` and queues its params again, as
    /// one event; `avoid` keeps the retry away from the worker that failed it (for this
    /// process).
    pub(crate) fn requeue(&self, number: u64, reason: &str, avoid: Option<usize>) -> Result<()> {
        self.locked(|state| {
            state.ledger.running(number)?;
            if let Some(worker) = avoid {
                let entry = state.ledger.queue.len();
                state.avoid.insert(entry, worker);
            }
            state.record(Event::TrialRequeued {
                number,
                error: reason.into(),
                died: false,
                time: now_secs(),
            })
        })
    }

    /// [`Study::ask`] for `optimize`'s workers, with `limit` trials to reach; also says
    /// whether the trial retries a device failure. `avoid_for` names the asking worker
    /// when retries of its device failures are to go to someone else.
    pub(crate) fn ask_within(&self, limit: usize, avoid_for: Option<usize>) -> Result<Asked> {
        if self.should_stop() {
            return Ok(Asked::Done);
        }
        self.locked(|state| self.ask_locked(state, limit, avoid_for))
    }

    /// Tells how trial `number` ended and asks for the next trial in one locked step
    /// (half the round trips of a server storage), for `optimize`'s workers.
    pub(crate) fn tell_then_ask(
        &self,
        number: u64,
        outcome: Outcome,
        limit: usize,
        avoid_for: Option<usize>,
    ) -> Result<Asked> {
        // A step redone after a lost lock must not tell twice; one redone after a
        // rollback must tell again (the fold, read afresh, still has the trial running).
        let mut told = false;
        let asked = self.locked(|state| {
            if !told || state.ledger.running(number).is_ok() {
                let finished = Self::finished(state, number, outcome.clone())?;
                state.record(finished)?;
                told = true;
            }
            if self.should_stop() {
                return Ok(Asked::Done);
            }
            self.ask_locked(state, limit, avoid_for)
        })?;
        self.notify_finished(number)?;
        Ok(asked)
    }

    /// The body of [`Study::ask_within`], under the lock.
    fn ask_locked(
        &self,
        state: &mut State,
        limit: usize,
        avoid_for: Option<usize>,
    ) -> Result<Asked> {
        self.recover_stale(state)?;
        if state.ledger.counted() >= limit {
            // Trials another process runs may yet come back as retries (its process
            // may die): wait for them rather than leave the study short.
            let elsewhere = state.ledger.running_tokens().any(|t| t != self.owner.token);
            return Ok(if elsewhere { Asked::Wait } else { Asked::Done });
        }
        let number = state.ledger.history.len() as u64;
        let queued = (0..state.ledger.queue.len()).find(|&q| {
            !state.ledger.queue[q].taken
                && (avoid_for.is_none() || state.avoid.get(&q) != avoid_for.as_ref())
        });
        let params = match queued {
            Some(q) => state.ledger.queue[q].params.clone(),
            None => {
                let mut rng = trial_rng(self.seed, number);
                let State {
                    sampler, ledger, ..
                } = &mut *state;
                let suggested = catch_unwind(AssertUnwindSafe(|| {
                    sampler.suggest(&self.space, &ledger.history, &mut rng)
                }))
                .map_err(|panic| Error::Sampler {
                    sampler: sampler.name().to_owned(),
                    message: format!("panicked: {}", panic_message(&*panic)),
                })??;
                match suggested {
                    Some(point) => {
                        let point = unseen_near(&self.space, &ledger.history, point);
                        self.space.from_unit(&point)?
                    }
                    None => return Ok(Asked::Done),
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
            owner: self.owner.clone(),
            queued: queued.map(|q| q as u64),
        })?;
        let is_retry = queued.is_some_and(|q| state.avoid.contains_key(&q));
        Ok(Asked::Trial(
            TrialInfo::new(number, params).in_space(self.space.clone()),
            is_retry,
        ))
    }

    /// Records how trial `number` ended. A finished trial is on disk (fsync'd) before
    /// this returns.
    pub fn tell(&self, number: u64, outcome: Outcome) -> Result<()> {
        self.locked(|state| {
            let finished = Self::finished(state, number, outcome.clone())?;
            state.record(finished)
        })?;
        self.notify_finished(number)
    }

    /// Calls `callback` after each trial that this process tells (complete, pruned or
    /// failed; `optimize`'s workers tell each trial they run), with the study and the
    /// trial as recorded, outside the study's lock: Optuna's `callbacks=`. A callback
    /// may stop the study ([`Study::interrupt`]) or read its history; a panic in it is
    /// reported and ignored. Trials that are queued again (interrupted, or retried
    /// after a device error) are not reported until they finish.
    ///
    /// ```
    /// use knob_core::testing::{QuadraticTrainer, UniformSampler};
    /// use knob_core::{CallbackList, Scale, SearchSpace, Study};
    ///
    /// let space = SearchSpace::builder().float("x", -1.0, 1.0, Scale::Linear).build()?;
    /// let study = Study::builder(space).sampler(UniformSampler).seed(1).build()?;
    /// // Stop once a trial comes within 0.1 of the optimum.
    /// study.on_trial_finished(|study, trial| {
    ///     if trial.value.is_some_and(|v| v < 0.1) {
    ///         study.interrupt();
    ///     }
    /// });
    /// let summary = study.optimize(50, 1, |_| Ok(QuadraticTrainer::default()), |_| CallbackList::new())?;
    /// assert!(summary.completed < 50);
    /// assert!(summary.best.unwrap().value.unwrap() < 0.1);
    /// assert_eq!(summary.failed, 0, "no trial was started and then interrupted");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_trial_finished(&self, callback: impl Fn(&Study, &Trial) + Send + Sync + 'static) {
        self.on_finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::new(callback));
    }

    /// Whether any trial-finished callback is registered.
    pub(crate) fn has_finished_callbacks(&self) -> bool {
        !self
            .on_finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Runs the trial-finished callbacks for trial `number`.
    fn notify_finished(&self, number: u64) -> Result<()> {
        let callbacks = self
            .on_finished
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if callbacks.is_empty() {
            return Ok(());
        }
        let Some(trial) = self.history()?.get(number).cloned() else {
            return Ok(());
        };
        for callback in callbacks {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| callback(self, &trial))) {
                eprintln!(
                    "knob: a trial-finished callback panicked on trial {number}: {}",
                    panic_message(&*panic)
                );
            }
        }
        Ok(())
    }

    /// The event that records how running trial `number` ended.
    fn finished(state: &State, number: u64, outcome: Outcome) -> Result<Event> {
        let trial = state.ledger.running(number)?;
        let objectives = state.ledger.history.objectives();
        let failed = |message: String| (TrialState::Failed, vec![], vec![], Some(message));
        let complete = |values: Vec<f64>, constraints: Vec<f64>| match Self::check_values(
            &values,
            &constraints,
            objectives,
        ) {
            Ok(()) => (TrialState::Complete, values, constraints, None),
            Err(message) => failed(message),
        };
        let (finished, values, constraints, error) = match outcome {
            Outcome::Complete(v) => complete(vec![v], vec![]),
            Outcome::Values {
                values,
                constraints,
            } => complete(values, constraints),
            Outcome::Pruned => (
                TrialState::Pruned,
                trial
                    .last_intermediate()
                    .map(|(_, v)| v)
                    .into_iter()
                    .collect(),
                vec![],
                None,
            ),
            Outcome::Failed(message) => failed(message),
        };
        Ok(Event::TrialFinished {
            number,
            state: finished,
            value: values.first().copied(),
            values: if values.len() > 1 { values } else { vec![] },
            constraints,
            error,
            time: now_secs(),
        })
    }

    /// Why a trial's values cannot be recorded as complete, if they cannot: one finite
    /// value per objective, finite constraint values.
    fn check_values(
        values: &[f64],
        constraints: &[f64],
        objectives: usize,
    ) -> std::result::Result<(), String> {
        if values.len() != objectives {
            let s = |n: usize| if n == 1 { "" } else { "s" };
            return Err(format!(
                "the trial returned {} objective value{} for a study of {objectives} objective{}",
                values.len(),
                s(values.len()),
                s(objectives)
            ));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!("objective value is {v}"));
        }
        if let Some(c) = constraints.iter().find(|c| !c.is_finite()) {
            return Err(format!("constraint value is {c}"));
        }
        Ok(())
    }

    /// Records an intermediate value of a running trial; returns whether the pruner
    /// wants it stopped. Trainers call this through [`crate::TrialContext::report`].
    /// A pruner that panics is an error that names it, so the trial fails.
    pub fn report(&self, number: u64, step: u64, value: f64) -> Result<bool> {
        if !value.is_finite() {
            return Err(Error::NonFiniteReport {
                number,
                step,
                value,
            });
        }
        self.locked(|state| {
            state.ledger.running(number)?;
            state.record(Event::TrialReported {
                number,
                step,
                value,
            })?;
            let trial = state.ledger.running(number)?;
            let pruner = &state.pruner;
            catch_unwind(AssertUnwindSafe(|| {
                pruner.should_prune(trial, &state.ledger.history)
            }))
            .map_err(|panic| Error::Pruner {
                pruner: pruner.name().to_owned(),
                message: format!("panicked: {}", panic_message(&*panic)),
            })
        })
    }

    /// Sets user attribute `key` of trial `number` (running or finished) to `value`,
    /// replacing an earlier one: what a trial measured besides its objective (a
    /// parameter count, a test accuracy), or where it saved its model. Kept in the
    /// storage with the trial ([`Trial::user_attrs`]).
    ///
    /// ```
    /// use knob_core::testing::UniformSampler;
    /// use knob_core::{Outcome, Scale, SearchSpace, Study};
    /// let space = SearchSpace::builder().float("x", 0.0, 1.0, Scale::Linear).build()?;
    /// let study = Study::builder(space).sampler(UniformSampler).build()?;
    /// let t = study.ask()?.unwrap();
    /// study.tell(t.number, Outcome::Complete(0.3))?;
    /// study.set_user_attr(t.number, "checkpoint", "runs/t0.ckpt")?;
    /// assert_eq!(study.trials()?[0].user_attrs["checkpoint"], "runs/t0.ckpt".into());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_user_attr(&self, number: u64, key: &str, value: impl Into<Value>) -> Result<()> {
        let value = value.into();
        self.locked(|state| {
            if state.ledger.history.get(number).is_none() {
                return Err(Error::UnknownTrial(number));
            }
            state.record(Event::TrialAttr {
                number,
                key: key.to_owned(),
                value: value.clone(),
            })
        })
    }

    /// Queues params to run before the sampler is asked again (a known good
    /// configuration, or a retry). They must lie in the space.
    pub fn enqueue(&self, params: Params) -> Result<()> {
        self.space.to_unit(&params)?;
        self.locked(|state| {
            state.record(Event::TrialEnqueued {
                params: params.clone(),
                retry_of: None,
            })
        })
    }

    /// Queues the params of failed trial `number` again, so a later `optimize` (in
    /// any process) runs them; the retry does not count toward the trial budget. Refused
    /// for a trial that did not fail or was already queued again.
    pub fn retry(&self, number: u64) -> Result<()> {
        self.locked(|state| {
            let ledger = &state.ledger;
            let trial = ledger
                .history
                .get(number)
                .ok_or(Error::UnknownTrial(number))?;
            if trial.state != TrialState::Failed {
                return Err(Error::Config(format!(
                    "trial {number} is {}, not failed: only failed trials are retried",
                    trial.state
                )));
            }
            if ledger.retried.contains(&number) {
                return Err(Error::Config(format!(
                    "trial {number} was already queued again"
                )));
            }
            let params = trial.params.clone();
            state.record(Event::TrialEnqueued {
                params,
                retry_of: Some(number),
            })
        })
    }

    /// A snapshot of the history, with what other writers added.
    pub fn history(&self) -> Result<History> {
        self.locked(|state| Ok(state.ledger.history.clone()))
    }

    /// Every trial, in number order.
    pub fn trials(&self) -> Result<Vec<Trial>> {
        Ok(self.history()?.trials().to_vec())
    }

    /// The feasible complete trial with the best value. A study of several objectives
    /// has no one best trial: it answers with an error that points to
    /// [`Study::best_trials`].
    pub fn best_trial(&self) -> Result<Option<Trial>> {
        self.one_objective("best_trial")?;
        Ok(self.history()?.best().cloned())
    }

    /// The Pareto front: the feasible complete trials that no other beats in every
    /// objective, in number order (infeasible trials are never among them). With one
    /// objective, the trials that share the best value.
    pub fn best_trials(&self) -> Result<Vec<Trial>> {
        let history = self.history()?;
        Ok(history.best_trials().into_iter().cloned().collect())
    }

    /// An error naming `what` when the study has several objectives.
    fn one_objective(&self, what: &str) -> Result<()> {
        match self.directions.len() {
            1 => Ok(()),
            n => Err(Error::Config(format!(
                "{what}: this study has {n} objectives, so no one trial is best; \
                 best_trials() gives the Pareto front"
            ))),
        }
    }

    /// The trial to deploy: the one with the best posterior mean when the sampler's
    /// model says the objective is noisy ([`Sampler::recommend`], as the GP does),
    /// otherwise the best observed one, as [`Study::best_trial`]. On a noisy objective
    /// the best observed value is partly luck, and its trial is often not the best.
    pub fn recommend(&self) -> Result<Option<Trial>> {
        self.one_objective("recommend")?;
        self.locked(|state| {
            let State {
                sampler, ledger, ..
            } = state;
            let history = &ledger.history;
            let pick = sampler.recommend(&self.space, history);
            Ok(pick
                .and_then(|n| history.get(n).cloned())
                .or_else(|| history.best().cloned()))
        })
    }

    /// Failed trials that will not run again, with their errors: a trainer's error, a
    /// configuration whose process died more than `max_retries` times.
    pub fn failed_for_good(&self) -> Result<Vec<Trial>> {
        self.locked(|state| Ok(state.ledger.given_up().cloned().collect()))
    }

    /// The `top` best complete trials, best first, as a printable table; trials that
    /// failed for good are listed below it.
    pub fn leaderboard(&self, top: usize) -> Result<Leaderboard> {
        self.locked(|state| {
            let mut board = Leaderboard::new(&state.ledger.history, top);
            board.failed = state.ledger.given_up().cloned().collect();
            Ok(board)
        })
    }

    /// Fails the running trials whose owner is gone (see the module's liveness rule);
    /// each is queued again in the same event unless its params already killed their
    /// process `max_retries` times.
    fn recover_stale(&self, state: &mut State) -> Result<()> {
        let now = now_secs();
        let ledger = &state.ledger;
        let stale: Vec<(u64, String, u32)> = ledger
            .history
            .in_state(TrialState::Running)
            .filter_map(|t| {
                let n = t.number;
                let why = liveness::stale(&ledger.owners[n as usize], ledger.last_seen(n), now)?;
                Some((n, why, ledger.deaths[n as usize] + 1))
            })
            .collect();
        for (number, why, deaths) in stale {
            let event = if self.retry_crashed && deaths <= self.max_retries {
                Event::TrialRequeued {
                    number,
                    error: why,
                    died: true,
                    time: now,
                }
            } else {
                let error = if self.retry_crashed {
                    format!(
                        "its process died {deaths} times running these params; not retried again \
                         (max_retries = {}); last: {why}",
                        self.max_retries
                    )
                } else {
                    why
                };
                Event::TrialFinished {
                    number,
                    state: TrialState::Failed,
                    value: None,
                    values: vec![],
                    constraints: vec![],
                    error: Some(error),
                    time: now,
                }
            };
            state.record(event)?;
        }
        Ok(())
    }
}

/// The study is what a trial it gave out reports to: each value is recorded and its
/// pruner asked.
impl TrialMonitor for Study {
    fn report(&self, number: u64, step: u64, value: f64) -> Result<bool> {
        Study::report(self, number, step, value)
    }

    fn set_user_attr(&self, number: u64, key: &str, value: Value) -> Result<()> {
        Study::set_user_attr(self, number, key, value)
    }

    fn should_stop(&self) -> bool {
        Study::should_stop(self)
    }
}

/// Spaces of at most this many configurations, all discrete, never get a proposal
/// that repeats a trial while an untried configuration is left.
const DEDUPE_LIMIT: usize = 10_000;

/// `point`, or, when it repeats the configuration of a trial (in any state) of a small
/// discrete space, the untried configuration nearest to it: a sampler's model may keep
/// pointing at the best configuration, but running it again teaches nothing about a
/// deterministic objective. Once every configuration has a trial, the proposal stands
/// (a noisy objective may gain from repeats).
fn unseen_near(space: &SearchSpace, history: &History, point: Vec<f64>) -> Vec<f64> {
    if space
        .params()
        .iter()
        .any(|p| p.domain.cardinality().is_none())
    {
        return point;
    }
    let key = |u: &[f64]| u.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
    let seen: std::collections::HashSet<Vec<u64>> =
        history.trials().iter().map(|t| key(&t.unit)).collect();
    if !seen.contains(&key(&space.canonical(&point))) {
        return point;
    }
    // Only a repeat pays for listing the configurations.
    let Some(all) = space.configurations(DEDUPE_LIMIT) else {
        return point;
    };
    let distance = |c: &[f64]| -> f64 { c.iter().zip(&point).map(|(a, b)| (a - b).powi(2)).sum() };
    all.into_iter()
        .filter(|c| !seen.contains(&key(c)))
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .unwrap_or(point)
}

impl Drop for Study {
    fn drop(&mut self) {
        liveness::live_tokens().retain(|&t| t != self.owner.token);
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
            .contains("dropped before the trial finished"));
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
        let e = e.err().unwrap().to_string();
        assert!(
            e.contains("`x` was float [0, 1] (linear), now float [0, 2] (linear)")
                && e.contains("`n` (int [1, 4] (linear)) is not in this space"),
            "{e}"
        );
        assert!(!e.contains('{'), "no JSON dump: {e}");
        let e = Study::builder(space())
            .sampler(UniformSampler)
            .direction(Direction::Maximize)
            .journal(&path)
            .build();
        let e = e.err().unwrap().to_string();
        assert!(
            e.contains("study.jsonl") && e.contains("created to minimize, not maximize"),
            "{e}"
        );
    }

    #[test]
    fn bad_journal_lines_are_errors_that_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("study.jsonl");
        {
            let study = study_at(&path, 0);
            let t = study.ask().unwrap().unwrap();
            study.tell(t.number, Outcome::Complete(1.0)).unwrap();
        }
        let good = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        // A trial from another search space: `x` outside [0, 1].
        let foreign = lines[1].replacen("\"x\":", "\"x\":7.5,\"was\":", 1);
        let foreign = format!("{}\n{foreign}\n", lines[0]);
        let open_error = |text: String| {
            std::fs::write(&path, text).unwrap();
            let built = Study::builder(space())
                .sampler(UniformSampler)
                .journal(&path)
                .build();
            built.err().unwrap().to_string()
        };
        let e = open_error(foreign);
        assert!(
            e.contains("line 2") && e.contains("`x`") && e.contains("search space"),
            "{e}"
        );
        // Two events glued on one line.
        let e = open_error(format!("{}\n{}{}\n", lines[0], lines[1], lines[2]));
        assert!(
            e.contains("line 2") && e.contains("trailing characters"),
            "{e}"
        );
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
