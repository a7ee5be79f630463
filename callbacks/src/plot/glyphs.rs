//! Text drawn straight into an RGB buffer from glyphs rasterized once.
//!
//! Plotters lays out and rasterizes every string each time it draws it; a chart that
//! is redrawn every epoch with a few dozen short numbers spends most of its time there.
//! This keeps each character's coverage mask after its first use.

use std::collections::HashMap;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

use super::FONT_BYTES;

/// One rasterized character.
#[derive(Clone)]
struct Glyph {
    /// Coverage in [0, 1], row-major, `width` by `height`.
    coverage: Vec<f32>,
    width: usize,
    height: usize,
    /// The mask's top-left corner relative to the pen on the baseline.
    left: i32,
    top: i32,
    advance: f32,
}

/// Glyphs of the shipped font at one size.
#[derive(Clone)]
pub(crate) struct Glyphs {
    font: FontRef<'static>,
    scale: PxScale,
    cache: HashMap<char, Glyph>,
}

impl Glyphs {
    /// Glyphs `px` pixels high (the font's em size).
    pub fn new(px: f32) -> Self {
        Self {
            font: FontRef::try_from_slice(FONT_BYTES).expect("the shipped font parses"),
            scale: PxScale::from(px),
            cache: HashMap::new(),
        }
    }

    fn glyph(&mut self, c: char) -> &Glyph {
        let (font, scale) = (&self.font, self.scale);
        self.cache.entry(c).or_insert_with(|| {
            let id = font.glyph_id(c);
            let advance = font.as_scaled(scale).h_advance(id);
            match font.outline_glyph(id.with_scale_and_position(scale, point(0.0, 0.0))) {
                Some(outline) => {
                    let bounds = outline.px_bounds();
                    let (width, height) = (bounds.width() as usize, bounds.height() as usize);
                    let mut coverage = vec![0.0; width * height];
                    outline.draw(|x, y, c| {
                        if let Some(v) = coverage.get_mut(y as usize * width + x as usize) {
                            *v = c;
                        }
                    });
                    Glyph {
                        coverage,
                        width,
                        height,
                        left: bounds.min.x as i32,
                        top: bounds.min.y as i32,
                        advance,
                    }
                }
                None => Glyph {
                    coverage: Vec::new(),
                    width: 0,
                    height: 0,
                    left: 0,
                    top: 0,
                    advance,
                },
            }
        })
    }

    /// Calls `ink(x, y, coverage)` for every pixel `text` covers when centred on
    /// `(cx, cy)`; the caller clips and blends.
    pub fn trace(&mut self, text: &str, (cx, cy): (i32, i32), mut ink: impl FnMut(i32, i32, f32)) {
        let width: f32 = text.chars().map(|c| self.glyph(c).advance).sum();
        let scaled = self.font.as_scaled(self.scale);
        // The baseline that centres the font's ascent-to-descent box on `cy`.
        let baseline = cy as f32 + (scaled.ascent() + scaled.descent()) / 2.0;
        let mut pen = cx as f32 - width / 2.0;
        for c in text.chars() {
            let g = self.glyph(c);
            let (x0, y0) = (pen.round() as i32 + g.left, baseline.round() as i32 + g.top);
            for gy in 0..g.height {
                for gx in 0..g.width {
                    let a = g.coverage[gy * g.width + gx];
                    if a > 0.0 {
                        ink(x0 + gx as i32, y0 + gy as i32, a);
                    }
                }
            }
            pen += g.advance;
        }
    }
}
