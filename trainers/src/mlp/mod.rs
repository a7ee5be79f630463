//! The MLP trainer: a trial's params in, a trained dfdx MLP's validation metric out.

mod checkpoint;
mod config;
mod host;
mod model;
mod network;
mod optimizer;

pub use config::{Activation, Config, Decay, OptimizerKind};
pub use model::Mlp;

use std::ops::Range;
use std::sync::Arc;

use dfdx::prelude::*;
use knob_core::{
    BoxError, Callback, Checkpoint, Control, DeviceError, EpochView, ImageBatch, Logs, Params,
    Predictions, Resumable, Span, Trainer, TrialContext,
};
use rand::seq::SliceRandom;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::Dataset;
use crate::ConfigError;
use model::argmax;

/// A dfdx device the MLP can train on: the CPU, or (with the `cuda` feature) a GPU.
/// Code generic over it runs on either.
///
/// ```
/// use knob_trainers::{Config, Cpu, Mlp, MlpDevice};
///
/// /// The parameter count of a 4-16-3 network, on whatever device is given.
/// fn parameters<D: MlpDevice>(device: D) -> usize {
///     let config = Config::from_params(&knob_core::Params::new()).unwrap();
///     let mlp = Mlp::new(&[4, 16, 3], &config, device);
///     let mut count = 0;
///     knob_core::WeightSource::for_each_weight(&mlp, &mut |w| count += w.values.len());
///     count
/// }
/// assert_eq!(parameters(Cpu::build(0, 1)?), 4 * 16 + 16 + 16 * 3 + 3);
/// # Ok::<(), knob_core::BoxError>(())
/// ```
pub trait MlpDevice: Device<f32> + Clone {
    /// Whether dfdx reports this device's failures (out of memory, a lost device) by
    /// panicking; the trainer then turns a panic during training into a
    /// [`DeviceError`], so a study retries the trial on another worker.
    const FAILS_BY_PANIC: bool = false;

    /// The device with this ordinal (ignored on the CPU), its generator seeded.
    fn build(ordinal: usize, seed: u64) -> Result<Self, BoxError>;

    /// Copies `src` into the gradient buffer `dst` (of the same size) and returns true,
    /// when the device can; otherwise returns false and the trainer takes a slower,
    /// generic path.
    fn write_gradient<S: Shape>(
        _src: &Tensor<S, f32, Self>,
        _dst: &mut <Self as Storage<f32>>::Vec,
    ) -> bool {
        false
    }
}

impl MlpDevice for Cpu {
    fn build(_ordinal: usize, seed: u64) -> Result<Self, BoxError> {
        Ok(Cpu::seed_from_u64(seed))
    }

    fn write_gradient<S: Shape>(
        src: &Tensor<S, f32, Self>,
        dst: &mut <Self as Storage<f32>>::Vec,
    ) -> bool {
        src.copy_into(dst);
        true
    }
}

/// What a trial returns and reports each epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    /// Validation accuracy (maximize it).
    #[default]
    ValAccuracy,
    /// Validation cross-entropy (minimize it).
    ValLoss,
}

impl Objective {
    fn pick(self, val_loss: f64, val_accuracy: f64) -> f64 {
        match self {
            Objective::ValAccuracy => val_accuracy,
            Objective::ValLoss => val_loss,
        }
    }
}

/// A cost of a trial that a study of several objectives may minimize beside the
/// validation metric ([`MlpTrainer::cost`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// The network's trainable parameters (weights, biases, batch-norm scales and
    /// shifts): its size on disk and a proxy of its inference time. Logged each epoch
    /// as `param_count`.
    Parameters,
    /// Seconds the trial trained, evaluation included. Logged each epoch as
    /// `train_seconds`.
    Seconds,
}

impl Cost {
    /// The name it is logged under.
    pub fn log_name(self) -> &'static str {
        match self {
            Cost::Parameters => "param_count",
            Cost::Seconds => "train_seconds",
        }
    }
}

/// Trains a multilayer perceptron per trial, its shape and training set by the trial's
/// params ([`Config`] lists them), and returns the validation metric.
///
/// Each epoch it hands the callbacks `loss`, `accuracy`, `val_loss`, `val_accuracy` and
/// `lr`, the named weights, the validation predictions with their labels and the first
/// five training images; it honours `Stop` and learning-rate changes from callbacks, and
/// reports the objective to the study after every epoch so pruners can act.
///
/// Its matrix products run on a thread pool of its own (one thread by default), so a
/// study with one worker per core does not oversubscribe the machine.
///
/// ```no_run
/// use knob_core::{Params, Trainer, TrialContext};
/// use knob_trainers::{data, MlpTrainer};
/// let (train, valid) = data::prepare(data::digits(), 0.2, 0);
/// let mut trainer = MlpTrainer::new(train, valid)?;
/// let params = Params::from_iter([("lr", 3e-3.into()), ("epochs", 5.into())]);
/// let accuracy = trainer.fit(&params, &mut TrialContext::standalone(params.clone()))?;
/// # Ok::<(), knob_core::BoxError>(())
/// ```
pub struct MlpTrainer<D: MlpDevice = Cpu> {
    train: Arc<Dataset>,
    valid: Arc<Dataset>,
    objective: Objective,
    seed: u64,
    ordinal: usize,
    pool: rayon::ThreadPool,
    images: Vec<f32>,
    class_names: Vec<String>,
    defaults: Params,
    costs: Vec<Cost>,
    max_parameters: Option<usize>,
    // The device is built per trial, inside the trainer's thread pool.
    _device: std::marker::PhantomData<fn() -> D>,
}

