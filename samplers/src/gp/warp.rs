//! Output warping: a Yeo-Johnson power transform that makes skewed, heavy-tailed
//! losses look Gaussian before the GP sees them (as HEBO does).
//!
//! A GP with Gaussian noise models a loss like Rosenbrock's, where a few points are
//! thousands of times worse than the rest, badly: the outliers set the variance and
//! the region that matters looks flat. The transform is monotone, so the best point
//! stays the best and expected improvement keeps its meaning.

/// The strongest compression of large values the Yeo-Johnson exponent may choose.
const LAMBDA_MIN: f64 = -2.0;

/// Skewness left after the strongest compression above which the losses are warped
/// again.
const SKEW_AGAIN: f64 = 1.5;

/// Rounds of warping at most.
const MAX_ROUNDS: usize = 4;

/// Standardizes `y`, applies the Yeo-Johnson transform whose exponent makes the result
/// most Gaussian, and standardizes again.
///
/// One round is not enough for losses that span orders of magnitude (Goldstein-Price's
/// run from 3 to 10^6): standardizing first leaves the good losses 1e-4 apart, since
/// the worst set the scale, and no exponent in the family spreads them again. So while
/// the exponent sits at its bound and the result is still strongly skewed, the result
/// is warped once more; each round rescales by what the last one left, which spreads
/// the good losses further (on Goldstein-Price, 50 trials, 40 seeds: median regret 0.23
/// against 2.5 with one round). Losses that one round makes Gaussian enough, which in
/// the benchmarks is every other function, get exactly one.
pub(crate) fn warp(y: &[f64]) -> Vec<f64> {
    let mut z = y.to_vec();
    for _ in 0..MAX_ROUNDS {
        let lambda;
        (z, lambda) = warp_once(&z);
        let skewness = z.iter().map(|v| v.powi(3)).sum::<f64>() / z.len() as f64;
        if lambda > LAMBDA_MIN || skewness < SKEW_AGAIN {
            break;
        }
    }
    z
}

/// One round of [`warp`]: the warped, standardized losses and the exponent chosen
/// (by likelihood, over a grid).
fn warp_once(y: &[f64]) -> (Vec<f64>, f64) {
    let z = standardize(y);
    let jacobian: f64 = z.iter().map(|v| v.signum() * v.abs().ln_1p()).sum();
    let n = z.len() as f64;
    let log_likelihood = |lambda: f64| {
        let t: Vec<f64> = z.iter().map(|&v| yeo_johnson(v, lambda)).collect();
        let mean = t.iter().sum::<f64>() / n;
        let var = t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        -0.5 * n * var.max(1e-300).ln() + (lambda - 1.0) * jacobian
    };
    let lambda = (0..=80)
        .map(|i| LAMBDA_MIN + 0.05 * i as f64)
        .map(|l| (log_likelihood(l), l))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(1.0, |(_, l)| l);
    let warped: Vec<f64> = z.iter().map(|&v| yeo_johnson(v, lambda)).collect();
    (standardize(&warped), lambda)
}

/// Subtracts the mean and divides by the standard deviation (1 when it is zero).
pub(crate) fn standardize(y: &[f64]) -> Vec<f64> {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let sd = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let sd = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
    y.iter().map(|v| (v - mean) / sd).collect()
}

fn yeo_johnson(y: f64, lambda: f64) -> f64 {
    if y >= 0.0 {
        if lambda.abs() < 1e-9 {
            y.ln_1p()
        } else {
            ((y + 1.0).powf(lambda) - 1.0) / lambda
        }
    } else if (lambda - 2.0).abs() < 1e-9 {
        -(-y).ln_1p()
    } else {
        -((1.0 - y).powf(2.0 - lambda) - 1.0) / (2.0 - lambda)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warping_keeps_order_and_tames_outliers() {
        let y = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 4000.0];
        let w = warp(&y);
        assert!(w.windows(2).all(|p| p[0] < p[1]), "monotone: {w:?}");
        // Standardized, the outlier sits 2.4 deviations out and squeezes the rest
        // together; warped, the good points spread over a useful range.
        let plain = standardize(&y);
        assert!(
            w[5] - w[0] > 5.0 * (plain[5] - plain[0]),
            "{w:?} vs {plain:?}"
        );
    }

    #[test]
    fn losses_spanning_orders_of_magnitude_are_warped_again() {
        // From 1 to 10^6, most of them near the bottom, as a heavy-tailed loss's are
        // once the sampler has found its good region.
        let y: Vec<f64> = (0..50)
            .map(|i| 10f64.powf(6.0 * (i as f64 / 49.0).powi(3)))
            .collect();
        let once = warp_once(&y).0;
        let w = warp(&y);
        assert!(w.windows(2).all(|p| p[0] < p[1]), "monotone: {w:?}");
        // The ten best losses (1 to 13) get spread much further apart.
        assert!(
            w[9] - w[0] > 10.0 * (once[9] - once[0]),
            "{w:?} vs {once:?}"
        );
    }

    #[test]
    fn moderately_skewed_losses_get_one_round() {
        // A quadratic bowl sampled uniformly: skewed, but not across magnitudes.
        let y: Vec<f64> = (0..50).map(|i| (i as f64 / 49.0 - 0.3).powi(2)).collect();
        assert_eq!(warp(&y), warp_once(&y).0);
    }

    #[test]
    fn gaussian_data_is_left_nearly_alone() {
        let y: Vec<f64> = (0..200)
            .map(|i| ((i as f64 + 0.5) / 200.0 - 0.5) * 3.0)
            .collect();
        let w = warp(&y);
        let s = standardize(&y);
        let worst = w
            .iter()
            .zip(&s)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 0.15, "{worst}");
    }
}
