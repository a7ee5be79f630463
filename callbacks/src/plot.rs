//! One look for every chart knob draws: the font it ships, a palette, and line charts
//! in panels (training curves, regret curves).
//!
//! Text is drawn with a font compiled into the crate (DejaVu Sans, registered with
//! plotters' `ab_glyph` backend), so charts render the same on a fresh machine without
//! system fonts or fontconfig.

use std::path::Path;
use std::sync::Once;

use knob_core::BoxError;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// The font family every chart uses.
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the shipped font with plotters (once per process).
pub fn ensure_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType file compiled into the crate; a failure here
        // would be a build defect, caught by the tests.
        let _ = register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// Series colours, in order: distinguishable, and readable on white.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// One named line.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
}

/// One chart of a figure.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The panel's title.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// Whether y is drawn on a log scale (values at or below zero are clipped).
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
}

/// Draws `panels` side by side in rows of `columns` into a PNG of `width` x `height`.
pub fn line_panels(
    path: &Path,
    title: &str,
    panels: &[Panel],
    columns: usize,
    (width, height): (u32, u32),
) -> Result<(), BoxError> {
    ensure_font();
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, (FONT, 22))?;
    let columns = columns.max(1);
    let rows = panels.len().div_ceil(columns).max(1);
    let areas = root.split_evenly((rows, columns));
    for (panel, area) in panels.iter().zip(areas.iter()) {
        draw_panel(panel, area)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    let points = || panel.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points() {
        let y = if panel.log_y { y.max(1e-12) } else { y };
        if x.is_finite() && y.is_finite() {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.1, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        (y0, y1) = if panel.log_y {
            (y0 / 2.0, y0 * 2.0)
        } else {
            (y0 - 0.5, y0 + 0.5)
        };
    }
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, (FONT, 16))
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(56);
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(panel.x_label.as_str())
                .y_desc(panel.y_label.as_str())
                .label_style((FONT, 12))
                .x_label_formatter(&|x| tick(*x))
                .y_label_formatter(&|y| tick(*y))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            for (i, s) in panel.series.iter().enumerate() {
                let colour = PALETTE[i % PALETTE.len()];
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .map(|&(x, y)| (x, if panel.log_y { y.max(1e-12) } else { y }))
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts, colour.stroke_width(2)))?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .label_font((FONT, 12))
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.3))
                .draw()?;
        }};
    }
    if panel.log_y {
        finish!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?);
    } else {
        finish!(builder.build_cartesian_2d(x0..x1, y0..y1)?);
    }
    Ok(())
}

/// A tick label: integers plainly, other numbers in a short form.
fn tick(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{v:.0}")
    } else if (1e-3..1e4).contains(&v.abs()) {
        knob_core::format_number(v)
    } else {
        format!("{v:.0e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_with_text_on_a_fresh_machine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        let panel = |log_y| Panel {
            title: "loss".into(),
            x_label: "epoch".into(),
            y_label: "value".into(),
            log_y,
            series: vec![
                Series {
                    name: "train".into(),
                    points: (0..10).map(|e| (e as f64, 1.0 / (e + 1) as f64)).collect(),
                },
                Series {
                    name: "validation".into(),
                    points: (0..10).map(|e| (e as f64, 1.2 / (e + 1) as f64)).collect(),
                },
            ],
        };
        line_panels(
            &path,
            "Training",
            &[panel(false), panel(true)],
            2,
            (640, 320),
        )
        .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // Width and height sit in the IHDR chunk, big-endian, at bytes 16..24.
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        assert_eq!((be(&bytes[16..20]), be(&bytes[20..24])), (640, 320));
        // The title is drawn: the top band holds dark pixels, the corner stays white.
        let img = image::open(&path).unwrap().to_rgb8();
        let dark = |x: u32, y: u32| img.get_pixel(x, y).0.iter().all(|&c| c < 100);
        let title_ink = (0..24)
            .flat_map(|y| (0..640).map(move |x| (x, y)))
            .filter(|&(x, y)| dark(x, y))
            .count();
        assert!(title_ink > 30, "{title_ink} dark pixels in the title band");
        assert!(!dark(2, 2));
    }
}
