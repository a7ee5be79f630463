//! Keras-style callbacks: hooks a trainer calls during training.
//!
//! A callback writes only the hooks it needs; every hook has a no-op default. What a
//! Keras callback reaches through `self.model` (the weights, the validation predictions,
//! a batch of inputs) comes here as plain data in an [`EpochView`], so `knob-core` never
//! sees a tensor library.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::error::panic_message;
use crate::error::BoxError;
use crate::params::{Params, Value};
use crate::space::SearchSpace;
use crate::trial::TrialState;

/// Whether training should go on after a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Control {
    /// Keep training.
    #[default]
    Continue,
    /// Stop training after this epoch (early stopping, a pruned trial, a NaN loss).
    Stop,
}

/// Metrics of one batch or epoch by name: `loss`, `accuracy`, `val_loss`, `val_accuracy`, `lr`.
pub type Logs = BTreeMap<String, f64>;

/// The trial a training run belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialInfo {
    /// Its number in the study (0 for a standalone run).
    pub number: u64,
    /// Its hyperparameters.
    pub params: Params,
    /// The space they were drawn from, when the trial belongs to a study (or a PBT
    /// population): what a TensorBoard callback declares the HParams experiment from.
    pub space: Option<Arc<SearchSpace>>,
}

impl TrialInfo {
    /// Trial `number` with `params`, outside any space.
    pub fn new(number: u64, params: Params) -> Self {
        Self {
            number,
            params,
            space: None,
        }
    }

    /// The same trial, drawn from `space`.
    pub fn in_space(mut self, space: Arc<SearchSpace>) -> Self {
        self.space = Some(space);
        self
    }
}

/// One named weight tensor of the model, copied to the host.
#[derive(Debug, Clone, Copy)]
pub struct Weights<'a> {
    /// A name such as `dense_0/kernel`.
    pub name: &'a str,
    /// The tensor's shape.
    pub shape: &'a [usize],
    /// Its values, row-major.
    pub values: &'a [f32],
}

/// Lends a model's weights to callbacks. The copy to the host happens only when a
/// callback asks, so epochs without a histogram cost nothing.
///
/// ```
/// use knob_core::{EpochView, TrialInfo, Params, WeightSource, Weights};
///
/// /// A linear model: one 2x3 kernel.
/// struct Linear { kernel: Vec<f32> }
/// impl WeightSource for Linear {
///     fn for_each_weight(&self, visit: &mut dyn FnMut(Weights<'_>)) {
///         visit(Weights { name: "dense_0/kernel", shape: &[2, 3], values: &self.kernel });
///     }
/// }
/// let model = Linear { kernel: vec![0.5; 6] };
/// let trial = TrialInfo::new(0, Params::new());
/// let view = EpochView::new(&trial).with_weights(&model);
/// let mut total = 0;
/// view.weights.unwrap().for_each_weight(&mut |w| total += w.values.len());
/// assert_eq!(total, 6);
/// ```
pub trait WeightSource {
    /// Calls `visit` once per weight tensor.
    fn for_each_weight(&self, visit: &mut dyn FnMut(Weights<'_>));
}

/// A model that hands over its whole trained state as bytes, so that a callback can
/// keep the best epoch's model (`knob_callbacks::ModelCheckpoint`, `EarlyStopping`'s
/// `restore_best_weights`) without knowing the tensor library. The bytes are the
/// trainer's own format (for the MLP, `Mlp::to_bytes`, loaded by `Mlp::from_bytes`).
pub trait ModelState {
    /// The model's state now.
    fn to_state(&self) -> Vec<u8>;
}

/// Validation predictions with their true labels, for a confusion matrix.
#[derive(Debug, Clone, Copy)]
pub struct Predictions<'a> {
    /// The predicted class of each validation example.
    pub predicted: &'a [usize],
    /// The true class of each validation example.
    pub actual: &'a [usize],
    /// Class names, indexed by class; the number of classes is their count.
    pub class_names: &'a [String],
}

/// A batch of input images, pixel values in `[0, 1]`, laid out `[n, height, width, channels]`.
#[derive(Debug, Clone, Copy)]
pub struct ImageBatch<'a> {
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// The pixels of every image, one after another.
    pub pixels: &'a [f32],
}

impl ImageBatch<'_> {
    /// How many images the batch holds.
    pub fn len(&self) -> usize {
        let per_image = self.height * self.width * self.channels;
        self.pixels.len().checked_div(per_image).unwrap_or(0)
    }

    /// Whether the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a callback may look at (and the learning rate it may change) during an epoch.
