//! Assembly of accepted pages into one PDF, each page at its true physical size.
//!
//! Written with `pdf-writer`, a step-by-step writer of PDF objects: the pages are images
//! that are already compressed, so there is no layout, font or image handling to ask of a
//! bigger library.

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, TextStr};

use crate::compress::{AcceptedPage, Storage};

/// Why no PDF could be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// There is nothing to put in it.
    #[error("a PDF needs at least one page")]
    NoPages,
    /// A page has no usable resolution, so its physical size is unknown.
    #[error("page {page} has resolution {dpi} dpi; cannot size it")]
    BadResolution {
        /// The page, counted from 1.
        page: usize,
        /// Its resolution.
        dpi: f32,
    },
}

/// Hands out object numbers in order.
struct Ids(i32);

impl Ids {
    fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

const IMAGE: Name<'static> = Name(b"Im1");
const COLOUR_LAYER: Name<'static> = Name(b"Im2");

/// Builds a PDF with one page per accepted page. Each page measures `pixels / dpi`
/// inches, and its compressed image is embedded as is (JPEG as DCTDecode, bilevel as
/// FlateDecode), without decoding or re-encoding. A mixed page is two images: its colour
/// layer as a JPEG placed on its box, then its text layer over it as a stencil mask
/// (`/ImageMask`) painted black, so the paper and the colour show through wherever there
/// is no text.
pub fn assemble_pdf(pages: &[AcceptedPage]) -> Result<Vec<u8>, PdfError> {
    if pages.is_empty() {
        return Err(PdfError::NoPages);
    }
    if let Some((i, page)) = pages
        .iter()
        .enumerate()
        .find(|(_, p)| !(p.dpi.is_finite() && p.dpi > 0.0))
    {
        return Err(PdfError::BadResolution {
            page: i + 1,
            dpi: page.dpi,
        });
    }
    let mut ids = Ids(0);
    let (catalog, tree, info) = (ids.next(), ids.next(), ids.next());
    let page_ids: Vec<Ref> = pages.iter().map(|_| ids.next()).collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    // The title is generic on purpose: scans are personal data.
    pdf.document_info(info).title(TextStr("Scanned materials"));

    for (page, &page_id) in pages.iter().zip(&page_ids) {
        let (image, contents) = (ids.next(), ids.next());
        let pt = |px: u32| px as f32 / page.dpi * 72.0;
        let (w, h) = (pt(page.width), pt(page.height));

        let mut xobject = pdf.image_xobject(image, &page.data);
        xobject.width(page.width as i32).height(page.height as i32);
        match page.storage {
            Storage::Colour | Storage::Gray => {
                xobject.filter(Filter::DctDecode);
                xobject.bits_per_component(8);
                if page.storage == Storage::Colour {
                    xobject.color_space().device_rgb();
                } else {
                    xobject.color_space().device_gray();
                }
            }
            Storage::Bilevel => {
                xobject.filter(Filter::FlateDecode);
                xobject.bits_per_component(1);
                xobject.color_space().device_gray();
            }
            Storage::Mixed => {
                // A stencil: samples of 0 (ink) paint in the fill colour, 1 leaves what
                // is below.
                xobject.filter(Filter::FlateDecode);
                xobject.bits_per_component(1);
                xobject.image_mask(true);
            }
        }
        xobject.finish();

        let mut content = Content::new();
        let layer = match (&page.colour_layer, page.storage) {
            (Some(layer), Storage::Mixed) => {
                let id = ids.next();
                let mut jpeg = pdf.image_xobject(id, &layer.jpeg);
                jpeg.width(layer.jpeg_width as i32)
                    .height(layer.jpeg_height as i32);
                jpeg.filter(Filter::DctDecode);
                jpeg.bits_per_component(8);
                jpeg.color_space().device_rgb();
                jpeg.finish();
                // PDF's y axis points up; the layer's box is given from the top.
                content.save_state();
                content.transform([
                    pt(layer.width),
                    0.0,
                    0.0,
                    pt(layer.height),
                    pt(layer.x),
                    h - pt(layer.y) - pt(layer.height),
                ]);
                content.x_object(COLOUR_LAYER);
                content.restore_state();
                Some(id)
            }
            _ => None,
        };
        content.save_state();
        if page.storage == Storage::Mixed {
            content.set_fill_gray(0.0);
        }
        content.transform([w, 0.0, 0.0, h, 0.0, 0.0]);
        content.x_object(IMAGE);
        content.restore_state();
        pdf.stream(contents, &content.finish());

        let mut pdf_page = pdf.page(page_id);
        pdf_page
            .parent(tree)
            .media_box(Rect::new(0.0, 0.0, w, h))
            .contents(contents);
        let mut resources = pdf_page.resources();
        let mut xobjects = resources.x_objects();
        xobjects.pair(IMAGE, image);
        if let Some(id) = layer {
            xobjects.pair(COLOUR_LAYER, id);
        }
        xobjects.finish();
        resources.finish();
        pdf_page.finish();
    }
    Ok(pdf.finish())
}
