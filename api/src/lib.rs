//! Wire contract between hall kiosks and the central platform (docs/architecture.md).
//!
//! Both sides compile against this crate, so the JSON shapes, the request signature and the
//! bundle signature are the very same code on the kiosk and on central. The OpenAPI document
//! of the central API ([`openapi::document`]) is generated from these types and from the route
//! table in [`routes`], which central's router also uses.

pub mod auth;
pub mod bundle;
pub mod catalog;
pub mod citizen;
pub mod fleet;
pub mod keys;
pub mod numbers;
pub mod openapi;
pub mod range;
pub mod rotation;
pub mod routes;
pub mod wire;

pub use auth::{AuthError, SignedHeaders, sign_request, verify_request};
pub use bundle::{BundleError, CONFIG_BUNDLE_KIND, sign_bundle, verify_bundle, version_cmp};
pub use catalog::Catalog;
pub use fleet::{
    HealthReport, QuarantinedEvent, ReleaseManifest, SignedRelease, UpdateOutcome, UpdateResult,
    sign_release, verify_release,
};
pub use numbers::{ApplicationNo, HallCode, KioskNo};
pub use wire::*;

#[cfg(test)]
mod tests;
