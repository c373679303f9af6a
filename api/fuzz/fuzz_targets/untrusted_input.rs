//! Everything central and the kiosk read from the network: request headers, event batches,
//! signed bundles, catalogs. None of it may panic, and nothing forged may verify.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<kiosk_api::EventBatch>(data);
    let _ = serde_json::from_slice::<kiosk_api::EnrolRequest>(data);
    let _ = kiosk_api::Catalog::from_json(data);

    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
    if let Ok(bundle) = serde_json::from_slice::<kiosk_api::SignedBundle>(data) {
        assert!(kiosk_api::verify_bundle(&key, &bundle).is_err(), "a fuzzed bundle verified");
    }

    // Four header values separated by newlines, then the body.
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\n');
    let values: Vec<&str> = (0..4).map(|_| parts.next().unwrap_or("")).collect();
    let body = parts.next().unwrap_or("");
    let lookup = |name: &str| match name {
        kiosk_api::auth::HEADER_KIOSK_ID => Some(values[0]),
        kiosk_api::auth::HEADER_TIMESTAMP => Some(values[1]),
        kiosk_api::auth::HEADER_NONCE => Some(values[2]),
        _ => Some(values[3]),
    };
    if let Ok(headers) = kiosk_api::SignedHeaders::from_lookup(lookup) {
        let verdict = kiosk_api::verify_request(&key, &headers, "POST", "/v1/events", body.as_bytes(), 1_795_000_000);
        assert!(verdict.is_err(), "a fuzzed request verified");
    }
});
