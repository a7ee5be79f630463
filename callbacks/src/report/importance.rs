//! Which parameters mattered: functional ANOVA (fANOVA) on a random forest fitted to
//! the complete trials, the method Optuna uses by default.
//!
//! A regression tree is constant on boxes of the unit cube, so its variance over the
//! cube, and the variance of its main effect in one coordinate (the tree averaged over
//! every other coordinate, as a function of that one), are sums over its leaves. A
//! parameter's importance is the share of the tree's variance its main effect explains,
//! averaged over the forest's trees and normalized to sum to 1.

use knob_core::{History, SearchSpace};

/// The complete trials a ranking of the parameters needs: with fewer, every method
/// (this one, a GP's lengthscales) mostly ranks noise, so none is shown.
pub const MIN_TRIALS_FOR_IMPORTANCE: usize = 8;

/// The name of [`importance`]'s method, as the report prints it.
pub const METHOD: &str = "fANOVA on a random forest of 64 trees, model-free";

const TREES: usize = 64;

/// The share of the objective's variance each parameter's main effect explains, by
/// fANOVA on a random forest (64 bootstrapped trees, grown until their leaves are
/// pure) fitted to the complete trials' unit coordinates; where a conditional
/// parameter is inactive its coordinate is drawn at random, so its share measures what
/// it did where it was active, diluted by how often it was. Model-free, so it works with every
/// sampler, and deterministic. Sorted from most to least important; the shares sum to
/// 1. Empty below [`MIN_TRIALS_FOR_IMPORTANCE`] complete trials.
pub fn importance(history: &History, space: &SearchSpace) -> Vec<(String, f64)> {
    let observations: Vec<_> = history.observations().collect();
    if observations.len() < MIN_TRIALS_FOR_IMPORTANCE || space.is_empty() {
        return Vec::new();
    }
    let mut rng = SplitMix(0x6b6e_6f62_5f66_616e);
    // An inactive conditional parameter gets a random coordinate: at one fixed value it
    // would stand in for its parent (the trees would split on "inactive or not").
    let x: Vec<Vec<f64>> = observations
        .iter()
        .map(|o| {
            let active = space.active(o.unit);
            o.unit
                .iter()
                .zip(active)
                .map(|(&u, on)| if on { u } else { rng.unit() })
                .collect()
        })
        .collect();
    let x: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
    let y: Vec<f64> = observations.iter().map(|o| o.loss).collect();
    let dims = space.len();
    let mut shares = vec![0.0; dims];
    let mut counted = 0;
    for _ in 0..TREES {
        let sample: Vec<usize> = (0..y.len()).map(|_| rng.below(y.len())).collect();
        let tree = Node::grow(&sample, &x, &y, dims);
        let mut leaves = Vec::new();
        tree.leaves(vec![(0.0, 1.0); dims], &mut leaves);
        if let Some(fractions) = main_effects(&leaves, dims) {
            for (share, f) in shares.iter_mut().zip(fractions) {
                *share += f;
            }
            counted += 1;
        }
    }
    let total: f64 = shares.iter().sum();
    let mut ranking: Vec<(String, f64)> = space
        .params()
        .iter()
        .zip(&shares)
        .map(|(p, &s)| {
            let share = if counted == 0 || total <= 0.0 {
                1.0 / dims as f64
            } else {
                s / total
            };
            (p.name.clone(), share)
        })
        .collect();
    ranking.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranking
}

/// A small deterministic generator for the bootstrap samples.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A regression tree over the unit cube.
enum Node {
    Leaf(f64),
    Split {
        dim: usize,
        at: f64,
        below: Box<Node>,
        above: Box<Node>,
    },
}

/// A leaf's box (one `(low, high)` per coordinate) and value.
type Leaf = (Vec<(f64, f64)>, f64);

