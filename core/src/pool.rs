//! The worker pool that both [`Study::optimize_on`](crate::Study::optimize_on) and
//! population-based training run on: a thread per worker, each building its own
//! trainer inside its thread with [`WorkerPool::build`] (so a trainer may hold a device
//! handle that is not `Send`; callers build again after a job panicked), and retiring
//! when its device cannot build one while other workers carry on. The first error
//! stops the pool.
//!
//! Where the work comes from is the caller's: a study's workers ask the study for
//! their next trial (the study is the queue, shared with other processes); a PBT
//! generation deals its members through a [`channel`] and collects the spans' results
//! through another.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

pub use crossbeam_channel::{unbounded as channel, Receiver, Sender};

use crate::error::{panic_message, BoxError, Error, Result};
use crate::workers::{DeviceError, Worker, Workers};

/// Threads for `workers`, with the first error any of them met.
///
/// ```
/// use knob_core::pool::{channel, Built, WorkerPool};
/// use knob_core::{BoxError, Worker, Workers};
///
/// let (jobs, queue) = channel();
/// (1..=10u64).for_each(|n| jobs.send(n).unwrap());
/// drop(jobs); // the workers stop when the queue is empty
/// let (results, collected) = channel();
/// // Each worker's "trainer" multiplies by ten.
/// let make = |_: Worker| -> Result<u64, BoxError> { Ok(10) };
/// let workers = Workers::cpu(3);
/// let pool = WorkerPool::new(&workers)?;
/// pool.run(|worker| {
///     let Built::Trainer(factor) = pool.build(worker, &make) else { return };
///     for n in queue.iter() {
///         results.send(n * factor).unwrap();
///     }
/// })?;
/// drop(results);
/// assert_eq!(collected.iter().sum::<u64>(), 550);
/// # Ok::<(), knob_core::Error>(())
/// ```
pub struct WorkerPool<'w> {
    workers: &'w Workers,
    live: AtomicUsize,
    retired: AtomicUsize,
    failed: AtomicBool,
    first_error: Mutex<Option<Error>>,
}

/// What building a worker's trainer gave.
#[derive(Debug)]
pub enum Built<T> {
    /// The trainer.
    Trainer(T),
    /// None: the worker stops taking work. Its device failed to build a trainer
    /// (a [`DeviceError`]) while other workers carry on, or the pool failed (the
    /// factory's error is then the pool's error).
    Stopped,
}

impl<'w> WorkerPool<'w> {
    /// A pool of `workers`, which must not be empty.
    pub fn new(workers: &'w Workers) -> Result<Self> {
        if workers.is_empty() {
            return Err(Error::Config("at least one worker is needed".into()));
        }
        Ok(Self {
            workers,
            live: AtomicUsize::new(workers.len()),
            retired: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            first_error: Mutex::new(None),
        })
    }

    /// Runs `body` on a thread per worker and waits for all of them; the first error
    /// recorded with [`WorkerPool::fail`], if any, is the result.
    pub fn run(&self, body: impl Fn(Worker) + Sync) -> Result<()> {
        self.run_notifying(body, || {})
    }

