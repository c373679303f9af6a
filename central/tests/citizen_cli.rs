//! Hall staff at the `central` command line: importing appointments, calling tickets,
//! advancing applications, following up bad reviews and help, each with `--json`, and the
//! mistakes they make told back plainly, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

use chrono::Utc;
use common::{Central, databases};
use kiosk_api::citizen::{
    CitizenEvent, HelpRequested, RatingGiven, TicketIssued, TicketPriority, business_date_at,
    rating_subject, ticket_no,
};
use kiosk_api::{Event, EventBatch, routes};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_central");
const HALL: &str = "dongcheng-main";

fn run(db: &str, args: &[&str]) -> Output {
    run_with_keys(db, args, None)
}

/// Runs a command with CENTRAL_HOLDER_KEYS set to `keys` (or unset).
fn run_with_keys(db: &str, args: &[&str], keys: Option<&std::path::Path>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .args(["--db", db])
        .env("RUST_LOG", "warn")
        .env_remove("CENTRAL_HOLDER_KEYS");
    if let Some(keys) = keys {
        command.env("CENTRAL_HOLDER_KEYS", keys);
    }
    command.output().unwrap()
}

fn json(db: &str, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = run(db, &all);
    assert!(
        out.status.success(),
        "central {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs a command that must fail, and returns what it told the operator.
fn fails(db: &str, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(!out.status.success(), "central {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
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

#[tokio::test]
async fn staff_work_the_hall_from_the_command_line() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let today = business_date_at(Utc::now());
        let band = kiosk.enrolment.number_band;
        let ticket = |number: u32, priority| TicketIssued {
            ticket_no: ticket_no("B", number),
            category: "B".into(),
            number,
            business_date: today,
            priority,
            source: "band".into(),
            issued_at: Utc::now(),
            holder_hash: None,
            appointment_id: None,
            unconfirmed: number == band.first + 1,
            live_token: None,
        };
        let batch = EventBatch {
            events: vec![
                event(1, &ticket(band.first, TicketPriority::Normal)),
                event(2, &ticket(band.first + 1, TicketPriority::Pregnant)),
                event(
                    3,
                    &RatingGiven {
                        subject: rating_subject::ticket("B499", today),
                        level: 2,
                        reasons: vec!["unfriendly".into()],
                        note: Some("窗口人员态度差".into()),
                        matter_code: None,
                    },
                ),
                event(
                    4,
                    &HelpRequested {
                        page: "apply_form".into(),
                        language: kiosk_api::citizen::Language::Zh,
                        at: Utc::now(),
                    },
                ),
            ],
        };
        let response = kiosk
            .request(
                reqwest::Method::POST,
                routes::EVENTS,
                serde_json::to_vec(&batch).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let second = ticket_no("B", band.first + 1);

        // The second ticket was recorded unconfirmed (the kiosk restarted after printing it):
        // staff see it marked, and it is called like any other.
        let list = json(&db.url, &["queue", "list", "--hall", HALL]);
        assert_eq!(list.as_array().unwrap().len(), 2, "{}", db.name);
        assert_eq!(list[1]["ticket_no"], second.as_str());
        assert_eq!(list[1]["unconfirmed"], true);
        assert_eq!(list[0]["unconfirmed"], false);
        let text =
            String::from_utf8(run(&db.url, &["queue", "list", "--hall", HALL]).stdout).unwrap();
        assert!(text.contains("UNCONFIRMED"), "{text}");
        let stats = json(&db.url, &["queue", "stats", "--hall", HALL]);
        assert_eq!(stats["categories"][0]["unconfirmed"], 1);

        let called = json(
            &db.url,
            &["queue", "call", "--hall", HALL, "--category", "B"],
        );
        assert_eq!(
            called["ticket_no"],
            second.as_str(),
            "{}: pregnancy goes first",
            db.name
        );
        assert_eq!(called["unconfirmed"], true);
        assert_eq!(called["still_waiting"], 1);
        // Both are band tickets of this kiosk's own band: nothing to flag.
        let check = run(&db.url, &["queue", "check", "--hall", HALL, "--json"]);
        assert!(check.status.success(), "{}", db.name);
        let stats = json(&db.url, &["queue", "stats", "--hall", HALL]);
        assert_eq!(stats["categories"][0]["now_serving"], second.as_str());
        assert_eq!(stats["categories"][0]["waiting"], 1);
        json(
            &db.url,
            &["queue", "call", "--hall", HALL, "--category", "B"],
        );
        let empty = fails(
            &db.url,
            &["queue", "call", "--hall", HALL, "--category", "B", "--json"],
        );
        assert!(empty.contains("nobody is waiting"), "{empty}");

        let summary = json(&db.url, &["ratings", "summary", "--hall", HALL]);
        assert_eq!(summary["distribution"]["total"], 1);
        let id = summary["bad_reviews"][0]["id"]
            .as_i64()
            .unwrap()
            .to_string();
        json(
            &db.url,
            &["ratings", "follow-up", &id, "--note", "已回访，致歉"],
        );
        let summary = json(&db.url, &["ratings", "summary", "--hall", HALL]);
        assert_eq!(summary["bad_reviews"], serde_json::json!([]));

        let open = json(&db.url, &["help", "list", "--open"]);
        assert_eq!(open[0]["page"], "apply_form");
        assert_eq!(open[0]["kiosk_no"], 1);
        let event = open[0]["event_id"].as_str().unwrap().to_owned();
        let acked = json(
            &db.url,
            &[
                "help",
                "ack",
                "--hall",
                HALL,
                "--event",
                &event,
                "--by",
                "3号窗口 王",
            ],
        );
        assert_eq!(acked["acknowledged"], open[0]["id"]);
        assert_eq!(acked["acknowledged_by"], "3号窗口 王");
        assert_eq!(
            json(&db.url, &["help", "list", "--open"]),
            serde_json::json!([])
        );
        // The kiosk that asked reads who is coming.
        let status: kiosk_api::citizen::HelpStatus = kiosk
            .request(
                reqwest::Method::GET,
                &routes::help(event.parse().unwrap()),
                vec![],
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status.acknowledged_by.as_deref(), Some("3号窗口 王"));
        assert!(status.acknowledged_at.is_some());
        assert!(
            fails(&db.url, &["help", "ack", "4242", "--by", "王"]).contains("no such help request")
        );
        assert!(
            fails(&db.url, &["help", "ack", "--hall", HALL, "--event", &event]).contains("--by")
        );
        let elsewhere = fails(
            &db.url,
            &[
                "help",
                "ack",
                "--hall",
                "xicheng-main",
                "--event",
                &event,
                "--by",
                "王",
            ],
        );
        assert!(elsewhere.contains("no such help request"), "{elsewhere}");

        let unknown = kiosk_api::ApplicationNo::new(
            kiosk.enrolment.hall_code,
            kiosk.enrolment.kiosk_no,
            today,
            1,
        )
        .unwrap()
        .to_string();
        let missing = fails(
            &db.url,
            &["application", "advance", &unknown, "--status", "accepted"],
        );
        assert!(missing.contains("no application"), "{missing}");
        let mistyped = fails(
            &db.url,
            &[
                "application",
                "advance",
                "0193A1B2-20261126-0001",
                "--status",
                "accepted",
            ],
        );
        assert!(mistyped.contains("not an application number"), "{mistyped}");
        let bad_status = fails(
            &db.url,
            &["application", "advance", &unknown, "--status", "lost"],
        );
        assert!(bad_status.contains("in_review"), "{bad_status}");
        central.stop().await;
    }
}

#[tokio::test]
async fn a_bad_appointments_file_is_refused_whole_without_echoing_id_numbers() {
    let db = databases().await.remove(0);
    let central = Central::start(&db).await;
    central.token(HALL).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bookings.json");
    let good = serde_json::json!({
        "appointment_id": "BK-1",
        "id_number": "11010519491231002X",
        "holder_name_masked": "张*",
        "matter_code": "ps-idcard-renew",
        "category": "D",
        "slot_start": "2026-11-27T09:00:00+08:00",
        "slot_end": "2026-11-27T09:30:00+08:00",
    });
    let mut bad = good.clone();
    bad["appointment_id"] = "BK-2".into();
    bad["id_number"] = "11010519491231002Y".into();
    std::fs::write(&file, serde_json::json!([good, bad]).to_string()).unwrap();
    let path = file.display().to_string();
    let keys = Some(central.holder_keys.as_path());
    // Without the holder key file nothing is imported, and central says how to make one.
    let out = run_with_keys(
        &db.url,
        &["appointments", "import", &path, "--hall", HALL],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holder-keys generate"));
    let fails = |db: &str, args: &[&str]| {
        let out = run_with_keys(db, args, keys);
        assert!(!out.status.success(), "central {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let json = |db: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--json");
        let out = run_with_keys(db, &all, keys);
        assert!(
            out.status.success(),
            "central {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let refused = fails(&db.url, &["appointments", "import", &path, "--hall", HALL]);
    assert!(refused.contains("appointment 1 (BK-2)"), "{refused}");
    assert!(
        !refused.contains("1101051949"),
        "ID number leaked: {refused}"
    );
    // A number where a string belongs: serde's message would quote the value; ours does not.
    let mut typed = good.clone();
    typed["id_number"] = serde_json::json!(110105194912310021u64);
    std::fs::write(&file, serde_json::json!([typed]).to_string()).unwrap();
    let refused = fails(&db.url, &["appointments", "import", &path, "--hall", HALL]);
    assert!(
        !refused.contains("1101051949"),
        "ID number leaked: {refused}"
    );
    assert!(
        fails(
            &db.url,
            &["appointments", "import", &path, "--hall", "nowhere"]
        )
        .contains("line 1")
    );

    std::fs::write(&file, serde_json::json!([good]).to_string()).unwrap();
    let done = json(&db.url, &["appointments", "import", &path, "--hall", HALL]);
    assert_eq!(
        (done["added"].as_u64(), done["updated"].as_u64()),
        (Some(1), Some(0))
    );
    let unknown = fails(
        &db.url,
        &["appointments", "import", &path, "--hall", "nowhere"],
    );
    assert!(unknown.contains("hall nowhere is unknown"), "{unknown}");
    let list = json(
        &db.url,
        &[
            "appointments",
            "list",
            "--hall",
            HALL,
            "--date",
            "2026-11-27",
        ],
    );
    assert_eq!(list[0]["appointment_id"], "BK-1");
    assert_eq!(list[0]["holder_name_masked"], "张*");
    // Hashed under central's current holder key, never the plain number.
    assert_eq!(
        list[0]["holder_hash"],
        central.holder_key().hash("11010519491231002X").as_str()
    );
    central.stop().await;
}
