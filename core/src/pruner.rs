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
