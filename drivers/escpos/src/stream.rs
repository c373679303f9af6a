//! Reading an ESC/POS byte stream back into commands: what the printer emulator runs on, and
//! what a test uses to say what a captured job contains.
//!
//! [`next_command`] takes the front of a buffer and returns one command and how many bytes it
//! used, or says more bytes are needed. Unknown commands are skipped by their known length
//! or, failing that, by their two-byte prefix, the way a printer ignores what it does not
//! know. Declared lengths are bounded so that junk cannot make a reader wait for gigabytes.

/// Largest data block (raster image, 2D code, graphics) accepted; longer ones are junk.
pub const MAX_BLOCK: usize = 4 * 1024 * 1024;
/// Longest text run returned as one command.
const MAX_TEXT_RUN: usize = 4096;

/// One command read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Printable bytes (ASCII, or GB18030 in Chinese mode).
    Text(Vec<u8>),
    /// `LF`: print the line and feed one line.
    LineFeed,
    /// `CR`: ignored by printers in line mode.
    CarriageReturn,
    /// `HT`: horizontal tab.
    Tab,
    /// `ESC @`: reset the print modes.
    Init,
    /// `ESC E n` / `ESC G n`: emphasis.
    Bold(bool),
    /// `ESC - n`: underline thickness 0..=2.
    Underline(u8),
    /// `ESC a n`: alignment 0 left, 1 centre, 2 right.
    Align(u8),
    /// `ESC ! n`: print mode bits (font B, bold, double height/width, underline).
    PrintMode(u8),
    /// `ESC M n`: font 0 = A (12×24), 1 = B (9×17).
    Font(u8),
    /// `ESC d n`: print and feed n lines.
    FeedLines(u8),
    /// `ESC J n`: print and feed n dots.
    FeedDots(u8),
    /// `ESC 2` (None) / `ESC 3 n`: line spacing.
    LineSpacing(Option<u8>),
    /// `ESC $ nL nH`: absolute horizontal position in dots.
    Position(u16),
    /// `GS ! n`: character size, width in the high nibble, height in the low.
    Size(u8),
    /// `GS B n`: white on black.
    Reverse(bool),
    /// `GS L nL nH`: left margin in dots.
    LeftMargin(u16),
    /// `GS W nL nH`: print area width in dots.
    AreaWidth(u16),
    /// `FS &` (true) / `FS .` (false): Chinese character mode.
    Chinese(bool),
    /// `FS ! n`: Chinese print mode (bit 2 double width, bit 3 double height, bit 7 underline).
    ChineseMode(u8),
    /// `FS W n`: Chinese quadruple size.
    ChineseQuad(bool),
    /// `GS V`: cut, after feeding this many dots.
    Cut {
        /// Dots fed before the cut.
        feed: u8,
        /// Partial (one point left) rather than full.
        partial: bool,
    },
    /// `GS v 0 m xL xH yL yH d…`: raster image.
    Raster {
        /// Density mode: bit 0 double width, bit 1 double height.
        mode: u8,
        /// Bytes per row.
        width_bytes: u16,
        /// Rows.
        height: u16,
        /// Row-major bits, MSB leftmost.
        data: Vec<u8>,
    },
    /// `GS ( k … 49 65`: QR model.
    QrModel(u8),
    /// `GS ( k … 49 67 n`: QR module size in dots.
    QrModule(u8),
    /// `GS ( k … 49 69 n`: QR error level, 48..=51 = L, M, Q, H.
    QrLevel(u8),
    /// `GS ( k … 49 80 48 d…`: store QR data.
    QrStore(Vec<u8>),
    /// `GS ( k … 49 81 48`: print the stored QR.
    QrPrint,
    /// `GS k`: a barcode.
    Barcode {
        /// Symbology (0..=6 NUL-terminated forms, 65..=79 length-prefixed forms).
        system: u8,
        /// Its data.
        data: Vec<u8>,
    },
    /// `GS h n`: barcode height in dots.
    BarcodeHeight(u8),
    /// `GS w n`: barcode module width.
    BarcodeWidth(u8),
    /// `GS H n`: where the barcode's text goes.
    BarcodeText(u8),
    /// `DLE EOT n [a]`: a real-time status question.
    Status {
        /// n.
        n: u8,
        /// a, for n = 7, 8, 18.
        a: Option<u8>,
    },
    /// `GS a n`: automatic status back enable bits.
    AutoStatus(u8),
    /// `GS r n`: transmit status (1 paper sensor, 2 drawer).
    TransmitStatus(u8),
    /// A known command with no effect on what is printed, or an unknown one, skipped.
    Skipped(Vec<u8>),
}

