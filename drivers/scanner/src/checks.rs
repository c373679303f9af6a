//! Checks a page must pass before it is accepted: not blank, not too dark, not too light,
//! not skewed. They run on a copy reduced to about 100 dpi, which keeps them to a few
//! milliseconds per page.
//!
//! "Too dark" is about the scan, not the document: a red 户口本 cover, a colour
//! certificate or a photo is dark in luminance to its edges and must still pass. So a
//! page is too dark only when it shows an exposure failure (even its brightest part is
//! dark, in every channel) or an open lid (a dark, neutral, featureless frame around the
//! page).

use serde::{Deserialize, Serialize};

use crate::downsample::{downsample, factor_for, to_gray};
use crate::page::PageImage;

/// Limits of the page checks, read from the kiosk's config; missing fields take the
/// defaults below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckThresholds {
    /// Resolution the checks work at; lower is faster, too low loses thin strokes.
    pub analysis_dpi: f32,
    /// How much darker than the paper a pixel must be to count as ink (0-255).
    pub ink_contrast: u8,
    /// A page with a smaller fraction of ink pixels than this is blank.
    pub blank_max_ink_ratio: f32,
    /// Too dark (exposure failure): the brightest part of the page (the 99th percentile of
    /// each pixel's brightest channel) is darker than this. A white page reads about 240,
    /// a red cover about 180 (its red channel), a scan with the lamp at a quarter about 60.
    pub min_paper_level: u8,
    /// A pixel at least this dark in its brightest channel, and nearly neutral, is what an
    /// open lid shows: the room, not paper.
    pub lid_level: u8,
    /// Too dark (open lid): at least this share of two sides of the page's border band
    /// (its outer 5%) is lid-dark, those sides have almost no detail, and at least 40% of
    /// the page is lid-dark.
    pub open_lid_border_ratio: f32,
    /// Too light: the darkest ink (the 0.5th percentile of luminance) is lighter than this.
    pub max_ink_level: u8,
    /// Skewed: the text or edges lean more than this many degrees.
    pub max_skew_degrees: f32,
}

impl Default for CheckThresholds {
    fn default() -> Self {
        CheckThresholds {
            analysis_dpi: 100.0,
            ink_contrast: 60,
            blank_max_ink_ratio: 0.002,
            min_paper_level: 110,
            lid_level: 60,
            open_lid_border_ratio: 0.9,
            max_ink_level: 150,
            max_skew_degrees: 2.0,
        }
    }
}

/// One of the page checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The page carries content.
    Blank,
    /// The scan is exposed and the lid was closed.
    TooDark,
    /// The ink is dark enough.
    TooLight,
    /// The page lies straight.
    Skew,
}

/// The result of one check: what was measured against which limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Which check.
    pub check: Check,
    /// Whether the page passed it.
    pub passed: bool,
    /// What was measured (ink ratio; for too dark the highlight level, or the lid-dark
    /// share of the border when the lid was open; ink level; skew degrees).
    pub measured: f32,
    /// The limit it was compared with.
    pub limit: f32,
}

/// Everything the checks found about a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageReport {
    /// One result per check, in the order of [`Check`].
    pub results: Vec<CheckResult>,
    /// Fraction of content pixels: those that differ from the page's background (its most
    /// common luminance) by at least [`CheckThresholds::ink_contrast`], darker or lighter,
    /// so gold lettering on a red cover counts as well as black ink on white paper.
    pub ink_ratio: f32,
    /// Luminance of the paper (90th percentile).
    pub paper_level: u8,
    /// Brightest part of the page: the 99th percentile of each pixel's brightest channel.
    pub highlight_level: u8,
    /// Share of the border band that looks like an open lid (lid-dark and neutral), on the
    /// second darkest of its four sides: at least two sides are this dark.
    pub dark_border_ratio: f32,
    /// Whether the page looks like a scan with the lid open.
    pub open_lid: bool,
    /// Luminance of the darkest ink (0.5th percentile).
    pub ink_level: u8,
    /// Skew in degrees, positive when the content is turned counter-clockwise; `None`
    /// when the page has too few straight edges to tell (blank pages, photos).
    pub skew_degrees: Option<f32>,
}

impl PageReport {
    /// Whether every check passed.
    pub fn accepted(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = Check> + '_ {
        self.results.iter().filter(|r| !r.passed).map(|r| r.check)
    }
}

