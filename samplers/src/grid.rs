//! Grid search: every combination of a few values per parameter.

use crate::setting::{require, InvalidSetting};
use std::collections::{BTreeMap, HashSet};

use knob_core::{study_rng, Domain, Error, History, KnobRng, Result, Sampler, SearchSpace, Value};
use rand::Rng;

/// Every combination of a few values per parameter, visited once each.
///
/// Floats get `resolution` evenly spaced values on their own scale (endpoints
/// included); integer ranges with at most `resolution.max(10)` values and categorical
/// parameters get every value; larger integer ranges get `resolution` spread values.
/// [`GridSampler::values`] sets one parameter's count. Points are visited in order, or
/// shuffled (deterministically for the study's seed). When every point has been
/// started the sampler returns `None` and the study ends.
///
/// Pick it for two or three parameters when you want a complete, explainable picture.
/// With more parameters it wastes trials: if one of two parameters does not matter, a
/// 5x5 grid tries only 5 distinct values of the one that does, where 25 random trials
/// try 25.
///
/// ```
/// use knob_core::{Scale, SearchSpace};
/// use knob_samplers::GridSampler;
/// let space = SearchSpace::builder()
///     .float("lr", 1e-4, 1e-1, Scale::Log)
///     .int("layers", 1, 3, Scale::Linear)
///     .build()?;
/// assert_eq!(GridSampler::new().resolution(4)?.size(&space), 12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GridSampler {
    resolution: usize,
    per_param: BTreeMap<String, usize>,
    shuffle: bool,
}

impl Default for GridSampler {
    fn default() -> Self {
        Self {
            resolution: 5,
            per_param: BTreeMap::new(),
            shuffle: false,
        }
    }
}

impl GridSampler {
    /// A grid with 5 values per float, visited in order.
    pub fn new() -> Self {
        Self::default()
    }

    /// Values per float parameter (and per large integer range); at least 1.
    pub fn resolution(mut self, points: usize) -> Result<Self, InvalidSetting> {
        require(
            points >= 1,
            "GridSampler",
            "resolution",
            points,
            "at least 1",
        )?;
        self.resolution = points;
        Ok(self)
    }

    /// Values for one parameter, overriding the default.
    pub fn values(
        mut self,
        param: impl Into<String>,
        points: usize,
    ) -> Result<Self, InvalidSetting> {
        require(points >= 1, "GridSampler", "values", points, "at least 1")?;
        self.per_param.insert(param.into(), points);
        Ok(self)
    }

    /// Visits the grid in a random order fixed by the study's seed.
    pub fn shuffled(mut self) -> Self {
        self.shuffle = true;
        self
    }

    /// The unit coordinates of each parameter's grid values.
    fn axes(&self, space: &SearchSpace) -> Vec<Vec<f64>> {
        space
            .params()
            .iter()
            .map(|p| {
                let wanted = self.per_param.get(&p.name).copied();
                let spread = |n: usize| -> Vec<f64> {
                    if n == 1 {
                        vec![0.5]
                    } else {
                        (0..n).map(|i| i as f64 / (n - 1) as f64).collect()
                    }
                };
                match (&p.domain, p.domain.cardinality()) {
                    (Domain::Float { .. }, _) => spread(wanted.unwrap_or(self.resolution)),
                    (domain, Some(count)) => {
                        let limit = wanted.unwrap_or(if matches!(domain, Domain::Int { .. }) {
                            self.resolution.max(10)
                        } else {
                            usize::MAX
                        });
                        let canonical = |u: f64| domain.to_unit(&domain.from_unit(u)).unwrap_or(u);
                        let mut values: Vec<f64> = if count as usize <= limit {
                            // Every value, at the centre of its slice.
                            every_value(domain)
                        } else {
                            spread(limit).into_iter().map(canonical).collect()
                        };
                        values.dedup();
                        values
                    }
                    (_, None) => unreachable!("only floats are continuous"),
                }
            })
            .collect()
    }

