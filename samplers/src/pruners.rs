//! Pruners: which running trials to stop early.

use knob_core::{History, Pruner, Trial, TrialState};

/// Stops a trial whose latest intermediate value is worse than the median of what
/// finished trials reported at the same step.
///
/// It waits for `startup` finished trials before pruning anything, and never prunes
/// before step `warmup` (early epochs are noisy). Worse and better follow the study's
/// direction.
#[derive(Debug, Clone, Copy)]
pub struct MedianPruner {
    startup: usize,
    warmup: u64,
}

impl Default for MedianPruner {
    fn default() -> Self {
        Self {
            startup: 5,
            warmup: 1,
        }
    }
}

impl MedianPruner {
    /// Waits for 5 finished trials and skips step 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Finished trials needed before pruning starts.
    pub fn startup(mut self, trials: usize) -> Self {
        self.startup = trials;
        self
    }

    /// Steps before which no trial is pruned.
    pub fn warmup(mut self, steps: u64) -> Self {
        self.warmup = steps;
        self
    }
}

impl Pruner for MedianPruner {
    fn should_prune(&self, trial: &Trial, history: &History) -> bool {
        let Some((step, value)) = trial.last_intermediate() else {
            return false;
        };
        if step < self.warmup {
            return false;
        }
        let mut others: Vec<f64> = history
            .trials()
            .iter()
            .filter(|t| {
                t.number != trial.number
                    && matches!(t.state, TrialState::Complete | TrialState::Pruned)
            })
            .filter_map(|t| t.intermediate.get(&step))
            .map(|&v| history.direction().loss(v))
            .collect();
        if others.len() < self.startup.max(1) {
            return false;
        }
        others.sort_by(f64::total_cmp);
        let n = others.len();
        let median = if n % 2 == 1 {
            others[n / 2]
        } else {
            0.5 * (others[n / 2 - 1] + others[n / 2])
        };
        history.direction().loss(value) > median
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::{Direction, Params};
    use std::collections::BTreeMap;

    fn trial(number: u64, state: TrialState, curve: &[f64]) -> Trial {
        Trial {
            number,
            params: Params::new(),
            unit: vec![],
            state,
            value: curve.last().copied(),
            intermediate: curve
                .iter()
                .enumerate()
                .map(|(s, &v)| (s as u64, v))
                .collect::<BTreeMap<_, _>>(),
            started: 0.0,
            finished: None,
            error: None,
        }
    }

    #[test]
    fn prunes_below_median_accuracy_after_warmup_and_startup() {
        // Accuracy curves (maximized) of finished trials.
        let done: Vec<Trial> = [[0.5, 0.7, 0.8], [0.4, 0.6, 0.7], [0.6, 0.8, 0.9]]
            .iter()
            .enumerate()
            .map(|(i, c)| trial(i as u64, TrialState::Complete, c))
            .collect();
        let mut all = done.clone();
        all.push(trial(3, TrialState::Running, &[0.3, 0.5]));
        let history = History::new(all.clone(), Direction::Maximize);
        let pruner = MedianPruner::new().startup(3).warmup(1);
        assert!(
            pruner.should_prune(&all[3], &history),
            "0.5 < median 0.7 at step 1"
        );
        let good = trial(3, TrialState::Running, &[0.3, 0.75]);
        let history = History::new(
            [done.clone(), vec![good.clone()]].concat(),
            Direction::Maximize,
        );
        assert!(
            !pruner.should_prune(&good, &history),
            "0.75 beats the median"
        );
        let early = trial(3, TrialState::Running, &[0.1]);
        assert!(!pruner.should_prune(&early, &history), "step 0 is warm-up");
        assert!(
            !MedianPruner::new()
                .startup(4)
                .should_prune(&all[3], &History::new(all.clone(), Direction::Maximize)),
            "too few finished trials"
        );
    }
}
