//! The `kiosk-app` binary as a technician meets it: bad configurations refused with a
//! message that names the problem, and screenshots of every screen without a display.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn kiosk_app() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiosk-app"))
}

const EXAMPLE: &str = include_str!("../kiosk.example.toml");

fn run_with_config(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, text).unwrap();
    let out = kiosk_app()
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.success(),
        stderr.replace(&path.display().to_string(), "kiosk.toml"),
    )
}

/// The 1-based number of the example's line that starts with `start`.
fn example_line(start: &str) -> usize {
    EXAMPLE
        .lines()
        .position(|l| l.starts_with(start))
        .expect("the example configuration has the line")
        + 1
}

#[test]
fn the_example_configuration_is_accepted() {
    let (ok, stderr) = run_with_config(EXAMPLE);
    assert!(ok, "{stderr}");
}

#[test]
fn a_misspelt_key_stops_the_kiosk_with_the_key_and_line() {
    let (ok, stderr) = run_with_config(&EXAMPLE.replace("help_window_en", "help_windw_en"));
    assert!(!ok);
    let line = example_line("help_window_en");
    assert!(
        stderr.contains(&format!(
            "kiosk.toml: line {line}, column 1: key `hall.help_windw_en`: unknown field `help_windw_en`"
        )),
        "{stderr}"
    );
}

#[test]
fn a_wrong_type_stops_the_kiosk_with_the_key_and_line() {
    let (ok, stderr) =
        run_with_config(&EXAMPLE.replace("elder_mode = false", "elder_mode = \"no\""));
    assert!(!ok);
    let line = example_line("elder_mode = false");
    assert!(stderr.contains(&format!("line {line}")), "{stderr}");
    assert!(stderr.contains("key `ui.elder_mode`"), "{stderr}");
    assert!(stderr.contains("invalid type"), "{stderr}");
}

#[test]
fn a_missing_file_is_named() {
    let out = kiosk_app()
        .args(["--config", "/nonexistent/kiosk.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read the kiosk configuration /nonexistent/kiosk.toml")
    );
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap();
    (img.width(), img.height())
}

#[test]
fn screenshots_cover_every_screen_in_both_languages_and_elder_mode() {
    let dir = tempfile::tempdir().unwrap();
    let out = kiosk_app()
        .args(["--simulate", "--screenshots"])
        .arg(dir.path())
        // No display at all: the software renderer draws into memory.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Every hall size, every variant, the screens a reviewer looks at first, each at the
    // size of its folder.
    let screens = [
        "home",
        "home-faults",
        "home-tiles-greyed",
        "help",
        "timeout",
        "not-available",
        "journey-take-number-categories",
        "journey-take-number-ticket",
        "journey-check-in-no-appointment",
        "journey-guide-browse",
        "journey-apply-form",
        "journey-apply-receipt",
        "journey-progress-timeline",
        "journey-rate-levels",
        "journey-help-called",
    ];
    for (width, height) in [(1920, 1080), (1366, 768), (1080, 1920)] {
        for variant in ["zh", "en", "zh-elder", "en-elder"] {
            for screen in screens {
                let path = dir
                    .path()
                    .join(format!("{width}x{height}"))
                    .join(variant)
                    .join(format!("{screen}.png"));
                assert_eq!(png_size(&path), (width, height), "{}", path.display());
            }
        }
    }

    // The variants really differ: another language, larger type.
    let pixels = |p: &str| {
        image::open(dir.path().join("1920x1080").join(p))
            .unwrap()
            .to_rgb8()
            .into_raw()
    };
    assert_ne!(pixels("zh/home.png"), pixels("en/home.png"));
    assert_ne!(pixels("zh/home.png"), pixels("zh-elder/home.png"));
    assert_ne!(pixels("zh/home.png"), pixels("zh/home-faults.png"));
    // The header is drawn in the header colour with light text on it.
    let home = image::open(dir.path().join("1920x1080/zh/home.png"))
        .unwrap()
        .to_rgb8();
    let header = home.get_pixel(1900, 10);
    assert_eq!(header.0, [0x0b, 0x3d, 0x91]);
}

#[test]
fn the_font_the_ui_asks_for_is_installed() {
    // app.slint names "Noto Sans CJK SC"; without it Chinese would fall back to whatever
    // fontconfig finds, or to boxes.
    let out = Command::new("fc-match")
        .args(["-f", "%{family}", "Noto Sans CJK SC"])
        .output()
        .unwrap();
    let family = String::from_utf8_lossy(&out.stdout);
    assert!(
        family.contains("Noto Sans CJK SC"),
        "fontconfig resolves to {family:?}: install fonts-noto-cjk"
    );
    let app = include_str!("../../ui/app.slint");
    assert!(app.contains("default-font-family: \"Noto Sans CJK SC\""));
}
