//! # knob-samplers
//!
//! Where a study's next params come from. Every sampler implements
//! [`knob_core::Sampler`]: it sees the unit cube and losses, never scales or the
//! study's direction, and rebuilds what it needs from the history, so a resumed study
//! just goes on.
//!
//! | sampler | pick it when |
//! |---|---|
//! | [`GridSampler`] | two or three parameters, and you want every combination |
//! | [`RandomSampler`] | a baseline; many parallel workers; many parameters of which few matter |

mod grid;
mod random;

pub use grid::GridSampler;
pub use random::RandomSampler;
