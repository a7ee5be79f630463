//! The Keras-style TensorBoard callback.

use std::path::{Path, PathBuf};

use knob_core::{BoxError, Callback, Control, EpochView, Logs, TrialInfo, TrialState};

use super::summary;
use super::{AsyncRun, RunWriter};

/// How often batch-level metrics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateFreq {
    /// Only epoch metrics (the default).
    #[default]
    Epoch,
    /// Every batch.
    Batch,
    /// Every `n` batches.
    Every(usize),
}

/// Writes a trial's training to TensorBoard, laid out as Keras does so that curves
/// overlay: `<log_dir>/trial_NNNN/train` and `.../validation` hold `epoch_loss` and
/// `epoch_accuracy` (step = epoch); `train` also holds `batch_loss` (step = global
/// batch, with `update_freq`), the learning rate, weight histograms every
/// `histogram_freq` epochs, weights as images with `write_images`, and the first
/// training images once. The trial run holds its HParams session (start at the first
/// epoch, end when training ends). When the trial carries its space (every trial of a
/// study or a PBT population does), the first epoch of the first trial also writes the
/// study's HParams experiment to `log_dir` ([`super::write_experiment`]), with a metric
/// column for every value the epoch logged and the [`TensorBoard::objective`] first, so
/// TensorBoard's HPARAMS tab lists every trial with nothing else to call.
///
/// ```no_run
/// use knob_callbacks::TensorBoard;
/// let tb = TensorBoard::new("runs/study/tb").histogram_freq(1).objective("val_accuracy");
/// ```
pub struct TensorBoard {
    log_dir: PathBuf,
    histogram_freq: usize,
    update_freq: UpdateFreq,
    write_images: bool,
    log_inputs: bool,
    experiment_name: String,
    objective: String,
    /// Whether this callback has offered the experiment (it is written once per log
    /// directory, by whichever callback offers it first).
    experiment_offered: bool,
    runs: Option<Runs>,
    global_batch: i64,
}

struct Runs {
    trial: TrialInfo,
    session: RunWriter,
    /// The step the HParams session started at, once it has.
    session_step: Option<i64>,
    /// The last epoch logged.
    last_step: Option<i64>,
    /// Whether the session's end is written (it waits for the trial's state).
    ended: bool,
    train: AsyncRun,
    validation: RunWriter,
}

impl Runs {
    /// Writes the session's end with `state`'s status, once.
    fn end_session(&mut self, state: TrialState) -> Result<(), BoxError> {
        if self.ended {
            return Ok(());
        }
        self.start_session(0)?;
        let step = self.last_step.or(self.session_step).unwrap_or(0);
        let end = summary::session_end(state, knob_core::now_secs());
        self.session.write(step, vec![end])?;
        self.session.flush()?;
        self.ended = true;
        Ok(())
    }

    /// Writes the HParams session's start at `step` (the first epoch trained) unless
    /// it is written already. A training resumed at epoch 30 (a PBT member's next
    /// generation) starts a new session at step 30, after the last one's steps.
    fn start_session(&mut self, step: i64) -> Result<(), BoxError> {
        if self.session_step.is_some() {
            return Ok(());
        }
        let name = format!("trial_{:04}", self.trial.number);
        let space = self.trial.space.as_deref();
        let start = summary::session_start(&name, &self.trial.params, space, knob_core::now_secs());
        self.session.write(step, vec![start])?;
        self.session.flush()?;
        self.session_step = Some(step);
        Ok(())
    }
}

impl TensorBoard {
    /// Logs under `log_dir`: histograms off, epoch-level updates, input images on.
    pub fn new(log_dir: impl AsRef<Path>) -> Self {
        Self {
            log_dir: log_dir.as_ref().to_owned(),
            histogram_freq: 0,
            update_freq: UpdateFreq::Epoch,
            write_images: false,
            log_inputs: true,
            experiment_name: "knob".into(),
            objective: "val_loss".into(),
            experiment_offered: false,
            runs: None,
            global_batch: 0,
        }
    }

    /// Weight and bias histograms every `epochs` epochs (0: never).
    pub fn histogram_freq(mut self, epochs: usize) -> Self {
        self.histogram_freq = epochs;
        self
    }

    /// How often batch metrics are written.
    pub fn update_freq(mut self, freq: UpdateFreq) -> Self {
        self.update_freq = freq;
        self
    }

    /// Also write each 2-D weight matrix as an image (with the histograms).
    pub fn write_images(mut self, on: bool) -> Self {
        self.write_images = on;
        self
    }

    /// Whether to log a strip of the first training images once (default: yes).
    pub fn log_inputs(mut self, on: bool) -> Self {
        self.log_inputs = on;
        self
    }

    /// The name the HParams experiment is written under (default `knob`).
    pub fn experiment_name(mut self, name: impl Into<String>) -> Self {
        self.experiment_name = name.into();
        self
    }

    /// The epoch log key the study optimizes (default `val_loss`, as Keras's monitors):
    /// the HPARAMS table's first metric, which TensorBoard colours and sorts by.
    pub fn objective(mut self, metric: impl Into<String>) -> Self {
        self.objective = metric.into();
        self
    }

    fn runs(&mut self) -> Result<&mut Runs, BoxError> {
        self.runs
            .as_mut()
            .ok_or_else(|| "TensorBoard: on_train_begin was not called".into())
    }
}

