//! Optimizer state for runtime-shaped tensors, on dfdx's per-tensor update kernels.

use dfdx::optim::{AdamConfig, Momentum, RMSpropConfig, SgdConfig, WeightDecay};
use dfdx::prelude::*;

use knob_core::BoxError;

use super::checkpoint::State;
use super::config::OptimizerKind;
use super::host::to_host;
use super::MlpDevice;

/// One optimizer over any number of tensors: its moments live in leaky gradient stores
/// keyed by each tensor's id, allocated on first use.
pub(crate) struct Optimizer<D: Device<f32>> {
    kind: OptimizerKind,
    /// The learning rate in use (schedules and callbacks change it).
    pub lr: f64,
    weight_decay: f64,
    step: i32,
    state: [Gradients<f32, D>; 3],
}

impl<D: Device<f32>> Optimizer<D> {
    pub fn new(kind: OptimizerKind, lr: f64, weight_decay: f64) -> Self {
        Self {
            kind,
            lr,
            weight_decay,
            step: 0,
            state: [Gradients::leaky(), Gradients::leaky(), Gradients::leaky()],
        }
    }

    /// The optimizer's tag in checkpoints.
    pub fn tag(&self) -> u8 {
        match self.kind {
            OptimizerKind::Sgd { .. } => 0,
            OptimizerKind::Adam { .. } => 1,
            OptimizerKind::RmsProp { .. } => 2,
        }
    }

    /// How many moment buffers each parameter has.
    fn slots(&self) -> usize {
        match self.kind {
            OptimizerKind::Sgd { .. } => 1,
            OptimizerKind::Adam { .. } => 2,
            OptimizerKind::RmsProp { .. } => 3,
        }
    }

    /// Steps taken so far.
    pub fn step(&self) -> u32 {
        self.step as u32
    }

    pub fn set_step(&mut self, step: u32) {
        self.step = step as i32;
    }

    /// Forgets the moments and the step count.
    pub fn reset(&mut self) {
        self.step = 0;
        self.state = [Gradients::leaky(), Gradients::leaky(), Gradients::leaky()];
    }

    /// The moments of `param`, none before the first step.
    pub fn moments<S: Shape>(&self, param: &Tensor<S, f32, D>) -> Vec<Vec<f32>> {
        if self.step == 0 {
            return Vec::new();
        }
        self.state[..self.slots()]
            .iter()
            .map(|slot| to_host(&slot.get(param)))
            .collect()
    }

    /// Loads the moments of `param` (saved under `name#k`) from `state`; false when
    /// the device cannot write them directly.
    pub fn restore<S: Shape>(
        &mut self,
        dev: &D,
        param: &Tensor<S, f32, D>,
        name: &str,
        state: &State,
    ) -> Result<bool, BoxError>
    where
        D: MlpDevice,
    {
        let dims: Vec<usize> = param.shape().concrete().into_iter().collect();
        for k in 0..self.slots() {
            let key = format!("{name}#{k}");
            let values = state
                .get(&key, &dims)?
                .ok_or_else(|| format!("checkpoint lacks optimizer moment `{key}`"))?;
            let src = dev.tensor_from_vec(values.to_vec(), *param.shape());
            let dst = self.state[k]
                .get_or_alloc_mut(param)
                .map_err(|e| format!("allocating optimizer state: {e:?}"))?;
            if !D::write_gradient(&src, dst) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Marks the start of a step (Adam's bias correction counts steps).
    pub fn begin_step(&mut self) {
        self.step += 1;
    }

    /// Updates `param` from its gradient in `grads`; `decay` applies weight decay.
    pub fn update<S: Shape>(
        &mut self,
        param: &mut Tensor<S, f32, D>,
        grads: &mut Gradients<f32, D>,
        decay: bool,
    ) {
        let grad = grads
            .get_or_alloc_mut(param)
            .expect("allocating a gradient");
        let wd = (decay && self.weight_decay > 0.0).then_some(self.weight_decay);
        let [s0, s1, s2] = &mut self.state;
        let a = s0
            .get_or_alloc_mut(param)
            .expect("allocating optimizer state");
        let result = match self.kind {
            OptimizerKind::Sgd { momentum, nesterov } => {
                let kind = if nesterov {
                    Momentum::Nesterov(momentum)
                } else {
                    Momentum::Classic(momentum)
                };
                let momentum = (momentum > 0.0).then_some(kind);
                let cfg = SgdConfig {
                    lr: self.lr,
                    momentum,
                    weight_decay: wd.map(WeightDecay::L2),
                };
                cfg.try_update(param, a, grad)
            }
            OptimizerKind::Adam { beta1, beta2, eps } => {
                let b = s1
                    .get_or_alloc_mut(param)
                    .expect("allocating optimizer state");
                let cfg = AdamConfig {
                    lr: self.lr,
                    betas: [beta1, beta2],
                    eps,
                    weight_decay: wd.map(WeightDecay::Decoupled),
                };
                cfg.try_update(self.step, param, a, b, grad)
            }
            OptimizerKind::RmsProp { beta, eps } => {
                let b = s1
                    .get_or_alloc_mut(param)
                    .expect("allocating optimizer state");
                let c = s2
                    .get_or_alloc_mut(param)
                    .expect("allocating optimizer state");
                let cfg = RMSpropConfig {
                    lr: self.lr,
                    alpha: beta,
                    eps,
                    momentum: None,
                    centered: false,
                    weight_decay: wd.map(WeightDecay::L2),
                };
                cfg.try_update(param, a, b, c, grad)
            }
        };
        result.expect("an optimizer step on the training device");
    }
}
