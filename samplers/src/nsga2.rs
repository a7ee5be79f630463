//! NSGA-II: the evolutionary sampler for several objectives.

use knob_core::pareto::{crowding_distance, fronts};
use knob_core::{study_rng, History, KnobRng, MultiObservation, Result, Sampler, SearchSpace};
use rand::Rng;

use crate::setting::{require, InvalidSetting};
use crate::sobol_point;

/// NSGA-II (Deb et al., 2002): a population evolved toward the Pareto front.
///
/// The first `population` trials are a Sobol design. After that each trial is one
/// child: two parents picked by binary tournaments from the current population,
/// crossed by simulated binary crossover (SBX, distribution index 20, with
/// probability 0.9; each coordinate swapped between the two children with
/// probability 0.5) and mutated by polynomial mutation (index 20, each coordinate
/// with probability 1/d), all on the unit cube, where the space maps each
/// coordinate to its scale, integer or choice.
///
/// The population is rebuilt from the history on every call, so a resumed or shared
/// study just goes on: the best `population` complete trials by constrained
/// non-dominated sorting (feasible trials first, by front; infeasible ones after, by
/// their violation), the last front cut by crowding distance (the most isolated kept).
/// Selecting from every trial so far, not from the last generation and its children
/// alone, is elitist in the same way as NSGA-II's own survival step, and lets trials
/// run in parallel without generation barriers.
///
/// The default population of 20 is smaller than the 50 to 100 of long evolutionary
/// runs: tuning studies last hundreds of trials, not tens of thousands, and a small
/// population evolves for more generations within them.
///
/// ```
/// use knob_core::{CallbackList, Direction, Outcome, Scale, SearchSpace, Study};
/// use knob_samplers::NsgaIISampler;
///
/// let space = SearchSpace::builder().float("x", 0.0, 1.0, Scale::Linear).build()?;
/// let study = Study::builder(space)
///     .directions([Direction::Minimize, Direction::Minimize])
///     .sampler(NsgaIISampler::new().population(10)?)
///     .build()?;
/// for _ in 0..30 {
///     let trial = study.ask()?.unwrap();
///     let x = trial.params.float("x")?;
///     study.tell(trial.number, Outcome::values([x, 1.0 - x * x]))?;
/// }
/// assert!(study.best_trials()?.len() > 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct NsgaIISampler {
    population: usize,
    crossover: f64,
}

impl Default for NsgaIISampler {
    fn default() -> Self {
        Self {
            population: 20,
            crossover: 0.9,
        }
    }
}

/// SBX's distribution index: larger keeps children closer to their parents.
const ETA_CROSSOVER: f64 = 20.0;
/// Polynomial mutation's distribution index.
const ETA_MUTATION: f64 = 20.0;

impl NsgaIISampler {
    /// A population of 20, crossover probability 0.9.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trials per generation: the size of the initial design and of the population
    /// parents are drawn from.
    pub fn population(mut self, size: usize) -> Result<Self, InvalidSetting> {
        require(size >= 2, "NsgaIISampler", "population", size, "at least 2")?;
        self.population = size;
        Ok(self)
    }

    /// The probability that a child is a crossover of its parents (otherwise a copy of
    /// the first, mutated).
    pub fn crossover(mut self, probability: f64) -> Result<Self, InvalidSetting> {
        let ok = (0.0..=1.0).contains(&probability);
        require(ok, "NsgaIISampler", "crossover", probability, "in [0, 1]")?;
        self.crossover = probability;
        Ok(self)
    }
}

/// A member of the population: its rank (front; infeasible trials after every
/// feasible front) and its crowding distance within that front.
struct Member<'a> {
    unit: &'a [f64],
    rank: usize,
    crowding: f64,
}

/// The best `size` of `observations` by constrained non-dominated sorting, the last
/// front cut by crowding distance.
fn select<'a>(observations: &[MultiObservation<'a>], size: usize) -> Vec<Member<'a>> {
    let (feasible, mut infeasible): (Vec<_>, Vec<_>) =
        observations.iter().partition(|o| o.violation == 0.0);
    let points: Vec<Vec<f64>> = feasible.iter().map(|o| o.losses.clone()).collect();
    let front_of = fronts(&points);
    let fronts_count = front_of.iter().max().map_or(0, |f| f + 1);
    let mut chosen = Vec::with_capacity(size);
    for front in 0..fronts_count {
        let members: Vec<usize> = (0..points.len())
            .filter(|&i| front_of[i] == front)
            .collect();
        let front_points: Vec<Vec<f64>> = members.iter().map(|&i| points[i].clone()).collect();
        let crowding = crowding_distance(&front_points);
        let mut ranked: Vec<(usize, f64)> = members.into_iter().zip(crowding).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (i, crowding) in ranked.into_iter().take(size - chosen.len()) {
            chosen.push(Member {
                unit: feasible[i].unit,
                rank: front,
                crowding,
            });
        }
        if chosen.len() == size {
            return chosen;
        }
    }
    infeasible.sort_by(|a, b| a.violation.total_cmp(&b.violation));
    for (k, o) in infeasible.into_iter().take(size - chosen.len()).enumerate() {
        chosen.push(Member {
            unit: o.unit,
            rank: fronts_count + k,
            crowding: 0.0,
        });
    }
    chosen
}

