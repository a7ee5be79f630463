//! A study's report: how the search went, which parameters mattered, every trial's
//! learning curve and each parameter's slice, as a PNG, an SVG, a Markdown summary and
//! one self-contained HTML page with a sortable table of every trial.

mod figure;
mod html;
mod importance;

pub use importance::{importance, METHOD, MIN_TRIALS_FOR_IMPORTANCE};

use std::path::{Path, PathBuf};

use knob_core::pareto::{hypervolume, pareto_front};
use knob_core::{BoxError, Direction, Domain, History, Scale, SearchSpace, Trial, TrialState};

use crate::plot::{Axis, Contour, Curve, Panel, Polyline, Series};
use figure::{Cell, FirstRow};
/// Where [`write_report`] put its files.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// The figure as a PNG.
    pub png: PathBuf,
    /// The same figure as an SVG.
    pub svg: PathBuf,
    /// The markdown summary.
    pub markdown: PathBuf,
    /// One page holding the figure, the summary and a sortable table of every trial.
    pub html: PathBuf,
}

/// The axis a parameter is drawn on: log scales at log10 of the value (ticks still
/// name values), categoricals by choice index.
fn axis_of(domain: &Domain) -> Axis {
    match domain {
        Domain::Float {
            scale: Scale::Log, ..
        }
        | Domain::Int {
            scale: Scale::Log, ..
        } => Axis::Log10,
        Domain::Float {
            scale: Scale::LogOneMinus,
            ..
        } => Axis::Log10OneMinus,
        Domain::Int { .. } => Axis::Integer,
        Domain::Categorical { choices } => {
            Axis::Names(choices.iter().map(ToString::to_string).collect())
        }
        Domain::Float { .. } => Axis::Plain,
    }
}

/// Where `trial`'s value of parameter `index` sits on [`axis_of`] its domain; `None`
/// when the parameter was inactive.
fn position(space: &SearchSpace, index: usize, trial: &Trial) -> Option<f64> {
    let p = &space.params()[index];
    let value = trial.params.get(&p.name)?;
    let x = match &p.domain {
        Domain::Categorical { choices } => choices.iter().position(|c| c == value)? as f64,
        _ => trial.params.float(&p.name).ok()?,
    };
    Some(on_axis(&p.domain, x))
}

/// A numeric value's position on its domain's axis.
fn on_axis(domain: &Domain, x: f64) -> f64 {
    match axis_of(domain) {
        Axis::Log10 => x.log10(),
        Axis::Log10OneMinus => -(1.0 - x).log10(),
        _ => x,
    }
}

/// The positions of a domain's ends.
fn extent(domain: &Domain) -> (f64, f64) {
    match domain {
        Domain::Float { low, high, .. } => (on_axis(domain, *low), on_axis(domain, *high)),
        Domain::Int { low, high, .. } => {
            (on_axis(domain, *low as f64), on_axis(domain, *high as f64))
        }
        Domain::Categorical { choices } => (0.0, choices.len().saturating_sub(1) as f64),
    }
}

/// Everything the report shows, computed once for all its formats.
struct Contents<'a> {
    title: &'a str,
    history: &'a History,
    space: &'a SearchSpace,
    /// fANOVA's ranking, most important first (empty below enough trials).
    ranking: Vec<(String, f64)>,
    /// A model's own ranking shown beside it, with its method's name.
    model: Option<(String, Vec<(String, f64)>)>,
}

