#![allow(clippy::unwrap_used)]
//! The kiosk's HTTP client against a local server that misbehaves the way a broken proxy or
//! a hostile host would: answers without end, error pages without end, redirects to another
//! host. The kiosk must stop reading at the route's limit and never carry its signed
//! headers anywhere but central.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kiosk_api::citizen::{HelpStatus, HolderKey, HolderKeys};
use kiosk_api::{DesiredState, keys};
use kiosk_core::sync::{CentralClient, SyncError, Timeouts, limits};
use support::{Answer, Body, Server};
use uuid::Uuid;

fn client(base: &str) -> CentralClient {
    CentralClient::new(base, Uuid::now_v7(), keys::generate(), Timeouts::default()).unwrap()
}

#[tokio::test]
async fn a_desired_state_that_never_ends_is_refused_at_the_limit_without_reading_on() {
    // No Content-Length: only reading shows how long it is.
    let server = Server::start(|_| Answer {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Body::Endless { declared: None },
    })
    .await;
    let started = Instant::now();
    let err = client(&server.base).desired_state(None).await.unwrap_err();
    assert!(
        matches!(err, SyncError::TooLarge { limit, .. } if limit == limits::DESIRED_STATE),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    // The client hung up soon after the limit; the server could not push its gigabyte.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = *server.endless_sent.lock().unwrap();
    assert!(sent < 64 * 1024 * 1024, "server pushed {sent} bytes");
}

#[tokio::test]
async fn an_announced_oversized_bundle_is_refused_before_its_body_is_read() {
    let server = Server::start(|_| Answer {
        status: 200,
        headers: vec![],
        body: Body::Endless {
            declared: Some(limits::BUNDLE as u64 + 1),
        },
    })
    .await;
    let err = client(&server.base)
        .bundle("catalog", "7")
        .await
        .unwrap_err();
    assert!(
        matches!(err, SyncError::TooLarge { limit, .. } if limit == limits::BUNDLE),
        "{err}"
    );
    assert!(err.to_string().contains("nothing of it was used"), "{err}");
}

#[tokio::test]
async fn an_error_page_that_never_ends_is_cut_short_and_still_reported() {
    let server = Server::start(|_| Answer {
        status: 502,
        headers: vec![],
        body: Body::Endless { declared: None },
    })
    .await;
    let err = client(&server.base)
        .release_manifest("0.2.0")
        .await
        .unwrap_err();
    match err {
        SyncError::Refused { status, error, .. } => {
            assert_eq!(status, 502);
            assert!(error.message.len() <= 200, "{}", error.message.len());
        }
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_and_the_signed_headers_stay_home() {
    let elsewhere_hits = Arc::new(AtomicUsize::new(0));
    let hits = elsewhere_hits.clone();
    let elsewhere = Server::start(move |_| {
        hits.fetch_add(1, Ordering::SeqCst);
        Answer::json(200, &DesiredState::default())
    })
    .await;
    let target = format!("{}/v1/desired-state", elsewhere.base);
    let central = Server::start(move |_| Answer {
        status: 307,
        headers: vec![("location".into(), target.clone())],
        body: Body::Bytes(Vec::new()),
    })
    .await;
    let err = client(&central.base).desired_state(None).await.unwrap_err();
    match &err {
        SyncError::Redirected {
            status, location, ..
        } => {
            assert_eq!(*status, 307);
            assert!(location.contains(&elsewhere.port.to_string()), "{location}");
        }
        other => panic!("expected a redirect error, got {other}"),
    }
    assert!(err.to_string().contains("[central] url"), "{err}");
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
    // The request that did go out went to central, signed.
    let sent = central.requests();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].header("x-kiosk-signature").is_some(),
        "{:?}",
        sent[0].headers
    );

    // Not followed when enrolling either (unsigned, but the token is a credential).
    let request = kiosk_api::EnrolRequest {
        token: "one-time".into(),
        public_key: keys::public_key_to_base64(&keys::generate().verifying_key()),
        hostname: "kiosk-test".into(),
        version: "0.1.0".into(),
    };
    let err = kiosk_core::sync::enrol(&central.base, &request)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Redirected { .. }), "{err}");
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn not_modified_is_still_an_answer_and_not_a_redirect() {
    let server = Server::start(|_| Answer {
        status: 304,
        headers: vec![("etag".into(), "\"abc\"".into())],
        body: Body::Bytes(Vec::new()),
    })
    .await;
    assert_eq!(
        client(&server.base)
            .desired_state(Some("\"abc\""))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn holder_keys_and_help_status_are_read_signed_and_a_missing_help_request_is_none() {
    let known = Uuid::now_v7();
    let received_at = chrono::Utc::now();
    let server = Server::start(move |request| {
        if request.path == kiosk_api::routes::HOLDER_KEYS {
            Answer::json(
                200,
                &HolderKeys {
                    keys: vec![HolderKey {
                        id: "2026a".into(),
                        secret: [9; 32],
                    }],
                },
            )
        } else if request.path == kiosk_api::routes::help(known) {
            Answer::json(
                200,
                &HelpStatus {
                    event_id: known,
                    received_at,
                    acknowledged_at: None,
                    acknowledged_by: None,
                },
            )
        } else {
            Answer::error(404, "not_found", "no such help request from this kiosk")
        }
    })
    .await;
    let client = client(&server.base);
    let keys = client.holder_keys().await.unwrap();
    assert_eq!(keys.keys[0].id, "2026a");
    assert_eq!(keys.keys[0].secret, [9; 32]);
    let status = client.help_status(known).await.unwrap().unwrap();
    assert_eq!(status.event_id, known);
    assert_eq!(status.acknowledged_at, None);
    assert_eq!(client.help_status(Uuid::now_v7()).await.unwrap(), None);
    for request in server.requests() {
        assert!(
            request.header("x-kiosk-signature").is_some(),
            "{}",
            request.path
        );
    }
}

#[tokio::test]
async fn an_empty_or_oversized_holder_key_answer_is_refused() {
    let server = Server::start(|request| {
        if request.path.ends_with("holder-keys") {
            Answer::json(200, &serde_json::json!({ "keys": [] }))
        } else {
            Answer::error(404, "not_found", "")
        }
    })
    .await;
    let err = client(&server.base).holder_keys().await.unwrap_err();
    assert!(matches!(err, SyncError::Protocol { .. }), "{err}");

    let server = Server::start(|_| Answer {
        status: 200,
        headers: vec![],
        body: Body::Endless { declared: None },
    })
    .await;
    let err = client(&server.base).holder_keys().await.unwrap_err();
    assert!(
        matches!(err, SyncError::TooLarge { limit, .. } if limit == limits::HOLDER_KEYS),
        "{err}"
    );
}

#[tokio::test]
async fn a_release_download_that_would_fill_the_disk_is_refused_before_a_byte_is_asked_for() {
    let server = Server::start(|_| Answer {
        status: 200,
        headers: vec![],
        body: Body::Endless { declared: None },
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("0.2.0.part");
    let free = kiosk_core::store::free_bytes(dir.path()).unwrap();
    // An artifact that fits in the free space, but not with the reserve left over.
    let size = free.saturating_sub(1024 * 1024);
    let err = client(&server.base)
        .download_artifact("0.2.0", &partial, size)
        .await
        .unwrap_err();
    match &err {
        SyncError::NoSpace {
            need, free: had, ..
        } => {
            assert!(*need > *had, "{err}");
        }
        other => panic!("expected NoSpace, got {other}"),
    }
    assert!(err.to_string().contains("nothing was downloaded"), "{err}");
    assert!(server.requests().is_empty());
    assert_eq!(std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0), 0);
}
