#![allow(clippy::unwrap_used)]
//! The signed-request attacks, black box: a real `central serve` process on 127.0.0.1, two
//! kiosks enrolled over HTTP with real Ed25519 keys, and requests written byte by byte on a
//! TCP socket, so that nothing a client library normalises hides a tampered field.
//!
//! Each attack states what must happen: refused with 401 and a reason, and nothing stored.
//! The rest of the attack suite (another hall's bundle, an old bundle, lease draining, slow
//! bodies, login floods, revocation, rotated keys, hostile releases, a trust file the kiosk
//! user wrote) is indexed in tests/ATTACKS.md, with where each case runs.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use kiosk_api::auth::{HEADER_KIOSK_ID, HEADER_TIMESTAMP};
use kiosk_api::{EnrolRequest, Enrolment, keys, routes};
use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central;
use uuid::Uuid;

/// An HTTP/1.1 exchange on a fresh connection: the status and the body.
fn exchange(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

struct Kiosk {
    key: SigningKey,
    id: Uuid,
}

fn enrol(addr: SocketAddr, token: &str) -> Kiosk {
    let key = keys::generate();
    let request = EnrolRequest {
        token: token.to_owned(),
        public_key: keys::public_key_to_base64(&key.verifying_key()),
        hostname: "kiosk-attacker".into(),
        version: "0.1.0".into(),
    };
    let (status, body) = exchange(
        addr,
        "POST",
        routes::ENROLMENTS,
        &[],
        &serde_json::to_vec(&request).unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let enrolment: Enrolment = serde_json::from_str(&body).unwrap();
    Kiosk {
        key,
        id: enrolment.kiosk_id,
    }
}

/// The four signature headers `kiosk` makes for this request at `now + skew`.
fn signed(
    kiosk: &Kiosk,
    method: &str,
    target: &str,
    body: &[u8],
    skew: i64,
) -> Vec<(String, String)> {
    let now = chrono::Utc::now().timestamp() + skew;
    kiosk_api::sign_request(&kiosk.key, kiosk.id, method, target, body, now)
        .pairs()
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect()
}

fn with(headers: &[(String, String)], name: &str, value: String) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.clone(), if n == name { value.clone() } else { v.clone() }))
        .collect()
}

fn events_body(seq: u64) -> Vec<u8> {
    serde_json::to_vec(&kiosk_api::EventBatch {
        events: vec![kiosk_api::Event {
            event_id: Uuid::now_v7(),
            seq,
            stream: kiosk_api::Stream::Tickets,
            kind: "ticket_called".into(),
            priority: 1,
            occurred_at: chrono::Utc::now(),
            payload: serde_json::json!({"number": format!("A{seq:03}"), "window": "A区 3号窗口"}),
            attachments: vec![],
        }],
    })
    .unwrap()
}

fn stored_events(exe: &Path, db: &str) -> u64 {
    central::stats(exe, db).unwrap()["total_events"]
        .as_u64()
        .unwrap()
}

