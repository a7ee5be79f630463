//! Real processes on one PostgreSQL study (the `postgres` feature, a server in
//! `KNOB_PG_URL`): four processes with two workers each hand out every trial number
//! once; a process killed mid-trial has its trial recovered by the others after its
//! heartbeat grace; a server restart mid-study loses and doubles nothing (with
//! `KNOB_PG_RESTART`, the command that restarts the server).
//!
//! Runs without the test harness: with `KNOB_PG_ROLE` set it plays a child process.

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use knob_core::testing::UniformSampler;
use knob_core::{
    BoxError, CallbackList, Event, Params, PostgresStorage, Scale, SearchSpace, Storage, Study,
    Trainer, TrialContext,
};

const ROLE: &str = "KNOB_PG_ROLE";
const STUDY: &str = "KNOB_PG_STUDY";
const TARGET: usize = 40;

fn url() -> String {
    std::env::var("KNOB_PG_URL").expect(
        "KNOB_PG_URL must name a PostgreSQL server for the `postgres` tests \
         (e.g. postgres://postgres:postgres@127.0.0.1/knob_test)",
    )
}

fn space() -> SearchSpace {
    SearchSpace::builder()
        .float("lr", 1e-4, 1e-1, Scale::Log)
        .int("layers", 1, 3, Scale::Linear)
        .build()
        .unwrap()
}

fn study(name: &str) -> Study {
    Study::builder(space())
        .sampler(UniformSampler)
        .storage(PostgresStorage::connect(&url(), name).unwrap())
        .heartbeat(Duration::from_millis(200))
        .grace(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// Three "epochs" of `epoch` each, reported.
struct Slow(Duration);

impl Trainer for Slow {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        for epoch in 0..3 {
            std::thread::sleep(self.0);
            ctx.report(epoch, params.float("lr")?)?;
        }
        Ok(params.float("lr")?)
    }
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let name = std::env::var(STUDY).unwrap();
        let epoch = match role.as_str() {
            "slow" => Duration::from_millis(400),
            _ => Duration::from_millis(30),
        };
        study(&name)
            .optimize(TARGET, 2, |_| Ok(Slow(epoch)), |_| CallbackList::new())
            .unwrap();
        return;
    }
    let mut failed = false;
    for (name, check) in [
        ("four_processes_share_one_study", four_processes as fn()),
        (
            "a_killed_process_is_recovered_by_the_others",
            a_killed_process,
        ),
        (
            "a_server_restart_loses_and_doubles_nothing",
            a_server_restart,
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

fn new_study(prefix: &str) -> String {
    let name = format!("{prefix}-{:016x}", rand::random::<u64>());
    drop(study(&name));
    name
}

fn spawn(role: &str, name: &str, own_pid_namespace: bool) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if own_pid_namespace {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", "--kill-child", "--mount-proc"])
            .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.env(ROLE, role).env(STUDY, name).spawn().unwrap()
}

fn can_unshare() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The study's events, read as a fresh client would.
fn events(name: &str) -> Vec<Event> {
    let mut storage = PostgresStorage::connect(&url(), name).unwrap();
    storage
        .read_new()
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect()
}

/// Checks numbering and the final count; returns the requeue reasons.
fn check_study(name: &str) -> Vec<String> {
    let events = events(name);
    let mut numbers = Vec::new();
    let mut complete = BTreeMap::new();
    let mut requeued = Vec::new();
    for e in &events {
        match e {
            Event::TrialStarted { number, .. } => numbers.push(*number),
            Event::TrialFinished {
                number,
                value: Some(v),
                ..
            } => {
                assert!(
                    complete.insert(*number, *v).is_none(),
                    "trial {number} finished twice"
                );
            }
            Event::TrialRequeued { error, .. } => requeued.push(error.clone()),
            _ => {}
        }
    }
    let expected: Vec<u64> = (0..numbers.len() as u64).collect();
    assert_eq!(numbers, expected, "every number once, in order");
    assert_eq!(complete.len(), TARGET, "exactly the target completed");
    assert_eq!(
        numbers.len(),
        TARGET + requeued.len(),
        "only retries add trials"
    );
    PostgresStorage::delete_study(&url(), name).unwrap();
    requeued
}

fn four_processes() {
    let name = new_study("four");
    let started = Instant::now();
    let children: Vec<Child> = (0..4).map(|_| spawn("quick", &name, false)).collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let requeued = check_study(&name);
    assert!(requeued.is_empty(), "{requeued:?}");
    println!(
        "  {TARGET} trials by 4 processes x 2 workers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn a_killed_process() {
    let name = new_study("killed");
    // In its own PID namespace (when permitted) the victim looks like another machine to
    // the others, so only its missing heartbeats can tell them it died.
    let namespaced = can_unshare();
    let mut victim = spawn("slow", &name, namespaced);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !events(&name)
        .iter()
        .any(|e| matches!(e, Event::TrialStarted { .. }))
    {
        assert!(
            Instant::now() < deadline,
            "the victim never started a trial"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let others: Vec<Child> = (0..2).map(|_| spawn("quick", &name, false)).collect();
    std::thread::sleep(Duration::from_millis(300));
    victim.kill().unwrap(); // SIGKILL, mid-trial: its epochs last 400 ms
    victim.wait().unwrap();
    let killed_at = Instant::now();
    for mut child in others {
        assert!(child.wait().unwrap().success());
    }
    let requeued = check_study(&name);
    assert!(!requeued.is_empty(), "the victim's trials were recovered");
    if namespaced {
        assert!(
            requeued.iter().all(|r| r.contains("heartbeat")),
            "recovered by heartbeat: {requeued:?}"
        );
    }
    println!(
        "  victim killed with {} running trial(s) ({}); survivors done {:.1} s later",
        requeued.len(),
        if namespaced {
            "own PID namespace, recovered after its 1 s grace"
        } else {
            "same host, recovered at once"
        },
        killed_at.elapsed().as_secs_f64()
    );
}

fn a_server_restart() {
    let restart = std::env::var("KNOB_PG_RESTART").expect(
        "KNOB_PG_RESTART must hold the command that restarts the test server \
         (e.g. `pg_ctlcluster --skip-systemctl-redirect 15 main restart`)",
    );
    let name = new_study("restart");
    let children: Vec<Child> = (0..3).map(|_| spawn("quick", &name, false)).collect();
    let finished = |name: &str| {
        events(name)
            .iter()
            .filter(|e| matches!(e, Event::TrialFinished { .. }))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while finished(&name) < 5 {
        assert!(Instant::now() < deadline, "no progress before the restart");
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = finished(&name);
    assert!(before < TARGET, "the study ended before the restart");
    let status = Command::new("sh").arg("-c").arg(&restart).status().unwrap();
    assert!(status.success(), "`{restart}` failed");
    for mut child in children {
        assert!(
            child.wait().unwrap().success(),
            "a client gave up on the restart"
        );
    }
    let requeued = check_study(&name);
    assert!(requeued.is_empty(), "{requeued:?}");
    println!("  the server restarted after {before} of {TARGET} trials; none lost or doubled");
}
