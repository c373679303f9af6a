//! The codec of SANE image data: frames of raw bytes, described by `SANE_Parameters`, in,
//! one 8-bit [`PageImage`] out. Pure: no device, no clock.

use crate::page::{PageImage, PixelLayout};

/// `SANE_Frame`: which samples a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFormat {
    /// `SANE_FRAME_GRAY`.
    Gray,
    /// `SANE_FRAME_RGB`, pixel-interleaved.
    Rgb,
    /// `SANE_FRAME_RED` of a three-pass scan.
    Red,
    /// `SANE_FRAME_GREEN` of a three-pass scan.
    Green,
    /// `SANE_FRAME_BLUE` of a three-pass scan.
    Blue,
}

impl FrameFormat {
    /// From the C value; `None` for the formats SANE 1.0 reserves (JPEG, IR, ...).
    pub fn from_raw(raw: i32) -> Option<Self> {
        Some(match raw {
            0 => FrameFormat::Gray,
            1 => FrameFormat::Rgb,
            2 => FrameFormat::Red,
            3 => FrameFormat::Green,
            4 => FrameFormat::Blue,
            _ => return None,
        })
    }

    fn samples_per_pixel(self) -> usize {
        if self == FrameFormat::Rgb { 3 } else { 1 }
    }
}

/// `SANE_Parameters` of one frame, as read after `sane_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameParameters {
    /// What the frame's samples are.
    pub format: FrameFormat,
    /// Whether this is the page's last frame.
    pub last_frame: bool,
    /// Bytes per scan line, padding included.
    pub bytes_per_line: usize,
    /// Pixels per scan line.
    pub pixels_per_line: usize,
    /// Lines, or `None` when the backend does not know in advance (hand scanners).
    pub lines: Option<usize>,
    /// Bits per sample: 1, 8 or 16.
    pub depth: u8,
}

/// Image data that contradicts its parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A depth SANE does not define.
    #[error("unsupported sample depth {0} bits (expected 1, 8 or 16)")]
    Depth(u8),
    /// Lines too short for the pixels they must hold.
    #[error(
        "{bytes_per_line} bytes per line cannot hold {pixels} pixels of {depth} bits x {samples} samples"
    )]
    LineTooShort {
        bytes_per_line: usize,
        pixels: usize,
        depth: u8,
        samples: usize,
    },
    /// No frame at all, or a page without its last frame.
    #[error("the page has no complete frame")]
    Incomplete,
    /// Three-pass frames that are missing a colour or disagree in size.
    #[error("three-pass frames do not make one RGB image (have {have})")]
    ThreePass { have: String },
    /// An empty or absurd page size.
    #[error("page of {width}x{height} pixels is empty or too large")]
    Size { width: usize, height: usize },
}

/// Largest page accepted, in pixels per side: A3 at 1200 dpi is about 14000 x 20000.
const MAX_SIDE: usize = 30_000;

/// Turns the frames of one page into an 8-bit image at `dpi`.
///
/// Handles gray and RGB frames at 1, 8 and 16 bits (16-bit samples are in host byte order,
/// as the SANE standard says), three-pass scans (one frame per colour), padding at the end
/// of lines, and pages whose height was unknown in advance (taken from the bytes read; a
/// trailing partial line is dropped).
pub fn decode_page(
    frames: &[(FrameParameters, Vec<u8>)],
    dpi: f32,
) -> Result<PageImage, FrameError> {
    let Some((first, last)) = frames.first().zip(frames.last()) else {
        return Err(FrameError::Incomplete);
    };
    if !last.0.last_frame {
        return Err(FrameError::Incomplete);
    }
    match first.0.format {
        FrameFormat::Gray | FrameFormat::Rgb => {
            let (params, bytes) = first;
            let layout = if params.format == FrameFormat::Rgb {
                PixelLayout::Rgb8
            } else {
                PixelLayout::Gray8
            };
            let (width, height, data) = decode_samples(params, bytes)?;
            Ok(PageImage {
                width: width as u32,
                height: height as u32,
                dpi,
                layout,
                data,
            })
        }
        FrameFormat::Red | FrameFormat::Green | FrameFormat::Blue => decode_three_pass(frames, dpi),
    }
}

