//! A trial that fails with a `DeviceError` is retried once on another worker; a worker
//! whose device cannot even build a trainer retires while the others go on.

use std::sync::Mutex;

use knob_core::testing::UniformSampler;
use knob_core::{
    BoxError, CallbackList, Device, DeviceError, Params, Scale, SearchSpace, Study, Trainer,
    TrialContext, TrialState, Worker, Workers,
};

/// Fails every trial with a device error on the workers in `broken`; records who ran
/// what.
struct OnDevice<'a> {
    worker: Worker,
    broken: &'a [usize],
    log: &'a Mutex<Vec<(u64, usize)>>,
}

impl Trainer for OnDevice<'_> {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        self.log
            .lock()
            .unwrap()
            .push((ctx.info().number, self.worker.index));
        if self.broken.contains(&self.worker.index) {
            return Err(DeviceError::new("out of memory").into());
        }
        // Healthy workers take a moment, so broken ones get trials too.
        std::thread::sleep(std::time::Duration::from_millis(3));
        Ok(params.float("x")?)
    }
}

fn study() -> Study {
    let space = SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .build()
        .unwrap();
    Study::builder(space)
        .sampler(UniformSampler)
        .seed(3)
        .build()
        .unwrap()
}

fn run(study: &Study, n: usize, workers: &Workers, broken: &[usize]) -> Vec<(u64, usize)> {
    let log = Mutex::new(Vec::new());
    study
        .optimize_on(
            n,
            workers,
            |worker| {
                Ok(OnDevice {
                    worker,
                    broken,
                    log: &log,
                })
            },
            |_| CallbackList::new(),
        )
        .unwrap();
    log.into_inner().unwrap()
}

#[test]
fn a_device_failure_is_retried_once_on_another_worker() {
    let study = study();
    let log = run(&study, 8, &Workers::gpus([0, 1]), &[0]);
    let trials = study.trials().unwrap();
    let worker_of = |n: u64| log.iter().find(|(t, _)| *t == n).unwrap().1;
    let failed: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .collect();
    assert!(!failed.is_empty(), "worker 0 took no trial: {log:?}");
    assert_eq!(
        trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .count(),
        8
    );
    for f in failed {
        let error = f.error.as_deref().unwrap();
        assert!(
            error.contains("worker 0 on gpu:0")
                && error.contains("out of memory")
                && error.contains("retried"),
            "{error}"
        );
        assert_eq!(worker_of(f.number), 0);
        let retry = trials
            .iter()
            .find(|t| t.number > f.number && t.params == f.params)
            .expect("the failed trial's params ran again");
        assert_eq!(retry.state, TrialState::Complete);
        assert_eq!(
            worker_of(retry.number),
            1,
            "the retry ran on the other worker"
        );
    }
}

#[test]
fn a_retry_that_fails_again_is_not_retried_twice() {
    let study = study();
    run(&study, 3, &Workers::cpu(2), &[0, 1]);
    let trials = study.trials().unwrap();
    assert!(trials.iter().all(|t| t.state == TrialState::Failed));
    // A failure that says it is retried has exactly one later attempt with its params;
    // one that does not say so has none.
    let retried = |t: &knob_core::Trial| t.error.as_deref().unwrap().contains("retried");
    assert!(trials.iter().any(retried), "{trials:#?}");
    for t in &trials {
        let later = trials
            .iter()
            .filter(|u| u.number > t.number && u.params == t.params)
            .count();
        assert_eq!(later, usize::from(retried(t)), "{t:?}");
        let attempts = trials.iter().filter(|u| u.params == t.params).count();
        assert!(attempts <= 2);
    }
}

#[test]
fn a_lone_worker_does_not_retry() {
    let study = study();
    run(&study, 2, &Workers::cpu(1), &[0]);
    let trials = study.trials().unwrap();
    assert_eq!(trials.len(), 2);
    assert!(trials
        .iter()
        .all(|t| !t.error.as_deref().unwrap().contains("retried")));
}

#[test]
fn a_worker_whose_device_cannot_build_retires() {
    let study = study();
    let workers = Workers::on([Device::Cpu, Device::Gpu(7)]);
    let built = Mutex::new(Vec::new());
    let summary = study
        .optimize_on(
            5,
            &workers,
            |w| {
                built.lock().unwrap().push(w.device);
                if w.device == Device::Gpu(7) {
                    return Err(DeviceError::new("no GPU 7").into());
                }
                Ok(knob_core::testing::QuadraticTrainer::default())
            },
            |_| CallbackList::new(),
        )
        .unwrap();
    assert_eq!(summary.completed, 5);
    assert_eq!(built.into_inner().unwrap().len(), 2);

    // With no worker left, the study reports the factory's error.
    let err = study
        .optimize_on(
            9,
            &Workers::gpus([7]),
            |_| -> Result<knob_core::testing::QuadraticTrainer, BoxError> {
                Err(DeviceError::new("no GPU 7").into())
            },
            |_| CallbackList::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("worker 0") && err.contains("no GPU 7"),
        "{err}"
    );
}
