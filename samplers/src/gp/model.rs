//! The Gaussian process, fitted by maximizing the marginal likelihood plus weak priors
//! on its hyperparameters.
//!
//! The kernel mixes a Matérn-5/2 kernel over all parameters jointly (one lengthscale per
//! parameter) with the mean of one-parameter Matérn-5/2 kernels on the same
//! lengthscales: `k = σ² ((1 - w) M(r) + w/D Σ_d M(r_d))`, with the additive share `w`
//! fitted like the rest. Many losses are close to a sum of per-parameter effects; the
//! joint kernel alone learns that a value of one parameter is good only near trials
//! where the others were good too, while the additive part carries what one trial says
//! about a parameter to every other trial, so good values seen in different trials
//! combine. Over 40 seeds at 50 trials it took styblinski_tang5 (a sum of double wells)
//! from a median regret of 41 to 29, levy6 from 1.13 to 0.37, ackley5 from 5.9 to 4.5,
//! rosenbrock4 from 21 to 12 and hartmann6 from 4.5e-3 to 1.5e-3; branin went from
//! 5.6e-6 to 7.3e-6. It costs a kernel evaluation per parameter: a suggestion at trial
//! 50 on hartmann6 takes 9 ms instead of 4.5.

use knob_core::{Domain, KnobRng};
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rand::Rng;

use crate::fastmath::matern;
use crate::optim::minimize;
use crate::tpe::Axis;

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// Kernel hyperparameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hyper {
    /// One over each lengthscale squared.
    pub inv_ls2: Vec<f64>,
    /// The signal variance.
    pub scale: f64,
    /// The noise variance.
    pub noise: f64,
    /// The share of the signal variance in the additive part of the kernel.
    pub additive: f64,
}

/// Per-parameter squared difference of two unit points: categorical parameters count
/// 1 when the choices differ (a one-hot encoding with one lengthscale per parameter).
fn sq_diff(axis: Axis, a: f64, b: f64) -> f64 {
    match axis {
        Axis::Numeric => (a - b) * (a - b),
        Axis::Categorical(k) => {
            let cat = |u: f64| Domain::choice_index(u, k);
            f64::from(u8::from(cat(a) != cat(b)))
        }
    }
}

/// The squared differences along one parameter between `p` and each of `column`, the
/// data's values of that parameter, into `out`.
fn sq_diffs(axis: Axis, p: f64, column: &[f64], out: &mut [f64]) {
    match axis {
        Axis::Numeric => {
            for (o, &x) in out.iter_mut().zip(column) {
                *o = (p - x) * (p - x);
            }
        }
        Axis::Categorical(_) => {
            for (o, &x) in out.iter_mut().zip(column) {
                *o = sq_diff(axis, p, x);
            }
        }
    }
}

/// The kernel with its hyperparameters and the data it is evaluated against.
struct KernelData {
    axes: Vec<Axis>,
    /// The data, one column per parameter.
    columns: Vec<Vec<f64>>,
    hyper: Hyper,
}

/// Working memory for [`KernelData::cross_into`], one value per data point in each.
struct Scratch {
    r2: Vec<f64>,
    add: Vec<f64>,
    u: Vec<f64>,
    m: Vec<f64>,
    g: Vec<f64>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Self {
            r2: vec![0.0; n],
            add: vec![0.0; n],
            u: vec![0.0; n],
            m: vec![0.0; n],
            g: vec![0.0; n],
        }
    }
}

/// Kernel values between a point and every data point, and what their derivatives
/// need: `g` of the joint part and, per parameter, of the additive part (both scaled).
struct Cross {
    k: DVector<f64>,
    g: Vec<f64>,
    g_add: Vec<Vec<f64>>,
}

