//! The `Sampler` trait: where the next trial's params come from.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::history::History;
use crate::space::SearchSpace;

/// The random generator every sampler draws from: a named algorithm, so that a seed
/// gives the same proposals on every platform and rand version.
pub type KnobRng = ChaCha8Rng;

/// The generator for trial `number` of a study seeded with `seed`.
///
/// Each trial has its own stream (ChaCha's stream id is the trial number), so a
/// resumed study draws for trial 7 exactly what the first run would have drawn, however
/// many trials came before it in this process.
pub fn trial_rng(seed: u64, number: u64) -> KnobRng {
    let mut rng = KnobRng::seed_from_u64(seed);
    rng.set_stream(number);
    rng
}

/// A generator that every trial of a study sees identically (the study's seed, a
/// reserved stream), derived from any trial's generator.
///
/// For what must stay fixed across trials and resumes: the scrambling of a
/// quasi-random sequence, the shuffled order of a grid.
pub fn study_rng(trial_rng: &KnobRng) -> KnobRng {
    let mut rng = KnobRng::from_seed(trial_rng.get_seed());
    rng.set_stream(u64::MAX);
    rng
}

/// Proposes the next point of the unit cube from the study's history.
///
/// A sampler sees only `[0, 1]^d` and losses (smaller is better): the space's scales
/// and the study's direction stay outside. A sampler should keep no state of the study
/// itself but rebuild what it needs from `history`, so that a resumed study just goes
/// on. The history includes running trials, so parallel workers can be given
/// different points.
///
/// ```
/// use knob_core::{History, KnobRng, Result, Sampler, SearchSpace};
///
/// /// Always the centre of the cube: a (bad) sampler in four lines.
/// struct Centre;
/// impl Sampler for Centre {
///     fn suggest(&mut self, space: &SearchSpace, _: &History, _: &mut KnobRng)
///         -> Result<Option<Vec<f64>>> {
///         Ok(Some(vec![0.5; space.len()]))
///     }
/// }
/// ```
pub trait Sampler: Send {
    /// The next point, in space order, or `None` when nothing is left to try (an
    /// exhausted grid).
    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>>;

    /// A short name for reports and error messages.
    fn name(&self) -> &str {
        short_type_name(std::any::type_name::<Self>())
    }

    /// The number of the complete trial the sampler's model believes best, when the
    /// model finds the objective noisy: then the best observed value flatters its
    /// trial, and the best predicted mean is the better pick. `None` (the default,
    /// and for a model that finds no noise) leaves the pick to the best observed value
    /// ([`Study::recommend`](crate::Study::recommend)).
    fn recommend(&mut self, _space: &SearchSpace, _history: &History) -> Option<u64> {
        None
    }

    /// Whether the sampler can serve a study of several objectives (it reads
    /// [`History::multi_observations`], or no losses at all). No by default: a study of
    /// several objectives refuses a sampler that would chase the first alone.
    fn multi_objective(&self) -> bool {
        false
    }
}

impl<S: Sampler + ?Sized> Sampler for Box<S> {
    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>> {
        (**self).suggest(space, history, rng)
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn recommend(&mut self, space: &SearchSpace, history: &History) -> Option<u64> {
        (**self).recommend(space, history)
    }

    fn multi_objective(&self) -> bool {
        (**self).multi_objective()
    }
}

/// `knob_samplers::random::RandomSampler` -> `RandomSampler`.
pub(crate) fn short_type_name(full: &str) -> &str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn every_trial_sees_the_same_study_stream() {
        let a = study_rng(&trial_rng(5, 0)).gen::<u64>();
        assert_eq!(a, study_rng(&trial_rng(5, 17)).gen::<u64>());
        assert_ne!(a, study_rng(&trial_rng(6, 0)).gen::<u64>());
        assert_ne!(trial_rng(5, 0).gen::<u64>(), trial_rng(5, 1).gen::<u64>());
    }
}
