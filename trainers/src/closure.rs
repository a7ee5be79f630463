//! A trainer made from a closure: the simplest proof that trainers swap through the
//! [`Trainer`] trait.

use knob_core::{BoxError, Params, Trainer, TrialContext};

/// Wraps any `FnMut(&Params, &mut TrialContext) -> Result<f64, BoxError>`: a closed-form
/// objective, a call into another framework, a subprocess.
///
/// ```
/// use knob_core::{Params, Trainer, TrialContext};
/// use knob_trainers::FnTrainer;
/// let mut trainer = FnTrainer::new(|p: &Params, _: &mut TrialContext<'_>| {
///     Ok((p.float("x")? - 2.0).powi(2))
/// });
/// let params = Params::from_iter([("x", 3.0.into())]);
/// let mut ctx = TrialContext::standalone(params.clone());
/// assert_eq!(trainer.fit(&params, &mut ctx)?, 1.0);
/// # Ok::<(), knob_core::BoxError>(())
/// ```
pub struct FnTrainer<F> {
    objective: F,
}

impl<F> FnTrainer<F>
where
    F: FnMut(&Params, &mut TrialContext<'_>) -> Result<f64, BoxError>,
{
    /// A trainer that calls `objective` for each trial.
    pub fn new(objective: F) -> Self {
        Self { objective }
    }
}

impl<F> Trainer for FnTrainer<F>
where
    F: FnMut(&Params, &mut TrialContext<'_>) -> Result<f64, BoxError>,
{
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        (self.objective)(params, ctx)
    }
}
