//! The card photo: 1024 bytes in the vendor's WLT format.
//!
//! The WLT format is not public; it is decoded only by the vendor's library. This crate keeps
//! the photo as an opaque blob (the app encrypts it at rest with the other card data) and
//! offers [`PhotoDecoder`] as the extension point for a vendor decoder. Until one is
//! configured, [`PlaceholderDecoder`] answers "show the neutral placeholder".
//!
//! Not built yet: a decoder that loads the vendor library (`libwlt.so`) at run time by a
//! configured path. It belongs behind this trait, so no other code changes when it lands.

use std::fmt;

/// The WLT photo as read from the card (a face: wiped from memory when dropped).
#[derive(Clone, Default, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Photo(pub Vec<u8>);

impl Photo {
    /// The WLT bytes.
    pub fn wlt(&self) -> &[u8] {
        &self.0
    }

    /// Whether the card gave no photo.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Photo {
    // The bytes are a face: never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Photo({} bytes WLT)", self.0.len())
    }
}

/// A decoded photo: 24-bit BGR pixels, bottom-up rows, as the vendor libraries produce.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedPhoto {
    /// Width in pixels (102 on every card kind).
    pub width: u32,
    /// Height in pixels (126).
    pub height: u32,
    /// `width * height * 3` bytes.
    pub bgr: Vec<u8>,
}

/// Turns a WLT blob into pixels: implemented by a vendor-library adapter.
pub trait PhotoDecoder: Send + Sync {
    /// The decoded photo, or `None` when the screen should show the neutral placeholder.
    fn decode(&self, photo: &Photo) -> Option<DecodedPhoto>;
}

/// The decoder used when no vendor library is configured: always the placeholder.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaceholderDecoder;

impl PhotoDecoder for PlaceholderDecoder {
    fn decode(&self, _photo: &Photo) -> Option<DecodedPhoto> {
        None
    }
}
