#![allow(clippy::unwrap_used)]
//! Real scans through SANE's `test` backend, enabled by a config directory this test
//! binary creates (never by editing /etc/sane.d). libsane is process-global; the
//! library serialises `Scanner`s itself, so these tests queue for it.

use std::path::Path;
use std::sync::OnceLock;

use kiosk_scanner::{
    Check, CheckThresholds, ColorMode, CompressSettings, PixelLayout, ScanEnd, ScanError,
    ScanEvent, ScanSettings, ScannedPage, Scanner, Source, Storage, assemble_pdf, check_page,
    compress_page,
};

/// The SANE config directory: `dll.conf` loads only the test backend, `test.conf` gives
/// it a bed big enough for A4.
fn sane_config() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dll.conf"), "test\n").unwrap();
        std::fs::write(
            dir.path().join("test.conf"),
            "number_of_devices 2\nresolution 75.0\ngeometry_max 300.0\nbr_x 210.0\nbr_y 297.0\n",
        )
        .unwrap();
        // SAFETY: every test calls this first; the OnceLock makes the others wait, so no
        // thread reads the environment while it is written.
        unsafe { std::env::set_var("SANE_CONFIG_DIR", dir.path()) };
        dir
    })
    .path()
}

fn settings(source: Source, picture: &str) -> ScanSettings {
    ScanSettings {
        source,
        dpi: 75,
        mode: ColorMode::Color,
        area_mm: Some((210.0, 297.0)),
        extra_options: vec![("test-picture".into(), picture.into())],
    }
}

/// Collects a run's events: the pages, the number of progress reports, and how it ended.
async fn run(
    scanner: &Scanner,
    max_pages: Option<u32>,
) -> (Vec<ScannedPage>, usize, Result<(u32, ScanEnd), ScanError>) {
    let mut events = scanner.scan_pages(max_pages);
    let (mut pages, mut progress, mut started) = (Vec::new(), 0, 0);
    while let Some(event) = events.recv().await {
        match event {
            ScanEvent::PageStarted { number, .. } => {
                started += 1;
                assert_eq!(number, started, "pages are numbered in order");
            }
            ScanEvent::Progress {
                number,
                bytes,
                expected_bytes,
                ..
            } => {
                assert_eq!(number, started);
                assert!(expected_bytes.is_none_or(|e| bytes <= e));
                progress += 1;
            }
            ScanEvent::PageDone(page) => pages.push(page),
            ScanEvent::Finished { pages: n, end } => return (pages, progress, Ok((n, end))),
            ScanEvent::Failed(e) => return (pages, progress, Err(e)),
        }
    }
    panic!("the event stream ended without Finished or Failed");
}

#[tokio::test]
async fn the_test_devices_are_listed_and_an_unknown_name_is_refused() {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    let names: Vec<String> = scanner
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["test:0", "test:1"]);
    let err = scanner
        .open("fujitsu:nowhere", ScanSettings::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ScanError::NoSuchDevice { .. }), "{err:?}");
    assert!(err.to_string().contains("test:0, test:1"), "{err}");
}

#[tokio::test]
async fn a_single_flatbed_page_arrives_at_its_true_size_with_progress() {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    let opened = scanner
        .open("test:0", settings(Source::Flatbed, "Grid"))
        .await
        .unwrap();
    assert_eq!(opened.dpi, 75.0);
    let (pages, progress, end) = run(&scanner, None).await;
    assert_eq!(end.unwrap(), (1, ScanEnd::PageLimit));
    assert!(
        progress >= 2,
        "progress events while reading, got {progress}"
    );
    let page = &pages[0].image;
    assert_eq!(page.layout, PixelLayout::Rgb8);
    // 210 x 297 mm at 75 dpi (the backend rounds lines down).
    assert_eq!((page.width, page.height), (620, 876));
    let (w, h) = page.size_mm();
    assert!(
        (w - 210.0).abs() < 0.5 && (h - 297.0).abs() < 0.5,
        "{w} x {h} mm"
    );
}

