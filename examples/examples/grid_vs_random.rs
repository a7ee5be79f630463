//! Why random search beats grid search: when f(x, y) = g(x) + h(y) and h barely matters,
//! a 5x5 grid tries only 5 distinct values of x, where 25 random trials try 25.
//!
//! Prints the distinct x values each tried and the best found, and draws both to
//! `runs/grid_vs_random.png`.

use std::collections::BTreeSet;

use knob_callbacks::plot::{line_panels, Panel, Series};
use knob_core::{BoxError, Outcome, Report, Scale, SearchSpace, Study, StudyBuilder};
use knob_samplers::{GridSampler, RandomSampler};

/// g(x) has a narrow dip at x = 0.63, between grid lines; h(y) is nearly flat.
fn f(x: f64, y: f64) -> f64 {
    -(-((x - 0.63) / 0.05).powi(2)).exp() + 0.01 * (y - 0.5).powi(2)
}

fn run(builder: StudyBuilder) -> Result<Vec<(f64, f64, f64)>, BoxError> {
    let study: Study = builder.seed(3).build()?;
    let mut points = Vec::new();
    while let Some(t) = study.ask()? {
        let (x, y) = (t.params.float("x")?, t.params.float("y")?);
        study.tell(t.number, Outcome::Complete(f(x, y)))?;
        points.push((x, y, f(x, y)));
        if points.len() == 25 {
            break;
        }
    }
    Ok(points)
}

fn main() -> Result<(), Report> {
    let space = SearchSpace::builder()
        .float("x", 0.0, 1.0, Scale::Linear)
        .float("y", 0.0, 1.0, Scale::Linear)
        .build()?;
    let grid = run(Study::builder(space.clone()).sampler(GridSampler::new().resolution(5)?))?;
    let random = run(Study::builder(space).sampler(RandomSampler::new()))?;
    for (name, points) in [("grid", &grid), ("random", &random)] {
        let xs: BTreeSet<u64> = points.iter().map(|p| (p.0 * 1e6) as u64).collect();
        let best = points.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
        println!(
            "{name:>6}: {} distinct x values, best f = {best:.4}",
            xs.len()
        );
    }
    let panel = |title: &str, points: &[(f64, f64, f64)]| Panel {
        title: title.into(),
        x_label: "x (matters)".into(),
        y_label: "y (barely matters)".into(),
        log_y: false,
        series: vec![Series {
            name: title.into(),
            points: points.iter().map(|p| (p.0, p.1)).collect(),
            scatter: true,
        }],
        ..Default::default()
    };
    std::fs::create_dir_all("runs")?;
    let path = std::path::Path::new("runs/grid_vs_random.png");
    line_panels(
        path,
        "25 trials: grid versus random",
        &[panel("grid", &grid), panel("random", &random)],
        2,
        (1000, 460),
    )?;
    println!("plot: {}", path.display());
    Ok(())
}
