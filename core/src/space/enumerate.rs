//! The configurations of a space whose parameters are all discrete: what a study uses
//! to avoid proposing one of them twice.

use super::{Domain, SearchSpace};

impl SearchSpace {
    /// The canonical unit point of every distinct configuration, when every parameter
    /// is an integer or a choice and there are at most `limit` configurations (a
    /// conditional space counts each combination of its active parameters once);
    /// `None` otherwise.
    ///
    /// ```
    /// use knob_core::{Scale, SearchSpace};
    /// let space = SearchSpace::builder()
    ///     .int("k", 1, 3, Scale::Linear)
    ///     .categorical("weighted", [false, true])
    ///     .build()?;
    /// assert_eq!(space.configurations(100).map(|c| c.len()), Some(6));
    /// assert_eq!(space.configurations(5), None);
    /// # Ok::<(), knob_core::SpaceError>(())
    /// ```
    pub fn configurations(&self, limit: usize) -> Option<Vec<Vec<f64>>> {
        let axes: Vec<Vec<f64>> = self
            .params
            .iter()
            .map(|p| {
                let n = usize::try_from(p.domain.cardinality()?).ok()?;
                (n <= limit).then(|| values(&p.domain, n))
            })
            .collect::<Option<_>>()?;
        let full = axes
            .iter()
            .try_fold(1usize, |acc, a| acc.checked_mul(a.len()))?;
        // The full product bounds the work; a conditional space has fewer distinct
        // configurations, found by canonicalizing each point.
        if full > limit.saturating_mul(16) {
            return None;
        }
        let mut seen = std::collections::HashSet::new();
        let mut points = Vec::new();
        for index in 0..full {
            let mut rest = index;
            let point: Vec<f64> = axes
                .iter()
                .map(|axis| {
                    let k = rest % axis.len();
                    rest /= axis.len();
                    axis[k]
                })
                .collect();
            let canonical = self.canonical(&point);
            if seen.insert(canonical.iter().map(|x| x.to_bits()).collect::<Vec<_>>()) {
                points.push(canonical);
                if points.len() > limit {
                    return None;
                }
            }
        }
        Some(points)
    }

    /// The canonical unit point of the configuration at `point`: what `to_unit`
    /// gives for the params `from_unit` reads there.
    pub fn canonical(&self, point: &[f64]) -> Vec<f64> {
        let active = self.active(point);
        self.params
            .iter()
            .zip(point)
            .zip(active)
            .map(|((p, &u), on)| {
                if on {
                    p.domain.to_unit(&p.domain.from_unit(u)).unwrap_or(u)
                } else {
                    0.5
                }
            })
            .collect()
    }
}

/// The unit coordinates of the `n` values of a discrete domain.
fn values(domain: &Domain, n: usize) -> Vec<f64> {
    match domain {
        Domain::Int { low, .. } => (0..n as i64)
            .filter_map(|i| domain.to_unit(&crate::params::Value::Int(low + i)))
            .collect(),
        Domain::Categorical { choices } => {
            choices.iter().filter_map(|c| domain.to_unit(c)).collect()
        }
        Domain::Float { .. } => Vec::new(),
    }
}
