//! How fast knob writes TensorBoard scalars: N scalar events (default 1,000,000) into one
//! event file, against tensorboardX writing the same events (run through
//! `benches/tb_write_peer.py` with the Python of `KNOB_TB_PYTHON` or `.venv-tb`, when
//! it has tensorboardX). Prints one JSON line.
//!
//! `tb-write [N]`

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use knob_callbacks::tensorboard::{summary, RunWriter};

fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().expect("N is a number"));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let start = Instant::now();
    {
        let mut run = RunWriter::create(&dir.path().join("knob")).expect("an event file");
        for step in 0..n {
            run.write(step, vec![summary::scalar("loss", 1.0 / (step + 1) as f64)])
                .expect("a write");
        }
        run.flush().expect("a flush");
    }
    let knob = start.elapsed().as_secs_f64();

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("KNOB_TB_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|_| root.join("../.venv-tb/bin/python"));
    let peer = Command::new(&python)
        .arg(root.join("tb_write_peer.py"))
        .arg(dir.path().join("tensorboardx"))
        .arg(n.to_string())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        });
    match peer {
        Some(txl) => println!(
            r#"{{"bench": "tb_write_scalars", "events": {n}, "knob_seconds": {knob:.3}, "tensorboardx_seconds": {txl:.3}, "ratio_knob_to_tensorboardx": {:.4}}}"#,
            knob / txl
        ),
        None => println!(
            r#"{{"bench": "tb_write_scalars", "events": {n}, "knob_seconds": {knob:.3}, "tensorboardx_seconds": null, "note": "no Python with tensorboardX at {}"}}"#,
            python.display()
        ),
    }
}