impl KernelData {
    /// How many data points.
    fn len(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// The kernel between `p` and every data point.
    fn cross(&self, p: &[f64], grad: bool) -> Cross {
        let mut k = DVector::zeros(self.len());
        let mut scratch = Scratch::new(self.len());
        let mut g_add = Vec::new();
        self.cross_into(
            p,
            k.as_mut_slice(),
            &mut scratch,
            grad.then_some(&mut g_add),
        );
        Cross {
            k,
            g: scratch.g,
            g_add,
        }
    }

    /// The kernel between `p` and every data point into `k`; the joint part's `g`
    /// factors are left in `scratch.g` and, when asked for, the additive part's are
    /// pushed to `g_add`, one vector per parameter.
    fn cross_into(
        &self,
        p: &[f64],
        k: &mut [f64],
        scratch: &mut Scratch,
        mut g_add: Option<&mut Vec<Vec<f64>>>,
    ) {
        let h = &self.hyper;
        let (joint, add_scale) = h.weights(p.len());
        let Scratch { r2, add, u, m, g } = scratch;
        r2.fill(0.0);
        add.fill(0.0);
        for (((&axis, &pd), column), &lam) in
            self.axes.iter().zip(p).zip(&self.columns).zip(&h.inv_ls2)
        {
            sq_diffs(axis, pd, column, u);
            for (ui, ri) in u.iter_mut().zip(r2.iter_mut()) {
                *ui *= lam;
                *ri += *ui;
            }
            matern(u, m, g);
            for (a, mi) in add.iter_mut().zip(m.iter()) {
                *a += mi;
            }
            if let Some(g_add) = g_add.as_deref_mut() {
                g_add.push(g.iter().map(|v| add_scale * v).collect());
            }
        }
        matern(r2, m, g);
        for ((ki, mj), a) in k.iter_mut().zip(m.iter()).zip(add.iter()) {
            *ki = joint * mj + add_scale * a;
        }
        for v in g.iter_mut() {
            *v *= joint;
        }
    }
}

/// A GP conditioned on data, ready to predict.
pub(crate) struct Posterior {
    data: KernelData,
    chol: Cholesky<f64, Dyn>,
    alpha: DVector<f64>,
}

impl Posterior {
    /// Conditions a GP with `hyper` on points `x` and standardized values `y`.
    pub fn new(axes: &[Axis], x: Vec<Vec<f64>>, y: &[f64], hyper: Hyper) -> Option<Self> {
        let n = x.len();
        let data = KernelData {
            axes: axes.to_vec(),
            columns: (0..axes.len())
                .map(|d| x.iter().map(|p| p[d]).collect())
                .collect(),
            hyper,
        };
        let mut k = DMatrix::zeros(n, n);
        let mut scratch = Scratch::new(n);
        for (p, column) in x.iter().zip(k.as_mut_slice().chunks_exact_mut(n.max(1))) {
            data.cross_into(p, column, &mut scratch, None);
        }
        for j in 0..n {
            k[(j, j)] += data.hyper.noise;
        }
        let chol = Cholesky::new(k)?;
        let alpha = chol.solve(&DVector::from_column_slice(y));
        Some(Self { data, chol, alpha })
    }

    /// Posterior mean and variance (of the latent function) at `p`.
    pub fn predict(&self, p: &[f64]) -> (f64, f64) {
        let k = self.data.cross(p, false).k;
        let mean = k.dot(&self.alpha);
        let v = self
            .chol
            .l_dirty()
            .solve_lower_triangular(&k)
            .expect("a valid factor");
        (mean, (self.data.hyper.scale - v.norm_squared()).max(1e-12))
    }

    /// Mean and variance at many points at once (rows of the result, one per point).
    pub fn predict_many(&self, points: &[Vec<f64>]) -> Vec<(f64, f64)> {
        let n = self.alpha.len();
        let mut kt = DMatrix::zeros(n, points.len());
        let mut scratch = Scratch::new(n);
        for (p, column) in points
            .iter()
            .zip(kt.as_mut_slice().chunks_exact_mut(n.max(1)))
        {
            self.data.cross_into(p, column, &mut scratch, None);
        }
        let means = kt.tr_mul(&self.alpha);
        let v = self
            .chol
            .l_dirty()
            .solve_lower_triangular(&kt)
            .expect("a valid factor");
        (0..points.len())
            .map(|j| {
                let var = self.data.hyper.scale - v.column(j).norm_squared();
                (means[j], var.max(1e-12))
            })
            .collect()
    }