    /// [`WorkerPool::run`], calling `on_leave` each time a worker's body returns (after
    /// it is counted out of [`WorkerPool::others_live`]), so idle workers waiting for
    /// work can look again.
    pub fn run_notifying(
        &self,
        body: impl Fn(Worker) + Sync,
        on_leave: impl Fn() + Sync,
    ) -> Result<()> {
        crossbeam_utils::thread::scope(|scope| {
            for worker in self.workers.iter() {
                let (body, on_leave) = (&body, &on_leave);
                scope.spawn(move |_| {
                    // Counts the worker out however its body ends.
                    let _leave = Leave(self, on_leave);
                    body(worker)
                });
            }
        })
        .map_err(|panics| {
            // The scope hands back every thread's panic; the first one says what broke.
            let first = panics
                .downcast_ref::<Vec<Box<dyn std::any::Any + Send>>>()
                .and_then(|all| all.first());
            Error::WorkerPanicked(
                first.map_or_else(|| panic_message(&*panics), |p| panic_message(&**p)),
            )
        })?;
        match self
            .first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Records `error` (the first one recorded is the pool's result) and marks the
    /// pool failed.
    pub fn fail(&self, error: Error) {
        self.first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(error);
        self.failed.store(true, Ordering::SeqCst);
    }

    /// Whether an error was recorded.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Whether a worker other than the caller is still running its body.
    pub fn others_live(&self) -> bool {
        self.live.load(Ordering::SeqCst) > 1
    }

    /// Counts the calling worker as retired unless every other one already is: the
    /// last worker never retires, so the work still gets done or fails.
    pub fn may_retire(&self) -> bool {
        let ok = self.retired.fetch_add(1, Ordering::SeqCst) + 1 < self.workers.len();
        if !ok {
            self.retired.fetch_sub(1, Ordering::SeqCst);
        }
        ok
    }

    /// Builds `worker`'s trainer with `make`, inside the caller's (the worker's)
    /// thread. A [`DeviceError`] retires the worker while others carry on; any other
    /// error, or a panic, fails the pool with [`Error::TrainerFactory`].
    pub fn build<T, F>(&self, worker: Worker, make: &F) -> Built<T>
    where
        F: Fn(Worker) -> Result<T, BoxError> + ?Sized,
    {
        let message = match catch_unwind(AssertUnwindSafe(|| make(worker))) {
            Ok(Ok(trainer)) => return Built::Trainer(trainer),
            Ok(Err(e)) if e.downcast_ref::<DeviceError>().is_some() && self.may_retire() => {
                eprintln!(
                    "knob: worker {} retires: its trainer on {} failed: {e}",
                    worker.index, worker.device
                );
                return Built::Stopped;
            }
            Ok(Err(e)) => e.to_string(),
            Err(panic) => format!("the factory panicked: {}", panic_message(&*panic)),
        };
        self.fail(Error::TrainerFactory {
            worker: worker.index,
            message,
        });
        Built::Stopped
    }
}

/// Runs `job`, turning a panic into its message.
pub fn catch_panic<R>(job: impl FnOnce() -> R) -> std::result::Result<R, String> {
    catch_unwind(AssertUnwindSafe(job)).map_err(|panic| panic_message(&*panic))
}

/// Counts a worker out of the live ones when dropped, then notifies.
struct Leave<'p, 'w, N: Fn()>(&'p WorkerPool<'w>, &'p N);

impl<N: Fn()> Drop for Leave<'_, '_, N> {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        (self.1)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::Device;

    #[test]
    fn a_device_error_retires_a_worker_unless_it_is_the_last() {
        let workers = Workers::on([Device::Cpu, Device::Cpu]);
        let pool = WorkerPool::new(&workers).unwrap();
        let broken =
            |_: Worker| -> Result<(), BoxError> { Err(Box::new(DeviceError::new("lost"))) };
        let built = AtomicUsize::new(0);
        pool.run(|worker| match pool.build(worker, &broken) {
            Built::Trainer(()) => unreachable!(),
            Built::Stopped => {
                built.fetch_add(1, Ordering::SeqCst);
            }
        })
        .unwrap_err();
        // One worker retired; the last could not, so its error failed the pool.
        assert_eq!(built.into_inner(), 2);
        assert_eq!(pool.retired.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panicking_factory_fails_the_pool_with_its_message() {
        let workers = Workers::cpu(2);
        let pool = WorkerPool::new(&workers).unwrap();
        let factory = |_: Worker| -> Result<(), BoxError> { panic!("no device") };
        let e = pool
            .run(|worker| {
                let _ = pool.build(worker, &factory);
            })
            .unwrap_err()
            .to_string();
        assert!(e.contains("the factory panicked: no device"), "{e}");
    }

    #[test]
    fn a_panic_outside_any_job_is_a_worker_panic() {
        let workers = Workers::cpu(1);
        let e = WorkerPool::new(&workers)
            .unwrap()
            .run(|_| panic!("bug"))
            .unwrap_err();
        assert!(
            matches!(e, Error::WorkerPanicked(ref m) if m == "bug"),
            "{e}"
        );
    }

    #[test]
    fn no_workers_is_refused() {
        assert!(WorkerPool::new(&Workers::cpu(0)).is_err());
    }
}