/// What [`next_command`] found at the front of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A command and the number of bytes it used (always at least 1).
    Command(Command, usize),
    /// The buffer ends inside a command: read more bytes and call again.
    Incomplete,
}

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const DLE: u8 = 0x10;

/// Reads one command from the front of `buf` (which must not be empty for progress).
pub fn next_command(buf: &[u8]) -> Parsed {
    let Some(&first) = buf.first() else {
        return Parsed::Incomplete;
    };
    match first {
        0x0A => Parsed::Command(Command::LineFeed, 1),
        0x0D => Parsed::Command(Command::CarriageReturn, 1),
        0x09 => Parsed::Command(Command::Tab, 1),
        ESC => esc(buf),
        GS => gs(buf),
        FS => fs(buf),
        DLE => dle(buf),
        0x00..=0x1F | 0x7F => skip(buf, 1),
        _ => {
            let end = buf
                .iter()
                .take(MAX_TEXT_RUN)
                .position(|&b| b < 0x20 || b == 0x7F)
                .unwrap_or(buf.len().min(MAX_TEXT_RUN));
            Parsed::Command(Command::Text(buf[..end].to_vec()), end)
        }
    }
}

/// Reads every complete command of `buf`; returns them and the bytes of an incomplete tail.
pub fn parse_all(buf: &[u8]) -> (Vec<Command>, &[u8]) {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        match next_command(rest) {
            Parsed::Command(cmd, used) => {
                out.push(cmd);
                rest = &rest[used.clamp(1, rest.len())..];
            }
            Parsed::Incomplete => break,
        }
    }
    (out, rest)
}

fn skip(buf: &[u8], n: usize) -> Parsed {
    if buf.len() < n {
        Parsed::Incomplete
    } else {
        Parsed::Command(Command::Skipped(buf[..n].to_vec()), n)
    }
}