#[test]
fn tampered_forged_replayed_and_mistimed_requests_are_refused_by_a_real_central() {
    let exe = cargo_bin("central", "central").unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = central::start_fresh(&exe, work.path()).unwrap();
    let db = server.db().to_owned();
    let addr = server.addr();
    let token = |hall: &str| central::create_token(&exe, &db, hall, "大厅").unwrap();
    let a = enrol(addr, &token("hall-a"));
    let b = enrol(addr, &token("hall-a"));
    let refused = |(status, body): (u16, String), what: &str| {
        assert_eq!(status, 401, "{what} was not refused: {body}");
        body
    };

    // The honest requests work, so every refusal below is the attack's doing.
    let query = format!("{}?date=2026-12-04", routes::APPOINTMENTS);
    let honest = signed(&a, "GET", &query, b"", 0);
    assert_eq!(
        exchange(addr, "GET", &query, &honest, b"").0,
        200,
        "an honest signed GET"
    );
    let body = events_body(1);
    let honest = signed(&a, "POST", routes::EVENTS, &body, 0);
    assert_eq!(
        exchange(addr, "POST", routes::EVENTS, &honest, &body).0,
        200,
        "an honest batch"
    );
    assert_eq!(stored_events(&exe, &db), 1);

    // Replay: the very same bytes again are refused, though the batch would be a duplicate.
    refused(
        exchange(addr, "POST", routes::EVENTS, &honest, &body),
        "a replayed request",
    );

    // Path: a signature for one resource does not open another.
    let for_desired = signed(&a, "GET", routes::DESIRED_STATE, b"", 0);
    refused(
        exchange(addr, "GET", &query, &for_desired, b""),
        "a request sent to another path",
    );

    // Query: the signature covers it.
    let other_day = format!("{}?date=2026-12-05", routes::APPOINTMENTS);
    let for_today = signed(&a, "GET", &query, b"", 0);
    refused(
        exchange(addr, "GET", &other_day, &for_today, b""),
        "a request with another query",
    );
    let extra = format!("{query}&holder=x");
    let for_today = signed(&a, "GET", &query, b"", 0);
    refused(
        exchange(addr, "GET", &extra, &for_today, b""),
        "a request with a query parameter added",
    );

    // Method: a signed GET is not a POST.
    let get = signed(&a, "GET", routes::EVENTS, &body, 0);
    refused(
        exchange(addr, "POST", routes::EVENTS, &get, &body),
        "a request with another method",
    );

    // Body: one byte changed.
    let mut tampered = events_body(2);
    let headers = signed(&a, "POST", routes::EVENTS, &tampered, 0);
    let at = tampered.iter().position(|&c| c == b'2').unwrap();
    tampered[at] = b'3';
    refused(
        exchange(addr, "POST", routes::EVENTS, &headers, &tampered),
        "a tampered body",
    );

    // Headers that matter: the timestamp moved after signing, the kiosk id swapped.
    let body = events_body(4);
    let headers = signed(&a, "POST", routes::EVENTS, &body, 0);
    let moved = with(
        &headers,
        HEADER_TIMESTAMP,
        (chrono::Utc::now().timestamp() + 1).to_string(),
    );
    refused(
        exchange(addr, "POST", routes::EVENTS, &moved, &body),
        "a moved timestamp",
    );
    let swapped = with(&headers, HEADER_KIOSK_ID, b.id.to_string());
    refused(
        exchange(addr, "POST", routes::EVENTS, &swapped, &body),
        "kiosk A's request as kiosk B",
    );

    // Impersonation: a key central never saw, for an enrolled id and for a made-up one.
    let stranger = Kiosk {
        key: keys::generate(),
        id: b.id,
    };
    let body = events_body(5);
    let forged = signed(&stranger, "POST", routes::EVENTS, &body, 0);
    refused(
        exchange(addr, "POST", routes::EVENTS, &forged, &body),
        "a forged signature",
    );
    let nobody = Kiosk {
        key: keys::generate(),
        id: Uuid::now_v7(),
    };
    let forged = signed(&nobody, "POST", routes::EVENTS, &body, 0);
    let why = refused(
        exchange(addr, "POST", routes::EVENTS, &forged, &body),
        "an unknown kiosk",
    );
    assert!(why.contains("not enrolled"), "{why}");
    refused(
        exchange(addr, "POST", routes::EVENTS, &[], &body),
        "an unsigned request",
    );

    // Time: more than five minutes either way is refused with the way forward (fix the
    // clock); four minutes ahead is a kiosk with a drifting clock, accepted.
    for skew in [-301, 301, 3600, -86_400] {
        let body = events_body(6);
        let headers = signed(&a, "POST", routes::EVENTS, &body, skew);
        let why = refused(
            exchange(addr, "POST", routes::EVENTS, &headers, &body),
            "a mistimed request",
        );
        assert!(why.contains("clock"), "{skew} s: {why}");
    }
    assert_eq!(stored_events(&exe, &db), 1, "an attack stored an event");
    let body = events_body(7);
    let headers = signed(&a, "POST", routes::EVENTS, &body, 240);
    assert_eq!(
        exchange(addr, "POST", routes::EVENTS, &headers, &body).0,
        200
    );
    assert_eq!(stored_events(&exe, &db), 2);
}
