//! The fold of a study's events: what the study knows, rebuilt from its storage alone.
//!
//! Every process that shares a storage folds the same events in the same order, so all
//! of them agree on the trials, their numbers, the queue and who owns what.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::history::History;
use crate::params::Params;
use crate::space::SearchSpace;
use crate::storage::{Event, Owner, Record};
use crate::trial::{Direction, Trial, TrialState};

/// Params waiting to run before the sampler is asked again.
#[derive(Debug, Clone)]
pub(super) struct QueueEntry {
    pub params: Params,
    /// Whether a trial has taken them.
    pub taken: bool,
    /// How many times a process died running these params (a chain of crash retries).
    pub deaths: u32,
}

/// The study as its events describe it.
pub(super) struct Ledger {
    pub history: History,
    pub created: Option<(SearchSpace, Vec<Direction>)>,
    pub queue: Vec<QueueEntry>,
    /// Failed trials that were queued again; they do not count toward `n_trials`.
    pub retried: HashSet<u64>,
    /// The owner of each trial, by number.
    pub owners: Vec<Owner>,
    /// Process deaths each trial inherited from the queue entry it ran, by number.
    pub deaths: Vec<u32>,
    /// The time of each owner token's latest heartbeat.
    pub beats: HashMap<u64, f64>,
}

impl Ledger {
    pub fn new(history: History) -> Self {
        Self {
            history,
            created: None,
            queue: Vec::new(),
            retried: HashSet::new(),
            owners: Vec::new(),
            deaths: Vec::new(),
            beats: HashMap::new(),
        }
    }

    /// Folds one event in; an event that contradicts the ones before it is an error
    /// naming its position in `location`.
    pub fn apply(&mut self, record: Record, location: &str) -> Result<()> {
        let position = record.position;
        self.apply_event(record.event)
            .map_err(|message| Error::CorruptJournal {
                path: location.into(),
                line: position as usize,
                message,
            })
    }

    fn apply_event(&mut self, event: Event) -> std::result::Result<(), String> {
        match event {
            Event::StudyCreated {
                space,
                direction,
                directions,
                ..
            } => {
                if self.created.is_none() {
                    let directions = if directions.is_empty() {
                        vec![direction]
                    } else {
                        directions
                    };
                    self.created = Some((space, directions));
                }
            }
            Event::TrialStarted {
                number,
                params,
                unit,
                time,
                owner,
                queued,
            } => {
                if number != self.history.len() as u64 {
                    return Err(format!(
                        "trial {number} started after {} trials: numbers out of order",
                        self.history.len()
                    ));
                }
                self.check_params(&params, &format!("trial {number}'s params"))?;
                let deaths = match queued.and_then(|q| self.queue.get_mut(q as usize)) {
                    Some(entry) => {
                        entry.taken = true;
                        entry.deaths
                    }
                    None => 0,
                };
                self.deaths.push(deaths);
                self.owners.push(owner);
                self.history.push(Trial {
                    number,
                    params,
                    unit,
                    state: TrialState::Running,
                    value: None,
                    values: Vec::new(),
                    constraints: Vec::new(),
                    intermediate: Default::default(),
                    started: time,
                    finished: None,
                    error: None,
                    user_attrs: Default::default(),
                });
            }
            Event::TrialReported {
                number,
                step,
                value,
            } => {
                self.trial_mut(number, "reported")?
                    .intermediate
                    .insert(step, value);
            }
            Event::TrialFinished {
                number,
                state,
                value,
                values,
                constraints,
                error,
                time,
            } => {
                let t = self.trial_mut(number, "finished")?;
                t.state = state;
                t.value = value;
                t.values = values;
                t.constraints = constraints;
                t.error = error;
                t.finished = Some(time);
            }
            Event::TrialEnqueued { params, retry_of } => {
                self.check_params(&params, "queued params")?;
                let deaths = retry_of
                    .and_then(|n| self.deaths.get(n as usize).copied())
                    .unwrap_or(0);
                self.queue.push(QueueEntry {
                    params,
                    taken: false,
                    deaths,
                });
                self.retried.extend(retry_of);
            }
            Event::TrialRequeued {
                number,
                error,
                died,
                time,
            } => {
                let t = self.trial_mut(number, "requeued")?;
                t.state = TrialState::Failed;
                t.error = Some(error);
                t.finished = Some(time);
                let params = t.params.clone();
                let deaths = self.deaths[number as usize] + u32::from(died);
                self.queue.push(QueueEntry {
                    params,
                    taken: false,
                    deaths,
                });
                self.retried.insert(number);
            }
            Event::Heartbeat { token, time } => {
                let last = self.beats.entry(token).or_insert(time);
                *last = last.max(time);
            }
            Event::TrialAttr { number, key, value } => {
                self.trial_mut(number, "given an attribute")?
                    .user_attrs
                    .insert(key, value);
            }
        }
        Ok(())
    }

    /// Params written by this study must lie in its search space.
    fn check_params(&self, params: &Params, what: &str) -> std::result::Result<(), String> {
        match &self.created {
            Some((space, _)) => space
                .to_unit(params)
                .map(drop)
                .map_err(|e| format!("{what} do not fit the study's search space: {e}")),
            None => Ok(()),
        }
    }

    fn trial_mut(&mut self, number: u64, what: &str) -> std::result::Result<&mut Trial, String> {
        let known = self.history.len();
        self.history
            .get_mut(number)
            .ok_or_else(|| format!("trial {number} {what} but only {known} trials started"))
    }

    /// Trials that count toward `optimize`'s target: finished ones that were not
    /// retried, plus running ones.
    pub fn counted(&self) -> usize {
        self.history
            .trials()
            .iter()
            .filter(|t| !(t.state == TrialState::Failed && self.retried.contains(&t.number)))
            .count()
    }

    /// Trial `number`, which must be running.
    pub fn running(&self, number: u64) -> Result<&Trial> {
        let trial = self
            .history
            .get(number)
            .ok_or(Error::UnknownTrial(number))?;
        if trial.state != TrialState::Running {
            return Err(Error::TrialNotRunning {
                number,
                state: trial.state.to_string(),
            });
        }
        Ok(trial)
    }

    /// Failed trials that were not queued again, with why: what a user should see
    /// beside the leaderboard.
    pub fn given_up(&self) -> impl Iterator<Item = &Trial> {
        self.history
            .in_state(TrialState::Failed)
            .filter(|t| !self.retried.contains(&t.number))
    }

    /// The tokens of the owners of running trials, one per trial.
    pub fn running_tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.history
            .in_state(TrialState::Running)
            .map(|t| self.owners[t.number as usize].token)
    }

    /// When owner `token` last showed it was alive: its latest heartbeat, or the start
    /// of its trial `number`.
    pub fn last_seen(&self, number: u64) -> f64 {
        let started = self.history.get(number).map_or(0.0, |t| t.started);
        let token = self.owners[number as usize].token;
        self.beats.get(&token).map_or(started, |&b| b.max(started))
    }
}
