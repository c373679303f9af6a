#![allow(clippy::unwrap_used)]
//! The kiosk's citizen calls against a real `central serve` process on a SQLite file, with
//! hall staff working through central's own CLI in between: a lease, the queue state before
//! and after a window calls, imported appointments, and an application's progress after
//! staff advance it.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{NaiveDate, Utc};
use kiosk_api::citizen::{
    ApplicationStatus, ApplicationSubmitted, CitizenEvent, HelpRequested, LeaseRequest,
    TicketIssued, TicketPriority, business_date_at, citizen_error, ticket_no,
};
use kiosk_api::{ApplicationNo, EnrolRequest, Enrolment, Event, EventBatch, keys};
use kiosk_core::sync::{CentralClient, SyncError, Timeouts, enrol};
use uuid::Uuid;

const HALL: &str = "dongcheng-main";

/// Builds (if stale) and locates central's executable in this test's profile, through cargo.
fn central_exe() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "central",
            "--bin",
            "central",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo could not build central");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        // The library target is named `central` too; only the binary has an executable.
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "central")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported central's executable")
}

/// A `central serve` child, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Hall {
    exe: PathBuf,
    db: String,
    /// Central's holder-hash key file (outside its database).
    holder_keys: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hall {
    /// Runs `central ARGS --db DB [--json]` and returns its stdout; panics on failure.
    fn central(&self, args: &[&str]) -> String {
        let out = Command::new(&self.exe)
            .args(args)
            .args(["--db", &self.db])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "central {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn central_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.central(&all)).unwrap()
    }

    /// `central serve` with a lease cap above the 499 numbers of a category: the story below
    /// drains a category with one kiosk to see the kiosk client's `numbers_exhausted`; the cap
    /// itself (429 at the default 200) is central's attack test (central/tests/trust.rs).
    fn serve(&self) -> (Serve, String) {
        let mut child = Command::new(&self.exe)
            .args(["serve", "--db", &self.db, "--listen", "127.0.0.1:0"])
            .args(["--lease-cap", "500"])
            .arg("--holder-keys")
            .arg(&self.holder_keys)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("central listening on ")
            .unwrap_or_else(|| panic!("central did not start: {line:?}"))
            .to_owned();
        (Serve(child), format!("http://{addr}"))
    }
}

fn hall() -> Hall {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db").display().to_string();
    let holder_keys = dir.path().join("holder.keys");
    let hall = Hall {
        exe: central_exe(),
        db,
        holder_keys,
        _dir: dir,
    };
    let ops = hall._dir.path().join("ops.pem");
    hall.central(&["keys", "generate", "--out", &ops.display().to_string()]);
    let out = Command::new(&hall.exe)
        .args(["holder-keys", "generate", "--id", "2026a", "--file"])
        .arg(&hall.holder_keys)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "central holder-keys generate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    hall
}

async fn enrolled(hall: &Hall, base: &str) -> (CentralClient, Enrolment) {
    let token = hall.central_json(&[
        "token",
        "create",
        "--hall",
        HALL,
        "--hall-name",
        "东城区政务服务中心",
    ])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = keys::generate();
    let enrolment = enrol(
        base,
        &EnrolRequest {
            token,
            public_key: keys::public_key_to_base64(&key.verifying_key()),
            hostname: "kiosk-test".into(),
            version: "0.1.0".into(),
        },
    )
    .await
    .unwrap();
    let client = CentralClient::new(base, enrolment.kiosk_id, key, Timeouts::default()).unwrap();
    (client, enrolment)
}

fn event<T: CitizenEvent>(seq: u64, payload: &T) -> Event {
    Event {
        event_id: Uuid::now_v7(),
        seq,
        stream: T::STREAM,
        kind: T::KIND.into(),
        priority: 1,
        occurred_at: Utc::now(),
        payload: payload.to_payload(),
        attachments: vec![],
    }
}

