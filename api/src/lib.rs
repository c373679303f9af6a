//! Wire contract between hall kiosks and the central platform, with its OpenAPI document.
