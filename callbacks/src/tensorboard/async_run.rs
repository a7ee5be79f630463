//! A TensorBoard run written by a background thread.

use std::path::Path;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use super::proto::Value;
use super::RunWriter;

/// Events a job hands to the writer: `(step, values)` in order.
type Events = Vec<(i64, Vec<Value>)>;
type Job = Box<dyn FnOnce() -> Events + Send>;

/// A run written by a background thread: summaries that take time to build (a
/// confusion-matrix PNG, weight histograms) are built there, off the training thread.
///
/// Handing a job over costs a wake-up of the writer, so cheap values can be
/// [buffered](AsyncRun::buffer) and go with the next job instead (as batch metrics go
/// with their epoch's). Jobs run in order and the file is flushed after each. Errors
/// surface at [`AsyncRun::finish`] (or are reported on drop).
pub struct AsyncRun {
    jobs: Option<Sender<Job>>,
    worker: Option<JoinHandle<std::io::Result<()>>>,
    buffered: Events,
}

impl AsyncRun {
    /// Opens a new event file in `dir` (errors now, not later) and starts its writer.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        let mut run = RunWriter::create(dir)?;
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let worker = std::thread::Builder::new()
            .name("knob-tensorboard".into())
            .spawn(move || {
                for job in rx {
                    for (step, values) in job() {
                        run.write(step, values)?;
                    }
                    run.flush()?;
                }
                run.flush()
            })?;
        Ok(Self {
            jobs: Some(tx),
            worker: Some(worker),
            buffered: Vec::new(),
        })
    }

    /// Keeps `values` at `step` to be written with the next job (or at finish).
    pub fn buffer(&mut self, step: i64, values: Vec<Value>) {
        self.buffered.push((step, values));
    }

    /// Queues what is buffered and the values that `build` makes, to be written at
    /// `step`.
    pub fn write(
        &mut self,
        step: i64,
        build: impl FnOnce() -> Vec<Value> + Send + 'static,
    ) -> std::io::Result<()> {
        let mut events = std::mem::take(&mut self.buffered);
        self.send(Box::new(move || {
            events.push((step, build()));
            events
        }))
    }

    fn send(&self, job: Job) -> std::io::Result<()> {
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the run is finished"))?;
        jobs.send(job).map_err(|_| {
            std::io::Error::other("the TensorBoard writer thread stopped; finish() has its error")
        })
    }

    /// Writes what is buffered, waits until everything queued is on disk, and returns
    /// the first write error. Later writes are refused.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if !self.buffered.is_empty() {
            let events = std::mem::take(&mut self.buffered);
            // An error here means the writer stopped: joining it below reports why.
            let _ = self.send(Box::new(move || events));
        }
        self.jobs.take();
        match self.worker.take() {
            Some(worker) => worker
                .join()
                .map_err(|_| std::io::Error::other("the TensorBoard writer thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for AsyncRun {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            eprintln!("knob: TensorBoard writer: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensorboard::{read_records, summary};

    #[test]
    fn buffered_and_queued_values_all_reach_the_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = AsyncRun::create(dir.path()).unwrap();
        for step in 0..10 {
            run.buffer(step, vec![summary::scalar("batch_loss", step as f64)]);
            if step % 3 == 2 {
                run.write(step, move || {
                    vec![summary::scalar("epoch_loss", step as f64)]
                })
                .unwrap();
            }
        }
        // Steps 9 is still buffered: finish writes it.
        run.finish().unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let records = read_records(&file).unwrap();
        // The version record, 10 batch values and 3 epoch values.
        assert_eq!(records.payloads.len(), 14);
        assert!(
            run.write(10, Vec::new).is_err(),
            "a finished run refuses writes"
        );
    }
}