    /// Mean, variance and their gradients at `p` (zero along categorical parameters).
    pub fn predict_grad(&self, p: &[f64]) -> (f64, f64, Vec<f64>, Vec<f64>) {
        let dims = p.len();
        let Cross { k, g, g_add } = self.data.cross(p, true);
        let mean = k.dot(&self.alpha);
        let l = self.chol.l_dirty();
        let v = l.solve_lower_triangular(&k).expect("a valid factor");
        let w = l.tr_solve_lower_triangular(&v).expect("a valid factor"); // K⁻¹ k
        let var = (self.data.hyper.scale - v.norm_squared()).max(1e-12);
        let (mut dmean, mut dvar) = (vec![0.0; dims], vec![0.0; dims]);
        for d in 0..dims {
            if self.data.axes[d] != Axis::Numeric {
                continue;
            }
            let lam = self.data.hyper.inv_ls2[d];
            for (i, &x) in self.data.columns[d].iter().enumerate() {
                // ∂k_i/∂p_d = -(g_i + g_id) (p_d - x_id) / ℓ_d²
                let dk = -(g[i] + g_add[d][i]) * (p[d] - x) * lam;
                dmean[d] += dk * self.alpha[i];
                dvar[d] -= 2.0 * dk * w[i];
            }
        }
        (mean, var, dmean, dvar)
    }
}

/// Bounds of the fitted quantities, in log space: lengthscales in [0.01, 100] of the
/// unit range, signal variance in [0.01, 100] of the standardized data, noise in
/// [1e-8, 1]. The noise floor sets how finely the model resolves a deterministic loss
/// near its optimum: 1e-6 left the last digits of branin and logscale_lr unexploited
/// (40-seed median regret 5.7 and 24 times higher than with 1e-8); a noisy loss
/// fits its own, larger noise.
const LOG_LS: (f64, f64) = (-4.605_170_185_988_091, 4.605_170_185_988_091);
const LOG_SCALE: (f64, f64) = (-4.605_170_185_988_091, 4.605_170_185_988_091);
const LOG_NOISE: (f64, f64) = (-18.420_680_743_952_367, 0.0);
const LOGIT_ADD: (f64, f64) = (-8.0, 8.0);

/// The prior on the additive share `w` is Beta(1, ADDITIVE_PRIOR_B): it leans towards
/// the joint kernel, so the data have to show that the loss is a sum of one-parameter
/// terms before the model relies on it.
const ADDITIVE_PRIOR_B: f64 = 2.0;

/// The negative log posterior of the hyperparameters,
/// `θ = (log ℓ_1..D, log σ², log σ_n², logit w)`.
struct Likelihood {
    dims: usize,
    n: usize,
    /// Squared differences per parameter, computed once for every evaluation, over
    /// the upper triangle (diagonal included) packed column by column: the matrices
    /// are symmetric, so half the kernel evaluations suffice.
    diffs: Vec<Vec<f64>>,
    y: DVector<f64>,
}

/// The pairs `(i, j)` with `i <= j < n` in packed order.
fn upper_pairs(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).flat_map(|j| (0..=j).map(move |i| (i, j)))
}

impl Likelihood {
    fn new(axes: &[Axis], x: &[Vec<f64>], y: &[f64]) -> Self {
        let n = x.len();
        let diffs = (0..axes.len())
            .map(|d| {
                upper_pairs(n)
                    .map(|(i, j)| sq_diff(axes[d], x[i][d], x[j][d]))
                    .collect()
            })
            .collect();
        Self {
            dims: axes.len(),
            n,
            diffs,
            y: DVector::from_column_slice(y),
        }
    }

