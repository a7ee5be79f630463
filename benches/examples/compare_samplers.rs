//! A quick run of the sampler benchmark: every sampler on two test functions over a few
//! seeds, a regret table, and the median regret curves in `runs/compare_samplers.png`.
//! The full benchmark is `cargo run --release -p knob-benches --bin sampler-bench`;
//! this one is `cargo run --release -p knob-benches --example compare_samplers`.

use knob_benches::regret::{plot_curves, run, summary_table};
use knob_core::Report;
use knob_samplers::testing::TestFunction;
use knob_samplers::NAMES;

fn main() -> Result<(), Report> {
    let mut runs = Vec::new();
    for name in ["branin", "logscale_lr"] {
        let function = TestFunction::by_name(name).expect("a known function");
        for sampler in NAMES {
            for seed in 0..3 {
                runs.push(run(&function, sampler, seed, 30));
            }
        }
    }
    print!("{}", summary_table(&runs));
    std::fs::create_dir_all("runs")?;
    let path = std::path::Path::new("runs/compare_samplers.png");
    plot_curves(&runs, path)?;
    println!("\nplot: {}", path.display());
    Ok(())
}
