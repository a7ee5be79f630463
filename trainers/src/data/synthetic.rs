//! Synthetic data for tests and quick experiments.

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Dataset;

/// `classes` interleaved spiral arms of `per_class` 2-D points each, with Gaussian-ish
/// noise of scale `noise`: not linearly separable, learnable by a small MLP.
pub fn spirals(classes: usize, per_class: usize, noise: f32, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut features = Vec::with_capacity(classes * per_class * 2);
    let mut labels = Vec::with_capacity(classes * per_class);
    for class in 0..classes {
        for i in 0..per_class {
            let r = i as f32 / per_class as f32;
            let angle = class as f32 * std::f32::consts::TAU / classes as f32 + 4.0 * r;
            let jitter = |rng: &mut ChaCha8Rng| noise * (rng.gen::<f32>() + rng.gen::<f32>() - 1.0);
            features.push(r * angle.sin() + jitter(&mut rng));
            features.push(r * angle.cos() + jitter(&mut rng));
            labels.push(class);
        }
    }
    Dataset::new(features, labels, 2, classes.max(1)).expect("consistent by construction")
}
