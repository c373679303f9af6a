//! Reference central platform for hall kiosks (docs/architecture.md): enrolment, idempotent
//! ingest, attachments, desired state and signed bundles, over SQLite or PostgreSQL.
//!
//! The binary `central` wires these together; tests and the ingest benchmark use them
//! directly.

pub mod console;
pub mod duration;
pub mod hall;
pub mod holder_keys;
pub mod http;
pub mod store;

pub use http::{AppState, Limits, Metrics, router, serve, serve_with, serve_with_limits};
pub use store::{Backend, Store, StoreError};
