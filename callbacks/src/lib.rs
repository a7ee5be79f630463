//! # knob-callbacks
//!
//! Keras-style callbacks for knob's [`Callback`](knob_core::Callback) trait, to compose
//! in a study or in your own training loop.

mod confusion_matrix;
mod early_stopping;
pub mod plot;
pub mod report;
pub mod tensorboard;
mod terminate_on_nan;

pub use confusion_matrix::ConfusionMatrix;
pub use early_stopping::{EarlyStopping, Mode};
pub use tensorboard::{write_experiment, TensorBoard, UpdateFreq};
pub use terminate_on_nan::TerminateOnNaN;