impl Callback for TensorBoard {
    /// Logging only: a write error must not cost the trial.
    fn is_observer(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, trial: &TrialInfo) -> Result<(), BoxError> {
        // A callback reused for another training ends the last one's session first.
        if let Some(runs) = &mut self.runs {
            if runs.session_step.is_some() {
                runs.end_session(TrialState::Complete)?;
            }
        }
        let name = format!("trial_{:04}", trial.number);
        let dir = self.log_dir.join(&name);
        self.runs = Some(Runs {
            session: RunWriter::create(&dir)?,
            session_step: None,
            last_step: None,
            ended: false,
            train: AsyncRun::create(&dir.join("train"))?,
            validation: RunWriter::create(&dir.join("validation"))?,
            trial: trial.clone(),
        });
        self.global_batch = 0;
        Ok(())
    }

    fn on_epoch_begin(&mut self, epoch: usize, _view: &EpochView<'_>) -> Result<(), BoxError> {
        self.runs()?.start_session(epoch as i64)
    }

    fn on_batch_end(&mut self, _batch: usize, logs: &Logs) -> Result<Control, BoxError> {
        let step = self.global_batch;
        self.global_batch += 1;
        let due = match self.update_freq {
            UpdateFreq::Epoch => false,
            UpdateFreq::Batch => true,
            UpdateFreq::Every(n) => step % n.max(1) as i64 == 0,
        };
        if due {
            let values: Vec<_> = logs
                .iter()
                .map(|(k, v)| summary::scalar(&format!("batch_{k}"), *v))
                .collect();
            // Sent with the epoch's values.
            self.runs()?.train.buffer(step, values);
        }
        Ok(Control::Continue)
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        view: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        if !self.experiment_offered {
            if let Some(space) = self.runs()?.trial.space.clone() {
                self.experiment_offered = true;
                let keys: Vec<&str> = logs.keys().map(String::as_str).collect();
                super::write_experiment(
                    &self.log_dir,
                    &self.experiment_name,
                    &space,
                    &keys,
                    &self.objective,
                )?;
            }
        }
        let (histograms, images, inputs) =
            (self.histogram_freq, self.write_images, self.log_inputs);
        let runs = self.runs()?;
        let step = epoch as i64;
        // For trainers that do not call on_epoch_begin.
        runs.start_session(step)?;
        runs.last_step = Some(step);
        let (mut train, mut validation) = (Vec::new(), Vec::new());
        for (key, &v) in logs {
            match key.strip_prefix("val_") {
                Some(metric) => validation.push(summary::scalar(&format!("epoch_{metric}"), v)),
                None => train.push(summary::scalar(&format!("epoch_{key}"), v)),
            }
        }
        // Histograms and weight images are built on the writer's thread from a copy of
        // the weights, so training does not wait for them.
        let mut copies: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        if histograms > 0 && epoch.is_multiple_of(histograms) {
            if let Some(weights) = view.weights {
                weights.for_each_weight(&mut |w| {
                    copies.push((w.name.to_owned(), w.shape.to_vec(), w.values.to_vec()))
                });
            }
        }
        if inputs && epoch == 0 {
            if let Some(batch) = view.images.filter(|b| b.channels == 1 && !b.is_empty()) {
                // The images side by side in one strip.
                let (h, w, n) = (batch.height, batch.width, batch.len());
                let mut strip = vec![0.0f32; h * w * n];
                for k in 0..n {
                    for r in 0..h {
                        let src = &batch.pixels[k * h * w + r * w..k * h * w + (r + 1) * w];
                        strip[r * w * n + k * w..r * w * n + (k + 1) * w].copy_from_slice(src);
                    }
                }
                let (width, height) = ((w * n) as u32, h as u32);
                train.push(summary::image(
                    "input_images",
                    summary::png_gray(&strip, width, height),
                    width,
                    height,
                    1,
                ));
            }
        }
        // One job per epoch for the train run (with the epoch's batch metrics); the
        // validation run's few scalars are written here, cheaper than a second job.
        runs.train.write(step, move || {
            for (name, shape, values) in &copies {
                train.push(summary::histogram(name, values));
                if images && shape.len() == 2 {
                    train.push(weight_image(name, shape, values));
                }
            }
            train
        })?;
        runs.validation.write(step, validation)?;
        runs.validation.flush()?;
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, _logs: &Logs) -> Result<(), BoxError> {
        let runs = self.runs()?;
        // A training that ran no epoch still gets its session, at step 0.
        runs.start_session(0)?;
        runs.train.finish()?;
        runs.validation.flush()?;
        Ok(())
    }

    /// Ends the HParams session with the trial's status.
    fn on_trial_end(&mut self, state: TrialState) -> Result<(), BoxError> {
        self.runs()?.end_session(state)
    }
}

impl Drop for TensorBoard {
    /// A training without a study (no trial state comes) ends its session as a
    /// success when the callback goes; nothing can report an error here.
    fn drop(&mut self) {
        if let Some(runs) = &mut self.runs {
            if runs.session_step.is_some() {
                let _ = runs.end_session(TrialState::Complete);
            }
        }
    }
}

/// A 2-D weight matrix as a grey image, stretched to its own range.
fn weight_image(name: &str, shape: &[usize], values: &[f32]) -> super::proto::Value {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let scaled: Vec<f32> = values.iter().map(|x| (x - lo) / span).collect();
    let (rows, cols) = (shape[0] as u32, shape[1] as u32);
    summary::image(
        &format!("{name}/image"),
        summary::png_gray(&scaled, cols, rows),
        cols,
        rows,
        1,
    )
}
