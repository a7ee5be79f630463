//! A multilayer perceptron whose depth and widths are runtime values.
//!
//! dfdx's `nn` layers fix their sizes in the type, but layer counts and widths are
//! hyperparameters here, so the network is built from runtime-shaped tensors
//! (`Tensor<(usize, usize), f32, D>`) and trained with dfdx's per-tensor optimizer
//! kernels.
//!
//! One saving over plain dfdx: autodiff would also compute the gradient of the loss
//! with respect to the input batch, which nothing uses and which costs a third of the
//! first layer's matrix work. So the first layer runs outside the tape; the tape starts
//! at its output, and the first layer's weight gradient is computed directly as
//! `xᵀ · ∂L/∂z₁` afterwards.

use dfdx::prelude::*;
use knob_core::BoxError;

use super::checkpoint::{Entry, State};
use super::config::{Activation, Config};
use super::host::to_host;
use super::optimizer::Optimizer;
use super::MlpDevice;

/// One dense layer: `x · w + b`, optionally batch-normalized.
pub(crate) struct Dense<D: Device<f32>> {
    pub w: Tensor<(usize, usize), f32, D>,
    pub b: Tensor<(usize,), f32, D>,
    pub norm: Option<BatchNorm<D>>,
}

/// Batch normalization of a layer's outputs, with running statistics for inference.
pub(crate) struct BatchNorm<D: Device<f32>> {
    pub gamma: Tensor<(usize,), f32, D>,
    pub beta: Tensor<(usize,), f32, D>,
    running_mean: Tensor<(usize,), f32, D>,
    running_var: Tensor<(usize,), f32, D>,
}

const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f32 = 0.9;

/// The gradients of one step: the first layer's (computed directly) and the rest
/// (from the tape).
pub(crate) struct StepGrads<D: Device<f32>> {
    pub first: Gradients<f32, D>,
    pub rest: Gradients<f32, D>,
}

/// The network: hidden layers then the output layer.
pub(crate) struct Network<D: MlpDevice> {
    pub layers: Vec<Dense<D>>,
    activation: Activation,
    dropout: f64,
}

fn activate<D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<(usize, usize), f32, D, T>,
    activation: Activation,
) -> Tensor<(usize, usize), f32, D, T> {
    match activation {
        Activation::Relu => x.relu(),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => x.sigmoid(),
        Activation::Gelu => x.fast_gelu(),
    }
}

