//! The `central` binary as ops and the fault test use it: keys, tokens, publishing, serving,
//! restarting, and stats, against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{BIN, Kiosk, Server, databases, event};
use kiosk_api::{DesiredState, EnrolRequest, Enrolment, EventOutcome, Stream, keys, routes};

fn central(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "central {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn ops_enrols_a_kiosk_publishes_a_catalog_and_events_survive_a_central_restart() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("ops.pem");
        let key_arg = key_path.to_str().unwrap();
        central(&["keys", "generate", "--out", key_arg, "--db", &db.url]);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key_path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "the ops private key must be private");
        // Never overwrite an existing key.
        assert!(
            !Command::new(BIN)
                .args(["keys", "generate", "--out", key_arg])
                .output()
                .unwrap()
                .status
                .success()
        );

        let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../journeys/data/catalog.sample.json");
        let published = central(&[
            "publish",
            "catalog",
            catalog.to_str().unwrap(),
            "--key",
            key_arg,
            "--db",
            &db.url,
        ]);
        assert!(
            published.contains("2026-11-26.1"),
            "{}: {published}",
            db.name
        );
        let token: serde_json::Value = serde_json::from_str(&central(&[
            "token",
            "create",
            "--hall",
            "dongcheng-main",
            "--expires",
            "2h",
            "--json",
            "--db",
            &db.url,
        ]))
        .unwrap();
        let token = token["token"].as_str().unwrap().to_owned();

        // Without its holder key file central does not serve, and says how to make one.
        let out = Command::new(BIN)
            .args(["serve", "--db", &db.url, "--listen", "127.0.0.1:0"])
            .env_remove("CENTRAL_HOLDER_KEYS")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("holder-keys generate"), "{said}");
        let holder_keys = dir.path().join("holder.keys");
        let holder_keys = holder_keys.to_str().unwrap();
        let made = central(&[
            "holder-keys",
            "generate",
            "--file",
            holder_keys,
            "--id",
            "2026a",
        ]);
        assert!(made.contains("2026a"), "{made}");

        let server = Server::start(&db.url, holder_keys);
        let http = reqwest::Client::new();
        let kiosk_key = keys::generate();
        let enrol = EnrolRequest {
            token,
            public_key: keys::public_key_to_base64(&kiosk_key.verifying_key()),
            hostname: "kiosk-b".into(),
            version: "0.1.0".into(),
        };
        let r = http
            .post(format!("{}{}", server.1, routes::ENROLMENTS))
            .json(&enrol)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let enrolment: Enrolment = r.json().await.unwrap();
        let ops_pub = std::fs::read_to_string(dir.path().join("ops.pem.pub")).unwrap();
        assert_eq!(enrolment.ops_public_key, ops_pub.trim());
        let mut kiosk = Kiosk {
            key: kiosk_key,
            enrolment,
            base: server.1.clone(),
            http: http.clone(),
            clock_skew: 0,
        };

        let batch: Vec<_> = (1..=20)
            .map(|s| event(s, Stream::Telemetry, "screen_shown"))
            .collect();
        let r = kiosk.post_events(&batch[..10]).await;
        assert_eq!(r.status(), 200);
        let state = kiosk
            .request(reqwest::Method::GET, routes::DESIRED_STATE, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(
            state
                .json::<DesiredState>()
                .await
                .unwrap()
                .catalog
                .unwrap()
                .version,
            "2026-11-26.1"
        );
        server.stop();

        // Central restarts (deploy, crash); the kiosk resends the whole backlog.
        let server = Server::start(&db.url, holder_keys);
        kiosk.base = server.1.clone();
        let ack: kiosk_api::BatchAck = kiosk.post_events(&batch).await.json().await.unwrap();
        let duplicates = ack
            .results
            .iter()
            .filter(|r| r.outcome == EventOutcome::Duplicate)
            .count();
        let stored = ack
            .results
            .iter()
            .filter(|r| r.outcome == EventOutcome::Stored)
            .count();
        assert_eq!((duplicates, stored), (10, 10));
        server.stop();

        let stats: serde_json::Value =
            serde_json::from_str(&central(&["stats", "--db", &db.url, "--json"])).unwrap();
        assert_eq!(stats["total_events"], 20);
        assert_eq!(stats["total_missing"], 0);
        assert_eq!(stats["gaps"], serde_json::json!([]));
        assert_eq!(stats["kiosks"][0]["per_kind"]["telemetry/screen_shown"], 20);
        assert_eq!(stats["kiosks"][0]["kiosk_no"], 1);
        let table = central(&["stats", "--db", &db.url]);
        assert!(table.contains("no sequence gaps"));

        // Ops list the kiosks with their hall code and number, and retire a replaced one.
        let listed: serde_json::Value =
            serde_json::from_str(&central(&["kiosk", "list", "--json", "--db", &db.url])).unwrap();
        assert_eq!(listed[0]["hall_code"], 1, "{}", db.name);
        assert_eq!(listed[0]["kiosk_no"], 1);
        let table = central(&["kiosk", "list", "--hall", "dongcheng-main", "--db", &db.url]);
        assert!(table.contains("0001 01"), "{table}");
        let id = kiosk.id().to_string();
        let retired = central(&["kiosk", "retire", &id, "--db", &db.url]);
        assert!(retired.contains("retired"), "{retired}");
        assert!(central(&["kiosk", "list", "--db", &db.url]).contains("RETIRED"));
    }
}

#[test]
fn a_catalog_with_problems_is_not_published() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    let key = dir.path().join("ops.pem");
    central(&[
        "keys",
        "generate",
        "--out",
        key.to_str().unwrap(),
        "--db",
        db,
    ]);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, br#"{"version":"1","hall":{"id":"h","name_zh":"","name_en":"","timezone":"Asia/Shanghai","opening_hours":[],"help_window":""},"categories":[],"matters":[{"id":"m","category":"Q","kind_zh":"","kind_en":"","name_zh":"","name_en":"","department_zh":"","department_en":"","statutory_days":1,"promised_days":1,"fee_zh":"","fee_en":"","self_apply":false,"appointment":false}]}"#).unwrap();
    let out = Command::new(BIN)
        .args([
            "publish",
            "catalog",
            bad.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--db",
            db,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown category Q"));
}
