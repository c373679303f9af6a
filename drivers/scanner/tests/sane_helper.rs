#![allow(clippy::unwrap_used)]
//! libsane in the `kiosk-sane-helper` process, against SANE's test backend (configured as
//! in `sane_test_backend.rs`): scans work through it, and a helper that crashes (SIGKILL)
//! or hangs (SIGSTOP) is replaced by itself, the device reopened, and the next scan works.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kiosk_scanner::{
    ColorMode, HelperConfig, PixelLayout, ScanEnd, ScanError, ScanEvent, ScanSettings, ScannedPage,
    Scanner, Source,
};

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
        // thread reads the environment while it is written. The helpers inherit it.
        unsafe { std::env::set_var("SANE_CONFIG_DIR", dir.path()) };
        dir
    })
    .path()
}

/// Short timeouts: the test backend answers in milliseconds.
fn helper() -> HelperConfig {
    HelperConfig {
        call_timeout: Duration::from_secs(10),
        scan_timeout: Duration::from_secs(3),
        ..HelperConfig::new(env!("CARGO_BIN_EXE_kiosk-sane-helper"))
    }
}

fn grid() -> ScanSettings {
    ScanSettings {
        source: Source::Flatbed,
        dpi: 75,
        mode: ColorMode::Color,
        area_mm: Some((210.0, 297.0)),
        extra_options: vec![("test-picture".into(), "Grid".into())],
    }
}

async fn scan_one(scanner: &Scanner) -> Result<ScannedPage, ScanError> {
    let mut events = scanner.scan_pages(Some(1));
    let mut page = None;
    while let Some(event) = events.recv().await {
        match event {
            ScanEvent::PageDone(p) => page = Some(p),
            ScanEvent::Finished { pages, end } => {
                assert_eq!((pages, end), (1, ScanEnd::PageLimit));
                return Ok(page.unwrap());
            }
            ScanEvent::Failed(e) => return Err(e),
            _ => {}
        }
    }
    panic!("the event stream ended without Finished or Failed");
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: plain kill(2) on a child process of this test.
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

#[tokio::test]
async fn scans_and_errors_cross_the_helper_process() {
    sane_config();
    let scanner = Scanner::start_with_helper(helper()).await.unwrap();
    assert!(scanner.helper_pid().is_some());
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

    let opened = scanner.open("test:0", grid()).await.unwrap();
    assert_eq!(opened.dpi, 75.0);
    let page = scan_one(&scanner).await.unwrap().image;
    assert_eq!(page.layout, PixelLayout::Rgb8);
    assert_eq!((page.width, page.height), (620, 876));
}

#[tokio::test]
async fn a_crashed_helper_is_replaced_and_the_device_reopened() {
    sane_config();
    let scanner = Scanner::start_with_helper(helper()).await.unwrap();
    scanner.open("test:0", grid()).await.unwrap();
    scan_one(&scanner).await.unwrap();
    let first = scanner.helper_pid().unwrap();

    signal(first, libc::SIGKILL);
    // Let it die before the next request, as a backend crash between scans would.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let page = scan_one(&scanner).await.unwrap().image;
    assert_eq!((page.width, page.height), (620, 876));
    let second = scanner.helper_pid().unwrap();
    assert_ne!(first, second, "a new helper");
}

#[tokio::test]
async fn a_hung_helper_is_killed_and_the_scanner_comes_back_by_itself() {
    sane_config();
    let scanner = Scanner::start_with_helper(helper()).await.unwrap();
    scanner.open("test:0", grid()).await.unwrap();
    let hung = scanner.helper_pid().unwrap();

    // Frozen like a backend deadlocked in sane_read or sane_cancel.
    signal(hung, libc::SIGSTOP);
    let started = Instant::now();
    let err = scan_one(&scanner).await.unwrap_err();
    assert!(matches!(err, ScanError::Helper { .. }), "{err:?}");
    assert!(err.to_string().contains("hung"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the run failed instead of waiting for ever"
    );
    assert_eq!(scanner.helper_pid(), None, "the hung helper was killed");
    // SAFETY: signal 0 only asks whether the process exists; it was killed and reaped.
    assert_ne!(
        unsafe { libc::kill(hung as i32, 0) },
        0,
        "the hung helper is gone"
    );

    // Nothing to do for the kiosk: the next scan starts a helper and reopens test:0.
    let page = scan_one(&scanner).await.unwrap().image;
    assert_eq!((page.width, page.height), (620, 876));
    assert_ne!(scanner.helper_pid(), Some(hung));
}

/// A page that takes about 20 s: the test backend hands out 4 KB every 50 ms.
fn slow_grid() -> ScanSettings {
    let mut settings = grid();
    settings.extra_options.extend(
        [
            ("read-limit", "yes"),
            ("read-limit-size", "4096"),
            ("read-delay", "yes"),
            ("read-delay-duration", "50000"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    settings
}

#[tokio::test]
async fn a_backend_that_hangs_in_the_middle_of_a_page_is_killed_and_replaced() {
    sane_config();
    let scanner = Scanner::start_with_helper(helper()).await.unwrap();
    scanner.open("test:0", slow_grid()).await.unwrap();
    let hung = scanner.helper_pid().unwrap();
    let mut events = scanner.scan_pages(Some(1));
    match events.recv().await {
        Some(ScanEvent::PageStarted { number: 1, .. }) => {}
        other => panic!("expected the page to start, got {other:?}"),
    }
    signal(hung, libc::SIGSTOP);
    let err = loop {
        match events.recv().await {
            Some(ScanEvent::Failed(e)) => break e,
            Some(ScanEvent::Progress { .. }) => {}
            other => panic!("expected the run to fail, got {other:?}"),
        }
    };
    assert!(matches!(err, ScanError::Helper { .. }), "{err:?}");
    assert_eq!(scanner.helper_pid(), None);

    // Back by itself, with the same (slow) settings reopened: a fast page proves it.
    scanner.open("test:0", grid()).await.unwrap();
    assert_ne!(scanner.helper_pid(), Some(hung));
    scan_one(&scanner).await.unwrap();
}

#[tokio::test]
async fn dropping_the_receiver_cancels_the_run_in_the_helper() {
    sane_config();
    let scanner = Scanner::start_with_helper(helper()).await.unwrap();
    scanner.open("test:0", slow_grid()).await.unwrap();
    let pid = scanner.helper_pid();
    let mut events = scanner.scan_pages(Some(1));
    while let Some(event) = events.recv().await {
        if matches!(event, ScanEvent::Progress { .. }) {
            break;
        }
    }
    drop(events);
    // The same helper serves the next run: it was cancelled, not killed. The slow page
    // would take 20 s; a fast one after reopening shows the pipe is quiet and in step.
    scanner.open("test:0", grid()).await.unwrap();
    let page = scan_one(&scanner).await.unwrap().image;
    assert_eq!((page.width, page.height), (620, 876));
    assert_eq!(scanner.helper_pid(), pid, "the helper was not restarted");
}
