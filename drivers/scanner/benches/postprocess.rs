#![allow(clippy::unwrap_used)]
//! Post-processing of an A4 page scanned at 300 dpi in colour: page checks, compression,
//! PDF assembly. Prints pages per minute on one core (everything here is single-threaded)
//! and the bytes a page costs, against baselines measured in the same run:
//! - the same pipeline with grayscale detection off (every page stored in colour);
//! - the raw page encoded as PNG (what a naive frontend would store).
//!
//! Run: `cargo bench -p kiosk-scanner --bench postprocess`

use std::io::Cursor;
use std::time::Duration;

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use kiosk_scanner::synthetic::TextPage;
use kiosk_scanner::{
    CheckThresholds, CompressSettings, PageImage, assemble_pdf, check_page, compress_page,
};

const RUNS: usize = 7;

/// CPU time of this thread: the box is shared by several builds, so wall time would
/// measure the neighbours; thread CPU time is what one core spends on the page.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_THREAD_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Median CPU time of `RUNS` runs of `f`, and the bytes its last run produced.
fn measure(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS {
        let start = thread_cpu_time();
        bytes = std::hint::black_box(f());
        times.push(thread_cpu_time() - start);
    }
    times.sort();
    (times[RUNS / 2], bytes)
}

fn pipeline(page: &PageImage, settings: &CompressSettings) -> usize {
    let report = check_page(page, &CheckThresholds::default());
    assert!(
        report.accepted(),
        "the bench page must pass the checks: {report:?}"
    );
    let accepted = compress_page(page, settings).unwrap();
    assemble_pdf(&[accepted]).unwrap().len()
}

fn png(page: &PageImage) -> usize {
    let mut out = Vec::new();
    PngEncoder::new(Cursor::new(&mut out))
        .write_image(
            &page.data,
            page.width,
            page.height,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out.len()
}

fn main() {
    let text = TextPage::default().render();
    let certificate = TextPage {
        red_seal: true,
        seed: 7,
        ..TextPage::default()
    }
    .render();
    let defaults = CompressSettings::default();
    let gray_jpeg = CompressSettings {
        max_midtone_ratio: 0.0,
        ..CompressSettings::default()
    };
    let colour_always = CompressSettings {
        detect_grayscale: false,
        ..CompressSettings::default()
    };
    // The kiosk before mixed raster content: a page with a seal went whole into colour JPEG.
    let mixed_off = CompressSettings {
        mixed_max_colour_ratio: 0.0,
        ..CompressSettings::default()
    };

    println!(
        "A4 at 300 dpi in colour ({} x {} px, {:.1} MB raw), median thread CPU time of {RUNS} runs\n",
        text.width,
        text.height,
        text.data.len() as f64 / 1e6
    );
    println!("| page | processing | ms/page | pages/min | bytes/page | vs baseline |");
    println!("|---|---|---:|---:|---:|---|");
    let rows: [(&str, &str, &dyn Fn() -> usize); 7] = [
        ("text", "PNG of the raw page (baseline)", &|| png(&text)),
        (
            "text",
            "checks + JPEG colour + PDF (gray detection off)",
            &|| pipeline(&text, &colour_always),
        ),
        ("text", "checks + gray JPEG + PDF (bilevel off)", &|| {
            pipeline(&text, &gray_jpeg)
        }),
        (
            "text",
            "checks + colour/gray/bilevel/mixed choice + PDF (kiosk)",
            &|| pipeline(&text, &defaults),
        ),
        (
            "text + red seal",
            "checks + JPEG colour + PDF (gray detection off)",
            &|| pipeline(&certificate, &colour_always),
        ),
        (
            "text + red seal",
            "checks + colour/gray/bilevel choice, mixed off + PDF (kiosk before MRC)",
            &|| pipeline(&certificate, &mixed_off),
        ),
        (
            "text + red seal",
            "checks + colour/gray/bilevel/mixed choice + PDF (kiosk)",
            &|| pipeline(&certificate, &defaults),
        ),
    ];
    let mut baselines: Vec<(&str, Duration, usize)> = Vec::new();
    for (page, what, f) in rows {
        let (time, bytes) = measure(f);
        let ms = time.as_secs_f64() * 1e3;
        let vs = match baselines.iter().find(|b| b.0 == page) {
            Some(&(_, bt, bb)) => format!(
                "{:.2}x the speed, {:.4}x the bytes",
                bt.as_secs_f64() / time.as_secs_f64(),
                bytes as f64 / bb as f64
            ),
            None => {
                baselines.push((page, time, bytes));
                "baseline".to_string()
            }
        };
        println!(
            "| {page} | {what} | {ms:.0} | {:.0} | {bytes} | {vs} |",
            60_000.0 / ms
        );
    }
    let sealed = compress_page(&certificate, &defaults).unwrap();
    let sealed_pdf = assemble_pdf(std::slice::from_ref(&sealed)).unwrap().len();
    let layer = sealed.colour_layer.as_ref();
    println!(
        "\ntext page with a seal in the PDF: {sealed_pdf} bytes ({:.0} KB; goal 100 KB), stored {}: text layer {} bytes, colour layer {} bytes ({} x {} px)",
        sealed_pdf as f64 / 1024.0,
        format!("{:?}", sealed.storage).to_lowercase(),
        sealed.data.len(),
        layer.map_or(0, |l| l.jpeg.len()),
        layer.map_or(0, |l| l.jpeg_width),
        layer.map_or(0, |l| l.jpeg_height),
    );
    let accepted = compress_page(&text, &defaults).unwrap();
    println!(
        "text page in the PDF: {} bytes ({:.0} KB; goal 300 KB), stored {}, thumbnail {} bytes",
        assemble_pdf(std::slice::from_ref(&accepted)).unwrap().len(),
        assemble_pdf(std::slice::from_ref(&accepted)).unwrap().len() as f64 / 1024.0,
        format!("{:?}", accepted.storage).to_lowercase(),
        accepted.thumbnail_jpeg.len()
    );
}