fn decode_three_pass(
    frames: &[(FrameParameters, Vec<u8>)],
    dpi: f32,
) -> Result<PageImage, FrameError> {
    let mut planes: [Option<(usize, usize, Vec<u8>)>; 3] = [None, None, None];
    for (params, bytes) in frames {
        let slot = match params.format {
            FrameFormat::Red => 0,
            FrameFormat::Green => 1,
            FrameFormat::Blue => 2,
            FrameFormat::Gray | FrameFormat::Rgb => {
                return Err(FrameError::ThreePass {
                    have: format!("{:?} among colour planes", params.format),
                });
            }
        };
        planes[slot] = Some(decode_samples(params, bytes)?);
    }
    let [Some(r), Some(g), Some(b)] = planes else {
        let have = planes
            .iter()
            .zip(["red", "green", "blue"])
            .filter(|(p, _)| p.is_some())
            .map(|(_, n)| n);
        return Err(FrameError::ThreePass {
            have: have.collect::<Vec<_>>().join("+"),
        });
    };
    if (r.0, r.1) != (g.0, g.1) || (r.0, r.1) != (b.0, b.1) {
        return Err(FrameError::ThreePass {
            have: format!("{}x{}, {}x{}, {}x{}", r.0, r.1, g.0, g.1, b.0, b.1),
        });
    }
    let mut data = Vec::with_capacity(r.2.len() * 3);
    for ((&rv, &gv), &bv) in r.2.iter().zip(&g.2).zip(&b.2) {
        data.extend_from_slice(&[rv, gv, bv]);
    }
    Ok(PageImage {
        width: r.0 as u32,
        height: r.1 as u32,
        dpi,
        layout: PixelLayout::Rgb8,
        data,
    })
}

/// Decodes one frame to 8-bit samples: (pixels per line, lines, samples).
fn decode_samples(
    params: &FrameParameters,
    bytes: &[u8],
) -> Result<(usize, usize, Vec<u8>), FrameError> {
    let samples = params.format.samples_per_pixel();
    let width = params.pixels_per_line;
    let needed_bits = width
        .checked_mul(samples)
        .and_then(|s| s.checked_mul(params.depth as usize))
        .ok_or(FrameError::Size { width, height: 0 })?;
    if !matches!(params.depth, 1 | 8 | 16) {
        return Err(FrameError::Depth(params.depth));
    }
    if params.bytes_per_line == 0 || params.bytes_per_line * 8 < needed_bits {
        return Err(FrameError::LineTooShort {
            bytes_per_line: params.bytes_per_line,
            pixels: width,
            depth: params.depth,
            samples,
        });
    }
    let complete_lines = bytes.len() / params.bytes_per_line;
    let height = params
        .lines
        .map_or(complete_lines, |l| l.min(complete_lines));
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(FrameError::Size { width, height });
    }
    let mut out = Vec::with_capacity(width * height * samples);
    for line in bytes.chunks_exact(params.bytes_per_line).take(height) {
        match params.depth {
            8 => out.extend_from_slice(&line[..width * samples]),
            16 => out.extend(
                line[..width * samples * 2]
                    .chunks_exact(2)
                    .map(|s| (u16::from_ne_bytes([s[0], s[1]]) >> 8) as u8),
            ),
            _ => {
                // SANE: in gray line-art a set bit is black; in colour a set bit is full intensity.
                let (set, clear) = if params.format == FrameFormat::Gray {
                    (0, 255)
                } else {
                    (255, 0)
                };
                out.extend((0..width * samples).map(|i| {
                    if line[i / 8] & (0x80 >> (i % 8)) != 0 {
                        set
                    } else {
                        clear
                    }
                }));
            }
        }
    }
    Ok((width, height, out))
}
