//! Training throughput of knob's runtime-shaped MLP against a const-generic dfdx MLP of
//! the same shape: samples per second of forward, loss, backward and Adam update, batch
//! 64, one thread. Then trials per minute of a digits study with one and two workers.
//!
//! Prints one JSON line per measurement. `train-throughput [SECONDS] [PAIRS]` sets how
//! long each shape is timed (default 3) and how many pairs of digits trials, without and
//! with the logging callbacks, measure what logging costs (default 100).

use std::time::{Duration, Instant};

use dfdx::nn::builders::{Linear, ReLU};
use dfdx::optim::{Adam, AdamConfig, Optimizer};
use dfdx::prelude::*;
use knob_core::{CallbackList, Direction, Params, Scale, SearchSpace, Study};
use knob_samplers::RandomSampler;
use knob_trainers::{data, Config, Mlp, MlpDevice, MlpTrainer};

const BATCH: usize = 64;

/// Random inputs and labels, the same for both implementations.
fn batches(inputs: usize, classes: usize) -> Vec<(Vec<f32>, Vec<usize>)> {
    let dev = Cpu::seed_from_u64(0);
    (0..8)
        .map(|k| {
            let x: Tensor<(usize, usize), f32, Cpu> = dev.sample_normal_like(&(BATCH, inputs));
            let labels = (0..BATCH).map(|i| (i * 7 + k) % classes).collect();
            (x.as_vec(), labels)
        })
        .collect()
}

