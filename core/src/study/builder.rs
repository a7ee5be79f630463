//! `StudyBuilder`: what a study is made of, checked when it opens.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::ledger::Ledger;
use super::liveness::{self, Heartbeat, DEFAULT_HEARTBEAT, GRACE_BEATS};
use super::{State, Study};
use crate::error::{Error, Result};
use crate::history::History;
use crate::pruner::{NopPruner, Pruner};
use crate::sampler::Sampler;
use crate::space::SearchSpace;
use crate::storage::{Event, JournalStorage, Storage, FORMAT_VERSION};
use crate::trial::{now_secs, Direction, Trial, TrialState};
use crate::MemoryStorage;

enum StorageChoice {
    Memory,
    Journal(PathBuf),
    At(String, String),
    Custom(Box<dyn Storage>),
}

/// Configures a [`Study`]; [`StudyBuilder::build`] opens or creates it.
pub struct StudyBuilder {
    space: SearchSpace,
    directions: Vec<Direction>,
    pruner_set: bool,
    sampler: Option<Box<dyn Sampler>>,
    pruner: Box<dyn Pruner>,
    storage: StorageChoice,
    seed: u64,
    retry_crashed: bool,
    max_retries: u32,
    heartbeat: Duration,
    grace: Option<Duration>,
    warm_start: Vec<PathBuf>,
}

impl StudyBuilder {
    pub(super) fn new(space: SearchSpace) -> Self {
        Self {
            space,
            directions: vec![Direction::Minimize],
            pruner_set: false,
            sampler: None,
            pruner: Box::new(NopPruner),
            storage: StorageChoice::Memory,
            seed: 0,
            retry_crashed: true,
            max_retries: 2,
            heartbeat: DEFAULT_HEARTBEAT,
            grace: None,
            warm_start: Vec::new(),
        }
    }

