#![allow(clippy::unwrap_used)]
//! The kiosk's uplink and downlink against a real `central serve` (SQLite) process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use kiosk_api::rotation::KeyAnchors;
use kiosk_api::{EnrolRequest, Enrolment, keys};
use kiosk_core::identity::Identity;
use kiosk_core::store::{NewRecord, Store, StoreKey, StoreOptions, Stream};
use kiosk_core::sync::{
    Backoff, CentralClient, ChunkAnswer, Downlink, PollOutcome, SyncError, Timeouts, Uplink,
};
use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central::{Central, create_token};
use serde_json::json;

struct Rig {
    _work: tempfile::TempDir,
    work: PathBuf,
    exe: PathBuf,
    central: Central,
    db: String,
}

impl Rig {
    fn start() -> Rig {
        let work = tempfile::tempdir().unwrap();
        let exe = cargo_bin("central", "central").unwrap();
        let central = kiosk_system_tests::central::start_fresh(&exe, work.path()).unwrap();
        let db = central.db().to_owned();
        Rig {
            work: work.path().to_owned(),
            _work: work,
            exe,
            central,
            db,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.central.addr())
    }

    async fn enrol(&self, name: &str) -> (SigningKey, Enrolment, Store) {
        let token = create_token(&self.exe, &self.db, "hall-1", "东城区政务服务中心").unwrap();
        let key = keys::generate();
        let enrolment = kiosk_core::sync::enrol(
            &self.url(),
            &EnrolRequest {
                token,
                public_key: keys::public_key_to_base64(&key.verifying_key()),
                hostname: name.into(),
                version: "test".into(),
            },
        )
        .await
        .unwrap();
        let dir = self.work.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let store_key = StoreKey::load_or_create(&dir.join("store.key")).unwrap();
        let store = Store::open(&dir, store_key, StoreOptions::default()).unwrap();
        (key, enrolment, store)
    }

    fn client(&self, key: &SigningKey, enrolment: &Enrolment) -> CentralClient {
        CentralClient::new(
            &self.url(),
            enrolment.kiosk_id,
            key.clone(),
            Timeouts::default(),
        )
        .unwrap()
    }