/// A binary tournament: two members at random, the lower rank wins, then the larger
/// crowding distance.
fn tournament<'a>(population: &'a [Member<'_>], rng: &mut KnobRng) -> &'a Member<'a> {
    let a = &population[rng.gen_range(0..population.len())];
    let b = &population[rng.gen_range(0..population.len())];
    if (a.rank, -a.crowding) <= (b.rank, -b.crowding) {
        a
    } else {
        b
    }
}

/// One child of `a` and `b` by simulated binary crossover (Deb & Agrawal, 1995),
/// coordinate by coordinate, kept inside `[0, 1]`.
fn sbx(a: &[f64], b: &[f64], rng: &mut KnobRng) -> Vec<f64> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            if rng.gen::<f64>() >= 0.5 || (x - y).abs() < 1e-14 {
                return if rng.gen::<bool>() { x } else { y };
            }
            let (lo, hi) = (x.min(y), x.max(y));
            let u: f64 = rng.gen();
            // The spread factor β: children spread around the parents' centre by β times
            // the parents' distance, with density peaked at β = 1.
            let beta = if u <= 0.5 {
                (2.0 * u).powf(1.0 / (ETA_CROSSOVER + 1.0))
            } else {
                (1.0 / (2.0 * (1.0 - u))).powf(1.0 / (ETA_CROSSOVER + 1.0))
            };
            let centre = 0.5 * (lo + hi);
            let half = 0.5 * beta * (hi - lo);
            let child = if rng.gen::<bool>() {
                centre - half
            } else {
                centre + half
            };
            child.clamp(0.0, 1.0)
        })
        .collect()
}

/// Polynomial mutation (Deb & Goyal, 1996) of each coordinate with probability
/// `1 / d`: a move whose size has a polynomial density, bounded by the cube.
fn mutate(mut x: Vec<f64>, rng: &mut KnobRng) -> Vec<f64> {
    let probability = 1.0 / x.len().max(1) as f64;
    for v in &mut x {
        if rng.gen::<f64>() >= probability {
            continue;
        }
        let u: f64 = rng.gen();
        let delta = if u < 0.5 {
            let below = *v;
            let t = 2.0 * u + (1.0 - 2.0 * u) * (1.0 - below).powf(ETA_MUTATION + 1.0);
            t.powf(1.0 / (ETA_MUTATION + 1.0)) - 1.0
        } else {
            let above = 1.0 - *v;
            let t = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * (1.0 - above).powf(ETA_MUTATION + 1.0);
            1.0 - t.powf(1.0 / (ETA_MUTATION + 1.0))
        };
        *v = (*v + delta).clamp(0.0, 1.0);
    }
    x
}

impl Sampler for NsgaIISampler {
    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>> {
        let observations = history.multi_observations();
        if observations.len() < self.population {
            let seed = study_rng(rng).gen();
            return Ok(Some(sobol_point(history.len() as u64, space.len(), seed)));
        }
        let population = select(&observations, self.population);
        let first = tournament(&population, rng).unit;
        let child = if rng.gen::<f64>() < self.crossover {
            let second = tournament(&population, rng).unit;
            sbx(first, second, rng)
        } else {
            first.to_vec()
        };
        Ok(Some(mutate(child, rng)))
    }

    fn multi_objective(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(points: &[(&'static [f64], [f64; 2], f64)]) -> Vec<MultiObservation<'static>> {
        points
            .iter()
            .enumerate()
            .map(|(i, (unit, losses, violation))| MultiObservation {
                number: i as u64,
                unit,
                losses: losses.to_vec(),
                violation: *violation,
            })
            .collect()
    }

    #[test]
    fn selection_prefers_feasible_fronts_then_isolation() {
        let o = obs(&[
            (&[0.0], [0.0, 0.0], 1.0), // dominates all, but infeasible
            (&[0.1], [1.0, 3.0], 0.0), // front 0, extreme
            (&[0.2], [2.0, 2.0], 0.0), // front 0, middle
            (&[0.3], [2.1, 1.9], 0.0), // front 0, crowded next to (2, 2)
            (&[0.4], [3.0, 1.0], 0.0), // front 0, extreme
            (&[0.5], [3.0, 3.0], 0.0), // front 1
            (&[0.6], [9.0, 9.0], 0.5), // infeasible, but less so
        ]);
        let chosen = select(&o, 4);
        let units: Vec<f64> = chosen.iter().map(|m| m.unit[0]).collect();
        assert_eq!(chosen.len(), 4);
        assert!(
            units.contains(&0.1) && units.contains(&0.4),
            "extremes kept: {units:?}"
        );
        assert!(chosen.iter().all(|m| m.rank == 0), "{units:?}");
        let all = select(&o, 7);
        assert_eq!(all[5].unit[0], 0.6, "less infeasible first");
        assert_eq!(all[6].unit[0], 0.0);
        assert!(all[5].rank < all[6].rank);
    }

    #[test]
    fn children_stay_in_the_cube_and_near_their_parents() {
        let mut rng = knob_core::trial_rng(1, 0);
        let (a, b) = (vec![0.2, 0.9, 0.0], vec![0.3, 1.0, 0.05]);
        let mut far = 0;
        for _ in 0..2000 {
            let child = mutate(sbx(&a, &b, &mut rng), &mut rng);
            assert!(child.iter().all(|x| (0.0..=1.0).contains(x)), "{child:?}");
            far += usize::from((child[0] - 0.25).abs() > 0.3);
        }
        assert!(far < 100, "{far} of 2000 children far from the parents");
    }
}
