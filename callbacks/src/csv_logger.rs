//! Epoch metrics to a CSV file, as Keras's `CSVLogger`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use knob_core::{BoxError, Callback, Control, EpochView, Logs, TrialInfo};

/// Writes one row per epoch: `epoch` then every metric of the logs, columns fixed by
/// the first epoch (sorted by name). With `{trial}` in the path each trial of a study
/// gets its own file; `append` continues an existing file instead of replacing it.
/// Each row is flushed as it is written.
pub struct CsvLogger {
    pattern: PathBuf,
    append: bool,
    out: Option<BufWriter<File>>,
    columns: Vec<String>,
    path: PathBuf,
}

impl CsvLogger {
    /// Logs to `path` (`{trial}` is replaced by the trial's number).
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            pattern: path.as_ref().to_owned(),
            append: false,
            out: None,
            columns: Vec::new(),
            path: PathBuf::new(),
        }
    }

    /// Appends to an existing file rather than starting it over.
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }
}

impl Callback for CsvLogger {
    /// Logging only: a write error must not cost the trial.
    fn is_observer(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, trial: &TrialInfo) -> Result<(), BoxError> {
        self.path = PathBuf::from(
            self.pattern
                .to_string_lossy()
                .replace("{trial}", &format!("{:04}", trial.number)),
        );
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| at(dir, e))?;
        }
        let file = File::options()
            .create(true)
            .append(self.append)
            .write(true)
            .truncate(!self.append)
            .open(&self.path)
            .map_err(|e| at(&self.path, e))?;
        // Appending to a file with rows keeps its header.
        let has_header = self.append && file.metadata()?.len() > 0;
        self.columns = if has_header {
            vec!["<existing>".into()]
        } else {
            Vec::new()
        };
        self.out = Some(BufWriter::new(file));
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        _: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        let out = self
            .out
            .as_mut()
            .ok_or("CsvLogger: on_train_begin was not called")?;
        if self.columns.is_empty() {
            self.columns = logs.keys().cloned().collect();
            writeln!(out, "epoch,{}", self.columns.join(",")).map_err(|e| at(&self.path, e))?;
        } else if self.columns == ["<existing>"] {
            self.columns = logs.keys().cloned().collect();
        }
        let cells: Vec<String> = self
            .columns
            .iter()
            .map(|c| logs.get(c).map_or(String::new(), |v| v.to_string()))
            .collect();
        writeln!(out, "{epoch},{}", cells.join(","))
            .and_then(|_| out.flush())
            .map_err(|e| at(&self.path, e))?;
        Ok(Control::Continue)
    }
}

/// An IO error that names its file.
fn at(path: &std::path::Path, e: std::io::Error) -> BoxError {
    format!("{}: {e}", path.display()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::Params;

    #[test]
    fn writes_a_header_and_a_row_per_epoch_per_trial() {
        let dir = tempfile::tempdir().unwrap();
        let pattern = dir.path().join("logs/trial_{trial}.csv");
        for number in [3, 4] {
            let info = TrialInfo::new(number, Params::new());
            let mut cb = CsvLogger::new(&pattern);
            cb.on_train_begin(&info).unwrap();
            for epoch in 0..2 {
                let logs = Logs::from([
                    ("loss".to_owned(), 1.0 / (epoch + 1) as f64),
                    ("val_loss".to_owned(), 2.0),
                ]);
                cb.on_epoch_end(epoch, &logs, &EpochView::new(&info))
                    .unwrap();
            }
        }
        let text = std::fs::read_to_string(dir.path().join("logs/trial_0003.csv")).unwrap();
        assert_eq!(text, "epoch,loss,val_loss\n0,1,2\n1,0.5,2\n");
        assert!(dir.path().join("logs/trial_0004.csv").exists());
    }
}
