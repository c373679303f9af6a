//! Assembly of accepted pages into one PDF, each page at its true physical size.

use std::collections::BTreeMap;

use printpdf_images::{
    DictItem, ExternalStream, ExternalXObject, Mm, Op, PdfDocument, PdfPage, PdfSaveOptions, Px,
    XObjectTransform,
};

use crate::compress::{AcceptedPage, Storage};

/// Why no PDF could be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// There is nothing to put in it.
    #[error("a PDF needs at least one page")]
    NoPages,
    /// A page has no usable resolution, so its physical size is unknown.
    #[error("page {page} has resolution {dpi} dpi; cannot size it")]
    BadResolution { page: usize, dpi: f32 },
}

/// Builds a PDF with one page per accepted page. Each page measures `pixels / dpi`
/// inches, and its compressed image is embedded as is (JPEG as DCTDecode, bilevel as
/// FlateDecode), without decoding or re-encoding.
pub fn assemble_pdf(pages: &[AcceptedPage]) -> Result<Vec<u8>, PdfError> {
    if pages.is_empty() {
        return Err(PdfError::NoPages);
    }
    // The title is generic on purpose: scans are personal data.
    let mut doc = PdfDocument::new("Scanned materials");
    let mut pdf_pages = Vec::with_capacity(pages.len());
    for (i, page) in pages.iter().enumerate() {
        if !(page.dpi.is_finite() && page.dpi > 0.0) {
            return Err(PdfError::BadResolution {
                page: i + 1,
                dpi: page.dpi,
            });
        }
        let id = doc.add_xobject(&image_xobject(page));
        let mm = |px: u32| Mm(px as f32 / page.dpi * 25.4);
        let place = Op::UseXobject {
            id,
            transform: XObjectTransform {
                dpi: Some(page.dpi),
                ..Default::default()
            },
        };
        pdf_pages.push(PdfPage::new(mm(page.width), mm(page.height), vec![place]));
    }
    let options = PdfSaveOptions {
        image_optimization: None,
        ..Default::default()
    };
    let mut warnings = Vec::new();
    Ok(doc.with_pages(pdf_pages).save(&options, &mut warnings))
}

fn image_xobject(page: &AcceptedPage) -> ExternalXObject {
    let name = |s: &str| DictItem::Name(s.as_bytes().to_vec());
    let (colour_space, bits, filter) = match page.storage {
        Storage::Colour => ("DeviceRGB", 8, "DCTDecode"),
        Storage::Gray => ("DeviceGray", 8, "DCTDecode"),
        Storage::Bilevel => ("DeviceGray", 1, "FlateDecode"),
    };
    let dict = BTreeMap::from([
        ("Type".to_string(), name("XObject")),
        ("Subtype".to_string(), name("Image")),
        ("Width".to_string(), DictItem::Int(page.width.into())),
        ("Height".to_string(), DictItem::Int(page.height.into())),
        ("ColorSpace".to_string(), name(colour_space)),
        ("BitsPerComponent".to_string(), DictItem::Int(bits)),
        ("Filter".to_string(), name(filter)),
    ]);
    ExternalXObject {
        // Already compressed: another Flate pass would only cost time.
        stream: ExternalStream {
            dict,
            content: page.data.clone(),
            compress: false,
        },
        width: Some(Px(page.width as usize)),
        height: Some(Px(page.height as usize)),
        dpi: Some(page.dpi),
    }
}
