//! Runs samplers on test functions and summarizes their regret.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use knob_core::{History, KnobRng, Outcome, Result, Sampler, SearchSpace, Study};
use rand::Rng;
use serde::{Deserialize, Serialize};

use knob_samplers::testing::TestFunction;

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
    let inner = knob_samplers::by_name_for(sampler, budget, space.len()).expect("a known sampler");
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

/// The functions and the samplers of `runs`, each in first-seen order.
fn functions_and_samplers(runs: &[Run]) -> (Vec<&str>, Vec<&str>) {
    first_seen(
        runs.iter()
            .map(|r| (r.function.as_str(), r.sampler.as_str())),
    )
}

/// The distinct functions and samplers of `(function, sampler)` pairs, each in
/// first-seen order.
pub fn first_seen<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut functions: Vec<&str> = Vec::new();
    let mut samplers: Vec<&str> = Vec::new();
    for (function, sampler) in pairs {
        if !functions.contains(&function) {
            functions.push(function);
        }
        if !samplers.contains(&sampler) {
            samplers.push(sampler);
        }
    }
    (functions, samplers)
}

/// Final regrets of `sampler`'s runs on `function`.
fn final_regrets(runs: &[Run], function: &str, sampler: &str) -> Vec<f64> {
    let minimum = TestFunction::by_name(function).map_or(0.0, |t| t.minimum);
    runs.iter()
        .filter(|r| r.function == function && r.sampler == sampler)
        .map(|r| r.final_regret(minimum))
        .collect()
}