impl MlpTrainer<Cpu> {
    /// A CPU trainer on one thread.
    pub fn new(train: Arc<Dataset>, valid: Arc<Dataset>) -> Result<Self, BoxError> {
        Self::on_device(train, valid, 0)
    }
}

impl<D: MlpDevice> MlpTrainer<D> {
    /// A trainer on device `ordinal` (a GPU index; ignored on the CPU).
    pub fn on_device(
        train: Arc<Dataset>,
        valid: Arc<Dataset>,
        ordinal: usize,
    ) -> Result<Self, BoxError> {
        if train.is_empty() || valid.is_empty() {
            return Err("the training and validation sets must not be empty".into());
        }
        if train.dim != valid.dim || train.classes != valid.classes {
            return Err(format!(
                "training data has {} features and {} classes, validation data {} and {}",
                train.dim, train.classes, valid.dim, valid.classes
            )
            .into());
        }
        D::build(ordinal, 0)?;
        let images = first_images(&train, 5);
        Ok(Self {
            class_names: (0..train.classes).map(|c| c.to_string()).collect(),
            train,
            valid,
            objective: Objective::default(),
            seed: 0,
            ordinal,
            pool: rayon::ThreadPoolBuilder::new().num_threads(1).build()?,
            images,
            defaults: Params::new(),
            costs: Vec::new(),
            max_parameters: None,
            _device: std::marker::PhantomData,
        })
    }

    /// Threads for this trainer's matrix products (default 1).
    pub fn threads(mut self, threads: usize) -> Result<Self, BoxError> {
        self.pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()?;
        Ok(self)
    }