/// Writes `report.png` and `report.svg` (the optimization history with complete and
/// pruned trials, parallel coordinates of the params coloured by objective, the
/// learning curves of every trial, a contour of the two most important parameters, and
/// one slice per parameter on its own scale), `report.md` (counts by state, best trial,
/// leaderboard, importance) and `report.html` (all of it on one page, with every trial
/// in a table that sorts by any column) into `dir`.
///
/// Importance is fANOVA on a random forest ([`importance`]); `model` adds a ranking of
/// the sampler's own beside it, with its method's name, such as a GP's lengthscales
/// (`GpSampler::importance`). Neither is shown below [`MIN_TRIALS_FOR_IMPORTANCE`]
/// complete trials. The contour plot shows the two parameters ranked first (by the
/// model's ranking when there is one).
pub fn write_report(
    dir: &Path,
    history: &History,
    space: &SearchSpace,
    title: &str,
    model: Option<(&str, Vec<(String, f64)>)>,
) -> Result<ReportFiles, BoxError> {
    let at = |path: &Path| {
        let path = path.display().to_string();
        move |e: BoxError| -> BoxError { format!("report {path}: {e}").into() }
    };
    std::fs::create_dir_all(dir).map_err(|e| at(dir)(e.into()))?;
    let enough = history.in_state(TrialState::Complete).count() >= MIN_TRIALS_FOR_IMPORTANCE;
    let contents = Contents {
        title,
        history,
        space,
        ranking: importance(history, space),
        model: model
            .filter(|_| enough)
            .map(|(method, ranking)| (method.to_owned(), ranking)),
    };
    let (first_row, cells) = contents.cells();
    let png = dir.join("report.png");
    let svg = dir.join("report.svg");
    figure::draw_png(&png, title, &first_row, &cells).map_err(at(&png))?;
    let svg_text = figure::draw_svg(title, &first_row, &cells).map_err(at(&svg))?;
    std::fs::write(&svg, &svg_text).map_err(|e| at(&svg)(e.into()))?;
    let markdown = dir.join("report.md");
    std::fs::write(&markdown, contents.markdown()).map_err(|e| at(&markdown)(e.into()))?;
    let page = dir.join("report.html");
    std::fs::write(&page, html::page(&contents, &svg_text)).map_err(|e| at(&page)(e.into()))?;
    Ok(ReportFiles {
        png,
        svg,
        markdown,
        html: page,
    })
}

