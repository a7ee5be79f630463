//! Writing TensorBoard logs without TensorFlow: event files, summaries, and the
//! Keras-style [`TensorBoard`] callback.

mod async_run;
mod callback;
mod event_file;
pub mod proto;
pub mod summary;

pub use async_run::AsyncRun;
pub use callback::{TensorBoard, UpdateFreq};
pub use event_file::{frame, masked_crc, read_records, EventWriter, ReadError, Records};

use std::path::Path;

use proto::{event, Event, Summary, Value};

/// The flags to view knob's logs with: TensorBoard keeps a sample of 10 images per tag
/// unless told more, so most epochs' confusion matrices would be missing (and
/// `images=0` hides them all in TensorBoard 2.21). Up to 1000 per tag are kept.
pub const VIEW_FLAGS: &str = "--samples_per_plugin=images=1000";

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

/// The file whose creation claims the writing of a log directory's experiment.
const EXPERIMENT_CLAIM: &str = ".knob-hparams-experiment";

/// Writes the HParams experiment of a study over `space`, with a metric column per
/// epoch log key in `metrics` (`val_accuracy`, `loss`, …; [`summary::metrics`] orders
/// them, `objective` first), to the study's log directory `dir` (the run TensorBoard
/// should be pointed at), once per directory: the [`TensorBoard`] callback calls it at
/// the end of the first epoch of every trial that carries its space, and only the first
/// call, in whichever process, writes (it claims the directory by creating a marker
/// file that no other call can create again). Returns whether this call wrote it.
pub fn write_experiment(
    dir: &Path,
    name: &str,
    space: &knob_core::SearchSpace,
    metrics: &[&str],
    objective: &str,
) -> std::io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let claim = dir.join(EXPERIMENT_CLAIM);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&claim)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", claim.display()),
            ))
        }
    }
    let mut run = RunWriter::create(dir)?;
    run.write(
        0,
        vec![summary::experiment(
            name,
            space,
            &summary::metrics(metrics.iter().copied(), objective),
            knob_core::now_secs(),
        )],
    )?;
    run.flush()?;
    Ok(true)
}
