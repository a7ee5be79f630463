//! # knob-trainers
//!
//! Trainers turn a trial's params into a trained model and an objective value. The
//! dfdx MLP trainer is on its way; [`FnTrainer`] wraps any closure.

mod closure;

pub use closure::FnTrainer;
