//! Runs samplers on test functions and summarizes their regret.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use knob_core::{History, KnobRng, Outcome, Result, Sampler, SearchSpace, Study};
use knob_samplers::{GpSampler, GridSampler, RandomSampler, SobolSampler, TpeSampler, ZoomSampler};
use serde::{Deserialize, Serialize};

use crate::functions::TestFunction;

/// The samplers the benchmark knows, by name.
pub const SAMPLERS: &[&str] = &["grid", "random", "sobol", "zoom", "gp", "tpe", "tpe-uni"];

/// The sampler called `name`, set up for `budget` trials in `dims` dimensions.
/// Besides [`SAMPLERS`], `gp-startupN` is the GP after an `N`-point design and
/// `tpe-candidatesN` the TPE drawing `N` candidates per suggestion.
pub fn sampler_by_name(name: &str, budget: usize, dims: usize) -> Option<Box<dyn Sampler>> {
    if let Some(n) = name.strip_prefix("gp-startup") {
        return Some(Box::new(GpSampler::new().startup(n.parse().ok()?)));
    }
    if let Some(n) = name.strip_prefix("tpe-candidates") {
        return Some(Box::new(TpeSampler::new().candidates(n.parse().ok()?)));
    }
    Some(match name {
        "grid" => {
            // About `budget` points: the resolution whose power is nearest the budget.
            let resolution = (budget as f64).powf(1.0 / dims as f64).round().max(2.0) as usize;
            Box::new(GridSampler::new().resolution(resolution).shuffled())
        }
        "random" => Box::new(RandomSampler::new()),
        "sobol" => Box::new(SobolSampler::new()),
        "zoom" => Box::new(ZoomSampler::new().round((budget / 5).max(1))),
        "gp" => Box::new(GpSampler::new()),
        "tpe" => Box::new(TpeSampler::new()),
        "tpe-uni" => Box::new(TpeSampler::new().univariate()),
        _ => return None,
    })
}

/// One run, as one JSON line of the benchmark's output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// The test function.
    pub function: String,
    /// The sampler's name.
    pub sampler: String,
    /// The study's seed.
    pub seed: u64,
    /// Trials asked for.
    pub budget: usize,
    /// The best value after each trial.
    pub best_so_far: Vec<f64>,
    /// Seconds spent inside the sampler over the run.
    pub sampler_seconds: f64,
    /// Milliseconds the last suggestion took.
    pub latency_last_ms: f64,
}

impl Run {
    /// Best value found minus the known minimum.
    pub fn final_regret(&self, minimum: f64) -> f64 {
        self.best_so_far
            .last()
            .map_or(f64::INFINITY, |b| b - minimum)
    }
}

/// Times each suggestion of the sampler it wraps.
struct Timed {
    inner: Box<dyn Sampler>,
    times: Arc<Mutex<Vec<f64>>>,
}

impl Sampler for Timed {
    fn suggest(
        &mut self,
        space: &SearchSpace,
        history: &History,
        rng: &mut KnobRng,
    ) -> Result<Option<Vec<f64>>> {
        let start = Instant::now();
        let point = self.inner.suggest(space, history, rng);
        self.times
            .lock()
            .expect("not poisoned")
            .push(start.elapsed().as_secs_f64());
        point
    }
}

/// Runs `sampler` on `function` for `budget` trials with `seed`.
pub fn run(function: &TestFunction, sampler: &str, seed: u64, budget: usize) -> Run {
    let space = function.space();
    let inner = sampler_by_name(sampler, budget, space.len()).expect("a known sampler");
    let times = Arc::new(Mutex::new(Vec::new()));
    let study = Study::builder(space)
        .sampler(Timed {
            inner,
            times: times.clone(),
        })
        .seed(seed)
        .build()
        .expect("a valid study");
    let mut best = f64::INFINITY;
    let mut best_so_far = Vec::with_capacity(budget);
    for _ in 0..budget {
        let Some(trial) = study.ask().expect("ask") else {
            break;
        };
        let value = function.eval(&trial.params);
        best = best.min(value);
        best_so_far.push(best);
        study
            .tell(trial.number, Outcome::Complete(value))
            .expect("tell");
    }
    let times = times.lock().expect("not poisoned");
    Run {
        function: function.name.into(),
        sampler: sampler.into(),
        seed,
        budget,
        best_so_far,
        sampler_seconds: times.iter().sum(),
        latency_last_ms: times.last().copied().unwrap_or(0.0) * 1e3,
    }
}