    /// The value at `theta`; writes the gradient into `grad`.
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (dims, n) = (self.dims, self.n);
        let hyper = Hyper::from_theta(theta);
        let Hyper {
            ref inv_ls2,
            scale,
            noise,
            additive: w,
        } = hyper;
        let (joint, add_scale) = hyper.weights(dims);
        // Every matrix as its packed upper triangle, so the loops vectorize.
        let nn = n * (n + 1) / 2;
        let (mut r2, mut add, mut u) = (vec![0.0; nn], vec![0.0; nn], vec![0.0; nn]);
        let (mut m, mut g) = (vec![0.0; nn], vec![0.0; nn]);
        let mut g_add = Vec::with_capacity(dims);
        for (diff, lam) in self.diffs.iter().zip(inv_ls2) {
            for ((ui, ri), q) in u.iter_mut().zip(r2.iter_mut()).zip(diff) {
                *ui = lam * q;
                *ri += *ui;
            }
            matern(&u, &mut m, &mut g);
            for (a, mi) in add.iter_mut().zip(&m) {
                *a += mi;
            }
            g_add.push(g.clone());
        }
        let (mut mj, mut gj) = (m, g);
        matern(&r2, &mut mj, &mut gj);
        // The kernel without the noise, which is also ∂K/∂log σ².
        let signal: Vec<f64> = mj
            .iter()
            .zip(&add)
            .map(|(m, a)| joint * m + add_scale * a)
            .collect();
        let mut k = DMatrix::zeros(n, n);
        for ((i, j), &sij) in upper_pairs(n).zip(&signal) {
            let kij = sij + if i == j { noise } else { 0.0 };
            (k[(i, j)], k[(j, i)]) = (kij, kij);
        }
        let Some(chol) = Cholesky::new(k) else {
            grad.fill(0.0);
            return f64::INFINITY;
        };
        let alpha = chol.solve(&self.y);
        let log_det: f64 = 2.0
            * chol
                .l_dirty()
                .diagonal()
                .iter()
                .map(|v| v.ln())
                .sum::<f64>();
        let nll = 0.5 * self.y.dot(&alpha) + 0.5 * log_det + 0.5 * n as f64 * LN_2PI;
        // ∂nll/∂θ = ½ tr(W ∂K/∂θ) with W = K⁻¹ - ααᵀ, needed over the upper triangle
        // only: K⁻¹ = L⁻ᵀ L⁻¹, and column i of L⁻¹ is zero above row i, so entry
        // (i, j ≥ i) is the dot product of columns i and j from row j down. Packed
        // with off-diagonal entries doubled, a sum over the symmetric product is a
        // sum over the triangle.
        let l_inv = lower_inverse(chol.l_dirty());
        let wv: Vec<f64> = upper_pairs(n)
            .map(|(i, j)| {
                let inv = l_inv
                    .view((j, i), (n - j, 1))
                    .dot(&l_inv.view((j, j), (n - j, 1)));
                let w = inv - alpha[i] * alpha[j];
                if i == j {
                    w
                } else {
                    2.0 * w
                }
            })
            .collect();
        let trace: f64 = (0..n).map(|j| wv[j * (j + 1) / 2 + j]).sum();
        for d in 0..dims {
            // ∂K/∂log ℓ_d = (joint g + additive g_d) ∘ Δ²_d / ℓ_d²
            let sum: f64 = wv
                .iter()
                .zip(&self.diffs[d])
                .zip(gj.iter().zip(&g_add[d]))
                .map(|((w, q), (gj, gd))| w * q * (joint * gj + add_scale * gd))
                .sum();
            grad[d] = 0.5 * sum * inv_ls2[d];
        }
        grad[dims] = 0.5 * wv.iter().zip(&signal).map(|(w, s)| w * s).sum::<f64>();
        grad[dims + 1] = 0.5 * noise * trace;
        // ∂K/∂logit w = s w (1 - w) (mean of the additive kernels - joint kernel)
        let dw: f64 = wv
            .iter()
            .zip(add.iter().zip(&mj))
            .map(|(w, (a, m))| w * (a / dims as f64 - m))
            .sum();
        grad[dims + 2] = 0.5 * scale * w * (1.0 - w) * dw;
        // Negative log-priors and their gradients in the log parameters.
        let mut penalty = 0.0;
        for d in 0..dims {
            let lam = inv_ls2[d];
            penalty -= lam.ln() - 0.5 * lam;
            grad[d] += 2.0 - lam;
        }
        penalty -= scale.ln() - scale;
        grad[dims] += scale - 1.0;
        penalty -= 0.1 * noise.ln() - 30.0 * noise;
        grad[dims + 1] += 30.0 * noise - 0.1;
        // Beta(1, b) on the additive share, in logit space (with the Jacobian).
        penalty -= w.ln() + ADDITIVE_PRIOR_B * (1.0 - w).ln();
        grad[dims + 2] += ADDITIVE_PRIOR_B * w - (1.0 - w);
        nll + penalty
    }
}

/// Above this many points, the fit first runs on a subsample of this size and then
/// refines on all points from there: the subsample finds the basin cheaply, so the
/// expensive full-size iterations are few.
const SUBSAMPLE: usize = 64;

/// The inverse of the lower triangle of `l`. Column `j` of the inverse is zero above
/// row `j`, so each column is a solve with the trailing block only: a third of the work
/// of solving against the full identity.
fn lower_inverse(l: &DMatrix<f64>) -> DMatrix<f64> {
    let n = l.nrows();
    let mut inv = DMatrix::zeros(n, n);
    for j in 0..n {
        let block = l.view((j, j), (n - j, n - j));
        let mut e = DVector::zeros(n - j);
        e[0] = 1.0;
        block.solve_lower_triangular_mut(&mut e);
        inv.view_mut((j, j), (n - j, 1)).copy_from(&e);
    }
    inv
}

