//! The README's Quickstart: a GP study of a dfdx MLP on the embedded 8x8 digits, two
//! trials at a time, with TensorBoard logs, early stopping and each trial's best model.
use knob_callbacks::report::write_report;
use knob_callbacks::{ConfusionMatrix, EarlyStopping, ModelCheckpoint, TensorBoard};
use knob_core::{CallbackList, Direction, Params, Report, Scale, SearchSpace, Study};
use knob_samplers::GpSampler;
use knob_trainers::{data, MlpTrainer};

fn main() -> Result<(), Report> {
    let (train, valid) = data::prepare(data::digits(), 0.2, 0); // embedded 8x8 digits
    let space = SearchSpace::builder()
        .float("lr", 1e-4, 3e-2, Scale::Log) // every decade equally likely
        .float("beta1", 0.8, 0.99, Scale::LogOneMinus) // 1-β log-uniform
        .int("layers", 1, 3, Scale::Linear) // each count equally likely
        .int("units", 32, 256, Scale::Log)
        .build()?;
    let study = Study::builder(space.clone())
        .direction(Direction::Maximize) // validation accuracy
        .sampler(GpSampler::new())
        .journal("runs/quickstart/study.jsonl") // rerun to resume
        .build()?;
    let epochs = Params::from_iter([("epochs", 8.into())]);
    study.optimize(
        12, // trials
        2,  // workers, one per core
        |_worker| MlpTrainer::new(train.clone(), valid.clone()).map(|t| t.defaults(epochs.clone())),
        |_trial| {
            CallbackList::new()
                // Curves, histograms, input images and the HParams table.
                .with(
                    TensorBoard::new("runs/quickstart/tb")
                        .histogram_freq(1)
                        .objective("val_accuracy"),
                )
                .with(ConfusionMatrix::new("runs/quickstart/tb"))
                .with(
                    EarlyStopping::new("val_loss")
                        .patience(2)
                        .restore_best_weights(true),
                )
                .with(
                    ModelCheckpoint::new("runs/quickstart/models/trial-{trial}.knobmlp")
                        .monitor("val_accuracy")
                        .save_best_only(true),
                )
        },
    )?;
    println!("{}", study.leaderboard(5)?);
    if let Some(path) = study
        .best_trial()?
        .as_ref()
        .and_then(ModelCheckpoint::saved)
    {
        println!("best model: {} (Mlp::from_file loads it)", path.display());
    }
    write_report(
        "runs/quickstart/report".as_ref(),
        &study.history()?,
        &space,
        "quickstart",
        None,
    )?;
    println!("view: tensorboard --logdir runs/quickstart/tb --samples_per_plugin=images=1000");
    Ok(())
}
