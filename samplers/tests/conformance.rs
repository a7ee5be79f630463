//! One suite that every sampler must pass.
//!
//! - deterministic for a seed and history;
//! - suggestions inside the unit cube, and integers and choices on their values;
//! - two workers asking at once (a pending trial) get different points;
//! - a study resumed from its journal makes the same next suggestion;
//! - model-based samplers model each parameter by its own identity, and beat random
//!   search at equal budget where they should (lowdim10, hartmann6, and the conditional
//!   hierarchical and network), over seeds;
//! - in a conditional space, a trial holds exactly its active parameters, and the
//!   proposals are deterministic;
//! - in a small discrete space, no configuration runs twice while one is untried.

use knob_core::{
    trial_rng, Domain, History, Outcome, Sampler, Scale, SearchSpace, Study, TrialState, Value,
};
use knob_samplers::testing::TestFunction;
use knob_samplers::NAMES as ALL;

const MODEL_BASED: &[&str] = &["zoom", "gp", "tpe"];

fn sampler(name: &str) -> Box<dyn Sampler> {
    knob_samplers::by_name(name).unwrap()
}

/// A study of `space` driven by the sampler called `name`.
fn study(space: SearchSpace, name: &str, seed: u64) -> Study {
    Study::builder(space)
        .sampler(sampler(name))
        .seed(seed)
        .build()
        .unwrap()
}

/// A space with every kind of parameter.
fn mixed_space() -> SearchSpace {
    SearchSpace::builder()
        .float("lr", 1e-4, 1e-1, Scale::Log)
        .float("beta", 0.9, 0.999, Scale::LogOneMinus)
        .int("layers", 1, 3, Scale::Linear)
        .int("units", 16, 256, Scale::Log)
        .categorical("act", ["relu", "tanh", "gelu"])
        .build()
        .unwrap()
}

/// A smooth objective on the mixed space, best at lr 1e-2, β 0.99, 2 layers, 64 units, gelu.
fn mixed_objective(p: &knob_core::Params) -> f64 {
    let lr = p.float("lr").unwrap();
    let beta = p.float("beta").unwrap();
    let layers = p.int("layers").unwrap() as f64;
    let units = p.int("units").unwrap() as f64;
    let act = match p.value("act").unwrap() {
        Value::Str(s) if s == "gelu" => 0.0,
        _ => 0.3,
    };
    (lr.log10() + 2.0).powi(2)
        + ((1.0 - beta).log10() + 2.0).powi(2)
        + 0.2 * (layers - 2.0).powi(2)
        + (units / 64.0).log2().powi(2) / 4.0
        + act
}

/// A study of `n` complete trials on the mixed space.
fn run(name: &str, seed: u64, n: usize, journal: Option<&std::path::Path>) -> Study {
    let mut builder = Study::builder(mixed_space())
        .sampler(sampler(name))
        .seed(seed);
    if let Some(path) = journal {
        builder = builder.journal(path);
    }
    let study = builder.build().unwrap();
    for _ in 0..n {
        let t = study.ask().unwrap().expect("the sampler has points left");
        study
            .tell(t.number, Outcome::Complete(mixed_objective(&t.params)))
            .unwrap();
    }
    study
}

#[test]
fn deterministic_for_a_seed_and_history() {
    for name in ALL {
        let history = run(name, 3, 14, None).history().unwrap();
        let space = mixed_space();
        let first = sampler(name)
            .suggest(&space, &history, &mut trial_rng(3, 14))
            .unwrap();
        let again = sampler(name)
            .suggest(&space, &history, &mut trial_rng(3, 14))
            .unwrap();
        assert_eq!(first, again, "{name}");
    }
}

#[test]
fn suggestions_lie_in_the_cube_and_on_each_parameters_values() {
    let space = mixed_space();
    for name in ALL {
        let study = run(name, 5, 25, None);
        let history = study.history().unwrap();
        for k in 0..5 {
            let u = sampler(name)
                .suggest(&space, &history, &mut trial_rng(5, 25 + k))
                .unwrap()
                .expect("points left");
            assert_eq!(u.len(), space.len(), "{name}");
            assert!(u.iter().all(|x| (0.0..=1.0).contains(x)), "{name}: {u:?}");
        }
        for t in study.trials().unwrap() {
            for (p, (_, value)) in space.params().iter().zip(t.params.iter()) {
                match (&p.domain, value) {
                    (Domain::Int { low, high, .. }, Value::Int(i)) => {
                        assert!(low <= i && i <= high)
                    }
                    (Domain::Categorical { choices }, v) => assert!(choices.contains(v)),
                    (Domain::Float { low, high, .. }, Value::Float(x)) => {
                        assert!(low <= x && x <= high)
                    }
                    other => panic!("{name}: {other:?}"),
                }
            }
            assert_eq!(
                space.to_unit(&t.params).unwrap(),
                t.unit,
                "{name}: the unit point is canonical"
            );
        }
    }
}

