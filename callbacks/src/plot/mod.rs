//! One look for every chart knob draws: the font it ships, a palette, and line charts
//! in panels (training curves, regret curves).
//!
//! Text is drawn with a font compiled into the crate (DejaVu Sans, registered with
//! plotters' `ab_glyph` backend), so charts render the same on a fresh machine without
//! system fonts or fontconfig.

mod confusion;
mod glyphs;
mod study;

pub use confusion::{confusion_matrix, ConfusionImage, ConfusionRenderer};
pub use study::{draw_contour, draw_curves, Contour, Curve};

use std::path::Path;
use std::sync::Once;

use knob_core::BoxError;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// The font family every chart uses.
pub const FONT: &str = "sans-serif";

pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

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

/// One named line (or, with `scatter`, a cloud of points).
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
    /// Draw dots instead of a line.
    pub scatter: bool,
}

/// One chart of a figure.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// The panel's title.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// Whether y is drawn on a log scale (values at or below zero are clipped).
    pub log_y: bool,
    /// What the x positions stand for, and so what its ticks say.
    pub x_axis: Axis,
    /// The x range to draw (as positions); the data's own range when `None`.
    pub x_range: Option<(f64, f64)>,
    /// The lines.
    pub series: Vec<Series>,
}

/// What an axis's positions stand for, so that its ticks name real values: a
/// parameter on a log scale is drawn at log10 of its values but labelled 1e-4, 1e-3;
/// an integer axis has ticks only at integers; a categorical one names its choices.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Axis {
    /// Positions are the values.
    #[default]
    Plain,
    /// Positions are log10 of the values.
    Log10,
    /// Positions are -log10(1 - v) of the values v (a momentum β near 1), so that
    /// 0.9, 0.99 and 0.999 sit evenly spaced, left to right.
    Log10OneMinus,
    /// Positions are integer values; ticks only at integers.
    Integer,
    /// Position i is the i-th name; ticks only there.
    Names(Vec<String>),
}

impl Axis {
    /// The tick label at position `x`; empty where this axis has no tick.
    pub fn label(&self, x: f64) -> String {
        let on_integer = (x - x.round()).abs() < 1e-9;
        match self {
            Axis::Plain => tick(x),
            Axis::Log10 => significant(10f64.powf(x)),
            Axis::Log10OneMinus => {
                // Enough decimals to tell 0.99 from 0.999.
                let decimals = x.ceil().max(0.0) as usize + 1;
                let v = format!("{:.decimals$}", 1.0 - 10f64.powf(-x));
                v.trim_end_matches('0').trim_end_matches('.').to_owned()
            }
            Axis::Integer if on_integer => format!("{x:.0}"),
            Axis::Names(names) if on_integer && x >= 0.0 => {
                names.get(x.round() as usize).cloned().unwrap_or_default()
            }
            Axis::Integer | Axis::Names(_) => String::new(),
        }
    }

    /// The drawn range for positions from `low` to `high`: a categorical axis keeps
    /// half a slot beside its first and last name, so no dot sits on the frame.
    pub fn range(&self, low: f64, high: f64) -> (f64, f64) {
        match self {
            Axis::Names(names) => (-0.5, names.len().max(1) as f64 - 0.5),
            Axis::Integer if high - low < 1.0 => (low - 0.5, high + 0.5),
            _ => (low, high),
        }
    }

    /// How many ticks to ask for: one per name or integer on a short axis.
    pub fn ticks(&self, low: f64, high: f64) -> usize {
        match self {
            Axis::Names(names) => names.len().max(1),
            Axis::Integer => ((high - low).round() as usize + 1).clamp(2, 10),
            _ => 6,
        }
    }
}

/// A value with two significant digits, in the short form of a tick: 0.0032, 45, 1e-4.
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if (1e-3..1e4).contains(&v.abs()) {
        let digits = (1 - v.abs().log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.digits$}");
        return if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        };
    }
    let s = format!("{v:.1e}");
    s.replace(".0e", "e")
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

/// Draws one panel into `area` (of any plotters backend: bitmap, SVG).
pub fn draw_panel<DB: DrawingBackend>(
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
    if let Some(range) = panel.x_range {
        (x0, x1) = range;
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    (x0, x1) = panel.x_axis.range(x0, x1);
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
                .x_labels(panel.x_axis.ticks(x0, x1))
                .x_label_formatter(&|x| panel.x_axis.label(*x))
                .y_label_formatter(&|y| tick(*y))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            for (i, s) in panel.series.iter().enumerate() {
                if s.points.is_empty() {
                    continue; // no legend entry for what is not drawn
                }
                let colour = PALETTE[i % PALETTE.len()];
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .map(|&(x, y)| (x, if panel.log_y { y.max(1e-12) } else { y }))
                    .collect();
                let drawn = if s.scatter {
                    let dots = pts
                        .into_iter()
                        .map(|p| Circle::new(p, 3, colour.mix(0.7).filled()));
                    chart.draw_series(dots)?
                } else {
                    chart.draw_series(LineSeries::new(pts, colour.stroke_width(2)))?
                };
                drawn.label(s.name.as_str()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            }
            if panel.series.len() > 1 {
                draw_legend(&mut chart)?;
            }
        }};
    }
    if panel.log_y {
        finish!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?);
    } else {
        finish!(builder.build_cartesian_2d(x0..x1, y0..y1)?);
    }
    Ok(())
}