impl Node {
    /// CART: the split that most reduces the squared error, at the midpoint between two
    /// neighbouring values, until a node's values are all equal or it holds one point.
    // `dim` picks a column of every row of `x`, not an element of `x`.
    #[allow(clippy::needless_range_loop)]
    fn grow(rows: &[usize], x: &[&[f64]], y: &[f64], dims: usize) -> Node {
        let n = rows.len() as f64;
        let mean = rows.iter().map(|&i| y[i]).sum::<f64>() / n;
        if rows.len() < 2 || rows.iter().all(|&i| y[i] == y[rows[0]]) {
            return Node::Leaf(mean);
        }
        let mut best: Option<(f64, usize, f64)> = None;
        let mut sorted = rows.to_vec();
        for dim in 0..dims {
            sorted.sort_by(|&a, &b| x[a][dim].total_cmp(&x[b][dim]));
            let (total, total_sq): (f64, f64) = sorted
                .iter()
                .fold((0.0, 0.0), |(s, q), &i| (s + y[i], q + y[i] * y[i]));
            let (mut sum, mut sq) = (0.0, 0.0);
            for (k, pair) in sorted.windows(2).enumerate() {
                let v = y[pair[0]];
                (sum, sq) = (sum + v, sq + v * v);
                let (lo, hi) = (x[pair[0]][dim], x[pair[1]][dim]);
                if lo == hi {
                    continue;
                }
                let (left, right) = (k as f64 + 1.0, n - k as f64 - 1.0);
                let error =
                    (sq - sum * sum / left) + ((total_sq - sq) - (total - sum).powi(2) / right);
                if best.is_none_or(|b| error < b.0) {
                    best = Some((error, dim, (lo + hi) / 2.0));
                }
            }
        }
        let Some((_, dim, at)) = best else {
            return Node::Leaf(mean);
        };
        let (below, above): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| x[i][dim] < at);
        Node::Split {
            dim,
            at,
            below: Box::new(Node::grow(&below, x, y, dims)),
            above: Box::new(Node::grow(&above, x, y, dims)),
        }
    }

    /// Every leaf with its box, the node's box being `bounds`.
    fn leaves(&self, bounds: Vec<(f64, f64)>, out: &mut Vec<Leaf>) {
        match self {
            Node::Leaf(v) => out.push((bounds, *v)),
            Node::Split {
                dim,
                at,
                below,
                above,
            } => {
                let mut low = bounds.clone();
                low[*dim].1 = *at;
                below.leaves(low, out);
                let mut high = bounds;
                high[*dim].0 = *at;
                above.leaves(high, out);
            }
        }
    }
}

/// Each coordinate's main-effect variance as a fraction of the tree's variance over the
/// unit cube; `None` for a constant tree.
fn main_effects(leaves: &[Leaf], dims: usize) -> Option<Vec<f64>> {
    let volume = |b: &[(f64, f64)]| b.iter().map(|(lo, hi)| hi - lo).product::<f64>();
    let mean: f64 = leaves.iter().map(|(b, v)| volume(b) * v).sum();
    let variance: f64 = leaves
        .iter()
        .map(|(b, v)| volume(b) * (v - mean).powi(2))
        .sum();
    if variance <= 1e-300 {
        return None;
    }
    let fractions = (0..dims)
        .map(|d| {
            let mut cuts: Vec<f64> = leaves.iter().flat_map(|(b, _)| [b[d].0, b[d].1]).collect();
            cuts.sort_by(f64::total_cmp);
            cuts.dedup();
            let effect: f64 = cuts
                .windows(2)
                .map(|w| {
                    let middle = (w[0] + w[1]) / 2.0;
                    // The tree averaged over every other coordinate, on this interval.
                    let marginal: f64 = leaves
                        .iter()
                        .filter(|(b, _)| b[d].0 <= middle && middle < b[d].1)
                        .map(|(b, v)| v * volume(b) / (b[d].1 - b[d].0))
                        .sum();
                    (w[1] - w[0]) * (marginal - mean).powi(2)
                })
                .sum();
            effect / variance
        })
        .collect();
    Some(fractions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::testing::UniformSampler;
    use knob_core::{Outcome, Scale, Study};

    #[test]
    fn an_inactive_child_does_not_take_its_parents_share() {
        // Only the optimizer matters (sgd is worse); momentum exists only for sgd and
        // does nothing. Held at one value where inactive, momentum would split the sgd
        // trials from the rest as well as the optimizer does, and take its share.
        let space = SearchSpace::builder()
            .categorical("optimizer", ["adam", "sgd", "rmsprop"])
            .float("momentum", 0.5, 0.99, Scale::Linear)
            .when_in("optimizer", ["sgd"])
            .float("noise", 0.0, 1.0, Scale::Linear)
            .build()
            .unwrap();
        let study = Study::builder(space.clone())
            .sampler(UniformSampler)
            .seed(9)
            .build()
            .unwrap();
        for _ in 0..40 {
            let t = study.ask().unwrap().unwrap();
            let sgd = t.params.str("optimizer").unwrap() == "sgd";
            let value = f64::from(u8::from(sgd)) + 0.01 * t.params.float("noise").unwrap();
            study.tell(t.number, Outcome::Complete(value)).unwrap();
        }
        let ranking = importance(&study.history().unwrap(), &space);
        assert_eq!(ranking[0].0, "optimizer", "{ranking:?}");
        assert!(ranking[0].1 > 0.9, "{ranking:?}");
    }

    #[test]
    fn an_additive_function_splits_its_variance_by_term() {
        // f = step in x0 (variance 1/4 · 4 = 1) + half a step in x1 (variance 1/4):
        // exact main effects 0.8 and 0.2 of a tree that splits at 0.5 on both.
        let leaves: Vec<Leaf> = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
            .iter()
            .map(|&(a, b): &(f64, f64)| {
                let bounds = vec![(a * 0.5, a * 0.5 + 0.5), (b * 0.5, b * 0.5 + 0.5)];
                (bounds, 2.0 * a + b)
            })
            .collect();
        let f = main_effects(&leaves, 2).unwrap();
        assert!(
            (f[0] - 0.8).abs() < 1e-12 && (f[1] - 0.2).abs() < 1e-12,
            "{f:?}"
        );
    }
}
