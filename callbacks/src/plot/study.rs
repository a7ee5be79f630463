//! Plots of a study as a whole: every trial's learning curve, and the objective over
//! two parameters.

use knob_core::BoxError;
use plotters::prelude::*;

use super::{ensure_font, Axis, FONT, PALETTE};

/// One trial's intermediate values.
#[derive(Debug, Clone)]
pub struct Curve {
    /// (step, value), in step order.
    pub points: Vec<(f64, f64)>,
    /// The pruner stopped it: a cross marks where.
    pub pruned: bool,
    /// It is the study's best trial: drawn thick, on top.
    pub best: bool,
}

/// Learning curves: a thin line per trial, the pruned ones in red ending in a cross,
/// the best trial thick and on top.
pub fn draw_curves<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    curves: &[Curve],
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    ensure_font();
    let all = || curves.iter().flat_map(|c| c.points.iter());
    let (mut x1, mut y0, mut y1) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in all().filter(|p| p.1.is_finite()) {
        (x1, y0, y1) = (x1.max(x), y0.min(y), y1.max(y));
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 16))
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x1, (y0 - pad)..(y1 + pad))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("intermediate value")
        .label_style((FONT, 12))
        .x_label_formatter(&|x| Axis::Integer.label(*x))
        .y_label_formatter(&|y| Axis::Plain.label(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let (complete, pruned, best) = (PALETTE[0], PALETTE[3], PALETTE[2]);
    let mut order: Vec<&Curve> = curves.iter().collect();
    order.sort_by_key(|c| c.best);
    let mut labelled = [false; 3];
    for curve in order {
        let (colour, width, kind, name) = match (curve.best, curve.pruned) {
            (true, _) => (best, 3, 0, "best trial"),
            (false, true) => (pruned, 1, 1, "pruned (x: where it stopped)"),
            (false, false) => (complete, 1, 2, "other trials"),
        };
        let alpha = if curve.best { 1.0 } else { 0.45 };
        let style = colour.mix(alpha).stroke_width(width);
        let drawn = chart.draw_series(LineSeries::new(curve.points.iter().copied(), style))?;
        if !labelled[kind] {
            labelled[kind] = true;
            drawn.label(name).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        }
        if let (true, Some(&last)) = (curve.pruned, curve.points.last()) {
            chart.draw_series(std::iter::once(Cross::new(last, 5, pruned.stroke_width(2))))?;
        }
    }
    super::draw_legend(&mut chart)
}

/// The objective over two parameters, for a contour plot.
#[derive(Debug, Clone)]
pub struct Contour {
    /// The x parameter's name.
    pub x_name: String,
    /// The y parameter's name.
    pub y_name: String,
    /// What x positions stand for.
    pub x_axis: Axis,
    /// What y positions stand for.
    pub y_axis: Axis,
    /// The x parameter's whole range, as positions.
    pub x_range: (f64, f64),
    /// The y parameter's whole range, as positions.
    pub y_range: (f64, f64),
    /// (x, y, objective) of each trial where both are active.
    pub points: Vec<(f64, f64, f64)>,
    /// Which end of the objective is best.
    pub higher_is_better: bool,
}

impl Contour {
    /// The objective smoothed over the plane at (x, y): a Gaussian-weighted mean of the
    /// trials, with a width of an eighth of each axis. Model-free, so it shows where
    /// the trials were good, not what a model believes.
    pub fn smoothed(&self, x: f64, y: f64) -> f64 {
        let span = |(lo, hi): (f64, f64)| (hi - lo).max(1e-12);
        let (sx, sy) = (span(self.x_range), span(self.y_range));
        let width = 0.125f64;
        let (mut sum, mut weights) = (0.0, 0.0);
        for &(px, py, v) in &self.points {
            let d2 = ((px - x) / sx).powi(2) + ((py - y) / sy).powi(2);
            let w = (-d2 / (2.0 * width * width)).exp() + 1e-300;
            sum += w * v;
            weights += w;
        }
        sum / weights
    }
}

/// Draws `contour` as a shaded grid (darker is better) with the trials as dots and the
/// best one in red.
pub fn draw_contour<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    contour: &Contour,
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    ensure_font();
    let (x0, x1) = contour.x_axis.range(contour.x_range.0, contour.x_range.1);
    let (y0, y1) = contour.y_axis.range(contour.y_range.0, contour.y_range.1);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "{} x {} (smoothed objective)",
                contour.x_name, contour.y_name
            ),
            (FONT, 16),
        )
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(contour.x_name.as_str())
        .y_desc(contour.y_name.as_str())
        .label_style((FONT, 12))
        .x_labels(contour.x_axis.ticks(x0, x1))
        .y_labels(contour.y_axis.ticks(y0, y1))
        .x_label_formatter(&|x| contour.x_axis.label(*x))
        .y_label_formatter(&|y| contour.y_axis.label(*y))
        .draw()?;
    if contour.points.is_empty() {
        return Ok(());
    }
    const CELLS: usize = 40;
    let (dx, dy) = ((x1 - x0) / CELLS as f64, (y1 - y0) / CELLS as f64);
    let grid: Vec<(f64, f64, f64)> = (0..CELLS * CELLS)
        .map(|k| {
            let (x, y) = (x0 + (k % CELLS) as f64 * dx, y0 + (k / CELLS) as f64 * dy);
            (x, y, contour.smoothed(x + dx / 2.0, y + dy / 2.0))
        })
        .collect();
    let (lo, hi) = grid
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
            (lo.min(c.2), hi.max(c.2))
        });
    let goodness = |v: f64| {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        if contour.higher_is_better {
            t
        } else {
            1.0 - t
        }
    };
    let shade = |g: f64| {
        let mix = |dark: f64, light: f64| (light + (dark - light) * g).round() as u8;
        RGBColor(mix(8.0, 240.0), mix(48.0, 245.0), mix(107.0, 250.0))
    };
    chart.draw_series(grid.iter().map(|&(x, y, v)| {
        Rectangle::new([(x, y), (x + dx, y + dy)], shade(goodness(v)).filled())
    }))?;
    let better = |a: f64, b: f64| (a > b) == contour.higher_is_better && a != b;
    let best = contour
        .points
        .iter()
        .copied()
        .reduce(|b, p| if better(p.2, b.2) { p } else { b });
    chart.draw_series(
        contour
            .points
            .iter()
            .map(|&(x, y, _)| Circle::new((x, y), 3, BLACK.mix(0.6).filled())),
    )?;
    if let Some((x, y, _)) = best {
        chart.draw_series(std::iter::once(Circle::new((x, y), 6, PALETTE[3].filled())))?;
    }
    Ok(())
}
