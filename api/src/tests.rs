use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;
use uuid::Uuid;

use crate::auth::{self, AuthError, SignedHeaders, WINDOW_SECS};
use crate::bundle::BundleError;
use crate::catalog::{Catalog, CatalogError, FieldInput};
use crate::wire::*;
use crate::{keys, openapi, routes, sign_bundle, sign_request, verify_bundle, verify_request};

const NOW: i64 = 1_795_000_000;

fn kiosk() -> (ed25519_dalek::SigningKey, Uuid) {
    (keys::generate(), Uuid::now_v7())
}

#[test]
fn a_signed_request_verifies_with_the_kiosks_public_key() {
    let (key, id) = kiosk();
    let body = br#"{"events":[]}"#;
    let headers = sign_request(&key, id, "post", routes::EVENTS, body, NOW);
    assert_eq!(headers.nonce.len(), 32);
    let vk = key.verifying_key();
    assert_eq!(
        verify_request(&vk, &headers, "POST", routes::EVENTS, body, NOW + 10),
        Ok(())
    );
}

#[test]
fn changing_body_path_method_or_timestamp_breaks_the_signature() {
    let (key, id) = kiosk();
    let vk = key.verifying_key();
    let headers = sign_request(&key, id, "POST", "/v1/events", b"abc", NOW);
    let bad = Err(AuthError::BadSignature);
    assert_eq!(
        verify_request(&vk, &headers, "POST", "/v1/events", b"abd", NOW),
        bad
    );
    assert_eq!(
        verify_request(&vk, &headers, "POST", "/v1/events?x=1", b"abc", NOW),
        bad
    );
    assert_eq!(
        verify_request(&vk, &headers, "PUT", "/v1/events", b"abc", NOW),
        bad
    );
    let moved = SignedHeaders {
        timestamp: NOW + 1,
        ..headers.clone()
    };
    assert_eq!(
        verify_request(&vk, &moved, "POST", "/v1/events", b"abc", NOW),
        bad
    );
    let other_key = keys::generate().verifying_key();
    assert_eq!(
        verify_request(&other_key, &headers, "POST", "/v1/events", b"abc", NOW),
        bad
    );
}

#[test]
fn a_request_older_or_newer_than_the_window_is_refused() {
    let (key, id) = kiosk();
    let vk = key.verifying_key();
    let at_edge = sign_request(&key, id, "GET", "/v1/desired-state", b"", NOW - WINDOW_SECS);
    assert_eq!(
        verify_request(&vk, &at_edge, "GET", "/v1/desired-state", b"", NOW),
        Ok(())
    );
    let stale = sign_request(
        &key,
        id,
        "GET",
        "/v1/desired-state",
        b"",
        NOW - WINDOW_SECS - 1,
    );
    assert!(matches!(
        verify_request(&vk, &stale, "GET", "/v1/desired-state", b"", NOW),
        Err(AuthError::OutsideWindow { skew: -301, .. })
    ));
    let future = sign_request(
        &key,
        id,
        "GET",
        "/v1/desired-state",
        b"",
        NOW + WINDOW_SECS + 1,
    );
    assert!(matches!(
        verify_request(&vk, &future, "GET", "/v1/desired-state", b"", NOW),
        Err(AuthError::OutsideWindow { skew: 301, .. })
    ));
}

#[test]
fn the_signing_string_is_the_documented_one() {
    // sha256 of the empty body is e3b0…b855.
    let s = auth::signing_string(
        "get",
        "/v1/desired-state",
        1700000000,
        "00112233445566778899aabbccddeeff",
        b"",
    );
    assert_eq!(
        s,
        "GET\n/v1/desired-state\n1700000000\n00112233445566778899aabbccddeeff\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn headers_round_trip_through_a_header_map_and_bad_ones_are_named() {
    let (key, id) = kiosk();
    let headers = sign_request(&key, id, "GET", "/x", b"", NOW);
    let pairs = headers.pairs();
    let parsed = SignedHeaders::from_lookup(|n| {
        pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str())
    });
    assert_eq!(parsed, Ok(headers));

    let missing = SignedHeaders::from_lookup(|n| {
        pairs
            .iter()
            .find(|(k, _)| *k == n && n != auth::HEADER_NONCE)
            .map(|(_, v)| v.as_str())
    });
    assert_eq!(missing, Err(AuthError::MissingHeader(auth::HEADER_NONCE)));
    let short_nonce = SignedHeaders::from_lookup(|n| {
        if n == auth::HEADER_NONCE {
            Some("abcd")
        } else {
            pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str())
        }
    });
    assert_eq!(
        short_nonce,
        Err(AuthError::MalformedHeader(auth::HEADER_NONCE))
    );
}