///
/// Trainers fill in what they have; a callback that needs something missing should do
/// nothing rather than fail.
pub struct EpochView<'a> {
    /// The trial being trained.
    pub trial: &'a TrialInfo,
    /// The model's named weights.
    pub weights: Option<&'a dyn WeightSource>,
    /// Validation predictions with true labels.
    pub predictions: Option<Predictions<'a>>,
    /// A few training inputs.
    pub images: Option<ImageBatch<'a>>,
    /// The model's whole state, from trainers that can also load one back.
    pub model: Option<&'a dyn ModelState>,
    learning_rate: Cell<Option<f64>>,
    restore: RefCell<Option<Vec<u8>>>,
    attrs: RefCell<Vec<(String, Value)>>,
}

impl<'a> EpochView<'a> {
    /// A view of `trial` with nothing else in it.
    pub fn new(trial: &'a TrialInfo) -> Self {
        Self {
            trial,
            weights: None,
            predictions: None,
            images: None,
            model: None,
            learning_rate: Cell::new(None),
            restore: RefCell::new(None),
            attrs: RefCell::new(Vec::new()),
        }
    }

    /// Lends the model's state. A trainer that does must also honour
    /// [`EpochView::take_restore`].
    pub fn with_model(mut self, model: &'a dyn ModelState) -> Self {
        self.model = Some(model);
        self
    }

    /// Asks the trainer to load `state` (taken earlier from [`EpochView::model`])
    /// into the model after this epoch's callbacks; the trial's value is then the
    /// restored model's.
    pub fn restore_model(&self, state: Vec<u8>) {
        *self.restore.borrow_mut() = Some(state);
    }

    /// The state a callback asked to restore this epoch, for the trainer to load.
    pub fn take_restore(&self) -> Option<Vec<u8>> {
        self.restore.borrow_mut().take()
    }

    /// Records a user attribute on the trial, such as where a callback saved the model;
    /// [`TrialContext::end_epoch`](crate::TrialContext::end_epoch) hands it to the study.
    pub fn set_user_attr(&self, key: impl Into<String>, value: impl Into<Value>) {
        self.attrs.borrow_mut().push((key.into(), value.into()));
    }

    /// The attributes callbacks recorded, emptied.
    pub fn take_user_attrs(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut *self.attrs.borrow_mut())
    }

    /// Lends the model's weights.
    pub fn with_weights(mut self, weights: &'a dyn WeightSource) -> Self {
        self.weights = Some(weights);
        self
    }

    /// Lends validation predictions.
    pub fn with_predictions(mut self, predictions: Predictions<'a>) -> Self {
        self.predictions = Some(predictions);
        self
    }

    /// Lends a batch of inputs.
    pub fn with_images(mut self, images: ImageBatch<'a>) -> Self {
        self.images = Some(images);
        self
    }

    /// Tells callbacks the learning rate in use; trainers that honour schedules set it.
    pub fn with_learning_rate(self, lr: f64) -> Self {
        self.learning_rate.set(Some(lr));
        self
    }

    /// The current learning rate, when the trainer has one.
    pub fn learning_rate(&self) -> Option<f64> {
        self.learning_rate.get()
    }

    /// Asks the trainer to use `lr` from now on (a scheduler, ReduceLROnPlateau).
    pub fn set_learning_rate(&self, lr: f64) {
        self.learning_rate.set(Some(lr));
    }
}

/// Hooks into training, after Keras. Every hook defaults to doing nothing.
///
/// ```
/// use knob_core::{BoxError, Callback, Control, EpochView, Logs};
///
/// /// Stops once validation accuracy passes a target.
/// struct StopAt(f64);
/// impl Callback for StopAt {
///     fn on_epoch_end(&mut self, _: usize, logs: &Logs, _: &EpochView<'_>) -> Result<Control, BoxError> {
///         let done = logs.get("val_accuracy").is_some_and(|&a| a >= self.0);
///         Ok(if done { Control::Stop } else { Control::Continue })
///     }
/// }
/// ```
pub trait Callback: Send {
    /// Before the first epoch.
    fn on_train_begin(&mut self, _trial: &TrialInfo) -> Result<(), BoxError> {
        Ok(())
    }

    /// Before each epoch (from 0). A scheduler sets the learning rate here.
    fn on_epoch_begin(&mut self, _epoch: usize, _view: &EpochView<'_>) -> Result<(), BoxError> {
        Ok(())
    }

