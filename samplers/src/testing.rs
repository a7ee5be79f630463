//! Standard test functions for samplers, each with its domain and known minimum: what
//! the conformance tests, `sampler-bench` and a custom sampler's own tests measure
//! regret on.
//!
//! ```
//! use knob_samplers::testing::TestFunction;
//! let branin = TestFunction::by_name("branin").unwrap();
//! assert_eq!(branin.space().len(), 2);
//! assert!(branin.minimum < 0.4);
//! ```

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
    objective: Objective,
}

/// How a test function reads its params.
#[derive(Debug, Clone, Copy)]
enum Objective {
    /// Every parameter is a float, read in space order.
    Vector(fn(&[f64]) -> f64),
    /// A conditional space: the function reads the params by name.
    Params(fn(&Params) -> f64),
}

impl TestFunction {
    /// The search space (parameters `x0`, `x1`, ... unless named otherwise).
    pub fn space(&self) -> SearchSpace {
        (self.space)()
    }

    /// The objective at `params`.
    pub fn eval(&self, params: &Params) -> f64 {
        match self.objective {
            Objective::Vector(f) => {
                let x: Vec<f64> = params
                    .iter()
                    .map(|(name, _)| params.float(name).expect("numeric"))
                    .collect();
                f(&x)
            }
            Objective::Params(f) => f(params),
        }
    }

    /// The six functions of the samplers issue, in a fixed order: the default set.
    pub fn all() -> &'static [TestFunction] {
        &FUNCTIONS
    }

    /// Other standard functions, to check that results carry over beyond the six.
    pub fn more() -> &'static [TestFunction] {
        &MORE
    }

    /// Functions on conditional spaces, where a parameter exists only for some values
    /// of another: `hierarchical` (a choice picks one of three sub-functions, each
    /// with parameters of its own) and `network` (1 to 4 layers, a width per layer).
    pub fn conditional() -> &'static [TestFunction] {
        &CONDITIONAL
    }

    /// The function called `name`, in any set.
    pub fn by_name(name: &str) -> Option<TestFunction> {
        FUNCTIONS
            .iter()
            .chain(&MORE)
            .chain(&CONDITIONAL)
            .copied()
            .find(|f| f.name == name)
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

/// The Hartmann family: four Gaussian wells of weights `ALPHA`, widths `a` and centres
/// `p / 10^4`, negated.
fn hartmann<const D: usize>(x: &[f64], a: &[[f64; D]; 4], p: &[[f64; D]; 4]) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..D)
                .map(|j| a[i][j] * (x[j] - 1e-4 * p[i][j]).powi(2))
                .sum();
            ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

