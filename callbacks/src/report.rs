//! A study's report: which parameters mattered, how the search went, and each
//! parameter's slice, as a PNG and a markdown summary.

use std::path::{Path, PathBuf};

use knob_core::{BoxError, Direction, Domain, History, Scale, SearchSpace, TrialState};

use plotters::prelude::*;

use crate::plot::{draw_panel, draw_parallel, Panel, Polyline, Series};

/// The complete trials a ranking of the parameters needs: with fewer, every method
/// (this one, a GP's lengthscales) mostly ranks noise, so none is shown.
pub const MIN_TRIALS_FOR_IMPORTANCE: usize = 8;

/// How much of the variance of the objective each parameter explains on its own, over
/// the complete trials: the trials are binned by the parameter (quantiles of a numeric
/// one, its choices for a categorical one) and the spread of the bins' means is
/// compared to the total spread. A conditional parameter is judged on the trials where
/// it was active. Model-free, so it works with every sampler. Sorted from most to least
/// important; the shares sum to 1. Empty below [`MIN_TRIALS_FOR_IMPORTANCE`] complete
/// trials.
pub fn importance(history: &History, space: &SearchSpace) -> Vec<(String, f64)> {
    let all: Vec<_> = history.observations().collect();
    if all.len() < MIN_TRIALS_FOR_IMPORTANCE {
        return Vec::new();
    }
    let mut scores: Vec<(String, f64)> = space
        .params()
        .iter()
        .enumerate()
        .map(|(d, p)| {
            let obs: Vec<_> = all.iter().filter(|o| space.active(o.unit)[d]).collect();
            let n = obs.len();
            let mean = obs.iter().map(|o| o.loss).sum::<f64>() / n.max(1) as f64;
            let total: f64 = obs.iter().map(|o| (o.loss - mean).powi(2)).sum();
            if n < 4 || total <= 0.0 {
                return (p.name.clone(), 1.0);
            }
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| obs[a].unit[d].total_cmp(&obs[b].unit[d]));
            let bins: Vec<Vec<usize>> = match &p.domain {
                Domain::Categorical { choices } => {
                    let k = choices.len();
                    let mut bins = vec![Vec::new(); k];
                    for i in 0..n {
                        bins[Domain::choice_index(obs[i].unit[d], k)].push(i);
                    }
                    bins
                }
                _ => {
                    let b = (n / 4).clamp(2, 5);
                    order.chunks(n.div_ceil(b)).map(<[usize]>::to_vec).collect()
                }
            };
            let explained: f64 = bins
                .iter()
                .filter(|bin| !bin.is_empty())
                .map(|bin| {
                    let m = bin.iter().map(|&i| obs[i].loss).sum::<f64>() / bin.len() as f64;
                    bin.len() as f64 * (m - mean).powi(2)
                })
                .sum();
            (p.name.clone(), explained / total)
        })
        .collect();
    let sum: f64 = scores.iter().map(|s| s.1).sum();
    for s in &mut scores {
        s.1 /= if sum > 0.0 { sum } else { 1.0 };
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores
}

/// Where [`write_report`] put its files.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// The figure as a PNG.
    pub png: PathBuf,
    /// The same figure as an SVG.
    pub svg: PathBuf,
    /// The markdown summary.
    pub markdown: PathBuf,
}

/// A parameter's value on its own scale, with the axis label to match.
fn on_scale(domain: &Domain, name: &str, value: f64) -> (f64, String) {
    match domain {
        Domain::Float {
            scale: Scale::Log, ..
        }
        | Domain::Int {
            scale: Scale::Log, ..
        } => (value.log10(), format!("log10 {name}")),
        Domain::Float {
            scale: Scale::LogOneMinus,
            ..
        } => ((1.0 - value).log10(), format!("log10(1 - {name})")),
        Domain::Categorical { choices } => {
            let names: Vec<String> = choices.iter().map(ToString::to_string).collect();
            (value, format!("{name}: {}", names.join(" | ")))
        }
        _ => (value, name.to_owned()),
    }
}

