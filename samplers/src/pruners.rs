//! Pruners: which running trials to stop early.

use crate::setting::{require, InvalidSetting};
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

/// Asynchronous successive halving (ASHA, Li et al. 2020): rungs at `min_resource ·
/// η^k` steps; a trial that reaches a rung continues only if its value there is in the
/// best `1/η` of all values reported at that rung so far (the first to arrive always
/// continues). Workers never wait for a rung to fill, so it suits parallel studies.
///
/// Steps count from 0, so a trial reporting after its first epoch is at resource 1.
#[derive(Debug, Clone, Copy)]
pub struct AshaPruner {
    min_resource: u64,
    eta: u64,
}

impl Default for AshaPruner {
    fn default() -> Self {
        Self {
            min_resource: 1,
            eta: 3,
        }
    }
}

impl AshaPruner {
    /// Rungs at 1, 3, 9, ... epochs (η = 3).
    pub fn new() -> Self {
        Self::default()
    }

    /// The resource (epochs) of the first rung.
    pub fn min_resource(mut self, epochs: u64) -> Result<Self, InvalidSetting> {
        require(
            epochs >= 1,
            "AshaPruner",
            "min_resource",
            epochs,
            "at least 1",
        )?;
        self.min_resource = epochs;
        Ok(self)
    }

    /// The reduction factor η (at least 2): one in η trials goes on at each rung.
    pub fn eta(mut self, eta: u64) -> Result<Self, InvalidSetting> {
        require(eta >= 2, "AshaPruner", "eta", eta, "at least 2")?;
        self.eta = eta;
        Ok(self)
    }

    /// Whether `resource` is a rung.
    fn is_rung(&self, resource: u64) -> bool {
        let mut r = self.min_resource;
        while r < resource {
            r = r.saturating_mul(self.eta);
        }
        r == resource
    }
}

impl Pruner for AshaPruner {
    fn should_prune(&self, trial: &Trial, history: &History) -> bool {
        self.prune_among(trial, history, |_| true)
    }
}

impl AshaPruner {
    /// ASHA's decision, comparing only with the trials that `peer` accepts.
    fn prune_among(&self, trial: &Trial, history: &History, peer: impl Fn(&Trial) -> bool) -> bool {
        let Some((step, value)) = trial.last_intermediate() else {
            return false;
        };
        if !self.is_rung(step + 1) {
            return false;
        }
        let mine = history.direction().loss(value);
        let mut competing: Vec<f64> = history
            .trials()
            .iter()
            .filter(|t| t.number != trial.number && peer(t))
            .filter_map(|t| t.intermediate.get(&step))
            .map(|&v| history.direction().loss(v))
            .collect();
        competing.push(mine);
        competing.sort_by(f64::total_cmp);
        let keep = (competing.len() as u64 / self.eta).max(1) as usize;
        mine > competing[keep - 1]
    }
}

/// Hyperband over ASHA brackets: bracket `b` starts its rungs at `min_resource · η^b`,
/// from aggressive early stopping (bracket 0) to none at all (the last bracket, whose
/// first rung is the full budget). Trials are dealt to brackets in turn by number, and
/// each is compared only with its own bracket, which hedges against a first rung too
/// early to tell good trials from bad.
#[derive(Debug, Clone, Copy)]
pub struct HyperbandPruner {
    min_resource: u64,
    max_resource: u64,
    eta: u64,
}

impl HyperbandPruner {
    /// Brackets between `min_resource` and `max_resource` epochs, η = 3.
    pub fn new(min_resource: u64, max_resource: u64) -> Result<Self, InvalidSetting> {
        require(
            min_resource >= 1,
            "HyperbandPruner",
            "new",
            min_resource,
            "at least 1",
        )?;
        require(
            max_resource >= min_resource,
            "HyperbandPruner",
            "new",
            format!("max_resource {max_resource} below min_resource {min_resource}"),
            "at least min_resource",
        )?;
        Ok(Self {
            min_resource,
            max_resource,
            eta: 3,
        })
    }

