//! A study warm-started from an earlier study's journal uses its trials as evidence.

use knob_core::{Direction, Outcome, Study};
use knob_samplers::testing::TestFunction;
use knob_samplers::GpSampler;

#[test]
fn the_gp_starts_from_the_earlier_study() {
    let dir = tempfile::tempdir().unwrap();
    let f = TestFunction::by_name("branin").unwrap();
    let (mut warm_total, mut cold_total) = (0.0, 0.0);
    for seed in 0..5 {
        // An earlier study of 20 trials.
        let earlier = dir.path().join(format!("earlier-{seed}.jsonl"));
        let study = Study::builder(f.space())
            .sampler(GpSampler::new())
            .seed(100 + seed)
            .journal(&earlier)
            .build()
            .unwrap();
        for _ in 0..20 {
            let t = study.ask().unwrap().unwrap();
            study
                .tell(t.number, Outcome::Complete(f.eval(&t.params)))
                .unwrap();
        }
        drop(study);

        let first = |warm: bool| {
            let mut b = Study::builder(f.space())
                .sampler(GpSampler::new())
                .seed(seed);
            if warm {
                b = b.warm_start(&earlier);
            }
            let study = b.build().unwrap();
            assert_eq!(
                study.history().unwrap().prior().len(),
                if warm { 20 } else { 0 }
            );
            let t = study.ask().unwrap().unwrap();
            assert_eq!(
                t.number, 0,
                "earlier trials are evidence, not trials of this study"
            );
            (t.params.clone(), f.eval(&t.params))
        };
        let (warm_params, warm) = first(true);
        let (cold_params, cold) = first(false);
        assert_ne!(warm_params, cold_params, "seed {seed}");
        warm_total += warm;
        cold_total += cold;
    }
    assert!(
        warm_total < cold_total,
        "first suggestions: warm {warm_total} vs cold {cold_total} in total"
    );
}

#[test]
fn a_warm_start_from_the_opposite_direction_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = TestFunction::by_name("branin").unwrap();
    let earlier = dir.path().join("earlier.jsonl");
    drop(
        Study::builder(f.space())
            .sampler(GpSampler::new())
            .journal(&earlier)
            .build()
            .unwrap(),
    );
    let e = Study::builder(f.space())
        .sampler(GpSampler::new())
        .direction(Direction::Maximize)
        .warm_start(&earlier)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("earlier.jsonl") && e.contains("warm start"),
        "{e}"
    );
    let missing = Study::builder(f.space())
        .sampler(GpSampler::new())
        .warm_start(dir.path().join("none.jsonl"))
        .build();
    assert!(missing.err().unwrap().to_string().contains("no journal"));
}