/// Writes `report.png` and `report.svg` (the optimization history, parallel coordinates
/// of the params coloured by objective, one slice per parameter on its own scale) and
/// `report.md` (best trial, leaderboard, importance) into `dir`.
///
/// `ranking` is the importance to report with the name of its method, such as a GP's
/// lengthscale ranking (`GpSampler::importance`); without one the model-free
/// [`importance`] is used.
pub fn write_report(
    dir: &Path,
    history: &History,
    space: &SearchSpace,
    title: &str,
    ranking: Option<(&str, Vec<(String, f64)>)>,
) -> Result<ReportFiles, BoxError> {
    let at = |path: &Path| {
        let path = path.display().to_string();
        move |e: Box<dyn std::error::Error + Send + Sync>| -> BoxError {
            format!("report {path}: {e}").into()
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| at(dir)(e.into()))?;
    let complete: Vec<_> = history.in_state(TrialState::Complete).collect();
    let mut best = f64::NAN;
    let direction = history.direction();
    let best_so_far: Vec<(f64, f64)> = complete
        .iter()
        .map(|t| {
            let v = t.value.unwrap_or(f64::NAN);
            if best.is_nan() || direction.better(v, best) {
                best = v;
            }
            (t.number as f64, best)
        })
        .collect();
    let values: Vec<(f64, f64)> = complete
        .iter()
        .map(|t| (t.number as f64, t.value.unwrap_or(f64::NAN)))
        .collect();
    let mut panels = vec![Panel {
        title: "optimization history".into(),
        x_label: "trial".into(),
        y_label: "objective".into(),
        log_y: false,
        series: vec![
            Series {
                name: "trial".into(),
                points: values,
                scatter: true,
            },
            Series {
                name: "best so far".into(),
                points: best_so_far,
                scatter: false,
            },
        ],
    }];
    for (d, p) in space.params().iter().enumerate() {
        let mut label = p.name.clone();
        let points = complete
            .iter()
            .filter(|t| t.params.get(&p.name).is_some())
            .map(|t| {
                let raw = match &p.domain {
                    Domain::Categorical { choices } => {
                        Domain::choice_index(t.unit[d], choices.len()) as f64
                    }
                    _ => t.params.float(&p.name).unwrap_or(f64::NAN),
                };
                let (x, l) = on_scale(&p.domain, &p.name, raw);
                label = l;
                (x, t.value.unwrap_or(f64::NAN))
            })
            .collect();
        panels.push(Panel {
            title: format!("slice: {}", p.name),
            x_label: label,
            y_label: "objective".into(),
            log_y: false,
            series: vec![Series {
                name: p.name.clone(),
                points,
                scatter: true,
            }],
        });
    }
    let names: Vec<String> = space.params().iter().map(|p| p.name.clone()).collect();
    let lines: Vec<Polyline> = complete
        .iter()
        .map(|t| Polyline {
            coordinates: t.unit.clone(),
            value: t.value.unwrap_or(f64::NAN),
        })
        .collect();
    let higher_is_better = direction == Direction::Maximize;
    let png = dir.join("report.png");
    let svg = dir.join("report.svg");
    let rows = panels.len().div_ceil(3) as u32 + 1;
    let size = (1500, 60 + 380 * rows);
    draw_report(
        BitMapBackend::new(&png, size).into_drawing_area(),
        title,
        &panels,
        &names,
        &lines,
        higher_is_better,
    )
    .map_err(at(&png))?;
    draw_report(
        SVGBackend::new(&svg, size).into_drawing_area(),
        title,
        &panels,
        &names,
        &lines,
        higher_is_better,
    )
    .map_err(at(&svg))?;

    let mut md = format!("# {title}\n\n");
    if let Some(b) = history.best() {
        md += &format!(
            "Best trial: {} with value {} ({})\n\n",
            b.number,
            knob_core::format_number(b.value.unwrap_or(f64::NAN)),
            b.params
        );
    }
    let count = |s| history.in_state(s).count();
    md += &format!(
        "{} trials: {} complete, {} pruned, {} failed.\n\n## Leaderboard\n\n```\n{}```\n\n## Importance ({})\n\n| parameter | share |\n|---|---:|\n",
        history.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Failed),
        knob_core::Leaderboard::new(history, 10),
        ranking.as_ref().map_or("variance explained, model-free", |r| r.0)
    );
    let complete = count(TrialState::Complete);
    if complete < MIN_TRIALS_FOR_IMPORTANCE {
        md += &format!(
            "| (needs {MIN_TRIALS_FOR_IMPORTANCE} complete trials; this study has {complete}) | |\n"
        );
    } else {
        let shares = ranking.map_or_else(|| importance(history, space), |r| r.1);
        for (name, share) in shares {
            md += &format!("| {name} | {:.1}% |\n", share * 100.0);
        }
    }
    md += "\n![report](report.png)\n";
    let markdown = dir.join("report.md");
    std::fs::write(&markdown, md).map_err(|e| at(&markdown)(e.into()))?;
    Ok(ReportFiles { png, svg, markdown })
}

