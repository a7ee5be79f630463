//! Coarse-to-fine search: rounds of sampling in a box that shrinks around the best trials.

use crate::setting::{require, InvalidSetting};
use knob_core::{Domain, History, KnobRng, Result, Sampler, SearchSpace, Trial};

use crate::RandomSampler;

/// Coarse to fine: sample a round of trials over the whole space, then a round inside
/// a smaller box centred on the best trial so far, and so on.
///
/// After each round of `round` trials the box's width shrinks by `shrink` on every
/// numeric parameter (in the unit cube, so on each parameter's own scale: a log-scaled
/// learning rate zooms by decades) and re-centres on the best complete trial; it is
/// shifted, never cut, to stay inside the space. Categorical parameters keep all their
/// choices. Inside the box it asks another sampler (random by default), which sees only
/// the trials inside the box, in box coordinates.
///
/// The box for each round depends only on the trials of the rounds before it, so a
/// resumed study zooms exactly as the uninterrupted one would have.
///
/// Pick it for the classic manual workflow made automatic: a cheap, robust search that
/// spends more of its budget where the good region is. A model-based sampler usually
/// does better on smooth objectives; zooming is easy to explain and hard to fool.
///
/// ```
/// use knob_samplers::{SobolSampler, ZoomSampler};
/// let sampler = ZoomSampler::new().round(20)?.shrink(0.4)?.inner(SobolSampler::new());
/// assert!(ZoomSampler::new().shrink(1.5).is_err());
/// # Ok::<(), knob_samplers::InvalidSetting>(())
/// ```
pub struct ZoomSampler {
    inner: Box<dyn Sampler>,
    round: usize,
    shrink: f64,
}

impl Default for ZoomSampler {
    fn default() -> Self {
        Self {
            inner: Box::new(RandomSampler::new()),
            round: 10,
            shrink: 0.5,
        }
    }
}

/// A box in the unit cube: its lower corner and its width per coordinate.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoomBox {
    /// The lower corner.
    pub lower: Vec<f64>,
    /// The width along each coordinate.
    pub width: Vec<f64>,
}

impl ZoomBox {
    fn contains(&self, u: &[f64]) -> bool {
        u.iter()
            .zip(&self.lower)
            .zip(&self.width)
            .all(|((x, lo), w)| *x >= lo - 1e-12 && *x <= lo + w + 1e-12)
    }

    fn to_inner(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(&self.lower)
            .zip(&self.width)
            .map(|((x, lo), w)| ((x - lo) / w).clamp(0.0, 1.0))
            .collect()
    }

    fn to_outer(&self, u: &[f64]) -> Vec<f64> {
        u.iter()
            .zip(&self.lower)
            .zip(&self.width)
            .map(|((x, lo), w)| (lo + x.clamp(0.0, 1.0) * w).clamp(0.0, 1.0))
            .collect()
    }
}

impl ZoomSampler {
    /// Rounds of 10 trials, halving the box each round, random inside.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trials per round (at least 1).
    pub fn round(mut self, trials: usize) -> Result<Self, InvalidSetting> {
        require(trials >= 1, "ZoomSampler", "round", trials, "at least 1")?;
        self.round = trials;
        Ok(self)
    }

    /// The factor each round multiplies the box's width by, in [0.001, 1].
    pub fn shrink(mut self, factor: f64) -> Result<Self, InvalidSetting> {
        let ok = (1e-3..=1.0).contains(&factor);
        require(ok, "ZoomSampler", "shrink", factor, "in [0.001, 1]")?;
        self.shrink = factor;
        Ok(self)
    }

    /// The sampler used inside the box.
    pub fn inner(mut self, sampler: impl Sampler + 'static) -> Self {
        self.inner = Box::new(sampler);
        self
    }

    /// The box that trial `number` samples in.
    pub fn zoom_box(&self, space: &SearchSpace, history: &History, number: u64) -> ZoomBox {
        let dims = space.len();
        let mut b = ZoomBox {
            lower: vec![0.0; dims],
            width: vec![1.0; dims],
        };
        let rounds = number / self.round as u64;
        for r in 1..=rounds {
            let cutoff = r * self.round as u64;
            let best = history
                .observations()
                .filter(|o| o.number < cutoff)
                .min_by(|a, b| a.loss.total_cmp(&b.loss));
            let Some(best) = best else { continue };
            for (d, p) in space.params().iter().enumerate() {
                if matches!(p.domain, Domain::Categorical { .. }) {
                    continue;
                }
                let w = b.width[d] * self.shrink;
                b.lower[d] = (best.unit[d] - w / 2.0).clamp(0.0, 1.0 - w);
                b.width[d] = w;
            }
        }
        b
    }
}

impl Sampler for ZoomSampler {
    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>> {
        let b = self.zoom_box(space, history, history.len() as u64);
        let inside: Vec<Trial> = history
            .trials()
            .iter()
            .filter(|t| b.contains(&t.unit))
            .map(|t| Trial {
                unit: b.to_inner(&t.unit),
                ..t.clone()
            })
            .collect();
        let inner_history = History::new(inside, history.direction());
        Ok(self
            .inner
            .suggest(space, &inner_history, rng)?
            .map(|u| b.to_outer(&u)))
    }
}
