//! Random search: each parameter drawn on its own scale.

use knob_core::{History, KnobRng, Result, Sampler, SearchSpace};
use rand::Rng;

use crate::prior::{truncated_normal, unit_priors};

/// Independent uniform draws in the unit cube, which the space maps to each
/// parameter's scale: log-uniform learning rates, log-uniform `1 - β` momenta, every
/// integer of a range equally often, every choice equally often.
///
/// A parameter with a [`Prior`](knob_core::Prior) is drawn from it instead: a normal
/// around the believed-good value, truncated to the range.
///
/// It ignores the history, so it is the baseline every other sampler must beat, and
/// the right pick when trials are cheap, many run at once, or only a few of many
/// parameters matter (it never wastes trials repeating a value of an unimportant
/// parameter, as a grid does).
///
/// ```
/// use knob_core::{trial_rng, History, Sampler, Scale, SearchSpace};
/// use knob_samplers::RandomSampler;
/// let space = SearchSpace::builder().float("lr", 1e-4, 1e-1, Scale::Log).build()?;
/// let point = RandomSampler::new().suggest(&space, &History::default(), &mut trial_rng(0, 0))?;
/// let params = space.from_unit(&point.unwrap())?;
/// assert!((1e-4..=1e-1).contains(&params.float("lr")?));
/// # Ok::<(), knob_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSampler;

impl RandomSampler {
    /// A random sampler.
    pub fn new() -> Self {
        Self
    }
}

impl Sampler for RandomSampler {
    /// It reads no losses, so any number of objectives will do.
    fn multi_objective(&self) -> bool {
        true
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        _history: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>> {
        Ok(Some(
            unit_priors(space)
                .into_iter()
                .map(|prior| match prior {
                    Some((centre, spread)) => truncated_normal(centre, spread, rng),
                    None => rng.gen::<f64>(),
                })
                .collect(),
        ))
    }
}
