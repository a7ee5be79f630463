//! Batch normalization makes training robust to the hyperparameters: the same random
//! search over learning rate, depth and width, with and without batch norm, and the
//! share of trials that reach a validation accuracy threshold in each.

use knob_core::{CallbackList, Direction, Params, Report, Scale, SearchSpace, Study, TrialState};
use knob_samplers::RandomSampler;
use knob_trainers::{data, MlpTrainer};

const THRESHOLD: f64 = 0.95;
const TRIALS: usize = 16;

fn main() -> Result<(), Report> {
    let (train, valid) = data::prepare(data::digits(), 0.2, 0);
    let space = SearchSpace::builder()
        .float("lr", 1e-4, 1.0, Scale::Log)
        .int("layers", 2, 4, Scale::Linear)
        .int("units", 16, 256, Scale::Log)
        .categorical("activation", ["relu", "sigmoid", "tanh"])
        .build()?;
    for batch_norm in [false, true] {
        // The same seed: both searches try exactly the same configurations.
        let study = Study::builder(space.clone())
            .direction(Direction::Maximize)
            .sampler(RandomSampler::new())
            .seed(7)
            .build()?;
        let fixed = Params::from_iter([
            ("epochs", 5.into()),
            ("optimizer", "sgd".into()),
            ("batch_norm", batch_norm.into()),
        ]);
        study.optimize(
            TRIALS,
            2,
            |_| MlpTrainer::new(train.clone(), valid.clone()).map(|t| t.defaults(fixed.clone())),
            |_| CallbackList::new(),
        )?;
        let history = study.history()?;
        let good = history
            .in_state(TrialState::Complete)
            .filter(|t| t.value.unwrap_or(0.0) >= THRESHOLD)
            .count();
        let best = history.best().and_then(|t| t.value).unwrap_or(f64::NAN);
        println!(
            "batch norm {:>3}: {good:>2} of {TRIALS} trials reach {:.0}% validation accuracy (best {:.2}%)",
            if batch_norm { "on" } else { "off" },
            THRESHOLD * 100.0,
            best * 100.0
        );
    }
    Ok(())
}
