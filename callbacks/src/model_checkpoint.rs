//! Save the model during training, as Keras's `ModelCheckpoint`.

use std::path::{Path, PathBuf};

use knob_core::{BoxError, Callback, Control, EpochView, Logs, Trial, TrialInfo, Value};

use crate::early_stopping::Mode;

/// Writes the model's state each epoch, or with [`ModelCheckpoint::save_best_only`]
/// only when `monitor` (default `val_loss`) improves, to a path made from a template:
/// `{trial}` and `{epoch}` are replaced by the trial's number and the epoch.
///
/// Each save is atomic (a temporary file renamed over the last one), so a killed run
/// leaves the previous checkpoint whole. The trial records where: user attributes
/// `checkpoint` (the path) and `checkpoint_epoch`, so the best trial's model is found
/// from the study ([`ModelCheckpoint::saved`]). The bytes are the trainer's state
/// format ([`ModelState`](knob_core::ModelState)): for `MlpTrainer`, load them with
/// `Mlp::from_file` and the trial's config.
///
/// ```
/// use knob_callbacks::ModelCheckpoint;
/// let best = ModelCheckpoint::new("runs/models/trial-{trial}.knobmlp")
///     .monitor("val_accuracy")
///     .save_best_only(true);
/// assert_eq!(best.path(7, 3).to_str(), Some("runs/models/trial-7.knobmlp"));
/// ```
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    template: String,
    monitor: String,
    mode: Mode,
    save_best_only: bool,
    trial: u64,
    best: Option<f64>,
}

impl ModelCheckpoint {
    /// Saves to `template` every epoch, as Keras's defaults (monitor `val_loss`, mode
    /// auto); without `{trial}` in it, every trial writes the same file.
    pub fn new(template: impl Into<String>) -> Self {
        Self {
            template: template.into(),
            monitor: "val_loss".into(),
            mode: Mode::Auto,
            save_best_only: false,
            trial: 0,
            best: None,
        }
    }

    /// The metric that decides which epoch is best.
    pub fn monitor(mut self, monitor: impl Into<String>) -> Self {
        self.monitor = monitor.into();
        self
    }

    /// Which way the metric improves.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Saves only epochs that beat every earlier one of the trial.
    pub fn save_best_only(mut self, best_only: bool) -> Self {
        self.save_best_only = best_only;
        self
    }

    /// Where trial `trial`'s checkpoint of epoch `epoch` goes.
    pub fn path(&self, trial: u64, epoch: usize) -> PathBuf {
        PathBuf::from(
            self.template
                .replace("{trial}", &trial.to_string())
                .replace("{epoch}", &epoch.to_string()),
        )
    }

    /// The checkpoint a trial recorded (its `checkpoint` attribute): for the best trial
    /// of a study, `ModelCheckpoint::saved(&study.best_trial()?.unwrap())`.
    pub fn saved(trial: &Trial) -> Option<PathBuf> {
        match trial.user_attrs.get("checkpoint") {
            Some(Value::Str(path)) => Some(PathBuf::from(path)),
            _ => None,
        }
    }

    fn write(path: &Path, bytes: &[u8]) -> Result<(), BoxError> {
        let at =
            |e: std::io::Error| format!("ModelCheckpoint: cannot write {}: {e}", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(at)?;
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        std::fs::write(&partial, bytes).map_err(at)?;
        std::fs::rename(&partial, path).map_err(at)?;
        Ok(())
    }
}

impl Callback for ModelCheckpoint {
    fn on_train_begin(&mut self, trial: &TrialInfo) -> Result<(), BoxError> {
        self.trial = trial.number;
        self.best = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        view: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        let model = view.model.ok_or(
            "ModelCheckpoint needs a trainer that lends its model (EpochView::with_model); \
             this trainer does not",
        )?;
        if self.save_best_only {
            let value = *logs.get(&self.monitor).ok_or_else(|| {
                let known: Vec<&str> = logs.keys().map(String::as_str).collect();
                format!(
                    "ModelCheckpoint monitors `{}`, but the epoch's logs hold [{}]",
                    self.monitor,
                    known.join(", ")
                )
            })?;
            if !self.mode.improves(&self.monitor, value, self.best, 0.0) {
                return Ok(Control::Continue);
            }
            self.best = Some(value);
        }
        let path = self.path(self.trial, epoch);
        Self::write(&path, &model.to_state())?;
        view.set_user_attr("checkpoint", path.display().to_string());
        view.set_user_attr("checkpoint_epoch", epoch as i64);
        Ok(Control::Continue)
    }
}
