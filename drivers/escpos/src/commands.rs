//! Building a print job: the bytes of one ticket or receipt.
//!
//! Text styles, QR codes, barcodes, feeds and cuts come from the `escpos` crate's command
//! builder, run against an in-memory driver. What that crate lacks is written here: the
//! Chinese-character mode (`FS &` / `FS .`) that makes the printer read GB18030, and raster
//! images (`GS v 0`) from a bitmap we already hold (the crate only rasterises image files,
//! behind its `graphics` feature, with its own dithering).

use std::sync::{Arc, Mutex};

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{
    Encoder, JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption,
};

/// Why a job could not be built. Only the caller's content can cause this (text the printer
/// cannot encode, a QR payload too long, a size out of range), never the printer.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The `escpos` builder refused the content.
    #[error("cannot build the print job: {0}")]
    Build(String),
    /// A raster image does not fit the printer's command limits.
    #[error(
        "raster image of {width}x{height} dots does not fit GS v 0 (at most 65535 bytes per row and 65535 rows)"
    )]
    RasterTooLarge {
        /// Width in dots.
        width: usize,
        /// Height in dots.
        height: usize,
    },
}

impl From<escpos::errors::PrinterError> for CommandError {
    fn from(err: escpos::errors::PrinterError) -> Self {
        Self::Build(err.to_string())
    }
}

/// Horizontal alignment of the following lines (`ESC a n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Flush left.
    Left,
    /// Centred on the print area.
    Center,
    /// Flush right.
    Right,
}

/// QR error correction level (`GS ( k` function 169).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrLevel {
    /// About 7 % of the symbol may be lost.
    L,
    /// About 15 %.
    M,
    /// About 25 %.
    Q,
    /// About 30 %.
    H,
}

/// How a QR code is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrStyle {
    /// Module size in dots, 1..=16 (`GS ( k` function 167).
    pub module: u8,
    /// Error correction level.
    pub level: QrLevel,
}

impl Default for QrStyle {
    fn default() -> Self {
        Self {
            module: 6,
            level: QrLevel::M,
        }
    }
}

/// A 1-bit image, row-major, `true` = black dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: usize,
    height: usize,
    dots: Vec<bool>,
}

impl Bitmap {
    /// A white bitmap.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            dots: vec![false; width * height],
        }
    }

    /// Width in dots.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in dots.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Sets one dot; dots outside the bitmap are ignored.
    pub fn set(&mut self, x: usize, y: usize, black: bool) {
        if x < self.width && y < self.height {
            self.dots[y * self.width + x] = black;
        }
    }

    /// Reads one dot; outside is white.
    pub fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dots[y * self.width + x]
    }
}

/// The `GS v 0` command printing `bitmap` at normal density: rows padded to whole bytes,
/// most significant bit leftmost.
pub fn raster(bitmap: &Bitmap) -> Result<Vec<u8>, CommandError> {
    let row_bytes = bitmap.width.div_ceil(8);
    let too_large = || CommandError::RasterTooLarge {
        width: bitmap.width,
        height: bitmap.height,
    };
    let x = u16::try_from(row_bytes).map_err(|_| too_large())?;
    let y = u16::try_from(bitmap.height).map_err(|_| too_large())?;
    let mut out = Vec::with_capacity(8 + row_bytes * bitmap.height);
    out.extend_from_slice(&[0x1D, b'v', b'0', 0]);
    out.extend_from_slice(&x.to_le_bytes());
    out.extend_from_slice(&y.to_le_bytes());
    for row in bitmap.dots.chunks(bitmap.width.max(1)).take(bitmap.height) {
        for byte in row.chunks(8) {
            let mut b = 0u8;
            for (i, &black) in byte.iter().enumerate() {
                if black {
                    b |= 0x80 >> i;
                }
            }
            out.push(b);
        }
    }
    Ok(out)
}

/// An in-memory `escpos` driver: the builder writes into it, we take the bytes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Driver for Capture {
    fn name(&self) -> String {
        "memory".to_owned()
    }

    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0
            .lock()
            .map_err(|_| escpos::errors::PrinterError::Io("capture buffer poisoned".to_owned()))?
            .extend_from_slice(data);
        Ok(())
    }

    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }

    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// A print job under construction. Starts with `ESC @` (initialise) and `FS &` (Chinese
/// mode, GB18030 text); [`Job::finish`] returns the bytes to send.
pub struct Job {
    printer: Printer<Capture>,
    capture: Capture,
}

