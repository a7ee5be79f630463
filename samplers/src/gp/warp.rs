//! Output warping: a Yeo-Johnson power transform that makes skewed, heavy-tailed
//! losses look Gaussian before the GP sees them (as HEBO does).
//!
//! A GP with Gaussian noise models a loss like Rosenbrock's, where a few points are
//! thousands of times worse than the rest, badly: the outliers set the variance and
//! the region that matters looks flat. The transform is monotone, so the best point
//! stays the best and expected improvement keeps its meaning.

/// Standardizes `y`, applies the Yeo-Johnson transform whose exponent makes the result
/// most Gaussian (by likelihood, over a grid), and standardizes again.
pub(crate) fn warp(y: &[f64]) -> Vec<f64> {
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
        .map(|i| -2.0 + 0.05 * i as f64)
        .map(|l| (log_likelihood(l), l))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(1.0, |(_, l)| l);
    standardize(
        &z.iter()
            .map(|&v| yeo_johnson(v, lambda))
            .collect::<Vec<_>>(),
    )
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
