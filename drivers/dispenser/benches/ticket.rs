#![allow(clippy::unwrap_used)]
//! Queue ticket: bytes on the wire and host time to build, native ESC/POS (text + GS ( k QR)
//! against a raster-only ticket of the same content (the host draws the same layout with the
//! same CJK font, then sends it as GS v 0), measured in the same run.
//!
//! `cargo bench -p kiosk-dispenser --bench ticket`

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kiosk_dispenser::{Ticket, ticket_job};
use kiosk_escpos::{Bitmap, Job};
use kiosk_sim::printer::font::{DEFAULT_FONT, DEFAULT_FONT_INDEX, Glyphs};
use kiosk_sim::printer::{Cover, Engine, Mechanism, Paper, PaperWidth};

fn ticket() -> Ticket {
    Ticket {
        hall: "南京市玄武区政务服务中心".into(),
        category: "社保医保".into(),
        number: "A042".into(),
        ahead: 3,
        estimated_wait: Duration::from_secs(15 * 60),
        issued_at: NaiveDate::from_ymd_opt(2026, 11, 26)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap(),
        link: "https://zwfw.example.gov.cn/q/3201/A042".into(),
        holder_name: Some("张三丰".into()),
        priority: false,
    }
}

/// The raster-only way: lay the ticket out on the host and send it as one image.
fn raster_ticket(glyphs: &Arc<Glyphs>, ticket: &Ticket) -> Vec<u8> {
    let mechanism = Arc::new(Mutex::new(Mechanism {
        paper: Paper::Ok,
        cover: Cover::Closed,
        presenter: false,
        ticket_waiting: false,
    }));
    let mut engine = Engine::new(Arc::clone(glyphs), PaperWidth::Mm80, mechanism);
    let page = engine.feed(&ticket_job(ticket).unwrap()).tickets.remove(0);
    // The printable 576 dots of the 640-dot page.
    let mut bitmap = Bitmap::new(576, page.height() as usize);
    for (x, y, pixel) in page.enumerate_pixels() {
        if pixel.0[0] < 128 && (32..608).contains(&x) {
            bitmap.set(x as usize - 32, y as usize, true);
        }
    }
    let mut job = Job::new().unwrap();
    job.image(&bitmap).unwrap().cut().unwrap();
    job.finish().unwrap()
}

fn time<F: FnMut() -> Vec<u8>>(iterations: u32, mut build: F) -> (usize, Duration) {
    let mut bytes = 0;
    for _ in 0..iterations.min(20) {
        bytes = black_box(build()).len();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        bytes = black_box(build()).len();
    }
    (bytes, start.elapsed() / iterations)
}

fn main() {
    let font: std::path::PathBuf =
        std::env::var_os("KIOSK_CJK_FONT").map_or_else(|| DEFAULT_FONT.into(), Into::into);
    let glyphs = Arc::new(Glyphs::load(&font, DEFAULT_FONT_INDEX).unwrap());
    let t = ticket();
    let (native_bytes, native_time) = time(2000, || ticket_job(black_box(&t)).unwrap());
    let (raster_bytes, raster_time) = time(50, || raster_ticket(&glyphs, black_box(&t)));

    println!("queue ticket, 80 mm, same content, same run");
    println!(
        "{:<28} {:>10} {:>14} {:>12} {:>12}",
        "variant", "bytes", "build time", "bytes ×", "time ×"
    );
    println!(
        "{:<28} {:>10} {:>11.1} µs {:>12} {:>12}",
        "native (text + GS ( k QR)",
        native_bytes,
        native_time.as_secs_f64() * 1e6,
        "1.00",
        "1.00"
    );
    println!(
        "{:<28} {:>10} {:>11.1} µs {:>12.2} {:>12.2}",
        "raster only (GS v 0)",
        raster_bytes,
        raster_time.as_secs_f64() * 1e6,
        raster_bytes as f64 / native_bytes as f64,
        raster_time.as_secs_f64() / native_time.as_secs_f64()
    );
    println!(
        "goals: native ≤ 1024 bytes ({}), build ≤ 2 ms ({})",
        if native_bytes <= 1024 {
            "met"
        } else {
            "NOT met"
        },
        if native_time <= Duration::from_millis(2) {
            "met"
        } else {
            "NOT met"
        }
    );
}
