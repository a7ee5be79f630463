//! `Study::optimize`: workers that each loop over ask, fit, tell.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{Asked, Outcome, Study};
use crate::callback::{CallbackList, TrialInfo};
use crate::error::{BoxError, Error, Result};
use crate::pool::{catch_panic, Built, WorkerPool};
use crate::trainer::{Trainer, TrialContext};
use crate::trial::{Trial, TrialState};
use crate::workers::{DeviceError, Worker, Workers};

/// What [`Study::optimize`] did, and where the study stands.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Trials this call ran.
    pub ran: usize,
    /// Complete trials in the whole study.
    pub completed: usize,
    /// Pruned trials in the whole study.
    pub pruned: usize,
    /// Failed trials in the whole study.
    pub failed: usize,
    /// The best feasible complete trial (none in a study of several objectives).
    pub best: Option<Trial>,
    /// The Pareto front ([`Study::best_trials`]) in a study of several objectives;
    /// empty for one.
    pub front: Vec<Trial>,
    /// Wall-clock seconds this call took.
    pub seconds: f64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ran {} trials in {:.1}s; study: {} complete, {} pruned, {} failed",
            self.ran, self.seconds, self.completed, self.pruned, self.failed
        )?;
        if let Some(best) = &self.best {
            write!(
                f,
                "; best trial {} = {} ({})",
                best.number,
                crate::format_number(best.value.unwrap_or(f64::NAN)),
                best.params
            )?;
        }
        if !self.front.is_empty() {
            write!(f, "; Pareto front: {} trials", self.front.len())?;
        }
        Ok(())
    }
}

impl Study {
    /// Runs trials on `workers` CPU threads until the study holds `n_trials` trials
    /// that count (finished, or running elsewhere; trials failed by a crash and retried
    /// do not count), or the sampler has nothing left. While other processes still run
    /// trials of the study, it waits for them before returning: one whose process dies
    /// comes back as a retry, which this call then runs.
    ///
    /// `make_trainer(w)` builds worker `w`'s trainer inside its thread (so a trainer
    /// may hold a device handle that is not `Send`); `make_callbacks` builds fresh
    /// callbacks for each trial. A trainer's error, panic or non-finite objective
    /// fails only that trial, with its message; after a panic the worker builds a new
    /// trainer. Reopening the study's journal and calling `optimize` again tops the
    /// study up to `n_trials`. [`Study::optimize_on`] places workers on devices.
    pub fn optimize<T, F, C>(
        &self,
        n_trials: usize,
        workers: usize,
        make_trainer: F,
        make_callbacks: C,
    ) -> Result<Summary>
    where
        T: Trainer,
        F: Fn(usize) -> Result<T, BoxError> + Sync,
        C: Fn(&TrialInfo) -> CallbackList + Sync,
    {
        self.optimize_on(
            n_trials,
            &Workers::cpu(workers),
            |w: Worker| make_trainer(w.index),
            make_callbacks,
        )
    }

