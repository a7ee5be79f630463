//! # knob-callbacks
//!
//! Keras-style callbacks for knob's [`Callback`](knob_core::Callback) trait, to compose
//! in a study or in your own training loop.

mod confusion_matrix;
mod csv_logger;
mod early_stopping;
mod model_checkpoint;
pub mod plot;
mod progress_bar;
pub mod report;
mod schedules;
pub mod tensorboard;
mod terminate_on_nan;

pub use confusion_matrix::ConfusionMatrix;
pub use csv_logger::CsvLogger;
pub use early_stopping::{EarlyStopping, Mode};
pub use model_checkpoint::ModelCheckpoint;
pub use progress_bar::{ProgressBar, StudyProgress};
pub use schedules::{LearningRateScheduler, ReduceLROnPlateau};
pub use tensorboard::{write_experiment, TensorBoard, UpdateFreq};
pub use terminate_on_nan::TerminateOnNaN;
