//! Stop training as soon as the loss is NaN or infinite, as Keras's `TerminateOnNaN`.

use knob_core::{BoxError, Callback, Control, EpochView, Logs};

/// Stops training at the first batch (or epoch) whose `loss` is not finite, so a
/// diverged trial ends at once instead of burning its remaining epochs.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminateOnNaN {
    stopped_at_batch: Option<usize>,
}

impl TerminateOnNaN {
    /// A new callback.
    pub fn new() -> Self {
        Self::default()
    }

    /// The batch at which it stopped training, if it did.
    pub fn stopped_at_batch(&self) -> Option<usize> {
        self.stopped_at_batch
    }
}

fn diverged(logs: &Logs) -> bool {
    logs.get("loss").is_some_and(|l| !l.is_finite())
}

impl Callback for TerminateOnNaN {
    fn on_batch_end(&mut self, batch: usize, logs: &Logs) -> Result<Control, BoxError> {
        if diverged(logs) {
            self.stopped_at_batch = Some(batch);
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }

    fn on_epoch_end(
        &mut self,
        _: usize,
        logs: &Logs,
        _: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        Ok(if diverged(logs) {
            Control::Stop
        } else {
            Control::Continue
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_first_non_finite_loss() {
        let mut cb = TerminateOnNaN::new();
        let losses = [0.9, 0.7, f64::NAN, 0.5];
        let stop = losses.iter().enumerate().find_map(|(batch, &loss)| {
            let logs = Logs::from([("loss".to_owned(), loss)]);
            (cb.on_batch_end(batch, &logs).unwrap() == Control::Stop).then_some(batch)
        });
        assert_eq!(stop, Some(2));
        assert_eq!(cb.stopped_at_batch(), Some(2));
        let inf = Logs::from([("loss".to_owned(), f64::INFINITY)]);
        assert_eq!(cb.on_batch_end(0, &inf).unwrap(), Control::Stop);
        let other = Logs::from([("val_loss".to_owned(), f64::NAN)]);
        assert_eq!(cb.on_batch_end(0, &other).unwrap(), Control::Continue);
    }
}