    /// [`Study::optimize`] with one worker per entry of `workers`, each trainer built
    /// for its worker's device: `Workers::gpus(0..n)` runs one worker per GPU.
    ///
    /// A trial whose trainer fails with a [`DeviceError`] is recorded as failed and
    /// retried once, on another worker that is still taking trials. The worker then
    /// builds a fresh trainer; it retires (while other workers go on) when that fails
    /// with a device error, or after two device errors in a row.
    ///
    /// ```
    /// use knob_core::testing::{QuadraticTrainer, UniformSampler};
    /// use knob_core::{CallbackList, Device, Scale, SearchSpace, Study, Workers};
    /// let space = SearchSpace::builder().float("x", -1.0, 1.0, Scale::Linear).build()?;
    /// let study = Study::builder(space).sampler(UniformSampler).build()?;
    /// let workers = Workers::on([Device::Cpu, Device::Cpu]);
    /// let summary = study.optimize_on(6, &workers, |w| {
    ///     assert_eq!(w.device, Device::Cpu);
    ///     Ok(QuadraticTrainer::default())
    /// }, |_| CallbackList::new())?;
    /// assert_eq!(summary.completed, 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn optimize_on<T, F, C>(
        &self,
        n_trials: usize,
        workers: &Workers,
        make_trainer: F,
        make_callbacks: C,
    ) -> Result<Summary>
    where
        T: Trainer,
        F: Fn(Worker) -> Result<T, BoxError> + Sync,
        C: Fn(&TrialInfo) -> CallbackList + Sync,
    {
        self.optimize_for(
            n_trials,
            Duration::MAX,
            workers,
            make_trainer,
            make_callbacks,
        )
    }

    /// [`Study::optimize_on`] for at most `budget` of wall-clock time: no trial starts
    /// after it has passed (running trials finish), and the call also ends when the
    /// study holds `n_trials` trials (`usize::MAX` for time alone).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use knob_core::testing::{QuadraticTrainer, UniformSampler};
    /// use knob_core::{CallbackList, Scale, SearchSpace, Study, Workers};
    /// let space = SearchSpace::builder().float("x", -1.0, 1.0, Scale::Linear).build()?;
    /// let study = Study::builder(space).sampler(UniformSampler).build()?;
    /// let started = Instant::now();
    /// let summary = study.optimize_for(usize::MAX, Duration::from_millis(200), &Workers::cpu(2),
    ///     |_| Ok(QuadraticTrainer::default()), |_| CallbackList::new())?;
    /// assert!(summary.completed > 0 && started.elapsed() < Duration::from_secs(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn optimize_for<T, F, C>(
        &self,
        n_trials: usize,
        budget: Duration,
        workers: &Workers,
        make_trainer: F,
        make_callbacks: C,
    ) -> Result<Summary>
    where
        T: Trainer,
        F: Fn(Worker) -> Result<T, BoxError> + Sync,
        C: Fn(&TrialInfo) -> CallbackList + Sync,
    {
        if workers.is_empty() {
            return Err(Error::Config("optimize needs at least one worker".into()));
        }
        let started = Instant::now();
        self.aborted.store(false, Ordering::SeqCst);
        let call = Call {
            study: self,
            n_trials,
            // `None` when the budget reaches past any representable time.
            deadline: started.checked_add(budget),
            pool: WorkerPool::new(workers)?,
            flights: Flights::default(),
            make_trainer,
            make_callbacks,
            ran: AtomicUsize::new(0),
        };
        call.pool
            .run_notifying(|worker| call.work(worker), || call.flights.wake_all())?;

        let history = self.history()?;
        let count = |state| history.in_state(state).count();
        Ok(Summary {
            ran: call.ran.into_inner(),
            completed: count(TrialState::Complete),
            pruned: count(TrialState::Pruned),
            failed: count(TrialState::Failed),
            best: (history.objectives() == 1)
                .then(|| history.best().cloned())
                .flatten(),
            front: if history.objectives() > 1 {
                history.best_trials().into_iter().cloned().collect()
            } else {
                Vec::new()
            },
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Fits one trial.
    fn run_trial<T: Trainer>(
        &self,
        trainer: &mut T,
        info: TrialInfo,
        callbacks: CallbackList,
    ) -> TrialRun {
        let params = info.params.clone();
        let mut ctx = TrialContext::new(info, self).with_callbacks(callbacks);
        let result = catch_panic(|| trainer.fit_objectives(&params, &mut ctx));
        let panicked = result.is_err();
        let device_error =
            matches!(&result, Ok(Err(e)) if e.downcast_ref::<DeviceError>().is_some());
        let outcome = match result {
            _ if ctx.was_interrupted() && !ctx.should_prune() => {
                // Failed here, and queued to run again.
                ctx.end_trial(TrialState::Failed);
                None
            }
            Ok(fitted) => Some(ctx.outcome(fitted)),
            Err(_) if ctx.should_prune() => {
                ctx.end_trial(TrialState::Pruned);
                Some(Outcome::Pruned)
            }
            Err(panic) => {
                ctx.end_trial(TrialState::Failed);
                Some(Outcome::Failed(format!("trainer panicked: {panic}")))
            }
        };
        TrialRun {
            outcome,
            panicked,
            device_error,
        }
    }
}

/// One `optimize_on` call: what its workers share.
struct Call<'s, 'w, F, C> {
    study: &'s Study,
    n_trials: usize,
    /// No trial starts after it.
    deadline: Option<Instant>,
    pool: WorkerPool<'w>,
    flights: Flights,
    make_trainer: F,
    make_callbacks: C,
    /// Trials this call ran.
    ran: AtomicUsize,
}

impl<T, F, C> Call<'_, '_, F, C>
where
    T: Trainer,
    F: Fn(Worker) -> Result<T, BoxError> + Sync,
    C: Fn(&TrialInfo) -> CallbackList + Sync,
{
    /// Whether the call's deadline for starting trials has passed.
    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Stops this call's running trials and wakes its idle workers.
    fn abort(&self) {
        self.study.aborted.store(true, Ordering::SeqCst);
        self.flights.wake_all();
    }

    /// Ends the call with `error` (the first one wins).
    fn fail(&self, error: Error) {
        self.pool.fail(error);
        self.abort();
    }

    /// `worker`'s trainer; `None` when it retires (its device cannot build one and
    /// other workers carry on) or the call failed.
    fn build(&self, worker: Worker) -> Option<T> {
        match self.pool.build(worker, &self.make_trainer) {
            Built::Trainer(trainer) => Some(trainer),
            Built::Stopped => {
                if self.pool.has_failed() {
                    self.abort();
                }
                None
            }
        }
    }

    /// One worker's loop: ask, fit, tell, until the study has its trials or fails.
    fn work(&self, worker: Worker) {
        let study = self.study;
        let Some(mut trainer) = self.build(worker) else {
            return;
        };
        if let Err(e) = trainer.check_space(&study.space) {
            let message = format!("the trainer cannot use this search space: {e}");
            return self.fail(Error::Config(message));
        }
        let mut device_errors_in_a_row = 0;
        let mut patience = FIRST_LOOK;
        // The next trial, when the last tell already asked for it.
        let mut asked_ahead: Option<Asked> = None;
        while !study.aborted.load(Ordering::SeqCst) {
            if self.past_deadline() && asked_ahead.is_none() {
                break;
            }
            // Retries go to another worker while there is one.
            let avoid_for = self.pool.others_live().then_some(worker.index);
            let generation = self.flights.generation();
            let asked = match asked_ahead.take() {
                Some(asked) => Ok(asked),
                None => study.ask_within(self.n_trials, avoid_for),
            };
            let (info, is_retry) = match asked {
                Ok(Asked::Trial(info, is_retry)) => (info, is_retry),
                // Trials of this call still run: one may come back as a retry.
                Ok(Asked::Done)
                    if !study.should_stop() && self.flights.wait_for_a_trial_end(generation) =>
                {
                    continue
                }
                Ok(Asked::Done) => break,
                // Other processes' trials: their ends are not signalled here, so look
                // again, soon at first (trials may be short).
                Ok(Asked::Wait) => {
                    self.flights.wait_at_most(generation, patience);
                    patience = (patience * 2).min(study.poll);
                    continue;
                }
                Err(e) => return self.fail(e),
            };
            patience = FIRST_LOOK;
            let flight = self.flights.take_off();
            let ran = self.fit(&mut trainer, &info);
            let told = self.settle(worker, &info, is_retry, &ran, avoid_for);
            drop(flight); // landed: idle workers may take a retry now
            match told {
                Ok(next) => asked_ahead = next,
                Err(e) => return self.fail(e),
            }
            device_errors_in_a_row = if ran.device_error {
                device_errors_in_a_row + 1
            } else {
                0
            };
            if device_errors_in_a_row >= RETIRE_AFTER && self.pool.may_retire() {
                eprintln!(
                    "knob: worker {} retires after {RETIRE_AFTER} device errors in a row on {}",
                    worker.index, worker.device
                );
                return;
            }
            if ran.panicked || ran.device_error {
                let Some(fresh) = self.build(worker) else {
                    return;
                };
                trainer = fresh;
            }
        }
        // The study failed after this worker had asked ahead: give the trial back, so
        // that a rerun runs it.
        if let Some(Asked::Trial(info, _)) = asked_ahead {
            let _ = study.requeue(info.number, "its worker stopped before starting it", None);
        }
    }

    /// Builds the trial's callbacks and fits it.
    fn fit(&self, trainer: &mut T, info: &TrialInfo) -> TrialRun {
        self.ran.fetch_add(1, Ordering::SeqCst);
        match catch_panic(|| (self.make_callbacks)(info)) {
            Ok(callbacks) => self.study.run_trial(trainer, info.clone(), callbacks),
            Err(panic) => TrialRun {
                outcome: Some(Outcome::Failed(format!("make_callbacks panicked: {panic}"))),
                panicked: false,
                device_error: false,
            },
        }
    }

    /// Records how trial `info` ended; returns the next trial when telling asked for
    /// it in the same step.
    fn settle(
        &self,
        worker: Worker,
        info: &TrialInfo,
        is_retry: bool,
        ran: &TrialRun,
        avoid_for: Option<usize>,
    ) -> Result<Option<Asked>> {
        let study = self.study;
        let number = info.number;
        match &ran.outcome {
            None if study.aborted.load(Ordering::SeqCst) => study
                .requeue(
                    number,
                    "the study stopped on an error before it finished",
                    None,
                )
                .map(|()| None),
            None => study
                .requeue(number, "interrupted before it finished", None)
                .map(|()| None),
            Some(Outcome::Failed(message)) if ran.device_error => {
                let message = format!("worker {} on {}: {message}", worker.index, worker.device);
                if is_retry || !self.pool.others_live() {
                    study.tell(number, Outcome::Failed(message)).map(|()| None)
                } else {
                    let message = format!("{message} (retried)");
                    study
                        .requeue(number, &message, Some(worker.index))
                        .map(|()| None)
                }
            }
            // After a panic the worker rebuilds its trainer, and may retire if that
            // fails: it asks for no trial before then. A trial-finished callback may
            // stop the study: it runs before the next trial is asked for.
            Some(outcome)
                if ran.panicked || study.has_finished_callbacks() || self.past_deadline() =>
            {
                study.tell(number, outcome.clone()).map(|()| None)
            }
            Some(outcome) => study
                .tell_then_ask(number, outcome.clone(), self.n_trials, avoid_for)
                .map(Some),
        }
    }
}

/// How long a worker first waits before looking again at trials that other processes
/// run; it doubles up to the study's poll interval.
const FIRST_LOOK: std::time::Duration = std::time::Duration::from_millis(5);

/// A worker whose trials fail with device errors this many times in a row stops
/// taking trials (while other workers remain), so a broken GPU does not churn
/// through the sampler.
const RETIRE_AFTER: usize = 2;

/// The trials of one `optimize` call between ask and tell, and a condition variable
/// that idle workers wait on until one of them ends.
#[derive(Default)]
struct Flights {
    log: Mutex<FlightLog>,
    landed: Condvar,
}

#[derive(Default)]
struct FlightLog {
    /// Trials between ask and tell.
    in_flight: usize,
    /// Bumped whenever a trial ends or a worker leaves or the study fails.
    generation: u64,
}

impl Flights {
    fn log(&self) -> MutexGuard<'_, FlightLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn generation(&self) -> u64 {
        self.log().generation
    }

    /// Counts a trial in flight until the guard drops.
    fn take_off(&self) -> InFlight<'_> {
        self.log().in_flight += 1;
        InFlight(self)
    }

    fn wake_all(&self) {
        self.log().generation += 1;
        self.landed.notify_all();
    }

    /// Waits until something happened after `seen`, or `timeout` passed.
    fn wait_at_most(&self, seen: u64, timeout: std::time::Duration) {
        let log = self.log();
        if log.generation == seen {
            let _ = self.landed.wait_timeout(log, timeout);
        }
    }

    /// Waits until something happened after `seen` (a trial ended, a worker left, the
    /// study failed); false at once when no trial is in flight, since then nothing
    /// can come back for a retry.
    fn wait_for_a_trial_end(&self, seen: u64) -> bool {
        let mut log = self.log();
        if log.in_flight == 0 {
            return log.generation != seen;
        }
        while log.generation == seen {
            log = self
                .landed
                .wait(log)
                .unwrap_or_else(PoisonError::into_inner);
        }
        true
    }
}

/// A trial in flight; landing (drop) wakes the idle workers.
struct InFlight<'a>(&'a Flights);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.log().in_flight -= 1;
        self.0.wake_all();
    }
}

/// How one trial's fit went.
struct TrialRun {
    /// `None` when the study was interrupted during it.
    outcome: Option<Outcome>,
    panicked: bool,
    /// It failed with a [`DeviceError`].
    device_error: bool,
}
