//! A small box-constrained quasi-Newton minimizer, for the GP's kernel fit and for
//! polishing its acquisition function.
//!
//! Limited-memory BFGS directions, projected onto the box, with a backtracking
//! (Armijo) line search along the projected path. It is not a full L-BFGS-B, but on the
//! smooth, low-dimensional problems here it converges in tens of iterations.

/// Minimizes `f` from `x0` inside `[lower, upper]` (per coordinate); `f` returns the
/// value and writes the gradient. Returns the best point and its value.
pub(crate) fn minimize(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    max_iter: usize,
) -> (Vec<f64>, f64) {
    const MEMORY: usize = 8;
    let n = x0.len();
    let project = |x: &mut [f64]| {
        for i in 0..n {
            x[i] = x[i].clamp(lower[i], upper[i]);
        }
    };
    let mut x = x0.to_vec();
    project(&mut x);
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    if !fx.is_finite() {
        return (x, fx);
    }
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::with_capacity(MEMORY);
    let (mut x_new, mut g_new) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..max_iter {
        // Coordinates pinned at a bound with the gradient pushing outward stay put.
        let free: Vec<bool> = (0..n)
            .map(|i| !((x[i] <= lower[i] && g[i] > 0.0) || (x[i] >= upper[i] && g[i] < 0.0)))
            .collect();
        let pg_norm: f64 = (0..n)
            .filter(|&i| free[i])
            .map(|i| g[i] * g[i])
            .sum::<f64>()
            .sqrt();
        if pg_norm < 1e-6 {
            break;
        }
        // Two-loop recursion for the quasi-Newton direction on the free coordinates.
        let mut d: Vec<f64> = (0..n).map(|i| if free[i] { -g[i] } else { 0.0 }).collect();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &d);
            for i in 0..n {
                d[i] -= a * y[i];
            }
            alphas.push(a);
        }
        if let Some((s, y, _)) = history.last() {
            let scale = dot(s, y) / dot(y, y);
            d.iter_mut().for_each(|v| *v *= scale);
        } else {
            let scale = 1.0 / pg_norm.max(1.0);
            d.iter_mut().for_each(|v| *v *= scale);
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(y, &d);
            for i in 0..n {
                d[i] += (a - b) * s[i];
            }
        }
        for i in 0..n {
            if !free[i] {
                d[i] = 0.0;
            }
        }
        if dot(&d, &g) >= 0.0 {
            // Not a descent direction: fall back to steepest descent, forget curvature.
            history.clear();
            d = (0..n)
                .map(|i| if free[i] { -g[i] / pg_norm } else { 0.0 })
                .collect();
        }
        // Backtracking along the projected path.
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            for i in 0..n {
                x_new[i] = x[i] + step * d[i];
            }
            project(&mut x_new);
            let f_new = f(&x_new, &mut g_new);
            let decrease: f64 = (0..n).map(|i| g[i] * (x_new[i] - x[i])).sum();
            if f_new.is_finite() && f_new <= fx + 1e-4 * decrease {
                let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
                let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
                let sy = dot(&s, &y);
                if sy > 1e-12 {
                    if history.len() == MEMORY {
                        history.remove(0);
                    }
                    history.push((s, y, 1.0 / sy));
                }
                let improvement = fx - f_new;
                x.copy_from_slice(&x_new);
                g.copy_from_slice(&g_new);
                fx = f_new;
                accepted = improvement > 1e-9 * fx.abs().max(1.0);
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    (x, fx)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_banana_and_respects_bounds() {
        let rosen = |x: &[f64], g: &mut [f64]| {
            g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
            g[1] = 200.0 * (x[1] - x[0] * x[0]);
            (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
        };
        let (x, fx) = minimize(rosen, &[-1.2, 1.0], &[-2.0; 2], &[2.0; 2], 500);
        assert!(fx < 1e-8 && (x[0] - 1.0).abs() < 1e-3, "{x:?} {fx}");
        // With the optimum outside the box, it stops on the boundary.
        let (x, _) = minimize(rosen, &[0.0, 0.0], &[-2.0; 2], &[0.5, 2.0], 500);
        assert!(
            (x[0] - 0.5).abs() < 1e-9 && (x[1] - 0.25).abs() < 1e-3,
            "{x:?}"
        );
    }
}
