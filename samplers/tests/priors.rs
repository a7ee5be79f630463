//! Parameter priors: random search draws from them, the GP and TPE lean on them early
//! and recover from a wrong one.

use knob_core::{trial_rng, History, Outcome, Sampler, Scale, SearchSpace, Study};
use knob_samplers::{GpSampler, RandomSampler, TpeSampler};

/// The `logscale_lr` benchmark, optionally with priors centred at `(lr, beta)`.
fn space(prior: Option<(f64, f64)>) -> SearchSpace {
    let b = SearchSpace::builder().float("lr", 1e-5, 1.0, Scale::Log);
    let b = match prior {
        Some((lr, _)) => b.prior(lr, 0.1),
        None => b,
    };
    let b = b.float("beta", 0.9, 0.999, Scale::LogOneMinus);
    match prior {
        Some((_, beta)) => b.prior(beta, 0.1),
        None => b,
    }
    .build()
    .unwrap()
}

fn objective(p: &knob_core::Params) -> f64 {
    let (lr, beta) = (p.float("lr").unwrap(), p.float("beta").unwrap());
    (lr.log10() + 2.5).powi(2) + ((1.0 - beta).log10() + 2.2).powi(2)
}

const OPTIMUM: (f64, f64) = (0.003_162_277_660_168_379_5, 0.993_690_426_634_606_3);

fn median_best(
    sampler: impl Fn() -> Box<dyn Sampler>,
    prior: Option<(f64, f64)>,
    trials: usize,
) -> f64 {
    let mut best: Vec<f64> = (0..5)
        .map(|seed| {
            let study = Study::builder(space(prior))
                .sampler(sampler())
                .seed(seed)
                .build()
                .unwrap();
            for _ in 0..trials {
                let t = study.ask().unwrap().unwrap();
                study
                    .tell(t.number, Outcome::Complete(objective(&t.params)))
                    .unwrap();
            }
            study.best_trial().unwrap().unwrap().value.unwrap()
        })
        .collect();
    best.sort_by(f64::total_cmp);
    best[2]
}

#[test]
fn random_search_draws_from_the_prior() {
    let space = space(Some(OPTIMUM));
    let (centre, _) = space.params()[0].prior_unit().unwrap();
    let history = History::default();
    let near = (0..2000)
        .filter(|&i| {
            let u = RandomSampler
                .suggest(&space, &history, &mut trial_rng(0, i))
                .unwrap()
                .unwrap();
            (u[0] - centre).abs() < 0.1
        })
        .count();
    // One standard deviation holds 68% of a normal; a uniform draw lands there 20% of the time.
    assert!(
        (1200..1550).contains(&near),
        "{near} of 2000 within one spread"
    );
}

#[test]
fn a_right_prior_helps_early_and_a_wrong_one_is_overcome() {
    let gp = || Box::new(GpSampler::new()) as Box<dyn Sampler>;
    let tpe = || Box::new(TpeSampler::new()) as Box<dyn Sampler>;
    for (name, sampler) in [("gp", &gp as &dyn Fn() -> Box<dyn Sampler>), ("tpe", &tpe)] {
        let with = median_best(sampler, Some(OPTIMUM), 12);
        let without = median_best(sampler, None, 12);
        assert!(
            with < without,
            "{name}: with the prior {with}, without {without}"
        );
    }
    // A prior centred far from the optimum (lr 1e-4, β 0.9) only delays the GP.
    let wrong = median_best(gp, Some((1e-4, 0.9)), 40);
    assert!(wrong < 0.01, "gp with a wrong prior reached only {wrong}");
}