/// Runs all page checks.
pub fn check_page(page: &PageImage, limits: &CheckThresholds) -> PageReport {
    let reduced = downsample(page, factor_for(page.dpi, limits.analysis_dpi));
    let small = to_gray(&reduced);
    let histogram = histogram(&small.data);
    let total = small.data.len().max(1);
    let paper_level = percentile(&histogram, total, 0.90);
    let ink_level = percentile(&histogram, total, 0.005);
    // Content is whatever stands out from the background, in either direction: the
    // background of a cover is its colour, not paper white.
    let background = mode(&histogram);
    let below = background.saturating_sub(limits.ink_contrast) as usize;
    let above = background as usize + limits.ink_contrast as usize;
    let ink_pixels: usize = histogram[..below].iter().sum::<usize>()
        + histogram.get(above + 1..).map_or(0, |h| h.iter().sum());
    let ink_ratio = ink_pixels as f32 / total as f32;
    let light = light_stats(&reduced, limits);
    let exposure_failed = light.highlight < limits.min_paper_level;
    let too_dark = light.open_lid || exposure_failed;
    // A page too dark to judge is reported as too dark only: "place it again" is the
    // wrong advice when the lid is open.
    let blank = ink_ratio < limits.blank_max_ink_ratio && !too_dark;
    // A blank page has no lines to lean: a few specks of dust would give a random angle.
    let skew = if blank || too_dark {
        None
    } else {
        skew_degrees(&small)
    };

    let dark_result = if light.open_lid {
        CheckResult {
            check: Check::TooDark,
            passed: false,
            measured: light.dark_border_ratio,
            limit: limits.open_lid_border_ratio,
        }
    } else {
        CheckResult {
            check: Check::TooDark,
            passed: !exposure_failed,
            measured: light.highlight as f32,
            limit: limits.min_paper_level as f32,
        }
    };
    let results = vec![
        CheckResult {
            check: Check::Blank,
            passed: !blank,
            measured: ink_ratio,
            limit: limits.blank_max_ink_ratio,
        },
        dark_result,
        // A blank or dark page has no ink to be too light: it fails as blank or dark only.
        CheckResult {
            check: Check::TooLight,
            passed: blank || too_dark || ink_level <= limits.max_ink_level,
            measured: ink_level as f32,
            limit: limits.max_ink_level as f32,
        },
        CheckResult {
            check: Check::Skew,
            passed: skew.is_none_or(|a| a.abs() <= limits.max_skew_degrees),
            measured: skew.unwrap_or(0.0),
            limit: limits.max_skew_degrees,
        },
    ];
    PageReport {
        results,
        ink_ratio,
        paper_level,
        highlight_level: light.highlight,
        dark_border_ratio: light.dark_border_ratio,
        open_lid: light.open_lid,
        ink_level,
        skew_degrees: skew,
    }
}

/// Chroma (max minus min channel) below which a dark pixel is neutral, as the inside of
/// a room seen through an open lid is; dark red, brown or navy covers have more.
const LID_MAX_CHROMA: u8 = 24;
/// Mean step between neighbouring pixels of the border band (at ~100 dpi, brightest
/// channel) below which the band is featureless: sensor noise averaged by the reduction
/// stays well below, the edge of a document or printed matter goes well above.
const LID_MAX_DETAIL: f32 = 8.0;
/// Share of the whole page that must be lid-dark for an open lid: an A5 sheet laid on an
/// A4 glass leaves half of it.
const LID_MIN_PAGE_RATIO: f32 = 0.4;

/// What the too-dark check looks at.
struct LightStats {
    highlight: u8,
    dark_border_ratio: f32,
    open_lid: bool,
}

/// Brightness in each pixel's brightest channel (HSV value), so that saturated colours
/// count as bright as the lamp made them: luminance would call a red cover dark.
fn light_stats(page: &PageImage, limits: &CheckThresholds) -> LightStats {
    let (w, h, ch) = (
        page.width as usize,
        page.height as usize,
        page.layout.channels(),
    );
    let (band_x, band_y) = ((w / 20).max(1), (h / 20).max(1));
    let mut values = [0usize; 256];
    let mut page_dark = 0usize;
    // Per side of the border band (top, bottom, left, right): pixels, lid-dark pixels,
    // and the sum of steps to the left neighbour.
    let mut sides = [(0usize, 0usize, 0u64); 4];
    for (y, row) in page.data.chunks_exact(w * ch).enumerate() {
        let mut previous = 0u8;
        for (x, px) in row.chunks_exact(ch).enumerate() {
            let (max, min) = px
                .iter()
                .fold((0u8, 255u8), |(hi, lo), &v| (hi.max(v), lo.min(v)));
            values[max as usize] += 1;
            let dark = max <= limits.lid_level && max - min < LID_MAX_CHROMA;
            page_dark += usize::from(dark);
            let step = if x == 0 { 0 } else { previous.abs_diff(max) };
            previous = max;
            let within = [y < band_y, y >= h - band_y, x < band_x, x >= w - band_x];
            for (side, _) in sides.iter_mut().zip(within).filter(|(_, inside)| *inside) {
                side.0 += 1;
                side.1 += usize::from(dark);
                side.2 += u64::from(step);
            }
        }
    }
    let total = (w * h).max(1);
    // A document laid in a corner of the glass hides two sides of the frame; the other
    // two still show the open lid.
    let mut dark_sides: Vec<(f32, f32)> = sides
        .iter()
        .map(|&(n, dark, steps)| {
            let n = n.max(1) as f32;
            (dark as f32 / n, steps as f32 / n)
        })
        .collect();
    dark_sides.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (dark_border_ratio, detail) = dark_sides
        .get(..2)
        .map_or((0.0, f32::MAX), |two| (two[1].0, two[0].1.max(two[1].1)));
    LightStats {
        highlight: percentile(&values, total, 0.99),
        dark_border_ratio,
        open_lid: dark_border_ratio >= limits.open_lid_border_ratio
            && detail < LID_MAX_DETAIL
            && page_dark as f32 / total as f32 >= LID_MIN_PAGE_RATIO,
    }
}