/// A markdown table of median final regret (with the interquartile range) per function
/// and sampler, and median latency of the last suggestion.
pub fn summary_table(runs: &[Run]) -> String {
    let (functions, samplers) = functions_and_samplers(runs);
    let mut out = format!(
        "| function | {} |\n|---|{}\n",
        samplers.join(" | "),
        "---:|".repeat(samplers.len())
    );
    for f in &functions {
        let cells: Vec<String> = samplers
            .iter()
            .map(|s| {
                let regrets = final_regrets(runs, f, s);
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

/// Resamples drawn for the bootstrap interval of [`comparison_table`].
const BOOTSTRAP_RESAMPLES: usize = 2000;

/// The median of `values`, reordering them; the mean of the middle two for an even
/// count, as [`quantile`] gives.
fn median_in_place(values: &mut [f64]) -> f64 {
    let (n, mid) = (values.len(), values.len() / 2);
    let (below, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// The difference of the medians of `mine` and `theirs`, with its 95% percentile
/// bootstrap interval: `(difference, low, high)`.
pub fn median_difference(
    mine: &[f64],
    theirs: &[f64],
    rng: &mut knob_core::KnobRng,
) -> (f64, f64, f64) {
    bootstrap_difference(mine, theirs, median_in_place, rng)
}

/// The difference of the means of `mine` and `theirs`, with its 95% percentile
/// bootstrap interval. Where the values sit on a coarse grid (accuracies to 0.1 point),
/// the median jumps from one grid value to the next between samples and the mean
/// resolves smaller differences.
pub fn mean_difference(
    mine: &[f64],
    theirs: &[f64],
    rng: &mut knob_core::KnobRng,
) -> (f64, f64, f64) {
    bootstrap_difference(mine, theirs, |v| mean(v), rng)
}

/// The mean of `values` (NaN when there are none).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The mean of the differences `mine[i] - theirs[i]` between paired runs (the same
/// seed), with its 95% percentile bootstrap interval. Where both runs share their start
/// (a sampler against a variant of itself, which draw the same initial design), pairing
/// takes the seed's own luck out of the comparison and resolves differences that
/// [`mean_difference`] cannot.
///
/// # Panics
///
/// If `mine` and `theirs` differ in length.
pub fn paired_difference(
    mine: &[f64],
    theirs: &[f64],
    rng: &mut knob_core::KnobRng,
) -> (f64, f64, f64) {
    assert_eq!(mine.len(), theirs.len(), "paired runs come in pairs");
    let differences: Vec<f64> = mine.iter().zip(theirs).map(|(a, b)| a - b).collect();
    let (low, high) = percentile_interval(|| mean(&resample(&differences, rng)));
    (mean(&differences), low, high)
}

/// `statistic(mine) - statistic(theirs)` and the 2.5% and 97.5% quantiles of that
/// difference over bootstrap resamples of each.
fn bootstrap_difference(
    mine: &[f64],
    theirs: &[f64],
    statistic: impl Fn(&mut [f64]) -> f64,
    rng: &mut knob_core::KnobRng,
) -> (f64, f64, f64) {
    let (low, high) = percentile_interval(|| {
        statistic(&mut resample(mine, rng)) - statistic(&mut resample(theirs, rng))
    });
    (
        statistic(&mut mine.to_vec()) - statistic(&mut theirs.to_vec()),
        low,
        high,
    )
}

/// `values.len()` values drawn from `values` with replacement.
fn resample(values: &[f64], rng: &mut knob_core::KnobRng) -> Vec<f64> {
    (0..values.len())
        .map(|_| values[rng.gen_range(0..values.len())])
        .collect()
}

/// The 2.5% and 97.5% quantiles of a statistic over [`BOOTSTRAP_RESAMPLES`] resamples.
fn percentile_interval(mut statistic_of_resample: impl FnMut() -> f64) -> (f64, f64) {
    let mut values: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| statistic_of_resample())
        .collect();
    values.sort_by(f64::total_cmp);
    (quantile(&values, 0.025), quantile(&values, 0.975))
}

/// The chance that a value drawn from `a` is below one drawn from `b`, ties counting
/// half.
fn chance_below(a: &[f64], b: &[f64]) -> f64 {
    let mut b = b.to_vec();
    b.sort_by(f64::total_cmp);
    let pairs: f64 = a
        .iter()
        .map(|x| {
            let (below, not_above) = (b.partition_point(|y| y < x), b.partition_point(|y| y <= x));
            (b.len() - not_above) as f64 + (not_above - below) as f64 / 2.0
        })
        .sum();
    pairs / (a.len() * b.len()) as f64
}

/// How the first sampler compares with each other one, per function: the ratio of
/// their median final regrets with a 95% percentile-bootstrap interval, and the chance
/// that a run of the first ends lower than a run of the other (ties count half).
///
/// Over a few dozen seeds the median regret on a multimodal function moves by 10 to
/// 20% from one set of seeds to the next; this table says whether a difference is
/// larger than that. `None` with fewer than two samplers. The resampling is seeded, so
/// the table is reproducible.
pub fn comparison_table(runs: &[Run]) -> Option<String> {
    let (functions, samplers) = functions_and_samplers(runs);
    let (first, others) = samplers.split_first()?;
    if others.is_empty() {
        return None;
    }
    let mut rng = knob_core::trial_rng(0, 0);
    let mut out = format!(
        "Median final regret of {first} divided by each other sampler's, with a 95% \
         bootstrap interval, and the chance that a run of {first} ends lower:\n\n\
         | function | {} |\n|---|{}\n",
        others
            .iter()
            .map(|s| format!("{first} / {s}"))
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(others.len())
    );
    for f in &functions {
        let mine = final_regrets(runs, f, first);
        let cells: Vec<String> = others
            .iter()
            .map(|s| {
                let theirs = final_regrets(runs, f, s);
                if mine.is_empty() || theirs.is_empty() {
                    return String::new();
                }
                let chance = 100.0 * chance_below(&mine, &theirs);
                if quantile(&theirs, 0.5) <= 0.0 {
                    // The other sampler's median run found the minimum: no ratio.
                    return format!("n/a, {chance:.0}%");
                }
                let (low, high) = percentile_interval(|| {
                    median_in_place(&mut resample(&mine, &mut rng))
                        / median_in_place(&mut resample(&theirs, &mut rng))
                });
                format!(
                    "{:.3} [{low:.3}, {high:.3}], {chance:.0}%",
                    quantile(&mine, 0.5) / quantile(&theirs, 0.5),
                )
            })
            .collect();
        out += &format!("| {f} | {} |\n", cells.join(" | "));
    }
    Some(out)
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
            ..Default::default()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(sampler: &str, finals: impl Iterator<Item = f64>) -> Vec<Run> {
        finals
            .enumerate()
            .map(|(seed, value)| Run {
                function: "lowdim10".into(),
                sampler: sampler.into(),
                seed: seed as u64,
                budget: 1,
                best_so_far: vec![value],
                sampler_seconds: 0.0,
                latency_last_ms: 0.0,
            })
            .collect()
    }

    #[test]
    fn medians_in_place_agree_with_quantile() {
        for n in [1, 2, 7, 10] {
            let values: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64).collect();
            assert_eq!(median_in_place(&mut values.clone()), quantile(&values, 0.5));
        }
    }

    #[test]
    fn bootstrap_differences_find_a_shift_and_none_between_equals() {
        let mut rng = knob_core::trial_rng(0, 0);
        let base: Vec<f64> = (0..60).map(|i| f64::from((i * 37) % 23) / 10.0).collect();
        let shifted: Vec<f64> = base.iter().map(|v| v + 1.0).collect();
        for difference in [mean_difference, median_difference] {
            let (lead, low, high) = difference(&shifted, &base, &mut rng);
            assert!((lead - 1.0).abs() < 1e-9, "{lead}");
            assert!(low > 0.0 && low < 1.0 && high > 1.0, "[{low}, {high}]");
            let reversed: Vec<f64> = base.iter().rev().copied().collect();
            let (lead, low, high) = difference(&reversed, &base, &mut rng);
            assert!(
                lead.abs() < 1e-9 && low < 0.0 && high > 0.0,
                "{lead} [{low}, {high}]"
            );
        }
        assert!((mean(&[1.0, 2.0, 6.0]) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn pairing_resolves_a_small_shift_that_the_seeds_spread_hides() {
        let mut rng = knob_core::trial_rng(0, 0);
        // Seeds spread over 2.2 points; every pair differs by 0.1 give or take 0.02.
        let base: Vec<f64> = (0..60).map(|i| f64::from((i * 37) % 23) / 10.0).collect();
        let shifted: Vec<f64> = (0..60)
            .map(|i| base[i] + 0.1 + if i % 2 == 0 { 0.02 } else { -0.02 })
            .collect();
        let (lead, low, high) = paired_difference(&shifted, &base, &mut rng);
        assert!((lead - 0.1).abs() < 1e-9, "{lead}");
        assert!(low > 0.09 && high < 0.11, "[{low}, {high}]");
        let (_, low, high) = mean_difference(&shifted, &base, &mut rng);
        assert!(low < 0.0 && high > 0.2, "unpaired: [{low}, {high}]");
        let (lead, low, high) = paired_difference(&base, &base, &mut rng);
        assert_eq!((lead, low, high), (0.0, 0.0, 0.0));
    }

    #[test]
    fn the_chance_of_ending_lower_counts_pairs_and_halves_ties() {
        assert_eq!(chance_below(&[1.0, 2.0], &[1.5, 3.0]), 0.75);
        assert_eq!(chance_below(&[1.0], &[1.0]), 0.5);
        assert_eq!(chance_below(&[5.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn the_comparison_finds_a_real_gap_and_no_gap_between_equals() {
        // lowdim10's minimum is 0, so these values are the regrets.
        let mut all = runs("a", (1..=200).map(f64::from));
        all.extend(runs("half", (1..=200).map(|v| f64::from(v) / 2.0)));
        all.extend(runs("same", (1..=200).rev().map(f64::from)));
        assert!(comparison_table(&all[..200]).is_none(), "one sampler");
        let table = comparison_table(&all).expect("three samplers");
        let row = table
            .lines()
            .find(|l| l.starts_with("| lowdim10"))
            .expect("a row");
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // Twice the regret of "half": ratio 2, an interval that excludes 1, and "a"
        // ends lower in about a quarter of the pairs.
        assert!(cells[2].starts_with("2.000 ["), "{row}");
        let lower: f64 = cells[2][7..12].parse().expect("the interval's lower end");
        assert!(lower > 1.5, "{row}");
        assert!(cells[2].ends_with(", 25%"), "{row}");
        // The same values in another order: ratio 1, an interval around it, 50%.
        assert!(cells[3].starts_with("1.000 ["), "{row}");
        assert!(cells[3].ends_with(", 50%"), "{row}");
        // No ratio to a sampler whose median run reached the minimum.
        let mut solved = all.clone();
        solved.extend(runs("exact", std::iter::repeat_n(0.0, 200)));
        let with_exact = comparison_table(&solved).expect("four samplers");
        assert!(with_exact.contains("| n/a, 0% |"), "{with_exact}");
        // The table is the same every time.
        assert_eq!(comparison_table(&all).as_deref(), Some(table.as_str()));
    }
}
