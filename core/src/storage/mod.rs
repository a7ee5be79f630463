//! The study's durable record: a small log of events.
//!
//! A study is the fold of its events, so any storage that can append an event and hand
//! back the events it has not yet returned can hold one. Line order assigns trial
//! numbers: the study holds the storage's lock from reading new events to appending a
//! trial's start, so two processes never give out one number twice.

mod journal;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;

pub use journal::JournalStorage;
pub use memory::MemoryStorage;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresStorage, StudyRow, SCHEMA_VERSION};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::params::Params;
use crate::space::SearchSpace;
use crate::trial::{Direction, TrialState};

/// The version of the event format written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Which process started a trial, so that any reader of the study can tell a trial that
/// a live process is running from one whose process died.
///
/// See the liveness rule on [`Study`](crate::Study): an owner on the reader's own host (same
/// hostname, boot and PID namespace) is alive exactly while its pid runs with the same
/// start time; any other owner is alive while it beats (a [`Event::Heartbeat`]) at least
/// once per `grace` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    /// The operating system's process id, as the owner's PID namespace numbers it.
    pub pid: u32,
    /// A random token of the study object within that process; heartbeats carry it.
    pub token: u64,
    /// Hostname, boot id and PID namespace of the owner: two owners with equal hosts can
    /// check each other's pids. `None` in journals written before heartbeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The process's start time (clock ticks after boot), so a reused pid is not taken
    /// for the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
    /// Seconds without a heartbeat after which the owner's trials are stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<f64>,
}

/// One entry of a study's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The first event: what the study searches and which way.
    StudyCreated {
        /// [`FORMAT_VERSION`] of the writer.
        version: u32,
        /// The search space.
        space: SearchSpace,
        /// The direction (of the first objective, when there are several).
        direction: Direction,
        /// Every objective's direction, when the study has several (empty for one:
        /// journals before multi-objective studies have none).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        directions: Vec<Direction>,
        /// Seconds since the Unix epoch.
        time: f64,
    },
    /// Params given to a trial. The trial's number is the count of earlier starts.
    TrialStarted {
        /// The trial's number.
        number: u64,
        /// Its params.
        params: Params,
        /// The same as a unit point.
        unit: Vec<f64>,
        /// Seconds since the Unix epoch.
        time: f64,
        /// The process that runs it.
        owner: Owner,
        /// The queue entry it came from, when it was enqueued.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queued: Option<u64>,
    },
    /// An intermediate value.
    TrialReported {
        /// The trial.
        number: u64,
        /// The step (an epoch).
        step: u64,
        /// The value, in the study's own direction.
        value: f64,
    },
    /// The end of a trial.
    TrialFinished {
        /// The trial.
        number: u64,
        /// Complete, pruned or failed.
        state: TrialState,
        /// Its value, when it has one (the first objective's, when there are several).
        value: Option<f64>,
        /// Every objective's value, when the study has several.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        values: Vec<f64>,
        /// Its constraint values, when it reported any.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        constraints: Vec<f64>,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Seconds since the Unix epoch.
        time: f64,
    },
    /// Params to run before the sampler is asked again. Queue entries are numbered by
    /// their order among `TrialEnqueued` and `TrialRequeued` events.
    TrialEnqueued {
        /// The params.
        params: Params,
        /// The failed trial this one retries (journals before `TrialRequeued`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_of: Option<u64>,
    },
    /// A running trial failed and its params queued again, as one event: a crash
    /// recovered on reopening, an interrupted trial, a device error. One line, so no
    /// kill can leave the failure without its retry.
    TrialRequeued {
        /// The trial that failed.
        number: u64,
        /// Why.
        error: String,
        /// Whether its process died (counts toward the study's `max_retries`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        died: bool,
        /// Seconds since the Unix epoch.
        time: f64,
    },
    /// A live process still runs its trials.
    Heartbeat {
        /// The [`Owner::token`] of the beating study.
        token: u64,
        /// Seconds since the Unix epoch.
        time: f64,
    },
    /// A user attribute set on a trial (the last one set under a key wins).
    TrialAttr {
        /// The trial.
        number: u64,
        /// The attribute's name.
        key: String,
        /// Its value.
        value: crate::params::Value,
    },
}

/// An event with its place in the storage, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based: the line of a journal, the index in memory.
    pub position: u64,
    /// The event.
    pub event: Event,
}

impl Event {
    /// Whether the event must reach the disk before the call that wrote it returns: the
    /// study's creation, finished trials and enqueued params. Starts and intermediate
    /// values are cheap to lose: a crash fails the trial anyway.
    pub fn is_durable(&self) -> bool {
        matches!(
            self,
            Event::StudyCreated { .. }
                | Event::TrialFinished { .. }
                | Event::TrialEnqueued { .. }
                | Event::TrialRequeued { .. }
        )
    }

