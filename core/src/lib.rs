//! # knob-core
//!
//! The heart of knob: search spaces and their map to the unit cube, params, trials,
//! the [`Study`] with its crash-safe journal and its workers placed on devices
//! ([`Workers`]) sharing one [`pool::WorkerPool`], and the plug-in traits [`Sampler`],
//! [`Pruner`], [`Trainer`], [`Resumable`], [`Callback`] and [`Storage`].
//!
//! Samplers, pruners and population-based training live in `knob-samplers`, callbacks in `knob-callbacks`, dfdx trainers in
//! `knob-trainers`; this crate depends on none of them.
//!
//! ```
//! use knob_core::testing::{QuadraticTrainer, UniformSampler};
//! use knob_core::{CallbackList, Direction, Scale, SearchSpace, Study};
//!
//! let space = SearchSpace::builder()
//!     .float("lr", 1e-4, 1e-1, Scale::Log)
//!     .int("layers", 1, 3, Scale::Linear)
//!     .build()?;
//! let study = Study::builder(space).sampler(UniformSampler).seed(1).build()?;
//! study.optimize(10, 1, |_| Ok(QuadraticTrainer::default()), |_| CallbackList::new())?;
//! println!("{}", study.leaderboard(3)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod callback;
mod error;
mod history;
mod params;
pub mod pareto;
pub mod pool;
mod pruner;
mod resumable;
mod sampler;
mod space;
mod spelling;
mod storage;
mod study;
pub mod testing;
mod trainer;
mod trial;
mod workers;

pub use callback::{
    Callback, CallbackList, Control, EpochView, ImageBatch, LambdaCallback, Logs, ModelState,
    Predictions, TrialInfo, WeightSource, Weights,
};
pub use error::{BoxError, Error, Report, Result, SpaceError};
pub use history::{History, MultiObservation, Observation};
pub use params::{Params, Value};
pub use pruner::{NopPruner, Pruner};
pub use resumable::{Checkpoint, Resumable, Span};
pub use sampler::{study_rng, trial_rng, KnobRng, Sampler};
pub use space::{Condition, Domain, Param, Prior, Scale, SearchSpace, SpaceBuilder};
pub use spelling::did_you_mean;
pub use storage::{
    is_database_url, open_storage, Event, JournalStorage, MemoryStorage, Owner, Record, Storage,
    FORMAT_VERSION,
};
#[cfg(feature = "postgres")]
pub use storage::{PostgresStorage, StudyRow, SCHEMA_VERSION};
pub use study::{
    Leaderboard, Study, StudyBuilder, StudySnapshot, Summary, DEFAULT_HEARTBEAT, GRACE_BEATS,
};
pub use trainer::{IntoObjectives, Trainer, TrialContext, TrialMonitor};
pub use trial::{now_secs, Direction, Outcome, Trial, TrialState};
pub use workers::{Device, DeviceError, Worker, Workers};

/// A number in a short, readable form: `0.0123`, `1.5e-4`, `2048`.
pub fn format_number(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || !x.is_finite() {
        format!("{x}")
    } else if (1e-3..1e5).contains(&a) {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{x:.3e}")
    }
}
