#![allow(clippy::unwrap_used)]
//! Page checks on synthetic pages: each check fails for the page it is meant to catch and
//! passes for a good one, and the limits come from config.

use kiosk_scanner::synthetic::TextPage;
use kiosk_scanner::{Check, CheckThresholds, PageImage, PixelLayout, check_page};

/// A4 at 100 dpi keeps the debug-build tests quick; the checks work at 100 dpi anyway.
fn text_page(skew_degrees: f32) -> PageImage {
    TextPage {
        dpi: 100.0,
        skew_degrees,
        ..TextPage::default()
    }
    .render()
}

fn uniform(level: u8) -> PageImage {
    PageImage {
        width: 827,
        height: 1169,
        dpi: 100.0,
        layout: PixelLayout::Gray8,
        data: vec![level; 827 * 1169],
    }
}

fn failed(page: &PageImage, limits: &CheckThresholds) -> Vec<Check> {
    check_page(page, limits).failed().collect()
}

#[test]
fn a_straight_text_page_passes_every_check() {
    let report = check_page(&text_page(0.0), &CheckThresholds::default());
    assert!(report.accepted(), "{report:?}");
    assert!(report.skew_degrees.unwrap().abs() < 0.3, "{report:?}");
}

#[test]
fn a_white_page_is_blank_and_only_blank() {
    assert_eq!(
        failed(&uniform(240), &CheckThresholds::default()),
        [Check::Blank]
    );
}

#[test]
fn a_page_with_a_few_specks_of_dust_is_still_blank() {
    let mut page = uniform(240);
    for i in 0..40 {
        page.data[i * 20_011] = 20;
    }
    assert_eq!(failed(&page, &CheckThresholds::default()), [Check::Blank]);
}

#[test]
fn an_underexposed_scan_is_too_dark() {
    let mut page = text_page(0.0);
    // The lamp at a quarter: paper comes out at about 60.
    page.data.iter_mut().for_each(|v| *v /= 4);
    assert!(failed(&page, &CheckThresholds::default()).contains(&Check::TooDark));
}

#[test]
fn a_washed_out_scan_is_too_light() {
    let mut page = text_page(0.0);
    // Ink at 35 becomes about 185: the text is there but faint.
    page.data.iter_mut().for_each(|v| *v = 160 + *v / 3);
    assert_eq!(
        failed(&page, &CheckThresholds::default()),
        [Check::TooLight]
    );
}

#[test]
fn a_skewed_page_is_rejected_with_its_angle() {
    for skew in [3.5f32, -4.0, 7.0] {
        let report = check_page(&text_page(skew), &CheckThresholds::default());
        let measured = report.skew_degrees.unwrap();
        assert!(
            (measured - skew).abs() < 0.4,
            "drawn at {skew}, measured {measured}"
        );
        assert_eq!(report.failed().collect::<Vec<_>>(), [Check::Skew]);
    }
}

#[test]
fn a_slight_skew_within_the_limit_passes() {
    let report = check_page(&text_page(1.0), &CheckThresholds::default());
    assert!(
        (report.skew_degrees.unwrap() - 1.0).abs() < 0.4,
        "{report:?}"
    );
    assert!(report.accepted());
}

#[test]
fn a_checkerboard_is_square_to_the_page() {
    let mut page = uniform(255);
    for y in 0..page.height as usize {
        for x in 0..page.width as usize {
            if (x / 40 + y / 40) % 2 == 0 {
                page.data[y * page.width as usize + x] = 0;
            }
        }
    }
    let report = check_page(&page, &CheckThresholds::default());
    assert!(report.skew_degrees.unwrap().abs() < 0.2, "{report:?}");
}

#[test]
fn thresholds_come_from_config_and_missing_ones_take_defaults() {
    let limits: CheckThresholds = serde_json::from_str(r#"{ "max_skew_degrees": 5.0 }"#).unwrap();
    assert_eq!(limits.max_skew_degrees, 5.0);
    assert_eq!(
        limits.blank_max_ink_ratio,
        CheckThresholds::default().blank_max_ink_ratio
    );
    // 3.5 degrees fails the default limit of 2 but passes a configured 5.
    assert!(check_page(&text_page(3.5), &limits).accepted());
}

#[test]
fn the_checks_do_not_depend_on_scan_resolution() {
    let at_300 = check_page(
        &TextPage {
            skew_degrees: 3.0,
            ..TextPage::default()
        }
        .render(),
        &CheckThresholds::default(),
    );
    let at_100 = check_page(&text_page(3.0), &CheckThresholds::default());
    assert_eq!(
        at_300.failed().collect::<Vec<_>>(),
        at_100.failed().collect::<Vec<_>>()
    );
    assert!(
        (at_300.skew_degrees.unwrap() - 3.0).abs() < 0.4,
        "{at_300:?}"
    );
}
