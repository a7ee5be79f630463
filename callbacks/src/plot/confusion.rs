//! Confusion matrices as heat maps, redrawn cheaply every epoch.

use std::sync::{Mutex, OnceLock};

use knob_core::BoxError;
use plotters::prelude::*;

use super::glyphs::Glyphs;
use super::{ensure_font, FONT};

/// A rendered confusion matrix: the PNG, and where each cell was drawn.
pub struct ConfusionImage {
    /// The PNG file's bytes.
    pub png: Vec<u8>,
    /// For each cell `(actual, predicted)`, a pixel inside it away from its number.
    pub probes: Vec<((usize, usize), (i32, i32))>,
}

/// Draws confusion matrices of one size and one list of classes.
///
/// The frame (class names on both axes, the axis titles) is drawn once with plotters;
/// each matrix then fills its cells, writes the counts and the title with glyphs
/// rasterized on first use, and encodes the PNG. The image is kept as indices into a
/// palette of 32 greys and 64 cell shades (with their half-tones under text), a third
/// of the bytes of RGB to encode. That keeps a matrix every epoch cheap next to the
/// epoch itself.
///
/// ```
/// use knob_callbacks::plot::ConfusionRenderer;
/// let names: Vec<String> = ["cat", "dog"].iter().map(|s| s.to_string()).collect();
/// let mut renderer = ConfusionRenderer::new(&names, (320, 280))?;
/// let image = renderer.render(&[vec![9, 1], vec![2, 8]], "epoch 0")?;
/// assert_eq!(&image.png[1..4], b"PNG");
/// # Ok::<(), knob_core::BoxError>(())
/// ```
#[derive(Clone)]
pub struct ConfusionRenderer {
    width: u32,
    height: u32,
    names: Vec<String>,
    /// The frame without cells or title, as palette indices.
    frame: Vec<u8>,
    /// The last image drawn: outside the cells and the title band it is the frame.
    pixels: Vec<u8>,
    /// The palette, RGB triples.
    palette: Vec<u8>,
    /// Pixel boxes `[x0, y0, x1, y1)` of cell `(actual, predicted)`, row-major.
    cells: Vec<[i32; 4]>,
    /// What each cell of `pixels` shows (count, shade, white ink), so that unchanged
    /// cells are not drawn again: from one epoch to the next most counts stay put.
    drawn: Vec<Option<(u64, usize, bool)>>,
    numbers: Glyphs,
    title: Glyphs,
}

/// The band above the chart that holds the title.
const TITLE_BAND: u32 = 34;

/// Palette layout: greys first, then cell shades, then each shade half-way to black
/// and half-way to white (for the edges of the counts written on it).
const GREYS: usize = 32;
const SHADES: usize = 64;
const HALF_BLACK: usize = GREYS + SHADES;
const HALF_WHITE: usize = HALF_BLACK + SHADES;
const BLACK: u8 = 0;
const WHITE: u8 = (GREYS - 1) as u8;

/// The colour of a cell holding `share` of its row: white to a deep blue.
fn shade_colour(share: f64) -> [u8; 3] {
    let shade = |full: f64, light: f64| (light + (full - light) * share).round() as u8;
    [shade(8.0, 247.0), shade(48.0, 251.0), shade(107.0, 255.0)]
}

fn palette() -> Vec<u8> {
    let mut colours: Vec<[u8; 3]> = (0..GREYS)
        .map(|i| [(i * 255 / (GREYS - 1)) as u8; 3])
        .collect();
    let shades: Vec<[u8; 3]> = (0..SHADES)
        .map(|l| shade_colour(l as f64 / (SHADES - 1) as f64))
        .collect();
    let half = |c: [u8; 3], ink: u8| c.map(|v| ((v as u16 + ink as u16) / 2) as u8);
    colours.extend(&shades);
    colours.extend(shades.iter().map(|&c| half(c, 0)));
    colours.extend(shades.iter().map(|&c| half(c, 255)));
    colours.concat()
}

/// The grey index nearest to an RGB colour's mean.
fn grey_index(rgb: &[u8]) -> u8 {
    let mean = rgb.iter().map(|&v| v as u32).sum::<u32>() / 3;
    ((mean * (GREYS as u32 - 1) + 127) / 255) as u8
}

