//! Quasi-random search: a scrambled Sobol sequence.

use knob_core::{study_rng, History, KnobRng, Result, Sampler, SearchSpace};
use rand::Rng;

/// Points of an Owen-scrambled Sobol sequence, one per trial in trial-number order.
///
/// Like random search it ignores the results, but its points fill the cube evenly, with
/// no clumps and no gaps: the first `2^k` points put one point in each of `2^k` equal
/// intervals of every axis (and of equal boxes of the first two axes). That makes it a better initial design for model-based
/// samplers and a slightly better plain search. The scrambling is fixed by the study's
/// seed, so a resumed study continues the same sequence.
#[derive(Debug, Clone, Copy, Default)]
pub struct SobolSampler;

impl SobolSampler {
    /// A Sobol sampler.
    pub fn new() -> Self {
        Self
    }
}

/// Point `index` of the scrambled sequence in `dims` dimensions.
///
/// The underlying generator holds 2^16 points of 256 dimensions per seed; past either
/// limit a fresh seed continues, so any index and dimension works.
pub fn sobol_point(index: u64, dims: usize, seed: u32) -> Vec<f64> {
    let block = (index >> 16) as u32;
    (0..dims)
        .map(|d| {
            let chunk = (d / 256) as u32;
            let seed = seed ^ block.wrapping_mul(0x9e37_79b9) ^ chunk.wrapping_mul(0x85eb_ca6b);
            let x = sobol_burley::sample((index & 0xffff) as u32, (d % 256) as u32, seed);
            f64::from(x)
        })
        .collect()
}

impl Sampler for SobolSampler {
    /// It reads no losses, so any number of objectives will do.
    fn multi_objective(&self) -> bool {
        true
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>> {
        let seed = study_rng(rng).gen();
        Ok(Some(sobol_point(history.len() as u64, space.len(), seed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_points_stratify_each_axis_and_the_first_pair() {
        let points: Vec<Vec<f64>> = (0..16).map(|i| sobol_point(i, 8, 77)).collect();
        for axis in 0..8 {
            let mut bins = [0; 16];
            for p in &points {
                bins[(p[axis] * 16.0) as usize] += 1;
            }
            assert_eq!(bins, [1; 16], "axis {axis}");
        }
        let mut cells = [0; 16];
        for p in &points {
            cells[(p[0] * 4.0) as usize * 4 + (p[1] * 4.0) as usize] += 1;
        }
        assert_eq!(cells, [1; 16]);
    }

    #[test]
    fn seeds_scramble_differently_and_large_indices_work() {
        assert_ne!(sobol_point(3, 4, 1), sobol_point(3, 4, 2));
        let far = sobol_point(1 << 20, 300, 9);
        assert_eq!(far.len(), 300);
        assert!(far.iter().all(|x| (0.0..1.0).contains(x)));
    }
}