    /// After each training batch, with that batch's metrics; [`Control::Stop`] ends
    /// training after this batch.
    fn on_batch_end(&mut self, _batch: usize, _logs: &Logs) -> Result<Control, BoxError> {
        Ok(Control::Continue)
    }

    /// After each epoch, with the epoch's metrics; [`Control::Stop`] ends training.
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        _logs: &Logs,
        _view: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        Ok(Control::Continue)
    }

    /// After the last epoch, with the last epoch's metrics.
    fn on_train_end(&mut self, _logs: &Logs) -> Result<(), BoxError> {
        Ok(())
    }

    /// After training, how the study recorded the trial: complete, pruned, or failed
    /// (a trial interrupted by Ctrl-C is failed and queued again). Called by
    /// `Study::optimize` and by PBT for each span; a loop of your own calls it through
    /// [`TrialContext::outcome`](crate::TrialContext::outcome). A standalone training run
    /// has no study and gets no call.
    fn on_trial_end(&mut self, _state: TrialState) -> Result<(), BoxError> {
        Ok(())
    }

    /// A name for error messages.
    fn name(&self) -> &str {
        crate::sampler::short_type_name(std::any::type_name::<Self>())
    }

    /// Whether this callback only watches training (a logger, a progress bar), so that
    /// its failure must not cost the trial: a [`CallbackList`] then reports the first
    /// error as a warning, stops calling the callback for the rest of the run, and
    /// training goes on. False by default: an error from a callback that steers
    /// (early stopping, a scheduler) fails the trial.
    fn is_observer(&self) -> bool {
        false
    }
}

/// Callbacks called in order; itself a callback.
///
/// Every callback sees every hook even when an earlier one asked to stop, as in Keras.
/// An error names the callback and the hook it came from. An error (or a panic) from an
/// [observer](Callback::is_observer) is printed once as a warning and that callback
/// is left out for the rest of the run, so a full disk under the TensorBoard logs
/// never costs a trained result.
#[derive(Default)]
pub struct CallbackList {
    callbacks: Vec<Box<dyn Callback>>,
    /// Observers that failed in this run, by index, with their error.
    failed: Vec<(usize, String)>,
    /// The trial of this run, for warnings.
    trial: Option<u64>,
}

impl CallbackList {
    /// No callbacks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a callback.
    pub fn push(&mut self, callback: impl Callback + 'static) {
        self.callbacks.push(Box::new(callback));
    }

    /// Appends a callback, builder style.
    pub fn with(mut self, callback: impl Callback + 'static) -> Self {
        self.push(callback);
        self
    }

    /// How many callbacks the list holds.
    pub fn len(&self) -> usize {
        self.callbacks.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.callbacks.is_empty()
    }

    /// The errors of observers that failed in this run (each once), as printed.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.failed.iter().map(|(_, message)| message.as_str())
    }

    fn each(
        &mut self,
        hook: &str,
        mut call: impl FnMut(&mut dyn Callback) -> Result<Control, BoxError>,
    ) -> Result<Control, BoxError> {
        let mut control = Control::Continue;
        for (i, cb) in self.callbacks.iter_mut().enumerate() {
            if self.failed.iter().any(|(f, _)| *f == i) {
                continue;
            }
            let error = if cb.is_observer() {
                match catch_unwind(AssertUnwindSafe(|| call(cb.as_mut()))) {
                    Ok(result) => result,
                    Err(panic) => Err(format!("panicked: {}", panic_message(&*panic)).into()),
                }
            } else {
                call(cb.as_mut())
            };
            match error {
                Ok(Control::Stop) => control = Control::Stop,
                Ok(Control::Continue) => {}
                Err(e) if cb.is_observer() => {
                    let trial = self.trial.map_or(String::new(), |n| format!("trial {n}: "));
                    let message = format!(
                        "{trial}callback {} failed in {hook}: {e}; it is left out for the rest \
                         of the run, training goes on",
                        cb.name()
                    );
                    eprintln!("knob: warning: {message}");
                    self.failed.push((i, message));
                }
                Err(e) => {
                    return Err(format!("callback {} failed in {hook}: {e}", cb.name()).into())
                }
            }
        }
        Ok(control)
    }
}

impl From<Vec<Box<dyn Callback>>> for CallbackList {
    fn from(callbacks: Vec<Box<dyn Callback>>) -> Self {
        Self {
            callbacks,
            ..Self::default()
        }
    }
}

