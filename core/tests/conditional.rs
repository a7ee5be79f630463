//! A conditional space through the whole study: the journal, a reopened study, queued
//! params, warm starts and a pruner all take trials with different active parameters.

use knob_core::testing::UniformSampler;
use knob_core::{Direction, Outcome, Params, Pruner, Scale, SearchSpace, Study, Value};

fn space() -> SearchSpace {
    SearchSpace::builder()
        .categorical("optimizer", ["adam", "sgd"])
        .float("momentum", 0.5, 0.99, Scale::LogOneMinus)
        .when_in("optimizer", ["sgd"])
        .int("layers", 1, 3, Scale::Linear)
        .repeated("layers", |b, i| {
            b.int(format!("units_{i}"), 8, 64, Scale::Log)
        })
        .build()
        .unwrap()
}

fn objective(p: &Params) -> f64 {
    let units: i64 = (0..p.int("layers").unwrap())
        .map(|i| p.int(&format!("units_{i}")).unwrap())
        .sum();
    units as f64 + p.float("momentum").unwrap_or(0.0)
}

#[test]
fn a_conditional_study_survives_its_journal_queue_and_warm_start() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.jsonl");
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .seed(3)
        .journal(&journal)
        .build()
        .unwrap();
    // Queued params: a valid set, and one with an inactive parameter.
    let adam = Params::from_iter([
        ("optimizer", Value::from("adam")),
        ("layers", 1.into()),
        ("units_0", 16.into()),
    ]);
    study.enqueue(adam.clone()).unwrap();
    let mut bad = adam.clone();
    bad.insert("momentum".to_owned(), Value::Float(0.9));
    let e = study.enqueue(bad).unwrap_err().to_string();
    assert!(e.contains("`momentum`") && e.contains("only when"), "{e}");
    let mut bad = adam.clone();
    bad.insert("layers".to_owned(), Value::Int(2));
    let e = study.enqueue(bad).unwrap_err().to_string();
    assert!(e.contains("units_1"), "an active parameter missing: {e}");
    for _ in 0..12 {
        let t = study.ask().unwrap().unwrap();
        study
            .tell(t.number, Outcome::Complete(objective(&t.params)))
            .unwrap();
    }
    let trials = study.trials().unwrap();
    assert_eq!(trials[0].params, adam, "the queued params ran first");
    let active_sets: std::collections::HashSet<Vec<String>> = trials
        .iter()
        .map(|t| t.params.iter().map(|(n, _)| n.to_string()).collect())
        .collect();
    assert!(active_sets.len() >= 3, "trials hold different active sets");
    drop(study);

    // Reopened: the same trials, the same params.
    let reopened = Study::builder(space())
        .sampler(UniformSampler)
        .journal(&journal)
        .build()
        .unwrap();
    let again = reopened.trials().unwrap();
    assert_eq!(
        again.iter().map(|t| &t.params).collect::<Vec<_>>(),
        trials.iter().map(|t| &t.params).collect::<Vec<_>>()
    );

    // A warm start takes every earlier trial as evidence.
    let warm = Study::builder(space())
        .sampler(UniformSampler)
        .warm_start(&journal)
        .build()
        .unwrap();
    assert_eq!(warm.history().unwrap().evidence().count(), 12);
}

#[test]
fn a_pruner_compares_trials_whatever_their_active_parameters() {
    /// Prunes a trial whose value at a step is worse than the best other trial's there.
    struct Worst;
    impl Pruner for Worst {
        fn should_prune(&self, trial: &knob_core::Trial, history: &knob_core::History) -> bool {
            let Some((&step, &v)) = trial.intermediate.last_key_value() else {
                return false;
            };
            let others = history.losses_at_step(step, trial.number);
            others.iter().any(|&o| history.direction().loss(v) > o)
        }
    }
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .direction(Direction::Minimize)
        .pruner(Worst)
        .build()
        .unwrap();
    let (mut pruned, mut complete) = (0, 0);
    for _ in 0..10 {
        let t = study.ask().unwrap().unwrap();
        let value = objective(&t.params);
        if study.report(t.number, 0, value).unwrap() {
            pruned += 1;
            study.tell(t.number, Outcome::Pruned).unwrap();
        } else {
            complete += 1;
            study.tell(t.number, Outcome::Complete(value)).unwrap();
        }
    }
    assert!(
        pruned >= 1 && complete >= 2,
        "{pruned} pruned, {complete} complete"
    );
}