impl ConfusionRenderer {
    /// A renderer for `class_names.len()` classes on a `width` by `height` image.
    ///
    /// Frames are kept for the life of the process, so every trial of a study after
    /// the first starts from a copy instead of drawing its frame again.
    pub fn new(class_names: &[String], size: (u32, u32)) -> Result<Self, BoxError> {
        type Frames = Mutex<Vec<ConfusionRenderer>>;
        static FRAMES: OnceLock<Frames> = OnceLock::new();
        let frames = FRAMES.get_or_init(Frames::default);
        let found = frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|r| r.names == class_names && (r.width, r.height) == size)
            .cloned();
        if let Some(renderer) = found {
            return Ok(renderer);
        }
        let renderer = Self::draw_frame(class_names, size)?;
        let mut frames = frames.lock().unwrap_or_else(|p| p.into_inner());
        // A handful of shapes per process at most; keep the cache from growing.
        if frames.len() >= 8 {
            frames.remove(0);
        }
        frames.push(renderer.clone());
        Ok(renderer)
    }

    fn draw_frame(class_names: &[String], (width, height): (u32, u32)) -> Result<Self, BoxError> {
        ensure_font();
        if class_names.is_empty() {
            return Err("confusion matrix: no classes".into());
        }
        let k = class_names.len();
        let k32 = k as i32;
        let mut rgb = vec![255u8; (width * height * 3) as usize];
        let mut cells = vec![[0; 4]; k * k];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            let chart_area = root.margin(TITLE_BAND, 10, 10, 10);
            let name = |i: i32| class_names.get(i as usize).cloned().unwrap_or_default();
            // Segment centres carry the class names; rows run top to bottom.
            let label = |v: &SegmentValue<i32>, flip: bool| match v {
                SegmentValue::CenterOf(i) if (0..k32).contains(i) => {
                    name(if flip { k32 - 1 - i } else { *i })
                }
                _ => String::new(),
            };
            let mut chart = ChartBuilder::on(&chart_area)
                .x_label_area_size(44)
                .y_label_area_size(64)
                .build_cartesian_2d((0..k32).into_segmented(), (0..k32).into_segmented())?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(k + 1)
                .y_labels(k + 1)
                .x_label_formatter(&|v| label(v, false))
                .y_label_formatter(&|v| label(v, true))
                .x_desc("predicted")
                .y_desc("actual")
                .label_style((FONT, 12))
                .draw()?;
            for r in 0..k {
                let y = k32 - 1 - r as i32;
                for c in 0..k {
                    let x = c as i32;
                    let (x0, y0) =
                        chart.backend_coord(&(SegmentValue::Exact(x), SegmentValue::Exact(y + 1)));
                    let (x1, y1) =
                        chart.backend_coord(&(SegmentValue::Exact(x + 1), SegmentValue::Exact(y)));
                    cells[r * k + c] = [x0, y0, x1, y1];
                }
            }
            root.present()?;
        }
        // The frame is black on white: its anti-aliased text maps onto the greys.
        let frame: Vec<u8> = rgb.chunks_exact(3).map(grey_index).collect();
        Ok(Self {
            width,
            height,
            names: class_names.to_vec(),
            pixels: frame.clone(),
            frame,
            palette: palette(),
            drawn: vec![None; cells.len()],
            cells,
            numbers: Glyphs::new(14.0),
            title: Glyphs::new(18.0),
        })
    }

    /// The classes it draws, in order.
    pub fn class_names(&self) -> &[String] {
        &self.names
    }

    /// Draws `matrix[actual][predicted]` (square, one row per class) under `title`:
    /// each row coloured by its own share (so rare classes are as readable as common
    /// ones), white to deep blue, with the count in every cell.
    pub fn render(&mut self, matrix: &[Vec<u64>], title: &str) -> Result<ConfusionImage, BoxError> {
        let k = self.names.len();
        if matrix.len() != k || matrix.iter().any(|row| row.len() != k) {
            return Err(format!("confusion matrix: expected {k} rows of {k} counts").into());
        }
        // Only the title band and the cells change from image to image.
        let (w, h) = (self.width as usize, self.height as usize);
        let band = TITLE_BAND as usize * w;
        self.pixels[..band].copy_from_slice(&self.frame[..band]);
        let mut probes = Vec::with_capacity(k * k);
        for (r, row) in matrix.iter().enumerate() {
            let total = row.iter().sum::<u64>().max(1) as f64;
            for (c, &count) in row.iter().enumerate() {
                let share = count as f64 / total;
                let level = (share * (SHADES - 1) as f64).round() as usize;
                let [x0, y0, x1, y1] = self.cells[r * k + c];
                probes.push(((r, c), (x0 + 3, y0 + 3)));
                let looks = Some((count, level, share > 0.5));
                if std::mem::replace(&mut self.drawn[r * k + c], looks) == looks {
                    continue;
                }
                fill(&mut self.pixels, w, [x0, y0, x1, y1], (GREYS + level) as u8);
                let (ink, half) = if share > 0.5 {
                    (WHITE, HALF_WHITE + level)
                } else {
                    (BLACK, HALF_BLACK + level)
                };
                let pixels = &mut self.pixels;
                let centre = ((x0 + x1) / 2, (y0 + y1) / 2);
                self.numbers.trace(&count.to_string(), centre, |x, y, a| {
                    if a >= 0.25 && (x0..x1).contains(&x) && (y0..y1).contains(&y) {
                        pixels[y as usize * w + x as usize] =
                            if a >= 0.75 { ink } else { half as u8 };
                    }
                });
            }
        }
        let pixels = &mut self.pixels;
        let middle = (self.width as i32 / 2, (TITLE_BAND as i32 + 4) / 2);
        self.title.trace(title, middle, |x, y, a| {
            if (0..w as i32).contains(&x) && (0..h as i32).contains(&y) {
                let at = &mut pixels[y as usize * w + x as usize];
                *at = (*at).min(((1.0 - a) * (GREYS - 1) as f32).round() as u8);
            }
        });
        Ok(ConfusionImage {
            png: encode_indexed(&self.pixels, self.width, self.height, &self.palette)?,
            probes,
        })
    }
}

