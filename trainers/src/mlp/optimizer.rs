//! Optimizer state for runtime-shaped tensors, on dfdx's per-tensor update kernels.

use dfdx::optim::{AdamConfig, Momentum, RMSpropConfig, SgdConfig, WeightDecay};
use dfdx::prelude::*;

use super::config::OptimizerKind;

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