    /// The reduction factor η (at least 2).
    pub fn eta(mut self, eta: u64) -> Result<Self, InvalidSetting> {
        require(eta >= 2, "HyperbandPruner", "eta", eta, "at least 2")?;
        self.eta = eta;
        Ok(self)
    }

    /// The number of brackets: one per rung that fits below the full budget.
    pub fn brackets(&self) -> u64 {
        let mut n = 1;
        let mut r = self.min_resource;
        while r.saturating_mul(self.eta) <= self.max_resource {
            r *= self.eta;
            n += 1;
        }
        n
    }

    fn bracket_of(&self, number: u64) -> u64 {
        number % self.brackets()
    }
}

impl Pruner for HyperbandPruner {
    fn should_prune(&self, trial: &Trial, history: &History) -> bool {
        let bracket = self.bracket_of(trial.number);
        // Both settings were checked when this pruner was built.
        let asha = AshaPruner {
            eta: self.eta,
            min_resource: self.min_resource * self.eta.pow(bracket as u32),
        };
        asha.prune_among(trial, history, |t| self.bracket_of(t.number) == bracket)
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
            values: vec![],
            constraints: vec![],
            intermediate: curve
                .iter()
                .enumerate()
                .map(|(s, &v)| (s as u64, v))
                .collect::<BTreeMap<_, _>>(),
            started: 0.0,
            finished: None,
            error: None,
            user_attrs: BTreeMap::new(),
        }
    }

    #[test]
    fn hyperband_compares_within_brackets_with_their_own_rungs() {
        let hb = HyperbandPruner::new(1, 9).unwrap().eta(3).unwrap();
        assert_eq!(hb.brackets(), 3);
        // Trials 0..6: brackets 0, 1, 2, 0, 1, 2. Losses after the first epoch.
        let curves = [[0.2], [0.1], [0.1], [0.9], [0.9], [0.9]];
        let trials: Vec<Trial> = curves
            .iter()
            .enumerate()
            .map(|(i, c)| trial(i as u64, TrialState::Running, c))
            .collect();
        let history = History::new(trials.clone(), Direction::Minimize);
        // Bracket 0 has a rung at resource 1: trial 3 (0.9) loses to trial 0 (0.2).
        assert!(hb.should_prune(&trials[3], &history));
        // Bracket 1's first rung is at 3 epochs, so trial 4 goes on for now.
        assert!(!hb.should_prune(&trials[4], &history));
        // Bracket 2 never prunes before the full budget.
        assert!(!hb.should_prune(&trials[5], &history));
    }

    #[test]
    fn asha_keeps_the_best_third_at_each_rung() {
        let pruner = AshaPruner::new().eta(3).unwrap();
        assert!(pruner.is_rung(1) && pruner.is_rung(3) && pruner.is_rung(9) && !pruner.is_rung(2));
        // Losses (minimized) at step 0 (resource 1, a rung) of six earlier trials.
        let others: Vec<Trial> = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
            .iter()
            .enumerate()
            .map(|(i, &v)| trial(i as u64, TrialState::Complete, &[v]))
            .collect();
        let check = |loss: f64| {
            let t = trial(6, TrialState::Running, &[loss]);
            let history = History::new(
                [others.clone(), vec![t.clone()]].concat(),
                Direction::Minimize,
            );
            pruner.should_prune(&t, &history)
        };
        // Seven values: the best 7/3 = 2 go on, so 0.45 (second best) continues and 0.55 stops.
        assert!(!check(0.45));
        assert!(check(0.55));
        // Off-rung steps are never pruned, and the first trial at a rung always goes on.
        let t = trial(6, TrialState::Running, &[0.99, 0.99]);
        let history = History::new(
            [others.clone(), vec![t.clone()]].concat(),
            Direction::Minimize,
        );
        assert!(
            !pruner.should_prune(&t, &history),
            "resource 2 is not a rung"
        );
        let alone = trial(0, TrialState::Running, &[5.0]);
        assert!(!pruner.should_prune(
            &alone,
            &History::new(vec![alone.clone()], Direction::Minimize)
        ));
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
