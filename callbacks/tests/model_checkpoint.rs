//! ModelCheckpoint and EarlyStopping's restore_best_weights on the real MLP trainer.

use std::sync::Arc;

use knob_callbacks::{EarlyStopping, ModelCheckpoint};
use knob_core::{
    Callback, CallbackList, Direction, EpochView, Logs, Params, Scale, SearchSpace, Study,
    TrialInfo,
};
use knob_samplers::RandomSampler;
use knob_trainers::{data, Config, Cpu, Mlp, MlpDevice, MlpTrainer};

fn digits_study() -> (Study, Arc<data::Dataset>, Arc<data::Dataset>) {
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let space = SearchSpace::builder()
        .float("lr", 3e-4, 3e-2, Scale::Log)
        .int("units", 16, 64, Scale::Log)
        .build()
        .unwrap();
    let study = Study::builder(space)
        .direction(Direction::Maximize)
        .sampler(RandomSampler::new())
        .seed(11)
        .build()
        .unwrap();
    (study, train, valid)
}

fn trainer(train: &Arc<data::Dataset>, valid: &Arc<data::Dataset>, epochs: i64) -> MlpTrainer {
    MlpTrainer::new(train.clone(), valid.clone())
        .unwrap()
        .defaults(Params::from_iter([("epochs", epochs.into())]))
}

#[test]
fn the_checkpoint_holds_the_best_epoch_and_reloads_to_its_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("trial-{trial}.knobmlp");
    let template = template.to_str().unwrap().to_owned();
    let (study, train, valid) = digits_study();
    study
        .optimize(
            3,
            1,
            |_| Ok(trainer(&train, &valid, 6)),
            |_| {
                CallbackList::new().with(
                    ModelCheckpoint::new(template.clone())
                        .monitor("val_accuracy")
                        .save_best_only(true),
                )
            },
        )
        .unwrap();
    for trial in study.trials().unwrap() {
        // The objective reported each epoch is the validation accuracy.
        let curve: Vec<f64> = trial.intermediate.values().copied().collect();
        assert_eq!(curve.len(), 6);
        let best_epoch = (0..curve.len()).fold(0, |b, e| if curve[e] > curve[b] { e } else { b });
        let path = ModelCheckpoint::saved(&trial).expect("a checkpoint attribute");
        assert!(path.ends_with(format!("trial-{}.knobmlp", trial.number)));
        assert_eq!(
            trial.user_attrs.get("checkpoint_epoch"),
            Some(&(best_epoch as i64).into()),
            "trial {}: curve {curve:?}",
            trial.number
        );
        let config = Config::from_params(&trial.params).unwrap();
        let model = Mlp::from_file(&path, &config, Cpu::build(0, 0).unwrap()).unwrap();
        let logits = model.logits(&valid.features, valid.len());
        let correct = logits
            .chunks(valid.classes)
            .zip(&valid.labels)
            .filter(|(row, &label)| {
                let top = (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b });
                top == label
            })
            .count();
        assert_eq!(
            correct as f64 / valid.len() as f64,
            curve[best_epoch],
            "trial {}: the reloaded model scores the logged best accuracy",
            trial.number
        );
    }
    let missing = dir.path().join("nope.knobmlp");
    let config = Config::from_params(&Params::new()).unwrap();
    let err = Mlp::from_file(&missing, &config, Cpu::build(0, 0).unwrap())
        .err()
        .unwrap();
    assert!(err.to_string().contains("nope.knobmlp"), "{err}");
}

#[test]
fn restore_best_weights_ends_the_trial_with_the_best_epochs_model() {
    let (study, train, valid) = digits_study();
    // Nothing improves by half a point of accuracy: it stops at epoch 1 and restores
    // epoch 0's model.
    study
        .optimize(
            2,
            1,
            |_| Ok(trainer(&train, &valid, 6)),
            |_| {
                CallbackList::new().with(
                    EarlyStopping::new("val_accuracy")
                        .min_delta(0.5)
                        .restore_best_weights(true),
                )
            },
        )
        .unwrap();
    for trial in study.trials().unwrap() {
        let curve: Vec<f64> = trial.intermediate.values().copied().collect();
        assert_eq!(curve.len(), 2, "stopped after epoch 1");
        assert_eq!(
            trial.value,
            Some(curve[0]),
            "epoch 0's model, not epoch 1's"
        );
    }
}

#[test]
fn a_trainer_without_a_model_gets_a_clear_error() {
    let info = TrialInfo::new(0, Params::new());
    let logs = Logs::from([("val_loss".to_owned(), 0.5)]);
    let mut checkpoint = ModelCheckpoint::new("unused-{trial}");
    checkpoint.on_train_begin(&info).unwrap();
    let err = checkpoint
        .on_epoch_end(0, &logs, &EpochView::new(&info))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("needs a trainer that lends its model"),
        "{err}"
    );
    let mut stop = EarlyStopping::new("val_loss").restore_best_weights(true);
    stop.on_train_begin(&info).unwrap();
    let err = stop
        .on_epoch_end(0, &logs, &EpochView::new(&info))
        .unwrap_err();
    assert!(
        err.to_string().contains("restore_best_weights needs"),
        "{err}"
    );
    let mut best_only = ModelCheckpoint::new("unused")
        .monitor("val_f1")
        .save_best_only(true);
    struct NoModel;
    impl knob_core::ModelState for NoModel {
        fn to_state(&self) -> Vec<u8> {
            Vec::new()
        }
    }
    let err = best_only
        .on_epoch_end(0, &logs, &EpochView::new(&info).with_model(&NoModel))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("monitors `val_f1`, but the epoch's logs hold [val_loss]"),
        "{err}"
    );
}
