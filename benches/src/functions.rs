//! Standard test functions for samplers, each with its domain and known minimum.

use std::f64::consts::{E, PI};

use knob_core::{Params, Scale, SearchSpace};

/// A test function: a search space, an objective to minimize and its minimum.
#[derive(Debug, Clone, Copy)]
pub struct TestFunction {
    /// Its name on the command line and in results.
    pub name: &'static str,
    /// The known global minimum, for regret.
    pub minimum: f64,
    space: fn() -> SearchSpace,
    objective: fn(&[f64]) -> f64,
}

impl TestFunction {
    /// The search space (parameters `x0`, `x1`, ... unless named otherwise).
    pub fn space(&self) -> SearchSpace {
        (self.space)()
    }

    /// The objective at `params` (read in space order).
    pub fn eval(&self, params: &Params) -> f64 {
        let x: Vec<f64> = params
            .iter()
            .map(|(name, _)| params.float(name).expect("numeric"))
            .collect();
        (self.objective)(&x)
    }

    /// Every function, in a fixed order.
    pub fn all() -> &'static [TestFunction] {
        &FUNCTIONS
    }

    /// The function called `name`.
    pub fn by_name(name: &str) -> Option<TestFunction> {
        FUNCTIONS.iter().copied().find(|f| f.name == name)
    }
}

fn boxed(bounds: &[(f64, f64)]) -> SearchSpace {
    bounds
        .iter()
        .enumerate()
        .fold(SearchSpace::builder(), |b, (i, &(lo, hi))| {
            b.float(format!("x{i}"), lo, hi, Scale::Linear)
        })
        .build()
        .expect("valid bounds")
}

fn branin(x: &[f64]) -> f64 {
    let (b, c, t) = (5.1 / (4.0 * PI * PI), 5.0 / PI, 1.0 / (8.0 * PI));
    (x[1] - b * x[0] * x[0] + c * x[0] - 6.0).powi(2) + 10.0 * (1.0 - t) * x[0].cos() + 10.0
}

fn hartmann6(x: &[f64]) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ];
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..6)
                .map(|j| A[i][j] * (x[j] - 1e-4 * P[i][j]).powi(2))
                .sum();
            ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

fn ackley(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let squares = x.iter().map(|v| v * v).sum::<f64>() / n;
    let cosines = x.iter().map(|v| (2.0 * PI * v).cos()).sum::<f64>() / n;
    -20.0 * (-0.2 * squares.sqrt()).exp() - cosines.exp() + 20.0 + E
}

fn lowdim10(x: &[f64]) -> f64 {
    10.0 * (x[0] - 0.3).powi(2)
        + 10.0 * (x[1] - 0.7).powi(2)
        + 0.01 * x[2..].iter().map(|v| (v - 0.5).powi(2)).sum::<f64>()
}

fn logscale_lr(x: &[f64]) -> f64 {
    (x[0].log10() + 2.5).powi(2) + ((1.0 - x[1]).log10() + 2.2).powi(2)
}

static FUNCTIONS: [TestFunction; 6] = [
    TestFunction {
        name: "branin",
        minimum: 0.397_887_357_729_738,
        space: || boxed(&[(-5.0, 10.0), (0.0, 15.0)]),
        objective: branin,
    },
    TestFunction {
        name: "hartmann6",
        minimum: -3.322_368_011_415_515,
        space: || boxed(&[(0.0, 1.0); 6]),
        objective: hartmann6,
    },
    TestFunction {
        name: "rosenbrock4",
        minimum: 0.0,
        space: || boxed(&[(-5.0, 10.0); 4]),
        objective: rosenbrock,
    },
    TestFunction {
        name: "ackley5",
        minimum: 0.0,
        space: || boxed(&[(-32.768, 32.768); 5]),
        objective: ackley,
    },
    TestFunction {
        name: "lowdim10",
        minimum: 0.0,
        space: || boxed(&[(0.0, 1.0); 10]),
        objective: lowdim10,
    },
    TestFunction {
        name: "logscale_lr",
        minimum: 0.0,
        space: || {
            SearchSpace::builder()
                .float("lr", 1e-5, 1.0, Scale::Log)
                .float("beta", 0.9, 0.999, Scale::LogOneMinus)
                .build()
                .expect("valid bounds")
        },
        objective: logscale_lr,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_minima_are_attained() {
        let at = |f: &str, x: &[f64]| (TestFunction::by_name(f).unwrap().objective)(x);
        let branin_min = TestFunction::by_name("branin").unwrap().minimum;
        for x in [[-PI, 12.275], [PI, 2.275], [9.42478, 2.475]] {
            assert!((at("branin", &x) - branin_min).abs() < 1e-5);
        }
        let h = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573];
        assert!(
            (at("hartmann6", &h) - TestFunction::by_name("hartmann6").unwrap().minimum).abs()
                < 1e-4
        );
        assert_eq!(at("rosenbrock4", &[1.0; 4]), 0.0);
        assert!(at("ackley5", &[0.0; 5]).abs() < 1e-12);
        let mut l = [0.5; 10];
        (l[0], l[1]) = (0.3, 0.7);
        assert_eq!(at("lowdim10", &l), 0.0);
        assert!(at("logscale_lr", &[10f64.powf(-2.5), 1.0 - 10f64.powf(-2.2)]) < 1e-20);
    }
}
