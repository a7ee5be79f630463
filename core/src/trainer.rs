//! The `Trainer` trait and the context a trial trains in.

use std::collections::BTreeMap;

use crate::callback::{CallbackList, Control, TrialInfo};
use crate::error::{BoxError, Error, Result};
use crate::params::Params;
use crate::space::SearchSpace;
use crate::study::Study;

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
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError>;

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

/// What a trainer gets besides its params: the trial's callbacks, and a line to the
/// study for intermediate values and pruning.
///
/// [`TrialContext::standalone`] makes one without a study, to babysit a single model
/// with the same trainer and callbacks.
pub struct TrialContext<'a> {
    info: TrialInfo,
    /// The trial's callbacks, which the trainer calls.
    pub callbacks: CallbackList,
    study: Option<&'a Study>,
    intermediate: BTreeMap<u64, f64>,
    pruned: bool,
    interrupted: bool,
}

impl<'a> TrialContext<'a> {
    /// A context without a study, no callbacks yet; trial number 0.
    pub fn standalone(params: Params) -> TrialContext<'static> {
        TrialContext {
            info: TrialInfo { number: 0, params },
            callbacks: CallbackList::new(),
            study: None,
            intermediate: BTreeMap::new(),
            pruned: false,
            interrupted: false,
        }
    }

    /// A context without a study for trial (or population member) `number`.
    pub fn numbered(number: u64, params: Params) -> TrialContext<'static> {
        let mut ctx = TrialContext::standalone(params);
        ctx.info.number = number;
        ctx
    }

    pub(crate) fn for_study(study: &'a Study, info: TrialInfo, callbacks: CallbackList) -> Self {
        TrialContext {
            info,
            callbacks,
            study: Some(study),
            intermediate: BTreeMap::new(),
            pruned: false,
            interrupted: false,
        }
    }

    /// Replaces the callbacks, builder style.
    pub fn with_callbacks(mut self, callbacks: CallbackList) -> Self {
        self.callbacks = callbacks;
        self
    }

    /// The trial's number and params.
    pub fn info(&self) -> &TrialInfo {
        &self.info
    }

    /// Records an intermediate value (say, `val_loss` after an epoch) and asks the
    /// study's pruner whether to go on; also says stop when the study is interrupted.
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
        let prune = match self.study {
            Some(study) => study.report(self.info.number, step, value)?,
            None => false,
        };
        self.pruned |= prune;
        self.interrupted |= self.study.is_some_and(Study::should_stop);
        Ok(if prune || self.interrupted {
            Control::Stop
        } else {
            Control::Continue
        })
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
}
