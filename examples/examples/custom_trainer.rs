//! A study driven by your own `Trainer`: here a k-nearest-neighbour classifier on the
//! embedded digits, written from scratch, tuned over k, the distance and the vote
//! weighting. Nothing about the study changes when the model does.

use knob_core::{
    BoxError, CallbackList, Direction, Params, Report, Scale, SearchSpace, Study, Trainer,
    TrialContext,
};
use knob_samplers::TpeSampler;
use knob_trainers::data::{self, Dataset};

/// Classifies each validation image by the vote of its `k` nearest training images.
struct Knn {
    train: Dataset,
    valid: Dataset,
}

impl Trainer for Knn {
    fn fit(&mut self, params: &Params, ctx: &mut TrialContext<'_>) -> Result<f64, BoxError> {
        let k = params.usize("k")?;
        let manhattan = params.str("distance")? == "manhattan";
        let weighted = params.bool("weighted")?;
        let mut correct = 0;
        for i in 0..self.valid.len() {
            let x = self.valid.row(i);
            let mut dists: Vec<(f32, usize)> = (0..self.train.len())
                .map(|j| {
                    let d = x.iter().zip(self.train.row(j)).map(|(a, b)| {
                        if manhattan {
                            (a - b).abs()
                        } else {
                            (a - b) * (a - b)
                        }
                    });
                    (d.sum(), self.train.labels[j])
                })
                .collect();
            dists.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            let mut votes = vec![0.0f32; self.train.classes];
            for &(d, label) in &dists[..k] {
                votes[label] += if weighted { 1.0 / (d + 1e-6) } else { 1.0 };
            }
            let guess = (0..votes.len())
                .max_by(|&a, &b| votes[a].total_cmp(&votes[b]))
                .unwrap_or(0);
            correct += usize::from(guess == self.valid.labels[i]);
            if i % 100 == 99 {
                // Partial accuracy as an intermediate value, so pruners could act.
                ctx.report((i / 100) as u64, correct as f64 / (i + 1) as f64)?;
            }
        }
        Ok(correct as f64 / self.valid.len() as f64)
    }
}

fn main() -> Result<(), Report> {
    let (train, valid) = data::digits().split(0.25, 0);
    let space = SearchSpace::builder()
        .int("k", 1, 25, Scale::Log)
        .categorical("distance", ["euclidean", "manhattan"])
        .categorical("weighted", [true, false])
        .build()?;
    let study = Study::builder(space)
        .direction(Direction::Maximize)
        .sampler(TpeSampler::new().startup(6))
        .build()?;
    let summary = study.optimize(
        16,
        2,
        |_| {
            Ok(Knn {
                train: train.clone(),
                valid: valid.clone(),
            })
        },
        |_| CallbackList::new(),
    )?;
    println!("{summary}\n\n{}", study.leaderboard(5)?);
    Ok(())
}
