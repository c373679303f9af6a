//! The update agent against a real `central serve`: releases published and rolled out with
//! central's own CLI, the agent run as its binary on a temporary root, its reports carried to
//! central by the kiosk's real uplink, and what central recorded read back.

#![allow(clippy::unwrap_used)]

mod common;

use common::{App, DAY, NIGHT, Rig};
use serde_json::Value;

#[test]
fn an_offered_release_is_switched_to_only_at_night_without_a_session_and_then_committed() {
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    let artifact = rig.artifact("0.2.0", App::Healthy);
    rig.publish_and_roll_out("0.2.0", "0.1.0", &artifact);

    let (_, check) = rig.agent("check", DAY, &[]);
    assert_eq!(check["verdict"], "would_install", "{check}");

    // Hall open: downloaded and staged beside the running release, not switched.
    let (code, verdict) = rig.agent("apply", DAY, &[]);
    assert_eq!(
        (code, &verdict["verdict"], &verdict["until"]),
        (0, &"waiting".into(), &"window".into()),
        "{verdict}"
    );
    assert_eq!(verdict["download"]["resumed_from"], 0);
    assert!(rig.root.join("releases/0.2.0/bin/kiosk-app").is_file());
    assert!(
        rig.root
            .join("releases/0.2.0/share/kiosk/assets.bin")
            .is_file()
    );
    assert_eq!(rig.current(), "0.1.0");

    // Night, but a citizen is at the kiosk.
    rig.write_state("0.1.0", true);
    let (_, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(
        (&verdict["verdict"], &verdict["until"]),
        (&"waiting".into(), &"session".into()),
        "{verdict}"
    );
    assert_eq!(rig.current(), "0.1.0");

    // Night and nobody there: switch, restart, healthy, committed.
    rig.write_state("0.1.0", false);
    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(code, 0, "{verdict}");
    assert_eq!(verdict["verdict"], "committed", "{verdict}");
    assert_eq!(verdict["from_version"], "0.1.0");
    assert_eq!(rig.current(), "0.2.0");
    let state = kiosk_core::state::KioskState::read(&rig.data)
        .unwrap()
        .unwrap();
    assert_eq!(state.version, "0.2.0", "the new app runs");
    let agent: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rig.root.join("agent.json")).unwrap()).unwrap();
    assert_eq!(agent["previous"], "0.1.0", "remembered for a rollback");
    assert!(agent["pending"].is_null());

    // The report reaches central through the outbox, and the rollout counts the kiosk.
    rig.sync();
    assert_eq!(
        rig.update_results(),
        vec![("0.2.0".into(), "committed".into(), "".into())]
    );
    let status = rig.rollout_status();
    assert_eq!(status["stages"][0]["committed"], 1, "{status}");

    // Nothing more to do.
    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(code, 0);
    assert!(
        ["up_to_date", "no_release"].contains(&verdict["verdict"].as_str().unwrap()),
        "{verdict}"
    );
}

#[test]
fn a_corrupted_download_is_discarded_by_its_digest_and_an_interrupted_one_is_resumed() {
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    let artifact = rig.artifact("0.2.0", App::Healthy);
    let signed = rig.publish_and_roll_out("0.2.0", "0.1.0", &artifact);
    let sha256 = signed["manifest"]["sha256"].as_str().unwrap();
    let bytes = std::fs::read(&artifact).unwrap();
    let downloads = rig.root.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let part = downloads.join(format!("0.2.0-{sha256}.part"));

    // A partial download whose bytes were damaged on disk: the agent resumes it (nothing
    // tells it the prefix is bad), finds the wrong digest, throws it away and downloads afresh.
    let mut damaged = bytes[..bytes.len() / 2].to_vec();
    damaged[1000] ^= 0xff;
    std::fs::write(&part, &damaged).unwrap();
    let (code, verdict) = rig.agent("apply", DAY, &[]);
    assert_eq!(code, 0, "{verdict}");
    assert_eq!(verdict["verdict"], "waiting", "{verdict}");
    assert_eq!(verdict["download"]["resumed_from"], damaged.len() as u64);
    assert_eq!(verdict["download"]["discarded_corrupt"], 1);
    assert!(!part.exists(), "the download is gone once staged");
    let staged = rig.root.join("releases/0.2.0/bin/kiosk-app");
    assert_eq!(
        std::fs::read_to_string(&staged).unwrap(),
        common::app_script("0.2.0", App::Healthy)
    );

    // A download cut off half-way (a good prefix): resumed with a range request, not restarted.
    std::fs::remove_dir_all(rig.root.join("releases/0.2.0")).unwrap();
    std::fs::write(&part, &bytes[..bytes.len() / 3]).unwrap();
    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(code, 0, "{verdict}");
    assert_eq!(verdict["verdict"], "committed", "{verdict}");
    assert_eq!(
        verdict["download"]["resumed_from"],
        (bytes.len() / 3) as u64
    );
    assert_eq!(verdict["download"]["discarded_corrupt"], 0);
    assert_eq!(verdict["download"]["attempts"], 1);
    assert_eq!(rig.current(), "0.2.0");
}

