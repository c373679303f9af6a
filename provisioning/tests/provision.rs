#![allow(clippy::unwrap_used)]
//! `kioskctl provision` against a running `central serve` on a temporary SQLite database:
//! the enrolment, the configuration it writes (read back by the app's own loader), and what
//! the technician is told when a token is reused, central is unreachable or the configuration
//! cannot be written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central::{Central, create_token, generate_ops_key};
use serde_json::Value;

const HALL: &str = "dongcheng-main";
const HALL_NAME: &str = "东城区政务服务中心";

fn central_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| cargo_bin("central", "central").unwrap())
}

/// A central with an ops key, on a fresh database in `dir`.
fn start_central(dir: &Path) -> (Central, String) {
    let db = dir.join("central.db").to_str().unwrap().to_owned();
    generate_ops_key(central_exe(), &db, &dir.join("ops.pem")).unwrap();
    let central = Central::start(central_exe(), &db, &dir.join("central.log")).unwrap();
    (central, db)
}

fn token(db: &str) -> String {
    create_token(central_exe(), db, HALL, HALL_NAME).unwrap()
}

fn provision(config: &Path, url: &str, token: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .args(["provision", "--central", url, "--token", token, "--config"])
        .arg(config)
        .args(["--hostname", "kiosk-test-01", "--insecure-http"])
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What a technician leaves in /etc/kiosk/kiosk.toml before provisioning.
fn technician_config(dir: &Path) -> PathBuf {
    let path = dir.join("etc/kiosk.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        format!(
            r#"# Kiosk 2 beside window 12, installed 2026-11-26.

[kiosk]
data_dir = "{}"   # keys and database

[hall]
name_zh = "待定"
name_en = "Dongcheng District Government Service Center"
help_window_zh = "1号综合咨询台"
help_window_en = "Information desk 1"

[devices.printer]
tcp = "192.0.2.10:9100"   # receipt printer on the hall LAN
"#,
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn provisioning_enrols_and_writes_a_config_the_app_accepts_and_refuses_to_run_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (central, db) = start_central(dir);
    let url = format!("http://{}", central.addr());
    let config_path = technician_config(dir);

    let first_token = token(&db);
    let out = provision(&config_path, &url, &first_token, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["hall_id"], HALL);
    assert_eq!(done["hall_name"], HALL_NAME);
    assert_eq!(done["config_created"], false);
    let kiosk_id = done["kiosk_id"].as_str().unwrap().to_owned();
    let (first, last) = (
        done["number_band"]["first"].as_u64().unwrap(),
        done["number_band"]["last"].as_u64().unwrap(),
    );
    assert!(500 <= first && first <= last && last <= 999, "{done}");
    assert!(done["hall_code"].as_u64().is_some_and(|c| c >= 1), "{done}");
    assert!(done["kiosk_no"].as_u64().is_some_and(|n| n >= 1), "{done}");
    // The holder keys were fetched once and kept sealed in the kiosk's store.
    assert_eq!(done["holder_keys_problem"], Value::Null, "{done}");
    let stored_keys = {
        let data = dir.join("data");
        let key = kiosk_core::store::StoreKey::load_or_create(&data.join("store.key")).unwrap();
        let store = kiosk_core::store::Store::open(&data, key, Default::default()).unwrap();
        store.holder_keys().unwrap().unwrap()
    };
    assert_eq!(
        stored_keys.keys.len() as u64,
        done["holder_keys"].as_u64().unwrap()
    );
    assert!(!stored_keys.keys.is_empty());

    // The app's own loader accepts what was written, with the new values.
    let config = Config::load(&config_path).unwrap();
    assert_eq!(config.kiosk.id.as_deref(), Some(kiosk_id.as_str()));
    assert_eq!(config.central.as_ref().unwrap().url, url);
    assert_eq!(config.hall.name_zh, HALL_NAME);
    assert_eq!(config.hall.id.as_deref(), Some(HALL));
    let band = config.kiosk.number_band.unwrap();
    assert_eq!((u64::from(band.first), u64::from(band.last)), (first, last));
    assert!(config.devices.printer.is_some());
    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(text.starts_with("# Kiosk 2 beside window 12, installed 2026-11-26.\n"));
    assert!(text.contains("# keys and database"), "{text}");
    assert!(text.contains("tcp = \"192.0.2.10:9100\"   # receipt printer on the hall LAN"));

    // The identity and key are in the data folder, the key private.
    let identity = Identity::load(&dir.join("data")).unwrap().unwrap();
    assert_eq!(identity.kiosk_id.to_string(), kiosk_id);
    assert_eq!(identity.central_url, url);
    use std::os::unix::fs::PermissionsExt as _;
    let key_mode = std::fs::metadata(dir.join("data/kiosk.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o077, 0);

    // The trust anchors sit beside the configuration, not in the app's data folder, and
    // hold the ops key the kiosk enrolled with; the technician is shown its id.
    let trust_path = kiosk_core::trust::Trust::beside(&config_path);
    assert_eq!(done["trust_path"], trust_path.to_str().unwrap());
    let trust = kiosk_core::trust::Trust::load_owned(&trust_path).unwrap();
    assert_eq!(trust.central_url, url);
    assert_eq!(trust.ops_public_key, identity.ops_public_key);
    assert_eq!(
        done["ops_key_id"],
        kiosk_api::keys::key_id(&identity.ops_key().unwrap()).as_str()
    );
    let trust_mode = std::fs::metadata(&trust_path).unwrap().permissions().mode();
    assert_eq!(trust_mode & 0o022, 0, "only its writer may change it");

    // A second provision on an enrolled kiosk is refused and changes nothing.
    let second_token = token(&db);
    let out = provision(&config_path, &url, &second_token, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains(&format!("already enrolled as {kiosk_id}")),
        "{message}"
    );
    assert!(message.contains("--force"), "{message}");
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), text);

    // With --force, a reused token is refused by central, with what to do.
    let out = provision(&config_path, &url, &first_token, &["--force"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("refused the enrolment token"), "{message}");
    assert!(message.contains("already used or expired"), "{message}");
    assert!(message.contains("central token create"), "{message}");
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), text);
    assert_eq!(
        Identity::load(&dir.join("data")).unwrap().unwrap(),
        identity
    );

    // With --force and the unused token, the kiosk is enrolled anew.
    let out = provision(&config_path, &url, &second_token, &["--force", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["replaced"], kiosk_id.as_str());
    assert_ne!(again["kiosk_id"], kiosk_id.as_str());
    let config = Config::load(&config_path).unwrap();
    assert_eq!(config.kiosk.id.as_deref(), again["kiosk_id"].as_str());
}

#[test]
fn plain_http_needs_insecure_http_and_an_unexpected_ops_key_undoes_the_enrolment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (central, db) = start_central(dir);
    let url = format!("http://{}", central.addr());
    let config_path = technician_config(dir);
    let before = std::fs::read_to_string(&config_path).unwrap();
    let trust_path = kiosk_core::trust::Trust::beside(&config_path);

    // Plain http without saying so: refused before anything is sent.
    let token_a = token(&db);
    let out = Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .args([
            "provision",
            "--central",
            &url,
            "--token",
            &token_a,
            "--config",
        ])
        .arg(&config_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("plain http"), "{message}");
    assert!(message.contains("nothing was sent"), "{message}");

    // The token is still good; central's key is not the one the technician was told: the
    // enrolment is undone and nothing is trusted or saved.
    let out = provision(
        &config_path,
        &url,
        &token_a,
        &["--expect-ops-key", "00000000deadbeef"],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("not 00000000deadbeef"), "{message}");
    assert!(Identity::load(&dir.join("data")).unwrap().is_none());
    assert!(!trust_path.exists());
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), before);
    let got = message
        .split("central gave ops key ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_owned();

    // With the key id ops really gave (and a new token): enrolled, anchors written.
    let out = provision(
        &config_path,
        &url,
        &token(&db),
        &["--expect-ops-key", &got.to_uppercase(), "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["ops_key_id"], got.as_str());
    assert!(trust_path.exists());
}

#[test]
fn an_unreachable_central_changes_nothing_and_says_what_to_check() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config_path = technician_config(dir);
    let before = std::fs::read_to_string(&config_path).unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = provision(&config_path, &url, "0123456789abcdef", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains(&format!("cannot reach central at {url}")),
        "{message}"
    );
    assert!(message.contains("token is still valid"), "{message}");
    assert!(message.contains("network cable"), "{message}");
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), before);
    assert!(Identity::load(&dir.join("data")).unwrap().is_none());
}

