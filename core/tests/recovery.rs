//! Recovery without stranding a trial: liveness by start time and heartbeat, the retry
//! cap, panics in user code that end `optimize` instead of hanging it, and storage
//! errors that end the study at once.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use knob_core::testing::{QuadraticTrainer, UniformSampler};
use knob_core::{
    BoxError, CallbackList, Event, History, Owner, Params, Pruner, Scale, SearchSpace, Study,
    Trainer, Trial, TrialContext, TrialState,
};

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("x", -1.0, 1.0, Scale::Linear)
        .float("y", -1.0, 1.0, Scale::Linear)
        .build()
        .unwrap()
}

fn study_at(path: &Path) -> Study {
    Study::builder(space())
        .sampler(UniformSampler)
        .journal(path)
        .build()
        .unwrap()
}

fn events(path: &Path) -> Vec<Event> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The owner this process records, read back from a journal it wrote.
fn my_owner(dir: &Path) -> Owner {
    let path = dir.join("mine.jsonl");
    let study = study_at(&path);
    study.ask().unwrap().unwrap();
    events(&path)
        .into_iter()
        .find_map(|e| match e {
            Event::TrialStarted { owner, .. } => Some(owner),
            _ => None,
        })
        .unwrap()
}

/// A journal holding one trial, running and owned by `owner`.
fn journal_with_running_trial(path: &Path, owner: Owner) {
    drop(study_at(path));
    let params = Params::from_iter([("x", 0.5.into()), ("y", (-0.25).into())]);
    let started = Event::TrialStarted {
        number: 0,
        unit: space().to_unit(&params).unwrap(),
        params,
        time: knob_core::now_secs(),
        owner,
        queued: None,
    };
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(file, "{}", serde_json::to_string(&started).unwrap()).unwrap();
}

#[test]
fn a_reused_pid_does_not_keep_a_dead_trial_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut unrelated = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    // Same host, the pid of a live process, but not the start time it recorded.
    let owner = Owner {
        pid: unrelated.id(),
        token: 77,
        ..my_owner(dir.path())
    };
    let path = dir.path().join("study.jsonl");
    journal_with_running_trial(&path, owner);
    let study = study_at(&path);
    unrelated.kill().unwrap();
    unrelated.wait().unwrap();
    let trials = study.trials().unwrap();
    assert_eq!(trials[0].state, TrialState::Failed);
    let why = trials[0].error.as_deref().unwrap();
    assert!(why.contains("pid now belongs to another process"), "{why}");
    let retry = study.ask().unwrap().unwrap();
    assert_eq!(retry.params, trials[0].params, "the params run again");
}

#[test]
fn an_owner_elsewhere_is_recovered_only_after_its_grace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.jsonl");
    let owner = Owner {
        host: Some("another-machine/boot/pid:[4026531836]".into()),
        grace: Some(2.0),
        ..my_owner(dir.path())
    };
    journal_with_running_trial(&path, owner.clone());
    let study = study_at(&path);
    assert_eq!(study.trials().unwrap()[0].state, TrialState::Running);
    // A beat keeps it alive past its first grace.
    std::thread::sleep(Duration::from_millis(1400));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let beat = Event::Heartbeat {
        token: owner.token,
        time: knob_core::now_secs(),
    };
    writeln!(file, "{}", serde_json::to_string(&beat).unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(1400));
    let next = study.ask().unwrap().unwrap();
    assert_eq!(next.number, 1);
    assert_eq!(study.trials().unwrap()[0].state, TrialState::Running);
    // Then silence: the next ask after the grace recovers it.
    std::thread::sleep(Duration::from_millis(2100));
    let retry = study.ask().unwrap().unwrap();
    let trials = study.trials().unwrap();
    assert_eq!(trials[0].state, TrialState::Failed);
    assert!(
        trials[0].error.as_deref().unwrap().contains("heartbeat"),
        "{:?}",
        trials[0].error
    );
    assert_eq!(retry.params, trials[0].params);
}

#[test]
fn a_live_study_beats_while_it_has_running_trials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.jsonl");
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .journal(&path)
        .heartbeat(Duration::from_millis(50))
        .build()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let beats = |path: &Path| {
        events(path)
            .iter()
            .filter(|e| matches!(e, Event::Heartbeat { .. }))
            .count()
    };
    assert_eq!(beats(&path), 0, "no running trial, no heartbeat");
    let t = study.ask().unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(beats(&path) >= 2, "{} beats in 0.5 s", beats(&path));
    study
        .tell(t.number, knob_core::Outcome::Complete(1.0))
        .unwrap();
    // A beat checks and writes under the study's lock, so none follows the tell.
    let at_tell = beats(&path);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(beats(&path), at_tell, "beating stops with the trial");
}

#[test]
fn params_that_kill_their_process_are_retried_at_most_max_retries_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.jsonl");
    let open = || {
        Study::builder(space())
            .sampler(UniformSampler)
            .journal(&path)
            .max_retries(2)
            .build()
            .unwrap()
    };
    // A dropped study with a running trial is a process that died with it.
    let first = open().ask().unwrap().unwrap();
    for retry in 1..=2 {
        let study = open();
        let again = study.ask().unwrap().unwrap();
        assert_eq!(again.params, first.params, "retry {retry}");
    }
    let study = open();
    let fresh = study.ask().unwrap().unwrap();
    assert_ne!(
        fresh.params, first.params,
        "the cap is reached: a new proposal"
    );
    let gave_up = study.failed_for_good().unwrap();
    assert_eq!(gave_up.len(), 1);
    let why = gave_up[0].error.as_deref().unwrap();
    assert!(
        why.contains("died 3 times") && why.contains("max_retries = 2"),
        "{why}"
    );
    let board = study.leaderboard(3).unwrap().to_string();
    assert!(
        board.contains("failed for good") && board.contains("died 3 times"),
        "{board}"
    );
    study
        .tell(fresh.number, knob_core::Outcome::Complete(0.5))
        .unwrap();
    // Retries do not count toward the target; the failure for good does.
    let summary = study
        .optimize(
            4,
            1,
            |_| Ok(QuadraticTrainer::default()),
            |_| CallbackList::new(),
        )
        .unwrap();
    assert_eq!((summary.completed, summary.failed), (3, 3));
}