#[test]
fn a_manifest_whose_signature_does_not_verify_is_refused_and_reported_once() {
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    let artifact = rig.artifact("0.2.0", App::Healthy);
    rig.publish_and_roll_out("0.2.0", "0.1.0", &artifact);
    // Someone with write access to central's database lowers the minimum version without
    // the ops key: the manifest no longer matches its signature.
    let conn = rusqlite::Connection::open(&rig.db).unwrap();
    conn.execute(
        "UPDATE releases SET min_version = '0.0.1' WHERE version = '0.2.0'",
        [],
    )
    .unwrap();
    drop(conn);

    let (_, check) = rig.agent("check", NIGHT, &[]);
    assert_eq!(check["reason"], "bad_signature", "{check}");
    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(code, 2, "{verdict}");
    assert_eq!(verdict["verdict"], "refused");
    assert_eq!(verdict["reason"], "bad_signature");
    assert!(!rig.root.join("releases/0.2.0").exists(), "nothing staged");
    assert!(
        std::fs::read_dir(rig.root.join("downloads"))
            .unwrap()
            .next()
            .is_none(),
        "nothing downloaded"
    );
    assert_eq!(rig.current(), "0.1.0");

    // Asked again, the agent remembers and does not report a second time.
    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(
        (code, &verdict["verdict"]),
        (0, &"settled".into()),
        "{verdict}"
    );
    rig.sync();
    assert_eq!(
        rig.update_results(),
        vec![("0.2.0".into(), "refused".into(), "bad_signature".into())]
    );
    let status = rig.rollout_status();
    assert_eq!(status["failures"][0]["reason"], "bad_signature", "{status}");
}

#[test]
fn a_release_older_than_the_running_one_is_refused_as_a_downgrade() {
    // Central still believes the kiosk runs 0.1.0, but a technician installed 0.3.0 by hand.
    let rig = Rig::start("0.1.0", "0.3.0", 20);
    let artifact = rig.artifact("0.2.0", App::Healthy);
    rig.publish_and_roll_out("0.2.0", "0.1.0", &artifact);

    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(code, 2, "{verdict}");
    assert_eq!(verdict["reason"], "downgrade", "{verdict}");
    assert_eq!(verdict["running"], "0.3.0");
    assert_eq!(rig.current(), "0.3.0");
    assert!(!rig.root.join("releases/0.2.0").exists());
    rig.sync();
    assert_eq!(
        rig.update_results(),
        vec![("0.2.0".into(), "refused".into(), "downgrade".into())]
    );
}

/// A TCP proxy to central that cuts the first answer longer than `cut` bytes after exactly
/// `cut` bytes (the artifact: every other answer is a few hundred bytes), then passes
/// everything: a download interrupted mid-stream, as a flaky hall network does.
struct CuttingProxy {
    addr: std::net::SocketAddr,
}

impl CuttingProxy {
    fn start(central: std::net::SocketAddr, cut: usize) -> CuttingProxy {
        use std::io::{Read as _, Write as _};
        use std::net::{Shutdown, TcpListener, TcpStream};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let tripped = Arc::new(AtomicBool::new(false));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(central) else {
                    continue;
                };
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_in, &mut s_out);
                    let _ = s_out.shutdown(Shutdown::Write);
                });
                let tripped = tripped.clone();
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || {
                    let mut sent = 0usize;
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match s_in.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut take = n;
                        let cutting = !tripped.load(Ordering::SeqCst) && sent + n > cut;
                        if cutting {
                            take = cut - sent;
                        }
                        if c_out.write_all(&buf[..take]).is_err() {
                            break;
                        }
                        sent += take;
                        if cutting {
                            tripped.store(true, Ordering::SeqCst);
                            let _ = c_out.shutdown(Shutdown::Both);
                            let _ = s_in.shutdown(Shutdown::Both);
                            break;
                        }
                    }
                    let _ = c_out.shutdown(Shutdown::Write);
                });
            }
        });
        CuttingProxy { addr }
    }
}

