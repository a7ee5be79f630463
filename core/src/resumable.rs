//! Training that can be paused and resumed: the trait and data that population-based
//! training (`knob_samplers::Pbt`) and any other scheduler that moves models between
//! hyperparameters build on.

use std::ops::Range;
use std::sync::Arc;

use crate::error::BoxError;
use crate::params::Params;
use crate::trainer::TrialContext;

/// A model's saved state, as bytes: what a member hands to the member that copies it.
/// Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint(Arc<Vec<u8>>);

impl Checkpoint {
    /// A checkpoint holding `bytes` (in whatever format the trainer writes).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Arc::new(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What a span of training produced.
#[derive(Debug, Clone)]
pub struct Span {
    /// The objective after the span's last epoch (in the run's direction).
    pub score: f64,
    /// The model at the end of the span.
    pub checkpoint: Checkpoint,
}

/// A trainer whose training can be cut into spans of epochs, so PBT can pause a model,
/// copy it and change its hyperparameters between spans.
///
/// `knob-trainers`' MLP trainer implements it; a custom trainer saves and loads its own
/// model state in [`Checkpoint`] bytes.
///
/// A "model" that counts the epochs it trained, so that resuming is visible:
///
/// ```
/// use std::ops::Range;
/// use knob_core::{BoxError, Checkpoint, Params, Resumable, Span, TrialContext};
///
/// struct Counter;
/// impl Resumable for Counter {
///     fn train_span(&mut self, _: &Params, from: Option<&Checkpoint>, epochs: Range<usize>,
///                   _: &mut TrialContext<'_>) -> Result<Span, BoxError> {
///         let before = from.map_or(0, |c| c.as_bytes()[0]);
///         let after = before + epochs.len() as u8;
///         Ok(Span { score: f64::from(after), checkpoint: Checkpoint::new(vec![after]) })
///     }
/// }
/// let mut ctx = TrialContext::standalone(Params::new());
/// let first = Counter.train_span(&Params::new(), None, 0..3, &mut ctx)?;
/// let second = Counter.train_span(&Params::new(), Some(&first.checkpoint), 3..5, &mut ctx)?;
/// assert_eq!(second.score, 5.0);
/// # Ok::<(), BoxError>(())
/// ```
pub trait Resumable {
    /// Trains epochs `epochs` (numbered from the start of the model's life, so
    /// schedules continue) with `params`, from the model in `from` or, when `None`,
    /// from a fresh one; returns the score after the last epoch and the model.
    fn train_span(
        &mut self,
        params: &Params,
        from: Option<&Checkpoint>,
        epochs: Range<usize>,
        ctx: &mut TrialContext<'_>,
    ) -> Result<Span, BoxError>;
}