    /// How many points the grid has for `space`: in a conditional space, the valid
    /// combinations only (a parameter that is inactive takes no values of its own).
    pub fn size(&self, space: &SearchSpace) -> u64 {
        let axes = self.axes(space);
        let full = full_size(&axes);
        if !space.is_conditional() || full == u64::MAX {
            return full;
        }
        (0..full).filter(|&i| valid(space, &axes, i)).count() as u64
    }
}

/// The number of points of the full product of `axes`, `u64::MAX` when it overflows.
fn full_size(axes: &[Vec<f64>]) -> u64 {
    axes.iter()
        .map(|a| a.len() as u64)
        .fold(1u64, u64::saturating_mul)
}

/// The point of mixed-radix index `index` (first parameter fastest).
fn point_at(axes: &[Vec<f64>], index: u64) -> Vec<f64> {
    let mut rest = index;
    axes.iter()
        .map(|axis| {
            let k = (rest % axis.len() as u64) as usize;
            rest /= axis.len() as u64;
            axis[k]
        })
        .collect()
}

/// Whether the point of `index` is a combination of its own: each parameter that is
/// inactive there sits at its first grid value, so that each combination of the
/// active parameters has exactly one index.
fn valid(space: &SearchSpace, axes: &[Vec<f64>], index: u64) -> bool {
    let point = point_at(axes, index);
    space
        .active(&point)
        .iter()
        .zip(axes.iter().zip(&point))
        .all(|(&on, (axis, &u))| on || u == axis[0])
}

/// The unit coordinate of every value of a discrete domain, in order.
fn every_value(domain: &Domain) -> Vec<f64> {
    let values: Vec<Value> = match domain {
        Domain::Int { low, high, .. } => (*low..=*high).map(Value::Int).collect(),
        Domain::Categorical { choices } => choices.clone(),
        Domain::Float { .. } => Vec::new(),
    };
    values.iter().filter_map(|v| domain.to_unit(v)).collect()
}

/// The index of the grid value nearest to `u` on one axis.
fn nearest(axis: &[f64], u: f64) -> usize {
    let mut best = 0;
    for (i, v) in axis.iter().enumerate() {
        if (v - u).abs() < (axis[best] - u).abs() {
            best = i;
        }
    }
    best
}

impl Sampler for GridSampler {
    /// It reads no losses, so any number of objectives will do.
    fn multi_objective(&self) -> bool {
        true
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>> {
        let axes = self.axes(space);
        let size = full_size(&axes);
        if size == u64::MAX {
            return Err(Error::Sampler {
                sampler: "GridSampler".into(),
                message: "the grid has more points than fit in a u64; lower the resolution".into(),
            });
        }
        let conditional = space.is_conditional();
        // Mixed-radix index of a point, first parameter fastest; an inactive
        // parameter counts as its first value.
        let index_of = |unit: &[f64]| -> u64 {
            let active = space.active(unit);
            axes.iter()
                .zip(unit)
                .zip(active)
                .rev()
                .fold(0u64, |acc, ((axis, &u), on)| {
                    acc * axis.len() as u64 + if on { nearest(axis, u) as u64 } else { 0 }
                })
        };
        let taken: HashSet<u64> = history.trials().iter().map(|t| index_of(&t.unit)).collect();
        if !conditional && taken.len() as u64 >= size {
            return Ok(None);
        }
        let order = Permutation::new(size, self.shuffle.then(|| study_rng(rng).gen()));
        let Some(index) = (0..size)
            .map(|p| order.apply(p))
            .find(|i| !taken.contains(i) && (!conditional || valid(space, &axes, *i)))
        else {
            return Ok(None);
        };
        Ok(Some(point_at(&axes, index)))
    }
}

/// A bijection of `0..n`: the identity, or a keyed shuffle that needs no table, so a
/// grid of millions of points costs nothing to shuffle. A four-round Feistel network on
/// the smallest even-bit domain that holds `n`, walking cycles until it lands in range.
struct Permutation {
    n: u64,
    key: Option<u64>,
    half_bits: u32,
}

impl Permutation {
    fn new(n: u64, key: Option<u64>) -> Self {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        Self {
            n,
            key,
            half_bits: bits.div_ceil(2).max(1),
        }
    }

