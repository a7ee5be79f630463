//! Coarse to fine: the zoom sampler's rounds on one plot. Each round of 12 trials
//! samples a box half as wide as the last, centred on the best trial so far, on each
//! parameter's own scale (here the learning rate's decades).
//!
//! Draws `runs/coarse_to_fine.png` and prints each round's box.

use knob_callbacks::plot::{line_panels, Panel, Series};
use knob_core::{Outcome, Report, Scale, SearchSpace, Study};
use knob_samplers::ZoomSampler;

fn main() -> Result<(), Report> {
    let space = SearchSpace::builder()
        .float("lr", 1e-5, 1.0, Scale::Log)
        .float("momentum", 0.9, 0.999, Scale::LogOneMinus)
        .build()?;
    let zoom = ZoomSampler::new().round(12)?.shrink(0.5)?;
    let study = Study::builder(space.clone())
        .sampler(ZoomSampler::new().round(12)?.shrink(0.5)?)
        .seed(1)
        .build()?;
    let mut rounds: Vec<Series> = Vec::new();
    for round in 0..5 {
        let b = zoom.zoom_box(&space, &study.history()?, round * 12);
        println!(
            "round {round}: box lower {:?}, width {:?} (unit cube)",
            b.lower
                .iter()
                .map(|v| (v * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            b.width
                .iter()
                .map(|v| (v * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
        let mut points = Vec::new();
        for _ in 0..12 {
            let t = study.ask()?.expect("zooming never runs out");
            let (lr, m) = (t.params.float("lr")?, t.params.float("momentum")?);
            // Best near lr = 10^-2.5 and 1 - momentum = 10^-2.2.
            let loss = (lr.log10() + 2.5).powi(2) + ((1.0 - m).log10() + 2.2).powi(2);
            study.tell(t.number, Outcome::Complete(loss))?;
            points.push((lr.log10(), (1.0 - m).log10()));
        }
        rounds.push(Series {
            name: format!("round {round}"),
            points,
            scatter: true,
        });
    }
    let best = study.best_trial()?.expect("complete trials");
    println!(
        "best: {} with loss {:.5}",
        best.params,
        best.value.unwrap_or(f64::NAN)
    );
    let panel = Panel {
        title: "trials by round".into(),
        x_label: "log10 lr".into(),
        y_label: "log10(1 - momentum)".into(),
        log_y: false,
        series: rounds,
        ..Default::default()
    };
    std::fs::create_dir_all("runs")?;
    let path = std::path::Path::new("runs/coarse_to_fine.png");
    line_panels(
        path,
        "Coarse to fine with ZoomSampler",
        &[panel],
        1,
        (800, 640),
    )?;
    println!("plot: {}", path.display());
    Ok(())
}