/// The legend of the series drawn with labels, in the upper right corner.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .label_font((FONT, 12))
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// One trial for a parallel-coordinates plot: its coordinates in [0, 1] (one per
/// axis) and its objective value.
pub struct Polyline {
    /// Positions on the axes, each in [0, 1].
    pub coordinates: Vec<f64>,
    /// The objective, which colours the line.
    pub value: f64,
}

/// Parallel coordinates: one vertical axis per name, one line per trial through its
/// coordinates, coloured by rank from light (worst) to dark (best); `higher_is_better` says
/// which end is best. Lines are drawn worst first, so the best lie on top.
pub fn draw_parallel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    names: &[String],
    lines: &[Polyline],
    higher_is_better: bool,
) -> Result<(), BoxError>
where
    DB::ErrorType: 'static,
{
    ensure_font();
    let k = names.len().max(2);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 16))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(40)
        .build_cartesian_2d(-0.2f64..(k as f64 - 0.8), 0f64..1f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(k)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("position in range (own scale)")
        .label_style((FONT, 12))
        .draw()?;
    // Colour by rank, so one outlier does not wash out the rest.
    let mut order: Vec<&Polyline> = lines.iter().filter(|l| l.value.is_finite()).collect();
    order.sort_by(|a, b| {
        if higher_is_better {
            a.value.total_cmp(&b.value)
        } else {
            b.value.total_cmp(&a.value)
        }
    });
    let last = order.len().saturating_sub(1).max(1) as f64;
    for (rank, line) in order.into_iter().enumerate() {
        let g = rank as f64 / last;
        let shade = |dark: f64, light: f64| (light + (dark - light) * g).round() as u8;
        let colour = RGBColor(shade(8.0, 198.0), shade(48.0, 219.0), shade(107.0, 239.0));
        let points = line
            .coordinates
            .iter()
            .enumerate()
            .map(|(i, &c)| (i as f64, c.clamp(0.0, 1.0)));
        chart.draw_series(LineSeries::new(
            points,
            colour.stroke_width(if g > 0.9 { 3 } else { 1 }),
        ))?;
    }
    Ok(())
}

/// Encodes raw pixels as a PNG with fast compression: charts are mostly flat colour,
/// and the default level costs several milliseconds per image, every epoch.
pub fn encode_png(
    pixels: &[u8],
    width: u32,
    height: u32,
    colour: image::ColorType,
) -> Result<Vec<u8>, BoxError> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Sub)
        .write_image(pixels, width, height, colour)?;
    Ok(png)
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
    fn ticks_name_real_values() {
        assert_eq!(Axis::Log10.label(-4.0), "1e-4");
        assert_eq!(Axis::Log10.label(-2.5), "0.0032");
        assert_eq!(Axis::Log10.label(1.5), "32");
        assert_eq!(Axis::Log10OneMinus.label(2.0), "0.99");
        assert_eq!(Axis::Log10OneMinus.label(3.0), "0.999");
        assert_eq!(Axis::Integer.label(3.0), "3");
        assert_eq!(Axis::Integer.label(2.5), "");
        let names = Axis::Names(vec!["adam".into(), "sgd".into()]);
        assert_eq!(
            (names.label(1.0), names.label(0.5)),
            ("sgd".into(), String::new())
        );
        assert_eq!(names.range(0.0, 1.0), (-0.5, 1.5));
    }

    #[test]
    fn draws_a_png_with_text_on_a_fresh_machine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        let panel = |log_y| Panel {
            title: "loss".into(),
            x_label: "epoch".into(),
            y_label: "value".into(),
            log_y,
            x_axis: Axis::Plain,
            x_range: None,
            series: vec![
                Series {
                    name: "train".into(),
                    points: (0..10).map(|e| (e as f64, 1.0 / (e + 1) as f64)).collect(),
                    scatter: false,
                },
                Series {
                    name: "validation".into(),
                    points: (0..10).map(|e| (e as f64, 1.2 / (e + 1) as f64)).collect(),
                    scatter: true,
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
