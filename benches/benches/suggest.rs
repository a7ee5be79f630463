//! Criterion micro-benchmarks: one suggestion of each model-based sampler after 10, 50,
//! 100 and 200 complete trials of hartmann6 (random points, the same for every sampler).
//!
//! `cargo bench -p knob-benches --bench suggest`

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use knob_core::{trial_rng, History, Outcome, Sampler, Study};
use knob_samplers::testing::TestFunction;
use knob_samplers::{GpSampler, RandomSampler, TpeSampler};

fn history(trials: usize) -> History {
    let f = TestFunction::by_name("hartmann6").expect("a known function");
    let study = Study::builder(f.space())
        .sampler(RandomSampler::new())
        .seed(1)
        .build()
        .expect("valid");
    for _ in 0..trials {
        let t = study.ask().expect("ask").expect("random never runs out");
        study
            .tell(t.number, Outcome::Complete(f.eval(&t.params)))
            .expect("tell");
    }
    study.history().expect("history")
}

fn suggest(c: &mut Criterion) {
    let space = TestFunction::by_name("hartmann6").expect("known").space();
    let mut group = c.benchmark_group("suggest/hartmann6");
    group.sample_size(10);
    for trials in [10, 50, 100, 200] {
        let h = history(trials);
        for name in ["gp", "tpe"] {
            group.bench_with_input(BenchmarkId::new(name, trials), &h, |b, h| {
                let mut sampler: Box<dyn Sampler> = match name {
                    "gp" => Box::new(GpSampler::new()),
                    _ => Box::new(TpeSampler::new()),
                };
                b.iter(|| {
                    sampler
                        .suggest(&space, h, &mut trial_rng(0, trials as u64))
                        .expect("a suggestion")
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, suggest);
criterion_main!(benches);