fn hartmann6(x: &[f64]) -> f64 {
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
    hartmann(x, &A, &P)
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

fn goldstein_price(x: &[f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    let first = 1.0
        + (a + b + 1.0).powi(2)
            * (19.0 - 14.0 * a + 3.0 * a * a - 14.0 * b + 6.0 * a * b + 3.0 * b * b);
    let second = 30.0
        + (2.0 * a - 3.0 * b).powi(2)
            * (18.0 - 32.0 * a + 12.0 * a * a + 48.0 * b - 36.0 * a * b + 27.0 * b * b);
    first * second
}

fn six_hump_camel(x: &[f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    (4.0 - 2.1 * a * a + a.powi(4) / 3.0) * a * a + a * b + (-4.0 + 4.0 * b * b) * b * b
}

fn hartmann3(x: &[f64]) -> f64 {
    const A: [[f64; 3]; 4] = [
        [3.0, 10.0, 30.0],
        [0.1, 10.0, 35.0],
        [3.0, 10.0, 30.0],
        [0.1, 10.0, 35.0],
    ];
    const P: [[f64; 3]; 4] = [
        [3689.0, 1170.0, 2673.0],
        [4699.0, 4387.0, 7470.0],
        [1091.0, 8732.0, 5547.0],
        [381.0, 5743.0, 8828.0],
    ];
    hartmann(x, &A, &P)
}

fn styblinski_tang(x: &[f64]) -> f64 {
    0.5 * x
        .iter()
        .map(|v| v.powi(4) - 16.0 * v * v + 5.0 * v)
        .sum::<f64>()
}

fn levy(x: &[f64]) -> f64 {
    let w: Vec<f64> = x.iter().map(|v| 1.0 + (v - 1.0) / 4.0).collect();
    let d = w.len();
    let sin2 = |v: f64| v.sin().powi(2);
    sin2(PI * w[0])
        + w[..d - 1]
            .iter()
            .map(|wi| (wi - 1.0).powi(2) * (1.0 + 10.0 * sin2(PI * wi + 1.0)))
            .sum::<f64>()
        + (w[d - 1] - 1.0).powi(2) * (1.0 + sin2(2.0 * PI * w[d - 1]))
}

/// Other standard functions, outside the samplers issue's set, for checking that
/// results carry over (`sampler-bench --functions goldstein_price,...`).
static MORE: [TestFunction; 5] = [
    TestFunction {
        name: "goldstein_price",
        minimum: 3.0,
        space: || boxed(&[(-2.0, 2.0); 2]),
        objective: Objective::Vector(goldstein_price),
    },
    TestFunction {
        name: "six_hump_camel",
        minimum: -1.031_628_453_489_877,
        space: || boxed(&[(-3.0, 3.0), (-2.0, 2.0)]),
        objective: Objective::Vector(six_hump_camel),
    },
    TestFunction {
        name: "hartmann3",
        minimum: -3.862_782_147_820_756,
        space: || boxed(&[(0.0, 1.0); 3]),
        objective: Objective::Vector(hartmann3),
    },
    TestFunction {
        name: "styblinski_tang5",
        minimum: -39.166_165_703_771_42 * 5.0,
        space: || boxed(&[(-5.0, 5.0); 5]),
        objective: Objective::Vector(styblinski_tang),
    },
    TestFunction {
        name: "levy6",
        minimum: 0.0,
        space: || boxed(&[(-10.0, 10.0); 6]),
        objective: Objective::Vector(levy),
    },
];

static FUNCTIONS: [TestFunction; 6] = [
    TestFunction {
        name: "branin",
        minimum: 0.397_887_357_729_738,
        space: || boxed(&[(-5.0, 10.0), (0.0, 15.0)]),
        objective: Objective::Vector(branin),
    },
    TestFunction {
        name: "hartmann6",
        minimum: -3.322_368_011_415_515,
        space: || boxed(&[(0.0, 1.0); 6]),
        objective: Objective::Vector(hartmann6),
    },
    TestFunction {
        name: "rosenbrock4",
        minimum: 0.0,
        space: || boxed(&[(-5.0, 10.0); 4]),
        objective: Objective::Vector(rosenbrock),
    },
    TestFunction {
        name: "ackley5",
        minimum: 0.0,
        space: || boxed(&[(-32.768, 32.768); 5]),
        objective: Objective::Vector(ackley),
    },
    TestFunction {
        name: "lowdim10",
        minimum: 0.0,
        space: || boxed(&[(0.0, 1.0); 10]),
        objective: Objective::Vector(lowdim10),
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
        objective: Objective::Vector(logscale_lr),
    },
];

/// A choice of three branches, each with parameters of its own: branch `a` is a bowl
/// with minimum 1, `b` a narrower bowl with minimum 0 (the global one), `c` a
/// one-parameter valley with minimum 0.5. A sampler must find the right branch and
/// then tune only that branch's parameters. The best branch is also the best on
/// average (its mean over its box is 0.68, `c`'s 1.02, `a`'s 1.30), so the function
/// tests modelling, not escaping a trap.
fn hierarchical(p: &Params) -> f64 {
    let x = |name: &str| p.float(name).expect("an active float");
    match p.str("branch").expect("a branch") {
        "a" => 1.0 + (x("a0") - 0.2).powi(2) + (x("a1") - 0.7).powi(2),
        "b" => {
            2.0 * (x("b0") - 0.8).powi(2) + 2.0 * (x("b1") - 0.3).powi(2) + (x("b2") - 0.5).powi(2)
        }
        _ => 0.5 + 2.0 * (x("c0") - 0.4).abs(),
    }
}

fn hierarchical_space() -> SearchSpace {
    let unit = |b: knob_core::SpaceBuilder, name: &str, branch: &str| {
        b.float(name, 0.0, 1.0, Scale::Linear)
            .when_in("branch", [branch])
    };
    let b = SearchSpace::builder().categorical("branch", ["a", "b", "c"]);
    let b = unit(unit(b, "a0", "a"), "a1", "a");
    let b = unit(unit(unit(b, "b0", "b"), "b1", "b"), "b2", "b");
    unit(b, "c0", "c").build().expect("a valid space")
}

/// A "network" of 1 to 4 layers with a width per layer (`w0` .. `w3` in [0, 1], each
/// active only up to the chosen depth): each layer's width has its own best value,
/// and three layers are best. Minimum 0 at 3 layers with `w_i = 0.2 + 0.2 i`.
fn network(p: &Params) -> f64 {
    let layers = p.int("layers").expect("layers");
    let widths: f64 = (0..layers)
        .map(|i| {
            let w = p.float(&format!("w{i}")).expect("an active width");
            (w - (0.2 + 0.2 * i as f64)).powi(2)
        })
        .sum();
    0.15 * ((layers - 3) as f64).powi(2) + widths
}

fn network_space() -> SearchSpace {
    SearchSpace::builder()
        .int("layers", 1, 4, Scale::Linear)
        .repeated("layers", |b, i| {
            b.float(format!("w{i}"), 0.0, 1.0, Scale::Linear)
        })
        .build()
        .expect("a valid space")
}

static CONDITIONAL: [TestFunction; 2] = [
    TestFunction {
        name: "hierarchical",
        minimum: 0.0,
        space: hierarchical_space,
        objective: Objective::Params(hierarchical),
    },
    TestFunction {
        name: "network",
        minimum: 0.0,
        space: network_space,
        objective: Objective::Params(network),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_on_the_true_fronts_reach_their_hypervolume() {
        // ZDT: x1..x5 = 0 puts a point on the front; DTLZ2: x2..x5 = 0.5.
        for f in MultiObjectiveFunction::all() {
            let rest = if f.name == "dtlz2" { 0.5 } else { 0.0 };
            let grid = if f.name == "dtlz2" { 60 } else { 2000 };
            let points: Vec<Vec<f64>> = (0..=grid)
                .flat_map(|i| {
                    let second = if f.name == "dtlz2" { grid } else { 0 };
                    (0..=second).map(move |j| {
                        let mut x = vec![rest; 6];
                        x[0] = i as f64 / grid as f64;
                        x[1] = if f.name == "dtlz2" {
                            j as f64 / grid as f64
                        } else {
                            0.0
                        };
                        x
                    })
                })
                .filter(|x| f.constraints(x).iter().all(|c| *c <= 0.0))
                .map(|x| f.eval(&x))
                .collect();
            let hv = knob_core::pareto::hypervolume(&points, f.reference);
            let gap = (f.front_hypervolume - hv) / f.front_hypervolume;
            // A 61x61 grid on DTLZ2's sphere leaves a staircase 1.4% short.
            let tolerance = if f.name == "dtlz2" { 0.02 } else { 0.001 };
            assert!(
                (0.0..tolerance).contains(&gap),
                "{}: {hv} of {}",
                f.name,
                f.front_hypervolume
            );
        }
    }
    use knob_core::Value;

    /// The objective of a function on a flat space, on a vector.
    fn vector(f: &TestFunction) -> fn(&[f64]) -> f64 {
        match f.objective {
            Objective::Vector(g) => g,
            Objective::Params(_) => panic!("{} is conditional", f.name),
        }
    }

    #[test]
    fn the_known_minima_are_attained() {
        let at = |f: &str, x: &[f64]| vector(&TestFunction::by_name(f).unwrap())(x);
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
        // The extra functions: at their argmins (to within each tolerance) the known
        // minimum, and no nearby point does better.
        let argmins: [(&str, Vec<f64>, f64); 6] = [
            ("goldstein_price", vec![0.0, -1.0], 1e-12),
            ("six_hump_camel", vec![0.0898, -0.7126], 1e-6),
            ("six_hump_camel", vec![-0.0898, 0.7126], 1e-6),
            ("hartmann3", vec![0.114614, 0.555649, 0.852547], 1e-5),
            ("styblinski_tang5", vec![-2.903534; 5], 1e-6),
            ("levy6", vec![1.0; 6], 1e-12),
        ];
        for (name, x, tolerance) in argmins {
            let f = TestFunction::by_name(name).unwrap();
            assert!((at(name, &x) - f.minimum).abs() < tolerance, "{name}");
            for d in 0..x.len() {
                for step in [-1e-3, 1e-3] {
                    let mut y = x.clone();
                    y[d] += step;
                    assert!(vector(&f)(&y) > f.minimum - 1e-9, "{name} moved on {d}");
                }
            }
        }
    }

    #[test]
    fn the_conditional_functions_reach_their_minima_in_the_right_branch() {
        let at = |name: &str, point: &[(&str, Value)]| {
            let f = TestFunction::by_name(name).unwrap();
            let params = Params::from_iter(point.iter().cloned());
            let unit = f.space().to_unit(&params).unwrap();
            assert_eq!(
                f.space().from_unit(&unit).unwrap(),
                params,
                "{name}: only active params"
            );
            f.eval(&params) - f.minimum
        };
        let b = [
            ("branch", "b".into()),
            ("b0", 0.8.into()),
            ("b1", 0.3.into()),
            ("b2", 0.5.into()),
        ];
        assert!(at("hierarchical", &b).abs() < 1e-12);
        let c = [("branch", "c".into()), ("c0", 0.4.into())];
        assert_eq!(at("hierarchical", &c), 0.5);
        let best = [
            ("layers", 3.into()),
            ("w0", 0.2.into()),
            ("w1", 0.4.into()),
            ("w2", 0.6.into()),
        ];
        assert!(at("network", &best).abs() < 1e-12);
        let shallow = [("layers", 1.into()), ("w0", 0.2.into())];
        assert!(at("network", &shallow) > 0.5);
    }
}

/// A test function of several objectives (all minimized) on `[0, 1]^6`, with the
/// reference point its hypervolume is measured against and the hypervolume of its
/// true Pareto front: what multi-objective samplers are compared on.
#[derive(Debug, Clone, Copy)]
pub struct MultiObjectiveFunction {
    /// Its name on the command line and in results.
    pub name: &'static str,
    /// The reference point (one coordinate per objective).
    pub reference: &'static [f64],
    /// The hypervolume of the true front against `reference`.
    pub front_hypervolume: f64,
    objectives: fn(&[f64]) -> Vec<f64>,
    constraints: fn(&[f64]) -> Vec<f64>,
}

impl MultiObjectiveFunction {
    /// ZDT1, ZDT2 (two objectives, convex and concave fronts), DTLZ2 (three
    /// objectives, a spherical front) and ZDT1C (ZDT1 with a constraint that cuts the
    /// middle out of its front), each over six variables.
    pub fn all() -> &'static [MultiObjectiveFunction] {
        &MULTI
    }

    /// The function called `name`.
    pub fn by_name(name: &str) -> Option<MultiObjectiveFunction> {
        MULTI.iter().copied().find(|f| f.name == name)
    }

    /// Six floats `x0` to `x5` in [0, 1].
    pub fn space(&self) -> SearchSpace {
        unit_box(6)
    }

    /// The objectives at `x` (six coordinates in [0, 1]).
    pub fn eval(&self, x: &[f64]) -> Vec<f64> {
        (self.objectives)(x)
    }

    /// The constraint values at `x` (feasible when each is `<= 0`); none for an
    /// unconstrained function.
    pub fn constraints(&self, x: &[f64]) -> Vec<f64> {
        (self.constraints)(x)
    }
}

fn unconstrained(_: &[f64]) -> Vec<f64> {
    Vec::new()
}

/// ZDT1C's constraint: `x0` at least 0.2 away from 0.5.
fn middle_cut(x: &[f64]) -> Vec<f64> {
    vec![0.2 - (x[0] - 0.5).abs()]
}

/// Floats `x0`, `x1`, ... in [0, 1].
fn unit_box(dims: usize) -> SearchSpace {
    (0..dims)
        .fold(SearchSpace::builder(), |b, i| {
            b.float(format!("x{i}"), 0.0, 1.0, Scale::Linear)
        })
        .build()
        .expect("a valid box")
}

/// ZDT's distance from the front: 1 on it.
fn zdt_g(x: &[f64]) -> f64 {
    1.0 + 9.0 * x[1..].iter().sum::<f64>() / (x.len() - 1) as f64
}

fn zdt1(x: &[f64]) -> Vec<f64> {
    let g = zdt_g(x);
    vec![x[0], g * (1.0 - (x[0] / g).sqrt())]
}

fn zdt2(x: &[f64]) -> Vec<f64> {
    let g = zdt_g(x);
    vec![x[0], g * (1.0 - (x[0] / g).powi(2))]
}

fn dtlz2(x: &[f64]) -> Vec<f64> {
    let g: f64 = x[2..].iter().map(|v| (v - 0.5).powi(2)).sum();
    let (a, b) = (x[0] * PI / 2.0, x[1] * PI / 2.0);
    vec![
        (1.0 + g) * a.cos() * b.cos(),
        (1.0 + g) * a.cos() * b.sin(),
        (1.0 + g) * a.sin(),
    ]
}

static MULTI: [MultiObjectiveFunction; 4] = [
    // Front f2 = 1 - sqrt(f1) for f1 in [0, 1]: HV = 1.1·11 - ∫(1 - sqrt f) df - 0.1·0
    // = 12.1 - 1/3 = 11.767 (the strip f1 in [1, 1.1] is dominated by (1, 0) in full).
    MultiObjectiveFunction {
        name: "zdt1",
        reference: &[1.1, 11.0],
        front_hypervolume: 11.766_666_666_666_667,
        objectives: zdt1,
        constraints: unconstrained,
    },
    MultiObjectiveFunction {
        name: "zdt2",
        reference: &[1.1, 11.0],
        front_hypervolume: 11.433_333_333_333_334,
        objectives: zdt2,
        constraints: unconstrained,
    },
    // The front is the positive eighth of the unit sphere: HV = 1.1³ - π/6.
    MultiObjectiveFunction {
        name: "dtlz2",
        reference: &[1.1, 1.1, 1.1],
        front_hypervolume: 1.331 - std::f64::consts::FRAC_PI_6,
        objectives: dtlz2,
        constraints: unconstrained,
    },
    // ZDT1 with f1 in (0.3, 0.7) infeasible: over the gap the best feasible f2 is the
    // one at f1 = 0.3, so HV = 12.1 - ∫₀^0.3 (1 - √f) - 0.4 (1 - √0.3) - ∫_0.7^1 (1 - √f).
    MultiObjectiveFunction {
        name: "zdt1c",
        reference: &[1.1, 11.0],
        front_hypervolume: 11.704_858_855_453_862,
        objectives: zdt1,
        constraints: middle_cut,
    },
];
