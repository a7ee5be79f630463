//! One evaluation of the objective, and the direction in which it improves.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::params::Params;

/// How a trial ended, as told by whoever ran it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It produced this objective value (a non-finite one fails the trial).
    Complete(f64),
    /// It produced one value per objective of the study, in the order of its
    /// directions, and the values of its constraints (none, or each `<= 0` when the
    /// trial is feasible). For a study of several objectives, or one with constraints;
    /// [`Outcome::values`] and [`Outcome::constrained`] build it.
    Values {
        /// The objective values.
        values: Vec<f64>,
        /// The constraint values: the trial is feasible when every one is `<= 0`.
        constraints: Vec<f64>,
    },
    /// It stopped early at the pruner's request.
    Pruned,
    /// It failed, for this reason.
    Failed(String),
}

impl Outcome {
    /// Complete with one value per objective.
    pub fn values(values: impl Into<Vec<f64>>) -> Self {
        Outcome::Values {
            values: values.into(),
            constraints: Vec::new(),
        }
    }

    /// Complete with one value per objective and the constraint values (feasible when
    /// every one is `<= 0`).
    pub fn constrained(values: impl Into<Vec<f64>>, constraints: impl Into<Vec<f64>>) -> Self {
        Outcome::Values {
            values: values.into(),
            constraints: constraints.into(),
        }
    }
}

/// Whether smaller or larger objective values are better.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Smaller is better (a loss).
    #[default]
    Minimize,
    /// Larger is better (an accuracy).
    Maximize,
}

impl Direction {
    /// The value as a loss (smaller is better), which is what samplers and pruners see.
    pub fn loss(self, value: f64) -> f64 {
        match self {
            Direction::Minimize => value,
            Direction::Maximize => -value,
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        self.loss(a) < self.loss(b)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        })
    }
}

/// Where a trial is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// Started and not yet finished.
    Running,
    /// Finished with a finite objective value.
    Complete,
    /// Stopped early by the pruner; its value is its last intermediate value.
    Pruned,
    /// The trainer returned an error, panicked, returned a non-finite value, or its
    /// process died.
    Failed,
}

impl TrialState {
    /// Whether the trial has finished, whatever the outcome.
    pub fn is_finished(self) -> bool {
        self != TrialState::Running
    }
}

impl fmt::Display for TrialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
        })
    }
}

/// One trial: its params, its outcome and what it reported on the way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The trial's number in its study, from 0, in start order.
    pub number: u64,
    /// The hyperparameters it ran with.
    pub params: Params,
    /// The same params as a point of the unit cube, in space order.
    pub unit: Vec<f64>,
    /// Where it is in its life.
    pub state: TrialState,
    /// The objective value: set when complete, and for a pruned trial its last
    /// intermediate value. In a study of several objectives, the first objective's.
    pub value: Option<f64>,
    /// Every objective's value, in the order of the study's directions, when the study
    /// has several (empty otherwise: [`Trial::values`] reads either kind).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f64>,
    /// The constraint values the trial reported (feasible when every one is `<= 0`);
    /// empty for a study without constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<f64>,
    /// Intermediate values by step (for example `val_loss` by epoch).
    pub intermediate: BTreeMap<u64, f64>,
    /// When it started, in seconds since the Unix epoch.
    pub started: f64,
    /// When it finished, in seconds since the Unix epoch.
    pub finished: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Attributes set by the user ([`Study::set_user_attr`](crate::Study::set_user_attr),
    /// [`TrialContext::set_user_attr`](crate::TrialContext::set_user_attr)): what a
    /// trial measured besides its objective, where it saved its model.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_attrs: BTreeMap<String, crate::params::Value>,
}

impl Trial {
    /// How long it ran (so far, when still running).
    pub fn duration_secs(&self) -> f64 {
        self.finished.unwrap_or_else(now_secs) - self.started
    }

    /// The objective values: [`Trial::values`] (the field) in a study of several
    /// objectives, else the one value; empty while it has none.
    pub fn values(&self) -> &[f64] {
        if self.values.is_empty() {
            self.value.as_slice()
        } else {
            &self.values
        }
    }

    /// How far the trial is from meeting its constraints: the sum of the constraint
    /// values above 0 (0 for a feasible trial, or one without constraints).
    pub fn violation(&self) -> f64 {
        self.constraints.iter().map(|c| c.max(0.0)).sum()
    }

    /// Whether every constraint holds (`<= 0`); true without constraints.
    pub fn is_feasible(&self) -> bool {
        self.violation() == 0.0
    }

    /// The last intermediate value, with its step.
    pub fn last_intermediate(&self) -> Option<(u64, f64)> {
        self.intermediate.iter().next_back().map(|(s, v)| (*s, *v))
    }
}

/// The wall clock in seconds since the Unix epoch.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_turns_values_into_losses() {
        assert_eq!(Direction::Minimize.loss(0.3), 0.3);
        assert_eq!(Direction::Maximize.loss(0.3), -0.3);
        assert!(Direction::Maximize.better(0.9, 0.8));
        assert!(Direction::Minimize.better(0.8, 0.9));
        assert!(!Direction::Minimize.better(0.8, 0.8));
    }
}
