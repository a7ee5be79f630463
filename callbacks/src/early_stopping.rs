//! Stop training when a monitored metric stops improving, as Keras's `EarlyStopping`.

use knob_core::{BoxError, Callback, Control, EpochView, Logs, TrialInfo};

/// Which way the monitored metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// From the name: metrics with `acc` in them are maximized, the rest minimized.
    #[default]
    Auto,
    /// Smaller is better.
    Min,
    /// Larger is better.
    Max,
}

impl Mode {
    pub(crate) fn maximizes(self, monitor: &str) -> bool {
        match self {
            Mode::Auto => monitor.contains("acc"),
            Mode::Min => false,
            Mode::Max => true,
        }
    }

    /// Whether `value` of `monitor` beats `reference` (none yet: it does) by more than
    /// `min_delta` in this mode's direction.
    pub(crate) fn improves(
        self,
        monitor: &str,
        value: f64,
        reference: Option<f64>,
        min_delta: f64,
    ) -> bool {
        reference.is_none_or(|reference| {
            if self.maximizes(monitor) {
                value - min_delta > reference
            } else {
                value + min_delta < reference
            }
        })
    }
}

/// Stops training after `patience` epochs without an improvement of more than
/// `min_delta` in `monitor` (default `val_loss`).
///
/// It follows Keras: an improvement resets the wait only if it also beats `baseline`
/// (when one is set), epochs before `start_from_epoch` are ignored, and it never stops
/// at epoch 0. An epoch whose logs lack the metric is skipped. With
/// [`EarlyStopping::restore_best_weights`] it keeps the best epoch's model and, when it
/// stops training, asks the trainer to load it back, so the trial ends with the best
/// epoch's model and value (as Keras, only when it stops the training).
///
/// ```
/// use knob_callbacks::EarlyStopping;
/// let stop = EarlyStopping::new("val_accuracy").patience(3).min_delta(0.001);
/// let keep_best = EarlyStopping::new("val_loss").patience(2).restore_best_weights(true);
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    monitor: String,
    min_delta: f64,
    patience: usize,
    mode: Mode,
    baseline: Option<f64>,
    start_from_epoch: usize,
    wait: usize,
    best: Option<f64>,
    best_epoch: Option<usize>,
    stopped_epoch: Option<usize>,
    restore_best_weights: bool,
    best_state: Option<Vec<u8>>,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self::new("val_loss")
    }
}

impl EarlyStopping {
    /// Watches `monitor`, with patience 0 and no minimum change, as Keras's defaults.
    pub fn new(monitor: impl Into<String>) -> Self {
        Self {
            monitor: monitor.into(),
            min_delta: 0.0,
            patience: 0,
            mode: Mode::Auto,
            baseline: None,
            start_from_epoch: 0,
            wait: 0,
            best: None,
            best_epoch: None,
            stopped_epoch: None,
            restore_best_weights: false,
            best_state: None,
        }
    }

    /// Keeps the best epoch's model and restores it when stopping. Needs a trainer that
    /// lends its model ([`EpochView::with_model`], as `MlpTrainer` does); with any other
    /// the first epoch fails with an error that says so.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// The smallest change that counts as an improvement (its sign is ignored).
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Epochs without improvement to wait before stopping.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Which way the metric improves.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// A value the metric must beat before the wait resets.
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Epochs to ignore at the start (a warm-up).
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// The epoch at which it stopped training, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The best value seen and its epoch.
    pub fn best(&self) -> Option<(usize, f64)> {
        Some((self.best_epoch?, self.best?))
    }

    fn improves(&self, value: f64, reference: Option<f64>) -> bool {
        self.mode
            .improves(&self.monitor, value, reference, self.min_delta)
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, _: &TrialInfo) -> Result<(), BoxError> {
        self.wait = 0;
        self.best = None;
        self.best_epoch = None;
        self.stopped_epoch = None;
        self.best_state = None;
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        view: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        let Some(&value) = logs.get(&self.monitor) else {
            return Ok(Control::Continue);
        };
        if epoch < self.start_from_epoch {
            return Ok(Control::Continue);
        }
        self.wait += 1;
        if self.improves(value, self.best) {
            self.best = Some(value);
            self.best_epoch = Some(epoch);
            if self.restore_best_weights {
                let model = view.model.ok_or(
                    "EarlyStopping::restore_best_weights needs a trainer that lends its \
                     model (EpochView::with_model); this trainer does not",
                )?;
                self.best_state = Some(model.to_state());
            }
            if self.improves(value, self.baseline) {
                self.wait = 0;
            }
            return Ok(Control::Continue);
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = Some(epoch);
            if let Some(state) = self.best_state.take() {
                view.restore_model(state);
            }
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::Params;

    /// Feeds `values` of `monitor` epoch by epoch; returns the epoch it stopped at.
    fn run(mut cb: EarlyStopping, monitor: &str, values: &[f64]) -> Option<usize> {
        let info = TrialInfo::new(0, Params::new());
        cb.on_train_begin(&info).unwrap();
        for (epoch, &v) in values.iter().enumerate() {
            let logs = Logs::from([(monitor.to_owned(), v)]);
            if cb
                .on_epoch_end(epoch, &logs, &EpochView::new(&info))
                .unwrap()
                == Control::Stop
            {
                return Some(epoch);
            }
        }
        None
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let losses = [1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.6];
        assert_eq!(
            run(
                EarlyStopping::new("val_loss").patience(3),
                "val_loss",
                &losses
            ),
            Some(5)
        );
        assert_eq!(
            run(
                EarlyStopping::new("val_loss").patience(0),
                "val_loss",
                &losses
            ),
            Some(3)
        );
        assert_eq!(
            run(
                EarlyStopping::new("val_loss").patience(4),
                "val_loss",
                &losses
            ),
            None
        );
    }

    #[test]
    fn min_delta_ignores_small_gains() {
        let losses = [1.0, 0.99, 0.985, 0.98];
        let cb = EarlyStopping::new("val_loss").patience(2).min_delta(0.05);
        assert_eq!(run(cb, "val_loss", &losses), Some(2));
    }

    #[test]
    fn accuracy_is_maximized_in_auto_mode() {
        let acc = [0.5, 0.6, 0.55, 0.58, 0.59];
        assert_eq!(
            run(
                EarlyStopping::new("val_accuracy").patience(2),
                "val_accuracy",
                &acc
            ),
            Some(3)
        );
        let forced_min = EarlyStopping::new("val_accuracy")
            .patience(1)
            .mode(Mode::Min);
        assert_eq!(run(forced_min, "val_accuracy", &acc), Some(1));
    }

    #[test]
    fn a_baseline_must_be_beaten_to_reset_the_wait() {
        // Keras: improvements that do not beat the baseline do not reset the wait, so
        // the first flat epoch already exhausts the patience.
        let acc = [0.3, 0.4, 0.4, 0.4];
        let cb = EarlyStopping::new("val_accuracy").patience(2).baseline(0.9);
        assert_eq!(run(cb, "val_accuracy", &acc), Some(2));
        let without = EarlyStopping::new("val_accuracy").patience(2);
        assert_eq!(run(without, "val_accuracy", &acc), Some(3));
    }

    #[test]
    fn warm_up_epochs_and_missing_metrics_are_skipped() {
        let losses = [5.0, 6.0, 7.0, 1.0, 2.0, 3.0];
        let cb = EarlyStopping::new("val_loss")
            .patience(1)
            .start_from_epoch(3);
        assert_eq!(run(cb, "val_loss", &losses), Some(4));
        assert_eq!(run(EarlyStopping::new("val_loss"), "loss", &losses), None);
    }
}
