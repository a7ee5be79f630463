//! `Study::optimize`: workers that each loop over ask, fit, tell.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::{Asked, Outcome, Study};
use crate::callback::{CallbackList, TrialInfo};
use crate::error::panic_message;
use crate::error::{BoxError, Error, Result};
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
    /// The best complete trial.
    pub best: Option<Trial>,
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
        if workers.is_empty() {
            return Err(Error::Config("optimize needs at least one worker".into()));
        }
        let started = Instant::now();
        self.aborted.store(false, Ordering::SeqCst);
        let pool = Pool::default();
        let live = AtomicUsize::new(workers.len());
        let retired = AtomicUsize::new(0);
        // A worker may retire unless every other one already has.
        let may_retire = || {
            let ok = retired.fetch_add(1, Ordering::SeqCst) + 1 < workers.len();
            if !ok {
                retired.fetch_sub(1, Ordering::SeqCst);
            }
            ok
        };
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        let ran = AtomicUsize::new(0);
        let fail = |e: Error| {
            first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
            self.aborted.store(true, Ordering::SeqCst);
            pool.wake_all();
        };

        crossbeam_utils::thread::scope(|scope| {
            for worker in workers.iter() {
                let (make_trainer, make_callbacks) = (&make_trainer, &make_callbacks);
                let (fail, ran, live, may_retire, pool) = (&fail, &ran, &live, &may_retire, &pool);
                scope.spawn(move |_| {
                    // Counts this worker out of `live` however it leaves the loop.
                    let _live = LeaveOnDrop(live, pool);
                    // `None` when this worker retires (its device cannot build a trainer
                    // and other workers can carry on) or the study fails.
                    let build = || match catch_unwind(AssertUnwindSafe(|| make_trainer(worker))) {
                        Ok(Ok(t)) => Some(t),
                        Ok(Err(e)) if e.downcast_ref::<DeviceError>().is_some() && may_retire() => {
                            eprintln!(
                                "knob: worker {} retires: its trainer on {} failed: {e}",
                                worker.index, worker.device
                            );
                            None
                        }
                        Ok(Err(e)) => {
                            fail(Error::TrainerFactory {
                                worker: worker.index,
                                message: e.to_string(),
                            });
                            None
                        }
                        Err(panic) => {
                            fail(Error::TrainerFactory {
                                worker: worker.index,
                                message: format!("the factory panicked: {}", panic_message(&*panic)),
                            });
                            None
                        }
                    };
                    let Some(mut trainer) = build() else { return };
                    if let Err(e) = trainer.check_space(&self.space) {
                        return fail(Error::Config(format!("the trainer cannot use this search space: {e}")));
                    }
                    let mut device_errors_in_a_row = 0;
                    let mut patience = FIRST_LOOK;
                    // The next trial, when the last tell already asked for it.
                    let mut asked_ahead: Option<Asked> = None;
                    while !self.aborted.load(Ordering::SeqCst) {
                        // Retries go to another worker while there is one.
                        let avoid_for = others_live(live).then_some(worker.index);
                        let generation = pool.generation();
                        let asked = match asked_ahead.take() {
                            Some(asked) => Ok(asked),
                            None => self.ask_within(n_trials, avoid_for),
                        };
                        if matches!(asked, Ok(Asked::Trial(..))) {
                            patience = FIRST_LOOK;
                        }
                        let (info, is_retry) = match asked {
                            Ok(Asked::Trial(info, is_retry)) => (info, is_retry),
                            // Trials of this call still run: one may come back as a retry.
                            Ok(Asked::Done) if !self.should_stop() && pool.wait_for_a_trial_end(generation) => continue,
                            Ok(Asked::Done) => break,
                            // Other processes' trials: their ends are not signalled here,
                            // so look again, soon at first (trials may be short).
                            Ok(Asked::Wait) => {
                                pool.wait_at_most(generation, patience);
                                patience = (patience * 2).min(self.poll);
                                continue;
                            }
                            Err(e) => return fail(e),
                        };
                        let flight = pool.take_off();
                        let ran_trial = match catch_unwind(AssertUnwindSafe(|| make_callbacks(&info))) {
                            Ok(callbacks) => self.run_trial(&mut trainer, info.clone(), callbacks),
                            Err(panic) => TrialRun {
                                outcome: Some(Outcome::Failed(format!(
                                    "make_callbacks panicked: {}",
                                    panic_message(&*panic)
                                ))),
                                panicked: false,
                                device_error: false,
                            },
                        };
                        ran.fetch_add(1, Ordering::SeqCst);
                        let told = match ran_trial.outcome {
                            None if self.aborted.load(Ordering::SeqCst) => {
                                self.requeue(info.number, "the study stopped on an error before it finished", None)
                            }
                            None => self.requeue(info.number, "interrupted before it finished", None),
                            Some(Outcome::Failed(message)) if ran_trial.device_error => {
                                let message = format!("worker {} on {}: {message}", worker.index, worker.device);
                                if is_retry || !others_live(live) {
                                    self.tell(info.number, Outcome::Failed(message))
                                } else {
                                    let message = format!("{message} (retried)");
                                    self.requeue(info.number, &message, Some(worker.index))
                                }
                            }
                            // After a panic the worker rebuilds its trainer, and may retire
                            // if that fails: it asks for no trial before then.
                            Some(outcome) if ran_trial.panicked => self.tell(info.number, outcome),
                            Some(outcome) => self
                                .tell_then_ask(info.number, outcome, n_trials, avoid_for)
                                .map(|asked| asked_ahead = Some(asked)),
                        };
                        drop(flight); // landed: idle workers may take a retry now
                        if let Err(e) = told {
                            return fail(e);
                        }
                        device_errors_in_a_row = if ran_trial.device_error { device_errors_in_a_row + 1 } else { 0 };
                        if device_errors_in_a_row >= RETIRE_AFTER && may_retire() {
                            eprintln!(
                                "knob: worker {} retires after {RETIRE_AFTER} device errors in a row on {}",
                                worker.index, worker.device
                            );
                            return;
                        }
                        if ran_trial.panicked || ran_trial.device_error {
                            let Some(fresh) = build() else { return };
                            trainer = fresh;
                        }
                    }
                    // The study failed after this worker had asked ahead: give the
                    // trial back, so that a rerun runs it.
                    if let Some(Asked::Trial(info, _)) = asked_ahead {
                        let _ = self.requeue(info.number, "its worker stopped before starting it", None);
                    }
                });
            }
        })
        .map_err(|panic| Error::WorkerPanicked(panic_message(&*panic)))?;

        if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let history = self.history()?;
        let count = |state| history.in_state(state).count();
        Ok(Summary {
            ran: ran.into_inner(),
            completed: count(TrialState::Complete),
            pruned: count(TrialState::Pruned),
            failed: count(TrialState::Failed),
            best: history.best().cloned(),
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
        let result = catch_unwind(AssertUnwindSafe(|| trainer.fit(&params, &mut ctx)));
        let panicked = result.is_err();
        let device_error =
            matches!(&result, Ok(Err(e)) if e.downcast_ref::<DeviceError>().is_some());
        let outcome = match result {
            _ if ctx.was_interrupted() && !ctx.should_prune() => None,
            Ok(fitted) => Some(ctx.outcome(fitted)),
            Err(_) if ctx.should_prune() => Some(Outcome::Pruned),
            Err(panic) => Some(Outcome::Failed(format!(
                "trainer panicked: {}",
                panic_message(&*panic)
            ))),
        };
        TrialRun {
            outcome,
            panicked,
            device_error,
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

/// Whether a worker other than the caller is still taking trials.
fn others_live(live: &AtomicUsize) -> bool {
    live.load(Ordering::SeqCst) > 1
}

/// Counts a worker out of the live ones when dropped, and wakes the waiting ones: the
/// retry they wait for may now be theirs to take.
struct LeaveOnDrop<'a>(&'a AtomicUsize, &'a Pool);

impl Drop for LeaveOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        self.1.wake_all();
    }
}

/// The trials of one `optimize` call between ask and tell, and a condition variable
/// that idle workers wait on until one of them ends.
#[derive(Default)]
struct Pool {
    flights: Mutex<Flights>,
    landed: Condvar,
}

#[derive(Default)]
struct Flights {
    /// Trials between ask and tell.
    in_flight: usize,
    /// Bumped whenever a trial ends or a worker leaves or the study fails.
    generation: u64,
}

impl Pool {
    fn flights(&self) -> MutexGuard<'_, Flights> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn generation(&self) -> u64 {
        self.flights().generation
    }

    /// Counts a trial in flight until the guard drops.
    fn take_off(&self) -> InFlight<'_> {
        self.flights().in_flight += 1;
        InFlight(self)
    }

    fn wake_all(&self) {
        self.flights().generation += 1;
        self.landed.notify_all();
    }

    /// Waits until something happened after `seen`, or `timeout` passed.
    fn wait_at_most(&self, seen: u64, timeout: std::time::Duration) {
        let flights = self.flights();
        if flights.generation == seen {
            let _ = self.landed.wait_timeout(flights, timeout);
        }
    }

    /// Waits until something happened after `seen` (a trial ended, a worker left, the
    /// study failed); false at once when no trial is in flight, since then nothing
    /// can come back for a retry.
    fn wait_for_a_trial_end(&self, seen: u64) -> bool {
        let mut flights = self.flights();
        if flights.in_flight == 0 {
            return flights.generation != seen;
        }
        while flights.generation == seen {
            flights = self
                .landed
                .wait(flights)
                .unwrap_or_else(PoisonError::into_inner);
        }
        true
    }
}

/// A trial in flight; landing (drop) wakes the idle workers.
struct InFlight<'a>(&'a Pool);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.flights().in_flight -= 1;
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
