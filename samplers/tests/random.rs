//! The random sampler drives a study end to end.

use knob_core::testing::QuadraticTrainer;
use knob_core::{trial_rng, CallbackList, History, Sampler, Scale, SearchSpace, Study, Value};
use knob_samplers::RandomSampler;

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("lr", 1e-4, 1e-1, Scale::Log)
        .float("beta", 0.9, 0.999, Scale::LogOneMinus)
        .int("units", 16, 256, Scale::Log)
        .int("layers", 1, 3, Scale::Linear)
        .categorical("act", ["relu", "tanh"])
        .build()
        .unwrap()
}

#[test]
fn suggestions_are_in_the_cube_and_deterministic() {
    let space = space();
    let history = History::default();
    let draw = |seed| {
        RandomSampler
            .suggest(&space, &history, &mut trial_rng(seed, 3))
            .unwrap()
            .unwrap()
    };
    assert_eq!(draw(1), draw(1));
    assert_ne!(draw(1), draw(2));
    for seed in 0..200 {
        let u = draw(seed);
        assert_eq!(u.len(), space.len());
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
    }
}

#[test]
fn a_study_visits_every_layer_count_and_choice() {
    let study = Study::builder(space())
        .sampler(RandomSampler::new())
        .seed(11)
        .build()
        .unwrap();
    let trainer = |_| {
        Ok(QuadraticTrainer {
            centre: 0.0,
            epochs: 1,
        })
    };
    let summary = study
        .optimize(60, 2, trainer, |_| CallbackList::new())
        .unwrap();
    assert_eq!(summary.completed, 60);
    let trials = study.trials().unwrap();
    for layers in 1..=3 {
        assert!(trials
            .iter()
            .any(|t| t.params.int("layers").unwrap() == layers));
    }
    for act in ["relu", "tanh"] {
        assert!(trials
            .iter()
            .any(|t| t.params.get("act") == Some(&Value::from(act))));
    }
}
