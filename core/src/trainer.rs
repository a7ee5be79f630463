//! The `Trainer` trait and the context a trial trains in.

use std::collections::BTreeMap;

use crate::callback::{Callback, CallbackList, Control, EpochView, Logs, TrialInfo};
use crate::error::{BoxError, Error, Result};
use crate::params::{Params, Value};
use crate::space::SearchSpace;
use crate::trial::{Outcome, TrialState};

/// Turns a trial's params into an objective value: trains a model and scores it.
///
/// A study builds one trainer per worker with a factory, so a trainer need not be
/// `Send`: it may own a GPU handle or a thread pool of its own. Between trials the
/// study reuses it, except after a panic, when the factory builds a fresh one.
///
/// ```
/// use knob_core::{BoxError, Params, Trainer, TrialContext};
///
/// /// The objective is a closed form, reported once per "epoch".
/// struct Parabola;
/// impl Trainer for Parabola {
///     fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
///         let x = params.float("x")?;
///         for epoch in 0..3 {
///             let loss = (x - 0.3).powi(2) + 1.0 / (epoch + 1) as f64;
///             if ctx.report(epoch, loss)?.is_stop() {
///                 break;
///             }
///         }
///         Ok((x - 0.3).powi(2))
///     }
/// }
/// let mut ctx = TrialContext::standalone(Params::from_iter([("x", 0.5.into())]));
/// let value = Parabola.fit(&ctx.info().params.clone(), &mut ctx)?;
/// assert!((value - 0.04).abs() < 1e-12);
/// assert_eq!(ctx.intermediate().len(), 3);
/// # Ok::<(), BoxError>(())
/// ```
pub trait Trainer {
    /// Trains with `params`; returns the objective (in the study's direction).
    ///
    /// Report intermediate values with [`TrialContext::report`] and stop when it says
    /// [`Control::Stop`]: the trial is then recorded as pruned, whatever `fit` returns.
    /// Drive the callbacks in [`TrialContext::callbacks`].
    ///
    /// Every trainer implements this or, for a study of several objectives,
    /// [`Trainer::fit_objectives`]; the default says that neither was.
    fn fit(&mut self, _params: &Params, _ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        Err(format!(
            "trainer {} implements neither Trainer::fit nor Trainer::fit_objectives",
            std::any::type_name::<Self>()
        )
        .into())
    }

    /// Trains with `params`; returns one value per objective of the study, in the
    /// order of its [`directions`](crate::StudyBuilder::directions): what a study calls.
    /// By default [`Trainer::fit`]'s one value. Constraint values go to
    /// [`TrialContext::set_constraints`].
    ///
    /// ```
    /// use knob_core::{BoxError, Params, Trainer, TrialContext};
    ///
    /// /// Two objectives at odds, and a constraint: x at most 0.8.
    /// struct TradeOff;
    /// impl Trainer for TradeOff {
    ///     fn fit_objectives(&mut self, params: &Params, ctx: &mut TrialContext<'_>)
    ///         -> Result<Vec<f64>, BoxError> {
    ///         let x = params.float("x")?;
    ///         ctx.set_constraints([x - 0.8]);
    ///         Ok(vec![x * x, (1.0 - x).powi(2)])
    ///     }
    /// }
    /// let params = Params::from_iter([("x", 0.9.into())]);
    /// let mut ctx = TrialContext::standalone(params.clone());
    /// let fitted = TradeOff.fit_objectives(&params, &mut ctx);
    /// match ctx.outcome(fitted) {
    ///     knob_core::Outcome::Values { values, constraints } => {
    ///         assert_eq!(values.len(), 2);
    ///         assert!(constraints[0] > 0.0, "x = 0.9 breaks the constraint");
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), BoxError>(())
    /// ```
    fn fit_objectives(
        &mut self,
        params: &Params,
        ctx: &mut TrialContext<'_>,
    ) -> Result<Vec<f64>, BoxError> {
        Ok(vec![self.fit(params, ctx)?])
    }

    /// Refuses, before any trial runs, a search space this trainer cannot use: a
    /// parameter it would ignore (a misspelt `learning_rate` for `lr` tunes nothing),
    /// a value it cannot take. `optimize` ends with this error. Accepts every space by
    /// default.
    fn check_space(&self, _space: &SearchSpace) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T: Trainer + ?Sized> Trainer for Box<T> {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        (**self).fit(params, ctx)
    }

    fn fit_objectives(
        &mut self,
        params: &Params,
        ctx: &mut TrialContext<'_>,
    ) -> Result<Vec<f64>, BoxError> {
        (**self).fit_objectives(params, ctx)
    }

    fn check_space(&self, space: &SearchSpace) -> Result<(), BoxError> {
        (**self).check_space(space)
    }
}

impl Control {
    /// Whether this says stop.
    pub fn is_stop(self) -> bool {
        self == Control::Stop
    }
}