    /// Minimize (the default) or maximize.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.directions = vec![direction];
        self
    }

    /// Several objectives, each going its own way: trainers then return one value per
    /// direction ([`Trainer::fit_objectives`](crate::Trainer::fit_objectives), or
    /// [`Outcome::values`](crate::Outcome::values) to [`Study::tell`]), and the study's
    /// answer is its Pareto front ([`Study::best_trials`]). The sampler must handle
    /// several objectives (NSGA-II, TPE, GP, random, Sobol, grid); a pruner is refused,
    /// since no one intermediate value says a trial is hopeless on every objective.
    ///
    /// ```
    /// use knob_core::testing::UniformSampler;
    /// use knob_core::{Direction, Outcome, Scale, SearchSpace, Study};
    ///
    /// let space = SearchSpace::builder().float("x", 0.0, 1.0, Scale::Linear).build()?;
    /// let study = Study::builder(space)
    ///     .directions([Direction::Minimize, Direction::Minimize])
    ///     .sampler(UniformSampler)
    ///     .build()?;
    /// for _ in 0..20 {
    ///     let trial = study.ask()?.unwrap();
    ///     let x = trial.params.float("x")?;
    ///     study.tell(trial.number, Outcome::values([x * x, (x - 1.0) * (x - 1.0)]))?;
    /// }
    /// // Every x in [0, 1] trades one objective against the other: all are optimal.
    /// assert_eq!(study.best_trials()?.len(), 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn directions(mut self, directions: impl IntoIterator<Item = Direction>) -> Self {
        self.directions = directions.into_iter().collect();
        self
    }

    /// Where proposals come from (required).
    pub fn sampler(mut self, sampler: impl Sampler + 'static) -> Self {
        self.sampler = Some(Box::new(sampler));
        self
    }

    /// Which trials stop early (default: none).
    pub fn pruner(mut self, pruner: impl Pruner + 'static) -> Self {
        self.pruner = Box::new(pruner);
        self.pruner_set = true;
        self
    }

    /// Persists the study in a JSON Lines journal at `path`; reopening the same path
    /// continues the study. Without a storage the study lives in memory.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.storage = StorageChoice::Journal(path.into());
        self
    }

    /// Persists the study where `spec` says ([`crate::open_storage`]): a
    /// `postgres://user@host/db` URL is study `name` of that database (with the
    /// `postgres` feature); a path is a journal. The storage opens in
    /// [`StudyBuilder::build`].
    pub fn storage_at(mut self, spec: impl Into<String>, name: impl Into<String>) -> Self {
        self.storage = StorageChoice::At(spec.into(), name.into());
        self
    }

    /// Persists the study in any storage.
    pub fn storage(mut self, storage: impl Storage + 'static) -> Self {
        self.storage = StorageChoice::Custom(Box::new(storage));
        self
    }

    /// The seed that, with a trial's number, fixes what the sampler draws for it
    /// (default 0). The same seed and one worker give the same sequence of params.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether trials left running by a process that died are queued to run again
    /// (default: yes). Either way they are marked failed.
    pub fn retry_crashed(mut self, retry: bool) -> Self {
        self.retry_crashed = retry;
        self
    }

    /// How many times params whose process died are run again (default 2). A
    /// configuration that kills its process (an out-of-memory kill, say) is then
    /// failed for good, with "its process died 3 times", instead of running first on
    /// every resume.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// How often a process with running trials tells the storage it is alive (default
    /// 10 s). Processes on other hosts, or in other PID namespaces, take its trials for
    /// stale after [`StudyBuilder::grace`] without a beat. See [`Study`]
    /// for the whole liveness rule.
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    /// How long without a heartbeat before this process's trials may be recovered by
    /// others (default: three heartbeat intervals).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Lends the complete trials of an earlier study's journal to model-based samplers
    /// (GP, TPE) as evidence, so a study re-run on changed data or code starts from what
    /// was learned. The earlier study must have the same direction; its trials whose
    /// params do not fit this space are skipped. They do not count as trials of this
    /// study. May be called several times.
    pub fn warm_start(mut self, journal: impl Into<PathBuf>) -> Self {
        self.warm_start.push(journal.into());
        self
    }

    /// Opens the storage, checks that it belongs to this space and direction (or
    /// starts it), and recovers the trials whose process died.
    pub fn build(self) -> Result<Study> {
        let sampler = self.sampler.ok_or_else(|| {
            Error::Config(
                "no sampler set: call .sampler(..), e.g. knob_samplers::RandomSampler".into(),
            )
        })?;
        if self.directions.is_empty() {
            return Err(Error::Config(
                "directions: a study needs at least one objective".into(),
            ));
        }
        let objectives = self.directions.len();
        if objectives > 1 && !sampler.multi_objective() {
            return Err(Error::Config(format!(
                "sampler {} optimizes one objective and this study has {objectives}: use \
                 NsgaIISampler, TpeSampler, GpSampler, RandomSampler, SobolSampler or GridSampler",
                sampler.name()
            )));
        }
        if objectives > 1 && self.pruner_set {
            return Err(Error::Config(format!(
                "pruner {}: a study of {objectives} objectives cannot prune (an intermediate \
                 value is one number, and a trial behind on one objective may lead on \
                 another); remove .pruner(..)",
                self.pruner.name()
            )));
        }
        if self.heartbeat.is_zero() {
            return Err(Error::Config(
                "the heartbeat interval must be above 0".into(),
            ));
        }
        let storage: Box<dyn Storage> = match self.storage {
            StorageChoice::Memory => Box::new(MemoryStorage::new()),
            StorageChoice::Journal(path) => Box::new(JournalStorage::open(path)?),
            StorageChoice::At(spec, name) => crate::open_storage(&spec, &name)?,
            StorageChoice::Custom(storage) => storage,
        };
        let prior = self
            .warm_start
            .iter()
            .map(|path| earlier_trials(path, &self.space, &self.directions))
            .collect::<Result<Vec<_>>>()?
            .concat();
        let grace = self.grace.unwrap_or(self.heartbeat * GRACE_BEATS);
        let owner = liveness::new_owner(grace);
        liveness::live_tokens().push(owner.token);
        let state = Arc::new(Mutex::new(State {
            storage,
            sampler,
            pruner: self.pruner,
            ledger: Ledger::new(
                History::with_directions(Vec::new(), self.directions.clone()).with_prior(prior),
            ),
            avoid: Default::default(),
        }));
        let beating = Arc::downgrade(&state);
        let token = owner.token;
        let heartbeat = Heartbeat::start(self.heartbeat, move || {
            beating
                .upgrade()
                .map(|state| super::beat(&state, token))
                .is_some()
        });
        let study = Study {
            space: Arc::new(self.space),
            directions: self.directions,
            seed: self.seed,
            owner,
            retry_crashed: self.retry_crashed,
            max_retries: self.max_retries,
            poll: self.heartbeat.min(Duration::from_millis(500)),
            state,
            interrupted: AtomicBool::new(false),
            aborted: AtomicBool::new(false),
            on_finished: Mutex::new(Vec::new()),
            _heartbeat: heartbeat,
        };
        study.locked(|state| {
            match &state.ledger.created {
                None => state.record(Event::StudyCreated {
                    version: FORMAT_VERSION,
                    space: (*study.space).clone(),
                    direction: study.directions[0],
                    directions: if study.directions.len() > 1 {
                        study.directions.clone()
                    } else {
                        Vec::new()
                    },
                    time: now_secs(),
                })?,
                Some((space, directions)) => {
                    let differences = if *directions != study.directions {
                        format!(
                            "it was created to {}, not {}",
                            describe(directions),
                            describe(&study.directions)
                        )
                    } else {
                        space.differences(&study.space)
                    };
                    if !differences.is_empty() {
                        return Err(Error::StudyMismatch {
                            path: state.storage.location().into(),
                            message: differences,
                        });
                    }
                }
            }
            study.recover_stale(state)
        })?;
        Ok(study)
    }
}

/// Directions as a reader says them: "maximize", "maximize, minimize".
pub(crate) fn describe(directions: &[Direction]) -> String {
    directions
        .iter()
        .map(Direction::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The complete trials of the study in `journal`, re-expressed in `space`.
fn earlier_trials(
    journal: &Path,
    space: &SearchSpace,
    directions: &[Direction],
) -> Result<Vec<Trial>> {
    if !journal.exists() {
        return Err(Error::Config(format!(
            "warm start: no journal at {}",
            journal.display()
        )));
    }
    let mut storage = JournalStorage::open(journal)?;
    let mut ledger = Ledger::new(History::with_directions(Vec::new(), directions.to_vec()));
    for record in storage.read_new()? {
        ledger.apply(record, &storage.location())?;
    }
    if let Some((_, earlier)) = &ledger.created {
        if earlier != directions {
            return Err(Error::StudyMismatch {
                path: journal.to_owned(),
                message: format!(
                    "warm start: it was created to {}, not {}",
                    describe(earlier),
                    describe(directions)
                ),
            });
        }
    }
    Ok(ledger
        .history
        .in_state(TrialState::Complete)
        .filter_map(|t| {
            let unit = space.to_unit(&t.params).ok()?;
            Some(Trial { unit, ..t.clone() })
        })
        .collect())
}