    /// The first number in the event that is NaN or infinite, named: JSON has no such
    /// numbers, so an event holding one could be written but never read back.
    pub fn non_finite(&self) -> Option<String> {
        let bad = |x: f64| !x.is_finite();
        let params_bad = |p: &Params| {
            p.iter().find_map(|(name, v)| match v {
                crate::params::Value::Float(x) if bad(*x) => Some(format!("param `{name}` = {x}")),
                _ => None,
            })
        };
        match self {
            Event::StudyCreated { time, .. } | Event::Heartbeat { time, .. } => {
                bad(*time).then(|| format!("time {time}"))
            }
            Event::TrialStarted {
                params, unit, time, ..
            } => params_bad(params)
                .or_else(|| {
                    unit.iter()
                        .find(|u| bad(**u))
                        .map(|u| format!("unit coordinate {u}"))
                })
                .or_else(|| bad(*time).then(|| format!("time {time}"))),
            Event::TrialReported { value, .. } => bad(*value).then(|| format!("value {value}")),
            Event::TrialFinished {
                value,
                values,
                constraints,
                time,
                ..
            } => value
                .iter()
                .chain(values)
                .find(|v| bad(**v))
                .map(|v| format!("value {v}"))
                .or_else(|| {
                    constraints
                        .iter()
                        .find(|c| bad(**c))
                        .map(|c| format!("constraint value {c}"))
                })
                .or_else(|| bad(*time).then(|| format!("time {time}"))),
            Event::TrialEnqueued { params, .. } => params_bad(params),
            Event::TrialRequeued { time, .. } => bad(*time).then(|| format!("time {time}")),
            Event::TrialAttr { key, value, .. } => match value {
                crate::params::Value::Float(x) if bad(*x) => {
                    Some(format!("attribute `{key}` = {x}"))
                }
                _ => None,
            },
        }
    }
}

/// Where a study keeps its events.
///
/// Implementations must make each appended event all-or-nothing for readers, and make
/// [`Storage::lock`] exclusive across every process that shares the storage.
///
/// A storage that wraps another, counting the events it keeps:
///
/// ```
/// use knob_core::testing::UniformSampler;
/// use knob_core::{Event, MemoryStorage, Outcome, Record, Result, Scale, SearchSpace,
///     Storage, Study};
///
/// struct Counting { inner: MemoryStorage, appended: usize }
/// impl Storage for Counting {
///     fn append(&mut self, event: &Event) -> Result<()> {
///         self.appended += 1;
///         self.inner.append(event)
///     }
///     fn read_new(&mut self) -> Result<Vec<Record>> { self.inner.read_new() }
///     fn lock(&mut self) -> Result<()> { self.inner.lock() }
///     fn unlock(&mut self) -> Result<()> { self.inner.unlock() }
///     fn location(&self) -> String { "counting memory".into() }
/// }
///
/// let space = SearchSpace::builder().float("x", 0.0, 1.0, Scale::Linear).build()?;
/// let storage = Counting { inner: MemoryStorage::new(), appended: 0 };
/// let study = Study::builder(space).sampler(UniformSampler).storage(storage).build()?;
/// let trial = study.ask()?.unwrap();
/// study.tell(trial.number, Outcome::Complete(0.5))?;
/// assert_eq!(study.history()?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Storage: Send {
    /// Appends one event (durably when [`Event::is_durable`]).
    fn append(&mut self, event: &Event) -> Result<()>;

    /// The events that any writer appended since the last call (all of them, the first
    /// time), with their positions.
    fn read_new(&mut self) -> Result<Vec<Record>>;

    /// Takes the storage's exclusive lock, across every process and machine that
    /// shares the storage; held from reading to appending a trial start. (A storage no
    /// other process can open, like [`MemoryStorage`](crate::MemoryStorage), has
    /// nothing to lock: the study's own mutex already orders its threads.)
    fn lock(&mut self) -> Result<()>;

    /// Releases the lock taken by [`Storage::lock`].
    fn unlock(&mut self) -> Result<()>;

    /// Forgets what was read, so that the next [`Storage::read_new`] returns every event
    /// from the first. A study calls it to rebuild its state after
    /// [`Error::RolledBack`](crate::Error::RolledBack); storages that never return that
    /// error need not support it.
    fn rewind(&mut self) -> Result<()> {
        Err(crate::Error::Config(format!(
            "storage {} cannot be read again from its start",
            self.location()
        )))
    }

    /// Where the events live, for error messages.
    fn location(&self) -> String;
}

/// Whether `spec` names a database (a `postgres://` or `postgresql://` URL) rather than
/// a journal's path.
pub fn is_database_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// Opens the storage that `spec` names: a `postgres://` or `postgresql://` URL is study
/// `study` of that database (with the `postgres` feature); anything else is the path of
/// a JSON Lines journal, which holds one study (`study` is then unused).
pub fn open_storage(spec: &str, study: &str) -> Result<Box<dyn Storage>> {
    if !is_database_url(spec) {
        return Ok(Box::new(JournalStorage::open(spec)?));
    }
    #[cfg(feature = "postgres")]
    {
        Ok(Box::new(PostgresStorage::connect(spec, study)?))
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = study;
        Err(crate::Error::Config(
            "a PostgreSQL storage needs knob-core's `postgres` feature (for the examples: \
             --features postgres)"
                .into(),
        ))
    }
}

impl<S: Storage + ?Sized> Storage for Box<S> {
    fn append(&mut self, event: &Event) -> Result<()> {
        (**self).append(event)
    }
    fn read_new(&mut self) -> Result<Vec<Record>> {
        (**self).read_new()
    }
    fn lock(&mut self) -> Result<()> {
        (**self).lock()
    }
    fn unlock(&mut self) -> Result<()> {
        (**self).unlock()
    }
    fn rewind(&mut self) -> Result<()> {
        (**self).rewind()
    }
    fn location(&self) -> String {
        (**self).location()
    }
}
