//! On a noisy objective the GP recommends the trial with the best posterior mean, whose
//! true value beats that of the trial with the best noisy observation; on a
//! deterministic one it leaves the pick to the best observation.

use knob_core::{Outcome, Study, Trial};
use knob_samplers::testing::TestFunction;
use knob_samplers::GpSampler;
use rand::{Rng, SeedableRng};

/// Runs a GP study of `trials` on hartmann6 with Gaussian noise of sd `noise` on each
/// evaluation; returns the true values of the best-observed and recommended trials.
fn run(seed: u64, trials: usize, noise: f64) -> (f64, f64, bool) {
    let function = TestFunction::by_name("hartmann6").unwrap();
    let study = Study::builder(function.space())
        .sampler(GpSampler::new())
        .seed(seed)
        .build()
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..trials {
        let t = study.ask().unwrap().unwrap();
        let draw: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
        let value = function.eval(&t.params) + noise * draw;
        study.tell(t.number, Outcome::Complete(value)).unwrap();
    }
    let truth = |t: Trial| function.eval(&t.params);
    let best = study.best_trial().unwrap().unwrap();
    let recommended = study.recommend().unwrap().unwrap();
    let differs = recommended.number != best.number;
    (truth(best), truth(recommended), differs)
}

#[test]
fn the_recommendation_beats_the_best_observation_on_a_noisy_objective() {
    // hartmann6 spans about 3.3; the noise (sd 0.3) is a tenth of that. Over 30 seeds
    // (measured): the pick differed in 15 runs, the recommendation was truly better in
    // 10 of them, and the mean true value was -2.217 against -2.196.
    let seeds = 30;
    let (mut observed, mut recommended) = (0.0, 0.0);
    let (mut differed, mut better) = (0, 0);
    for seed in 0..seeds {
        let (b, r, d) = run(seed, 40, 0.3);
        observed += b / seeds as f64;
        recommended += r / seeds as f64;
        differed += usize::from(d);
        better += usize::from(r < b);
    }
    assert!(
        differed >= seeds as usize / 3,
        "the model found noise in {differed} of {seeds} runs"
    );
    assert!(
        2 * better > differed,
        "truly better in {better} of {differed} runs"
    );
    assert!(
        recommended < observed,
        "mean true value: recommended {recommended:.3}, best observed {observed:.3}"
    );
}

#[test]
fn on_a_deterministic_objective_the_best_observation_is_recommended() {
    for seed in 0..4 {
        let (b, r, differs) = run(seed, 30, 0.0);
        assert!(!differs, "seed {seed}: recommended {r}, best {b}");
    }
}
