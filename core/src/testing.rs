//! Small, real implementations of the traits for doctests, tests and examples.

use crate::callback::{Callback, EpochView, Logs};
use crate::error::{BoxError, Result};
use crate::history::History;
use crate::params::{Params, Value};
use crate::sampler::{KnobRng, Sampler};
use crate::space::SearchSpace;
use crate::trainer::{Trainer, TrialContext};
use rand::Rng;

/// Uniform points of the unit cube: each parameter on its own scale. The full-featured
/// version is `knob_samplers::RandomSampler`.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniformSampler;

impl Sampler for UniformSampler {
    /// It reads no losses, so any number of objectives will do.
    fn multi_objective(&self) -> bool {
        true
    }

    fn suggest(
        &mut self,
        space: &SearchSpace,
        _: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>> {
        Ok(Some((0..space.len()).map(|_| rng.gen::<f64>()).collect()))
    }
}

/// A stand-in for a training run: the objective is the squared distance of the
/// numeric params from `centre`, "learned" over `epochs` epochs. Each epoch it
/// reports `loss`, calls the callbacks and honours Stop and pruning.
#[derive(Debug, Clone, Copy)]
pub struct QuadraticTrainer {
    /// Where the minimum lies, on every numeric parameter.
    pub centre: f64,
    /// How many epochs a trial lasts.
    pub epochs: u64,
}

impl Default for QuadraticTrainer {
    fn default() -> Self {
        Self {
            centre: 0.0,
            epochs: 3,
        }
    }
}

impl QuadraticTrainer {
    /// The objective at `params`.
    pub fn objective(&self, params: &Params) -> f64 {
        params
            .iter()
            .filter_map(|(_, v)| match v {
                Value::Float(x) => Some(*x),
                Value::Int(i) => Some(*i as f64),
                _ => None,
            })
            .map(|x| (x - self.centre).powi(2))
            .sum()
    }
}

impl Trainer for QuadraticTrainer {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        let target = self.objective(params);
        let info = ctx.info().clone();
        ctx.callbacks.on_train_begin(&info)?;
        let mut logs = Logs::new();
        for epoch in 0..self.epochs {
            let view = EpochView::new(&info);
            ctx.callbacks.on_epoch_begin(epoch as usize, &view)?;
            let loss = target + 1.0 / (epoch + 1) as f64;
            logs.insert("loss".into(), loss);
            if ctx.end_epoch(epoch as usize, &logs, &view, loss)?.is_stop() {
                break;
            }
        }
        ctx.callbacks.on_train_end(&logs)?;
        Ok(target)
    }
}
