#![allow(clippy::unwrap_used)]
//! Compression and PDF assembly: gray where colour adds nothing, colour where a seal is
//! red, quality as configured, and pages at their true size as `pdfinfo` reads them.

use kiosk_scanner::synthetic::TextPage;
use kiosk_scanner::{
    AcceptedPage, CompressSettings, PageImage, PdfError, PixelLayout, Storage, assemble_pdf,
    compress_page,
};

fn pdfinfo(pdf: &[u8], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("materials.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdfinfo")
        .args(args)
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Sizes of all pages in points, from `pdfinfo -f 1 -l N`.
fn page_sizes(info: &str) -> Vec<(f32, f32)> {
    info.lines()
        .filter(|l| l.starts_with("Page") && l.contains(" size:"))
        .map(|l| {
            let w: Vec<&str> = l.split(':').nth(1).unwrap().split_whitespace().collect();
            (w[0].parse().unwrap(), w[2].parse().unwrap())
        })
        .collect()
}

fn compress(page: &TextPage) -> AcceptedPage {
    compress_page(&page.render(), &CompressSettings::default()).unwrap()
}

#[test]
fn a_black_and_white_text_page_at_300_dpi_is_stored_bilevel_in_under_300_kb() {
    let page = compress(&TextPage::default());
    assert_eq!(page.storage, Storage::Bilevel);
    assert_eq!(
        (page.width, page.height, page.dpi),
        (2480, 3508, 300.0),
        "full resolution"
    );
    assert!(page.data.len() <= 300 * 1024, "{} bytes", page.data.len());
    let pdf = assemble_pdf(std::slice::from_ref(&page)).unwrap();
    assert!(pdf.len() <= 300 * 1024, "{} bytes of PDF", pdf.len());
}

#[test]
fn a_certificate_with_a_red_seal_keeps_its_colour() {
    let page = compress(&TextPage {
        dpi: 150.0,
        red_seal: true,
        ..TextPage::default()
    });
    assert_eq!(page.storage, Storage::Colour);
}

#[test]
fn grayscale_detection_can_be_turned_off() {
    let settings = CompressSettings {
        detect_grayscale: false,
        ..CompressSettings::default()
    };
    let page = TextPage {
        dpi: 150.0,
        ..TextPage::default()
    }
    .render();
    assert_eq!(
        compress_page(&page, &settings).unwrap().storage,
        Storage::Colour
    );
}

#[test]
fn a_gray_photograph_is_stored_as_gray_jpeg() {
    // A smooth gradient, like the photo on an ID-card copy: all mid-tones.
    let (w, h) = (400u32, 300u32);
    let data = (0..w * h).map(|i| ((i % w) * 255 / w) as u8).collect();
    let photo = PageImage {
        width: w,
        height: h,
        dpi: 150.0,
        layout: PixelLayout::Gray8,
        data,
    };
    let page = compress_page(&photo, &CompressSettings::default()).unwrap();
    assert_eq!(page.storage, Storage::Gray);
    assert!(page.data.starts_with(&[0xFF, 0xD8]), "a JPEG");
}

#[test]
fn a_lower_jpeg_quality_gives_fewer_bytes() {
    let page = TextPage {
        dpi: 150.0,
        ..TextPage::default()
    }
    .render();
    let at = |q| {
        // Bilevel storage off, so the text page goes through the JPEG encoder.
        let settings = CompressSettings {
            jpeg_quality: q,
            max_midtone_ratio: 0.0,
            ..CompressSettings::default()
        };
        compress_page(&page, &settings).unwrap().data.len()
    };
    assert!(at(40) < at(75) && at(75) < at(95));
}

#[test]
fn the_thumbnail_is_a_small_jpeg_of_the_page() {
    let page = compress(&TextPage {
        dpi: 150.0,
        ..TextPage::default()
    });
    let thumb = image::load_from_memory_with_format(&page.thumbnail_jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    assert!(thumb.width().max(thumb.height()) <= 240);
    assert!(thumb.width().max(thumb.height()) > 200);
    assert!(thumb.height() > thumb.width(), "portrait like the page");
}

#[test]
fn pdf_pages_have_the_true_physical_size_of_each_scan() {
    let pages = [
        // A4 at 150 dpi, A5 at 200 dpi, an ID card (85.6 x 54 mm) at 300 dpi.
        compress(&TextPage {
            dpi: 150.0,
            ..TextPage::default()
        }),
        compress(&TextPage {
            width_mm: 148.0,
            height_mm: 210.0,
            dpi: 200.0,
            ..TextPage::default()
        }),
        compress(&TextPage {
            width_mm: 85.6,
            height_mm: 54.0,
            dpi: 300.0,
            ..TextPage::default()
        }),
    ];
    let pdf = assemble_pdf(&pages).unwrap();
    let info = pdfinfo(&pdf, &["-f", "1", "-l", "3"]);
    assert!(info.contains("Pages:           3"), "{info}");
    let mm = |pt: f32| pt / 72.0 * 25.4;
    let expected = [(210.0, 297.0), (148.0, 210.0), (85.6, 54.0)];
    for ((w, h), (ew, eh)) in page_sizes(&info).into_iter().zip(expected) {
        assert!(
            (mm(w) - ew).abs() < 0.5 && (mm(h) - eh).abs() < 0.5,
            "{w} x {h} pt: {info}"
        );
    }
}

#[test]
fn a_pdf_without_pages_is_refused() {
    assert!(matches!(assemble_pdf(&[]), Err(PdfError::NoPages)));
}
