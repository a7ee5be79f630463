//! `Study::optimize`: workers that each loop over ask, fit, tell.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::{panic_message, Outcome, Study};
use crate::callback::{CallbackList, TrialInfo};
use crate::error::{BoxError, Error, Result};
use crate::trainer::{Trainer, TrialContext};
use crate::trial::{Trial, TrialState};

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
    /// Runs trials on `workers` threads until the study holds `n_trials` trials that
    /// count (finished, or running elsewhere; trials failed by a crash and retried do
    /// not count), or the sampler has nothing left.
    ///
    /// `make_trainer(w)` builds worker `w`'s trainer inside its thread (so a trainer
    /// may hold a device handle that is not `Send`); `make_callbacks` builds fresh
    /// callbacks for each trial. A trainer's error, panic or non-finite objective
    /// fails only that trial, with its message; after a panic the worker builds a new
    /// trainer. Reopening the study's journal and calling `optimize` again tops the
    /// study up to `n_trials`.
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
        if workers == 0 {
            return Err(Error::Config("optimize needs at least one worker".into()));
        }
        let started = Instant::now();
        let abort = AtomicBool::new(false);
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        let ran = Mutex::new(0usize);
        let fail = |e: Error| {
            abort.store(true, Ordering::SeqCst);
            first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        };

        crossbeam_utils::thread::scope(|scope| {
            for worker in 0..workers {
                let (make_trainer, make_callbacks) = (&make_trainer, &make_callbacks);
                let (abort, fail, ran) = (&abort, &fail, &ran);
                scope.spawn(move |_| {
                    let build = |worker| {
                        make_trainer(worker).map_err(|e| Error::TrainerFactory {
                            worker,
                            message: e.to_string(),
                        })
                    };
                    let mut trainer = match build(worker) {
                        Ok(t) => t,
                        Err(e) => return fail(e),
                    };
                    while !abort.load(Ordering::SeqCst) {
                        let info = match self.ask_within(n_trials) {
                            Ok(Some(info)) => info,
                            Ok(None) => break,
                            Err(e) => return fail(e),
                        };
                        let (outcome, panicked) =
                            self.run_trial(&mut trainer, info.clone(), make_callbacks(&info));
                        *ran.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                        let told = match outcome {
                            None => self.requeue_interrupted(info.number),
                            Some(outcome) => self.tell(info.number, outcome),
                        };
                        if let Err(e) = told {
                            return fail(e);
                        }
                        if panicked {
                            trainer = match build(worker) {
                                Ok(t) => t,
                                Err(e) => return fail(e),
                            };
                        }
                    }
                });
            }
        })
        .map_err(|_| Error::Config("a worker thread panicked outside a trial".into()))?;

        if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let history = self.history()?;
        let count = |state| history.in_state(state).count();
        Ok(Summary {
            ran: ran.into_inner().unwrap_or_else(|p| p.into_inner()),
            completed: count(TrialState::Complete),
            pruned: count(TrialState::Pruned),
            failed: count(TrialState::Failed),
            best: history.best().cloned(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Fits one trial; returns its outcome (`None` when the study was interrupted during
    /// it) and whether the trainer panicked.
    fn run_trial<T: Trainer>(
        &self,
        trainer: &mut T,
        info: TrialInfo,
        callbacks: CallbackList,
    ) -> (Option<Outcome>, bool) {
        let params = info.params.clone();
        let mut ctx = TrialContext::for_study(self, info, callbacks);
        let result = catch_unwind(AssertUnwindSafe(|| trainer.fit(&params, &mut ctx)));
        let pruned = ctx.should_prune();
        let panicked = result.is_err();
        if ctx.was_interrupted() && !pruned {
            return (None, panicked);
        }
        let outcome = match result {
            _ if pruned => Outcome::Pruned,
            Ok(Ok(value)) => Outcome::Complete(value),
            Ok(Err(e)) => Outcome::Failed(e.to_string()),
            Err(panic) => Outcome::Failed(format!("trainer panicked: {}", panic_message(&*panic))),
        };
        (Some(outcome), panicked)
    }
}
