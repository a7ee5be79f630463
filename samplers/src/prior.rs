//! Priors on the unit interval: truncated normals around a believed-good value.

use knob_core::{KnobRng, SearchSpace};
use rand_distr::{Distribution, StandardNormal};

/// Each parameter's prior as (centre, spread) in the unit interval, if it has one.
pub(crate) fn unit_priors(space: &SearchSpace) -> Vec<Option<(f64, f64)>> {
    space.params().iter().map(|p| p.prior_unit()).collect()
}

/// A draw from N(mu, sigma) truncated to [0, 1].
pub(crate) fn truncated_normal(mu: f64, sigma: f64, rng: &mut KnobRng) -> f64 {
    for _ in 0..64 {
        let z: f64 = StandardNormal.sample(rng);
        let x = mu + sigma * z;
        if (0.0..=1.0).contains(&x) {
            return x;
        }
    }
    mu.clamp(0.0, 1.0)
}

/// The log prior density at `x` up to a constant, summed over the parameters that have
/// a prior, and its gradient (written into `grad`, which must be zeroed by the caller
/// or accumulated into).
pub(crate) fn log_prior(priors: &[Option<(f64, f64)>], x: &[f64], grad: Option<&mut [f64]>) -> f64 {
    let mut total = 0.0;
    let mut grad = grad;
    for (d, prior) in priors.iter().enumerate() {
        if let Some((c, s)) = prior {
            let z = (x[d] - c) / s;
            total -= 0.5 * z * z;
            if let Some(g) = grad.as_deref_mut() {
                g[d] -= z / s;
            }
        }
    }
    total
}
