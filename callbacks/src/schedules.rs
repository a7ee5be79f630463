//! Learning-rate callbacks: a schedule by epoch, and cutting the rate when progress
//! stalls, as Keras's `LearningRateScheduler` and `ReduceLROnPlateau`.

use knob_core::{BoxError, Callback, Control, EpochView, Logs, TrialInfo};

use crate::early_stopping::Mode;

type Schedule = dyn FnMut(usize, f64) -> f64 + Send;

/// Sets the learning rate at the start of every epoch to `schedule(epoch, lr)`, where
/// `lr` is the rate in use. Trainers that honour [`EpochView::set_learning_rate`] (the
/// MLP trainer does) train the epoch with it.
///
/// ```
/// use knob_callbacks::LearningRateScheduler;
/// // Halve every 5 epochs.
/// let halve = LearningRateScheduler::new(|epoch, lr| if epoch > 0 && epoch % 5 == 0 { lr / 2.0 } else { lr });
/// ```
pub struct LearningRateScheduler {
    schedule: Box<Schedule>,
}

impl LearningRateScheduler {
    /// A scheduler from `schedule(epoch, current_lr) -> new_lr`.
    pub fn new(schedule: impl FnMut(usize, f64) -> f64 + Send + 'static) -> Self {
        Self {
            schedule: Box::new(schedule),
        }
    }
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, epoch: usize, view: &EpochView<'_>) -> Result<(), BoxError> {
        let Some(lr) = view.learning_rate() else {
            return Ok(());
        };
        let next = (self.schedule)(epoch, lr);
        if !(next.is_finite() && next > 0.0) {
            return Err(format!("the schedule gave learning rate {next} at epoch {epoch}").into());
        }
        view.set_learning_rate(next);
        Ok(())
    }
}

/// Multiplies the learning rate by `factor` when `monitor` (default `val_loss`) has not
/// improved by more than `min_delta` for `patience` epochs, then waits `cooldown`
/// epochs before counting again, and never goes below `min_lr`.
#[derive(Debug, Clone)]
pub struct ReduceLROnPlateau {
    monitor: String,
    factor: f64,
    patience: usize,
    mode: Mode,
    min_delta: f64,
    cooldown: usize,
    min_lr: f64,
    best: Option<f64>,
    wait: usize,
    cooldown_left: usize,
}

impl Default for ReduceLROnPlateau {
    fn default() -> Self {
        Self::new("val_loss")
    }
}

impl ReduceLROnPlateau {
    /// Keras's defaults: factor 0.1, patience 10, min_delta 1e-4, no cooldown, min_lr 0.
    pub fn new(monitor: impl Into<String>) -> Self {
        Self {
            monitor: monitor.into(),
            factor: 0.1,
            patience: 10,
            mode: Mode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            best: None,
            wait: 0,
            cooldown_left: 0,
        }
    }

    /// The factor in (0, 1) the rate is multiplied by.
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before a cut.
    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }

    /// Which way the metric improves.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, delta: f64) -> Self {
        self.min_delta = delta.abs();
        self
    }

    /// Epochs to wait after a cut before counting again.
    pub fn cooldown(mut self, epochs: usize) -> Self {
        self.cooldown = epochs;
        self
    }

    /// The floor of the learning rate.
    pub fn min_lr(mut self, lr: f64) -> Self {
        self.min_lr = lr;
        self
    }

    fn improves(&self, value: f64) -> bool {
        match self.best {
            None => true,
            Some(best) if self.mode.maximizes(&self.monitor) => value > best + self.min_delta,
            Some(best) => value < best - self.min_delta,
        }
    }
}

impl Callback for ReduceLROnPlateau {
    fn on_train_begin(&mut self, _: &TrialInfo) -> Result<(), BoxError> {
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(format!(
                "ReduceLROnPlateau: factor must be in (0, 1), got {}",
                self.factor
            )
            .into());
        }
        (self.best, self.wait, self.cooldown_left) = (None, 0, 0);
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        view: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        let (Some(&value), Some(lr)) = (logs.get(&self.monitor), view.learning_rate()) else {
            return Ok(Control::Continue);
        };
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if self.improves(value) {
            self.best = Some(value);
            self.wait = 0;
        } else if self.cooldown_left == 0 {
            self.wait += 1;
            if self.wait >= self.patience && lr > self.min_lr {
                view.set_learning_rate((lr * self.factor).max(self.min_lr));
                self.cooldown_left = self.cooldown;
                self.wait = 0;
            }
        }
        Ok(Control::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::Params;

    /// Runs `cb` over `losses` starting at `lr`; returns the rate after each epoch.
    fn rates(mut cb: ReduceLROnPlateau, losses: &[f64], lr: f64) -> Vec<f64> {
        let info = TrialInfo::new(0, Params::new());
        cb.on_train_begin(&info).unwrap();
        let mut lr = lr;
        losses
            .iter()
            .enumerate()
            .map(|(epoch, &loss)| {
                let view = EpochView::new(&info).with_learning_rate(lr);
                cb.on_epoch_end(epoch, &Logs::from([("val_loss".to_owned(), loss)]), &view)
                    .unwrap();
                lr = view.learning_rate().unwrap();
                lr
            })
            .collect()
    }

    #[test]
    fn cuts_after_patience_waits_out_the_cooldown_and_respects_the_floor() {
        let flat = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9];
        let cb = ReduceLROnPlateau::new("val_loss")
            .patience(2)
            .factor(0.5)
            .min_delta(0.0);
        assert_eq!(
            rates(cb, &flat, 1.0),
            [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
        );
        let cb = ReduceLROnPlateau::new("val_loss")
            .patience(2)
            .factor(0.5)
            .min_delta(0.0)
            .cooldown(2);
        // Keras: the epoch that ends the cooldown already counts towards the patience.
        assert_eq!(
            rates(cb, &flat, 1.0),
            [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
        );
        let cb = ReduceLROnPlateau::new("val_loss")
            .patience(1)
            .factor(0.1)
            .min_delta(0.0)
            .min_lr(0.05);
        assert_eq!(*rates(cb, &flat, 1.0).last().unwrap(), 0.05);
        // Steady improvement never cuts.
        let better = [1.0, 0.9, 0.8, 0.7, 0.6];
        let cb = ReduceLROnPlateau::new("val_loss").patience(1);
        assert!(rates(cb, &better, 1.0).iter().all(|&r| r == 1.0));
    }

    #[test]
    fn the_scheduler_sets_the_rate_each_epoch_and_refuses_nonsense() {
        let info = TrialInfo::new(0, Params::new());
        let mut cb = LearningRateScheduler::new(|epoch, lr| if epoch == 2 { lr * 0.1 } else { lr });
        let mut lr = 0.5;
        let mut seen = Vec::new();
        for epoch in 0..4 {
            let view = EpochView::new(&info).with_learning_rate(lr);
            cb.on_epoch_begin(epoch, &view).unwrap();
            lr = view.learning_rate().unwrap();
            seen.push(lr);
        }
        assert_eq!(seen, [0.5, 0.5, 0.05, 0.05]);
        let mut bad = LearningRateScheduler::new(|_, _| -1.0);
        let view = EpochView::new(&info).with_learning_rate(0.1);
        assert!(bad
            .on_epoch_begin(0, &view)
            .unwrap_err()
            .to_string()
            .contains("-1"));
    }
}
