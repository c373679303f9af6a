//! Checks a page must pass before it is accepted: not blank, not too dark, not too light,
//! not skewed. They run on a gray copy reduced to about 100 dpi, which keeps them to a few
//! milliseconds per page.

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
    /// Too dark: the paper (the 90th percentile of luminance) is darker than this.
    pub min_paper_level: u8,
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
    /// The paper is light enough.
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
    /// What was measured (ink ratio, paper level, ink level, skew degrees).
    pub measured: f32,
    /// The limit it was compared with.
    pub limit: f32,
}

/// Everything the checks found about a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageReport {
    /// One result per check, in the order of [`Check`].
    pub results: Vec<CheckResult>,
    /// Fraction of ink pixels.
    pub ink_ratio: f32,
    /// Luminance of the paper (90th percentile).
    pub paper_level: u8,
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
    let small = to_gray(&downsample(page, factor_for(page.dpi, limits.analysis_dpi)));
    let histogram = histogram(&small.data);
    let total = small.data.len().max(1);
    let paper_level = percentile(&histogram, total, 0.90);
    let ink_level = percentile(&histogram, total, 0.005);
    let ink_threshold = paper_level.saturating_sub(limits.ink_contrast);
    let ink_pixels: usize = histogram[..ink_threshold as usize].iter().sum();
    let ink_ratio = ink_pixels as f32 / total as f32;
    let blank = ink_ratio < limits.blank_max_ink_ratio;
    // A blank page has no lines to lean: a few specks of dust would give a random angle.
    let skew = if blank { None } else { skew_degrees(&small) };

    let results = vec![
        CheckResult {
            check: Check::Blank,
            passed: !blank,
            measured: ink_ratio,
            limit: limits.blank_max_ink_ratio,
        },
        CheckResult {
            check: Check::TooDark,
            passed: paper_level >= limits.min_paper_level,
            measured: paper_level as f32,
            limit: limits.min_paper_level as f32,
        },
        // A blank page has no ink to be too light: it fails as blank only.
        CheckResult {
            check: Check::TooLight,
            passed: blank || ink_level <= limits.max_ink_level,
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
        ink_level,
        skew_degrees: skew,
    }
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