impl Callback for CallbackList {
    fn on_train_begin(&mut self, trial: &TrialInfo) -> Result<(), BoxError> {
        self.failed.clear();
        self.trial = Some(trial.number);
        self.each("on_train_begin", |cb| {
            cb.on_train_begin(trial).map(|_| Control::Continue)
        })
        .map(drop)
    }

    fn on_epoch_begin(&mut self, epoch: usize, view: &EpochView<'_>) -> Result<(), BoxError> {
        self.each("on_epoch_begin", |cb| {
            cb.on_epoch_begin(epoch, view).map(|_| Control::Continue)
        })
        .map(drop)
    }

    fn on_batch_end(&mut self, batch: usize, logs: &Logs) -> Result<Control, BoxError> {
        self.each("on_batch_end", |cb| cb.on_batch_end(batch, logs))
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        view: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        self.each("on_epoch_end", |cb| cb.on_epoch_end(epoch, logs, view))
    }

    fn on_train_end(&mut self, logs: &Logs) -> Result<(), BoxError> {
        self.each("on_train_end", |cb| {
            cb.on_train_end(logs).map(|_| Control::Continue)
        })
        .map(drop)
    }

    fn on_trial_end(&mut self, state: TrialState) -> Result<(), BoxError> {
        self.each("on_trial_end", |cb| {
            cb.on_trial_end(state).map(|_| Control::Continue)
        })
        .map(drop)
    }
}

