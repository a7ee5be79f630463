//! Writing TensorBoard logs without TensorFlow: event files, summaries, and the
//! Keras-style [`TensorBoard`] callback.

mod callback;
mod event_file;
pub mod proto;
pub mod summary;

pub use callback::{TensorBoard, UpdateFreq};
pub use event_file::{frame, masked_crc, read_records, EventWriter, Records};

use std::path::Path;

use proto::{event, Event, Summary, Value};

/// One TensorBoard run: an event file in a directory, written a step at a time.
pub struct RunWriter {
    file: EventWriter,
}

impl RunWriter {
    /// Opens a new event file in run directory `dir`.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        Ok(Self {
            file: EventWriter::create(dir)?,
        })
    }

    /// Writes `values` at `step` (all share the step and the wall time).
    pub fn write(&mut self, step: i64, values: Vec<Value>) -> std::io::Result<()> {
        self.file.write(&Event {
            wall_time: knob_core::now_secs(),
            step,
            what: Some(event::What::Summary(Summary { value: values })),
        })
    }

    /// Pushes buffered records to disk.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Writes the HParams experiment of a study over `space` to the study's log
/// directory `dir` (the run TensorBoard should be pointed at), once per study.
pub fn write_experiment(
    dir: &Path,
    name: &str,
    space: &knob_core::SearchSpace,
) -> std::io::Result<()> {
    let mut run = RunWriter::create(dir)?;
    run.write(
        0,
        vec![summary::experiment(name, space, knob_core::now_secs())],
    )?;
    run.flush()
}

type Job = Box<dyn FnOnce() -> Vec<Value> + Send>;

/// A run written by a background thread: summaries that take time to build (a
/// confusion-matrix PNG, weight histograms) are built there, off the training thread.
/// Jobs run in order; the file is flushed after each. Errors surface at
/// [`AsyncRun::finish`] (or are reported on drop).
pub struct AsyncRun {
    jobs: Option<std::sync::mpsc::Sender<(i64, Job)>>,
    worker: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl AsyncRun {
    /// Opens a new event file in `dir` (errors now, not later) and starts its writer.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        let mut run = RunWriter::create(dir)?;
        let (tx, rx) = std::sync::mpsc::channel::<(i64, Job)>();
        let worker = std::thread::Builder::new()
            .name("knob-tensorboard".into())
            .spawn(move || {
                for (step, job) in rx {
                    run.write(step, job())?;
                    run.flush()?;
                }
                run.flush()
            })?;
        Ok(Self {
            jobs: Some(tx),
            worker: Some(worker),
        })
    }

    /// Queues the values that `build` makes, to be written at `step`.
    pub fn write(
        &self,
        step: i64,
        build: impl FnOnce() -> Vec<Value> + Send + 'static,
    ) -> std::io::Result<()> {
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| std::io::Error::other("the run is finished"))?;
        jobs.send((step, Box::new(build))).map_err(|_| {
            std::io::Error::other("the TensorBoard writer thread stopped; finish() has its error")
        })
    }

    /// Waits until everything queued is on disk; returns the first write error.
    pub fn finish(&mut self) -> std::io::Result<()> {
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