#[test]
fn a_download_cut_off_mid_stream_is_resumed_where_it_stopped() {
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    let artifact = rig.artifact("0.2.0", App::Healthy);
    rig.publish_and_roll_out("0.2.0", "0.1.0", &artifact);
    let size = std::fs::metadata(&artifact).unwrap().len();
    // The agent talks to central through the proxy (its trust anchors name central's URL).
    let proxy = CuttingProxy::start(rig.central.addr(), 150_000);
    let trust_path = kiosk_core::trust::Trust::beside(&rig.config);
    let mut trust = kiosk_core::trust::Trust::load_owned(&trust_path).unwrap();
    trust.central_url = format!("http://{}", proxy.addr);
    trust.write(&trust_path).unwrap();

    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(code, 0, "{verdict}");
    assert_eq!(verdict["verdict"], "committed", "{verdict}");
    let download = &verdict["download"];
    assert_eq!(download["resumed_from"], 0);
    assert_eq!(download["attempts"], 2, "{download}");
    // The second attempt asked for the rest only: it continued from what the first one
    // wrote, which is the artifact's first bytes up to the cut (less the answer's headers).
    let resumed = download["resumed_after_interruption"][0].as_u64().unwrap();
    assert!(resumed > 100_000 && resumed < 150_000, "{download}");
    assert!(resumed < size);
    assert_eq!(rig.current(), "0.2.0");
}

#[test]
fn the_agent_trusts_only_the_anchors_beside_the_config_and_only_if_no_one_else_can_write_them() {
    use std::os::unix::fs::PermissionsExt as _;
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    let artifact = rig.artifact("0.2.0", App::Healthy);
    rig.publish_and_roll_out("0.2.0", "0.1.0", &artifact);

    // The app (which can write its data folder) points the identity at its own server and
    // its own key: the agent, reading only the anchors, still asks central and sees 0.2.0.
    let identity_path = rig.data.join(kiosk_core::identity::IDENTITY_FILE);
    let mut identity: Value =
        serde_json::from_slice(&std::fs::read(&identity_path).unwrap()).unwrap();
    identity["central_url"] = "http://127.0.0.1:9".into();
    identity["ops_public_key"] =
        kiosk_api::keys::public_key_to_base64(&kiosk_api::keys::generate().verifying_key()).into();
    std::fs::write(&identity_path, identity.to_string()).unwrap();
    let (code, check) = rig.agent("check", NIGHT, &[]);
    assert_eq!(
        (code, &check["verdict"]),
        (0, &"would_install".into()),
        "{check}"
    );

    // Anchors someone else may write are not anchors: the agent stops and says why.
    let trust = kiosk_core::trust::Trust::beside(&rig.config);
    std::fs::set_permissions(&trust, std::fs::Permissions::from_mode(0o664)).unwrap();
    let (code, stderr) = rig.agent_fails("apply", NIGHT);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is not trusted"), "{stderr}");
    assert_eq!(rig.current(), "0.1.0");

    // No anchors at all (a kiosk provisioned by an older kioskctl): nothing is installed.
    std::fs::remove_file(&trust).unwrap();
    let (code, stderr) = rig.agent_fails("apply", NIGHT);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no trust anchors"), "{stderr}");
    assert!(!rig.root.join("releases/0.2.0").exists(), "nothing staged");
}

/// The ceremony of docs/keys.md for the release key: a key of its own, moved to by a
/// statement the old key signed; the agent follows it from the provisioned anchors, which it
/// does not rewrite.
#[test]
fn a_release_signed_by_the_rotated_release_key_is_installed_and_the_old_key_can_sign_no_more() {
    let rig = Rig::start("0.1.0", "0.1.0", 20);
    let trust_before = std::fs::read(kiosk_core::trust::Trust::beside(&rig.config)).unwrap();
    let release_key = rig.work.join("release.pem");
    let generated = std::process::Command::new(&rig.exe)
        .args(["keys", "generate", "--out", release_key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(generated.status.success());
    let ops = rig.work.join("ops.pem");
    rig.central_cli(&[
        "keys",
        "rotate",
        "--role",
        "release",
        "--key",
        ops.to_str().unwrap(),
        "--next-public-key",
        rig.work.join("release.pem.pub").to_str().unwrap(),
        "--reason",
        "the release key is kept apart from the catalog key",
    ]);

    // The old key signs no release now: central refuses before anything is stored.
    let artifact = rig.artifact("0.2.0", App::Healthy);
    let refused = std::process::Command::new(&rig.exe)
        .args(["release", "publish", artifact.to_str().unwrap()])
        .args(["--version", "0.2.0", "--min-version", "0.1.0"])
        .args(["--key", ops.to_str().unwrap(), "--db", &rig.db])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not the release key"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    rig.publish_and_roll_out_signed("0.2.0", "0.1.0", &artifact, &release_key);
    let (_, check) = rig.agent("check", NIGHT, &[]);
    assert_eq!(check["verdict"], "would_install", "{check}");
    rig.write_state("0.1.0", false);
    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(
        (code, &verdict["verdict"]),
        (0, &"committed".into()),
        "{verdict}"
    );
    assert_eq!(rig.current(), "0.2.0");
    assert_eq!(
        std::fs::read(kiosk_core::trust::Trust::beside(&rig.config)).unwrap(),
        trust_before,
        "root's anchors are written by provisioning only"
    );
}
