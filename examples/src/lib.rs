//! Runnable programs that show how knob is used; see the `examples/` folder of this
//! crate and run one with `cargo run --release --example NAME`.
//!
//! The project's README is included below, so that its code is compiled and run as a
//! doctest and cannot drift from the API.
#![doc = include_str!("../../README.md")]

use knob_core::{Scale, SearchSpace};

/// The search space of `tune_digits`, the main job (and of `job-bench`, which races
/// samplers on it): the learning rate, then with `conditional` the optimizer with its
/// own momentum parameter and 1 to 3 layers with a width each, without it Adam's β1
/// and one width for all layers; dropout and batch size.
pub fn tune_digits_space(conditional: bool) -> SearchSpace {
    let b = SearchSpace::builder().float("lr", 1e-4, 3e-2, Scale::Log);
    let b = if conditional {
        b.categorical("optimizer", ["adam", "sgd", "rmsprop"])
            .float("beta1", 0.8, 0.99, Scale::LogOneMinus)
            .when_in("optimizer", ["adam"])
            .float("momentum", 0.8, 0.99, Scale::LogOneMinus)
            .when_in("optimizer", ["sgd"])
            .float("rho", 0.8, 0.99, Scale::LogOneMinus)
            .when_in("optimizer", ["rmsprop"])
            .int("layers", 1, 3, Scale::Linear)
            .repeated("layers", |b, i| {
                b.int(format!("units_{i}"), 32, 512, Scale::Log)
            })
    } else {
        b.float("beta1", 0.8, 0.99, Scale::LogOneMinus)
            .int("layers", 1, 3, Scale::Linear)
            .int("units", 32, 512, Scale::Log)
    };
    b.float("dropout", 0.0, 0.5, Scale::Linear)
        .categorical("batch_size", [32, 64, 128])
        .build()
        .expect("the search space is valid")
}
