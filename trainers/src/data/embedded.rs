//! The datasets compiled into the crate (see `data/README.md` for their provenance).

use std::io::Read;

use super::Dataset;

static DIGITS: &[u8] = include_bytes!("../../data/digits.csv.gz");
static MNIST_5K: &[u8] = include_bytes!("../../data/mnist_5k.csv.gz");

/// Parses a gzipped CSV of `dim` integer pixels then a label per line.
fn parse(gz: &[u8], dim: usize, max_pixel: f32) -> Dataset {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .expect("the embedded dataset is valid gzip");
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut values = line
            .split(',')
            .map(|v| v.trim().parse::<f32>().expect("numeric CSV"));
        features.extend(values.by_ref().take(dim).map(|v| v / max_pixel));
        labels.push(values.next().expect("a label") as usize);
    }
    Dataset::new(features, labels, dim, 10).expect("the embedded dataset is consistent")
}

/// The 8x8 handwritten digits (1797 images, pixels scaled to [0, 1]): UCI's optical
/// digits test set, as scikit-learn ships it.
pub fn digits() -> Dataset {
    Dataset {
        image: Some((8, 8)),
        ..parse(DIGITS, 64, 16.0)
    }
}

/// 5000 real MNIST training images (28x28, pixels scaled to [0, 1]), 500 per class,
/// sorted by class: split or shuffle before training.
pub fn mnist5k() -> Dataset {
    Dataset {
        image: Some((28, 28)),
        ..parse(MNIST_5K, 784, 255.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_sets_have_their_documented_shape() {
        let d = digits();
        assert_eq!((d.len(), d.dim, d.classes), (1797, 64, 10));
        let counts: Vec<usize> = (0..10)
            .map(|c| d.labels.iter().filter(|&&l| l == c).count())
            .collect();
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
        assert!(d.features.iter().all(|&x| (0.0..=1.0).contains(&x)));
        let m = mnist5k();
        assert_eq!((m.len(), m.dim), (5000, 784));
        assert!(
            m.labels[..500].iter().all(|&l| l == 0) && m.labels[4500..].iter().all(|&l| l == 9)
        );
    }
}
