//! Your own training loop, no study: the `Mlp` model trained batch by batch, watched by
//! composed callbacks: TensorBoard, a confusion matrix, a CSV log, early stopping,
//! ReduceLROnPlateau and a lambda that prints each epoch.
//!
//! Logs go to `runs/compose_callbacks/`; view them with
//! `tensorboard --logdir runs/compose_callbacks/tb`.

use knob_callbacks::{ConfusionMatrix, CsvLogger, EarlyStopping, ReduceLROnPlateau, TensorBoard};
use knob_core::{
    Callback, CallbackList, Control, EpochView, ImageBatch, LambdaCallback, Logs, Params,
    Predictions, Report, TrialInfo,
};
use knob_trainers::{data, Config, Cpu, Mlp, MlpDevice};

fn main() -> Result<(), Report> {
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let params = Params::from_iter([("lr", 2e-3.into()), ("units", 64.into())]);
    let config = Config::from_params(&params)?;
    let mut model = Mlp::new(&[train.dim, 64, train.classes], &config, Cpu::build(0, 1)?);

    let dir = std::path::Path::new("runs/compose_callbacks");
    let mut callbacks = CallbackList::new()
        .with(TensorBoard::new(dir.join("tb")).histogram_freq(2))
        .with(
            ConfusionMatrix::new(dir.join("tb"))
                .every(5)
                .save_to(dir.join("confusion")),
        )
        .with(CsvLogger::new(dir.join("metrics.csv")))
        .with(EarlyStopping::new("val_loss").patience(3).min_delta(1e-3))
        .with(ReduceLROnPlateau::new("val_loss").patience(2).factor(0.5))
        .with(LambdaCallback::new().epoch_end(|epoch, logs, _| {
            println!(
                "epoch {epoch:>2}: loss {:.4}  val_accuracy {:.4}",
                logs["loss"], logs["val_accuracy"]
            );
            Ok(Control::Continue)
        }));

    let trial = TrialInfo::new(0, params);
    let class_names: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    let images: Vec<f32> = train.features[..5 * train.dim]
        .iter()
        .map(|x| (x + 2.0) / 4.0)
        .collect();
    callbacks.on_train_begin(&trial)?;
    let mut logs = Logs::new();
    for epoch in 0..40 {
        let begin = EpochView::new(&trial).with_learning_rate(model.learning_rate());
        callbacks.on_epoch_begin(epoch, &begin)?;
        let (mut loss, mut correct) = (0.0, 0);
        for (b, rows) in (0..train.len()).collect::<Vec<_>>().chunks(32).enumerate() {
            let x: Vec<f32> = rows.iter().flat_map(|&i| train.row(i).to_vec()).collect();
            let labels: Vec<usize> = rows.iter().map(|&i| train.labels[i]).collect();
            let (batch_loss, hits) = model.train_batch(&x, &labels);
            loss += batch_loss as f64 * rows.len() as f64;
            correct += hits;
            callbacks.on_batch_end(b, &Logs::from([("loss".to_owned(), batch_loss as f64)]))?;
        }
        let logits = model.logits(&valid.features, valid.len());
        let predicted: Vec<usize> = logits
            .chunks(valid.classes)
            .map(|row| {
                (0..row.len())
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(0)
            })
            .collect();
        let val_loss: f64 = logits
            .chunks(valid.classes)
            .zip(&valid.labels)
            .map(|(row, &l)| {
                let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let lse = max + row.iter().map(|z| (z - max).exp()).sum::<f32>().ln();
                (lse - row[l]) as f64
            })
            .sum::<f64>()
            / valid.len() as f64;
        let val_accuracy = predicted
            .iter()
            .zip(&valid.labels)
            .filter(|(p, l)| p == l)
            .count() as f64
            / valid.len() as f64;
        logs = Logs::from([
            ("loss".to_owned(), loss / train.len() as f64),
            ("accuracy".to_owned(), correct as f64 / train.len() as f64),
            ("val_loss".to_owned(), val_loss),
            ("val_accuracy".to_owned(), val_accuracy),
            ("lr".to_owned(), model.learning_rate()),
        ]);
        let view = EpochView::new(&trial)
            .with_weights(&model)
            .with_predictions(Predictions {
                predicted: &predicted,
                actual: &valid.labels,
                class_names: &class_names,
            })
            .with_images(ImageBatch {
                height: 8,
                width: 8,
                channels: 1,
                pixels: &images,
            })
            .with_learning_rate(model.learning_rate());
        let control = callbacks.on_epoch_end(epoch, &logs, &view)?;
        model.set_learning_rate(view.learning_rate().unwrap_or(model.learning_rate()));
        if control == Control::Stop {
            println!("early stopping after epoch {epoch}");
            break;
        }
    }
    callbacks.on_train_end(&logs)?;
    println!("logs: {}", dir.display());
    Ok(())
}