    /// What the trial returns (default: validation accuracy).
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }

    /// The seed of initialization, shuffling and dropout, combined with the trial number.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Params every trial uses unless it sets them itself, such as a fixed epoch count
    /// for a study that does not tune it.
    pub fn defaults(mut self, params: Params) -> Self {
        self.defaults = params;
        self
    }

    /// Adds a cost as a further objective: [`Trainer::fit_objectives`] then returns the
    /// validation metric followed by each cost, in the order added (for a study with
    /// directions `[Maximize, Minimize, ...]`), and each epoch logs it, so TensorBoard's
    /// HParams dashboard shows it beside the metric.
    ///
    /// ```
    /// use knob_core::{Params, Trainer, TrialContext};
    /// use knob_trainers::{data, Cost, MlpTrainer};
    /// let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    /// let mut trainer = MlpTrainer::new(train, valid)?.cost(Cost::Parameters);
    /// let params = Params::from_iter([("units", 16.into()), ("epochs", 1.into())]);
    /// let values = trainer.fit_objectives(&params, &mut TrialContext::standalone(params.clone()))?;
    /// // 64 inputs to 16 units to 10 classes: 64·16 + 16 + 16·10 + 10 weights and biases.
    /// assert_eq!(values[1], 1210.0);
    /// # Ok::<(), knob_core::BoxError>(())
    /// ```
    pub fn cost(mut self, cost: Cost) -> Self {
        self.costs.push(cost);
        self
    }

    /// A constraint: networks of more than `count` parameters are infeasible (the
    /// trial reports `parameters - count` as its constraint value), so samplers steer
    /// away from them and none of them becomes the study's best.
    pub fn max_parameters(mut self, count: usize) -> Self {
        self.max_parameters = Some(count);
        self
    }

    /// Trainable parameters of the network `config` describes on this data.
    fn parameters(&self, config: &Config) -> usize {
        config.parameter_count(self.train.dim, self.train.classes)
    }

    /// `cost` of a trial of `config` that started training at `started`.
    fn measure(&self, cost: Cost, config: &Config, started: std::time::Instant) -> f64 {
        match cost {
            Cost::Parameters => self.parameters(config) as f64,
            Cost::Seconds => started.elapsed().as_secs_f64(),
        }
    }

    /// Names of the classes, for confusion matrices.
    pub fn class_names(mut self, names: Vec<String>) -> Self {
        self.class_names = names;
        self
    }

    /// The features of `rows`, gathered into one row-major batch.
    fn gather(data: &Dataset, rows: &[usize]) -> Vec<f32> {
        let mut x = Vec::with_capacity(rows.len() * data.dim);
        for &i in rows {
            x.extend_from_slice(data.row(i));
        }
        x
    }

    /// Validation loss, accuracy and predicted classes.
    fn evaluate(&self, model: &Mlp<D>) -> (f64, f64, Vec<usize>) {
        let data = &self.valid;
        let rows: Vec<usize> = (0..data.len()).collect();
        let mut predicted = Vec::with_capacity(data.len());
        let mut loss = 0.0;
        for chunk in rows.chunks(512) {
            let logits = model.logits(&Self::gather(data, chunk), chunk.len());
            for (row, &i) in logits.chunks(data.classes).zip(chunk) {
                let (best, max) = argmax(row);
                let log_sum = max as f64
                    + row
                        .iter()
                        .map(|&z| ((z - max) as f64).exp())
                        .sum::<f64>()
                        .ln();
                loss += log_sum - row[data.labels[i]] as f64;
                predicted.push(best);
            }
        }
        let correct = predicted
            .iter()
            .zip(&data.labels)
            .filter(|(p, l)| p == l)
            .count();
        (
            loss / data.len() as f64,
            correct as f64 / data.len() as f64,
            predicted,
        )
    }

    /// Trains `epochs` from the model in `from` (a fresh one when `None`); returns the
    /// objective after the last epoch and the model.
    fn run(
        &self,
        config: &Config,
        ctx: &mut TrialContext<'_>,
        from: Option<&Checkpoint>,
        epochs: Range<usize>,
    ) -> Result<(f64, Mlp<D>), BoxError> {
        let info = ctx.info().clone();
        let seed = self.seed ^ info.number.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // A resumed span draws fresh dropout masks, reproducibly.
        let dev = D::build(
            self.ordinal,
            seed ^ (epochs.start as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
        )?;
        let (train, classes) = (&self.train, self.train.classes);
        let mut model = match from {
            None => {
                let mut sizes = vec![train.dim];
                sizes.extend(&config.hidden);
                sizes.push(classes);
                Mlp::new(&sizes, config, dev)
            }
            Some(checkpoint) => {
                let model = Mlp::from_bytes(checkpoint.as_bytes(), config, dev)?;
                let sizes = model.sizes();
                if sizes[0] != train.dim || sizes[sizes.len() - 1] != classes {
                    return Err(format!(
                        "checkpoint has {} inputs and {} classes, the data {} and {}",
                        sizes[0],
                        sizes[sizes.len() - 1],
                        train.dim,
                        classes
                    )
                    .into());
                }
                model
            }
        };
        let mut order: Vec<usize> = (0..train.len()).collect();
        let started = std::time::Instant::now();
        // Callbacks that change the learning rate scale the schedule from then on.
        let mut scale = 1.0;
        let mut logs = Logs::new();
        let mut value = f64::NAN;
        ctx.callbacks.on_train_begin(&info)?;
        for epoch in epochs {
            let scheduled = config.decay.at(config.lr, epoch) * scale;
            let begin = EpochView::new(&info).with_learning_rate(scheduled);
            ctx.callbacks.on_epoch_begin(epoch, &begin)?;
            model.set_learning_rate(begin.learning_rate().unwrap_or(scheduled));
            scale *= model.learning_rate() / scheduled;

            // Each epoch's order depends on the seed and the epoch alone, so a run cut
            // into spans shuffles as an uncut one does.
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(epoch as u64);
            order.sort_unstable();
            order.shuffle(&mut rng);
            let (mut loss_sum, mut correct, mut stopped) = (0.0f64, 0usize, false);
            let mut seen = 0;
            for (b, rows) in order.chunks(config.batch_size).enumerate() {
                let labels: Vec<usize> = rows.iter().map(|&i| train.labels[i]).collect();
                let (loss, hits) = model.train_batch(&Self::gather(train, rows), &labels);
                loss_sum += loss as f64 * rows.len() as f64;
                correct += hits;
                seen += rows.len();
                let batch_logs = Logs::from([
                    ("loss".to_owned(), loss as f64),
                    ("accuracy".to_owned(), hits as f64 / rows.len() as f64),
                ]);
                if ctx.callbacks.on_batch_end(b, &batch_logs)? == Control::Stop {
                    stopped = true;
                    break;
                }
            }
            let train_loss = loss_sum / seen.max(1) as f64;
            if !train_loss.is_finite() {
                return Err(format!(
                    "training diverged: the loss is {train_loss} in epoch {epoch}"
                )
                .into());
            }
            let (val_loss, val_accuracy, predicted) = self.evaluate(&model);
            logs = Logs::from([
                ("loss".to_owned(), train_loss),
                ("accuracy".to_owned(), correct as f64 / seen.max(1) as f64),
                ("val_loss".to_owned(), val_loss),
                ("val_accuracy".to_owned(), val_accuracy),
                ("lr".to_owned(), model.learning_rate()),
            ]);
            for &cost in &self.costs {
                logs.insert(
                    cost.log_name().to_owned(),
                    self.measure(cost, config, started),
                );
            }
            let (h, w) = train.image.unwrap_or((1, train.dim));
            let view = EpochView::new(&info)
                .with_weights(&model)
                .with_predictions(Predictions {
                    predicted: &predicted,
                    actual: &self.valid.labels,
                    class_names: &self.class_names,
                })
                .with_images(ImageBatch {
                    height: h,
                    width: w,
                    channels: 1,
                    pixels: &self.images,
                })
                .with_learning_rate(model.learning_rate())
                .with_model(&model);
            value = self.objective.pick(val_loss, val_accuracy);
            let control = ctx.end_epoch(epoch, &logs, &view, value)?;
            let lr = view.learning_rate();
            let restore = view.take_restore();
            drop(view);
            if let Some(lr) = lr {
                scale *= lr / model.learning_rate();
            }
            if let Some(state) = restore {
                model.restore(&state, config)?;
                let (val_loss, val_accuracy, _) = self.evaluate(&model);
                value = self.objective.pick(val_loss, val_accuracy);
            }
            if stopped || control.is_stop() {
                break;
            }
        }
        ctx.callbacks.on_train_end(&logs)?;
        Ok((value, model))
    }

    /// The trainer's defaults overlaid with `params`, read as a config.
    fn config(&self, params: &Params) -> Result<Config, ConfigError> {
        let mut merged = self.defaults.clone();
        for (name, value) in params.iter() {
            merged.insert(name, value.clone());
        }
        Config::from_params(&merged)
    }

    /// Runs `train` in the trainer's pool; on a device that fails by panicking, turns a
    /// panic into a [`DeviceError`].
    fn guarded<R>(&self, train: impl FnOnce() -> Result<R, BoxError> + Send) -> Result<R, BoxError>
    where
        R: Send,
    {
        if !D::FAILS_BY_PANIC {
            return self.pool.install(train);
        }
        let run = std::panic::AssertUnwindSafe(|| self.pool.install(train));
        std::panic::catch_unwind(run).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic without a message");
            Err(DeviceError::new(format!("device {}: {message}", self.ordinal)).into())
        })
    }
}