fn ticket(number: u32, source: &str) -> TicketIssued {
    TicketIssued {
        ticket_no: ticket_no("A", number),
        category: "A".into(),
        number,
        business_date: business_date_at(Utc::now()),
        priority: TicketPriority::Normal,
        source: source.into(),
        issued_at: Utc::now(),
        holder_hash: None,
        appointment_id: None,
        unconfirmed: false,
        live_token: None,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn a_kiosk_leases_numbers_and_follows_its_queue_appointments_and_applications() {
    let hall = hall();
    let (_serve, base) = hall.serve();
    let (kiosk, enrolment) = enrolled(&hall, &base).await;
    let today = business_date_at(Utc::now());

    // Numbers: a block, then the next one, and a refused date with central's reason.
    let ask = |date: NaiveDate, count: u32| LeaseRequest {
        category: "A".into(),
        business_date: date,
        count,
        request_id: None,
    };
    let first = kiosk.lease(&ask(today, 10)).await.unwrap();
    assert_eq!((first.first, first.last), (1, 10));
    let second = kiosk.lease(&ask(today, 10)).await.unwrap();
    assert_eq!((second.first, second.last), (11, 20));
    // A request sent again with its request_id (its answer was lost) gets the same block
    // back, and the next request a new one: a lost answer leaks no numbers.
    let once = LeaseRequest {
        request_id: Some(uuid::Uuid::new_v4()),
        ..ask(today, 5)
    };
    let third = kiosk.lease(&once).await.unwrap();
    assert_eq!((third.first, third.last), (21, 25));
    assert_eq!(kiosk.lease(&once).await.unwrap(), third);
    let fourth = kiosk.lease(&ask(today, 5)).await.unwrap();
    assert_eq!((fourth.first, fourth.last), (26, 30));
    let far = today.checked_add_days(chrono::Days::new(3)).unwrap();
    match kiosk.lease(&ask(far, 10)).await {
        Err(SyncError::Refused { status, error, .. }) => {
            assert_eq!((status, error.error.as_str()), (422, "invalid"));
        }
        other => panic!("a lease three days ahead must be refused, got {other:?}"),
    }

    // Category Z runs out below 500: a short last block, then 409 numbers_exhausted.
    let mut last = 0;
    let exhausted = loop {
        let ask = LeaseRequest {
            category: "Z".into(),
            business_date: today,
            count: 100,
            request_id: None,
        };
        match kiosk.lease(&ask).await {
            Ok(l) => last = l.last,
            Err(e) => break e,
        }
    };
    assert_eq!(last, 499);
    match exhausted {
        SyncError::Refused { status, error, .. } => {
            assert_eq!(status, 409);
            assert_eq!(error.error, citizen_error::NUMBERS_EXHAUSTED);
        }
        other => panic!("expected numbers_exhausted, got {other:?}"),
    }

    // Two tickets printed from the lease, one application submitted, one call for help.
    // The kiosk hashes with the platform's current holder key, as central gives it.
    let holder_keys = kiosk.holder_keys().await.unwrap();
    let holder = holder_keys.current().unwrap().hash("11010519491231002X");
    let number = |seq| ApplicationNo::new(enrolment.hall_code, enrolment.kiosk_no, today, seq);
    let no = number(1).unwrap();
    let source = format!("lease:{}", first.lease_id);
    let batch = EventBatch {
        events: vec![
            event(1, &ticket(1, &source)),
            event(2, &ticket(2, &source)),
            event(
                3,
                &ApplicationSubmitted {
                    application_no: no,
                    matter_code: "hr-sscard-apply".into(),
                    holder_hash: holder.clone(),
                    holder_name_masked: "张*".into(),
                    form: serde_json::Map::new(),
                    materials: vec![],
                    submitted_at: Utc::now(),
                    live_token: None,
                },
            ),
            event(
                4,
                &HelpRequested {
                    page: "take_number".into(),
                    language: kiosk_api::citizen::Language::En,
                    at: Utc::now(),
                },
            ),
        ],
    };
    let help_event = batch.events[3].event_id;
    // Not sent yet: central does not know it.
    assert_eq!(kiosk.help_status(help_event).await.unwrap(), None);
    let ack = kiosk.post_events(&batch).await.unwrap();
    assert!(ack.results.iter().all(|r| r.outcome.is_acknowledged()));

    let state = kiosk.queue_state().await.unwrap();
    assert_eq!(state.business_date, today);
    assert_eq!(state.categories[0].waiting, 2);
    assert_eq!(state.categories[0].now_serving, None);

    // A window calls the next ticket through central's CLI.
    let called = hall.central_json(&["queue", "call", "--hall", HALL, "--category", "A"]);
    assert_eq!(called["ticket_no"], "A001");
    let state = kiosk.queue_state().await.unwrap();
    assert_eq!(state.categories[0].waiting, 1);
    assert_eq!(state.categories[0].now_serving.as_deref(), Some("A001"));

    // Staff see the help request and acknowledge it.
    let open = hall.central_json(&["help", "list", "--open"]);
    let id = open[0]["id"].as_i64().unwrap().to_string();
    let received = kiosk.help_status(help_event).await.unwrap().unwrap();
    assert_eq!(received.event_id, help_event);
    assert_eq!(received.acknowledged_at, None);
    hall.central_json(&["help", "ack", &id, "--by", "3号窗口"]);
    let acknowledged = kiosk.help_status(help_event).await.unwrap().unwrap();
    assert!(acknowledged.acknowledged_at.is_some());
    assert_eq!(acknowledged.acknowledged_by.as_deref(), Some("3号窗口"));
    assert_eq!(
        hall.central_json(&["help", "list", "--open"]),
        serde_json::json!([])
    );

    // Appointments imported from the booking system, read by the kiosk for check-in.
    let file = write(
        hall._dir.path(),
        "appointments.json",
        &serde_json::json!([{
            "appointment_id": "BK-20261127-001",
            "id_number": "11010519491231002X",
            "holder_name_masked": "张*",
            "matter_code": "ps-idcard-renew",
            "category": "D",
            "slot_start": "2026-11-27T09:00:00+08:00",
            "slot_end": "2026-11-27T09:30:00+08:00",
        }])
        .to_string(),
    );
    let keys_file = hall.holder_keys.display().to_string();
    let imported = hall.central_json(&[
        "appointments",
        "import",
        &file,
        "--hall",
        HALL,
        "--holder-keys",
        &keys_file,
    ]);
    assert_eq!(imported["added"], 1);
    let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let booked = kiosk.appointments(day).await.unwrap();
    assert_eq!(booked.len(), 1);
    assert_eq!(
        booked[0].holder_hash, holder,
        "the file's ID number arrives hashed"
    );
    let next_day = day.succ_opt().unwrap();
    assert!(kiosk.appointments(next_day).await.unwrap().is_empty());

    // Progress: submitted, then accepted by staff, by number and by card.
    let no_text = no.to_string();
    let progress = kiosk.application_progress(&no).await.unwrap().unwrap();
    assert_eq!(progress.status, ApplicationStatus::Submitted);
    hall.central_json(&[
        "application",
        "advance",
        &no_text,
        "--status",
        "accepted",
        "--note-zh",
        "已受理，预计5个工作日办结",
        "--note-en",
        "Accepted; done within 5 working days",
    ]);
    let progress = kiosk.application_progress(&no).await.unwrap().unwrap();
    assert_eq!(progress.status, ApplicationStatus::Accepted);
    assert_eq!(progress.timeline.len(), 2);
    assert_eq!(
        progress.timeline[1].note_en.as_deref(),
        Some("Accepted; done within 5 working days")
    );
    assert_eq!(
        kiosk.applications_by_holder(&holder).await.unwrap(),
        [progress]
    );
    // The number is typed: only its 17 checked digits can reach the path.
    let unknown = number(2).unwrap();
    assert_eq!(kiosk.application_progress(&unknown).await.unwrap(), None);
    assert!(matches!(
        kiosk.applications_by_holder("11010519491231002X").await,
        Err(SyncError::Protocol { .. })
    ));
}

#[tokio::test]
async fn citizen_calls_to_a_central_that_is_down_fail_as_transport_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let kiosk =
        CentralClient::new(&base, Uuid::now_v7(), keys::generate(), Timeouts::default()).unwrap();
    assert!(matches!(
        kiosk.queue_state().await,
        Err(SyncError::Http { .. })
    ));
    let no = ApplicationNo::new(
        kiosk_api::HallCode::new(12).unwrap(),
        kiosk_api::KioskNo::new(3).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        7,
    )
    .unwrap();
    assert!(matches!(
        kiosk.application_progress(&no).await,
        Err(SyncError::Http { .. })
    ));
}
