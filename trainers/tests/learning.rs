//! The MLP learns: digits, the MNIST subset, spirals; and it follows its callbacks.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use knob_core::{
    CallbackList, Control, Direction, LambdaCallback, Params, Scale, SearchSpace, Study, Trainer,
    TrialContext, TrialState, Value,
};
use knob_trainers::{data, MlpTrainer};

fn params(entries: &[(&str, Value)]) -> Params {
    Params::from_iter(entries.iter().map(|(n, v)| (*n, v.clone())))
}

/// Trains once standalone; returns the objective and the logs of every epoch.
fn train(
    trainer: &mut MlpTrainer,
    p: &Params,
    extra: Option<LambdaCallback>,
) -> (f64, Vec<knob_core::Logs>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut callbacks =
        CallbackList::new().with(LambdaCallback::new().epoch_end(move |_, logs, view| {
            assert!(view.weights.is_some() && view.predictions.is_some() && view.images.is_some());
            sink.lock().unwrap().push(logs.clone());
            Ok(Control::Continue)
        }));
    if let Some(cb) = extra {
        callbacks.push(cb);
    }
    let mut ctx = TrialContext::standalone(p.clone()).with_callbacks(callbacks);
    let value = trainer.fit(p, &mut ctx).unwrap();
    let logs = seen.lock().unwrap().clone();
    (value, logs)
}