/// Fits the hyperparameters to `x`, `y` (standardized) by maximizing the marginal
/// likelihood plus log-priors, from a default start and `restarts` random ones.
///
/// The priors (as in Optuna's GP): Gamma(2, 0.5) on each inverse squared lengthscale,
/// which keeps lengthscales near the unit range unless the data insist; Gamma(2, 1) on
/// the signal variance; Gamma(1.1, 30) on the noise, which favours small noise.
pub(crate) fn fit(
    axes: &[Axis],
    x: &[Vec<f64>],
    y: &[f64],
    restarts: usize,
    rng: &mut KnobRng,
) -> Hyper {
    let dims = axes.len();
    let mut lower = vec![LOG_LS.0; dims];
    let mut upper = vec![LOG_LS.1; dims];
    lower.extend([LOG_SCALE.0, LOG_NOISE.0, LOGIT_ADD.0]);
    upper.extend([LOG_SCALE.1, LOG_NOISE.1, LOGIT_ADD.1]);

    let warm = x.len() > SUBSAMPLE;
    let starts: Vec<Vec<f64>> = if warm {
        let mut chosen: Vec<usize> = (0..x.len()).collect();
        for i in 0..SUBSAMPLE {
            let j = rng.gen_range(i..chosen.len());
            chosen.swap(i, j);
        }
        chosen.truncate(SUBSAMPLE);
        let xs: Vec<Vec<f64>> = chosen.iter().map(|&i| x[i].clone()).collect();
        let ys: Vec<f64> = chosen.iter().map(|&i| y[i]).collect();
        vec![fit(axes, &xs, &ys, restarts, rng).to_theta()]
    } else {
        let mut default = vec![0.5f64.ln(); dims];
        default.extend([0.0, 1e-3f64.ln(), -2.0]);
        let mut starts = vec![default];
        for _ in 0..restarts {
            starts.push(
                (0..dims + 3)
                    .map(|i| rng.gen_range(lower[i].max(-3.0)..upper[i].min(1.0)))
                    .collect(),
            );
        }
        starts
    };

    let likelihood = Likelihood::new(axes, x, y);
    let objective = |theta: &[f64], grad: &mut [f64]| likelihood.eval(theta, grad);
    let mut best: Option<(Vec<f64>, f64)> = None;
    for s in starts {
        // From the subsample's optimum a few full-size iterations suffice.
        let iterations = if warm { 15 } else { 200 };
        let (theta, value) = minimize(objective, &s, &lower, &upper, iterations);
        if best.as_ref().is_none_or(|b| value < b.1) {
            best = Some((theta, value));
        }
    }
    Hyper::from_theta(&best.expect("at least one start").0)
}

impl Hyper {
    /// The factors of the joint kernel and of each one-parameter kernel in the sum,
    /// in a space of `dims` parameters.
    fn weights(&self, dims: usize) -> (f64, f64) {
        (
            self.scale * (1.0 - self.additive),
            self.scale * self.additive / dims as f64,
        )
    }

    fn from_theta(theta: &[f64]) -> Self {
        let dims = theta.len() - 3;
        Hyper {
            inv_ls2: theta[..dims].iter().map(|l| (-2.0 * l).exp()).collect(),
            scale: theta[dims].exp(),
            noise: theta[dims + 1].exp(),
            additive: 1.0 / (1.0 + (-theta[dims + 2]).exp()),
        }
    }