impl Contents<'_> {
    fn count(&self, state: TrialState) -> usize {
        self.history.in_state(state).count()
    }

    /// The history panel and the parallel coordinates (the figure's first row), then
    /// the learning curves, the contour and the slices.
    fn cells(&self) -> (FirstRow, Vec<Cell>) {
        let history = self.history;
        let direction = history.direction();
        let complete: Vec<&Trial> = history.in_state(TrialState::Complete).collect();
        let mut best = f64::NAN;
        let best_so_far = complete
            .iter()
            .filter(|t| t.is_feasible())
            .filter_map(|t| {
                let v = t.value?;
                if best.is_nan() || direction.better(v, best) {
                    best = v;
                }
                Some((t.number as f64, best))
            })
            .collect();
        let scatter = |state| {
            history
                .in_state(state)
                .filter_map(|t| Some((t.number as f64, t.value?)))
                .collect()
        };
        let failed = self.count(TrialState::Failed);
        let history_panel = Panel {
            title: if failed > 0 {
                format!("optimization history ({failed} failed, no value)")
            } else {
                "optimization history".into()
            },
            x_label: "trial".into(),
            y_label: "objective".into(),
            log_y: false,
            x_axis: Axis::Integer,
            x_range: None,
            series: vec![
                Series {
                    name: "complete".into(),
                    points: scatter(TrialState::Complete),
                    scatter: true,
                },
                Series {
                    name: "pruned (last value)".into(),
                    points: scatter(TrialState::Pruned),
                    scatter: true,
                },
                Series {
                    name: "best so far".into(),
                    points: best_so_far,
                    scatter: false,
                },
            ],
        };
        let names = self.space.params().iter().map(|p| p.name.clone()).collect();
        let lines = complete
            .iter()
            .map(|t| Polyline {
                coordinates: t.unit.clone(),
                value: t.value.unwrap_or(f64::NAN),
            })
            .collect();
        let first_row = FirstRow {
            history: history_panel,
            names,
            lines,
            higher_is_better: direction == Direction::Maximize,
        };

        let mut cells = Vec::new();
        if history.objectives() > 1 {
            cells.extend(self.front_panels().map(Cell::Panel));
        }
        let best_number = history.best().map(|b| b.number);
        let curves: Vec<Curve> = history
            .trials()
            .iter()
            .filter(|t| !t.intermediate.is_empty())
            .map(|t| Curve {
                points: t
                    .intermediate
                    .iter()
                    .map(|(&s, &v)| (s as f64, v))
                    .collect(),
                pruned: t.state == TrialState::Pruned,
                best: Some(t.number) == best_number,
            })
            .collect();
        if !curves.is_empty() {
            cells.push(Cell::Curves(curves));
        }
        cells.extend(self.contour().map(Cell::Contour));
        for (d, p) in self.space.params().iter().enumerate() {
            let points = complete
                .iter()
                .filter_map(|t| Some((position(self.space, d, t)?, t.value?)))
                .collect();
            cells.push(Cell::Panel(Panel {
                title: format!("slice: {}", p.name),
                x_label: p.name.clone(),
                y_label: "objective".into(),
                log_y: false,
                x_axis: axis_of(&p.domain),
                x_range: Some(extent(&p.domain)),
                series: vec![Series {
                    name: p.name.clone(),
                    points,
                    scatter: true,
                }],
            }));
        }
        (first_row, cells)
    }

    /// For several objectives: the first two objectives of every complete trial with the
    /// Pareto front drawn through its trials, and the hypervolume of the front after
    /// each trial. The hypervolume's reference point is the worst value of each
    /// objective over the feasible trials, moved a tenth of its range further (a study
    /// has no natural one), so the curve's shape matters, not its units.
    fn front_panels(&self) -> [Panel; 2] {
        let history = self.history;
        let m = history.objectives();
        let label = |i: usize| format!("objective {} ({})", i + 1, history.directions()[i]);
        let complete: Vec<&Trial> = history
            .in_state(TrialState::Complete)
            .filter(|t| t.values().len() == m)
            .collect();
        let pair = |t: &&Trial| (t.values()[0], t.values()[1]);
        let mut front: Vec<(f64, f64)> = history.best_trials().iter().map(pair).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (feasible, infeasible): (Vec<&Trial>, Vec<&Trial>) =
            complete.iter().partition(|t| t.is_feasible());
        let mut series = vec![Series {
            name: "trials".into(),
            points: feasible.iter().map(pair).collect(),
            scatter: true,
        }];
        if !infeasible.is_empty() {
            series.push(Series {
                name: "infeasible".into(),
                points: infeasible.iter().map(pair).collect(),
                scatter: true,
            });
        }
        series.push(Series {
            name: "Pareto front".into(),
            points: front,
            scatter: false,
        });
        let scatter = Panel {
            title: if m > 2 {
                format!("Pareto front (objectives 1 and 2 of {m})")
            } else {
                "Pareto front".into()
            },
            x_label: label(0),
            y_label: label(1),
            series,
            ..Panel::default()
        };

        let losses: Vec<(u64, Vec<f64>)> = feasible
            .iter()
            .filter_map(|t| Some((t.number, history.losses(t)?)))
            .collect();
        let reference: Vec<f64> = (0..m)
            .map(|i| {
                let (lo, hi) = losses
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), l| {
                        (a.min(l.1[i]), b.max(l.1[i]))
                    });
                hi + 0.1 * (hi - lo).max(1e-12)
            })
            .collect();
        let mut so_far: Vec<Vec<f64>> = Vec::new();
        let curve = losses
            .into_iter()
            .map(|(number, l)| {
                so_far.push(l);
                so_far = pareto_front(&so_far)
                    .into_iter()
                    .map(|i| so_far[i].clone())
                    .collect();
                (number as f64, hypervolume(&so_far, &reference))
            })
            .collect();
        let hv = Panel {
            title: "hypervolume of the front so far".into(),
            x_label: "trial".into(),
            y_label: "hypervolume".into(),
            x_axis: Axis::Integer,
            series: vec![Series {
                name: "hypervolume".into(),
                points: curve,
                scatter: false,
            }],
            ..Panel::default()
        };
        [scatter, hv]
    }

    /// The objective over the two most important parameters, once there is a ranking.
    fn contour(&self) -> Option<Contour> {
        let index = |name: &str| self.space.params().iter().position(|p| p.name == name);
        let ranking = self.model.as_ref().map_or(&self.ranking, |m| &m.1);
        let (x, y) = match ranking.as_slice() {
            [a, b, ..] => (index(&a.0)?, index(&b.0)?),
            _ => return None,
        };
        let params = self.space.params();
        let points = self
            .history
            .in_state(TrialState::Complete)
            .filter_map(|t| {
                Some((
                    position(self.space, x, t)?,
                    position(self.space, y, t)?,
                    t.value?,
                ))
            })
            .collect();
        Some(Contour {
            x_name: params[x].name.clone(),
            y_name: params[y].name.clone(),
            x_axis: axis_of(&params[x].domain),
            y_axis: axis_of(&params[y].domain),
            x_range: extent(&params[x].domain),
            y_range: extent(&params[y].domain),
            points,
            higher_is_better: self.history.direction() == Direction::Maximize,
        })
    }

    /// A line saying how many trials are in each state.
    fn states(&self) -> String {
        format!(
            "{} trials: {} complete, {} pruned, {} failed, {} running.",
            self.history.len(),
            self.count(TrialState::Complete),
            self.count(TrialState::Pruned),
            self.count(TrialState::Failed),
            self.count(TrialState::Running),
        )
    }

    /// For several objectives: how many trials the Pareto front holds, and which.
    fn front_line(&self) -> String {
        let front: Vec<String> = self
            .history
            .best_trials()
            .iter()
            .map(|t| t.number.to_string())
            .collect();
        format!(
            "Pareto front over {} objectives: {} trials ({}); importance and the \
             history follow the first objective.",
            self.history.objectives(),
            front.len(),
            front.join(", ")
        )
    }

    /// Why there is no importance ranking, when there is none.
    fn no_ranking(&self) -> Option<String> {
        let complete = self.count(TrialState::Complete);
        (complete < MIN_TRIALS_FOR_IMPORTANCE).then(|| {
            format!("needs {MIN_TRIALS_FOR_IMPORTANCE} complete trials; this study has {complete}")
        })
    }

    /// The importance table: a header, then a row per parameter (fANOVA's order) with
    /// its fANOVA share and, when there is one, the model's.
    fn importance_rows(&self) -> Vec<Vec<String>> {
        let mut header = vec!["parameter".to_owned(), "fANOVA".to_owned()];
        header.extend(self.model.as_ref().map(|m| m.0.clone()));
        let mut rows = vec![header];
        for (name, share) in &self.ranking {
            let mut row = vec![name.clone(), format!("{:.1}%", share * 100.0)];
            if let Some((_, model)) = &self.model {
                let theirs = model.iter().find(|m| &m.0 == name).map(|m| m.1);
                row.push(theirs.map_or("-".into(), |s| format!("{:.1}%", s * 100.0)));
            }
            rows.push(row);
        }
        rows
    }

    fn markdown(&self) -> String {
        let mut md = format!(
            "# {}

",
            self.title
        );
        if self.history.objectives() > 1 {
            md += &format!("{}\n\n", self.front_line());
        } else if let Some(b) = self.history.best() {
            md += &format!(
                "Best trial: {} with value {} ({})\n\n",
                b.number,
                knob_core::format_number(b.value.unwrap_or(f64::NAN)),
                b.params
            );
        }
        md += &format!(
            "{}\n\n## Leaderboard\n\n```\n{}```\n\n## Importance\n\n",
            self.states(),
            knob_core::Leaderboard::new(self.history, 10),
        );
        match self.no_ranking() {
            Some(why) => md += &format!("None: it {why}.\n"),
            None => {
                let rows = self.importance_rows();
                md += &format!(
                    "| {} |\n|---|{}\n",
                    rows[0].join(" | "),
                    "---:|".repeat(rows[0].len() - 1)
                );
                for row in &rows[1..] {
                    md += &format!("| {} |\n", row.join(" | "));
                }
                md += &format!("\nfANOVA: {METHOD}.\n");
            }
        }
        md += "\nEvery trial, sortable: [report.html](report.html)\n\n![report](report.png)\n";
        md
    }
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
        for i in 0..60 {
            let t = study.ask().unwrap().unwrap();
            let x = t.params.float("matters").unwrap();
            let wiggle = 0.02 * t.params.float("noise").unwrap();
            let value = (x - 0.2).powi(2) + wiggle;
            for step in 0..3 {
                study
                    .report(t.number, step, value + 0.1 / (step + 1) as f64)
                    .unwrap();
            }
            let outcome = match i % 20 {
                7 => Outcome::Pruned,
                13 => Outcome::Failed("diverged <nan> & stopped".into()),
                _ => Outcome::Complete(value),
            };
            study.tell(t.number, outcome).unwrap();
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
        assert!(
            md.contains("60 trials: 54 complete, 3 pruned, 3 failed"),
            "{md}"
        );
        let img = image::open(&files.png).unwrap();
        assert_eq!(img.width(), 1500);
        // First row, then curves, contour and three slices: three rows.
        assert_eq!(img.height(), 60 + 380 * 3);
        let html = std::fs::read_to_string(&files.html).unwrap();
        for t in history.trials() {
            let row = format!(
                "<tr class=\"{}\"><td data-key=\"{}\">{}</td>",
                t.state, t.number, t.number
            );
            assert!(html.contains(&row), "trial {} has no row", t.number);
        }
        assert!(
            html.contains("diverged &lt;nan&gt; &amp; stopped"),
            "errors are escaped"
        );
        assert!(html.contains("<svg") && html.contains("learning curves"));
        assert!(
            html.contains("matters x "),
            "a contour of the top parameter"
        );
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

    #[test]
    fn a_study_of_two_objectives_shows_its_front_and_hypervolume() {
        let space = SearchSpace::builder()
            .float("x", 0.0, 1.0, Scale::Linear)
            .build()
            .unwrap();
        let study = Study::builder(space.clone())
            .directions([Direction::Maximize, Direction::Minimize])
            .sampler(UniformSampler)
            .seed(1)
            .build()
            .unwrap();
        for _ in 0..30 {
            let t = study.ask().unwrap().unwrap();
            let x = t.params.float("x").unwrap();
            // Accuracy rises with the size; sizes above 0.8 are infeasible.
            let outcome = Outcome::constrained([x.sqrt(), x], [x - 0.8]);
            study.tell(t.number, outcome).unwrap();
        }
        let history = study.history().unwrap();
        let front = history.best_trials();
        let dir = tempfile::tempdir().unwrap();
        let files = write_report(dir.path(), &history, &space, "two objectives", None).unwrap();
        let md = std::fs::read_to_string(&files.markdown).unwrap();
        let line = format!("Pareto front over 2 objectives: {} trials", front.len());
        assert!(md.contains(&line) && !md.contains("Best trial"), "{md}");
        let html = std::fs::read_to_string(&files.html).unwrap();
        for heading in ["objective 1", "objective 2", "violation"] {
            assert!(html.contains(&format!(">{heading}</th>")), "{heading}");
        }
        for panel in [
            "Pareto front",
            "hypervolume of the front so far",
            "infeasible",
        ] {
            assert!(html.contains(panel), "{panel}");
        }
        // The history row, then the front, the hypervolume and the one slice: two rows.
        let img = image::open(&files.png).unwrap();
        assert_eq!(img.height(), 60 + 380 * 2);
    }
}