impl<D: MlpDevice> Network<D> {
    /// He-initialized layers of `sizes` (input, hidden..., output).
    pub fn new(dev: &D, sizes: &[usize], config: &Config) -> Self {
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                let (fan_in, fan_out) = (pair[0], pair[1]);
                let std = (2.0 / fan_in as f32).sqrt();
                let w = dev.sample_normal_like(&(fan_in, fan_out)) * std;
                let b = dev.zeros_like(&(fan_out,));
                let hidden = i + 2 < sizes.len();
                let norm = (hidden && config.batch_norm).then(|| BatchNorm {
                    gamma: dev.ones_like(&(fan_out,)),
                    beta: dev.zeros_like(&(fan_out,)),
                    running_mean: dev.zeros_like(&(fan_out,)),
                    running_var: dev.ones_like(&(fan_out,)),
                });
                Dense { w, b, norm }
            })
            .collect();
        Self {
            layers,
            activation: config.activation,
            dropout: config.dropout,
        }
    }

    /// Logits for `x`, in inference mode (no dropout, running batch-norm statistics).
    pub fn predict(&self, x: Tensor<(usize, usize), f32, D>) -> Tensor<(usize, usize), f32, D> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            let shape = (h.shape().0, layer.w.shape().1);
            h = h.matmul(layer.w.clone()) + layer.b.clone().broadcast_like::<_, Axis<0>>(&shape);
            if i < last {
                if let Some(bn) = &layer.norm {
                    let std = (bn.running_var.clone() + BN_EPS as f32).sqrt();
                    h = (h - bn.running_mean.clone().broadcast_like::<_, Axis<0>>(&shape))
                        / std.broadcast_like::<_, Axis<0>>(&shape)
                        * bn.gamma.clone().broadcast_like::<_, Axis<0>>(&shape)
                        + bn.beta.clone().broadcast_like::<_, Axis<0>>(&shape);
                }
                h = activate(h, self.activation);
            }
        }
        h
    }

    /// One optimization step on a batch; returns the batch loss and the logits.
    pub fn train_step(
        &mut self,
        x: Tensor<(usize, usize), f32, D>,
        targets: Tensor<(usize, usize), f32, D>,
        optimizer: &mut Optimizer<D>,
    ) -> (f32, Vec<f32>) {
        let (loss, logits, mut grads) = self.backward(x, targets);
        self.apply(&mut grads, optimizer);
        (loss, logits)
    }

    /// The batch loss, the logits and the gradients of every parameter, in training
    /// mode (dropout on, batch statistics, running statistics updated).
    pub fn backward(
        &mut self,
        x: Tensor<(usize, usize), f32, D>,
        targets: Tensor<(usize, usize), f32, D>,
    ) -> (f32, Vec<f32>, StepGrads<D>) {
        let batch = x.shape().0;
        let last = self.layers.len() - 1;
        // The first layer, off the tape.
        let first = &self.layers[0];
        let shape = (batch, first.w.shape().1);
        let pre = x.clone().matmul(first.w.clone())
            + first.b.clone().broadcast_like::<_, Axis<0>>(&shape);
        let pre_id = pre.clone();
        let mut h = pre.traced(Gradients::leaky());
        for i in 0..self.layers.len() {
            if i > 0 {
                let layer = &self.layers[i];
                let shape = (batch, layer.w.shape().1);
                h = h.matmul(layer.w.clone())
                    + layer.b.clone().broadcast_like::<_, Axis<0>>(&shape);
            }
            if i < last {
                let layer = &mut self.layers[i];
                if let Some(bn) = &mut layer.norm {
                    let shape = *h.shape();
                    bn.update_running(&h.retaped::<NoneTape>());
                    h = h.normalize::<Axis<0>>(BN_EPS)
                        * bn.gamma.clone().broadcast_like::<_, Axis<0>>(&shape)
                        + bn.beta.clone().broadcast_like::<_, Axis<0>>(&shape);
                }
                h = activate(h, self.activation);
                if self.dropout > 0.0 {
                    h = h.dropout(self.dropout);
                }
            }
        }
        let logits = to_host(&h.retaped::<NoneTape>());
        let loss = cross_entropy_with_logits_loss(h, targets);
        let loss_value = to_host(&loss.retaped::<NoneTape>())[0];
        let grads = loss.backward();

        // The first layer's gradients, from ∂L/∂z₁ and the input.
        let dz = grads.get(&pre_id);
        let dw = x.permute::<_, Axes2<1, 0>>().matmul(dz.clone());
        let db = dz.sum::<(usize,), Axis<0>>();
        let first_layer = &self.layers[0];
        let mut first = Gradients::leaky();
        let written = D::write_gradient(
            &dw,
            first
                .get_or_alloc_mut(&first_layer.w)
                .expect("a gradient buffer"),
        ) && D::write_gradient(
            &db,
            first
                .get_or_alloc_mut(&first_layer.b)
                .expect("a gradient buffer"),
        );
        if !written {
            // Devices without a direct copy get the same gradients from a small taped
            // product whose gradient is exactly them.
            let surrogate = (first_layer.w.trace(Gradients::leaky()) * dw).sum()
                + (first_layer.b.trace(Gradients::leaky()) * db).sum();
            first = surrogate.backward();
        }
        (loss_value, logits, StepGrads { first, rest: grads })
    }

    /// Applies one optimizer step with `grads`.
    pub fn apply(&mut self, grads: &mut StepGrads<D>, optimizer: &mut Optimizer<D>) {
        optimizer.begin_step();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let g = if i == 0 {
                &mut grads.first
            } else {
                &mut grads.rest
            };
            optimizer.update(&mut layer.w, g, true);
            optimizer.update(&mut layer.b, g, false);
        }
        for bn in self.layers.iter_mut().filter_map(|l| l.norm.as_mut()) {
            optimizer.update(&mut bn.gamma, &mut grads.rest, false);
            optimizer.update(&mut bn.beta, &mut grads.rest, false);
        }
    }

    /// Every weight tensor with a name, for histograms.
    pub fn named(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let (r, c) = *layer.w.shape();
            out.push((format!("dense_{i}/kernel"), vec![r, c], to_host(&layer.w)));
            out.push((format!("dense_{i}/bias"), vec![c], to_host(&layer.b)));
            if let Some(bn) = &layer.norm {
                out.push((format!("dense_{i}/gamma"), vec![c], to_host(&bn.gamma)));
                out.push((format!("dense_{i}/beta"), vec![c], to_host(&bn.beta)));
            }
        }
        out
    }
}