/// The `q`-quantile of `values` (linear interpolation).
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// A markdown table of median final regret (with the interquartile range) per function
/// and sampler, and median latency of the last suggestion.
pub fn summary_table(runs: &[Run]) -> String {
    let mut functions: Vec<&str> = Vec::new();
    let mut samplers: Vec<&str> = Vec::new();
    for r in runs {
        if !functions.contains(&r.function.as_str()) {
            functions.push(&r.function);
        }
        if !samplers.contains(&r.sampler.as_str()) {
            samplers.push(&r.sampler);
        }
    }
    let mut out = format!(
        "| function | {} |\n|---|{}\n",
        samplers.join(" | "),
        "---:|".repeat(samplers.len())
    );
    for f in &functions {
        let minimum = TestFunction::by_name(f).map_or(0.0, |t| t.minimum);
        let cells: Vec<String> = samplers
            .iter()
            .map(|s| {
                let regrets: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.function == *f && r.sampler == *s)
                    .map(|r| r.final_regret(minimum))
                    .collect();
                if regrets.is_empty() {
                    return "".into();
                }
                format!(
                    "{:.3e} [{:.2e}, {:.2e}]",
                    quantile(&regrets, 0.5),
                    quantile(&regrets, 0.25),
                    quantile(&regrets, 0.75)
                )
            })
            .collect();
        out += &format!("| {f} | {} |\n", cells.join(" | "));
    }
    out += "\nMedian latency of the last suggestion (ms):\n\n";
    out += &format!(
        "| function | {} |\n|---|{}\n",
        samplers.join(" | "),
        "---:|".repeat(samplers.len())
    );
    for f in &functions {
        let cells: Vec<String> = samplers
            .iter()
            .map(|s| {
                let ms: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.function == *f && r.sampler == *s)
                    .map(|r| r.latency_last_ms)
                    .collect();
                if ms.is_empty() {
                    String::new()
                } else {
                    format!("{:.3}", quantile(&ms, 0.5))
                }
            })
            .collect();
        out += &format!("| {f} | {} |\n", cells.join(" | "));
    }
    out
}

/// A sampler's median regret after each trial.
pub type Curve = (String, Vec<f64>);

/// The median regret after each trial, per function (in first-seen order) and sampler.
pub fn median_curves(runs: &[Run]) -> Vec<(String, Vec<Curve>)> {
    let mut out: Vec<(String, Vec<Curve>)> = Vec::new();
    for r in runs {
        if !out.iter().any(|(f, _)| *f == r.function) {
            out.push((r.function.clone(), Vec::new()));
        }
        let entry = out
            .iter_mut()
            .find(|(f, _)| *f == r.function)
            .expect("just added");
        if !entry.1.iter().any(|(s, _)| *s == r.sampler) {
            entry.1.push((r.sampler.clone(), Vec::new()));
        }
    }
    for (function, samplers) in &mut out {
        let minimum = TestFunction::by_name(function).map_or(0.0, |t| t.minimum);
        for (sampler, curve) in samplers.iter_mut() {
            let group: Vec<&Run> = runs
                .iter()
                .filter(|r| r.function == *function && r.sampler == *sampler)
                .collect();
            let len = group.iter().map(|r| r.best_so_far.len()).min().unwrap_or(0);
            *curve = (0..len)
                .map(|t| {
                    quantile(
                        &group
                            .iter()
                            .map(|r| r.best_so_far[t] - minimum)
                            .collect::<Vec<_>>(),
                        0.5,
                    )
                })
                .collect();
        }
    }
    out
}

/// Draws the median regret curves, one panel per function, to a PNG.
pub fn plot_curves(runs: &[Run], path: &std::path::Path) -> Result<(), knob_core::BoxError> {
    use knob_callbacks::plot::{line_panels, Panel, Series};
    let panels: Vec<Panel> = median_curves(runs)
        .into_iter()
        .map(|(function, samplers)| Panel {
            title: function,
            x_label: "trial".into(),
            y_label: "median regret".into(),
            log_y: true,
            series: samplers
                .into_iter()
                .map(|(name, curve)| Series {
                    name,
                    points: curve
                        .iter()
                        .enumerate()
                        .map(|(t, &r)| ((t + 1) as f64, r))
                        .collect(),
                    scatter: false,
                })
                .collect(),
        })
        .collect();
    let columns = panels.len().min(3);
    let rows = panels.len().div_ceil(columns.max(1)) as u32;
    line_panels(
        path,
        "Median simple regret over seeds",
        &panels,
        columns,
        (1500, 60 + 420 * rows.max(1)),
    )
}