/// A command of `n` bytes whose value is built from them once they are all there.
fn fixed(buf: &[u8], n: usize, make: impl FnOnce(&[u8]) -> Command) -> Parsed {
    if buf.len() < n {
        Parsed::Incomplete
    } else {
        Parsed::Command(make(&buf[..n]), n)
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn esc(buf: &[u8]) -> Parsed {
    let Some(&op) = buf.get(1) else {
        return Parsed::Incomplete;
    };
    match op {
        b'@' => Parsed::Command(Command::Init, 2),
        b'E' | b'G' => fixed(buf, 3, |b| Command::Bold(b[2] & 1 == 1)),
        b'-' => fixed(buf, 3, |b| {
            Command::Underline(match b[2] {
                1 | b'1' => 1,
                2 | b'2' => 2,
                _ => 0,
            })
        }),
        b'a' => fixed(buf, 3, |b| {
            Command::Align(match b[2] {
                1 | b'1' => 1,
                2 | b'2' => 2,
                _ => 0,
            })
        }),
        b'!' => fixed(buf, 3, |b| Command::PrintMode(b[2])),
        b'M' => fixed(buf, 3, |b| Command::Font(b[2] & 1)),
        b'd' => fixed(buf, 3, |b| Command::FeedLines(b[2])),
        b'J' => fixed(buf, 3, |b| Command::FeedDots(b[2])),
        b'2' => Parsed::Command(Command::LineSpacing(None), 2),
        b'3' => fixed(buf, 3, |b| Command::LineSpacing(Some(b[2]))),
        b'$' => fixed(buf, 4, |b| Command::Position(u16_at(b, 2))),
        // ESC i / ESC m: old cut commands.
        b'i' => Parsed::Command(
            Command::Cut {
                feed: 0,
                partial: false,
            },
            2,
        ),
        b'm' => Parsed::Command(
            Command::Cut {
                feed: 0,
                partial: true,
            },
            2,
        ),
        // One-parameter commands with no effect on the emulated layout.
        b' ' | b't' | b'R' | b'{' | b'V' | b'r' | b'U' | b'=' | b'%' | b'?' | b'T' | b'<'
        | b'L' | b'S' => skip(
            buf,
            if matches!(op, b'<' | b'L' | b'S') {
                2
            } else {
                3
            },
        ),
        b'c' => skip(buf, 4),
        b'p' => skip(buf, 5),
        b'\\' => skip(buf, 4),
        b'W' => skip(buf, 10),
        b'D' => {
            // Tab positions: up to 32 bytes, NUL-terminated.
            match buf[2..].iter().take(33).position(|&b| b == 0) {
                Some(end) => skip(buf, 2 + end + 1),
                None if buf.len() >= 2 + 33 => skip(buf, 2),
                None => Parsed::Incomplete,
            }
        }
        b'*' => {
            if buf.len() < 5 {
                return Parsed::Incomplete;
            }
            let columns = usize::from(u16_at(buf, 3));
            let per_column = match buf[2] {
                0 | 1 => 1,
                32 | 33 => 3,
                _ => return skip(buf, 3),
            };
            skip(buf, 5 + columns * per_column)
        }
        _ => skip(buf, 2),
    }
}

fn fs(buf: &[u8]) -> Parsed {
    let Some(&op) = buf.get(1) else {
        return Parsed::Incomplete;
    };
    match op {
        b'&' => Parsed::Command(Command::Chinese(true), 2),
        b'.' => Parsed::Command(Command::Chinese(false), 2),
        b'!' => fixed(buf, 3, |b| Command::ChineseMode(b[2])),
        b'W' => fixed(buf, 3, |b| Command::ChineseQuad(b[2] & 1 == 1)),
        b'-' | b'C' => skip(buf, 3),
        b'S' | b'p' => skip(buf, 4),
        // FS 2 c1 c2 d1..d72: define a user character.
        b'2' => skip(buf, 4 + 72),
        _ => skip(buf, 2),
    }
}

fn dle(buf: &[u8]) -> Parsed {
    let Some(&op) = buf.get(1) else {
        return Parsed::Incomplete;
    };
    match op {
        0x04 => {
            let Some(&n) = buf.get(2) else {
                return Parsed::Incomplete;
            };
            if matches!(n, 7 | 8 | 18) {
                fixed(buf, 4, |b| Command::Status { n, a: Some(b[3]) })
            } else {
                Parsed::Command(Command::Status { n, a: None }, 3)
            }
        }
        0x05 => skip(buf, 3),
        0x14 => skip(buf, 5),
        _ => skip(buf, 1),
    }
}

fn gs(buf: &[u8]) -> Parsed {
    let Some(&op) = buf.get(1) else {
        return Parsed::Incomplete;
    };
    match op {
        b'!' => fixed(buf, 3, |b| Command::Size(b[2])),
        b'B' => fixed(buf, 3, |b| Command::Reverse(b[2] & 1 == 1)),
        b'L' => fixed(buf, 4, |b| Command::LeftMargin(u16_at(b, 2))),
        b'W' => fixed(buf, 4, |b| Command::AreaWidth(u16_at(b, 2))),
        b'h' => fixed(buf, 3, |b| Command::BarcodeHeight(b[2])),
        b'w' => fixed(buf, 3, |b| Command::BarcodeWidth(b[2])),
        b'H' => fixed(buf, 3, |b| Command::BarcodeText(b[2])),
        b'a' => fixed(buf, 3, |b| Command::AutoStatus(b[2])),
        b'r' => fixed(buf, 3, |b| Command::TransmitStatus(b[2])),
        b'f' | b'b' | b'I' | b'E' | b'T' | b'$' | b'\\' => {
            skip(buf, if matches!(op, b'$' | b'\\') { 4 } else { 3 })
        }
        b'P' => skip(buf, 4),
        b'V' => cut(buf),
        b'v' => raster(buf),
        b'k' => barcode(buf),
        b'(' => paren(buf),
        b'8' => {
            // GS 8 L p1 p2 p3 p4 …: graphics with a 4-byte length.
            if buf.len() < 7 {
                return Parsed::Incomplete;
            }
            let len = u32::from_le_bytes([buf[3], buf[4], buf[5], buf[6]]) as usize;
            if len > MAX_BLOCK {
                return skip(buf, 7);
            }
            skip(buf, 7 + len)
        }
        _ => skip(buf, 2),
    }
}

fn cut(buf: &[u8]) -> Parsed {
    let Some(&m) = buf.get(2) else {
        return Parsed::Incomplete;
    };
    match m {
        0 | 48 => Parsed::Command(
            Command::Cut {
                feed: 0,
                partial: false,
            },
            3,
        ),
        1 | 49 => Parsed::Command(
            Command::Cut {
                feed: 0,
                partial: true,
            },
            3,
        ),
        65 | 97 | 103 => fixed(buf, 4, |b| Command::Cut {
            feed: b[3],
            partial: false,
        }),
        66 | 98 | 104 => fixed(buf, 4, |b| Command::Cut {
            feed: b[3],
            partial: true,
        }),
        _ => skip(buf, 3),
    }
}

fn raster(buf: &[u8]) -> Parsed {
    if buf.len() < 8 {
        return Parsed::Incomplete;
    }
    if buf[2] != b'0' && buf[2] != 0 {
        return skip(buf, 3);
    }
    let width_bytes = u16_at(buf, 4);
    let height = u16_at(buf, 6);
    let len = usize::from(width_bytes) * usize::from(height);
    if len > MAX_BLOCK {
        return skip(buf, 8);
    }
    fixed(buf, 8 + len, |b| Command::Raster {
        mode: b[3] & 0x03,
        width_bytes,
        height,
        data: b[8..].to_vec(),
    })
}

fn barcode(buf: &[u8]) -> Parsed {
    let Some(&system) = buf.get(2) else {
        return Parsed::Incomplete;
    };
    if system <= 6 {
        match buf[3..].iter().take(256).position(|&b| b == 0) {
            Some(end) => fixed(buf, 3 + end + 1, |b| Command::Barcode {
                system,
                data: b[3..3 + end].to_vec(),
            }),
            None if buf.len() >= 3 + 256 => skip(buf, 3),
            None => Parsed::Incomplete,
        }
    } else {
        let Some(&n) = buf.get(3) else {
            return Parsed::Incomplete;
        };
        fixed(buf, 4 + usize::from(n), |b| Command::Barcode {
            system,
            data: b[4..].to_vec(),
        })
    }
}

/// `GS ( x pL pH …`: functions with a two-byte length; QR (`GS ( k` cn 49) is read, the
/// rest skipped whole.
fn paren(buf: &[u8]) -> Parsed {
    if buf.len() < 5 {
        return Parsed::Incomplete;
    }
    let len = usize::from(u16_at(buf, 3));
    let total = 5 + len;
    if buf.len() < total {
        return Parsed::Incomplete;
    }
    let body = &buf[5..total];
    let cmd = match (buf[2], body) {
        (b'k', [49, 65, n, ..]) => Command::QrModel(*n),
        (b'k', [49, 67, n, ..]) => Command::QrModule(*n),
        (b'k', [49, 69, n, ..]) => Command::QrLevel(*n),
        (b'k', [49, 80, _, data @ ..]) => Command::QrStore(data.to_vec()),
        (b'k', [49, 81, ..]) => Command::QrPrint,
        _ => Command::Skipped(buf[..total].to_vec()),
    };
    Parsed::Command(cmd, total)
}
