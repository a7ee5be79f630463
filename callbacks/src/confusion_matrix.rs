//! A confusion-matrix image every few epochs, in TensorBoard and optionally on disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use knob_core::{BoxError, Callback, Control, EpochView, Logs, TrialInfo};

use crate::plot::ConfusionRenderer;
use crate::tensorboard::{summary, AsyncRun};

/// Renders the validation confusion matrix every `every` epochs (row-normalized
/// colours, counts in the cells, class names on the axes, the epoch in the title) and
/// logs it as the image `confusion_matrix` in the run `<log_dir>/trial_NNNN/confusion`
/// (step = epoch); with `save_to`, also as PNG files there.
///
/// It needs the trainer to lend validation predictions (`EpochView::predictions`); the
/// MLP trainer does.
pub struct ConfusionMatrix {
    log_dir: PathBuf,
    every: usize,
    size: (u32, u32),
    save_to: Option<PathBuf>,
    run: Option<AsyncRun>,
    trial: u64,
    /// Kept between epochs (on the writer's thread) so only the cells are redrawn.
    renderer: Arc<Mutex<Option<ConfusionRenderer>>>,
}

impl ConfusionMatrix {
    /// Every epoch, 512x448 pixels, logged under `log_dir`.
    pub fn new(log_dir: impl AsRef<Path>) -> Self {
        Self {
            log_dir: log_dir.as_ref().to_owned(),
            every: 1,
            size: (512, 448),
            save_to: None,
            run: None,
            trial: 0,
            renderer: Arc::default(),
        }
    }

    /// Every `epochs` epochs (at least 1).
    pub fn every(mut self, epochs: usize) -> Self {
        self.every = epochs.max(1);
        self
    }

    /// The image's size in pixels.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width.max(64), height.max(64));
        self
    }

    /// Also saves each image as `trial_NNNN_epoch_EEE.png` in `dir`.
    pub fn save_to(mut self, dir: impl AsRef<Path>) -> Self {
        self.save_to = Some(dir.as_ref().to_owned());
        self
    }
}

impl Callback for ConfusionMatrix {
    /// Logging only: a write error must not cost the trial.
    fn is_observer(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, trial: &TrialInfo) -> Result<(), BoxError> {
        self.trial = trial.number;
        let dir = self
            .log_dir
            .join(format!("trial_{:04}", trial.number))
            .join("confusion");
        self.run = Some(AsyncRun::create(&dir)?);
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _logs: &Logs,
        view: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        let Some(p) = view
            .predictions
            .filter(|_| epoch.is_multiple_of(self.every))
        else {
            return Ok(Control::Continue);
        };
        let k = p.class_names.len().max(
            p.actual
                .iter()
                .chain(p.predicted)
                .max()
                .map_or(0, |m| m + 1),
        );
        let mut matrix = vec![vec![0u64; k]; k];
        for (&a, &q) in p.actual.iter().zip(p.predicted) {
            matrix[a][q] += 1;
        }
        // Rendering happens on the writer's thread.
        let title = format!("trial {} · epoch {epoch}", self.trial);
        let (mut names, size, trial) = (p.class_names.to_vec(), self.size, self.trial);
        names.extend((names.len()..k).map(|i| i.to_string()));
        let save_to = self.save_to.clone();
        let renderer = self.renderer.clone();
        let run = self
            .run
            .as_mut()
            .ok_or("ConfusionMatrix: on_train_begin was not called")?;
        run.write(epoch as i64, move || {
            let mut renderer = renderer.lock().unwrap_or_else(|p| p.into_inner());
            if renderer.as_ref().is_none_or(|r| r.class_names() != names) {
                *renderer = ConfusionRenderer::new(&names, size)
                    .map_err(|e| eprintln!("knob: ConfusionMatrix: drawing the frame failed: {e}"))
                    .ok();
            }
            let Some(renderer) = renderer.as_mut() else {
                return Vec::new();
            };
            match renderer.render(&matrix, &title) {
                Ok(img) => {
                    if let Some(dir) = save_to {
                        let path = dir.join(format!("trial_{trial:04}_epoch_{epoch:03}.png"));
                        if let Err(e) = std::fs::create_dir_all(&dir)
                            .and_then(|_| std::fs::write(&path, &img.png))
                        {
                            eprintln!("knob: ConfusionMatrix: {}: {e}", path.display());
                        }
                    }
                    vec![summary::image(
                        "confusion_matrix",
                        img.png,
                        size.0,
                        size.1,
                        3,
                    )]
                }
                Err(e) => {
                    eprintln!("knob: ConfusionMatrix: rendering failed: {e}");
                    Vec::new()
                }
            }
        })?;
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, _logs: &Logs) -> Result<(), BoxError> {
        if let Some(mut run) = self.run.take() {
            run.finish()?;
        }
        Ok(())
    }
}
