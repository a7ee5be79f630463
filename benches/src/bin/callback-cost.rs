//! What the logging callbacks cost per epoch on the digits MLP, piece by piece, on one
//! thread: the confusion-matrix image (a new trial's first, whose frame comes from the
//! process's cache after the first trial, and the next ones, which redraw only the
//! title and the cells whose counts changed, three predictions moving per epoch), what
//! encoding its pixels as RGB would cost alone, and the weight histograms of the digits
//! MLP. One JSON line per piece, in milliseconds (median of repeats).
//!
//! ```text
//! cargo run --release -p knob-benches --bin callback-cost
//! ```

use std::time::Instant;

use knob_callbacks::plot;
use knob_callbacks::tensorboard::summary;

fn median_ms(repeats: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[repeats / 2]
}

fn main() {
    // A plausible digits confusion matrix: mostly diagonal.
    let k = 10;
    let matrix: Vec<Vec<u64>> = (0..k)
        .map(|r| {
            (0..k)
                .map(|c| {
                    if r == c {
                        35
                    } else {
                        ((r * 7 + c * 3) % 4) as u64
                    }
                })
                .collect()
        })
        .collect();
    let names: Vec<String> = (0..k).map(|c| c.to_string()).collect();
    let size = (512, 448);
    let first = median_ms(30, || {
        plot::confusion_matrix(&matrix, &names, "trial 3 · epoch 12", size).expect("drawing");
    });
    // Epoch after epoch, a few predictions move within their rows (a row's total is
    // its class's count in the validation set): here three per epoch.
    let mut epochs = vec![matrix.clone()];
    for e in 1..=30 {
        let mut m = epochs[e - 1].clone();
        for j in 0..3 {
            let r = (e * 3 + j * 7) % k;
            let from = (0..k).max_by_key(|&c| m[r][c]).expect("a column");
            m[r][from] -= 1;
            m[r][(from + 1 + j) % k] += 1;
        }
        epochs.push(m);
    }
    let mut renderer = plot::ConfusionRenderer::new(&names, size).expect("a frame");
    renderer
        .render(&epochs[0], "trial 3 · epoch 0")
        .expect("drawing");
    let mut epoch = 0;
    let next = median_ms(30, || {
        epoch += 1;
        renderer
            .render(&epochs[epoch], &format!("trial 3 · epoch {epoch}"))
            .expect("drawing");
    });
    // What encoding the same pixels as RGB alone would cost (the renderer writes an
    // indexed PNG).
    let drawn = renderer
        .render(&matrix, "trial 3 · epoch 12")
        .expect("drawing");
    let pixels = image::load_from_memory(&drawn.png)
        .expect("a PNG")
        .to_rgb8()
        .into_raw();
    let encode = median_ms(30, || {
        plot::encode_png(&pixels, size.0, size.1, image::ColorType::Rgb8).expect("encoding");
    });
    // The weights of the 64-128-10 MLP.
    let weights: Vec<f32> = (0..64 * 128 + 128 * 10)
        .map(|i| ((i as f32 * 0.618).fract() - 0.5) * 0.3)
        .collect();
    let histogram = median_ms(30, || {
        std::hint::black_box(summary::histogram("w", &weights));
    });
    println!(r#"{{"piece": "confusion_matrix_new_trial_image", "ms": {first:.3}}}"#);
    println!(r#"{{"piece": "confusion_matrix_next_image", "ms": {next:.3}}}"#);
    println!(r#"{{"piece": "confusion_matrix_as_rgb_png_encoding_only", "ms": {encode:.3}}}"#);
    println!(r#"{{"piece": "histograms_64_128_10", "ms": {histogram:.3}}}"#);
}
