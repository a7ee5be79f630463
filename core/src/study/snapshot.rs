//! A study read from its storage without joining it.

use crate::error::{Error, Result};
use crate::history::History;
use crate::space::SearchSpace;
use crate::storage::Storage;
use crate::trial::{Direction, Trial};

use super::leaderboard::Leaderboard;
use super::ledger::Ledger;

/// What a study's storage holds, read once: the space, the direction and every trial.
///
/// Reading takes no lock, writes nothing, recovers nothing and needs no sampler, so it
/// is safe on a study that other processes are running, and on a journal written by any
/// earlier version (a torn last line is skipped, as a study would skip it). Tools that
/// only look (`knob show`, exports, reports) use it; to change a study, open it with
/// [`Study::builder`](crate::Study::builder).
///
/// ```
/// use knob_core::testing::UniformSampler;
/// use knob_core::{JournalStorage, Outcome, Scale, SearchSpace, Study, StudySnapshot};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("study.jsonl");
/// let space = SearchSpace::builder().float("x", 0.0, 1.0, Scale::Linear).build()?;
/// let study = Study::builder(space).sampler(UniformSampler).journal(&path).build()?;
/// let trial = study.ask()?.unwrap();
/// study.tell(trial.number, Outcome::Complete(0.25))?;
///
/// let snapshot = StudySnapshot::read(&mut JournalStorage::open(&path)?)?;
/// assert_eq!(snapshot.history.len(), 1);
/// assert_eq!(snapshot.space.params()[0].name, "x");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StudySnapshot {
    /// Where it was read from.
    pub location: String,
    /// The study's search space.
    pub space: SearchSpace,
    /// The study's direction (the first objective's, when there are several).
    pub direction: Direction,
    /// Every objective's direction.
    pub directions: Vec<Direction>,
    /// Every trial, in number order.
    pub history: History,
    /// Failed trials that were not queued again.
    pub failed_for_good: Vec<Trial>,
    /// Params waiting in the queue, not yet taken by a trial.
    pub queued: usize,
}

impl StudySnapshot {
    /// Reads every event of `storage`. A storage without a study in it (an empty
    /// journal, a study name nobody created) is an error that says so.
    pub fn read(storage: &mut dyn Storage) -> Result<Self> {
        let location = storage.location();
        let mut ledger = Ledger::new(History::new(Vec::new(), Direction::Minimize));
        for record in storage.read_new()? {
            ledger.apply(record, &location)?;
        }
        let Some((space, directions)) = ledger.created.clone() else {
            return Err(Error::Config(format!("{location} holds no study")));
        };
        Ok(Self {
            failed_for_good: ledger.given_up().cloned().collect(),
            queued: ledger.queue.iter().filter(|q| !q.taken).count(),
            history: History::with_directions(ledger.history.trials().to_vec(), directions.clone()),
            location,
            space,
            direction: directions[0],
            directions,
        })
    }

    /// The `top` best complete trials, with the failed ones below, as
    /// [`Study::leaderboard`](crate::Study::leaderboard) prints them.
    pub fn leaderboard(&self, top: usize) -> Leaderboard {
        let mut board = Leaderboard::new(&self.history, top);
        board.failed = self.failed_for_good.clone();
        board
    }
}