type EpochEndFn = dyn FnMut(usize, &Logs, &EpochView<'_>) -> Result<Control, BoxError> + Send;
type EpochBeginFn = dyn FnMut(usize, &EpochView<'_>) -> Result<(), BoxError> + Send;
type BatchEndFn = dyn FnMut(usize, &Logs) -> Result<Control, BoxError> + Send;
type TrainBeginFn = dyn FnMut(&TrialInfo) -> Result<(), BoxError> + Send;
type TrainEndFn = dyn FnMut(&Logs) -> Result<(), BoxError> + Send;

/// A callback made of closures, for one-off hooks in user code.
///
/// ```
/// use knob_core::{Callback, CallbackList, Control, LambdaCallback};
/// let printer = LambdaCallback::new().epoch_end(|epoch, logs, _| {
///     println!("epoch {epoch}: {logs:?}");
///     Ok(Control::Continue)
/// });
/// let callbacks = CallbackList::new().with(printer);
/// assert_eq!(callbacks.len(), 1);
/// ```
#[derive(Default)]
pub struct LambdaCallback {
    train_begin: Option<Box<TrainBeginFn>>,
    epoch_begin: Option<Box<EpochBeginFn>>,
    batch_end: Option<Box<BatchEndFn>>,
    epoch_end: Option<Box<EpochEndFn>>,
    train_end: Option<Box<TrainEndFn>>,
}

impl LambdaCallback {
    /// A callback with no hooks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` before training.
    pub fn train_begin(
        mut self,
        f: impl FnMut(&TrialInfo) -> Result<(), BoxError> + Send + 'static,
    ) -> Self {
        self.train_begin = Some(Box::new(f));
        self
    }

    /// Runs `f` before each epoch.
    pub fn epoch_begin(
        mut self,
        f: impl FnMut(usize, &EpochView<'_>) -> Result<(), BoxError> + Send + 'static,
    ) -> Self {
        self.epoch_begin = Some(Box::new(f));
        self
    }

    /// Runs `f` after each batch; its [`Control`] counts.
    pub fn batch_end(
        mut self,
        f: impl FnMut(usize, &Logs) -> Result<Control, BoxError> + Send + 'static,
    ) -> Self {
        self.batch_end = Some(Box::new(f));
        self
    }

    /// Runs `f` after each epoch; its [`Control`] counts.
    pub fn epoch_end(
        mut self,
        f: impl FnMut(usize, &Logs, &EpochView<'_>) -> Result<Control, BoxError> + Send + 'static,
    ) -> Self {
        self.epoch_end = Some(Box::new(f));
        self
    }

    /// Runs `f` after training.
    pub fn train_end(
        mut self,
        f: impl FnMut(&Logs) -> Result<(), BoxError> + Send + 'static,
    ) -> Self {
        self.train_end = Some(Box::new(f));
        self
    }
}

impl Callback for LambdaCallback {
    fn on_train_begin(&mut self, trial: &TrialInfo) -> Result<(), BoxError> {
        self.train_begin.as_mut().map_or(Ok(()), |f| f(trial))
    }

    fn on_epoch_begin(&mut self, epoch: usize, view: &EpochView<'_>) -> Result<(), BoxError> {
        self.epoch_begin.as_mut().map_or(Ok(()), |f| f(epoch, view))
    }

    fn on_batch_end(&mut self, batch: usize, logs: &Logs) -> Result<Control, BoxError> {
        self.batch_end
            .as_mut()
            .map_or(Ok(Control::Continue), |f| f(batch, logs))
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        view: &EpochView<'_>,
    ) -> Result<Control, BoxError> {
        self.epoch_end
            .as_mut()
            .map_or(Ok(Control::Continue), |f| f(epoch, logs, view))
    }

    fn on_train_end(&mut self, logs: &Logs) -> Result<(), BoxError> {
        self.train_end.as_mut().map_or(Ok(()), |f| f(logs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn info() -> TrialInfo {
        TrialInfo::new(3, Params::new())
    }

    #[test]
    fn every_callback_sees_the_epoch_and_one_stop_stops_the_list() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (seen.clone(), seen.clone());
        let mut list = CallbackList::new()
            .with(LambdaCallback::new().epoch_end(move |e, _, _| {
                a.lock().unwrap().push(("stopper", e));
                Ok(Control::Stop)
            }))
            .with(LambdaCallback::new().epoch_end(move |e, _, _| {
                b.lock().unwrap().push(("watcher", e));
                Ok(Control::Continue)
            }));
        let trial = info();
        let view = EpochView::new(&trial);
        let control = list.on_epoch_end(2, &Logs::new(), &view).unwrap();
        assert_eq!(control, Control::Stop);
        assert_eq!(*seen.lock().unwrap(), [("stopper", 2), ("watcher", 2)]);
    }

    #[test]
    fn errors_name_the_callback_and_hook() {
        struct Broken;
        impl Callback for Broken {
            fn on_train_end(&mut self, _: &Logs) -> Result<(), BoxError> {
                Err("disk full".into())
            }
        }
        let mut list = CallbackList::new().with(Broken);
        let e = list.on_train_end(&Logs::new()).unwrap_err().to_string();
        assert_eq!(e, "callback Broken failed in on_train_end: disk full");
    }

    #[test]
    fn a_failing_observer_warns_once_and_training_goes_on() {
        struct FullDisk(usize);
        impl Callback for FullDisk {
            fn on_epoch_end(
                &mut self,
                _: usize,
                _: &Logs,
                _: &EpochView<'_>,
            ) -> Result<Control, BoxError> {
                self.0 += 1;
                Err("/logs/trial_0003/train: No space left on device".into())
            }
            fn is_observer(&self) -> bool {
                true
            }
        }
        let stops = LambdaCallback::new().epoch_end(|e, _, _| {
            Ok(if e == 2 {
                Control::Stop
            } else {
                Control::Continue
            })
        });
        let mut list = CallbackList::new().with(FullDisk(0)).with(stops);
        let trial = info();
        list.on_train_begin(&trial).unwrap();
        let view = EpochView::new(&trial);
        for epoch in 0..2 {
            let c = list.on_epoch_end(epoch, &Logs::new(), &view).unwrap();
            assert_eq!(c, Control::Continue);
        }
        let c = list.on_epoch_end(2, &Logs::new(), &view).unwrap();
        assert_eq!(c, Control::Stop, "the steering callback keeps its effect");
        let warnings: Vec<&str> = list.warnings().collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("trial 3") && warnings[0].contains("/logs/trial_0003/train"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn a_callback_can_change_the_learning_rate() {
        let mut halve = LambdaCallback::new().epoch_end(|_, _, view| {
            if let Some(lr) = view.learning_rate() {
                view.set_learning_rate(lr / 2.0);
            }
            Ok(Control::Continue)
        });
        let trial = info();
        let view = EpochView::new(&trial).with_learning_rate(0.1);
        halve.on_epoch_end(0, &Logs::new(), &view).unwrap();
        assert_eq!(view.learning_rate(), Some(0.05));
    }

    #[test]
    fn image_batches_count_their_images() {
        let pixels = vec![0.0; 2 * 8 * 8];
        let batch = ImageBatch {
            height: 8,
            width: 8,
            channels: 1,
            pixels: &pixels,
        };
        assert_eq!(batch.len(), 2);
    }
}
