//! The trained model on its own, for custom loops and benchmarks.

use dfdx::prelude::*;
use knob_core::{BoxError, ModelState, WeightSource, Weights};

use super::checkpoint::State;
use super::config::Config;
use super::host::to_host;
use super::network::Network;
use super::optimizer::Optimizer;
use super::MlpDevice;

/// A runtime-shaped MLP with its optimizer, fed with host data: one call per batch.
///
/// ```
/// use knob_core::Params;
/// use knob_trainers::{Config, Cpu, Mlp, MlpDevice};
/// let config = Config::from_params(&Params::from_iter([("lr", 1e-2.into())]))?;
/// let mut mlp = Mlp::new(&[2, 16, 2], &config, Cpu::build(0, 7)?);
/// let (x, labels) = ([0.0, 1.0, 1.0, 0.0], [1, 0]);
/// let first = mlp.train_batch(&x, &labels).0;
/// for _ in 0..50 {
///     mlp.train_batch(&x, &labels);
/// }
/// assert!(mlp.train_batch(&x, &labels).0 < first);
/// # Ok::<(), knob_core::BoxError>(())
/// ```
pub struct Mlp<D: MlpDevice> {
    dev: D,
    net: Network<D>,
    optimizer: Optimizer<D>,
    inputs: usize,
    classes: usize,
}

impl<D: MlpDevice> Mlp<D> {
    /// A He-initialized network of `sizes` (inputs, hidden widths..., classes) with the
    /// optimizer, activation, dropout and batch norm of `config`.
    pub fn new(sizes: &[usize], config: &Config, dev: D) -> Self {
        assert!(
            sizes.len() >= 2,
            "an MLP needs at least an input and an output size"
        );
        Self {
            net: Network::new(&dev, sizes, config),
            optimizer: Optimizer::new(config.optimizer, config.lr, config.weight_decay),
            inputs: sizes[0],
            classes: sizes[sizes.len() - 1],
            dev,
        }
    }

    /// The trained state as bytes: weights, batch-norm running statistics and the
    /// optimizer's moments, in a small device-independent format (see
    /// [`Mlp::from_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        State {
            optimizer: self.optimizer.tag(),
            step: self.optimizer.step(),
            entries: self.net.state(&self.optimizer),
        }
        .encode()
    }

    /// The model saved by [`Mlp::to_bytes`], to train on with `config`'s optimizer
    /// settings, learning rate, dropout and activation; its layer sizes and batch norm
    /// must be those the checkpoint holds. Optimizer moments carry over when the
    /// optimizer kind is the same and the device can write them directly (the CPU
    /// can); otherwise they start from zero.
    ///
    /// ```
    /// use knob_core::Params;
    /// use knob_trainers::{Config, Cpu, Mlp, MlpDevice};
    /// let config = Config::from_params(&Params::from_iter([("units", 8.into())]))?;
    /// let mut mlp = Mlp::new(&[2, 8, 2], &config, Cpu::build(0, 1)?);
    /// mlp.train_batch(&[0.0, 1.0], &[1]);
    /// let copy = Mlp::from_bytes(&mlp.to_bytes(), &config, Cpu::build(0, 2)?)?;
    /// assert_eq!(copy.logits(&[0.5, 0.5], 1), mlp.logits(&[0.5, 0.5], 1));
    /// # Ok::<(), knob_core::BoxError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8], config: &Config, dev: D) -> Result<Self, BoxError> {
        let state = State::decode(bytes)?;
        let mut optimizer = Optimizer::new(config.optimizer, config.lr, config.weight_decay);
        let net = Network::from_state(&dev, &state, config, &mut optimizer)?;
        let inputs = net.layers[0].w.shape().0;
        let classes = net.layers[net.layers.len() - 1].w.shape().1;
        Ok(Self {
            dev,
            net,
            optimizer,
            inputs,
            classes,
        })
    }

    /// The model in a file of [`Mlp::to_bytes`] (as `ModelCheckpoint` writes), with
    /// `config` (the trial's, for the activation and batch norm); errors name the file.
    pub fn from_file(
        path: impl AsRef<std::path::Path>,
        config: &Config,
        dev: D,
    ) -> Result<Self, BoxError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read model {}: {e}", path.display()))?;
        Self::from_bytes(&bytes, config, dev)
            .map_err(|e| format!("model {}: {e}", path.display()).into())
    }

    /// Loads a state saved by [`Mlp::to_bytes`] into this model (same layer sizes),
    /// keeping its device and learning rate: what `EarlyStopping`'s
    /// `restore_best_weights` asks for.
    pub fn restore(&mut self, bytes: &[u8], config: &Config) -> Result<(), BoxError> {
        let state = State::decode(bytes)?;
        let mut optimizer =
            Optimizer::new(config.optimizer, self.optimizer.lr, config.weight_decay);
        let net = Network::from_state(&self.dev, &state, config, &mut optimizer)?;
        if net.layers.len() != self.net.layers.len()
            || net
                .layers
                .iter()
                .zip(&self.net.layers)
                .any(|(a, b)| a.w.shape() != b.w.shape())
        {
            return Err("the state to restore has other layer sizes than the model".into());
        }
        (self.net, self.optimizer) = (net, optimizer);
        Ok(())
    }

    /// The sizes of the layers: inputs, hidden widths, classes.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.inputs];
        sizes.extend(self.net.layers.iter().map(|l| l.w.shape().1));
        sizes
    }

    /// The learning rate in use.
    pub fn learning_rate(&self) -> f64 {
        self.optimizer.lr
    }

    /// Uses `lr` from the next step on.
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.optimizer.lr = lr;
    }

    fn tensor(&self, x: &[f32], rows: usize) -> Tensor<(usize, usize), f32, D> {
        self.dev.tensor_from_vec(x.to_vec(), (rows, self.inputs))
    }

    /// One optimization step on a batch (`x` row-major, one row per label); returns the
    /// batch's mean loss and how many of its examples were classified right before
    /// the step.
    pub fn train_batch(&mut self, x: &[f32], labels: &[usize]) -> (f32, usize) {
        let rows = labels.len();
        let mut onehot = vec![0.0f32; rows * self.classes];
        for (k, &l) in labels.iter().enumerate() {
            onehot[k * self.classes + l] = 1.0;
        }
        let y = self.dev.tensor_from_vec(onehot, (rows, self.classes));
        let (loss, logits) = self
            .net
            .train_step(self.tensor(x, rows), y, &mut self.optimizer);
        let hits = logits
            .chunks(self.classes)
            .zip(labels)
            .filter(|(row, &l)| argmax(row).0 == l)
            .count();
        (loss, hits)
    }

    /// Logits for `rows` examples, in inference mode.
    pub fn logits(&self, x: &[f32], rows: usize) -> Vec<f32> {
        to_host(&self.net.predict(self.tensor(x, rows)))
    }
}

/// The index and value of the largest entry.
pub(crate) fn argmax(row: &[f32]) -> (usize, f32) {
    row.iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
}

/// The weights are copied to the host only when a callback asks.
impl<D: MlpDevice> WeightSource for Mlp<D> {
    fn for_each_weight(&self, visit: &mut dyn FnMut(Weights<'_>)) {
        for (name, shape, values) in self.net.named() {
            visit(Weights {
                name: &name,
                shape: &shape,
                values: &values,
            });
        }
    }
}

impl<D: MlpDevice> ModelState for Mlp<D> {
    fn to_state(&self) -> Vec<u8> {
        self.to_bytes()
    }
}