    fn central(&self, args: &[&str]) -> String {
        let out = Command::new(&self.exe).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "central {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `central <args>`: stdout, or stderr if it failed.
    fn central_may_fail(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.exe).args(args).output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new ops key pair in the rig's folder (NAME and NAME.pub), not trusted by central.
    fn new_key(&self, name: &str) -> String {
        let out = self.work.join(name);
        self.central(&["keys", "generate", "--out", out.to_str().unwrap()]);
        format!("{}.pub", out.display())
    }

    /// An enrolled kiosk whose identity is saved in its store folder, and its downlink
    /// following key statements from the keys it was enrolled with.
    async fn enrol_following(&self, name: &str) -> (Store, Downlink) {
        let (key, enrolment, store) = self.enrol(name).await;
        let identity = Identity {
            kiosk_id: enrolment.kiosk_id,
            hall_id: enrolment.hall_id.clone(),
            hall_name: enrolment.hall_name.clone(),
            number_band: enrolment.number_band,
            ops_public_key: enrolment.ops_public_key.clone(),
            release_public_key: enrolment.release_public_key.clone(),
            revoked_key_ids: Vec::new(),
            central_ca_pem: None,
            central_url: self.url(),
            hall_code: enrolment.hall_code,
            kiosk_no: enrolment.kiosk_no,
        };
        identity.save(store.dir(), &key).unwrap();
        let downlink = Downlink::following(
            store.clone(),
            self.client(&key, &enrolment),
            identity.anchors().unwrap(),
            store.dir(),
        );
        (store, downlink)
    }

    fn count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

fn scan(size: usize, salt: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(13) ^ salt)
        .collect()
}

async fn drained(store: &Store) {
    for _ in 0..300 {
        if store.backlog().unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the uplink did not drain: {:?}", store.status().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_with_a_scan_reaches_central_and_leaves_no_personal_data_behind() {
    let rig = Rig::start();
    let (key, enrolment, store) = rig.enrol("kiosk-a").await;
    let pdf = scan(2_500_000, 1); // three chunks
    let attachment = store.spool_attachment(&pdf).unwrap();
    let committed = store
        .commit_record(NewRecord {
            stream: Stream::Records,
            kind: "application.submitted".into(),
            summary: json!({ "matter": "M-1" }),
            personal: Some(json!({ "name": "韩梅梅" })),
            attachments: vec![attachment.clone()],
        })
        .unwrap();
    let uplink = Uplink::builder(store.clone(), rig.client(&key, &enrolment)).spawn();
    drained(&store).await;
    uplink.stop().await;

    assert_eq!(
        rig.count(&format!(
            "SELECT complete FROM attachments WHERE sha256 = '{attachment}'"
        )),
        1
    );
    assert_eq!(
        rig.count(&format!(
            "SELECT COUNT(*) FROM events WHERE event_id = '{}'",
            committed.event_id
        )),
        1
    );
    let (_, personal) = store.record(committed.event_id).unwrap().unwrap();
    assert_eq!(personal, None, "personal data is purged once acknowledged");
    assert!(!store.dir().join("spool").join(attachment.as_str()).exists());
    assert!(store.status().unwrap().last_success_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_resumes_from_what_central_already_holds() {
    let rig = Rig::start();
    let (key, enrolment, store) = rig.enrol("kiosk-b").await;
    let client = rig.client(&key, &enrolment);
    let pdf = scan(1_800_000, 2);
    let attachment = store.spool_attachment(&pdf).unwrap();
    // A previous run got the first chunk across, then the kiosk lost power.
    let first = client
        .put_chunk(attachment.as_str(), 0, pdf.len() as u64, &pdf[..1_048_576])
        .await
        .unwrap();
    assert!(matches!(first, ChunkAnswer::Accepted(s) if s.received == 1_048_576));
    store
        .commit_record(NewRecord {
            stream: Stream::Records,
            kind: "application.submitted".into(),
            summary: json!({}),
            personal: None,
            attachments: vec![attachment.clone()],
        })
        .unwrap();
    let uplink = Uplink::builder(store.clone(), client.clone()).spawn();
    drained(&store).await;
    uplink.stop().await;
    let status = client.upload_status(attachment.as_str()).await.unwrap();
    assert!(status.complete);
    assert_eq!(status.received, pdf.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_clock_outside_the_window_is_refused_and_the_events_wait() {
    let rig = Rig::start();
    let (key, enrolment, store) = rig.enrol("kiosk-c").await;
    store
        .commit_record(NewRecord {
            stream: Stream::Tickets,
            kind: "ticket.issued".into(),
            summary: json!({ "number": "A001" }),
            personal: None,
            attachments: vec![],
        })
        .unwrap();
    let client = rig.client(&key, &enrolment).with_clock_offset(3600);
    let uplink = Uplink::builder(store.clone(), client)
        .backoff(Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(100),
        })
        .spawn();
    let mut status = uplink.status();
    let error = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            status.changed().await.unwrap();
            if let Some(e) = status.borrow().last_error.clone() {
                return e;
            }
        }
    })
    .await
    .unwrap();
    uplink.stop().await;
    assert!(error.contains("401"), "{error}");
    assert_eq!(store.backlog().unwrap(), 1);
    assert_eq!(rig.count("SELECT COUNT(*) FROM events"), 0);
}

fn publish_catalog(rig: &Rig) -> Vec<u8> {
    publish_catalog_signed(rig, "ops.pem", None).unwrap()
}

/// Publishes the sample catalog for hall-1 as `version` (the sample's if `None`), signed with
/// the key file `key` in the rig's folder; the bytes published, or central's complaint.
fn publish_catalog_signed(rig: &Rig, key: &str, version: Option<&str>) -> Result<Vec<u8>, String> {
    let ops_key = rig.work.join(key);
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../journeys/data/catalog.sample.json");
    let mut catalog: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sample).unwrap()).unwrap();
    catalog["hall"]["id"] = json!("hall-1");
    if let Some(version) = version {
        catalog["version"] = json!(version);
    }
    let file = rig.work.join("catalog.json");
    let bytes = serde_json::to_vec_pretty(&catalog).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    rig.central_may_fail(&[
        "publish",
        "catalog",
        file.to_str().unwrap(),
        "--key",
        ops_key.to_str().unwrap(),
        "--db",
        &rig.db,
    ])?;
    Ok(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_catalog_is_verified_applied_once_and_then_not_modified() {
    let rig = Rig::start();
    let published = publish_catalog(&rig);
    let (key, enrolment, store) = rig.enrol("kiosk-d").await;
    let ops = keys::public_key_from_base64(&enrolment.ops_public_key).unwrap();
    let downlink = Downlink::new(store.clone(), rig.client(&key, &enrolment), ops);

    let applied = downlink.poll_once().await.unwrap();
    let PollOutcome::Applied(bundles) = applied else {
        panic!("expected the catalog to be applied, got {applied:?}");
    };
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].kind, "catalog");
    let on_disk = std::fs::read(Downlink::bundle_path(store.dir(), "catalog")).unwrap();
    assert_eq!(on_disk, published);
    assert_eq!(
        downlink.poll_once().await.unwrap(),
        PollOutcome::NotModified
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_not_signed_by_the_enrolled_ops_key_is_not_applied() {
    let rig = Rig::start();
    publish_catalog(&rig);
    let (key, enrolment, store) = rig.enrol("kiosk-e").await;
    let impostor = keys::generate().verifying_key();
    let downlink = Downlink::new(store.clone(), rig.client(&key, &enrolment), impostor);
    let refused = downlink.poll_once().await;
    assert!(matches!(refused, Err(SyncError::Bundle(_))), "{refused:?}");
    assert!(!Downlink::bundle_path(store.dir(), "catalog").exists());
    assert_eq!(store.desired_state_etag().unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_config_from_ops_is_refused_at_publish_if_bad_and_else_applied_over_the_kiosk_file()
{
    let rig = Rig::start();
    let ops_key = rig.work.join("ops.pem");
    let file = rig.work.join("hall-config.json");
    let publish = |version: &str| {
        Command::new(&rig.exe)
            .args(["publish", "config"])
            .arg(&file)
            .args(["--hall", "hall-1", "--version", version, "--key"])
            .arg(&ops_key)
            .args(["--db", &rig.db])
            .output()
            .unwrap()
    };
    // A timeout no kiosk would take, and a key only a kiosk's own file may hold: nothing is
    // signed or published, and ops read which key is wrong.
    for (bad, key) in [
        (
            r#"{"ui": {"inactivity_timeout_secs": 5}}"#,
            "ui.inactivity_timeout_secs",
        ),
        (
            r#"{"devices": {"printer": {"tcp": "10.0.0.9:9100"}}}"#,
            "devices",
        ),
    ] {
        std::fs::write(&file, bad).unwrap();
        let out = publish("2026-11-26.1");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a bad config was published: {bad}");
        assert!(stderr.contains(key), "{stderr}");
        assert!(stderr.contains("nothing was published"), "{stderr}");
    }

    std::fs::write(
        &file,
        r#"{"hall": {"help_window_zh": "3号窗口", "help_window_en": "Window 3"},
            "ui": {"inactivity_timeout_secs": 120}}"#,
    )
    .unwrap();
    let out = publish("2026-11-26.1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (key, enrolment, store) = rig.enrol("kiosk-f").await;
    let ops = keys::public_key_from_base64(&enrolment.ops_public_key).unwrap();
    let downlink = Downlink::new(store.clone(), rig.client(&key, &enrolment), ops);
    let applied = downlink.poll_once().await.unwrap();
    let PollOutcome::Applied(bundles) = applied else {
        panic!("expected the config to be applied, got {applied:?}");
    };
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].kind, kiosk_api::CONFIG_BUNDLE_KIND);

    // The kiosk's next start reads it over its own file.
    let mut own = kiosk_core::config::Config::simulate().unwrap();
    own.kiosk.data_dir = store.dir().to_owned();
    let in_force = own.clone().in_force();
    assert_eq!(in_force.hall.help_window_zh, "3号窗口");
    assert_eq!(in_force.ui.inactivity_timeout_secs, 120);
    assert_eq!(in_force.hall.name_zh, own.hall.name_zh);
    assert_eq!(
        in_force.ui.continue_prompt_secs,
        own.ui.continue_prompt_secs
    );

    // The update agent (root) takes the bundle only through its signature, checked against
    // its own anchors: the same result with the ops key, the kiosk's own file with another.
    let verified = own.clone().in_force_verified(&KeyAnchors::single(ops));
    assert_eq!(verified.hall.help_window_zh, "3号窗口");
    assert_eq!(verified.ui.inactivity_timeout_secs, 120);
    let impostor = keys::generate().verifying_key();
    let unverified = own.clone().in_force_verified(&KeyAnchors::single(impostor));
    assert_eq!(unverified.hall.help_window_zh, own.hall.help_window_zh);
    // A payload the app rewrote (it can write its own data folder) changes nothing for root.
    std::fs::write(
        Downlink::bundle_path(store.dir(), kiosk_api::CONFIG_BUNDLE_KIND),
        br#"{"update": {"window": "00:00-23:59"}}"#,
    )
    .unwrap();
    let after = own.clone().in_force_verified(&KeyAnchors::single(ops));
    assert_eq!(after.update.window, own.update.window);
    assert_eq!(after.hall.help_window_zh, "3号窗口");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_bundle_is_refused_by_central_at_publish_and_by_the_kiosk_if_served() {
    let rig = Rig::start();
    let ops_key = rig.work.join("ops.pem");
    let file = rig.work.join("hall-config.json");
    let publish = |version: &str, timeout: u32| {
        std::fs::write(
            &file,
            format!(r#"{{"ui": {{"inactivity_timeout_secs": {timeout}}}}}"#),
        )
        .unwrap();
        Command::new(&rig.exe)
            .args(["publish", "config"])
            .arg(&file)
            .args(["--hall", "hall-1", "--version", version, "--key"])
            .arg(&ops_key)
            .args(["--db", &rig.db])
            .output()
            .unwrap()
    };
    assert!(publish("2026-11-26.9", 90).status.success());
    assert!(publish("2026-11-26.10", 120).status.success());
    let (key, enrolment, store) = rig.enrol("kiosk-g").await;
    let ops = keys::public_key_from_base64(&enrolment.ops_public_key).unwrap();
    let downlink = Downlink::new(store.clone(), rig.client(&key, &enrolment), ops);
    assert!(matches!(
        downlink.poll_once().await.unwrap(),
        PollOutcome::Applied(_)
    ));
    let in_force = std::fs::read(Downlink::bundle_path(store.dir(), "config")).unwrap();

    // Ops cannot publish the older content again under an older version.
    let out = publish("2026-11-26.8", 90);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an older config was published");
    assert!(stderr.contains("newer than 2026-11-26.8"), "{stderr}");

    // A central that serves the older signed bundle anyway (a stale node, a restored backup,
    // an attacker replaying it): the kiosk keeps the one in force.
    let conn = rusqlite::Connection::open(&rig.db).unwrap();
    conn.execute(
        "UPDATE desired SET version = '2026-11-26.9' WHERE hall_id = 'hall-1' AND kind = 'config'",
        [],
    )
    .unwrap();
    drop(conn);
    let refused = downlink.poll_once().await;
    match refused {
        Err(SyncError::Unusable {
            version, reason, ..
        }) => {
            assert_eq!(version, "2026-11-26.9");
            assert!(
                reason.contains("not newer than version 2026-11-26.10"),
                "{reason}"
            );
        }
        other => panic!("an older bundle was not refused: {other:?}"),
    }
    assert_eq!(
        std::fs::read(Downlink::bundle_path(store.dir(), "config")).unwrap(),
        in_force,
        "the bundle in force stays"
    );
}

fn key_id_of(pub_file: &str) -> String {
    keys::key_id(
        &keys::public_key_from_base64(&std::fs::read_to_string(pub_file).unwrap()).unwrap(),
    )
}

/// The ceremony of docs/keys.md end to end: the keys split and rotated, a leaked key revoked
/// by the other, kiosks moved each time without a site visit, one of them offline throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_keys_rotate_and_a_leaked_key_is_revoked_without_a_site_visit() {
    let rig = Rig::start();
    let (store, downlink) = rig.enrol_following("kiosk-online").await;
    // Enrolled now, and not heard from again until the end.
    let (offline_store, offline) = rig.enrol_following("kiosk-offline").await;
    publish_catalog_signed(&rig, "ops.pem", Some("2026-12-01.1")).unwrap();
    assert!(matches!(downlink.poll_once().await.unwrap(), PollOutcome::Applied(b) if b.len() == 1));

    // Split: a release key of its own; then the catalog key's yearly rotation.
    let ops = rig.work.join("ops.pem");
    let ops = ops.to_str().unwrap();
    let release = rig.new_key("release.pem");
    rig.central(&[
        "keys",
        "rotate",
        "--role",
        "release",
        "--key",
        ops,
        "--next-public-key",
        &release,
        "--reason",
        "split",
        "--db",
        &rig.db,
    ]);
    let catalog1 = rig.new_key("catalog1.pem");
    rig.central(&[
        "keys",
        "rotate",
        "--role",
        "catalog",
        "--key",
        ops,
        "--next-public-key",
        &catalog1,
        "--reason",
        "yearly",
        "--db",
        &rig.db,
    ]);
    let old = publish_catalog_signed(&rig, "ops.pem", Some("2026-12-02.1")).unwrap_err();
    assert!(old.contains("not the catalog key"), "{old}");
    publish_catalog_signed(&rig, "catalog1.pem", Some("2026-12-02.1")).unwrap();
    assert!(matches!(downlink.poll_once().await.unwrap(), PollOutcome::Applied(b) if b.len() == 1));
    let identity = Identity::load(store.dir()).unwrap().unwrap();
    assert_eq!(
        key_id_of_b64(&identity.ops_public_key),
        key_id_of(&catalog1)
    );
    assert_eq!(
        key_id_of_b64(identity.release_public_key.as_deref().unwrap()),
        key_id_of(&release)
    );

    // catalog1 leaks. The release key revokes it and names its replacement.
    let catalog2 = rig.new_key("catalog2.pem");
    rig.central(&[
        "keys",
        "revoke",
        "--role",
        "catalog",
        "--by",
        rig.work.join("release.pem").to_str().unwrap(),
        "--next-public-key",
        &catalog2,
        "--reason",
        "laptop stolen",
        "--db",
        &rig.db,
    ]);
    // The thief can neither rotate nor publish through central.
    let thief = rig.new_key("thief.pem");
    let refused = rig
        .central_may_fail(&[
            "keys",
            "rotate",
            "--role",
            "catalog",
            "--key",
            rig.work.join("catalog1.pem").to_str().unwrap(),
            "--next-public-key",
            &thief,
            "--reason",
            "mine now",
            "--db",
            &rig.db,
        ])
        .unwrap_err();
    assert!(refused.contains("not the catalog key"), "{refused}");
    assert!(publish_catalog_signed(&rig, "catalog1.pem", Some("2026-12-03.9")).is_err());
    // A revocation must come from the other key: the catalog key cannot revoke the release key
    // with itself as the signer of both.
    let refused = rig
        .central_may_fail(&[
            "keys",
            "revoke",
            "--role",
            "release",
            "--by",
            rig.work.join("catalog1.pem").to_str().unwrap(),
            "--next-public-key",
            &thief,
            "--reason",
            "x",
            "--db",
            &rig.db,
        ])
        .unwrap_err();
    assert!(refused.contains("not the catalog key"), "{refused}");

    publish_catalog_signed(&rig, "catalog2.pem", Some("2026-12-03.1")).unwrap();
    assert!(matches!(downlink.poll_once().await.unwrap(), PollOutcome::Applied(b) if b.len() == 1));
    let identity = Identity::load(store.dir()).unwrap().unwrap();
    assert_eq!(
        key_id_of_b64(&identity.ops_public_key),
        key_id_of(&catalog2)
    );
    assert!(identity.revoked_key_ids.contains(&key_id_of(&catalog1)));

    // The kiosk that was away walks all three statements in one poll.
    assert!(matches!(offline.poll_once().await.unwrap(), PollOutcome::Applied(b) if b.len() == 1));
    let away = Identity::load(offline_store.dir()).unwrap().unwrap();
    assert_eq!(away.ops_public_key, identity.ops_public_key);
    assert_eq!(away.release_public_key, identity.release_public_key);
    assert_eq!(away.revoked_key_ids, identity.revoked_key_ids);
    let catalog = std::fs::read(Downlink::bundle_path(offline_store.dir(), "catalog")).unwrap();
    assert!(String::from_utf8_lossy(&catalog).contains("2026-12-03.1"));

    // A kiosk enrolled now starts from the current keys.
    let (_, fresh, _) = rig.enrol("kiosk-new").await;
    assert_eq!(fresh.ops_public_key, identity.ops_public_key);
    assert_eq!(fresh.release_public_key, identity.release_public_key);

    // Ops can read the whole history, and the audit log has each step.
    let shown: serde_json::Value =
        serde_json::from_str(&rig.central(&["keys", "show", "--json", "--db", &rig.db])).unwrap();
    assert_eq!(shown["statements"].as_array().unwrap().len(), 3, "{shown}");
    assert_eq!(shown["catalog_key_id"], key_id_of(&catalog2));
    assert_eq!(
        rig.count("SELECT COUNT(*) FROM audit_log WHERE action IN ('keys.rotate', 'keys.revoke')"),
        3
    );
}

fn key_id_of_b64(b64: &str) -> String {
    keys::key_id(&keys::public_key_from_base64(b64).unwrap())
}

/// Ops revoke a kiosk (stolen, say). It stops sending instead of retrying, keeps every record,
/// and says why in its status; re-provisioned under its own id, it sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_kiosk_stops_sending_keeps_its_records_and_sends_them_once_reprovisioned() {
    let rig = Rig::start();
    let (key, enrolment, store) = rig.enrol("kiosk-r").await;
    let id = enrolment.kiosk_id.to_string();
    rig.central(&[
        "kiosk",
        "revoke",
        &id,
        "--reason",
        "stolen from hall 2",
        "--db",
        &rig.db,
    ]);
    store
        .commit_record(NewRecord {
            stream: Stream::Records,
            kind: "application.submitted".into(),
            summary: json!({ "matter": "M-9" }),
            personal: None,
            attachments: Vec::new(),
        })
        .unwrap();
    // Retries every 200 ms at most if it kept trying, as an unrevoked kiosk would.
    let quick = Backoff {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(200),
    };
    let uplink = Uplink::builder(store.clone(), rig.client(&key, &enrolment))
        .backoff(quick)
        .spawn();
    let mut revoked = None;
    for _ in 0..200 {
        revoked = store.status().unwrap().revoked;
        if revoked.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let revoked = revoked.expect("the kiosk never learnt it was revoked");
    assert!(revoked.contains("stolen from hall 2"), "{revoked}");
    let attempted = store.status().unwrap().last_attempt_at;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        store.status().unwrap().last_attempt_at,
        attempted,
        "a revoked kiosk does not keep asking"
    );
    assert_eq!(store.backlog().unwrap(), 1, "the record is kept");
    uplink.stop().await;
    assert_eq!(rig.count("SELECT COUNT(*) FROM events"), 0);

    // Re-provisioned with a new key under the same id: central takes the record.
    let created: serde_json::Value = serde_json::from_str(&rig.central(&[
        "token",
        "create",
        "--reprovision",
        &id,
        "--json",
        "--db",
        &rig.db,
    ]))
    .unwrap();
    let new_key = keys::generate();
    let again = kiosk_core::sync::enrol(
        &rig.url(),
        &EnrolRequest {
            token: created["token"].as_str().unwrap().to_owned(),
            public_key: keys::public_key_to_base64(&new_key.verifying_key()),
            hostname: "kiosk-r".into(),
            version: "test".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(again.kiosk_id, enrolment.kiosk_id);
    let uplink = Uplink::builder(store.clone(), rig.client(&new_key, &again))
        .backoff(quick)
        .spawn();
    drained(&store).await;
    uplink.stop().await;
    assert_eq!(store.status().unwrap().revoked, None);
    assert_eq!(rig.count("SELECT COUNT(*) FROM events"), 1);
}
