//! A small study end to end: a search space with every kind of scale, random search on
//! two workers, a journal that a rerun resumes, callbacks, and a leaderboard.
//!
//! The objective is a closed-form stand-in for a training run (its optimum sits at a
//! learning rate of 3e-3, β = 0.99, 2 layers of 64 units, ReLU), so the example runs in
//! a second. Rerun it with the same journal to see the study resume.

use knob_callbacks::{EarlyStopping, TerminateOnNaN};
use knob_core::{
    BoxError, Callback, CallbackList, Direction, EpochView, Logs, Params, Report, Scale,
    SearchSpace, Study, TrialContext,
};
use knob_samplers::RandomSampler;
use knob_trainers::FnTrainer;

/// A pretend validation accuracy that peaks at the known optimum and improves by epoch.
fn train(params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
    let lr = params.float("lr")?;
    let beta = params.float("momentum")?;
    let layers = params.int("layers")? as f64;
    let units = params.int("units")? as f64;
    let relu = params.str("activation")? == "relu";
    let gap = (lr / 3e-3).log10().powi(2)
        + 0.5 * ((1.0 - beta) / 0.01).log10().powi(2)
        + 0.02 * (layers - 2.0).powi(2)
        + 0.3 * (units / 64.0).log2().powi(2) / 4.0
        + if relu { 0.0 } else { 0.05 };
    let ceiling = 0.99 - 0.2 * gap.min(4.0);

    let info = ctx.info().clone();
    ctx.callbacks.on_train_begin(&info)?;
    let mut logs = Logs::new();
    let mut accuracy = 0.0;
    for epoch in 0..10u64 {
        accuracy = ceiling * (1.0 - (-0.5 * (epoch + 1) as f64).exp());
        logs.insert("val_accuracy".into(), accuracy);
        logs.insert("val_loss".into(), 1.0 - accuracy);
        // The callbacks' epoch end, then the value reported to the study's pruner.
        if ctx
            .end_epoch(epoch as usize, &logs, &EpochView::new(&info), accuracy)?
            .is_stop()
        {
            break;
        }
    }
    ctx.callbacks.on_train_end(&logs)?;
    Ok(accuracy)
}

fn main() -> Result<(), Report> {
    let space = SearchSpace::builder()
        .float("lr", 1e-5, 1e-1, Scale::Log)
        .float("momentum", 0.9, 0.999, Scale::LogOneMinus)
        .int("layers", 1, 4, Scale::Linear)
        .int("units", 16, 256, Scale::Log)
        .categorical("activation", ["relu", "tanh"])
        .build()?;
    let journal = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/quickstart.jsonl".into());
    let study = Study::builder(space)
        .direction(Direction::Maximize)
        .sampler(RandomSampler::new())
        .journal(&journal)
        .seed(42)
        .build()?;

    let summary = study.optimize(
        40,
        2,
        |_worker| Ok(FnTrainer::new(train)),
        |_trial| {
            CallbackList::new()
                .with(
                    EarlyStopping::new("val_accuracy")
                        .patience(2)
                        .min_delta(1e-3),
                )
                .with(TerminateOnNaN::new())
        },
    )?;
    println!("{summary}\n");
    println!("{}", study.leaderboard(5)?);
    println!("journal: {journal} (run again to resume; delete it to start over)");
    Ok(())
}