#[test]
fn a_panicking_make_callbacks_fails_its_trials_and_optimize_returns() {
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let started = Instant::now();
    let summary = study
        .optimize(
            6,
            2,
            |_| Ok(QuadraticTrainer::default()),
            |info| {
                if info.number % 2 == 0 {
                    panic!("no logdir for trial {}", info.number);
                }
                CallbackList::new()
            },
        )
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!((summary.completed, summary.failed), (3, 3));
    let trials = study.trials().unwrap();
    let why = trials[0].error.as_deref().unwrap();
    assert!(
        why.contains("make_callbacks panicked") && why.contains("no logdir for trial 0"),
        "{why}"
    );
}

#[test]
fn a_panicking_trainer_factory_ends_the_study_with_its_message() {
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let e = study
        .optimize(
            4,
            2,
            |w| -> Result<QuadraticTrainer, BoxError> {
                if w == 1 {
                    panic!("no GPU here");
                }
                std::thread::sleep(Duration::from_millis(20));
                Ok(QuadraticTrainer::default())
            },
            |_| CallbackList::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("worker 1") && e.contains("panicked") && e.contains("no GPU here"),
        "{e}"
    );
}

#[test]
fn a_panicking_pruner_fails_the_trial_naming_the_pruner() {
    struct Broken;
    impl Pruner for Broken {
        fn should_prune(&self, _: &Trial, _: &History) -> bool {
            panic!("median of nothing")
        }
    }
    struct Reports;
    impl Trainer for Reports {
        fn fit(&mut self, p: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
            ctx.report(0, 1.0)?;
            Ok(p.float("x")?)
        }
    }
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .pruner(Broken)
        .build()
        .unwrap();
    let summary = study
        .optimize(3, 2, |_| Ok(Reports), |_| CallbackList::new())
        .unwrap();
    assert_eq!(summary.failed, 3);
    let why = study.trials().unwrap()[0].error.clone().unwrap();
    assert!(
        why.contains("pruner `Broken`") && why.contains("median of nothing"),
        "{why}"
    );
}

#[test]
fn a_journal_that_cannot_be_a_file_is_refused_at_once() {
    let started = Instant::now();
    let e = Study::builder(space())
        .sampler(UniformSampler)
        .journal("/dev/full")
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("/dev/full") && e.contains("regular file"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_trainer_that_rejects_the_space_stops_the_study_before_any_trial() {
    struct Picky;
    impl Trainer for Picky {
        fn fit(&mut self, _: &Params, _: &mut TrialContext<'_>) -> Result<f64, BoxError> {
            Ok(0.0)
        }
        fn check_space(&self, space: &SearchSpace) -> Result<(), BoxError> {
            match space.param("y") {
                Some(_) => Err("parameter `y`: not read by this trainer".into()),
                None => Ok(()),
            }
        }
    }
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .build()
        .unwrap();
    let e = study
        .optimize(3, 2, |_| Ok(Picky), |_| CallbackList::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot use this search space") && e.contains("`y`"),
        "{e}"
    );
    assert!(study.trials().unwrap().is_empty());
}

/// A storage whose disk fills after `room` appends, remembering when.
struct FillingDisk {
    inner: knob_core::MemoryStorage,
    room: usize,
    full_since: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
}

impl knob_core::Storage for FillingDisk {
    fn append(&mut self, event: &Event) -> knob_core::Result<()> {
        if self.room == 0 {
            self.full_since
                .lock()
                .unwrap()
                .get_or_insert_with(Instant::now);
            return Err(knob_core::Error::Io {
                path: "/data/study.jsonl".into(),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
            });
        }
        self.room -= 1;
        self.inner.append(event)
    }
    fn read_new(&mut self) -> knob_core::Result<Vec<knob_core::Record>> {
        self.inner.read_new()
    }
    fn lock(&mut self) -> knob_core::Result<()> {
        self.inner.lock()
    }
    fn unlock(&mut self) -> knob_core::Result<()> {
        self.inner.unlock()
    }
    fn location(&self) -> String {
        "/data/study.jsonl".into()
    }
}

#[test]
fn a_storage_that_fills_up_ends_the_study_within_a_second() {
    /// Long trials that report every 10 ms: a full disk must not wait for them.
    struct Long;
    impl Trainer for Long {
        fn fit(&mut self, p: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
            for epoch in 0..500 {
                std::thread::sleep(Duration::from_millis(10));
                if ctx.report(epoch, 1.0)?.is_stop() {
                    break;
                }
            }
            Ok(p.float("x")?)
        }
    }
    let full_since = std::sync::Arc::new(std::sync::Mutex::new(None));
    let study = Study::builder(space())
        .sampler(UniformSampler)
        .storage(FillingDisk {
            inner: knob_core::MemoryStorage::new(),
            room: 40,
            full_since: full_since.clone(),
        })
        .build()
        .unwrap();
    let e = study
        .optimize(10, 2, |_| Ok(Long), |_| CallbackList::new())
        .unwrap_err()
        .to_string();
    let full = full_since.lock().unwrap().expect("the disk filled");
    assert!(e.contains("/data/study.jsonl"), "{e}");
    let after = full.elapsed();
    assert!(
        after < Duration::from_secs(1),
        "returned {after:?} after the disk filled"
    );
}