impl<D: MlpDevice> Network<D> {
    /// Every tensor of the trained state: parameters, each followed by its optimizer
    /// moments (`name#0`, `name#1`, ...), and batch-norm running statistics.
    pub fn state(&self, optimizer: &Optimizer<D>) -> Vec<Entry> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let (r, c) = *layer.w.shape();
            let mut param = |name: &str, t: &Tensor<(usize,), f32, D>| {
                push_state(&mut out, format!("dense_{i}/{name}"), t, vec![c], optimizer)
            };
            param("bias", &layer.b);
            if let Some(bn) = &layer.norm {
                param("gamma", &bn.gamma);
                param("beta", &bn.beta);
                for (name, t) in [
                    ("running_mean", &bn.running_mean),
                    ("running_var", &bn.running_var),
                ] {
                    out.push(Entry {
                        name: format!("dense_{i}/{name}"),
                        dims: vec![c],
                        values: to_host(t),
                    });
                }
            }
            push_state(
                &mut out,
                format!("dense_{i}/kernel"),
                &layer.w,
                vec![r, c],
                optimizer,
            );
        }
        out
    }

    /// The network a checkpoint holds, and its parameters with their optimizer moments
    /// restored into `optimizer` (when the checkpoint was written with the same kind of
    /// optimizer and the device can take them; otherwise the moments start afresh).
    pub fn from_state(
        dev: &D,
        state: &State,
        config: &Config,
        optimizer: &mut Optimizer<D>,
    ) -> Result<Self, BoxError> {
        let mut layers = Vec::new();
        let mut moments_restored = state.step > 0 && state.optimizer == optimizer.tag();
        while let Some(kernel) = state
            .entries
            .iter()
            .find(|e| e.name == format!("dense_{}/kernel", layers.len()))
        {
            let i = layers.len();
            let [r, c] = kernel.dims[..] else {
                return Err(format!("checkpoint tensor `{}` is not a matrix", kernel.name).into());
            };
            let tensor = |name: &str| -> Result<Tensor<(usize,), f32, D>, BoxError> {
                let values = state
                    .get(&format!("dense_{i}/{name}"), &[c])?
                    .ok_or_else(|| format!("checkpoint lacks `dense_{i}/{name}`"))?;
                Ok(dev.tensor_from_vec(values.to_vec(), (c,)))
            };
            let b = tensor("bias")?;
            let norm = match tensor("gamma") {
                Ok(gamma) => Some(BatchNorm {
                    gamma,
                    beta: tensor("beta")?,
                    running_mean: tensor("running_mean")?,
                    running_var: tensor("running_var")?,
                }),
                Err(_) => None,
            };
            let w = dev.tensor_from_vec(kernel.values.clone(), (r, c));
            layers.push(Dense { w, b, norm });
        }
        let hidden: Vec<usize> = layers
            .iter()
            .map(|l| l.w.shape().1)
            .rev()
            .skip(1)
            .rev()
            .collect();
        if layers.is_empty() {
            return Err("checkpoint holds no layers".into());
        }
        if hidden != config.hidden {
            return Err(format!(
                "checkpoint has hidden layers {hidden:?} but the params ask for {:?}: \
                 the architecture cannot change when training resumes",
                config.hidden
            )
            .into());
        }
        let with_norm = layers.iter().filter(|l| l.norm.is_some()).count();
        if (with_norm > 0) != config.batch_norm {
            return Err(format!(
                "checkpoint has batch norm {}, the params ask for it {}",
                if with_norm > 0 { "on" } else { "off" },
                if config.batch_norm { "on" } else { "off" }
            )
            .into());
        }
        let net = Self {
            layers,
            activation: config.activation,
            dropout: config.dropout,
        };
        if moments_restored {
            optimizer.set_step(state.step);
            for (i, layer) in net.layers.iter().enumerate() {
                let name = |p: &str| format!("dense_{i}/{p}");
                moments_restored &= optimizer.restore(dev, &layer.w, &name("kernel"), state)?
                    && optimizer.restore(dev, &layer.b, &name("bias"), state)?;
                if let Some(bn) = &layer.norm {
                    moments_restored &= optimizer.restore(dev, &bn.gamma, &name("gamma"), state)?
                        && optimizer.restore(dev, &bn.beta, &name("beta"), state)?;
                }
            }
        }
        if !moments_restored {
            optimizer.reset();
        }
        Ok(net)
    }
}

