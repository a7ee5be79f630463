//! Benchmarks for knob. Each is a binary in `src/bin/` that prints numbers (one JSON
//! object per line); run one with `cargo run --release -p knob-benches --bin NAME`.

pub mod flags;
pub mod hypervolume;
pub mod pruning;
pub mod regret;
