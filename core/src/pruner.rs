//! The `Pruner` trait: whether a running trial should stop early.

use crate::history::History;
use crate::trial::Trial;

/// Decides from intermediate values whether a running trial is hopeless.
///
/// The study asks after each [`TrialContext::report`](crate::TrialContext::report),
/// holding its lock, so a pruner should be quick. Values in `history` are turned into
/// losses with [`History::losses_at_step`]; the trial's own values are in
/// `trial.intermediate` (use [`History::loss`]-style conversion through
/// `history.direction()`).
///
/// A pruner that stops a trial once its loss at some step is twice the best loss
/// other trials reported at that step:
///
/// ```
/// use knob_core::{History, Pruner, Trial};
///
/// struct TwiceTheBest;
/// impl Pruner for TwiceTheBest {
///     fn should_prune(&self, trial: &Trial, history: &History) -> bool {
///         let Some((&step, &value)) = trial.intermediate.last_key_value() else {
///             return false;
///         };
///         let loss = history.direction().loss(value);
///         let others = history.losses_at_step(step, trial.number);
///         others.iter().copied().reduce(f64::min).is_some_and(|best| loss > 2.0 * best)
///     }
/// }
///
/// use knob_core::testing::UniformSampler;
/// use knob_core::{Outcome, Scale, SearchSpace, Study};
/// let space = SearchSpace::builder().float("x", 0.0, 1.0, Scale::Linear).build()?;
/// let study = Study::builder(space).sampler(UniformSampler).pruner(TwiceTheBest).build()?;
/// let first = study.ask()?.unwrap();
/// assert!(!study.report(first.number, 0, 1.0)?);
/// study.tell(first.number, Outcome::Complete(1.0))?;
/// let second = study.ask()?.unwrap();
/// assert!(study.report(second.number, 0, 3.0)?, "3 is more than twice 1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Pruner: Send {
    /// Whether `trial` should stop now.
    fn should_prune(&self, trial: &Trial, history: &History) -> bool;

    /// A short name for error messages.
    fn name(&self) -> &str {
        crate::sampler::short_type_name(std::any::type_name::<Self>())
    }
}

/// Never prunes: the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct NopPruner;

impl Pruner for NopPruner {
    fn should_prune(&self, _: &Trial, _: &History) -> bool {
        false
    }
}

impl<P: Pruner + ?Sized> Pruner for Box<P> {
    fn should_prune(&self, trial: &Trial, history: &History) -> bool {
        (**self).should_prune(trial, history)
    }

    fn name(&self) -> &str {
        (**self).name()
    }
}