/// Pushes a parameter and its optimizer moments.
fn push_state<S: Shape, D: MlpDevice>(
    out: &mut Vec<Entry>,
    name: String,
    t: &Tensor<S, f32, D>,
    dims: Vec<usize>,
    optimizer: &Optimizer<D>,
) {
    for (k, m) in optimizer.moments(t).into_iter().enumerate() {
        out.push(Entry {
            name: format!("{name}#{k}"),
            dims: dims.clone(),
            values: m,
        });
    }
    out.push(Entry {
        name,
        dims,
        values: to_host(t),
    });
}

impl<D: Device<f32>> BatchNorm<D> {
    fn update_running(&mut self, h: &Tensor<(usize, usize), f32, D>) {
        let mean = h.clone().mean::<(usize,), Axis<0>>();
        let var = h.clone().var::<(usize,), Axis<0>>();
        self.running_mean = self.running_mean.clone() * BN_MOMENTUM + mean * (1.0 - BN_MOMENTUM);
        self.running_var = self.running_var.clone() * BN_MOMENTUM + var * (1.0 - BN_MOMENTUM);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::config::Config;
    use knob_core::Params;

    /// Mean cross-entropy of `net`'s inference-mode logits, on the host in f64.
    fn loss(net: &Network<Cpu>, x: &Tensor<(usize, usize), f32, Cpu>, labels: &[usize]) -> f64 {
        let logits = net.predict(x.clone()).as_vec();
        let classes = logits.len() / labels.len();
        logits
            .chunks(classes)
            .zip(labels)
            .map(|(row, &l)| {
                let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
                let lse = max
                    + row
                        .iter()
                        .map(|&z| (z as f64 - max).exp())
                        .sum::<f64>()
                        .ln();
                lse - row[l] as f64
            })
            .sum::<f64>()
            / labels.len() as f64
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dev = Cpu::seed_from_u64(3);
        for activation in ["tanh", "relu"] {
            let params = Params::from_iter([
                ("layers", 2.into()),
                ("units", 5.into()),
                ("activation", activation.into()),
            ]);
            let config = Config::from_params(&params).unwrap();
            let mut net = Network::new(&dev, &[4, 5, 5, 3], &config);
            let x: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(6, 4));
            let labels = [0usize, 2, 1, 1, 0, 2];
            let mut onehot = vec![0.0f32; 18];
            for (i, &l) in labels.iter().enumerate() {
                onehot[i * 3 + l] = 1.0;
            }
            let y = dev.tensor_from_vec(onehot, (6, 3));
            let (batch_loss, _, grads) = net.backward(x.clone(), y);
            assert!((batch_loss as f64 - loss(&net, &x, &labels)).abs() < 1e-4);
            for layer in 0..3 {
                let g = if layer == 0 {
                    &grads.first
                } else {
                    &grads.rest
                };
                let analytic = g.get(&net.layers[layer].w).as_vec();
                let bias = g.get(&net.layers[layer].b).as_vec();
                let original = net.layers[layer].w.clone();
                let shape = *original.shape();
                for k in [0, 3, 7, shape.0 * shape.1 - 1] {
                    let h = 1e-2f32;
                    let mut bump = |delta: f32| {
                        let mut v = original.as_vec();
                        v[k] += delta;
                        net.layers[layer].w = dev.tensor_from_vec(v, shape);
                        loss(&net, &x, &labels)
                    };
                    let numeric = (bump(h) - bump(-h)) / (2.0 * h as f64);
                    net.layers[layer].w = original.clone();
                    let a = analytic[k] as f64;
                    assert!(
                        (numeric - a).abs() < 2e-3 + 2e-2 * a.abs(),
                        "{activation}, layer {layer}, w[{k}]: {numeric} vs {a}"
                    );
                }
                // A bias moves every example at once, so with ReLU a finite step is
                // likely to cross a kink; biases are checked on the smooth activation.
                if activation == "relu" {
                    continue;
                }
                let b0 = net.layers[layer].b.clone();
                let mut v = b0.as_vec();
                v[0] += 1e-2;
                net.layers[layer].b = dev.tensor_from_vec(v, (shape.1,));
                let up = loss(&net, &x, &labels);
                let mut v = b0.as_vec();
                v[0] -= 1e-2;
                net.layers[layer].b = dev.tensor_from_vec(v, (shape.1,));
                let down = loss(&net, &x, &labels);
                net.layers[layer].b = b0;
                let numeric = (up - down) / 2e-2;
                assert!(
                    (numeric - bias[0] as f64).abs() < 2e-3 + 2e-2 * numeric.abs(),
                    "{activation}, layer {layer}, b[0]"
                );
            }
        }
    }
}
