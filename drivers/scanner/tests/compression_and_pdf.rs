#![allow(clippy::unwrap_used)]
//! Compression and PDF assembly: gray where colour adds nothing, colour where a seal is
//! red, quality as configured, and pages at their true size as `pdfinfo` reads them.

use kiosk_scanner::synthetic::{Document, TextPage};
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
    assert_eq!(page.storage, Storage::Mixed);
    let layer = page.colour_layer.unwrap();
    let seal = image::load_from_memory_with_format(&layer.jpeg, image::ImageFormat::Jpeg)
        .unwrap()
        .to_rgb8();
    let red = seal
        .pixels()
        .filter(|p| p[0] > 150 && p[1] < 90 && p[2] < 90)
        .count();
    assert!(
        red > 1000,
        "the seal is red in the colour layer: {red} red pixels"
    );
}

/// The seal's box and nothing much more: the rest of the page is text, in the text layer.
#[test]
fn the_colour_layer_covers_the_seal_only() {
    let page = compress(&TextPage {
        dpi: 150.0,
        red_seal: true,
        ..TextPage::default()
    });
    let layer = page.colour_layer.unwrap();
    // The seal is 42 mm across (248 px at 150 dpi), centred at 72% x 82% of the page.
    let mm = |px: u32| px as f32 / 150.0 * 25.4;
    assert!(
        mm(layer.width) < 50.0 && mm(layer.height) < 50.0,
        "{layer:?}"
    );
    let centre = (
        mm(layer.x + layer.width / 2),
        mm(layer.y + layer.height / 2),
    );
    assert!(
        (centre.0 - 151.2).abs() < 3.0 && (centre.1 - 243.5).abs() < 3.0,
        "{centre:?}"
    );
}

#[test]
fn photos_and_full_colour_pages_stay_colour_jpeg() {
    for document in [Document::ColourPhoto, Document::RedCover] {
        let page = compress_page(&document.render(100.0, 1), &CompressSettings::default()).unwrap();
        assert_eq!(page.storage, Storage::Colour, "{document:?}");
        assert!(page.colour_layer.is_none());
        assert!(page.data.starts_with(&[0xFF, 0xD8]), "a JPEG");
    }
}

#[test]
fn mixed_storage_can_be_turned_off() {
    let settings = CompressSettings {
        mixed_max_colour_ratio: 0.0,
        ..CompressSettings::default()
    };
    let page = TextPage {
        dpi: 100.0,
        red_seal: true,
        ..TextPage::default()
    }
    .render();
    assert_eq!(
        compress_page(&page, &settings).unwrap().storage,
        Storage::Colour
    );
}

/// Box-averages an RGB page by `f`, as the reference a rendering is compared with.
fn reduce(page: &PageImage, f: usize) -> (usize, usize, Vec<[u8; 3]>) {
    let (w, h) = (page.width as usize / f, page.height as usize / f);
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let mut sum = [0u32; 3];
            for yy in y * f..(y + 1) * f {
                for xx in x * f..(x + 1) * f {
                    let i = (yy * page.width as usize + xx) * 3;
                    for (total, &v) in sum.iter_mut().zip(&page.data[i..i + 3]) {
                        *total += v as u32;
                    }
                }
            }
            out.push(sum.map(|v| (v / (f * f) as u32) as u8));
        }
    }
    (w, h, out)
}