/// Runs `step` repeatedly for `secs` (after a short warm-up); returns samples per second.
fn measure(secs: f64, mut step: impl FnMut(usize)) -> f64 {
    for k in 0..5 {
        step(k);
    }
    let start = Instant::now();
    let mut steps = 0;
    while start.elapsed() < Duration::from_secs_f64(secs) {
        step(steps);
        steps += 1;
    }
    (steps * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn knob(sizes: &[usize], secs: f64) -> f64 {
    let config = Config::from_params(&Params::new()).expect("defaults are valid");
    let mut mlp = Mlp::new(sizes, &config, Cpu::build(0, 1).expect("a CPU"));
    let data = batches(sizes[0], sizes[sizes.len() - 1]);
    measure(secs, |k| {
        let (x, labels) = &data[k % data.len()];
        mlp.train_batch(x, labels);
    })
}

/// The same training step with dfdx's const-generic layers and its Adam optimizer.
macro_rules! const_generic {
    ($secs:expr, $inputs:literal, $model:ty) => {{
        let dev = Cpu::seed_from_u64(1);
        let mut model = dev.build_module::<$model, f32>();
        let mut grads = model.alloc_grads();
        let mut opt = Adam::new(&model, AdamConfig::default());
        let data: Vec<(
            Tensor<Rank2<BATCH, $inputs>, f32, Cpu>,
            Tensor<Rank2<BATCH, 10>, f32, Cpu>,
        )> = batches($inputs, 10)
            .into_iter()
            .map(|(x, labels)| {
                let mut onehot = vec![0.0f32; BATCH * 10];
                for (i, l) in labels.iter().enumerate() {
                    onehot[i * 10 + l] = 1.0;
                }
                (dev.tensor(x), dev.tensor(onehot))
            })
            .collect();
        measure($secs, |k| {
            let (x, y) = &data[k % data.len()];
            let logits = model.forward_mut(x.clone().traced(grads.clone()));
            let loss = cross_entropy_with_logits_loss(logits, y.clone());
            grads = loss.backward();
            opt.update(&mut model, &grads).expect("an Adam step");
            model.zero_grads(&mut grads);
        })
    }};
}

fn trials_per_minute(workers: usize) -> f64 {
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let space = SearchSpace::builder()
        .float("lr", 1e-3, 1e-2, Scale::Log)
        .build()
        .expect("valid");
    let study = Study::builder(space)
        .direction(Direction::Maximize)
        .sampler(RandomSampler::new())
        .build()
        .expect("valid");
    let trials = 8;
    let start = Instant::now();
    study
        .optimize(
            trials,
            workers,
            |_| {
                let fixed = Params::from_iter([("epochs", 5.into()), ("units", 256.into())]);
                MlpTrainer::new(train.clone(), valid.clone()).map(|t| t.defaults(fixed))
            },
            |_| CallbackList::new(),
        )
        .expect("the study runs");
    trials as f64 / start.elapsed().as_secs_f64() * 60.0
}

/// The epoch times of a 10-epoch digits trial (between consecutive epoch ends), with
/// or without the logging callbacks (TensorBoard with histograms every epoch, and a
/// confusion matrix every epoch), and the wait at the end for logs to reach disk.
fn digits_epoch_seconds(with_callbacks: bool, logdir: &std::path::Path) -> (Vec<f64>, f64) {
    use knob_core::{Control, LambdaCallback, Trainer, TrialContext};
    use std::sync::{Arc, Mutex};
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let mut trainer = MlpTrainer::new(train, valid).expect("a trainer");
    let params = Params::from_iter([("epochs", 10.into()), ("units", 128.into())]);
    let stamps = Arc::new(Mutex::new(vec![Instant::now()]));
    let sink = stamps.clone();
    let mut callbacks = CallbackList::new();
    if with_callbacks {
        callbacks.push(knob_callbacks::TensorBoard::new(logdir).histogram_freq(1));
        callbacks.push(knob_callbacks::ConfusionMatrix::new(logdir));
    }
    callbacks.push(LambdaCallback::new().epoch_end(move |_, _, _| {
        sink.lock().expect("not poisoned").push(Instant::now());
        Ok(Control::Continue)
    }));
    let mut ctx = TrialContext::standalone(params.clone()).with_callbacks(callbacks);
    trainer.fit(&params, &mut ctx).expect("training");
    let end = Instant::now();
    let stamps = stamps.lock().expect("not poisoned");
    let epochs = stamps
        .windows(2)
        .skip(1)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    (
        epochs,
        (end - *stamps.last().expect("stamps")).as_secs_f64(),
    )
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .map_or(3.0, |s| s.parse().expect("SECONDS is a number"));
    let pairs: usize = std::env::args()
        .nth(2)
        .map_or(100, |s| s.parse().expect("PAIRS is a whole number"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let shapes: [(&str, &[usize]); 3] =
            [("64-128-10", &[64, 128, 10]), ("784-512-10", &[784, 512, 10]), ("784-256-256-10", &[784, 256, 256, 10])];
        for (name, sizes) in shapes {
            let ours = knob(sizes, secs);
            let theirs = match name {
                "64-128-10" => const_generic!(secs, 64, (Linear<64, 128>, ReLU, Linear<128, 10>)),
                "784-512-10" => const_generic!(secs, 784, (Linear<784, 512>, ReLU, Linear<512, 10>)),
                _ => const_generic!(secs, 784, (Linear<784, 256>, ReLU, Linear<256, 256>, ReLU, Linear<256, 10>)),
            };
            for (implementation, rate) in [("knob", ours), ("dfdx-const-generic", theirs)] {
                println!(
                    r#"{{"shape": "{name}", "impl": "{implementation}", "batch": {BATCH}, "threads": 1, "samples_per_sec": {rate:.0}}}"#
                );
            }
            println!(r#"{{"shape": "{name}", "ratio_knob_to_const_generic": {:.3}}}"#, ours / theirs);
        }
    });
    let logdir = tempfile::tempdir().expect("a temporary folder");
    // Interleaved pairs, medians of the pooled epochs and of the pairs' ratios: the
    // machine is shared and noisy.
    let (mut plain, mut logged, mut ratios, mut waits) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for _ in 0..pairs.max(1) {
        let (p, _) = digits_epoch_seconds(false, logdir.path());
        let (l, wait) = digits_epoch_seconds(true, logdir.path());
        ratios.push(mean(&l) / mean(&p));
        plain.extend(p);
        logged.extend(l);
        waits.push(wait);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (plain, logged) = (median(&mut plain), median(&mut logged));
    println!(
        r#"{{"bench": "callback_overhead_digits", "epoch_ms_plain": {:.3}, "epoch_ms_logged": {:.3}, "overhead": {:.3}, "paired_overhead": {:.3}, "end_wait_ms": {:.3}}}"#,
        plain * 1e3,
        logged * 1e3,
        logged / plain - 1.0,
        median(&mut ratios) - 1.0,
        median(&mut waits) * 1e3
    );
    let one = trials_per_minute(1);
    let two = trials_per_minute(2);
    println!(
        r#"{{"bench": "digits_study_workers", "trials_per_min_1": {one:.1}, "trials_per_min_2": {two:.1}, "speedup": {:.2}}}"#,
        two / one
    );
}
