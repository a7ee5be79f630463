//! The report's figure, laid out once for every backend.

use std::path::Path;

use knob_core::BoxError;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::{
    draw_contour, draw_curves, draw_panel, draw_parallel, Contour, Curve, Panel, Polyline,
};

/// One chart below the figure's first row.
pub(super) enum Cell {
    /// A line or scatter panel (a slice).
    Panel(Panel),
    /// Every trial's learning curve.
    Curves(Vec<Curve>),
    /// The objective over two parameters.
    Contour(Contour),
}

/// The figure's first row: the history panel and the parallel coordinates.
pub(super) struct FirstRow {
    pub history: Panel,
    /// The parallel coordinates' axes.
    pub names: Vec<String>,
    /// One line per complete trial.
    pub lines: Vec<Polyline>,
    pub higher_is_better: bool,
}

const WIDTH: u32 = 1500;
const ROW: u32 = 380;

fn size(cells: &[Cell]) -> (u32, u32) {
    let rows = cells.len().div_ceil(3) as u32 + 1;
    (WIDTH, 60 + ROW * rows)
}

pub(super) fn draw_png(
    path: &Path,
    title: &str,
    first: &FirstRow,
    cells: &[Cell],
) -> Result<(), BoxError> {
    draw(
        BitMapBackend::new(path, size(cells)).into_drawing_area(),
        title,
        first,
        cells,
    )
}

/// The figure as SVG text (written to a file and inlined into the HTML page).
pub(super) fn draw_svg(title: &str, first: &FirstRow, cells: &[Cell]) -> Result<String, BoxError> {
    let mut text = String::new();
    draw(
        SVGBackend::with_string(&mut text, size(cells)).into_drawing_area(),
        title,
        first,
        cells,
    )?;
    Ok(text)
}

/// The history panel and the parallel coordinates on the first row, the cells below,
/// three to a row.
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    first: &FirstRow,
    cells: &[Cell],
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    crate::plot::ensure_font();
    root.fill(&WHITE)?;
    let root = root.titled(title, (crate::plot::FONT, 22))?;
    let (_, height) = root.dim_in_pixel();
    let rows = cells.len().div_ceil(3) + 1;
    let (top, rest) = root.split_vertically(height / rows as u32);
    let (left, right) = top.split_horizontally(top.dim_in_pixel().0 / 3);
    draw_panel(&first.history, &left)?;
    draw_parallel(
        &right,
        "parallel coordinates (darker is better)",
        &first.names,
        &first.lines,
        first.higher_is_better,
    )?;
    if !cells.is_empty() {
        let areas = rest.split_evenly((cells.len().div_ceil(3), 3));
        for (cell, area) in cells.iter().zip(areas.iter()) {
            match cell {
                Cell::Panel(panel) => draw_panel(panel, area)?,
                Cell::Curves(curves) => draw_curves(area, "learning curves", curves)?,
                Cell::Contour(contour) => draw_contour(area, contour)?,
            }
        }
    }
    root.present()?;
    Ok(())
}