impl Job {
    /// A new job: printer initialised, Chinese mode on.
    pub fn new() -> Result<Self, CommandError> {
        let capture = Capture::default();
        let protocol = Protocol::new(Encoder::new(encoding_rs::GB18030));
        let mut printer = Printer::new(capture.clone(), protocol, None);
        printer.init()?.custom(&[0x1C, b'&'])?;
        Ok(Self { printer, capture })
    }

    /// Sets the alignment for the following lines.
    pub fn align(&mut self, align: Align) -> Result<&mut Self, CommandError> {
        let mode = match align {
            Align::Left => JustifyMode::LEFT,
            Align::Center => JustifyMode::CENTER,
            Align::Right => JustifyMode::RIGHT,
        };
        self.printer.justify(mode)?;
        Ok(self)
    }

    /// Emphasised (bold) text on or off (`ESC E n`).
    pub fn bold(&mut self, on: bool) -> Result<&mut Self, CommandError> {
        self.printer.bold(on)?;
        Ok(self)
    }

    /// Character size as width and height multipliers, 1..=8 each (`GS ! n`).
    pub fn size(&mut self, width: u8, height: u8) -> Result<&mut Self, CommandError> {
        self.printer.size(width, height)?;
        Ok(self)
    }

    /// Text in the current style, encoded in GB18030, without a line feed.
    pub fn text(&mut self, text: &str) -> Result<&mut Self, CommandError> {
        self.printer.write(text)?;
        Ok(self)
    }

    /// Text followed by a line feed (`LF`), which prints the line.
    pub fn line(&mut self, text: &str) -> Result<&mut Self, CommandError> {
        self.printer.write(text)?.custom(&[0x0A])?;
        Ok(self)
    }

    /// Feeds `lines` blank lines (`ESC d n`).
    pub fn feed(&mut self, lines: u8) -> Result<&mut Self, CommandError> {
        self.printer.feeds(lines)?;
        Ok(self)
    }

    /// A native QR code of `data` (`GS ( k`: model 2, module size, level, store, print),
    /// aligned as the current alignment says.
    pub fn qr(&mut self, data: &str, style: QrStyle) -> Result<&mut Self, CommandError> {
        let level = match style.level {
            QrLevel::L => QRCodeCorrectionLevel::L,
            QrLevel::M => QRCodeCorrectionLevel::M,
            QrLevel::Q => QRCodeCorrectionLevel::Q,
            QrLevel::H => QRCodeCorrectionLevel::H,
        };
        let option = QRCodeOption::new(QRCodeModel::Model2, style.module.clamp(1, 16), level);
        self.printer.qrcode_option(data, option)?;
        Ok(self)
    }

    /// A CODE39 barcode with its human-readable line below (`GS k`).
    pub fn code39(&mut self, data: &str) -> Result<&mut Self, CommandError> {
        self.printer.code39(data)?;
        Ok(self)
    }

    /// A raster image (`GS v 0`), for the few things text cannot draw (a logo).
    pub fn image(&mut self, bitmap: &Bitmap) -> Result<&mut Self, CommandError> {
        let bytes = raster(bitmap)?;
        self.printer.custom(&bytes)?;
        Ok(self)
    }

    /// Raw bytes, for commands this builder does not name.
    pub fn raw(&mut self, bytes: &[u8]) -> Result<&mut Self, CommandError> {
        self.printer.custom(bytes)?;
        Ok(self)
    }

    /// Feeds past the cutter and cuts partially (`GS V A n`: feed n dots, then cut), which is
    /// what a ticket dispenser does so the ticket stays in the mouth until taken.
    pub fn cut(&mut self) -> Result<&mut Self, CommandError> {
        // GS V 66 n: feed n dots then partial cut. 96 dots ≈ 12 mm reaches the cutter.
        self.printer.custom(&[0x1D, b'V', 66, 96])?;
        Ok(self)
    }

    /// The job's bytes. Chinese mode is left on: the next job starts with `ESC @` anyway.
    pub fn finish(mut self) -> Result<Vec<u8>, CommandError> {
        self.printer.print()?;
        let bytes = std::mem::take(
            &mut *self
                .capture
                .0
                .lock()
                .map_err(|_| CommandError::Build("capture buffer poisoned".to_owned()))?,
        );
        Ok(bytes)
    }
}
