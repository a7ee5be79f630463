//! Time one suggestion of each sampler after 10, 50, 100, 200 (and more) complete
//! trials, on histories of random points of a test function. One JSON line per cell,
//! with the median of `--repeats` suggestions (default 5).
//!
//! ```text
//! suggest-latency [--samplers gp,tpe] [--functions hartmann6] [--trials 10,50,100,200]
//! ```

use std::time::Instant;

use knob_benches::regret::quantile;
use knob_core::{trial_rng, Outcome, Scale, SearchSpace, Study};
use knob_samplers::by_name_for;
use knob_samplers::testing::TestFunction;
use knob_samplers::RandomSampler;

type Objective = dyn Fn(&knob_core::Params) -> f64;

fn fail(message: &str) -> ! {
    eprintln!("suggest-latency: {message}");
    std::process::exit(2);
}

/// A 10-parameter space of every kind, for the "10 parameters" latency target.
fn ten_params() -> SearchSpace {
    (0..10)
        .fold(SearchSpace::builder(), |b, i| match i % 3 {
            0 => b.float(format!("f{i}"), 1e-5, 1.0, Scale::Log),
            1 => b.int(format!("i{i}"), 1, 512, Scale::Log),
            _ => b.float(format!("x{i}"), 0.0, 1.0, Scale::Linear),
        })
        .build()
        .expect("valid")
}

fn main() {
    let mut samplers = vec!["gp".to_owned(), "tpe".to_owned()];
    let mut functions = vec!["hartmann6".to_owned(), "ten_params".to_owned()];
    let mut trials = vec![10usize, 50, 100, 200];
    let mut repeats = 5usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| fail(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--samplers" => samplers = value.split(',').map(str::to_owned).collect(),
            "--functions" => functions = value.split(',').map(str::to_owned).collect(),
            "--trials" => {
                trials = value
                    .split(',')
                    .map(|t| t.parse().unwrap_or_else(|_| fail("--trials takes numbers")))
                    .collect()
            }
            "--repeats" => {
                repeats = value
                    .parse()
                    .unwrap_or_else(|_| fail("--repeats takes a number"))
            }
            other => fail(&format!("unknown flag {other}")),
        }
    }
    for function in &functions {
        let (space, objective): (SearchSpace, Box<Objective>) = if function == "ten_params" {
            let space = ten_params();
            let s2 = space.clone();
            (
                space,
                Box::new(move |p| {
                    s2.to_unit(p)
                        .unwrap()
                        .iter()
                        .map(|u| (u - 0.3).powi(2))
                        .sum()
                }),
            )
        } else {
            let f = TestFunction::by_name(function)
                .unwrap_or_else(|| fail(&format!("unknown function {function}")));
            (f.space(), Box::new(move |p| f.eval(p)))
        };
        for &n in &trials {
            // One random history per cell, shared by every sampler.
            let history = {
                let study = Study::builder(space.clone())
                    .sampler(RandomSampler::new())
                    .seed(1)
                    .build()
                    .unwrap();
                for _ in 0..n {
                    let t = study.ask().unwrap().unwrap();
                    study
                        .tell(t.number, Outcome::Complete(objective(&t.params)))
                        .unwrap();
                }
                study.history().unwrap()
            };
            for name in &samplers {
                if let Err(e) = by_name_for(name, n, space.len()) {
                    fail(&e.to_string());
                }
                let mut times = Vec::new();
                for r in 0..repeats {
                    let mut sampler = by_name_for(name, n, space.len()).expect("known");
                    let mut rng = trial_rng(r as u64, n as u64);
                    let start = Instant::now();
                    sampler
                        .suggest(&space, &history, &mut rng)
                        .expect("a suggestion");
                    times.push(start.elapsed().as_secs_f64() * 1e3);
                }
                println!(
                    r#"{{"function": "{function}", "dims": {}, "sampler": "{name}", "trials": {n}, "median_ms": {:.3}, "min_ms": {:.3}}}"#,
                    space.len(),
                    quantile(&times, 0.5),
                    quantile(&times, 0.0)
                );
            }
        }
    }
}
