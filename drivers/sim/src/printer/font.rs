//! The emulator's character generator: glyphs from a CJK outline font, rasterised into the
//! printer's fixed character cells (12×24 ASCII and 24×24 CJK in font A, 9×17 ASCII in font
//! B), and cached because a ticket repeats few characters many times.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ab_glyph::{Font, FontVec, PxScale, point};

/// Where Debian's `fonts-noto-cjk` puts the font the emulator uses by default.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
/// Face index of "Noto Sans Mono CJK SC" in that collection: simplified Chinese glyphs with
/// half-width Latin, like a printer's character ROM.
pub const DEFAULT_FONT_INDEX: u32 = 7;

/// Why the font could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    /// The file is not there.
    #[error(
        "printer emulator: cannot read the CJK font {path}: {source}; install Debian's fonts-noto-cjk or pass --font PATH (or set KIOSK_CJK_FONT)"
    )]
    Read {
        /// The path tried.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a font, or has no face at that index.
    #[error(
        "printer emulator: {path} has no usable font at index {index}; pass --font-index (fc-query lists the faces)"
    )]
    Invalid {
        /// The path tried.
        path: PathBuf,
        /// The face index.
        index: u32,
    },
}

/// One rasterised character cell, row-major, `true` = black.
#[derive(Debug)]
pub struct Cell {
    /// Width in dots.
    pub width: usize,
    /// Height in dots.
    pub height: usize,
    /// The dots.
    pub dots: Vec<bool>,
}

type Key = (char, usize, usize, u32);

/// A loaded font and its cache of rasterised cells.
pub struct Glyphs {
    font: FontVec,
    cache: Mutex<HashMap<Key, Arc<Cell>>>,
}

impl Glyphs {
    /// Loads face `index` of the font at `path`.
    pub fn load(path: &Path, index: u32) -> Result<Self, FontError> {
        let data = std::fs::read(path).map_err(|source| FontError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let font =
            FontVec::try_from_vec_and_index(data, index).map_err(|_| FontError::Invalid {
                path: path.to_path_buf(),
                index,
            })?;
        Ok(Self {
            font,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The cell of `ch` at `width`×`height` dots, where `em` is the base glyph size (22 for
    /// font A's 24-dot cells, 16 for font B) before the width/height multipliers.
    pub fn cell(&self, ch: char, width: usize, height: usize, em: u32, mul: (u8, u8)) -> Arc<Cell> {
        let key = (
            ch,
            width,
            height,
            em << 8 | u32::from(mul.0) << 4 | u32::from(mul.1),
        );
        if let Ok(cache) = self.cache.lock()
            && let Some(cell) = cache.get(&key)
        {
            return Arc::clone(cell);
        }
        let cell = Arc::new(self.rasterise(ch, width, height, em, mul));
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, Arc::clone(&cell));
        }
        cell
    }

    fn rasterise(&self, ch: char, width: usize, height: usize, em: u32, mul: (u8, u8)) -> Cell {
        let mut dots = vec![false; width * height];
        let units = self.font.units_per_em().unwrap_or(1000.0);
        let em_x = em as f32 * f32::from(mul.0);
        let em_y = em as f32 * f32::from(mul.1);
        // ab_glyph's scale is the font's ascent-to-descent height in pixels.
        let ratio = self.font.height_unscaled() / units;
        let scale = PxScale {
            x: em_x * ratio,
            y: em_y * ratio,
        };
        let id = self.font.glyph_id(ch);
        let advance = self.font.h_advance_unscaled(id) / units * em_x;
        let left = ((width as f32 - advance) / 2.0).max(0.0);
        // Ideographs sit in an em box whose top is 0.88 em above the baseline.
        let top = (height as f32 - em_y) / 2.0;
        let baseline = top + 0.88 * em_y;
        let glyph = id.with_scale_and_position(scale, point(left, baseline));
        if let Some(outlined) = self.font.outline_glyph(glyph) {
            let bounds = outlined.px_bounds();
            outlined.draw(|x, y, coverage| {
                let px = bounds.min.x as i64 + i64::from(x);
                let py = bounds.min.y as i64 + i64::from(y);
                if coverage >= 0.5 && px >= 0 && py >= 0 {
                    let (px, py) = (px as usize, py as usize);
                    if px < width && py < height {
                        dots[py * width + px] = true;
                    }
                }
            });
        }
        Cell {
            width,
            height,
            dots,
        }
    }
}
