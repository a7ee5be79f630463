//! Population-based training on the embedded digits: eight MLPs train side by side,
//! and every three epochs the worst two copy the weights and hyperparameters of the
//! best two and perturb them. The best model's lineage (its own generations and, before
//! each copy, those of the member it copied) is the schedule PBT found; it is printed
//! generation by generation.
//!
//! The population is saved to `runs/population/` after every generation: stop the
//! program (Ctrl-C) and run it again, and it resumes where it stopped. TensorBoard
//! logs go to `runs/population/tb`, one run per member (`tensorboard --logdir
//! runs/population/tb`): its curve jumps where it copied a better member.
//!
//! ```text
//! cargo run --release --example population
//! ```

use knob_callbacks::TensorBoard;
use knob_core::{CallbackList, Direction, Params, Report, Scale, SearchSpace, Workers};
use knob_samplers::Pbt;
use knob_trainers::{data, MlpTrainer};

fn main() -> Result<(), Report> {
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    // What a checkpoint can change during training; the architecture stays fixed.
    let space = SearchSpace::builder()
        .float("lr", 1e-5, 1.0, Scale::Log)
        .float("dropout", 0.0, 0.6, Scale::Linear)
        .categorical("batch_size", [16, 64, 256])
        .build()?;
    let fixed = Params::from_iter([("units", 128.into())]);
    let population = Pbt::new(space)
        .direction(Direction::Maximize)
        .population(8)
        .epochs(24)
        .interval(3)
        .seed(1)
        .directory("runs/population")
        .run_with_callbacks(
            &Workers::cpu(2),
            |_| {
                Ok(MlpTrainer::new(train.clone(), valid.clone())?
                    .defaults(fixed.clone())
                    .seed(1))
            },
            |_| CallbackList::new().with(TensorBoard::new("runs/population/tb")),
        )?;

    let best = population.best().ok_or("no member finished")?;
    println!(
        "best member: {} with validation accuracy {:.4} ({} epochs trained in this run)\n",
        best.id,
        best.score().unwrap_or(f64::NAN),
        population.epochs_trained
    );
    println!("generation  epochs  lr          dropout  batch  accuracy  weights from");
    for step in population.lineage(best.id) {
        println!(
            "{:>10}  {:>2}-{:<3}  {:<10.3e}  {:<7.3}  {:>5}  {:>8}  {}",
            step.generation,
            step.epochs.start,
            step.epochs.end,
            step.params.float("lr")?,
            step.params.float("dropout")?,
            step.params.int("batch_size")?,
            step.score.map_or("failed".into(), |s| format!("{s:.4}")),
            step.copied_from
                .map_or("-".into(), |m| format!("member {m}"))
        );
    }
    Ok(())
}
