//! The unit-cube map, checked on random domains, and the spread each scale gives.

use knob_core::{trial_rng, Domain, Scale, SearchSpace, Value};
use proptest::prelude::*;
use rand::Rng;

fn float_domain() -> impl Strategy<Value = Domain> {
    prop_oneof![
        (-1e6..1e6f64, 1e-6..1e6f64).prop_map(|(low, width)| Domain::Float {
            low,
            high: low + width,
            scale: Scale::Linear,
        }),
        (-30.0..30.0f64, 0.01..20.0f64).prop_map(|(e, decades)| Domain::Float {
            low: 10f64.powf(e),
            high: 10f64.powf(e + decades),
            scale: Scale::Log,
        }),
        (1e-6..0.9f64, 0.01..0.999f64).prop_map(|(low, frac)| Domain::Float {
            low,
            high: low + (1.0 - low) * frac,
            scale: Scale::LogOneMinus,
        }),
    ]
}

fn discrete_domain() -> impl Strategy<Value = Domain> {
    prop_oneof![
        (-1000i64..1000, 1i64..500).prop_map(|(low, width)| Domain::Int {
            low,
            high: low + width,
            scale: Scale::Linear,
        }),
        (1i64..1000, 1i64..100_000).prop_map(|(low, width)| Domain::Int {
            low,
            high: low + width,
            scale: Scale::Log,
        }),
        (1usize..12).prop_map(|k| Domain::Categorical {
            choices: (0..k).map(|i| Value::Str(format!("c{i}"))).collect(),
        }),
    ]
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Float(x) => *x,
        other => panic!("expected a float, got {other:?}"),
    }
}

proptest! {
    #[test]
    fn floats_round_trip_through_the_cube(domain in float_domain(), u in 0.0..=1.0f64) {
        let value = domain.from_unit(u);
        let Domain::Float { low, high, .. } = domain else { unreachable!() };
        let x = as_f64(&value);
        prop_assert!(x >= low && x <= high, "{x} outside [{low}, {high}]");
        let back = domain.to_unit(&value).expect("a value from the domain maps back");
        prop_assert!((back - u).abs() < 1e-6, "u {u} came back as {back}");
        let again = as_f64(&domain.from_unit(back));
        prop_assert!((again - x).abs() <= 1e-9 * x.abs().max(high - low), "{x} became {again}");
    }

    #[test]
    fn discrete_values_round_trip_exactly(domain in discrete_domain(), u in 0.0..=1.0f64) {
        let value = domain.from_unit(u);
        let back = domain.to_unit(&value).expect("a value from the domain maps back");
        prop_assert!((0.0..=1.0).contains(&back));
        prop_assert_eq!(domain.from_unit(back), value);
    }

    #[test]
    fn every_integer_of_a_small_range_is_reachable(low in -5i64..5, width in 1i64..6) {
        let domain = Domain::Int { low, high: low + width, scale: Scale::Linear };
        for i in low..=low + width {
            let u = domain.to_unit(&Value::Int(i)).unwrap();
            prop_assert_eq!(domain.from_unit(u), Value::Int(i));
        }
    }
}

fn share(space: &SearchSpace, n: usize, pred: impl Fn(f64) -> bool) -> f64 {
    let mut rng = trial_rng(12345, 0);
    let hits = (0..n)
        .filter(|_| {
            let params = space.from_unit(&[rng.gen::<f64>()]).unwrap();
            pred(params.float("p").unwrap())
        })
        .count();
    hits as f64 / n as f64
}

// With 20000 draws the standard error of a share near 0.5 is 0.0035: 0.02 is over five.
const N: usize = 20_000;
const TOL: f64 = 0.02;

#[test]
fn log_scale_puts_half_the_samples_below_the_geometric_midpoint() {
    let space = SearchSpace::builder()
        .float("p", 1e-4, 1e-1, Scale::Log)
        .build()
        .unwrap();
    let midpoint = (1e-4f64 * 1e-1).sqrt();
    let below = share(&space, N, |x| x < midpoint);
    assert!((below - 0.5).abs() < TOL, "{below}");
    // Linear sampling of the same range would put only 3% below it.
    let linear = SearchSpace::builder()
        .float("p", 1e-4, 1e-1, Scale::Linear)
        .build()
        .unwrap();
    assert!(share(&linear, N, |x| x < midpoint) < 0.05);
}

#[test]
fn log_one_minus_puts_half_the_samples_above_0_99() {
    let space = SearchSpace::builder()
        .float("p", 0.9, 0.999, Scale::LogOneMinus)
        .build()
        .unwrap();
    let above = share(&space, N, |x| x > 0.99);
    assert!((above - 0.5).abs() < TOL, "{above}");
    let decade = share(&space, N, |x| x > 0.9 && x < 0.99);
    assert!((decade - 0.5).abs() < TOL, "{decade}");
}

#[test]
fn integers_share_the_cube_equally() {
    let space = SearchSpace::builder()
        .int("p", 2, 4, Scale::Linear)
        .build()
        .unwrap();
    for value in 2..=4 {
        let s = share(&space, N, |x| x == value as f64);
        assert!((s - 1.0 / 3.0).abs() < TOL, "value {value}: {s}");
    }
}
