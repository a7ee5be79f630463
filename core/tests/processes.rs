//! Real-process tests of the journal: a study killed with SIGKILL mid-run resumes
//! without losing a completed trial, and two processes appending at once write only
//! whole lines.
//!
//! This binary runs without the test harness: with `KNOB_PROCESS_CHILD` set it plays a
//! child process, otherwise it runs the checks, spawning itself as the children.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use knob_core::testing::UniformSampler;
use knob_core::{
    BoxError, CallbackList, Event, Outcome, Params, Scale, SearchSpace, Study, Trainer,
    TrialContext, TrialState,
};

const CHILD: &str = "KNOB_PROCESS_CHILD";
const JOURNAL: &str = "KNOB_JOURNAL";
const TARGET: usize = 30;
const WRITES_PER_CHILD: u64 = 150;

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("lr", 1e-4, 1e-1, Scale::Log)
        .int("layers", 1, 3, Scale::Linear)
        .build()
        .unwrap()
}

fn study(journal: &Path) -> Study {
    Study::builder(space())
        .sampler(UniformSampler)
        .seed(5)
        .journal(journal)
        .build()
        .unwrap()
}

/// Sleeps through three "epochs", reporting each, so a kill lands mid-trial.
struct SlowTrainer(Duration);

impl Trainer for SlowTrainer {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        let lr = params.float("lr")?;
        for epoch in 0..3 {
            std::thread::sleep(self.0);
            ctx.report(epoch, lr * (3 - epoch) as f64)?;
        }
        Ok(lr)
    }
}

fn main() {
    match std::env::var(CHILD).as_deref() {
        Ok("optimize") => {
            let journal = PathBuf::from(std::env::var(JOURNAL).unwrap());
            let slow = || Ok(SlowTrainer(Duration::from_millis(30)));
            study(&journal)
                .optimize(TARGET, 2, |_| slow(), |_| CallbackList::new())
                .unwrap();
        }
        Ok("writer") => {
            let journal = PathBuf::from(std::env::var(JOURNAL).unwrap());
            let study = study(&journal);
            for _ in 0..WRITES_PER_CHILD {
                let t = study.ask().unwrap().unwrap();
                study.report(t.number, 0, 1.0).unwrap();
                study
                    .tell(t.number, Outcome::Complete(t.params.float("lr").unwrap()))
                    .unwrap();
            }
        }
        Ok(other) => panic!("unknown child role {other}"),
        Err(_) => {
            let mut failed = false;
            for (name, check) in [
                (
                    "killed_study_resumes_without_losing_trials",
                    killed_study_resumes as fn(),
                ),
                (
                    "two_processes_append_whole_lines",
                    two_processes_append_whole_lines,
                ),
                (
                    "a_process_in_another_pid_namespace_steals_nothing",
                    a_process_in_another_pid_namespace_steals_nothing,
                ),
            ] {
                let ok = std::panic::catch_unwind(check).is_ok();
                println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
                failed |= !ok;
            }
            if failed {
                std::process::exit(1);
            }
        }
    }
}

fn spawn(role: &str, journal: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(CHILD, role)
        .env(JOURNAL, journal)
        .spawn()
        .unwrap()
}