/// Where a trial's intermediate values go, and who says when it should stop: a
/// [`Study`](crate::Study) (which records each value and asks its pruner), or a
/// scheduler of your own. `Sync`, so that a trainer may hand its context to the
/// threads it trains on.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use knob_core::{Params, Result, TrialContext, TrialInfo, TrialMonitor};
///
/// /// Stops any trial whose loss rises above 1.
/// struct Ceiling(AtomicUsize);
/// impl TrialMonitor for Ceiling {
///     fn report(&self, _number: u64, _step: u64, value: f64) -> Result<bool> {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         Ok(value > 1.0)
///     }
/// }
/// let monitor = Ceiling(AtomicUsize::new(0));
/// let mut ctx = TrialContext::new(TrialInfo::new(7, Params::new()), &monitor);
/// assert!(!ctx.report(0, 0.5)?.is_stop());
/// assert!(ctx.report(1, 1.5)?.is_stop());
/// assert!(ctx.should_prune());
/// assert_eq!(monitor.0.load(Ordering::Relaxed), 2);
/// # Ok::<(), knob_core::Error>(())
/// ```
pub trait TrialMonitor: Sync {
    /// Records `value` (finite) at `step` of trial `number`; `true` when the trial
    /// should stop early (it is then recorded as pruned).
    fn report(&self, number: u64, step: u64, value: f64) -> Result<bool>;

    /// Whether the whole run is stopping (Ctrl-C, a failed study): running trials
    /// stop at their next report and are not recorded as pruned. No by default.
    fn should_stop(&self) -> bool {
        false
    }

    /// Keeps user attribute `key` of trial `number`. Kept nowhere by default.
    fn set_user_attr(&self, _number: u64, _key: &str, _value: Value) -> Result<()> {
        Ok(())
    }
}

/// What a trainer gets besides its params: the trial's callbacks, and a line to a
/// [`TrialMonitor`] (the study) for intermediate values and pruning.
///
/// [`Study::optimize`](crate::Study::optimize) builds one per trial. A loop of your
/// own builds it with [`TrialContext::new`] from an asked trial and gets the same
/// pruning and callbacks; [`TrialContext::standalone`] babysits a single model with
/// the same trainer and callbacks, without a study.
///
/// ```
/// use knob_core::testing::{QuadraticTrainer, UniformSampler};
/// use knob_core::{CallbackList, Scale, SearchSpace, Study, Trainer, TrialContext};
///
/// let space = SearchSpace::builder().float("x", -1.0, 1.0, Scale::Linear).build()?;
/// let study = Study::builder(space).sampler(UniformSampler).build()?;
/// let mut trainer = QuadraticTrainer::default();
/// for _ in 0..5 {
///     let trial = study.ask()?.expect("the space is not exhausted");
///     let mut ctx = TrialContext::new(trial.clone(), &study).with_callbacks(CallbackList::new());
///     let fitted = trainer.fit(&trial.params, &mut ctx);
///     study.tell(trial.number, ctx.outcome(fitted))?;
/// }
/// assert_eq!(study.history()?.len(), 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TrialContext<'a> {
    info: TrialInfo,
    /// The trial's callbacks, which the trainer calls.
    pub callbacks: CallbackList,
    monitor: Option<&'a dyn TrialMonitor>,
    intermediate: BTreeMap<u64, f64>,
    constraints: Vec<f64>,
    pruned: bool,
    interrupted: bool,
}

/// What a trainer's fit returns: one objective value, or one per objective.
pub trait IntoObjectives {
    /// The values, in the study's order of objectives.
    fn into_objectives(self) -> Vec<f64>;
}

impl IntoObjectives for f64 {
    fn into_objectives(self) -> Vec<f64> {
        vec![self]
    }
}

impl IntoObjectives for Vec<f64> {
    fn into_objectives(self) -> Vec<f64> {
        self
    }
}

impl<'a> TrialContext<'a> {
    /// The context of trial `info`, reporting to `monitor` (a [`Study`](crate::Study)
    /// for a trial it gave out); no callbacks yet.
    pub fn new(info: TrialInfo, monitor: &'a dyn TrialMonitor) -> Self {
        Self::with_monitor(info, Some(monitor))
    }

