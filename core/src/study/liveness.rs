//! Who owns a running trial, and whether that owner is still alive.
//!
//! The rule (documented for users on [`Study`](super::Study)), the same for every
//! storage that shares a study between processes: an owner on the reader's own host
//! (same hostname, boot id and PID namespace, so that pids mean the same process) is
//! alive exactly while its pid runs with the start time it recorded; any other owner is
//! alive while it sends heartbeats within its grace. Owners written before heartbeats
//! (no host) are judged by pid alone, as they were then.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::storage::Owner;

/// The default time between heartbeats.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);

/// Missed heartbeats after which an owner on another host is taken for dead.
pub const GRACE_BEATS: u32 = 3;

/// A fresh owner for a study object of this process.
pub(super) fn new_owner(grace: Duration) -> Owner {
    let pid = std::process::id();
    Owner {
        pid,
        token: rand::random(),
        host: this_host().clone(),
        started: *my_start(),
        grace: Some(grace.as_secs_f64()),
    }
}

/// `hostname/boot id/PID namespace`: equal for two processes exactly when each can
/// look the other's pid up. `None` where `/proc` does not tell (not Linux).
fn this_host() -> &'static Option<String> {
    static HOST: OnceLock<Option<String>> = OnceLock::new();
    HOST.get_or_init(|| {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let hostname = read("/proc/sys/kernel/hostname")?;
        let boot = read("/proc/sys/kernel/random/boot_id")?;
        let pid_ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
        Some(format!(
            "{}/{}/{}",
            hostname.trim(),
            boot.trim(),
            pid_ns.display()
        ))
    })
}

/// When this process started: read once, as every `ask` compares its own trials' owners
/// with it.
fn my_start() -> &'static Option<u64> {
    static START: OnceLock<Option<u64>> = OnceLock::new();
    START.get_or_init(|| process_start(std::process::id()))
}

/// When process `pid` started, in clock ticks after boot (field 22 of its `stat`).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; it ends at the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Tokens of the studies alive in this process: a running trial whose owner is this
/// process but not one of these was left behind by a dropped study.
pub(super) fn live_tokens() -> MutexGuard<'static, Vec<u64>> {
    static TOKENS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    TOKENS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why `owner`'s trial is stale, or `None` while the owner may still run it.
/// `last_seen` is when it last beat (or started the trial), `now` the reader's clock.
pub(super) fn stale(owner: &Owner, last_seen: f64, now: f64) -> Option<String> {
    let me = std::process::id();
    let same_host = match (&owner.host, this_host()) {
        (Some(theirs), Some(mine)) => theirs == mine,
        (None, _) => true, // written before heartbeats: pids were all there was
        (Some(_), None) => false,
    };
    if same_host {
        if owner.pid == me && (owner.started.is_none() || owner.started == *my_start()) {
            return (!live_tokens().contains(&owner.token))
                .then(|| "its study was dropped before the trial finished".to_owned());
        }
        return match process_start(owner.pid) {
            None => Some(format!(
                "its process (pid {}) stopped before the trial finished",
                owner.pid
            )),
            Some(started) if owner.started.is_some_and(|s| s != started) => Some(format!(
                "its process (pid {}) stopped before the trial finished; the pid now belongs to another process",
                owner.pid
            )),
            Some(_) => None,
        };
    }
    let grace = owner
        .grace
        .unwrap_or((DEFAULT_HEARTBEAT * GRACE_BEATS).as_secs_f64());
    let silent = now - last_seen;
    (silent > grace).then(|| {
        format!(
            "its process (pid {} on {}) has not sent a heartbeat for {silent:.0} s (grace {grace:.0} s)",
            owner.pid,
            owner.host.as_deref().map_or("another host", short_host),
        )
    })
}

/// The hostname part of a host key.
fn short_host(host: &str) -> &str {
    host.split('/').next().unwrap_or(host)
}

/// A thread that calls `beat` every interval until dropped (or until `beat` returns
/// false).
pub(super) struct Heartbeat {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    pub fn start(interval: Duration, beat: impl Fn() -> bool + Send + 'static) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("knob-heartbeat".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    if !beat() {
                        break;
                    }
                }
            })
            .ok();
        Self {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(host: Option<String>, pid: u32, started: Option<u64>) -> Owner {
        Owner {
            pid,
            token: 1,
            host,
            started,
            grace: Some(30.0),
        }
    }

    #[test]
    fn this_process_reads_its_own_start_time() {
        let me = std::process::id();
        assert!(process_start(me).is_some());
        assert_eq!(process_start(me), process_start(me));
    }

    #[test]
    fn a_reused_pid_on_this_host_is_stale() {
        // pid 1 runs, but did not start when this fake owner says it did.
        let started = process_start(1).map(|s| s + 12345);
        let why = stale(&owner(this_host().clone(), 1, started), 0.0, 0.0).unwrap();
        assert!(why.contains("another process"), "{why}");
        assert!(stale(&owner(this_host().clone(), 1, process_start(1)), 0.0, 1e9).is_none());
    }

    #[test]
    fn owners_elsewhere_live_while_they_beat() {
        let far = owner(Some("elsewhere/boot/pid:[1]".into()), 1, Some(5));
        assert!(stale(&far, 100.0, 125.0).is_none());
        let why = stale(&far, 100.0, 131.0).unwrap();
        assert!(
            why.contains("heartbeat") && why.contains("elsewhere"),
            "{why}"
        );
    }
}