fn run(tool: &str, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils) is installed: {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The common case of issue 15 item 8: an A4 text page with a red seal at 300 dpi is at
/// most 100 KB as a PDF; poppler sees a JPEG and a 1-bit stencil, and renders the page
/// back as it was scanned: paper white, text black, the seal red.
#[test]
fn a_text_page_with_a_seal_at_300_dpi_is_mixed_raster_content_of_at_most_100_kb() {
    let scan = Document::TextWithSeal.render(300.0, 7);
    let page = compress_page(&scan, &CompressSettings::default()).unwrap();
    assert_eq!(page.storage, Storage::Mixed);
    let pdf = assemble_pdf(std::slice::from_ref(&page)).unwrap();
    assert!(pdf.len() <= 100 * 1024, "{} bytes of PDF", pdf.len());
    eprintln!(
        "PDF {} bytes: text layer {} bytes, colour layer {} bytes ({} x {} px)",
        pdf.len(),
        page.data.len(),
        page.colour_layer.as_ref().unwrap().jpeg.len(),
        page.colour_layer.as_ref().unwrap().jpeg_width,
        page.colour_layer.as_ref().unwrap().jpeg_height,
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seal.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let path = path.to_str().unwrap();

    let list = String::from_utf8(run("pdfimages", &["-list", path])).unwrap();
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    // page num type width height color comp bpc enc ...
    assert_eq!(rows.len(), 2, "{list}");
    let jpeg = rows.iter().find(|r| r[2] == "image").unwrap();
    assert_eq!((jpeg[5], jpeg[6], jpeg[8]), ("rgb", "3", "jpeg"), "{list}");
    let stencil = rows.iter().find(|r| r[2] == "stencil").unwrap();
    assert_eq!(
        (stencil[3], stencil[4], stencil[7]),
        ("2480", "3508", "1"),
        "{list}"
    );

    // Rendered at 75 dpi and compared with the scan box-averaged to 75 dpi.
    let prefix = dir.path().join("render");
    run(
        "pdftoppm",
        &[
            "-r",
            "75",
            "-png",
            "-singlefile",
            path,
            prefix.to_str().unwrap(),
        ],
    );
    let rendered = image::open(dir.path().join("render.png"))
        .unwrap()
        .to_rgb8();
    let (w, h, reference) = reduce(&scan, 4);
    // poppler rounds the page's pixel size up; the reference rounds down.
    assert!(
        (rendered.width() as usize).abs_diff(w) <= 1
            && (rendered.height() as usize).abs_diff(h) <= 1,
        "{} x {} rendered, {w} x {h} expected",
        rendered.width(),
        rendered.height()
    );
    let luma = |p: [u8; 3]| (77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) / 256;
    let chroma = |p: [u8; 3]| p.iter().max().unwrap() - p.iter().min().unwrap();
    let red = |i: usize| reference.get(i).is_some_and(|&p| chroma(p) > 80);
    // The seal's inside: its edges blur by a pixel in the 150 dpi colour layer and JPEG's
    // halved chroma resolution, which is the price of its size.
    let seal = |i: usize| red(i) && red(i + 1) && red(i + w) && i > w && red(i - 1) && red(i - w);
    let (mut classes, mut agree) = ([0usize; 3], [0usize; 3]);
    for (i, &want) in reference.iter().enumerate() {
        let Some(got) = rendered.get_pixel_checked((i % w) as u32, (i / w) as u32) else {
            continue;
        };
        let got = got.0;
        let (class, ok) = if seal(i) {
            (0, got[0] > 150 && got[1] < 100 && got[2] < 100)
        } else if red(i) {
            continue;
        } else if luma(want) < 90 {
            // Text: strokes are a pixel wide at 75 dpi, and poppler's pixel grid may sit
            // half a pixel off the reference's, so a stroke may land on a neighbour, or
            // half on each of two (mid-gray).
            let (x, y) = ((i % w) as u32, (i / w) as u32);
            let dark = (x.saturating_sub(1)..=x + 1)
                .flat_map(|xx| (y.saturating_sub(1)..=y + 1).map(move |yy| (xx, yy)))
                .filter_map(|(xx, yy)| rendered.get_pixel_checked(xx, yy))
                .any(|p| luma(p.0) < 160 && chroma(p.0) < 60);
            (1, dark)
        } else if luma(want) > 225 {
            // Paper: white, as on a bilevel page.
            (2, luma(got) > 225)
        } else {
            continue;
        };
        classes[class] += 1;
        agree[class] += usize::from(ok);
    }
    for (name, (n, ok)) in ["seal", "text", "paper"]
        .iter()
        .zip(classes.iter().zip(agree))
    {
        assert!(*n > 1000, "{name}: {n} pixels");
        assert!(
            ok as f32 / *n as f32 > 0.97,
            "{name}: {ok} of {n} pixels render as in the scan"
        );
    }
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

/// A certificate's printed frame is colour the layer carries too, at its reduced
/// resolution; the text stays 1-bit.
#[test]
fn a_colour_certificate_with_a_frame_and_a_seal_is_mixed_raster_content() {
    let scan = Document::ColourCertificate.render(300.0, 2);
    let page = compress_page(&scan, &CompressSettings::default()).unwrap();
    assert_eq!(page.storage, Storage::Mixed);
    let pdf = assemble_pdf(std::slice::from_ref(&page)).unwrap();
    let layer = page.colour_layer.as_ref().unwrap();
    eprintln!(
        "certificate: {} bytes of PDF, text {} bytes, colour {} bytes ({} x {})",
        pdf.len(),
        page.data.len(),
        layer.jpeg.len(),
        layer.jpeg_width,
        layer.jpeg_height
    );
    assert!(pdf.len() <= 200 * 1024, "{} bytes of PDF", pdf.len());
}