proptest! {
    #[test]
    fn any_body_signed_verifies_and_any_other_body_does_not(body in proptest::collection::vec(any::<u8>(), 0..512), flip in any::<usize>()) {
        let (key, id) = kiosk();
        let vk = key.verifying_key();
        let h = sign_request(&key, id, "POST", "/v1/events", &body, NOW);
        prop_assert_eq!(verify_request(&vk, &h, "POST", "/v1/events", &body, NOW), Ok(()));
        if !body.is_empty() {
            let mut other = body.clone();
            let i = flip % other.len();
            other[i] ^= 0x01;
            prop_assert_eq!(verify_request(&vk, &h, "POST", "/v1/events", &other, NOW), Err(AuthError::BadSignature));
        }
    }

    #[test]
    fn header_parsing_never_panics_on_arbitrary_text(id in ".{0,40}", ts in ".{0,24}", nonce in ".{0,40}", sig in ".{0,100}") {
        let lookup = |n: &str| Some(match n {
            auth::HEADER_KIOSK_ID => id.as_str(),
            auth::HEADER_TIMESTAMP => ts.as_str(),
            auth::HEADER_NONCE => nonce.as_str(),
            _ => sig.as_str(),
        });
        if let Ok(h) = SignedHeaders::from_lookup(lookup) {
            let vk = keys::generate().verifying_key();
            prop_assert!(verify_request(&vk, &h, "GET", "/", b"", NOW).is_err());
        }
    }
}

#[test]
fn a_bundle_signed_by_ops_verifies_and_returns_its_payload() {
    let ops = keys::generate();
    let bundle = sign_bundle(&ops, "catalog", "2026-11-26.1", b"{\"x\":1}");
    assert_eq!(bundle.key_id, keys::key_id(&ops.verifying_key()));
    assert_eq!(
        verify_bundle(&ops.verifying_key(), &bundle),
        Ok(b"{\"x\":1}".to_vec())
    );
}

#[test]
fn a_tampered_renamed_or_foreign_bundle_is_refused() {
    let ops = keys::generate();
    let vk = ops.verifying_key();
    let bundle = sign_bundle(&ops, "catalog", "v2", b"payload");

    let tampered = SignedBundle {
        payload: B64.encode(b"payloaD"),
        ..bundle.clone()
    };
    assert!(matches!(
        verify_bundle(&vk, &tampered),
        Err(BundleError::BadSignature { .. })
    ));
    let renamed = SignedBundle {
        version: "v3".into(),
        ..bundle.clone()
    };
    assert!(matches!(
        verify_bundle(&vk, &renamed),
        Err(BundleError::BadSignature { .. })
    ));
    let as_config = SignedBundle {
        kind: "config".into(),
        ..bundle.clone()
    };
    assert!(matches!(
        verify_bundle(&vk, &as_config),
        Err(BundleError::BadSignature { .. })
    ));
    let stranger = keys::generate();
    let foreign = sign_bundle(&stranger, "catalog", "v2", b"payload");
    assert!(matches!(
        verify_bundle(&vk, &foreign),
        Err(BundleError::WrongKey { .. })
    ));
    // Even with the expected key id pasted in, a foreign signature does not verify.
    let disguised = SignedBundle {
        key_id: bundle.key_id.clone(),
        ..foreign
    };
    assert!(matches!(
        verify_bundle(&vk, &disguised),
        Err(BundleError::BadSignature { .. })
    ));
    let garbage = SignedBundle {
        signature: "!!".into(),
        ..bundle
    };
    assert!(matches!(
        verify_bundle(&vk, &garbage),
        Err(BundleError::Malformed {
            what: "signature",
            ..
        })
    ));
}

#[test]
fn keys_round_trip_through_pem_and_base64() {
    let key = keys::generate();
    let pem = keys::private_key_to_pem(&key);
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        keys::private_key_from_pem(&pem).map(|k| k.to_bytes()),
        Ok(key.to_bytes())
    );
    let b64 = keys::public_key_to_base64(&key.verifying_key());
    assert_eq!(keys::public_key_from_base64(&b64), Ok(key.verifying_key()));
    assert!(keys::public_key_from_base64("AAAA").is_err());
    assert!(keys::private_key_from_pem("not a key").is_err());
}

fn sample_catalog_bytes() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../journeys/data/catalog.sample.json");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the sample catalog {} must be beside the repository: {e}",
            path.display()
        )
    })
}

#[test]
fn the_sample_catalog_parses_validates_and_round_trips() {
    let bytes = sample_catalog_bytes();
    let catalog = Catalog::from_json(&bytes).unwrap();
    assert_eq!(catalog.version, "2026-11-26.1");
    assert_eq!(catalog.hall.id, "dongcheng-main");
    assert_eq!(catalog.categories.len(), 6);
    assert_eq!(catalog.matters.len(), 12);
    let renew = catalog
        .matters
        .iter()
        .find(|m| m.id == "ps-idcard-renew")
        .unwrap();
    assert_eq!(renew.category, "D");
    assert!(renew.materials.iter().any(|m| m.on_site));
    let phone = catalog
        .matters
        .iter()
        .flat_map(|m| &m.form)
        .find(|f| f.key == "phone")
        .unwrap();
    assert_eq!(phone.input, FieldInput::Digits { length: 11 });

    // Nothing in the file is lost: re-serialising gives the same JSON value.
    let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(serde_json::to_value(&catalog).unwrap(), original);
}

