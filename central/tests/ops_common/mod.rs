//! Helpers of the release, rollout and console stories: artifacts, releases, kiosks of other
//! halls, and the health events a kiosk sends.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use kiosk_api::{Enrolment, Event, ReleaseManifest, SignedRelease, Stream};
use rand::{RngCore as _, SeedableRng as _};
use sha2::{Digest as _, Sha256};

use crate::common::{Central, Kiosk};

/// A release artifact as the contract has it: a gzip tar whose root holds `bin/kiosk-app`,
/// here `size` bytes of incompressible noise so the artifact spans several stored chunks.
pub fn artifact(seed: u64, size: usize) -> Vec<u8> {
    let mut binary = vec![0u8; size];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut binary);
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(binary.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder
        .append_data(&mut header, "bin/kiosk-app", binary.as_slice())
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// Signs and stores a release the way `central release publish` does.
pub async fn publish(
    central: &Central,
    version: &str,
    min_version: &str,
    bytes: &[u8],
) -> SignedRelease {
    let manifest = ReleaseManifest {
        version: version.into(),
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
        min_version: min_version.into(),
        published_at: chrono::DateTime::from_timestamp_millis(
            chrono::Utc::now().timestamp_millis(),
        )
        .unwrap(),
    };
    let signed = kiosk_api::sign_release(&central.ops, manifest);
    central.store.publish_release(&signed, bytes).await.unwrap();
    signed
}

/// A kiosk enrolled in `hall`.
pub async fn kiosk_in(central: &Central, hall: &str) -> Kiosk {
    let key = kiosk_api::keys::generate();
    let token = central.token(hall).await;
    let response = central.enrol_raw(&token, &key).await;
    assert_eq!(response.status(), 201);
    let enrolment: Enrolment = response.json().await.unwrap();
    Kiosk {
        key,
        enrolment,
        base: central.base.clone(),
        http: central.http.clone(),
        clock_skew: 0,
    }
}

static SEQ: AtomicU64 = AtomicU64::new(1);

/// A `health` event of `kind` with `payload`; sequence numbers only ever grow.
pub fn health(kind: &str, payload: serde_json::Value) -> Event {
    Event {
        event_id: uuid::Uuid::now_v7(),
        seq: SEQ.fetch_add(1, Ordering::SeqCst),
        stream: Stream::Health,
        kind: kind.into(),
        priority: 2,
        occurred_at: chrono::Utc::now(),
        payload,
        attachments: vec![],
    }
}

/// Sends one `update_result`.
pub async fn report_update(
    kiosk: &Kiosk,
    version: &str,
    from: &str,
    outcome: &str,
    reason: &str,
    detail: &str,
) {
    let e = health(
        "update_result",
        serde_json::json!({"version": version, "from_version": from, "outcome": outcome, "reason": reason, "detail": detail}),
    );
    let r = kiosk.post_events(&[e]).await;
    assert_eq!(r.status(), 200);
}

/// Sends one `health_report`.
pub async fn report_health(kiosk: &Kiosk, report: serde_json::Value) {
    let r = kiosk.post_events(&[health("health_report", report)]).await;
    assert_eq!(r.status(), 200);
}

/// The release in the kiosk's desired state.
pub async fn offered(kiosk: &Kiosk) -> Option<String> {
    let r = kiosk
        .request(
            reqwest::Method::GET,
            kiosk_api::routes::DESIRED_STATE,
            vec![],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state: kiosk_api::DesiredState = r.json().await.unwrap();
    state.release.map(|r| r.version)
}
