#![allow(clippy::unwrap_used)]
//! `kioskctl scanner` against SANE's real `test` backend. Each run is its own process
//! with SANE_CONFIG_DIR pointing at a directory these tests write, so /etc/sane.d is never
//! touched and libsane's process-global state is never shared between tests.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// A SANE config directory with only the test backend, an A4 bed, and a grid on the page.
fn sane_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dll.conf"), "test\n").unwrap();
    std::fs::write(
        dir.path().join("test.conf"),
        "number_of_devices 2\ngeometry_max 300.0\nbr_x 210.0\nbr_y 297.0\ntest-picture \"Grid\"\n",
    )
    .unwrap();
    dir
}

fn kioskctl(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .env("SANE_CONFIG_DIR", config)
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn pdf_pages(path: &Path) -> (u32, String) {
    let out = Command::new("pdfinfo")
        .arg(path)
        .output()
        .expect("pdfinfo (poppler-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = String::from_utf8(out.stdout).unwrap();
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (pages, info)
}

#[test]
fn list_shows_the_test_scanners() {
    let config = sane_config();
    let out = kioskctl(config.path(), &["scanner", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["test:0", "test:1"]);

    let table = kioskctl(config.path(), &["scanner", "list"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("test:1") && text.contains("Noname"), "{text}");
}

#[test]
fn scanning_three_pages_from_the_feeder_writes_a_three_page_a4_pdf() {
    let config = sane_config();
    let out_pdf = config.path().join("materials.pdf");
    let out = kioskctl(
        config.path(),
        &[
            "scanner",
            "scan",
            "--device",
            "test:0",
            "--source",
            "feeder",
            "--pages",
            "3",
            "--dpi",
            "100",
            "--out",
            out_pdf.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["end"], "page_limit");
    let pages = report["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 3);
    for page in pages {
        // 210 x 297 mm at 100 dpi.
        assert_eq!(
            (page["width_px"].as_u64(), page["height_px"].as_u64()),
            (Some(826), Some(1169))
        );
        assert_eq!(page["accepted"], true);
        assert_eq!(page["checks"].as_array().unwrap().len(), 4);
        assert!(page["bytes"].as_u64().unwrap() > 0);
    }
    assert_eq!(report["pdf"]["pages"], 3);

    let (count, info) = pdf_pages(&out_pdf);
    assert_eq!(count, 3);
    assert!(info.contains("(A4)"), "{info}");
}

#[test]
fn a_feeder_scan_without_a_page_count_runs_until_the_feeder_is_empty() {
    let config = sane_config();
    let out_pdf = config.path().join("all.pdf");
    let out = kioskctl(
        config.path(),
        &[
            "scanner",
            "scan",
            "--device",
            "test:1",
            "--source",
            "feeder",
            "--dpi",
            "50",
            "--out",
            out_pdf.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["end"], "feeder_empty");
    assert_eq!(report["pages"].as_array().unwrap().len(), 10);
    assert_eq!(pdf_pages(&out_pdf).0, 10);
}

#[test]
fn a_blank_page_is_rejected_and_no_pdf_is_written() {
    let config = sane_config();
    let out_pdf = config.path().join("blank.pdf");
    let out = kioskctl(
        config.path(),
        &[
            "scanner",
            "scan",
            "--device",
            "test:0",
            "--dpi",
            "75",
            "--option",
            "test-picture=Solid white",
            "--out",
            out_pdf.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    let page = &report["pages"][0];
    assert_eq!(page["accepted"], false);
    let blank = page["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "blank")
        .unwrap();
    assert_eq!(blank["passed"], false);
    assert!(report["pdf"].is_null());
    assert!(!out_pdf.exists());
}

#[test]
fn a_jam_fails_the_scan_with_what_to_do() {
    let config = sane_config();
    let out_pdf = config.path().join("jam.pdf");
    let out = kioskctl(
        config.path(),
        &[
            "scanner",
            "scan",
            "--device",
            "test:0",
            "--source",
            "feeder",
            "--dpi",
            "75",
            "--option",
            "read-return-value=SANE_STATUS_JAMMED",
            "--out",
            out_pdf.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("scanner test:0: paper jam"), "{stderr}");
    assert!(stderr.contains("remove the sheet"), "{stderr}");
    assert!(!out_pdf.exists());
}

#[test]
fn an_unknown_device_is_named_with_the_ones_that_exist() {
    let config = sane_config();
    let out = kioskctl(
        config.path(),
        &[
            "scanner",
            "scan",
            "--device",
            "epson:missing",
            "--out",
            "/nonexistent/x.pdf",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("epson:missing: no such device (found: test:0, test:1)"),
        "{stderr}"
    );
}
