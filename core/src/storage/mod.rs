//! The study's durable record: a small log of events.
//!
//! A study is the fold of its events, so any storage that can append an event and hand
//! back the events it has not yet returned can hold one. Line order assigns trial
//! numbers: the study holds the storage's lock from reading new events to appending a
//! trial's start, so two processes never give out one number twice.

mod journal;
mod memory;

pub use journal::JournalStorage;
pub use memory::MemoryStorage;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::params::Params;
use crate::space::SearchSpace;
use crate::trial::{Direction, TrialState};

/// The version of the event format written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// Which process started a trial, so a reopened study can tell a trial that another
/// live process is running from one whose process died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The operating system's process id.
    pub pid: u32,
    /// A random token of the study object within that process.
    pub token: u64,
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
        /// The direction.
        direction: Direction,
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
        /// Its value, when it has one.
        value: Option<f64>,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Seconds since the Unix epoch.
        time: f64,
    },
    /// Params to run before the sampler is asked again. Queue entries are numbered by
    /// their order among `TrialEnqueued` events.
    TrialEnqueued {
        /// The params.
        params: Params,
        /// The failed trial this one retries.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_of: Option<u64>,
    },
}

impl Event {
    /// Whether the event must reach the disk before the call that wrote it returns: the
    /// study's creation, finished trials and enqueued params. Starts and intermediate
    /// values are cheap to lose: a crash fails the trial anyway.
    pub fn is_durable(&self) -> bool {
        matches!(
            self,
            Event::StudyCreated { .. } | Event::TrialFinished { .. } | Event::TrialEnqueued { .. }
        )
    }
}

/// Where a study keeps its events.
///
/// Implementations must make each appended event all-or-nothing for readers, and make
/// [`Storage::lock`] exclusive across every process that shares the storage.
pub trait Storage: Send {
    /// Appends one event (durably when [`Event::is_durable`]).
    fn append(&mut self, event: &Event) -> Result<()>;

    /// The events that any writer appended since the last call (all of them, the first
    /// time).
    fn read_new(&mut self) -> Result<Vec<Event>>;

    /// Takes the storage's exclusive lock; held from reading to appending a trial start.
    fn lock(&mut self) -> Result<()> {
        Ok(())
    }

    /// Releases the lock taken by [`Storage::lock`].
    fn unlock(&mut self) -> Result<()> {
        Ok(())
    }

    /// Where the events live, for error messages.
    fn location(&self) -> String;
}

impl<S: Storage + ?Sized> Storage for Box<S> {
    fn append(&mut self, event: &Event) -> Result<()> {
        (**self).append(event)
    }
    fn read_new(&mut self) -> Result<Vec<Event>> {
        (**self).read_new()
    }
    fn lock(&mut self) -> Result<()> {
        (**self).lock()
    }
    fn unlock(&mut self) -> Result<()> {
        (**self).unlock()
    }
    fn location(&self) -> String {
        (**self).location()
    }
}