#[test]
fn a_config_that_cannot_be_written_keeps_the_token_unspent_and_a_new_file_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (central, db) = start_central(dir);
    let url = format!("http://{}", central.addr());
    let token = token(&db);

    // The folder for the configuration is a file: nothing can be written there (root ignores
    // permission bits, so a read-only folder would not stop it).
    std::fs::write(dir.join("etc"), b"not a folder").unwrap();
    let blocked = dir.join("etc/kiosk.toml");
    let out = provision(&blocked, &url, &token, &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let message = stderr(&out);
    // The folder cannot even be read as one.
    assert!(
        message.contains("cannot read the kiosk configuration"),
        "{message}"
    );
    assert!(message.contains("--config"), "{message}");
    assert!(message.contains("the token is still valid"), "{message}");

    // The same token still works: a kiosk with no configuration yet gets a new one.
    let fresh = dir.join("new/kiosk.toml");
    let data = dir.join("var-lib-kiosk");
    let out = provision(
        &fresh,
        &url,
        &token,
        &["--data-dir", data.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("configuration created"), "{text}");
    assert!(
        text.contains("help_window_zh"),
        "the technician is told what to fill in: {text}"
    );
    let config = Config::load(&fresh).unwrap();
    assert_eq!(config.kiosk.data_dir, data);
    assert_eq!(config.hall.name_zh, HALL_NAME);
    assert!(Identity::load(&data).unwrap().is_some());
}
