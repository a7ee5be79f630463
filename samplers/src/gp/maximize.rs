//! Maximizing the acquisition function: a broad quasi-random scan, then quasi-Newton
//! polishing from the best few points.

use knob_core::KnobRng;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::acquisition::{log_normal_cdf, Acquisition, LN_SQRT_2PI};
use super::model::Posterior;
use crate::optim::minimize;
use crate::prior::log_prior;
use crate::sobol::sobol_point;
use crate::tpe::Axis;

/// A prior over the cube that the acquisition is weighted by (πBO): `weight` times the
/// log prior density is added to the (log-scale) acquisition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PriorWeight<'a> {
    pub priors: &'a [Option<(f64, f64)>],
    pub weight: f64,
}

/// A GP fitted to one constraint's (standardized) values: the acquisition is weighted by
/// the probability that the constraint holds, `P(c(x) <= 0)` (Gardner et al., 2014),
/// added as its logarithm to the log-scale acquisition.
pub(crate) struct Feasibility {
    pub post: Posterior,
    /// Where 0 lies on the standardized scale.
    pub threshold: f64,
}

impl Feasibility {
    /// `ln P(c(p) <= 0)`, adding its gradient to `grad` when given.
    fn log_prob(&self, p: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let Some(grad) = grad else {
            let (m, v) = self.post.predict(p);
            return log_normal_cdf((self.threshold - m) / v.max(1e-12).sqrt());
        };
        let (m, v, dm, dv) = self.post.predict_grad(p);
        let v = v.max(1e-12);
        let sd = v.sqrt();
        let z = (self.threshold - m) / sd;
        let lc = log_normal_cdf(z);
        // d ln Φ(z) / dz = φ(z) / Φ(z); z falls with the mean and moves with the variance.
        let ratio = (-0.5 * z * z - LN_SQRT_2PI - lc).exp();
        for (g, (dm, dv)) in grad.iter_mut().zip(dm.iter().zip(&dv)) {
            *g += ratio * (-dm / sd - z * dv / (2.0 * v));
        }
        lc
    }
}

/// The log-probability that every constraint of `models` holds at `p`.
fn log_feasible(models: &[Feasibility], p: &[f64], mut grad: Option<&mut [f64]>) -> f64 {
    models
        .iter()
        .map(|f| f.log_prob(p, grad.as_deref_mut()))
        .sum()
}

/// How hard to search.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Effort {
    /// Quasi-random points scanned.
    pub scan: usize,
    /// Random points near the best observations scanned too (exploitation).
    pub near_best: usize,
    /// Points polished by local search.
    pub polish: usize,
}

/// The point of the unit cube that maximizes `acq`; `snap` moves a point onto the grid
/// of integer and categorical values (and inactive coordinates to their fixed point),
/// `active` says which coordinates of a point local search may move.
#[allow(clippy::too_many_arguments)]
pub(crate) fn maximize(
    post: &Posterior,
    acq: Acquisition,
    best: f64,
    axes: &[Axis],
    incumbents: &[&[f64]],
    snap: &dyn Fn(&[f64]) -> Vec<f64>,
    active: &dyn Fn(&[f64]) -> Vec<bool>,
    prior: PriorWeight<'_>,
    feasibility: &[Feasibility],
    effort: Effort,
    rng: &mut KnobRng,
) -> Vec<f64> {
    let dims = axes.len();
    let seed: u32 = rng.gen();
    let mut candidates: Vec<Vec<f64>> = (0..effort.scan as u64)
        .map(|i| snap(&sobol_point(i, dims, seed)))
        .collect();
    for k in 0..effort.near_best {
        let centre = incumbents[k % incumbents.len().max(1)];
        let p: Vec<f64> = (0..dims)
            .map(|d| match axes[d] {
                Axis::Numeric => {
                    let z: f64 = StandardNormal.sample(rng);
                    (centre[d] + 0.05 * z).clamp(0.0, 1.0)
                }
                Axis::Categorical(_) => centre[d],
            })
            .collect();
        candidates.push(snap(&p));
    }
    let value = |m: f64, v: f64, p: &[f64]| {
        acq.eval(m, v, best).0
            + prior.weight * log_prior(prior.priors, p, None)
            + log_feasible(feasibility, p, None)
    };
    let mut scored: Vec<(f64, Vec<f64>)> = post
        .predict_many(&candidates)
        .into_iter()
        .zip(candidates)
        .map(|((m, v), p)| (value(m, v, &p), p))
        .filter(|(a, _)| a.is_finite())
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(effort.polish.max(1));

    let numeric: Vec<usize> = (0..dims).filter(|&d| axes[d] == Axis::Numeric).collect();
    let mut best_point = scored
        .first()
        .map(|s| s.1.clone())
        .unwrap_or_else(|| vec![0.5; dims]);
    let mut best_value = scored.first().map_or(f64::NEG_INFINITY, |s| s.0);
    if numeric.is_empty() {
        return best_point;
    }
    for (_, start) in &scored {
        // Only the parameters active at the start move: an inactive one's coordinate
        // is fixed for the model.
        let on = active(start);
        let numeric: Vec<usize> = numeric.iter().copied().filter(|&d| on[d]).collect();
        let (lower, upper) = (vec![0.0; numeric.len()], vec![1.0; numeric.len()]);
        let mut point = start.clone();
        let mut objective = |x: &[f64], grad: &mut [f64]| -> f64 {
            for (k, &d) in numeric.iter().enumerate() {
                point[d] = x[k];
            }
            let (m, v, dm, dv) = post.predict_grad(&point);
            let (a, da_dm, da_dv) = acq.eval(m, v, best);
            let mut prior_grad = vec![0.0; dims];
            let lp = log_prior(prior.priors, &point, Some(&mut prior_grad));
            let mut feasible_grad = vec![0.0; dims];
            let lf = log_feasible(feasibility, &point, Some(&mut feasible_grad));
            for (k, &d) in numeric.iter().enumerate() {
                grad[k] = -(da_dm * dm[d]
                    + da_dv * dv[d]
                    + prior.weight * prior_grad[d]
                    + feasible_grad[d]);
            }
            -(a + prior.weight * lp + lf)
        };
        let x0: Vec<f64> = numeric.iter().map(|&d| start[d]).collect();
        let (x, _) = minimize(&mut objective, &x0, &lower, &upper, 100);
        let mut polished = start.clone();
        for (k, &d) in numeric.iter().enumerate() {
            polished[d] = x[k];
        }
        let polished = snap(&polished);
        let (m, v) = post.predict(&polished);
        let a = value(m, v, &polished);
        if a > best_value {
            best_value = a;
            best_point = polished;
        }
    }
    best_point
}