/// The most common level, counted over a window of +-3 levels so that noise does not
/// split the background into neighbouring bins.
fn mode(histogram: &[usize; 256]) -> u8 {
    (0..256usize)
        .max_by_key(|&level| {
            histogram[level.saturating_sub(3)..(level + 4).min(256)]
                .iter()
                .sum::<usize>()
        })
        .unwrap_or(255) as u8
}

fn histogram(gray: &[u8]) -> [usize; 256] {
    let mut h = [0usize; 256];
    for &v in gray {
        h[v as usize] += 1;
    }
    h
}

fn percentile(histogram: &[usize; 256], total: usize, q: f64) -> u8 {
    let target = (total as f64 * q).ceil() as usize;
    let mut seen = 0;
    for (level, &n) in histogram.iter().enumerate() {
        seen += n;
        if seen >= target.max(1) {
            return level as u8;
        }
    }
    255
}

/// Sobel magnitude (|gx| + |gy|) below which a pixel is not an edge; a full black-white
/// step gives 1020.
const MIN_EDGE: i32 = 160;
/// Skew searched for, degrees either way; beyond this a page is "upside down or sideways",
/// not skewed.
const SEARCH_DEGREES: f32 = 15.0;
/// The best angle's profile energy must beat the average over all angles by this factor.
const MIN_ENERGY_GAIN: f64 = 1.15;

/// Skew by projection profiles of edges (after Postl): the tops and bottoms of strokes,
/// text lines, table rules and borders line up along the page's rotation, so projecting
/// horizontal edges across the rotated rows (and vertical edges across the rotated
/// columns) gives the sharpest profile at the true angle. Positions, not local edge
/// directions, carry the angle, so pixel staircases of a slightly turned page do not fool
/// it, and grids and forms work as well as text.
fn skew_degrees(gray: &PageImage) -> Option<f32> {
    let (w, h) = (gray.width as usize, gray.height as usize);
    if w < 3 || h < 3 {
        return None;
    }
    let p = |x: usize, y: usize| gray.data[y * w + x] as i32;
    let (mut rows, mut cols) = (Vec::new(), Vec::new());
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let gx = p(x + 1, y - 1) + 2 * p(x + 1, y) + p(x + 1, y + 1)
                - p(x - 1, y - 1)
                - 2 * p(x - 1, y)
                - p(x - 1, y + 1);
            let gy = p(x - 1, y + 1) + 2 * p(x, y + 1) + p(x + 1, y + 1)
                - p(x - 1, y - 1)
                - 2 * p(x, y - 1)
                - p(x + 1, y - 1);
            if gx.abs() + gy.abs() < MIN_EDGE {
                continue;
            }
            let point = (x as f32, y as f32);
            if gy.abs() > gx.abs() {
                rows.push(point)
            } else {
                cols.push(point)
            }
        }
    }
    if rows.len() + cols.len() < 500 {
        return None;
    }
    let span = w + h;
    let mut profile = vec![0u32; 2 * span + 2];
    let mut energy = |degrees: f32| -> f64 {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let mut total = 0f64;
        // Horizontal edges sit on rotated rows: y cos + x sin is constant along them
        // (screen y grows downwards, so a counter-clockwise turn lifts the right end).
        for (points, project) in [
            (
                &rows,
                &(|(x, y): (f32, f32)| y * cos + x * sin) as &dyn Fn((f32, f32)) -> f32,
            ),
            (
                &cols,
                &(|(x, y): (f32, f32)| x * cos - y * sin) as &dyn Fn((f32, f32)) -> f32,
            ),
        ] {
            profile.fill(0);
            for &pt in points {
                let bin = (project(pt) + span as f32) as usize;
                if let Some(b) = profile.get_mut(bin) {
                    *b += 1;
                }
            }
            total += profile
                .iter()
                .map(|&n| f64::from(n) * f64::from(n))
                .sum::<f64>();
        }
        total
    };
    // Coarse to fine: whole degrees, then tenths around the best.
    let coarse: Vec<(f32, f64)> = (-(SEARCH_DEGREES as i32)..=SEARCH_DEGREES as i32)
        .map(|d| (d as f32, energy(d as f32)))
        .collect();
    let average = coarse.iter().map(|(_, e)| e).sum::<f64>() / coarse.len() as f64;
    let (best, best_energy) = coarse.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
    if best_energy < MIN_ENERGY_GAIN * average {
        return None;
    }
    let fine = (-10..=10)
        .map(|t| best + t as f32 / 10.0)
        .map(|a| (a, energy(a)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(fine.0)
}
