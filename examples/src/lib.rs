//! Runnable programs that show how knob is used; see the `examples/` folder of this
//! crate and run one with `cargo run --release --example NAME`.
//!
//! The project's README is included below, so that its code is compiled and run as a
//! doctest and cannot drift from the API.
#![doc = include_str!("../../README.md")]
