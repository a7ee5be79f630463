//! The GP's lengthscales rank parameters by importance.

use knob_core::{History, Outcome, Scale, SearchSpace, Study};
use knob_samplers::{GpSampler, RandomSampler};

#[test]
fn gp_importance_ranks_the_parameter_that_matters_first() {
    let space = SearchSpace::builder()
        .float("matters", 0.0, 1.0, Scale::Linear)
        .float("idle", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    let study = Study::builder(space.clone())
        .sampler(RandomSampler)
        .seed(2)
        .build()
        .unwrap();
    for _ in 0..25 {
        let t = study.ask().unwrap().unwrap();
        let x = t.params.float("matters").unwrap();
        study
            .tell(t.number, Outcome::Complete((6.0 * x).sin()))
            .unwrap();
    }
    let history = study.history().unwrap();
    let ranking = GpSampler::new().importance(&space, &history).unwrap();
    assert_eq!(ranking[0].0, "matters", "{ranking:?}");
    assert!(ranking[0].1 > 0.9, "{ranking:?}");
    assert!(GpSampler::new()
        .importance(&space, &History::default())
        .is_none());
}