#[tokio::test]
async fn the_feeder_delivers_pages_until_it_runs_empty() {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    // The test backend's feeder holds 10 sheets; opening the device refills it.
    scanner
        .open("test:0", settings(Source::Feeder, "Grid"))
        .await
        .unwrap();
    let (pages, _, end) = run(&scanner, None).await;
    assert_eq!(end.unwrap(), (10, ScanEnd::FeederEmpty));
    assert_eq!(
        pages.iter().map(|p| p.number).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_run_on_an_empty_feeder_fails_before_its_first_page() {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    scanner
        .open("test:0", settings(Source::Feeder, "Grid"))
        .await
        .unwrap();
    let (pages, _, end) = run(&scanner, Some(10)).await;
    assert_eq!((pages.len(), end.unwrap()), (10, (10, ScanEnd::PageLimit)));

    // All ten sheets are through: the next run finds the feeder empty.
    let (pages, _, end) = run(&scanner, Some(2)).await;
    assert!(pages.is_empty());
    let err = end.unwrap_err();
    assert!(
        matches!(err, ScanError::FeederEmpty { ref device } if device == "test:0"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("put the pages face down in the feeder"),
        "{err}"
    );
}

#[tokio::test]
async fn a_feeder_run_stops_at_the_pages_asked_for() {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    scanner
        .open("test:1", settings(Source::Feeder, "Color pattern"))
        .await
        .unwrap();
    let (pages, _, end) = run(&scanner, Some(3)).await;
    assert_eq!(end.unwrap(), (3, ScanEnd::PageLimit));
    assert_eq!(pages.len(), 3);
}

#[tokio::test]
async fn device_faults_come_back_as_typed_errors() {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    for (status, expect) in [
        ("SANE_STATUS_JAMMED", "paper jam"),
        ("SANE_STATUS_COVER_OPEN", "cover open"),
        ("SANE_STATUS_DEVICE_BUSY", "device busy"),
        ("SANE_STATUS_IO_ERROR", "device gone"),
        ("SANE_STATUS_NO_DOCS", "feeder is empty"),
    ] {
        let mut s = settings(Source::Feeder, "Grid");
        s.extra_options
            .push(("read-return-value".into(), status.into()));
        scanner.open("test:0", s).await.unwrap();
        let (pages, _, end) = run(&scanner, Some(1)).await;
        assert!(pages.is_empty());
        let err = end.unwrap_err();
        let expected_variant = match status {
            "SANE_STATUS_JAMMED" => matches!(err, ScanError::Jammed { .. }),
            "SANE_STATUS_COVER_OPEN" => matches!(err, ScanError::CoverOpen { .. }),
            "SANE_STATUS_DEVICE_BUSY" => matches!(err, ScanError::DeviceBusy { .. }),
            "SANE_STATUS_IO_ERROR" => matches!(err, ScanError::DeviceGone { .. }),
            _ => matches!(err, ScanError::FeederEmpty { .. }),
        };
        assert!(expected_variant, "{status} gave {err:?}");
        assert!(
            err.to_string().contains(expect) && err.to_string().contains("test:0"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_blank_page_is_rejected_and_a_page_with_content_accepted() {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    let limits = CheckThresholds::default();

    scanner
        .open("test:0", settings(Source::Flatbed, "Solid white"))
        .await
        .unwrap();
    let (white, _, _) = run(&scanner, None).await;
    let report = check_page(&white[0].image, &limits);
    assert_eq!(report.failed().collect::<Vec<_>>(), [Check::Blank]);

    scanner
        .open("test:0", settings(Source::Flatbed, "Solid black"))
        .await
        .unwrap();
    let (black, _, _) = run(&scanner, None).await;
    let report = check_page(&black[0].image, &limits);
    assert!(report.failed().any(|c| c == Check::TooDark), "{report:?}");

    scanner
        .open("test:0", settings(Source::Flatbed, "Grid"))
        .await
        .unwrap();
    let (grid, _, _) = run(&scanner, None).await;
    let report = check_page(&grid[0].image, &limits);
    assert!(report.accepted(), "{report:?}");
    // The grid is printed square to the page.
    assert!(report.skew_degrees.unwrap().abs() < 0.3, "{report:?}");
}

#[tokio::test]
async fn a_black_and_white_grid_scanned_in_colour_is_stored_bilevel_and_a_colour_pattern_stays_colour()
 {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    let mut stored = Vec::new();
    for picture in ["Grid", "Color pattern"] {
        scanner
            .open("test:0", settings(Source::Flatbed, picture))
            .await
            .unwrap();
        let (pages, _, _) = run(&scanner, None).await;
        let accepted = compress_page(&pages[0].image, &CompressSettings::default()).unwrap();
        stored.push(accepted);
    }
    assert_eq!(
        stored[0].storage,
        Storage::Bilevel,
        "the black and white grid needs 1 bit"
    );
    assert_eq!(
        stored[1].storage,
        Storage::Colour,
        "the colour pattern keeps its colour"
    );

    let pdf = assemble_pdf(&stored).unwrap();
    let info = pdfinfo(&pdf);
    assert!(info.contains("Pages:           2"), "{info}");
    // 620 x 876 pixels at 75 dpi are 595.2 x 841.0 points: A4 as the scanner saw it.
    let (w, h) = page_size_pts(&info);
    assert!((w - 595.2).abs() < 0.6 && (h - 841.0).abs() < 0.6, "{info}");
}

#[tokio::test]
async fn three_pass_and_sixteen_bit_scans_decode_to_the_same_pixels() {
    sane_config();
    let scanner = Scanner::start().await.unwrap();
    let mut s = settings(Source::Flatbed, "Color pattern");
    s.area_mm = Some((40.0, 30.0));
    scanner.open("test:0", s.clone()).await.unwrap();
    let (single, _, _) = run(&scanner, None).await;

    let mut three_pass = s.clone();
    three_pass
        .extra_options
        .push(("three-pass".into(), "true".into()));
    scanner.open("test:0", three_pass).await.unwrap();
    let (passes, _, end) = run(&scanner, None).await;
    end.unwrap();
    assert_eq!(passes[0].image, single[0].image);

    let mut deep = s.clone();
    deep.extra_options.push(("depth".into(), "16".into()));
    scanner.open("test:0", deep).await.unwrap();
    let (sixteen, _, end) = run(&scanner, None).await;
    end.unwrap();
    assert_eq!(sixteen[0].image.width, single[0].image.width);
    assert_eq!(sixteen[0].image.layout, PixelLayout::Rgb8);
}

/// "Page size:       595.2 x 841 pts (A4)" -> (595.2, 841.0)
fn page_size_pts(info: &str) -> (f32, f32) {
    let line = info.lines().find(|l| l.starts_with("Page size:")).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[2].parse().unwrap(), words[4].parse().unwrap())
}

fn pdfinfo(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) is installed");
    assert!(
        out.status.success(),
        "pdfinfo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