#[test]
fn workers_asking_at_once_get_different_points() {
    for name in ALL {
        let study = run(name, 7, 15, None);
        let a = study.ask().unwrap().unwrap();
        let b = study.ask().unwrap().unwrap();
        let history = study.history().unwrap();
        let (ua, ub) = (
            &history.get(a.number).unwrap().unit,
            &history.get(b.number).unwrap().unit,
        );
        let distance: f64 = ua
            .iter()
            .zip(ub)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(distance > 1e-6, "{name}: both workers got {:?}", a.params);
    }
}

#[test]
fn resuming_from_the_journal_gives_the_same_next_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    for name in ALL {
        let uninterrupted = run(name, 11, 16, None).trials().unwrap();
        let path = dir.path().join(format!("{name}.jsonl"));
        drop(run(name, 11, 12, Some(&path)));
        let resumed = run(name, 11, 4, Some(&path)).trials().unwrap();
        let params =
            |ts: &[knob_core::Trial]| ts.iter().map(|t| t.params.clone()).collect::<Vec<_>>();
        assert_eq!(params(&resumed), params(&uninterrupted), "{name}");
    }
}

/// With `x0` and `x1` on identical bounds but optima at opposite ends, a sampler that
/// modelled both from one parameter's history (as a known Rust TPE does) would drag
/// both towards the same value.
#[test]
fn parameters_with_equal_bounds_get_their_own_models() {
    let space = SearchSpace::builder()
        .float("x0", 0.0, 1.0, Scale::Linear)
        .float("x1", 0.0, 1.0, Scale::Linear)
        .float("x2", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    for name in MODEL_BASED {
        let study = study(space.clone(), name, 1);
        for _ in 0..40 {
            let t = study.ask().unwrap().unwrap();
            let x = |n: &str| t.params.float(n).unwrap();
            let value = (x("x0") - 0.1).powi(2) + (x("x1") - 0.9).powi(2) + (x("x2") - 0.5).powi(2);
            study.tell(t.number, Outcome::Complete(value)).unwrap();
        }
        let best = study.best_trial().unwrap().unwrap();
        let x = |n: &str| best.params.float(n).unwrap();
        assert!(
            x("x0") < 0.3 && x("x1") > 0.7,
            "{name}: best at {}",
            best.params
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median final regret over `seeds` of `name` (sized for the budget) on `function` with
/// `budget` trials.
fn median_regret(name: &str, function: &str, seeds: u64, budget: usize) -> f64 {
    let f = TestFunction::by_name(function).unwrap();
    let regrets = (0..seeds)
        .map(|seed| {
            let space = f.space();
            let sampler = knob_samplers::by_name_for(name, budget, space.len()).unwrap();
            let study = Study::builder(space)
                .sampler(sampler)
                .seed(seed)
                .build()
                .unwrap();
            for _ in 0..budget {
                let t = study.ask().unwrap().unwrap();
                study
                    .tell(t.number, Outcome::Complete(f.eval(&t.params)))
                    .unwrap();
            }
            let history: History = study.history().unwrap();
            assert_eq!(history.in_state(TrialState::Complete).count(), budget);
            history.best().unwrap().value.unwrap() - f.minimum
        })
        .collect();
    median(regrets)
}

#[test]
fn model_based_samplers_beat_random_search() {
    // Two flat functions where few parameters matter, and two conditional ones.
    for function in ["lowdim10", "hartmann6", "hierarchical", "network"] {
        let random = median_regret("random", function, 5, 40);
        for name in ["gp", "tpe"] {
            let model = median_regret(name, function, 5, 40);
            assert!(
                model < random,
                "{name} on {function}: median regret {model} vs random {random}"
            );
        }
    }
}

#[test]
fn random_search_beats_a_grid_when_few_parameters_matter() {
    // A grid of about 50 points in 10 dimensions has 2 values per parameter (1024
    // points, 50 of them visited in shuffled order), so the two parameters that matter
    // only ever see 0 and 1.
    let grid = median_regret("grid", "lowdim10", 5, 50);
    let random = median_regret("random", "lowdim10", 5, 50);
    assert!(random * 5.0 < grid, "random {random} vs grid {grid}");
}

#[test]
fn a_few_distinct_points_tried_many_times_do_not_break_the_models() {
    // Six distinct configurations, thirty trials: the models see each point several
    // times, with the same loss (deterministic) or with noise.
    let space = SearchSpace::builder()
        .int("layers", 1, 3, Scale::Linear)
        .categorical("act", ["relu", "tanh"])
        .build()
        .unwrap();
    for noisy in [false, true] {
        for name in ["random", "gp", "tpe"] {
            let study = study(space.clone(), name, 9);
            for k in 0..30 {
                let t = study.ask().unwrap().expect("points left");
                let layers = t.params.int("layers").unwrap() as f64;
                let noise = if noisy {
                    ((k * 37 % 11) as f64 - 5.0) * 0.01
                } else {
                    0.0
                };
                let loss = (layers - 2.0).powi(2) + noise;
                study.tell(t.number, Outcome::Complete(loss)).unwrap();
            }
            let best = study.best_trial().unwrap().expect("a best trial");
            assert_eq!(
                best.params.int("layers").unwrap(),
                2,
                "{name}, noisy: {noisy}"
            );
        }
    }
}

/// A conditional space with every kind of condition: a choice, a nested choice and a
/// repeated group under an int.
fn conditional_space() -> SearchSpace {
    SearchSpace::builder()
        .categorical("optimizer", ["adam", "sgd", "rmsprop"])
        .float("beta1", 0.8, 0.999, Scale::LogOneMinus)
        .when_in("optimizer", ["adam"])
        .categorical("nesterov", [false, true])
        .when_in("optimizer", ["sgd"])
        .float("momentum", 0.5, 0.99, Scale::LogOneMinus)
        .when_in("nesterov", [true])
        .int("layers", 1, 3, Scale::Linear)
        .repeated("layers", |b, i| {
            b.int(format!("units_{i}"), 16, 256, Scale::Log)
        })
        .float("lr", 1e-4, 1e-1, Scale::Log)
        .build()
        .unwrap()
}

/// A smooth objective on the conditional space that reads only active params.
fn conditional_objective(p: &knob_core::Params) -> f64 {
    let lr = (p.float("lr").unwrap().log10() + 2.5).powi(2);
    let opt = match p.str("optimizer").unwrap() {
        "adam" => (p.float("beta1").unwrap() - 0.95).abs(),
        "sgd" => p.float("momentum").map_or(0.5, |m| (m - 0.9).abs()),
        _ => 0.3,
    };
    let layers = p.int("layers").unwrap();
    let units: f64 = (0..layers)
        .map(|i| ((p.int(&format!("units_{i}")).unwrap() as f64).log2() - 6.0).abs() / 4.0)
        .sum();
    lr + opt + units + 0.2 * (layers - 2).abs() as f64
}

#[test]
fn conditional_spaces_get_only_active_params_deterministically() {
    let space = conditional_space();
    for name in ALL {
        let run = |seed| {
            let study = Study::builder(space.clone())
                .sampler(sampler(name))
                .seed(seed)
                .build()
                .unwrap();
            for _ in 0..24 {
                let Some(t) = study.ask().unwrap() else { break };
                // Every param the trial holds is active, and every active one is held.
                let unit = space.to_unit(&t.params).unwrap();
                let active = space.active(&unit);
                for (p, on) in space.params().iter().zip(&active) {
                    assert_eq!(
                        t.params.get(&p.name).is_some(),
                        *on,
                        "{name}: {} in {}",
                        p.name,
                        t.params
                    );
                }
                let value = conditional_objective(&t.params);
                study.tell(t.number, Outcome::Complete(value)).unwrap();
            }
            study.trials().unwrap()
        };
        let (first, again) = (run(4), run(4));
        assert!(first.len() >= 12, "{name}: {} trials", first.len());
        let params =
            |ts: &[knob_core::Trial]| ts.iter().map(|t| t.params.clone()).collect::<Vec<_>>();
        assert_eq!(
            params(&first),
            params(&again),
            "{name}: deterministic for a seed"
        );
        let history = History::new(first, knob_core::Direction::Minimize);
        let u = sampler(name)
            .suggest(&space, &history, &mut trial_rng(4, 99))
            .unwrap();
        if let Some(u) = u {
            assert!(u.iter().all(|x| (0.0..=1.0).contains(x)), "{name}: {u:?}");
        }
    }
}

#[test]
fn no_sampler_repeats_a_configuration_of_a_small_discrete_space_until_all_are_tried() {
    // custom_trainer's k-NN space: 25 x 2 x 2 = 100 configurations, the best at a corner
    // that a model keeps pointing at.
    let space = SearchSpace::builder()
        .int("k", 1, 25, Scale::Log)
        .categorical("distance", ["euclidean", "manhattan"])
        .categorical("weighted", [false, true])
        .build()
        .unwrap();
    let objective = |p: &knob_core::Params| {
        let k = p.int("k").unwrap() as f64;
        k.ln()
            + f64::from(u8::from(p.str("distance").unwrap() == "manhattan"))
            + f64::from(u8::from(!p.bool("weighted").unwrap())) * 0.5
    };
    for name in ALL {
        let study = Study::builder(space.clone())
            .sampler(sampler(name))
            .seed(2)
            .build()
            .unwrap();
        let mut seen = Vec::new();
        for _ in 0..30 {
            let Some(t) = study.ask().unwrap() else { break };
            assert!(
                !seen.contains(&t.params),
                "{name} repeated {} at trial {}",
                t.params,
                t.number
            );
            seen.push(t.params.clone());
            study
                .tell(t.number, Outcome::Complete(objective(&t.params)))
                .unwrap();
        }
    }
    // Once every configuration has a trial, proposals repeat rather than stop.
    let tiny = SearchSpace::builder()
        .categorical("weighted", [false, true])
        .build()
        .unwrap();
    let study = Study::builder(tiny)
        .sampler(sampler("tpe"))
        .build()
        .unwrap();
    for _ in 0..4 {
        let t = study.ask().unwrap().expect("a proposal");
        study.tell(t.number, Outcome::Complete(0.0)).unwrap();
    }
}
