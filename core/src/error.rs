//! The errors of knob's own code.
//!
//! User code (trainers, callbacks) returns [`BoxError`] so that `?` works on any error
//! inside it; knob's own failures are the typed [`Error`], and every variant names the
//! thing at fault: the parameter, the journal file and line, the trial.

use std::path::PathBuf;

/// Any error from user code: trainers, callbacks, factories.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result with knob's [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A search space that cannot be built, with the parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpaceError {
    /// Two parameters share a name.
    #[error("parameter `{name}` is declared twice")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A parameter has an empty name.
    #[error("a parameter has an empty name")]
    EmptyName,
    /// `low` is not strictly below `high`.
    #[error("parameter `{name}`: low ({low}) must be below high ({high})")]
    EmptyRange {
        /// The parameter.
        name: String,
        /// Its lower bound.
        low: f64,
        /// Its upper bound.
        high: f64,
    },
    /// A bound is NaN or infinite.
    #[error("parameter `{name}`: bounds must be finite, got low {low} and high {high}")]
    NonFiniteBound {
        /// The parameter.
        name: String,
        /// Its lower bound.
        low: f64,
        /// Its upper bound.
        high: f64,
    },
    /// A range that the unit interval cannot represent.
    #[error("parameter `{name}`: the range [{low}, {high}] is too wide: {why}")]
    RangeTooWide {
        /// The parameter.
        name: String,
        /// Its lower bound.
        low: String,
        /// Its upper bound.
        high: String,
        /// Why it cannot be used.
        why: String,
    },
    /// A parameter of a search-space file that does not parse.
    #[error("parameter `{name}`: {message}")]
    Malformed {
        /// The parameter (`#3` for the third when it has no name).
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A key that a search-space file does not know.
    #[error("parameter `{name}`: unknown key `{key}`{hint}; a {kind} parameter takes {allowed}")]
    UnknownKey {
        /// The parameter (or `?` when the key sits outside any parameter).
        name: String,
        /// The key.
        key: String,
        /// The kind of parameter (`float`, `int`, `categorical`).
        kind: String,
        /// The keys it takes.
        allowed: String,
        /// ", did you mean `scale`?" for a near miss, else empty.
        hint: String,
    },
    /// A log-scaled parameter has a bound at or below zero.
    #[error("parameter `{name}`: a log scale needs bounds above 0, got low {low}")]
    NonPositiveLogBound {
        /// The parameter.
        name: String,
        /// Its lower bound.
        low: f64,
    },
    /// A `LogOneMinus` parameter has a bound outside the open interval (0, 1).
    #[error(
        "parameter `{name}`: the log-one-minus scale needs 0 < low < high < 1, got [{low}, {high}]"
    )]
    LogOneMinusBound {
        /// The parameter.
        name: String,
        /// Its lower bound.
        low: f64,
        /// Its upper bound.
        high: f64,
    },
    /// A scale that this domain does not support (LogOneMinus on integers).
    #[error("parameter `{name}`: integers support the linear and log scales, not {scale}")]
    UnsupportedScale {
        /// The parameter.
        name: String,
        /// The scale asked for.
        scale: String,
    },
    /// A categorical parameter without choices.
    #[error("parameter `{name}`: a categorical parameter needs at least one choice")]
    NoChoices {
        /// The parameter.
        name: String,
    },
    /// A categorical parameter lists one choice twice.
    #[error("parameter `{name}`: choice {choice} is listed twice")]
    DuplicateChoice {
        /// The parameter.
        name: String,
        /// The repeated choice.
        choice: String,
    },
    /// A prior that does not fit its parameter.
    #[error("parameter `{name}`: invalid prior: {message}")]
    InvalidPrior {
        /// The parameter.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A condition that cannot hold or cannot be checked: a missing parent, a float
    /// parent, values the parent cannot take, a cycle.
    #[error("parameter `{name}`: {message}")]
    Condition {
        /// The conditional parameter.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A search-space file that cannot be read or does not parse.
    #[error("search-space file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Everything that can go wrong inside knob.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An invalid search space.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// A parameter that `Params` does not hold.
    #[error("no parameter named `{name}`")]
    MissingParam {
        /// The name asked for.
        name: String,
    },
    /// A parameter read as the wrong type.
    #[error("parameter `{name}` is {found}, not {expected}")]
    ParamType {
        /// The parameter.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The value it holds.
        found: String,
    },
    /// A value outside its parameter's domain.
    #[error("parameter `{name}`: {value} is outside its domain {domain}")]
    OutOfDomain {
        /// The parameter.
        name: String,
        /// The offending value.
        value: String,
        /// The domain, described.
        domain: String,
    },
    /// A value for a parameter whose condition does not hold in these params.
    #[error("parameter `{name}` is given, but it is active only when {condition}")]
    InactiveParam {
        /// The parameter.
        name: String,
        /// Its condition, described.
        condition: String,
    },
    /// A point of the unit cube with the wrong length or a non-finite coordinate.
    #[error("invalid unit point: {0}")]
    InvalidPoint(String),
    /// A sampler failed.
    #[error("sampler `{sampler}`: {message}")]
    Sampler {
        /// The sampler's name.
        sampler: String,
        /// What went wrong.
        message: String,
    },
    /// A pruner failed.
    #[error("pruner `{pruner}`: {message}")]
    Pruner {
        /// The pruner's name.
        pruner: String,
        /// What went wrong.
        message: String,
    },
    /// Reading or writing a storage file failed.
    #[error("storage {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A storage on a server failed (PostgreSQL): unreachable past its timeout, refused
    /// credentials, a missing database, a schema of a newer version.
    #[error("storage {location}: {message}")]
    Storage {
        /// The server and study, never with a password.
        location: String,
        /// What went wrong.
        message: String,
    },
    /// The storage's lock was lost with its connection between `lock` and `unlock`; the
    /// study redoes the locked step.
    #[error("storage {location}: the connection broke while the study held its lock")]
    LockLost {
        /// The server and study.
        location: String,
    },
    /// The connection broke before a locked step's events were committed; the study
    /// reads its storage again from the start and redoes the step.
    #[error("storage {location}: the connection broke before the study's last step was committed")]
    RolledBack {
        /// The server and study.
        location: String,
    },
    /// A journal line in the middle of the file that is not a valid event.
    #[error("journal {path}, line {line}: {message}")]
    CorruptJournal {
        /// The journal file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A journal written for another search space or direction.
    #[error("journal {path} belongs to a different study: {message}")]
    StudyMismatch {
        /// The journal file.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// A trial number that the study does not know.
    #[error("trial {0} does not exist")]
    UnknownTrial(u64),
    /// `tell` or `report` on a trial that has already finished.
    #[error("trial {number} is {state}, not running")]
    TrialNotRunning {
        /// The trial.
        number: u64,
        /// Its state.
        state: String,
    },
    /// An intermediate value that is NaN or infinite.
    #[error("trial {number}: intermediate value at step {step} is {value}, not finite")]
    NonFiniteReport {
        /// The trial.
        number: u64,
        /// The step.
        step: u64,
        /// The value.
        value: f64,
    },
    /// A study (or a PBT run) set up with something it cannot use.
    #[error("study: {0}")]
    Config(String),
    /// A worker thread of `optimize` or PBT panicked outside any trial (a bug in knob
    /// or in a callback factory's drop).
    #[error("a worker thread panicked outside a trial: {0}")]
    WorkerPanicked(String),
    /// Every member of a PBT generation failed, so there is nothing to select from.
    #[error("PBT: every member failed in generation {generation}: {message}")]
    PopulationFailed {
        /// The generation, from 0.
        generation: usize,
        /// The first member's error.
        message: String,
    },
    /// A PBT population directory's `population.json` that cannot be written, read or
    /// resumed: bad JSON, a checkpoint named outside the directory, or a population
    /// saved by a run with other settings.
    #[error("population file {path}: {message}")]
    PopulationFile {
        /// The `population.json` file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A worker's trainer factory failed.
    #[error("worker {worker}: could not build its trainer: {message}")]
    TrainerFactory {
        /// The worker index.
        worker: usize,
        /// The factory's error.
        message: String,
    },
}

/// An error as `main` should print it: `Display`, then each cause on its own line,
/// never a Debug dump of the error's fields.
///
/// `fn main() -> Result<(), Report>` prints what `Report`'s `Debug` writes, and any error
/// converts into it with `?`.
///
/// ```
/// use knob_core::{Error, Report};
/// let report = Report::from(Error::Config("no sampler set".into()));
/// assert_eq!(format!("{report:?}"), "study: no sampler set");
/// ```
pub struct Report(BoxError);

impl<E: Into<BoxError>> From<E> for Report {
    fn from(e: E) -> Self {
        Report(e.into())
    }
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            // Most of knob's errors already quote their cause in their own message.
            if !self.0.to_string().contains(&cause.to_string()) {
                write!(f, "\n  caused by: {cause}")?;
            }
            source = cause.source();
        }
        Ok(())
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

/// The message a panic carried, for the error that reports it.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