/// Whether this machine lets us start a process in a new PID namespace (root, or a
/// kernel that allows unprivileged user namespaces).
fn can_unshare() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Two studies on one journal, the second in its own PID namespace (as in a container
/// sharing the volume): its pids mean nothing to the first, so each must judge the
/// other by heartbeats, and neither may fail the other's live trials.
fn a_process_in_another_pid_namespace_steals_nothing() {
    if !can_unshare() {
        println!("  skipped: `unshare --pid` is not permitted here (run as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.jsonl");
    drop(study(&journal));
    let here = spawn("optimize", &journal);
    let contained = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(std::env::current_exe().unwrap())
        .env(CHILD, "optimize")
        .env(JOURNAL, &journal)
        .spawn()
        .unwrap();
    for mut child in [here, contained] {
        assert!(child.wait().unwrap().success(), "both processes finish");
    }
    let events = events(&journal);
    let mut numbers = Vec::new();
    let mut hosts = HashSet::new();
    for event in &events {
        match event {
            Event::TrialStarted { number, owner, .. } => {
                numbers.push(*number);
                hosts.insert(owner.host.clone());
            }
            Event::TrialRequeued { number, error, .. } => {
                panic!("trial {number} was taken from its live owner: {error}")
            }
            Event::TrialFinished {
                number,
                error: Some(e),
                ..
            } => {
                panic!("trial {number} failed: {e}")
            }
            _ => {}
        }
    }
    assert_eq!(
        numbers,
        (0..TARGET as u64).collect::<Vec<_>>(),
        "exact count, no duplicate"
    );
    assert_eq!(completed(&events).len(), TARGET);
    assert_eq!(
        hosts.len(),
        2,
        "the second process ran in its own PID namespace"
    );
    println!("  {TARGET} trials shared by two PID namespaces, none stolen");
}

/// Events in the journal, read independently of the study; a torn last line is skipped.
fn events(journal: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn completed(events: &[Event]) -> BTreeMap<u64, f64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TrialFinished {
                number,
                state: TrialState::Complete,
                value,
                ..
            } => Some((*number, value.unwrap())),
            _ => None,
        })
        .collect()
}

fn killed_study_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.jsonl");
    let mut child = spawn("optimize", &journal);
    let deadline = Instant::now() + Duration::from_secs(120);
    while completed(&events(&journal)).len() < 6 {
        assert!(Instant::now() < deadline, "the child made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let before = completed(&events(&journal));
    assert!(
        before.len() < TARGET,
        "the kill came too late to test anything"
    );
    let resumed = study(&journal);
    let trials = resumed.trials().unwrap();
    for (number, value) in &before {
        let t = &trials[*number as usize];
        assert_eq!(
            (t.state, t.value),
            (TrialState::Complete, Some(*value)),
            "trial {number}"
        );
    }
    let orphans: Vec<u64> = trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .map(|t| t.number)
        .collect();
    assert!(trials.iter().all(|t| t.state != TrialState::Running));
    for n in &orphans {
        assert!(trials[*n as usize]
            .error
            .as_deref()
            .unwrap()
            .contains("stopped before the trial finished"));
    }

    let quick = || Ok(SlowTrainer(Duration::ZERO));
    let summary = resumed
        .optimize(TARGET, 2, |_| quick(), |_| CallbackList::new())
        .unwrap();
    assert_eq!(summary.completed, TARGET, "{summary}");
    assert_eq!(summary.failed, orphans.len());
    assert_eq!(
        summary.ran,
        TARGET - before.len(),
        "completed trials are not rerun"
    );
    println!(
        "  killed after {} complete trials with {} running; resumed to {} complete",
        before.len(),
        orphans.len(),
        summary.completed
    );
}

fn two_processes_append_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.jsonl");
    // Create the study first so that both writers start appending at once.
    drop(study(&journal));
    let children = [spawn("writer", &journal), spawn("writer", &journal)];
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'));
    let mut started = Vec::new();
    let mut finished = HashSet::new();
    let mut pids = HashSet::new();
    let mut owners = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let event: Event = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not a whole event ({e}): {line}", i + 1));
        match event {
            Event::TrialStarted { number, owner, .. } => {
                started.push(number);
                pids.insert(owner.pid);
                owners.push(owner.pid);
            }
            Event::TrialFinished { number, .. } => assert!(finished.insert(number)),
            _ => {}
        }
    }
    let expected: Vec<u64> = (0..2 * WRITES_PER_CHILD).collect();
    assert_eq!(
        started, expected,
        "numbers follow line order, none given twice"
    );
    assert_eq!(finished.len(), expected.len());
    assert_eq!(pids.len(), 2);
    let switches = owners.windows(2).filter(|w| w[0] != w[1]).count();
    println!(
        "  {} lines, the writer changed {switches} times",
        text.lines().count()
    );
    assert_eq!(study(&journal).trials().unwrap().len(), expected.len());
}
