//! Classification datasets: the embedded digits and MNIST subset, IDX files, synthetic
//! spirals; seeded splits and standardization.

mod embedded;
mod idx;
mod synthetic;

pub use embedded::{digits, mnist5k};
pub use idx::read_idx;
pub use synthetic::spirals;

use rand::seq::SliceRandom;

use crate::DataError;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A classification dataset: `len` examples of `dim` features (row-major), labels in
/// `0..classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Features, one row per example.
    pub features: Vec<f32>,
    /// Labels.
    pub labels: Vec<usize>,
    /// Features per example.
    pub dim: usize,
    /// Number of classes.
    pub classes: usize,
    /// `(height, width)` when the features are a grey image, for image summaries.
    pub image: Option<(usize, usize)>,
}

impl Dataset {
    /// Builds a dataset, checking that the sizes agree and labels are in range.
    pub fn new(
        features: Vec<f32>,
        labels: Vec<usize>,
        dim: usize,
        classes: usize,
    ) -> Result<Self, DataError> {
        if dim == 0 || features.len() != labels.len() * dim {
            return Err(DataError::Shape(format!(
                "{} feature values do not make {} examples of {dim} features",
                features.len(),
                labels.len()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| l >= classes) {
            return Err(DataError::Shape(format!(
                "label {bad} is not below the {classes} classes"
            )));
        }
        Ok(Self {
            features,
            labels,
            dim,
            classes,
            image: None,
        })
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of example `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.dim..(i + 1) * self.dim]
    }

    /// The examples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let mut features = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            features.extend_from_slice(self.row(i));
        }
        Self {
            features,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ..self.clone_empty()
        }
    }

    fn clone_empty(&self) -> Self {
        Self {
            features: Vec::new(),
            labels: Vec::new(),
            dim: self.dim,
            classes: self.classes,
            image: self.image,
        }
    }

    /// A shuffled split into training and validation parts, stratified by class (each
    /// class contributes the same share to validation), fixed by `seed`.
    pub fn split(&self, validation: f64, seed: u64) -> (Self, Self) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut train, mut valid) = (Vec::new(), Vec::new());
        for class in 0..self.classes {
            let mut members: Vec<usize> = (0..self.len())
                .filter(|&i| self.labels[i] == class)
                .collect();
            members.shuffle(&mut rng);
            let k = (members.len() as f64 * validation).round() as usize;
            valid.extend_from_slice(&members[..k]);
            train.extend_from_slice(&members[k..]);
        }
        train.shuffle(&mut rng);
        valid.shuffle(&mut rng);
        (self.subset(&train), self.subset(&valid))
    }
}

/// Splits `data` (stratified, `validation` share, fixed by `seed`) and standardizes
/// both parts with statistics of the training part: ready for [`crate::MlpTrainer`].
pub fn prepare(
    data: Dataset,
    validation: f64,
    seed: u64,
) -> (std::sync::Arc<Dataset>, std::sync::Arc<Dataset>) {
    let (mut train, mut valid) = data.split(validation, seed);
    let standardizer = Standardizer::fit(&train);
    standardizer.apply(&mut train);
    standardizer.apply(&mut valid);
    (std::sync::Arc::new(train), std::sync::Arc::new(valid))
}

/// Per-feature mean and standard deviation, fitted on training data only and applied to
/// every part, so no statistic of the validation data leaks into training.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Vec<f32>,
    scale: Vec<f32>,
}

impl Standardizer {
    /// Fits the statistics of `data`'s features.
    pub fn fit(data: &Dataset) -> Self {
        let n = data.len().max(1) as f64;
        let mut mean = vec![0.0f64; data.dim];
        let mut sq = vec![0.0f64; data.dim];
        for i in 0..data.len() {
            for (j, &x) in data.row(i).iter().enumerate() {
                mean[j] += x as f64;
                sq[j] += (x as f64) * (x as f64);
            }
        }
        let mean: Vec<f64> = mean.iter().map(|m| m / n).collect();
        let sds: Vec<f64> = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| (s / n - m * m).max(0.0).sqrt())
            .collect();
        // Nearly constant features (pixels at an image's border, lit in a handful of
        // examples) would be blown up to huge values by their tiny deviation; no
        // feature is scaled by more than the typical (median) feature is.
        let mut sorted = sds.clone();
        sorted.sort_by(f64::total_cmp);
        let floor = sorted
            .get(sorted.len() / 2)
            .copied()
            .unwrap_or(1.0)
            .max(1e-6);
        let scale = sds.iter().map(|sd| (1.0 / sd.max(floor)) as f32).collect();
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            scale,
        }
    }

    /// Standardizes `data`'s features in place.
    pub fn apply(&self, data: &mut Dataset) {
        for row in data.features.chunks_mut(data.dim) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *x = (*x - m) * s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_stratified_disjoint_and_seeded() {
        let data = digits();
        let (train, valid) = data.split(0.2, 7);
        assert_eq!(train.len() + valid.len(), data.len());
        for class in 0..10 {
            let in_valid = valid.labels.iter().filter(|&&l| l == class).count();
            let total = data.labels.iter().filter(|&&l| l == class).count();
            assert!(
                (in_valid as f64 - 0.2 * total as f64).abs() <= 1.0,
                "class {class}"
            );
        }
        assert_eq!(data.split(0.2, 7), (train.clone(), valid));
        assert_ne!(data.split(0.2, 8).0, train);
    }

    #[test]
    fn standardization_uses_training_statistics() {
        let data = Dataset::new(vec![1.0, 10.0, 3.0, 10.0], vec![0, 1], 2, 2).unwrap();
        let s = Standardizer::fit(&data);
        let mut copy = data.clone();
        s.apply(&mut copy);
        assert_eq!(copy.features, vec![-1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn inconsistent_sizes_are_refused() {
        assert!(Dataset::new(vec![0.0; 5], vec![0, 1], 2, 2)
            .unwrap_err()
            .to_string()
            .contains("5 feature values"));
        assert!(Dataset::new(vec![0.0; 4], vec![0, 2], 2, 2)
            .unwrap_err()
            .to_string()
            .contains("label 2"));
    }
}