impl<D: MlpDevice> Trainer for MlpTrainer<D> {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        let config = self.config(params)?;
        if let Some(most) = self.max_parameters {
            ctx.set_constraints([self.parameters(&config) as f64 - most as f64]);
        }
        self.guarded(|| Ok(self.run(&config, ctx, None, 0..config.epochs)?.0))
    }

    /// The validation metric, then each [`Cost`] added with [`MlpTrainer::cost`].
    fn fit_objectives(
        &mut self,
        params: &Params,
        ctx: &mut TrialContext<'_>,
    ) -> Result<Vec<f64>, BoxError> {
        let started = std::time::Instant::now();
        let metric = self.fit(params, ctx)?;
        let config = self.config(params)?;
        let mut values = vec![metric];
        values.extend(
            self.costs
                .iter()
                .map(|&cost| self.measure(cost, &config, started)),
        );
        Ok(values)
    }

    fn check_space(&self, space: &knob_core::SearchSpace) -> Result<(), BoxError> {
        Ok(Config::check_names(
            space.params().iter().map(|p| p.name.as_str()),
        )?)
    }
}

/// For population-based training: a span of epochs from a checkpoint written by
/// [`Mlp::to_bytes`]. The params may change the learning rate, optimizer settings,
/// dropout and schedule between spans, not the architecture; the `epochs` param is
/// ignored, the span says which epochs to train.
impl<D: MlpDevice> Resumable for MlpTrainer<D> {
    fn train_span(
        &mut self,
        params: &Params,
        from: Option<&Checkpoint>,
        epochs: Range<usize>,
        ctx: &mut TrialContext<'_>,
    ) -> Result<Span, BoxError> {
        let config = self.config(params)?;
        self.guarded(|| {
            let (score, model) = self.run(&config, ctx, from, epochs)?;
            Ok(Span {
                score,
                checkpoint: Checkpoint::new(model.to_bytes()),
            })
        })
    }
}

/// The first `n` examples as images in [0, 1] (each stretched to its own range), for
/// image summaries: the features themselves may be standardized.
fn first_images(data: &Dataset, n: usize) -> Vec<f32> {
    let mut out = Vec::new();
    for i in 0..n.min(data.len()) {
        let row = data.row(i);
        let (lo, hi) = row
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        out.extend(row.iter().map(|x| (x - lo) / span));
    }
    out
}
