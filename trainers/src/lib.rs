//! # knob-trainers
//!
//! Trainers turn a trial's params into a trained model and an objective value.
//!
//! - [`MlpTrainer`]: a dfdx multilayer perceptron whose depth and widths are
//!   hyperparameters, on the CPU or (with the `cuda` feature) on a GPU per worker.
//! - [`FnTrainer`]: any closure, to show that trainers swap through the
//!   [`Trainer`](knob_core::Trainer) trait.
//! - [`data`]: the embedded digits and MNIST subset, an IDX reader, synthetic spirals,
//!   seeded stratified splits and standardization.

mod closure;
#[cfg(feature = "cuda")]
mod cuda;
pub mod data;
mod error;
mod mlp;

pub use closure::FnTrainer;
#[cfg(feature = "cuda")]
pub use cuda::gpu_count;
pub use dfdx::prelude::Cpu;
#[cfg(feature = "cuda")]
pub use dfdx::prelude::Cuda;
pub use error::{ConfigError, DataError};
pub use mlp::{
    Activation, Config, Cost, Decay, Mlp, MlpDevice, MlpTrainer, Objective, OptimizerKind,
};
