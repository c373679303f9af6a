//! The ops commands of the `central` binary with `--json`, as scripts use them: the key,
//! tokens, a signed config bundle, console users. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::databases;
use kiosk_api::{SignedBundle, keys, routes};

const BIN: &str = env!("CARGO_BIN_EXE_central");

fn json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "central {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("central {args:?} printed no JSON ({e}): {out:?}"))
}

fn with_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn every_ops_command_answers_in_json_and_a_signed_config_reaches_the_hall() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("ops.pem");
        let key = key.to_str().unwrap();
        let generated = json(&["keys", "generate", "--out", key, "--db", &db.url, "--json"]);
        assert_eq!(generated["trusted"], true, "{}", db.name);
        let key_id = generated["key_id"].as_str().unwrap().to_owned();
        let trusted = json(&[
            "keys",
            "trust",
            "--public-key",
            &format!("{key}.pub"),
            "--db",
            &db.url,
            "--json",
        ]);
        assert_eq!(trusted["trusted_key_id"], key_id.as_str());
        let token = json(&[
            "token",
            "create",
            "--hall",
            "xicheng",
            "--expires",
            "1h",
            "--json",
            "--db",
            &db.url,
        ]);
        assert_eq!(token["hall_id"], "xicheng");

        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            r#"{"voice": {"enabled": true}, "ui": {"inactivity_timeout_secs": 90}}"#,
        )
        .unwrap();
        let published = json(&[
            "publish",
            "config",
            config.to_str().unwrap(),
            "--hall",
            "xicheng",
            "--version",
            "2026-11-26.2",
            "--key",
            key,
            "--db",
            &db.url,
            "--json",
        ]);
        assert_eq!(published["key_id"], key_id.as_str());
        // Refused before anything is signed: not an object, and a key no kiosk knows (named).
        let refused = |content: &str| {
            let file = dir.path().join("refused.json");
            std::fs::write(&file, content).unwrap();
            let out = Command::new(BIN)
                .args([
                    "publish",
                    "config",
                    file.to_str().unwrap(),
                    "--hall",
                    "xicheng",
                ])
                .args(["--version", "3", "--key", key, "--db", &db.url])
                .output()
                .unwrap();
            assert!(!out.status.success(), "published: {content}");
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        assert!(refused("[1, 2]").contains("JSON object"));
        let stderr = refused(r#"{"idle_timeout_secs": 90}"#);
        assert!(stderr.contains("`idle_timeout_secs`"), "{stderr}");
        assert!(stderr.contains("nothing was published"), "{stderr}");

        // The password comes from stdin or a file, never the command line.
        let added = with_stdin(
            &[
                "user", "add", "ops-li", "--role", "operator", "--json", "--db", &db.url,
            ],
            "a long enough password\n",
        );
        assert!(added.status.success(), "{added:?}");
        let again = with_stdin(
            &["user", "add", "ops-li", "--role", "viewer", "--db", &db.url],
            "another long password\n",
        );
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
        let short = dir.path().join("pw");
        std::fs::write(&short, "short\n").unwrap();
        let weak = Command::new(BIN)
            .args([
                "user",
                "add",
                "ops-wang",
                "--role",
                "admin",
                "--password-file",
                short.to_str().unwrap(),
                "--db",
                &db.url,
            ])
            .output()
            .unwrap();
        assert!(!weak.status.success());

        // A kiosk of the hall gets the config, signed by the ops key it was enrolled with.
        let (store, base, stop, task) = serve(&db.url).await;
        let store = &store;
        assert!(matches!(
            store
                .console_login("ops-li", "a long enough password")
                .await
                .unwrap(),
            central::store::LoginOutcome::Session(_)
        ));
        let kiosk = ops_kiosk(&base, token["token"].as_str().unwrap()).await;
        let state: kiosk_api::DesiredState = kiosk
            .request(reqwest::Method::GET, routes::DESIRED_STATE, vec![])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let config_ref = state.config.unwrap();
        assert_eq!(config_ref.version, "2026-11-26.2");
        let bundle: SignedBundle = kiosk
            .request(
                reqwest::Method::GET,
                &routes::bundle("config", "2026-11-26.2"),
                vec![],
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ops = keys::public_key_from_base64(&kiosk.enrolment.ops_public_key).unwrap();
        let payload = kiosk_api::verify_bundle(&ops, &bundle).unwrap();
        assert_eq!(payload, std::fs::read(&config).unwrap());
        stop.send(()).unwrap();
        task.await.unwrap();
        store.close().await;
    }
}

/// Central serving `db` as it is (keeping the ops key the CLI made it trust).
async fn serve(
    db: &str,
) -> (
    central::Store,
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let store = central::Store::open(db).await.unwrap();
    // The key file lives as long as the test process: the server reads it again on change.
    let dir: &'static tempfile::TempDir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let keys =
        central::holder_keys::HolderKeySource::open(&common::holder_key_file(dir.path())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let store = store.clone();
        async move {
            central::serve(store, keys, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        }
    });
    (store, base, tx, task)
}

async fn ops_kiosk(base: &str, token: &str) -> common::Kiosk {
    let key = keys::generate();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}{}", routes::ENROLMENTS))
        .json(&kiosk_api::EnrolRequest {
            token: token.to_owned(),
            public_key: keys::public_key_to_base64(&key.verifying_key()),
            hostname: "xicheng-1".into(),
            version: "0.1.0".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    common::Kiosk {
        key,
        enrolment: r.json().await.unwrap(),
        base: base.to_owned(),
        http,
        clock_skew: 0,
    }
}
