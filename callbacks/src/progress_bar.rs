//! Progress bars (indicatif): epochs of a trial, and trials of a study.

use indicatif::{MultiProgress, ProgressDrawTarget, ProgressStyle};
use knob_core::{BoxError, Callback, Control, EpochView, Logs, TrialInfo};

/// The bars of a whole study: one for the trials, and one per running trial for its
/// epochs. Make it once, then give each trial [`StudyProgress::trial`].
///
/// ```no_run
/// use knob_callbacks::StudyProgress;
/// let progress = StudyProgress::new(20, 10);
/// let per_trial = |_: &knob_core::TrialInfo| knob_core::CallbackList::new().with(progress.trial());
/// ```
#[derive(Clone)]
pub struct StudyProgress {
    bars: MultiProgress,
    trials: indicatif::ProgressBar,
    epochs: u64,
}

impl StudyProgress {
    /// Bars for `trials` trials of `epochs` epochs each, drawn on standard error.
    pub fn new(trials: u64, epochs: u64) -> Self {
        Self::with_target(trials, epochs, ProgressDrawTarget::stderr())
    }

    /// Bars that are never drawn (`--quiet`), at no cost.
    pub fn hidden(trials: u64, epochs: u64) -> Self {
        Self::with_target(trials, epochs, ProgressDrawTarget::hidden())
    }

    fn with_target(trials: u64, epochs: u64, target: ProgressDrawTarget) -> Self {
        let bars = MultiProgress::with_draw_target(target);
        let bar = bars.add(indicatif::ProgressBar::new(trials));
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} trials  {elapsed}  {msg}")
                .expect("a valid template"),
        );
        Self {
            bars,
            trials: bar,
            epochs,
        }
    }

    /// Marks `n` trials as already done (a resumed study).
    pub fn skip(&self, n: u64) {
        self.trials.set_position(n);
    }

    /// A callback for one trial: its epoch bar, and the study bar's count and best value.
    pub fn trial(&self) -> ProgressBar {
        ProgressBar {
            study: Some(self.clone()),
            bar: None,
            epochs: self.epochs,
        }
    }

    /// Removes the bars from the terminal.
    pub fn finish(&self) {
        self.trials.finish_and_clear();
        let _ = self.bars.clear();
    }
}

/// A bar over one training run's epochs with its latest metrics; as part of a
/// [`StudyProgress`] it also advances the study's bar when the trial ends.
pub struct ProgressBar {
    study: Option<StudyProgress>,
    bar: Option<indicatif::ProgressBar>,
    epochs: u64,
}

impl ProgressBar {
    /// A bar for a standalone run of `epochs` epochs.
    pub fn new(epochs: u64) -> Self {
        Self {
            study: None,
            bar: None,
            epochs,
        }
    }
}

fn metrics(logs: &Logs) -> String {
    logs.iter()
        .filter(|(k, _)| k.as_str() != "lr")
        .map(|(k, v)| format!("{k} {}", knob_core::format_number(*v)))
        .collect::<Vec<_>>()
        .join("  ")
}

impl Callback for ProgressBar {
    /// Logging only: a write error must not cost the trial.
    fn is_observer(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, trial: &TrialInfo) -> Result<(), BoxError> {
        let epochs = trial.params.usize_or("epochs", self.epochs as usize)? as u64;
        let bar = indicatif::ProgressBar::new(epochs);
        let bar = match &self.study {
            Some(s) => s.bars.add(bar),
            None => bar,
        };
        bar.set_style(ProgressStyle::with_template(
            "  trial {prefix:>4} {bar:20} epoch {pos}/{len}  {msg}",
        )?);
        bar.set_prefix(trial.number.to_string());
        self.bar = Some(bar);
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        _: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(metrics(logs));
        }
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, logs: &Logs) -> Result<(), BoxError> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if let Some(study) = &self.study {
                study.bars.remove(&bar);
                study.trials.inc(1);
                study.trials.set_message(format!("last: {}", metrics(logs)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::Params;

    #[test]
    fn each_finished_trial_advances_the_study_bar() {
        let progress = StudyProgress::hidden(3, 2);
        progress.skip(1);
        let info = TrialInfo::new(1, Params::new());
        let mut cb = progress.trial();
        cb.on_train_begin(&info).unwrap();
        for epoch in 0..2 {
            cb.on_epoch_end(
                epoch,
                &Logs::from([("loss".to_owned(), 0.5)]),
                &EpochView::new(&info),
            )
            .unwrap();
        }
        assert_eq!(cb.bar.as_ref().unwrap().position(), 2);
        cb.on_train_end(&Logs::new()).unwrap();
        assert_eq!(progress.trials.position(), 2);
        assert!(cb.bar.is_none());
    }
}
