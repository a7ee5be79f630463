//! An MLP saved to bytes and loaded again trains on exactly as the original would.

use knob_core::{Params, TrialInfo};
use knob_trainers::{Config, Cpu, Mlp, MlpDevice};

fn batches() -> Vec<(Vec<f32>, Vec<usize>)> {
    (0..6)
        .map(|b| {
            let x: Vec<f32> = (0..8 * 4)
                .map(|i| (((i * 7 + b * 13) % 11) as f32 - 5.0) / 5.0)
                .collect();
            let labels = (0..8).map(|i| (i + b) % 3).collect();
            (x, labels)
        })
        .collect()
}

fn config(params: &[(&str, knob_core::Value)]) -> Config {
    Config::from_params(&Params::from_iter(params.iter().cloned())).unwrap()
}

#[test]
fn a_restored_model_continues_exactly() {
    for optimizer in ["adam", "sgd", "rmsprop"] {
        let config = config(&[
            ("optimizer", optimizer.into()),
            ("layers", 2.into()),
            ("units", 6.into()),
            ("batch_norm", true.into()),
            ("lr", 0.05.into()),
        ]);
        let mut original = Mlp::new(&[4, 6, 6, 3], &config, Cpu::build(0, 5).unwrap());
        let data = batches();
        for (x, y) in &data[..3] {
            original.train_batch(x, y);
        }
        let bytes = original.to_bytes();
        let mut copy = Mlp::from_bytes(&bytes, &config, Cpu::build(0, 99).unwrap()).unwrap();
        assert_eq!(copy.sizes(), [4, 6, 6, 3]);
        assert_eq!(
            copy.to_bytes(),
            bytes,
            "{optimizer}: saving again changes nothing"
        );
        for (x, y) in &data[3..] {
            let a = original.train_batch(x, y);
            let b = copy.train_batch(x, y);
            assert_eq!(a, b, "{optimizer}: the copy trains identically");
        }
        assert_eq!(original.logits(&data[0].0, 8), copy.logits(&data[0].0, 8));
    }
}

#[test]
fn a_checkpoint_for_another_architecture_is_refused() {
    let small = config(&[("units", 6.into())]);
    let bytes = Mlp::new(&[4, 6, 3], &small, Cpu::build(0, 1).unwrap()).to_bytes();
    let wider = config(&[("units", 8.into())]);
    let err = Mlp::from_bytes(&bytes, &wider, Cpu::build(0, 1).unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("[6]") && err.contains("[8]"), "{err}");
    let normed = config(&[("units", 6.into()), ("batch_norm", true.into())]);
    let err = Mlp::from_bytes(&bytes, &normed, Cpu::build(0, 1).unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("batch norm"), "{err}");
    let err = Mlp::from_bytes(&bytes[..40], &small, Cpu::build(0, 1).unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn a_new_optimizer_starts_its_moments_afresh() {
    // Saved under Adam, loaded under SGD: weights carry over, the step count does not.
    let adam = config(&[("units", 6.into()), ("lr", 0.05.into())]);
    let mut mlp = Mlp::new(&[4, 6, 3], &adam, Cpu::build(0, 1).unwrap());
    let data = batches();
    mlp.train_batch(&data[0].0, &data[0].1);
    let sgd = config(&[
        ("units", 6.into()),
        ("optimizer", "sgd".into()),
        ("lr", 0.05.into()),
    ]);
    let copy = Mlp::from_bytes(&mlp.to_bytes(), &sgd, Cpu::build(0, 1).unwrap()).unwrap();
    assert_eq!(copy.logits(&data[1].0, 8), mlp.logits(&data[1].0, 8));
    let fresh_sgd = Mlp::new(&[4, 6, 3], &sgd, Cpu::build(0, 1).unwrap());
    assert_eq!(copy.to_bytes().len(), fresh_sgd.to_bytes().len());
}

#[test]
fn training_cut_into_spans_ends_where_an_uncut_run_does() {
    use knob_core::{Resumable, Trainer, TrialContext};
    use knob_trainers::{data, MlpTrainer, Objective};
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let params = Params::from_iter([
        ("lr", 3e-3.into()),
        ("units", 32.into()),
        ("epochs", 5.into()),
        ("lr_decay", "exponential".into()),
    ]);
    let mut trainer = MlpTrainer::new(train, valid)
        .unwrap()
        .objective(Objective::ValLoss);
    let whole = trainer
        .fit(
            &params,
            &mut TrialContext::unmonitored(TrialInfo::new(3, params.clone())),
        )
        .unwrap();
    let mut ctx = TrialContext::unmonitored(TrialInfo::new(3, params.clone()));
    let first = trainer.train_span(&params, None, 0..2, &mut ctx).unwrap();
    let second = trainer
        .train_span(&params, Some(&first.checkpoint), 2..5, &mut ctx)
        .unwrap();
    assert_eq!(second.score, whole);
    assert!(second.score < first.score, "it kept learning");

    // A span cannot change the architecture under the checkpoint.
    let wider = Params::from_iter([("units", 64.into())]);
    let err = trainer
        .train_span(&wider, Some(&first.checkpoint), 2..3, &mut ctx)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[32]") && err.contains("[64]"), "{err}");
}
