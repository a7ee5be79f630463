//! Elementwise maths that vectorizes: the kernels of the GP and the densities of the
//! TPE are evaluated hundreds of thousands of times per suggestion, and a library call
//! per value keeps a loop from running several values at a time.

/// `1/12!, 1/11!, ..., 1/1!, 1/0!`: the Taylor series of `exp`, highest power first.
const INVERSE_FACTORIALS: [f64; 13] = [
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    1.0 / 2.0,
    1.0,
    1.0,
];

/// `exp(x)` for `x <= 0`, to within a few units in the last place (and a value below
/// 1e-307 under -708), without a library call, so a loop over it vectorizes.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f64) -> f64 {
    // To the 12th power: the next term is below 2e-16.
    exp_series(x, &INVERSE_FACTORIALS)
}

/// [`exp_nonpositive`] to a relative error under 1e-8, in less time: enough to rank
/// candidates by density ratios.
#[inline(always)]
pub(crate) fn exp_nonpositive_coarse(x: f64) -> f64 {
    // To the 7th power: the next term is below 6e-9.
    exp_series(x, &INVERSE_FACTORIALS[5..])
}

/// `exp(x)` for `x <= 0` as `2^k exp(f)`, where `x = k ln 2 + f` with integer `k` and
/// `|f| <= ln 2 / 2`, and `exp(f)` is the polynomial with `coefficients` (highest
/// power first).
#[inline(always)]
fn exp_series(x: f64, coefficients: &[f64]) -> f64 {
    const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer
    let x = x.max(-708.0);
    let shifted = x * std::f64::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    // ln 2 in two parts (the first exact in few bits), so k ln 2 is subtracted exactly.
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let f = (x - k * LN2_HI) - k * LN2_LO;
    let p = coefficients.iter().fold(0.0, |p, c| p * f + c);
    // The low bits of `shifted` hold k; put k + 1023 into a double's exponent field.
    let k_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    p * f64::from_bits(k_bits.wrapping_add(1023) << 52)
}

/// `√5`.
const SQRT5: f64 = 2.236_067_977_499_79;

/// The Matérn-5/2 correlation at each squared scaled distance `r2[i]`, into `k[i]`, and
/// the factor `g[i]` with `∂k/∂(r²) = -g/2`, which every derivative needs.
pub(crate) fn matern(r2: &[f64], k: &mut [f64], g: &mut [f64]) {
    for ((&r2, k), g) in r2.iter().zip(k.iter_mut()).zip(g.iter_mut()) {
        let r2 = r2.max(0.0);
        let r = r2.sqrt();
        let e = exp_nonpositive(-SQRT5 * r);
        *k = (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e;
        *g = 5.0 / 3.0 * (1.0 + SQRT5 * r) * e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exponential_matches_the_library_one() {
        for i in 0..=200_000 {
            let x = -720.0 * (i as f64 / 200_000.0).powi(3);
            let (fast, exact) = (exp_nonpositive(x), x.exp());
            if x > -708.0 {
                assert!(
                    (fast / exact - 1.0).abs() < 2e-15,
                    "exp({x}): {fast} vs {exact}"
                );
            } else {
                assert!(fast < 1e-307, "exp({x}): {fast}");
            }
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
    }

    #[test]
    fn the_coarse_exponential_is_close_enough() {
        for i in 0..=20_000 {
            let x = -700.0 * (i as f64 / 20_000.0).powi(3);
            let (coarse, exact) = (exp_nonpositive_coarse(x), x.exp());
            assert!(
                (coarse / exact - 1.0).abs() < 1e-8,
                "exp({x}): {coarse} vs {exact}"
            );
        }
    }

    #[test]
    fn the_matern_kernel_and_its_factor() {
        let r2 = [0.0, 0.04, 1.0, 9.0];
        let (mut k, mut g) = ([0.0; 4], [0.0; 4]);
        matern(&r2, &mut k, &mut g);
        for i in 0..4 {
            let r = r2[i].sqrt();
            let e = (-SQRT5 * r).exp();
            assert!((k[i] - (1.0 + SQRT5 * r + 5.0 / 3.0 * r2[i]) * e).abs() < 1e-15);
            // -g/2 is the derivative in r²: check by finite differences.
            let h = 1e-7;
            let (mut kh, mut gh) = ([0.0], [0.0]);
            matern(&[r2[i] + h], &mut kh, &mut gh);
            assert!(((kh[0] - k[i]) / h + g[i] / 2.0).abs() < 1e-6, "{i}");
        }
        assert_eq!(k[0], 1.0);
    }
}
