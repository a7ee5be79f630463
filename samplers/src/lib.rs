//! # knob-samplers
//!
//! Where a study's next params come from. Every sampler implements
//! [`knob_core::Sampler`]: it sees the unit cube and losses, never scales or the
//! study's direction, and rebuilds what it needs from the history, so a resumed study
//! just goes on.
//!
//! | sampler | pick it when |
//! |---|---|
//! | [`GpSampler`] | trials are expensive and few (tens to a couple of hundred); smooth objectives |
//! | [`GridSampler`] | two or three parameters, and you want every combination |
//! | [`RandomSampler`] | a baseline; many parallel workers; many parameters of which few matter |
//! | [`TpeSampler`] | many parameters, many categorical ones, long studies, fast suggestions |
//! | [`ZoomSampler`] | coarse to fine: rounds in a box that shrinks around the best trial |
//! | [`SobolSampler`] | like random, but evenly spread; a short budget; an initial design |
//! | [`NsgaIISampler`] | several objectives, long studies (hundreds of trials), cheap suggestions |
//!
//! A study of several objectives ([`knob_core::StudyBuilder::directions`]) takes
//! [`NsgaIISampler`], [`TpeSampler`] (MOTPE's ranking), [`GpSampler`] (ParEGO's random
//! scalarizations), [`RandomSampler`], [`SobolSampler`] or [`GridSampler`]; the zoom
//! follows one best trial and refuses such a study.
//!
//! [`by_name`] makes one from the name a command line gives (`tune_digits --sampler`,
//! `sampler-bench --samplers`); [`testing`] holds the test functions they are measured on.
//!
//! Pruners stop hopeless trials early: [`MedianPruner`] (worse than the median of
//! finished trials at the same step), [`AshaPruner`] (asynchronous successive
//! halving) and [`HyperbandPruner`] (ASHA brackets from aggressive to none).

mod fastmath;
mod gp;
mod grid;
mod multi;
mod nsga2;
mod optim;
mod pbt;
mod prior;
mod pruners;
mod random;
mod registry;
mod setting;
mod sobol;
pub mod testing;
mod tpe;
mod zoom;

pub use gp::{Acquisition, GpSampler};
pub use grid::GridSampler;
pub use nsga2::NsgaIISampler;
pub use pbt::{Member, Pbt, Population, Step};
pub use pruners::{AshaPruner, HyperbandPruner, MedianPruner};
pub use random::RandomSampler;
pub use registry::{by_name, by_name_for, NameError, NAMES};
pub use setting::InvalidSetting;
pub use sobol::{sobol_point, SobolSampler};
pub use tpe::TpeSampler;
pub use zoom::{ZoomBox, ZoomSampler};