    fn apply(&self, i: u64) -> u64 {
        let Some(key) = self.key else { return i };
        let mask = (1u64 << self.half_bits) - 1;
        let mut x = i;
        loop {
            let (mut left, mut right) = (x >> self.half_bits, x & mask);
            for round in 0..4u64 {
                let f = mix(right ^ key.rotate_left(16 * round as u32) ^ round) & mask;
                (left, right) = (right, left ^ f);
            }
            x = (left << self.half_bits) | right;
            if x < self.n {
                return x;
            }
        }
    }
}

/// A 64-bit finalizer (from SplitMix64): every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::Scale;

    #[test]
    fn shuffles_are_permutations() {
        for n in [1u64, 2, 3, 17, 100, 1000] {
            let p = Permutation::new(n, Some(42));
            let mut seen: Vec<u64> = (0..n).map(|i| p.apply(i)).collect();
            let shuffled = seen != (0..n).collect::<Vec<_>>();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
            assert!(shuffled || n <= 2, "n = {n} was not shuffled");
        }
    }

    #[test]
    fn axes_cover_small_ranges_and_choices_exactly() {
        let space = SearchSpace::builder()
            .float("x", 0.0, 1.0, Scale::Linear)
            .int("layers", 1, 4, Scale::Linear)
            .int("units", 1, 1000, Scale::Log)
            .categorical("act", ["relu", "tanh", "gelu"])
            .build()
            .unwrap();
        let grid = GridSampler::new()
            .resolution(3)
            .unwrap()
            .values("units", 4)
            .unwrap();
        let axes = grid.axes(&space);
        assert_eq!(axes.iter().map(Vec::len).collect::<Vec<_>>(), [3, 4, 4, 3]);
        let units: Vec<i64> = axes[2]
            .iter()
            .map(|&u| space.params()[2].domain.from_unit(u))
            .map(|v| match v {
                knob_core::Value::Int(i) => i,
                _ => unreachable!(),
            })
            .collect();
        // Spread evenly on the log scale (of [0.5, 1000.5], as each integer owns its
        // rounding interval), so each step multiplies rather than adds.
        assert_eq!((units[0], units[3]), (1, 1000));
        assert!(units.windows(2).all(|w| w[1] > 5 * w[0]), "{units:?}");
    }

    #[test]
    fn a_conditional_grid_visits_each_valid_combination_once() {
        let space = SearchSpace::builder()
            .categorical("optimizer", ["adam", "sgd"])
            .float("momentum", 0.5, 0.9, Scale::Linear)
            .when_in("optimizer", ["sgd"])
            .int("layers", 1, 2, Scale::Linear)
            .repeated("layers", |b, i| {
                b.int(format!("units_{i}"), 1, 3, Scale::Linear)
            })
            .build()
            .unwrap();
        // (1 adam + 3 momenta) x (3 one-layer widths + 9 two-layer ones).
        let grid = GridSampler::new().resolution(3).unwrap().shuffled();
        assert_eq!(grid.size(&space), 4 * 12);
        let study = knob_core::Study::builder(space)
            .sampler(grid)
            .build()
            .unwrap();
        let mut seen = Vec::new();
        while let Some(t) = study.ask().unwrap() {
            assert!(!seen.contains(&t.params), "{} twice", t.params);
            seen.push(t.params.clone());
            study
                .tell(t.number, knob_core::Outcome::Complete(0.0))
                .unwrap();
        }
        assert_eq!(seen.len(), 48);
    }
}