/// The figure: the history panel and the parallel coordinates on the first row, the
/// slices below, three to a row.
fn draw_report<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    panels: &[Panel],
    names: &[String],
    lines: &[Polyline],
    higher_is_better: bool,
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    crate::plot::ensure_font();
    root.fill(&WHITE)?;
    let root = root.titled(title, (crate::plot::FONT, 22))?;
    let (_, height) = root.dim_in_pixel();
    let rows = panels.len().saturating_sub(1).div_ceil(3) + 1;
    let (top, rest) = root.split_vertically(height / rows as u32);
    let (left, right) = top.split_horizontally(top.dim_in_pixel().0 / 3);
    draw_panel(&panels[0], &left)?;
    draw_parallel(
        &right,
        "parallel coordinates (darker is better)",
        names,
        lines,
        higher_is_better,
    )?;
    let slices = &panels[1..];
    if !slices.is_empty() {
        let areas = rest.split_evenly((slices.len().div_ceil(3), 3));
        for (panel, area) in slices.iter().zip(areas.iter()) {
            draw_panel(panel, area)?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_core::testing::UniformSampler;
    use knob_core::{Outcome, Study};

    #[test]
    fn the_parameter_that_drives_the_objective_ranks_first() {
        let space = SearchSpace::builder()
            .float("matters", 0.0, 1.0, Scale::Linear)
            .float("noise", 1e-3, 1.0, Scale::Log)
            .categorical("irrelevant", ["a", "b"])
            .build()
            .unwrap();
        let study = Study::builder(space.clone())
            .sampler(UniformSampler)
            .seed(3)
            .build()
            .unwrap();
        for _ in 0..60 {
            let t = study.ask().unwrap().unwrap();
            let x = t.params.float("matters").unwrap();
            let wiggle = 0.02 * t.params.float("noise").unwrap();
            study
                .tell(t.number, Outcome::Complete((x - 0.2).powi(2) + wiggle))
                .unwrap();
        }
        let history = study.history().unwrap();
        let ranking = importance(&history, &space);
        assert_eq!(ranking[0].0, "matters", "{ranking:?}");
        assert!(ranking[0].1 > 0.8, "{ranking:?}");
        assert!((ranking.iter().map(|r| r.1).sum::<f64>() - 1.0).abs() < 1e-9);

        let dir = tempfile::tempdir().unwrap();
        let files = write_report(dir.path(), &history, &space, "test study", None).unwrap();
        let md = std::fs::read_to_string(&files.markdown).unwrap();
        assert!(
            md.contains("| matters |") && md.contains("Best trial"),
            "{md}"
        );
        let img = image::open(&files.png).unwrap();
        assert_eq!(img.width(), 1500);
        // Three trials rank nothing.
        let few = knob_core::History::new(history.trials()[..3].to_vec(), history.direction());
        assert!(importance(&few, &space).is_empty());
        let files = write_report(dir.path(), &few, &space, "three trials", None).unwrap();
        let md = std::fs::read_to_string(&files.markdown).unwrap();
        assert!(
            md.contains("needs 8 complete trials; this study has 3"),
            "{md}"
        );
        let svg = std::fs::read_to_string(&files.svg).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("parallel coordinates"),
            "an SVG with the same figure"
        );
    }
}