    fn to_theta(&self) -> Vec<f64> {
        let mut theta: Vec<f64> = self.inv_ls2.iter().map(|l| -0.5 * l.ln()).collect();
        theta.extend([
            self.scale.ln(),
            self.noise.ln(),
            (self.additive / (1.0 - self.additive)).ln(),
        ]);
        theta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::trial_rng;

    fn data(f: impl Fn(&[f64]) -> f64, n: usize, dims: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = trial_rng(1, 0);
        let x: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..dims).map(|_| rng.gen()).collect())
            .collect();
        let y = x.iter().map(|p| f(p)).collect();
        (x, y)
    }

    #[test]
    fn the_likelihood_gradient_matches_finite_differences() {
        let axes = vec![Axis::Numeric, Axis::Numeric, Axis::Categorical(4)];
        let (x, y) = data(|p| (4.0 * p[0]).cos() + p[1] + p[2], 20, 3);
        let likelihood = Likelihood::new(&axes, &x, &y);
        let theta = [-0.7, 0.2, -0.1, 0.3, -5.0, -0.5];
        let mut grad = [0.0; 6];
        let f0 = likelihood.eval(&theta, &mut grad);
        for i in 0..theta.len() {
            let h = 1e-6;
            let mut t = theta;
            t[i] += h;
            let fd = (likelihood.eval(&t, &mut [0.0; 6]) - f0) / h;
            assert!(
                (fd - grad[i]).abs() < 1e-3 * grad[i].abs().max(1.0),
                "θ{i}: {fd} vs {}",
                grad[i]
            );
        }
    }

    #[test]
    fn fitting_tells_relevant_parameters_from_irrelevant_ones() {
        let axes = vec![Axis::Numeric; 3];
        let (x, y) = data(|p| (6.0 * p[0]).sin(), 40, 3);
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
        let ys: Vec<f64> = y.iter().map(|v| (v - mean) / sd).collect();
        let hyper = fit(&axes, &x, &ys, 2, &mut trial_rng(0, 0));
        let ls: Vec<f64> = hyper.inv_ls2.iter().map(|l| l.powf(-0.5)).collect();
        assert!(ls[0] < 1.0, "the relevant parameter varies: {ls:?}");
        assert!(
            ls[1] > 10.0 * ls[0] && ls[2] > 10.0 * ls[0],
            "irrelevant ones barely do: {ls:?}"
        );
        assert!(hyper.noise < 0.01, "noise-free data: {}", hyper.noise);
        let post = Posterior::new(&axes, x, &ys, hyper).unwrap();
        let probe = [0.3, 0.9, 0.1];
        let (m, v) = post.predict(&probe);
        let truth = ((6.0f64 * 0.3).sin() - mean) / sd;
        assert!(
            (m - truth).abs() < 0.1 && v < 0.05,
            "mean {m} vs {truth}, var {v}"
        );
    }

    #[test]
    fn fitting_tells_a_sum_of_one_parameter_terms_from_an_interaction() {
        let axes = vec![Axis::Numeric; 3];
        let share = |f: &dyn Fn(&[f64]) -> f64| {
            let (x, y) = data(f, 40, 3);
            let y = super::super::warp::standardize(&y);
            fit(&axes, &x, &y, 1, &mut trial_rng(0, 0)).additive
        };
        let sum = share(&|p| (6.0 * p[0]).sin() + (5.0 * p[1]).cos() + (4.0 * p[2]).sin());
        let interaction = share(&|p| (8.0 * p[0] * p[1]).sin() * (3.0 * p[2]).cos());
        assert!(sum > 0.8, "a sum is additive: {sum}");
        assert!(interaction < 0.2, "an interaction is not: {interaction}");
    }

    #[test]
    fn prediction_gradients_match_finite_differences() {
        let axes = vec![Axis::Numeric, Axis::Numeric, Axis::Categorical(3)];
        let (x, y) = data(|p| p[0] * p[0] - p[1] + p[2], 25, 3);
        let hyper = Hyper {
            inv_ls2: vec![4.0, 9.0, 1.0],
            scale: 1.3,
            noise: 1e-4,
            additive: 0.3,
        };
        let post = Posterior::new(&axes, x, &y, hyper).unwrap();
        let p = [0.41, 0.63, 0.5];
        let (m, v, dm, dv) = post.predict_grad(&p);
        let (m2, v2) = post.predict(&p);
        assert!((m - m2).abs() < 1e-12 && (v - v2).abs() < 1e-12);
        for d in 0..2 {
            let h = 1e-6;
            let mut q = p;
            q[d] += h;
            let (mq, vq) = post.predict(&q);
            assert!(
                ((mq - m) / h - dm[d]).abs() < 1e-4 * dm[d].abs().max(1.0),
                "mean, dim {d}"
            );
            assert!(
                ((vq - v) / h - dv[d]).abs() < 1e-4 * dv[d].abs().max(1.0),
                "var, dim {d}"
            );
        }
        assert_eq!((dm[2], dv[2]), (0.0, 0.0));
        let many = post.predict_many(&[p.to_vec()]);
        assert!((many[0].0 - m).abs() < 1e-12 && (many[0].1 - v).abs() < 1e-12);
    }
}
