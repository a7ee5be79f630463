//! Several objectives seen as one: how the TPE (MOTPE's ranking) and the GP (ParEGO's
//! random scalarizations) serve a study of several objectives with their
//! one-objective machinery.
//!
//! Each turns every complete trial's losses into one loss and hands the sampler a
//! history of one objective. The trials keep their constraint values, so infeasible
//! trials still rank behind feasible ones there ([`knob_core::Observation::loss`]).

use knob_core::pareto::{contributions, fronts};
use knob_core::{Direction, History, KnobRng, MultiObservation, Trial, TrialState};
use rand::Rng;

/// `history` with each complete trial's value replaced by `key`'s loss for it; `key`
/// gets every complete trial (earlier studies' first, as
/// [`History::multi_observations`]) and returns one loss per trial, in that order.
pub(crate) fn scalarized(
    history: &History,
    key: impl FnOnce(&[MultiObservation<'_>]) -> Vec<f64>,
) -> History {
    let observations = history.multi_observations();
    let mut keys = key(&observations).into_iter();
    let mut relabel = |trials: &[Trial]| -> Vec<Trial> {
        trials
            .iter()
            .map(|t| {
                let mut t = t.clone();
                if t.state == TrialState::Complete && history.losses(&t).is_some() {
                    t.value = keys.next();
                    t.values.clear();
                }
                t
            })
            .collect()
    };
    let prior = relabel(history.prior());
    let trials = relabel(history.trials());
    History::new(trials, Direction::Minimize).with_prior(prior)
}

/// Each objective rescaled to `[0, 1]` over `observations` (a constant one to 0).
fn normalized(observations: &[MultiObservation<'_>]) -> Vec<Vec<f64>> {
    let m = observations.first().map_or(0, |o| o.losses.len());
    let (lo, hi): (Vec<f64>, Vec<f64>) = (0..m)
        .map(|i| {
            observations
                .iter()
                .map(|o| o.losses[i])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(x), b.max(x))
                })
        })
        .unzip();
    observations
        .iter()
        .map(|o| {
            (0..m)
                .map(|i| {
                    let span = hi[i] - lo[i];
                    if span > 0.0 {
                        (o.losses[i] - lo[i]) / span
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

/// ParEGO's scalarization (Knowles, 2006) with weights drawn uniformly from the
/// simplex: the augmented Chebyshev distance `max_i w_i z_i + 0.05 Σ_i w_i z_i` of the
/// normalized losses `z`. Each draw aims the search at another part of the front; the
/// small sum keeps weakly dominated points behind the points that dominate them.
pub(crate) fn parego(observations: &[MultiObservation<'_>], rng: &mut KnobRng) -> Vec<f64> {
    let m = observations.first().map_or(0, |o| o.losses.len());
    // Normalized exponential draws are uniform on the simplex.
    let mut w: Vec<f64> = (0..m).map(|_| -(1.0 - rng.gen::<f64>()).ln()).collect();
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= total);
    normalized(observations)
        .iter()
        .map(|z| {
            let weighted = z.iter().zip(&w).map(|(z, w)| z * w);
            weighted.clone().fold(0.0, f64::max) + 0.05 * weighted.sum::<f64>()
        })
        .collect()
}

/// MOTPE's ranking (Ozaki et al., 2020): feasible trials by their non-dominated front,
/// and within a front by how much hypervolume each alone adds (more first), so the
/// TPE's "good" share is the best fronts, cut where the front is least crowded.
/// Returned as a loss: the front's index plus a fraction below 1. (Infeasible trials
/// get 0 here; the history ranks them behind every feasible one.)
pub(crate) fn motpe(observations: &[MultiObservation<'_>]) -> Vec<f64> {
    let feasible: Vec<usize> = (0..observations.len())
        .filter(|&i| observations[i].violation == 0.0)
        .collect();
    let all = normalized(observations);
    let points: Vec<Vec<f64>> = feasible.iter().map(|&i| all[i].clone()).collect();
    let front_of = fronts(&points);
    let mut key = vec![0.0; observations.len()];
    let m = observations.first().map_or(0, |o| o.losses.len());
    let reference = vec![1.1; m];
    for front in 0..=front_of.iter().copied().max().unwrap_or(0) {
        let members: Vec<usize> = (0..points.len())
            .filter(|&j| front_of[j] == front)
            .collect();
        let front_points: Vec<Vec<f64>> = members.iter().map(|&j| points[j].clone()).collect();
        let gains = contributions(&front_points, &reference);
        let most = gains.iter().copied().fold(0.0, f64::max);
        for (j, gain) in members.iter().zip(gains) {
            let share = if most > 0.0 { gain / most } else { 0.0 };
            key[feasible[*j]] = front as f64 + 0.5 * (1.0 - share);
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(losses: &[[f64; 2]]) -> Vec<MultiObservation<'static>> {
        losses
            .iter()
            .enumerate()
            .map(|(i, l)| MultiObservation {
                number: i as u64,
                unit: &[],
                losses: l.to_vec(),
                violation: 0.0,
            })
            .collect()
    }

    #[test]
    fn motpe_ranks_fronts_then_contributions() {
        // Front 0: (0, 1), (0.5, 0.5), (1, 0); (0.9, 0.9) behind; (0.45, 0.55) in front 0
        // but next to (0.5, 0.5), so it adds less than the others.
        let o = obs(&[[0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [0.9, 0.9], [0.45, 0.55]]);
        let key = motpe(&o);
        assert!(key[3] >= 1.0, "dominated: {key:?}");
        assert!(
            key[..3].iter().chain([&key[4]]).all(|k| *k < 1.0),
            "{key:?}"
        );
        assert!(key[4] > key[0] && key[4] > key[2], "{key:?}");
    }

    #[test]
    fn parego_prefers_dominating_points_whatever_the_weights() {
        let o = obs(&[[0.2, 0.2], [0.3, 0.3], [0.0, 1.0]]);
        let mut rng = knob_core::trial_rng(3, 0);
        for _ in 0..20 {
            let key = parego(&o, &mut rng);
            assert!(key[0] < key[1], "{key:?}");
        }
    }
}