/// Encodes palette indices as an indexed-colour PNG, compressed for speed.
fn encode_indexed(
    indices: &[u8],
    width: u32,
    height: u32,
    palette: &[u8],
) -> Result<Vec<u8>, BoxError> {
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::Up);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(indices)?;
    writer.finish()?;
    Ok(png)
}

/// Sets the pixel box `[x0, y0, x1, y1)` of a `width`-wide index image to `index`,
/// clipped to the image.
fn fill(pixels: &mut [u8], width: usize, [x0, y0, x1, y1]: [i32; 4], index: u8) {
    let height = pixels.len() / width;
    let clip = |v: i32, max: usize| v.clamp(0, max as i32) as usize;
    let (x0, x1) = (clip(x0, width), clip(x1, width));
    for y in clip(y0, height)..clip(y1, height) {
        pixels[y * width + x0..y * width + x1].fill(index);
    }
}

/// Draws one confusion matrix; see [`ConfusionRenderer`], which is faster for many of
/// the same classes and size.
pub fn confusion_matrix(
    matrix: &[Vec<u64>],
    class_names: &[String],
    title: &str,
    size: (u32, u32),
) -> Result<ConfusionImage, BoxError> {
    let mut names: Vec<String> = class_names.to_vec();
    names.extend((names.len()..matrix.len()).map(|i| i.to_string()));
    ConfusionRenderer::new(&names, size)?.render(matrix, title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_matrix_colours_follow_the_counts() {
        let matrix = vec![vec![50, 2, 0], vec![5, 9, 6], vec![0, 10, 30]];
        let names: Vec<String> = ["cat", "dog", "eel"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let img = confusion_matrix(&matrix, &names, "epoch 3", (420, 360)).unwrap();
        let decoded = image::load_from_memory(&img.png).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (420, 360));
        let brightness = |(x, y): (i32, i32)| {
            decoded
                .get_pixel(x as u32, y as u32)
                .0
                .iter()
                .map(|&c| c as u32)
                .sum::<u32>()
        };
        let darkest = img
            .probes
            .iter()
            .min_by_key(|(_, p)| brightness(*p))
            .unwrap()
            .0;
        assert_eq!(
            darkest,
            (0, 0),
            "the largest (row-normalized) value is the darkest cell"
        );
        let cell = |r: usize, c: usize| img.probes.iter().find(|(rc, _)| *rc == (r, c)).unwrap().1;
        // Within a row, more means darker; an empty cell stays light.
        assert!(
            brightness(cell(1, 1)) < brightness(cell(1, 2))
                && brightness(cell(1, 2)) < brightness(cell(1, 0))
        );
        assert!(brightness(cell(0, 2)) > 700);
    }

    #[test]
    fn writes_the_counts_and_title_and_refuses_a_wrong_shape() {
        let names: Vec<String> = (0..10).map(|c| c.to_string()).collect();
        let mut renderer = ConfusionRenderer::new(&names, (512, 448)).unwrap();
        let matrix: Vec<Vec<u64>> = (0..10)
            .map(|r| {
                (0..10)
                    .map(|c| if r == c { 35 } else { (r + c) as u64 % 3 })
                    .collect()
            })
            .collect();
        let img = renderer.render(&matrix, "trial 3 · epoch 12").unwrap();
        if let Ok(dir) = std::env::var("KNOB_SAVE_CONFUSION") {
            std::fs::write(std::path::Path::new(&dir).join("confusion.png"), &img.png).unwrap();
        }
        let decoded = image::load_from_memory(&img.png).unwrap().to_rgb8();
        // Ink in the title band, and in a light cell around its centre (its count).
        let ink = |xs: std::ops::Range<u32>, ys: std::ops::Range<u32>| {
            ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
                .filter(|&(x, y)| decoded.get_pixel(x, y).0.iter().all(|&c| c < 200))
                .count()
        };
        assert!(ink(100..412, 0..TITLE_BAND) > 40, "the title is written");
        let [x0, y0, x1, y1] = renderer.cells[1];
        let (x0, y0, x1, y1) = (x0 as u32, y0 as u32, x1 as u32, y1 as u32);
        assert!(ink(x0..x1, y0..y1) > 15, "the count is written in its cell");
        // The same renderer draws the next epoch without the last one's numbers.
        let blank = vec![vec![0u64; 10]; 10];
        let again = renderer.render(&blank, "").unwrap();
        let decoded = image::load_from_memory(&again.png).unwrap().to_rgb8();
        let cell_pixels: Vec<_> = (y0 + 2..y1 - 2)
            .flat_map(|y| (x0 + 2..x1 - 2).map(move |x| (x, y)))
            .map(|(x, y)| decoded.get_pixel(x, y).0)
            .collect();
        assert!(
            cell_pixels.iter().any(|p| p.iter().all(|&c| c < 100)),
            "a 0 is written"
        );
        let err = renderer
            .render(&[vec![1, 2], vec![3, 4]], "x")
            .err()
            .unwrap();
        assert!(err.to_string().contains("10 rows of 10"), "{err}");
        assert!(ConfusionRenderer::new(&[], (100, 100)).is_err());
    }

    #[test]
    fn redrawing_only_changed_cells_gives_the_image_drawn_from_scratch() {
        let names: Vec<String> = (0..4).map(|c| c.to_string()).collect();
        let first = vec![
            vec![9, 1, 0, 0],
            vec![0, 8, 2, 0],
            vec![1, 1, 7, 1],
            vec![0, 0, 0, 10],
        ];
        // Two predictions moved: rows 0 and 2 change, rows 1 and 3 do not.
        let mut second = first.clone();
        (second[0][0], second[0][1]) = (10, 0);
        (second[2][0], second[2][2]) = (0, 8);
        let mut reused = ConfusionRenderer::new(&names, (300, 260)).unwrap();
        reused.render(&first, "epoch 1").unwrap();
        let again = reused.render(&second, "epoch 2").unwrap();
        let fresh = ConfusionRenderer::new(&names, (300, 260))
            .unwrap()
            .render(&second, "epoch 2")
            .unwrap();
        let pixels = |png: &[u8]| image::load_from_memory(png).unwrap().to_rgb8().into_raw();
        assert_eq!(pixels(&again.png), pixels(&fresh.png));
    }
}