#[test]
fn reaches_96_percent_on_digits() {
    let start = Instant::now();
    let (train_set, valid) = data::prepare(data::digits(), 0.2, 0);
    let mut trainer = MlpTrainer::new(train_set, valid).unwrap();
    let p = params(&[
        ("lr", 3e-3.into()),
        ("units", 128.into()),
        ("batch_size", 32.into()),
        ("epochs", 15.into()),
    ]);
    let (accuracy, logs) = train(&mut trainer, &p, None);
    println!(
        "digits: {accuracy:.4} in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    assert!(accuracy >= 0.96, "validation accuracy {accuracy}");
    assert_eq!(logs.len(), 15);
    assert_eq!(logs.last().unwrap()["val_accuracy"], accuracy);
}

#[test]
fn reaches_90_percent_on_the_mnist_subset() {
    let start = Instant::now();
    let (train_set, valid) = data::prepare(data::mnist5k(), 0.2, 0);
    let mut trainer = MlpTrainer::new(train_set, valid).unwrap();
    let p = params(&[
        ("lr", 1e-3.into()),
        ("units", 256.into()),
        ("epochs", 8.into()),
    ]);
    let (accuracy, _) = train(&mut trainer, &p, None);
    println!(
        "mnist5k: {accuracy:.4} in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    assert!(accuracy >= 0.90, "validation accuracy {accuracy}");
}

#[test]
fn the_loss_falls_on_spirals_with_every_optimizer() {
    let (train_set, valid) = data::prepare(data::spirals(3, 200, 0.05, 1), 0.25, 1);
    for (optimizer, lr) in [("adam", 1e-2), ("sgd", 5e-2), ("rmsprop", 5e-3)] {
        let mut trainer = MlpTrainer::new(train_set.clone(), valid.clone()).unwrap();
        let p = params(&[
            ("optimizer", optimizer.into()),
            ("lr", lr.into()),
            ("layers", 2.into()),
            ("units", 32.into()),
            ("batch_norm", true.into()),
            ("epochs", 25.into()),
        ]);
        let (_, logs) = train(&mut trainer, &p, None);
        let (first, last) = (logs[0]["loss"], logs.last().unwrap()["loss"]);
        assert!(last < 0.6 * first, "{optimizer}: loss {first} -> {last}");
    }
}

#[test]
fn callbacks_stop_training_and_change_the_learning_rate() {
    let (train_set, valid) = data::prepare(data::digits(), 0.2, 0);
    let mut trainer = MlpTrainer::new(train_set, valid).unwrap();
    let p = params(&[
        ("epochs", 10.into()),
        ("lr", 1e-2.into()),
        ("lr_decay", "exponential".into()),
        ("decay_rate", 0.5.into()),
    ]);
    let halve_then_stop = LambdaCallback::new().epoch_end(|epoch, _, view| {
        if epoch == 1 {
            view.set_learning_rate(view.learning_rate().unwrap() / 10.0);
        }
        Ok(if epoch == 3 {
            Control::Stop
        } else {
            Control::Continue
        })
    });
    let (_, logs) = train(&mut trainer, &p, Some(halve_then_stop));
    let lrs: Vec<f64> = logs.iter().map(|l| l["lr"]).collect();
    assert_eq!(lrs.len(), 4, "stopped after epoch 3");
    // Decay halves each epoch; the callback's cut by ten at epoch 1 carries on.
    let expected = [1e-2, 5e-3, 2.5e-4, 1.25e-4];
    for (got, want) in lrs.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{lrs:?}");
    }
}

#[test]
fn bad_params_fail_before_training() {
    let (train_set, valid) = data::prepare(data::digits(), 0.2, 0);
    let mut trainer = MlpTrainer::new(train_set, valid).unwrap();
    let called = Arc::new(Mutex::new(false));
    let flag = called.clone();
    for bad in [
        ("lr", Value::Float(-1.0)),
        ("layers", Value::Int(0)),
        ("batch_size", Value::Int(0)),
        ("optimizer", "lbfgs".into()),
    ] {
        let p = params(std::slice::from_ref(&bad));
        let flag = flag.clone();
        let cb = LambdaCallback::new().train_begin(move |_| {
            *flag.lock().unwrap() = true;
            Ok(())
        });
        let mut ctx =
            TrialContext::standalone(p.clone()).with_callbacks(CallbackList::new().with(cb));
        let e = trainer.fit(&p, &mut ctx).unwrap_err().to_string();
        assert!(e.contains(&format!("`{}`", bad.0)), "{e}");
    }
    assert!(!*called.lock().unwrap(), "no training started");
}

#[test]
fn a_study_tunes_the_mlp_on_two_workers() {
    let (train_set, valid) = data::prepare(data::digits(), 0.2, 0);
    let space = SearchSpace::builder()
        .float("lr", 1e-4, 3e-2, Scale::Log)
        .int("units", 16, 64, Scale::Log)
        .build()
        .unwrap();
    let study = Study::builder(space)
        .direction(Direction::Maximize)
        .sampler(knob_core::testing::UniformSampler)
        .build()
        .unwrap();
    let fixed = Params::from_iter([("epochs", 3.into())]);
    let summary = study
        .optimize(
            4,
            2,
            |_| {
                MlpTrainer::new(train_set.clone(), valid.clone()).map(|t| t.defaults(fixed.clone()))
            },
            |_| CallbackList::new(),
        )
        .unwrap();
    assert_eq!(summary.completed, 4);
    let trials = study.trials().unwrap();
    assert!(trials
        .iter()
        .all(|t| t.state == TrialState::Complete && t.intermediate.len() == 3));
    assert!(summary.best.unwrap().value.unwrap() > 0.8);
}

#[test]
fn costs_are_further_objectives_and_the_parameter_budget_a_constraint() {
    use knob_trainers::Cost;
    let (train_set, valid_set) = data::prepare(data::digits(), 0.2, 0);
    let mut trainer = MlpTrainer::new(train_set, valid_set)
        .unwrap()
        .cost(Cost::Parameters)
        .cost(Cost::Seconds)
        .max_parameters(2000);
    for (layers, batch_norm) in [(1, false), (2, true)] {
        let p = params(&[
            ("layers", layers.into()),
            ("units", 24.into()),
            ("batch_norm", batch_norm.into()),
            ("epochs", 2.into()),
        ]);
        // What the network holds, counted from the weights the callbacks see.
        let held = Arc::new(Mutex::new(0usize));
        let count = held.clone();
        let callbacks =
            CallbackList::new().with(LambdaCallback::new().epoch_end(move |_, logs, view| {
                let mut n = 0;
                view.weights
                    .expect("weights")
                    .for_each_weight(&mut |w| n += w.values.len());
                *count.lock().unwrap() = n;
                assert_eq!(logs["param_count"], n as f64);
                assert!(logs["train_seconds"] > 0.0);
                Ok(Control::Continue)
            }));
        let mut ctx = TrialContext::standalone(p.clone()).with_callbacks(callbacks);
        let fitted = trainer.fit_objectives(&p, &mut ctx);
        let held = *held.lock().unwrap();
        match ctx.outcome(fitted) {
            knob_core::Outcome::Values {
                values,
                constraints,
            } => {
                assert_eq!(values.len(), 3);
                assert!(values[0] > 0.2, "accuracy {}", values[0]);
                assert_eq!(values[1], held as f64, "layers {layers}");
                assert!(values[2] > 0.0);
                assert_eq!(constraints, [held as f64 - 2000.0]);
            }
            other => panic!("{other:?}"),
        }
    }
}
