//! A trial that errs, panics or returns NaN fails alone; the study finishes the rest.

use knob_core::testing::UniformSampler;
use knob_core::{
    BoxError, CallbackList, Params, Scale, SearchSpace, Study, Trainer, TrialContext, TrialState,
};

/// Fails in three different ways on trials 1, 2 and 3; fine otherwise.
struct Flaky;

impl Trainer for Flaky {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        match ctx.info().number {
            1 => Err("out of memory".into()),
            2 => panic!("index out of bounds"),
            3 => Ok(f64::NAN),
            _ => Ok(params.float("x")?),
        }
    }
}

#[test]
fn failures_are_isolated_and_explained() {
    let space = SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    let study = Study::builder(space)
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let built = std::sync::atomic::AtomicUsize::new(0);
    let summary = study
        .optimize(
            10,
            2,
            |_| {
                built.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(Flaky)
            },
            |_| CallbackList::new(),
        )
        .unwrap();
    assert_eq!((summary.completed, summary.failed, summary.ran), (7, 3, 10));
    let trials = study.trials().unwrap();
    let error = |n: usize| trials[n].error.clone().unwrap_or_default();
    assert_eq!(trials[1].state, TrialState::Failed);
    assert_eq!(error(1), "out of memory");
    assert_eq!(trials[2].state, TrialState::Failed);
    assert!(
        error(2).contains("panicked") && error(2).contains("index out of bounds"),
        "{}",
        error(2)
    );
    assert_eq!(trials[3].state, TrialState::Failed);
    assert!(error(3).contains("NaN"), "{}", error(3));
    assert_eq!(
        built.into_inner(),
        3,
        "two workers, plus a fresh trainer after the panic"
    );
}

#[test]
fn a_failing_trainer_factory_stops_the_study_with_its_message() {
    let space = SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    let study = Study::builder(space)
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let e = study
        .optimize(
            5,
            1,
            |_| Err::<Flaky, BoxError>("no GPU 0".into()),
            |_| CallbackList::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("worker 0") && e.contains("no GPU 0"), "{e}");
}

/// Interrupts the study from inside the second trial, as a Ctrl-C handler would.
struct Interrupting<'a>(&'a Study);

impl Trainer for Interrupting<'_> {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        if ctx.info().number == 1 {
            self.0.interrupt();
        }
        for epoch in 0..3 {
            if ctx.report(epoch, 1.0)?.is_stop() {
                break;
            }
        }
        Ok(params.float("x")?)
    }
}

#[test]
fn an_interrupted_study_stops_and_queues_the_trial_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.jsonl");
    let space = SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    let open = || {
        Study::builder(space.clone())
            .sampler(UniformSampler)
            .journal(&path)
            .build()
            .unwrap()
    };
    let study = open();
    let summary = study
        .optimize(10, 1, |_| Ok(Interrupting(&study)), |_| CallbackList::new())
        .unwrap();
    assert_eq!((summary.completed, summary.failed), (1, 1), "{summary}");
    let interrupted = study.trials().unwrap()[1].clone();
    assert!(interrupted.error.unwrap().contains("interrupted"));
    drop(study);
    // The rerun redoes the interrupted trial first and tops the study up to 10.
    let study = open();
    let summary = study
        .optimize(
            10,
            1,
            |_| Ok(knob_core::testing::QuadraticTrainer::default()),
            |_| CallbackList::new(),
        )
        .unwrap();
    assert_eq!(summary.completed, 10);
    assert_eq!(study.trials().unwrap()[2].params, interrupted.params);
}
