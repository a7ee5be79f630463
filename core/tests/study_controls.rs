//! Study-level controls: a time budget for `optimize`, and callbacks after each trial.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use knob_core::testing::UniformSampler;
use knob_core::{
    BoxError, CallbackList, Params, Scale, SearchSpace, Study, Trainer, TrialContext, TrialState,
    Workers,
};

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap()
}

/// Takes 40 ms a trial and reports once; fails when x < 0.1.
struct Slow;
impl Trainer for Slow {
    fn fit(&mut self, p: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        std::thread::sleep(Duration::from_millis(40));
        let x = p.float("x")?;
        ctx.report(0, x)?;
        if x < 0.1 {
            return Err("x below 0.1".into());
        }
        Ok(x)
    }
}

#[test]
fn a_time_budget_stops_starting_trials_and_lets_running_ones_finish() {
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let started = Instant::now();
    let summary = study
        .optimize_for(
            usize::MAX,
            Duration::from_millis(400),
            &Workers::cpu(2),
            |_| Ok(Slow),
            |_| CallbackList::new(),
        )
        .unwrap();
    let took = started.elapsed();
    // About 10 trials a worker fit in 400 ms; none starts after it, so the call ends
    // within one trial of the budget (with room for a loaded machine).
    assert!(summary.ran >= 4, "{} trials", summary.ran);
    assert!(took < Duration::from_millis(400 + 1000), "took {took:?}");
    let trials = study.trials().unwrap();
    assert!(trials.iter().all(|t| t.state != TrialState::Running));
    assert!(
        trials
            .iter()
            .all(|t| t.error.as_deref() != Some("interrupted before it finished")),
        "no trial was cut short"
    );
    // The budget is per call: a count still ends a call before its budget.
    let before = trials.len();
    let summary = study
        .optimize_for(
            before + 3,
            Duration::from_secs(60),
            &Workers::cpu(1),
            |_| Ok(Slow),
            |_| CallbackList::new(),
        )
        .unwrap();
    assert_eq!(summary.ran, 3);
}

#[test]
fn trial_callbacks_see_every_finished_trial_once_and_survive_a_panic() {
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .seed(4)
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    study.on_trial_finished(move |_, trial| log.lock().unwrap().push((trial.number, trial.state)));
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    study.on_trial_finished(move |_, _| {
        if count.fetch_add(1, Ordering::SeqCst) == 2 {
            panic!("a broken callback");
        }
    });
    let summary = study
        .optimize(12, 2, |_| Ok(Slow), |_| CallbackList::new())
        .unwrap();
    assert_eq!(summary.ran, 12);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable_by_key(|s| s.0);
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert!(seen.iter().all(|s| s.1 != TrialState::Running));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        12,
        "a panic in one call stops no later call"
    );
}

#[test]
fn user_attributes_are_kept_with_the_trial_in_the_journal() {
    /// Records what it measured besides the objective.
    struct Measuring;
    impl Trainer for Measuring {
        fn fit(&mut self, p: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
            let x = p.float("x")?;
            ctx.set_user_attr("size", (x * 100.0).round() as i64)?;
            ctx.set_user_attr("note", "first")?;
            ctx.set_user_attr("note", "last wins")?;
            Ok(x)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.jsonl");
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .journal(&journal)
        .build()
        .unwrap();
    study
        .optimize(3, 1, |_| Ok(Measuring), |_| CallbackList::new())
        .unwrap();
    study.set_user_attr(0, "checkpoint", "runs/0.ckpt").unwrap();
    let e = study.set_user_attr(9, "x", 1).unwrap_err().to_string();
    assert!(e.contains("trial 9"), "{e}");
    let e = study
        .set_user_attr(0, "x", f64::NAN)
        .unwrap_err()
        .to_string();
    assert!(e.contains("attribute `x`"), "{e}");
    drop(study);
    let reopened = Study::builder(space())
        .sampler(UniformSampler)
        .journal(&journal)
        .build()
        .unwrap();
    let trials = reopened.trials().unwrap();
    for t in &trials {
        let size = (t.params.float("x").unwrap() * 100.0).round() as i64;
        assert_eq!(t.user_attrs["size"], size.into());
        assert_eq!(t.user_attrs["note"], "last wins".into());
    }
    assert_eq!(trials[0].user_attrs["checkpoint"], "runs/0.ckpt".into());
}