    /// A context without a study, no callbacks yet; trial number 0.
    pub fn standalone(params: Params) -> TrialContext<'static> {
        TrialContext::unmonitored(TrialInfo::new(0, params))
    }

    /// A context for trial (or population member) `info` that reports to no one.
    pub fn unmonitored(info: TrialInfo) -> TrialContext<'static> {
        TrialContext::with_monitor(info, None)
    }

    fn with_monitor(info: TrialInfo, monitor: Option<&'a dyn TrialMonitor>) -> Self {
        TrialContext {
            info,
            callbacks: CallbackList::new(),
            monitor,
            intermediate: BTreeMap::new(),
            constraints: Vec::new(),
            pruned: false,
            interrupted: false,
        }
    }

    /// Replaces the callbacks, builder style.
    pub fn with_callbacks(mut self, callbacks: CallbackList) -> Self {
        self.callbacks = callbacks;
        self
    }

    /// The trial's number, params and space.
    pub fn info(&self) -> &TrialInfo {
        &self.info
    }

    /// Records an intermediate value (say, `val_loss` after an epoch) and asks the
    /// monitor whether to go on; also says stop when the run as a whole is stopping.
    /// Values must be finite.
    pub fn report(&mut self, step: u64, value: f64) -> Result<Control> {
        if !value.is_finite() {
            return Err(Error::NonFiniteReport {
                number: self.info.number,
                step,
                value,
            });
        }
        self.intermediate.insert(step, value);
        let prune = match self.monitor {
            Some(monitor) => monitor.report(self.info.number, step, value)?,
            None => false,
        };
        self.pruned |= prune;
        self.interrupted |= self.monitor.is_some_and(|m| m.should_stop());
        Ok(if prune || self.interrupted {
            Control::Stop
        } else {
            Control::Continue
        })
    }

    /// The end of epoch `epoch`, in the order every trainer needs: the callbacks'
    /// `on_epoch_end` with `logs` and `view`, then `value` (the objective after this
    /// epoch) reported at step `epoch`. [`Control::Stop`] when a callback, the pruner
    /// or an interrupt says so; every callback and the report run either way.
    pub fn end_epoch(
        &mut self,
        epoch: usize,
        logs: &Logs,
        view: &EpochView<'_>,
        value: f64,
    ) -> Result<Control, BoxError> {
        let from_callbacks = self.callbacks.on_epoch_end(epoch, logs, view)?;
        for (key, attr) in view.take_user_attrs() {
            self.set_user_attr(&key, attr)?;
        }
        let from_monitor = self.report(epoch as u64, value)?;
        Ok(if from_callbacks.is_stop() || from_monitor.is_stop() {
            Control::Stop
        } else {
            Control::Continue
        })
    }

    /// Sets a user attribute of the trial (see [`Study::set_user_attr`](crate::Study::set_user_attr)):
    /// a trainer can record what it measured besides the objective, or where it saved
    /// the model. Without a study it is kept nowhere.
    pub fn set_user_attr(&mut self, key: &str, value: impl Into<Value>) -> Result<()> {
        match self.monitor {
            Some(monitor) => monitor.set_user_attr(self.info.number, key, value.into()),
            None => Ok(()),
        }
    }

    /// Sets the trial's constraint values: it is feasible when every one is `<= 0`
    /// (a parameter count over a budget: `count - budget`). Samplers prefer feasible
    /// points and an infeasible trial is never the best; [`TrialContext::outcome`]
    /// carries them to the study. The last call wins.
    pub fn set_constraints(&mut self, constraints: impl Into<Vec<f64>>) {
        self.constraints = constraints.into();
    }

    /// Whether the pruner has asked this trial to stop.
    pub fn should_prune(&self) -> bool {
        self.pruned
    }

    /// Whether the study was interrupted while this trial ran.
    pub fn was_interrupted(&self) -> bool {
        self.interrupted
    }

    /// The values reported so far, by step.
    pub fn intermediate(&self) -> &BTreeMap<u64, f64> {
        &self.intermediate
    }

    /// How the trial ended, given what `fit` returned: pruned when the pruner said
    /// stop (whatever `fit` returned), else its value or its error's message. Tell it
    /// to the study. The callbacks hear it ([`Callback::on_trial_end`]), so TensorBoard
    /// records the trial's status.
    ///
    /// `fitted` holds one value ([`Trainer::fit`]) or one per objective
    /// ([`Trainer::fit_objectives`]); with constraints set, or several values, the
    /// outcome is [`Outcome::Values`].
    pub fn outcome<V: IntoObjectives>(&mut self, fitted: Result<V, BoxError>) -> Outcome {
        let constraints = std::mem::take(&mut self.constraints);
        let outcome = match fitted.map(IntoObjectives::into_objectives) {
            _ if self.pruned => Outcome::Pruned,
            Ok(values) if values.len() == 1 && constraints.is_empty() => {
                Outcome::Complete(values[0])
            }
            Ok(values) => Outcome::Values {
                values,
                constraints,
            },
            Err(e) => Outcome::Failed(e.to_string()),
        };
        // A non-finite value is recorded as a failure.
        let finite = |xs: &[f64]| xs.iter().all(|x| x.is_finite());
        self.end_trial(match &outcome {
            Outcome::Complete(v) if v.is_finite() => TrialState::Complete,
            Outcome::Values {
                values,
                constraints,
            } if finite(values) && finite(constraints) => TrialState::Complete,
            Outcome::Pruned => TrialState::Pruned,
            _ => TrialState::Failed,
        });
        outcome
    }

    /// Tells the callbacks how the trial ended; an error of theirs cannot change that,
    /// so it is only reported.
    pub(crate) fn end_trial(&mut self, state: TrialState) {
        if let Err(e) = self.callbacks.on_trial_end(state) {
            eprintln!("knob: warning: trial {}: {e}", self.info.number);
        }
    }
}