#[test]
fn a_catalog_with_a_matter_in_an_unknown_category_is_refused() {
    let mut catalog = Catalog::from_json(&sample_catalog_bytes()).unwrap();
    catalog.matters[0].category = "Z".into();
    assert!(matches!(
        catalog.validate(),
        Err(CatalogError::Inconsistent { .. })
    ));
    assert!(matches!(
        Catalog::from_json(b"{}"),
        Err(CatalogError::Parse(_))
    ));
}

#[test]
fn event_outcomes_and_streams_have_the_agreed_json() {
    let id = Uuid::nil();
    let ack = BatchAck {
        results: vec![
            EventAck {
                event_id: id,
                outcome: EventOutcome::Stored,
            },
            EventAck {
                event_id: id,
                outcome: EventOutcome::Rejected {
                    reason: reject_reason::MISSING_ATTACHMENT.into(),
                    detail: None,
                },
            },
        ],
    };
    let json = serde_json::to_value(&ack).unwrap();
    assert_eq!(
        json["results"][0]["outcome"],
        serde_json::json!({"status": "stored"})
    );
    assert_eq!(
        json["results"][1]["outcome"],
        serde_json::json!({"status": "rejected", "reason": "missing_attachment"})
    );
    for s in Stream::ALL {
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::json!(s.as_str())
        );
        assert_eq!(Stream::from_name(s.as_str()), Some(s));
    }
    assert!(serde_json::from_str::<Stream>("\"gossip\"").is_err());
}

#[test]
fn the_openapi_document_lists_every_operation_and_schema() {
    let doc = openapi::document();
    let json = serde_json::to_value(&doc).unwrap();
    for op in openapi::OPERATIONS {
        let item = &json["paths"][op.path][op.method.to_ascii_lowercase()];
        assert!(
            item.is_object(),
            "{} {} missing from the document",
            op.method,
            op.path
        );
        assert_eq!(
            item.get("security").is_some(),
            op.signed,
            "{} {} security",
            op.method,
            op.path
        );
    }
    let documented: usize = json["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, openapi::OPERATIONS.len());
    // Every $ref points at a defined schema.
    let text = json.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(
            json["components"]["schemas"][name].is_object(),
            "schema {name} is referenced but not defined"
        );
    }
}

#[test]
fn the_openapi_document_lists_the_refusals_of_central_s_limits() {
    let json = serde_json::to_value(openapi::document()).unwrap();
    let responses = |method: &str, path: &str| json["paths"][path][method]["responses"].clone();
    // Every operation: the body timeout and the in-flight cap.
    for op in openapi::OPERATIONS {
        let r = responses(&op.method.to_ascii_lowercase(), op.path);
        for status in ["408", "503"] {
            assert!(
                r[status].is_object(),
                "{} {} lacks {status}",
                op.method,
                op.path
            );
        }
        // Every signed one: a revoked kiosk, and the per-kiosk request rate.
        for status in ["403", "429"] {
            assert!(
                !op.signed || r[status].is_object(),
                "{} {} {status}",
                op.method,
                op.path
            );
        }
    }
    let bundle = responses("get", routes::BUNDLE);
    assert!(
        bundle["403"]["description"]
            .as_str()
            .unwrap()
            .contains("hall")
    );
    let chunk = responses("put", routes::ATTACHMENT);
    assert!(
        chunk["429"]["description"]
            .as_str()
            .unwrap()
            .contains("attachments-per-day")
    );
    let lease = responses("post", routes::QUEUE_LEASES);
    assert!(
        lease["429"]["description"]
            .as_str()
            .unwrap()
            .contains("lease-cap")
    );
    let events = responses("post", routes::EVENTS);
    assert!(
        events["200"]["description"]
            .as_str()
            .unwrap()
            .contains("help-per-minute")
    );
    let schema = &json["components"]["schemas"]["LeaseRequest"];
    assert!(schema["properties"]["request_id"].is_object(), "{schema}");
    assert!(
        !schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "request_id")
    );
}

#[test]
fn the_event_schema_names_exactly_the_fields_an_event_serialises() {
    let doc = serde_json::to_value(openapi::document()).unwrap();
    let event = Event {
        event_id: Uuid::now_v7(),
        seq: 1,
        stream: Stream::Tickets,
        kind: "ticket_issued".into(),
        priority: 1,
        occurred_at: chrono::Utc::now(),
        payload: serde_json::json!({"number": "A001"}),
        attachments: vec![],
    };
    let serialised = serde_json::to_value(&event).unwrap();
    let mut fields: Vec<&String> = serialised.as_object().unwrap().keys().collect();
    let props = doc["components"]["schemas"]["Event"]["properties"]
        .as_object()
        .unwrap();
    let mut documented: Vec<&String> = props.keys().collect();
    fields.sort();
    documented.sort();
    assert_eq!(fields, documented);
}
