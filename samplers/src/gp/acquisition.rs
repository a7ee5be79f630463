//! Acquisition functions: how much a point is worth evaluating, from the GP's mean and
//! variance there. All are maximized, and all work on losses (smaller is better).

use std::f64::consts::{FRAC_1_SQRT_2, PI, SQRT_2};

/// Which acquisition function the GP sampler maximizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Acquisition {
    /// The logarithm of expected improvement over the best loss so far, computed so
    /// that it stays finite and informative far from the incumbent, where plain EI
    /// underflows to zero and gives its optimizer nothing to climb (Ament et al., 2023).
    /// The default.
    LogEi,
    /// The lower confidence bound `-(μ - √β σ)`: larger `beta` explores more.
    Ucb {
        /// The exploration weight β.
        beta: f64,
    },
    /// The (log) probability of improving on the best loss so far: greedy.
    Pi,
}

/// `ln √(2π)`.
pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The scaled complementary error function `exp(x²) erfc(x)` for `x >= 0`.
pub(crate) fn erfcx(x: f64) -> f64 {
    if x < 25.0 {
        (x * x).exp() * libm::erfc(x)
    } else {
        // Asymptotic series; at x >= 25 its fourth term is below 1e-10 of the first.
        let x2 = x * x;
        (1.0 - 0.5 / x2 + 0.75 / (x2 * x2) - 1.875 / (x2 * x2 * x2)) / (x * PI.sqrt())
    }
}

/// `ln Φ(z)` for the standard normal CDF, accurate in both tails.
pub(crate) fn log_normal_cdf(z: f64) -> f64 {
    if z < 0.0 {
        (0.5 * erfcx(-z * FRAC_1_SQRT_2)).ln() - 0.5 * z * z
    } else {
        (-0.5 * libm::erfc(z * FRAC_1_SQRT_2)).ln_1p()
    }
}

/// `ln h(z)` with `h(z) = φ(z) + z Φ(z)`, the expected improvement of a unit normal
/// over `-z`; accurate for very negative `z`.
pub(crate) fn log_h(z: f64) -> f64 {
    if z > -1.0 {
        let pdf = (-0.5 * z * z - LN_SQRT_2PI).exp();
        let cdf = 0.5 * libm::erfc(-z * FRAC_1_SQRT_2);
        (pdf + z * cdf).ln()
    } else if z > -1e4 {
        // h(z) = φ(z) (1 - t √(π/2) erfcx(t/√2)) with t = -z; the bracket is computed
        // as 1 - exp(a) without cancellation.
        let t = -z;
        let a = (t * (PI / 2.0).sqrt() * erfcx(t / SQRT_2)).ln();
        -0.5 * t * t - LN_SQRT_2PI + log1mexp(a)
    } else {
        // h(z) ≈ φ(z) / z² (1 - 3/z²)
        let t2 = z * z;
        -0.5 * t2 - LN_SQRT_2PI - t2.ln() + (-3.0 / t2).ln_1p()
    }
}

/// `ln(1 - exp(a))` for `a < 0`.
fn log1mexp(a: f64) -> f64 {
    if a > -std::f64::consts::LN_2 {
        (-a.exp_m1()).ln()
    } else {
        (-a.exp()).ln_1p()
    }
}

impl Acquisition {
    /// The value at a point with posterior mean `mean` and variance `var`, given the
    /// best loss `best`, and its partial derivatives in the mean and the variance.
    pub(crate) fn eval(self, mean: f64, var: f64, best: f64) -> (f64, f64, f64) {
        let sd = var.sqrt();
        match self {
            Acquisition::LogEi => {
                let z = (best - mean) / sd;
                let lh = log_h(z);
                // h'(z) = Φ(z): the ratio Φ/h, in logs to survive the tails.
                let ratio = (log_normal_cdf(z) - lh).exp();
                let d_mean = -ratio / sd;
                let d_sd = 1.0 / sd - ratio * z / sd;
                (sd.ln() + lh, d_mean, d_sd / (2.0 * sd))
            }
            Acquisition::Ucb { beta } => {
                let b = beta.max(0.0).sqrt();
                (-mean + b * sd, -1.0, b / (2.0 * sd))
            }
            Acquisition::Pi => {
                let z = (best - mean) / sd;
                let lc = log_normal_cdf(z);
                // d ln Φ / dz = φ/Φ
                let mills = (-0.5 * z * z - LN_SQRT_2PI - lc).exp();
                (lc, -mills / sd, -mills * z / sd / (2.0 * sd))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(z: f64) -> f64 {
        let pdf = (-0.5 * z * z).exp() / (2.0 * PI).sqrt();
        pdf + z * 0.5 * libm::erfc(-z / SQRT_2)
    }

    #[test]
    fn log_h_agrees_with_the_direct_formula_and_stays_finite() {
        for z in [-8.0, -3.0, -1.5, -1.0, -0.5, 0.0, 0.7, 3.0] {
            assert!((log_h(z) - h(z).ln()).abs() < 1e-9, "z = {z}");
        }
        // Far in the tail the direct formula underflows; ours keeps decreasing smoothly.
        let tail: Vec<f64> = [-40.0, -400.0, -9_999.0, -10_001.0, -1e6]
            .iter()
            .map(|&z| log_h(z))
            .collect();
        assert!(tail.iter().all(|v| v.is_finite()));
        assert!(tail.windows(2).all(|w| w[1] < w[0]), "{tail:?}");
        // Just inside the switch to the asymptotic form, both forms agree.
        let z: f64 = -9_999.0;
        let asymptotic = -0.5 * z * z - LN_SQRT_2PI - (z * z).ln() + (-3.0 / (z * z)).ln_1p();
        assert!(
            (log_h(z) - asymptotic).abs() < 1e-6,
            "{} vs {asymptotic}",
            log_h(z)
        );
    }

    #[test]
    fn log_cdf_matches_in_both_tails() {
        assert!((log_normal_cdf(0.0) - 0.5f64.ln()).abs() < 1e-15);
        assert!((log_normal_cdf(-30.0) - (-454.321_126_8)).abs() < 1e-3);
        assert!(log_normal_cdf(10.0) < 0.0 && log_normal_cdf(10.0) > -1e-20);
    }

    #[test]
    fn partial_derivatives_match_finite_differences() {
        for acq in [
            Acquisition::LogEi,
            Acquisition::Ucb { beta: 2.0 },
            Acquisition::Pi,
        ] {
            for (mean, var) in [(0.3, 0.2), (2.5, 0.01), (-0.4, 1.3)] {
                let (v, dm, dv) = acq.eval(mean, var, 0.1);
                let h = 1e-7;
                let fm = (acq.eval(mean + h, var, 0.1).0 - v) / h;
                let fv = (acq.eval(mean, var + h, 0.1).0 - v) / h;
                assert!(
                    (fm - dm).abs() < 1e-4 * dm.abs().max(1.0),
                    "{acq:?} d/dmean at {mean}"
                );
                assert!(
                    (fv - dv).abs() < 1e-4 * dv.abs().max(1.0),
                    "{acq:?} d/dvar at {mean}"
                );
            }
        }
    }
}
