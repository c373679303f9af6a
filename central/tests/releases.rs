//! Releases and rollouts told as stories, each on SQLite and PostgreSQL over real HTTP: ops
//! publishes with the `central` binary, kiosks fetch signed manifests and resume downloads,
//! cohorts advance on committed updates and pause on failures.
#![allow(clippy::unwrap_used)]

mod common;
mod ops_common;

use std::process::Command;

use central::store::{RolloutState, StageState};
use common::{Central, databases};
use futures::StreamExt as _;
use kiosk_api::{SignedRelease, routes};
use ops_common::{artifact, kiosk_in, offered, publish, report_health, report_update};
use reqwest::Method;
use sha2::{Digest as _, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_central");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "central {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "central {args:?} should have failed");
    String::from_utf8(out.stderr).unwrap()
}

#[tokio::test]
async fn a_published_release_verifies_and_an_interrupted_download_resumes() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("ops.pem");
        std::fs::write(&key, kiosk_api::keys::private_key_to_pem(&central.ops)).unwrap();
        let key = key.to_str().unwrap();
        // 2.5 MiB of noise: three stored chunks, so resuming crosses chunk borders.
        let bytes = artifact(7, 2_500_000);
        let file = dir.path().join("kiosk-0.2.0.tar.gz");
        std::fs::write(&file, &bytes).unwrap();
        let file = file.to_str().unwrap();

        let printed = ok(&[
            "release",
            "publish",
            file,
            "--version",
            "0.2.0",
            "--min-version",
            "0.1.0",
            "--key",
            key,
            "--db",
            &db.url,
            "--json",
        ]);
        let published: SignedRelease = serde_json::from_str(&printed).unwrap();
        assert_eq!(
            published.manifest.sha256,
            hex::encode(Sha256::digest(&bytes)),
            "{}",
            db.name
        );
        assert_eq!(published.manifest.size, bytes.len() as u64);
        kiosk_api::verify_release(&central.ops.verifying_key(), &published).unwrap();

        // A version is published once; versions are semver; the artifact must be a release.
        let again = refused(&[
            "release",
            "publish",
            file,
            "--version",
            "0.2.0",
            "--min-version",
            "0.1.0",
            "--key",
            key,
            "--db",
            &db.url,
        ]);
        assert!(again.contains("already published"), "{again}");
        let loose = refused(&[
            "release",
            "publish",
            file,
            "--version",
            "latest",
            "--min-version",
            "0.1.0",
            "--key",
            key,
            "--db",
            &db.url,
        ]);
        assert!(loose.contains("semantic version"), "{loose}");
        let not_tar = dir.path().join("notes.txt");
        std::fs::write(&not_tar, "just text").unwrap();
        let bad = refused(&[
            "release",
            "publish",
            not_tar.to_str().unwrap(),
            "--version",
            "0.3.0",
            "--min-version",
            "0.1.0",
            "--key",
            key,
            "--db",
            &db.url,
        ]);
        assert!(bad.contains("gzip tar"), "{bad}");
        let listed: Vec<SignedRelease> =
            serde_json::from_str(&ok(&["release", "list", "--json", "--db", &db.url])).unwrap();
        assert_eq!(listed, vec![published.clone()]);

        let kiosk = central.kiosk().await;
        let manifest: SignedRelease = kiosk
            .request(Method::GET, &routes::release_manifest("0.2.0"), vec![])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(manifest, published);
        let missing = kiosk
            .request(Method::GET, &routes::release_manifest("9.9.9"), vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);

        // The download breaks off after about 1.3 MiB…
        let path = routes::release_artifact("0.2.0");
        let first = kiosk
            .request(Method::GET, &path, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 200);
        assert_eq!(first.content_length(), Some(bytes.len() as u64));
        let mut got = Vec::new();
        let mut stream = first.bytes_stream();
        while got.len() < 1_300_000 {
            got.extend_from_slice(&stream.next().await.unwrap().unwrap());
        }
        drop(stream);
        // …and resumes where it stopped.
        let from = got.len();
        let rest = kiosk
            .request(Method::GET, &path, vec![])
            .header("range", format!("bytes={from}-"))
            .send()
            .await
            .unwrap();
        assert_eq!(rest.status(), 206);
        assert_eq!(
            rest.headers()["content-range"].to_str().unwrap(),
            format!("bytes {from}-{}/{}", bytes.len() - 1, bytes.len())
        );
        got.extend_from_slice(&rest.bytes().await.unwrap());
        assert_eq!(hex::encode(Sha256::digest(&got)), published.manifest.sha256);
        assert!(got == bytes);

        let past = kiosk
            .request(Method::GET, &path, vec![])
            .header("range", format!("bytes={}-", bytes.len()))
            .send()
            .await
            .unwrap();
        assert_eq!(past.status(), 416);
        assert_eq!(
            past.headers()["content-range"].to_str().unwrap(),
            format!("bytes */{}", bytes.len())
        );

        // Rollout commands keep the stages in the order written.
        let hall = &kiosk.enrolment.hall_id;
        let started: serde_json::Value = serde_json::from_str(&ok(&[
            "rollout",
            "start",
            "--release",
            "0.2.0",
            "--percent",
            "50",
            "--hall",
            hall,
            "--percent",
            "100",
            "--json",
            "--db",
            &db.url,
        ]))
        .unwrap();
        let selectors: Vec<&str> = started["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["selector"].as_str().unwrap())
            .collect();
        assert_eq!(
            selectors,
            vec!["percent:50", &format!("hall:{hall}"), "percent:100"]
        );
        let id = started["id"].to_string();
        assert_eq!(offered(&kiosk).await.as_deref(), Some("0.2.0"));
        let paused: serde_json::Value =
            serde_json::from_str(&ok(&["rollout", "pause", &id, "--json", "--db", &db.url]))
                .unwrap();
        assert_eq!(paused["state"], "paused");
        assert_eq!(
            offered(&kiosk).await,
            None,
            "a paused rollout offers nothing"
        );
        let second = refused(&[
            "rollout",
            "start",
            "--release",
            "0.2.0",
            "--hall",
            hall,
            "--db",
            &db.url,
        ]);
        assert!(second.contains("still paused"), "{second}");
        ok(&["rollout", "abort", &id, "--db", &db.url]);
        let all: serde_json::Value =
            serde_json::from_str(&ok(&["rollout", "status", "--json", "--db", &db.url])).unwrap();
        assert_eq!(all[0]["state"], "aborted");
        assert_eq!(offered(&kiosk).await, None);
        central.stop().await;
    }
}

#[tokio::test]
async fn cohorts_advance_on_committed_updates_and_failures_pause_with_their_reasons() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let pilot_a = kiosk_in(&central, "xicheng").await;
        let pilot_b = kiosk_in(&central, "xicheng").await;
        let main_a = kiosk_in(&central, "dongcheng-main").await;
        let main_b = kiosk_in(&central, "dongcheng-main").await;
        let newer = kiosk_in(&central, "dongcheng-main").await;
        let ancient = kiosk_in(&central, "dongcheng-main").await;
        report_health(&newer, serde_json::json!({"version": "0.3.0", "devices": [], "backlog": 0, "disk_free_bytes": 1, "session_active": false})).await;
        report_health(&ancient, serde_json::json!({"version": "0.0.5", "devices": [], "backlog": 0, "disk_free_bytes": 1, "session_active": false})).await;
        publish(&central, "0.2.0", "0.1.0", &artifact(1, 1000)).await;

        let status = central
            .store
            .start_rollout(
                "0.2.0",
                &[
                    central::store::StageSelector::Hall("xicheng".into()),
                    central::store::StageSelector::Percent(100),
                ],
                1,
            )
            .await
            .unwrap();
        assert_eq!(
            (status.stages[0].kiosks, status.stages[0].pending),
            (2, 2),
            "{}",
            db.name
        );
        assert_eq!(status.stages[1].state, StageState::Pending);
        assert_eq!(offered(&pilot_a).await.as_deref(), Some("0.2.0"));
        assert_eq!(
            offered(&main_a).await,
            None,
            "the second cohort has not started"
        );

        // One pilot committed: the cohort waits for the other.
        report_update(&pilot_a, "0.2.0", "0.1.0", "committed", "", "").await;
        assert_eq!(
            offered(&pilot_a).await,
            None,
            "a committed kiosk is offered nothing more"
        );
        assert_eq!(offered(&main_a).await, None);
        report_update(&pilot_b, "0.2.0", "0.1.0", "committed", "", "").await;
        let status = central
            .store
            .rollout_status(status.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.stages[0].state, StageState::Done);
        assert_eq!(status.current_stage, 2);
        let second = &status.stages[1];
        // The rest of the fleet: two to update, one already newer, one too old to take it.
        assert_eq!((second.kiosks, second.pending, second.skipped), (4, 2, 2));
        assert_eq!(offered(&main_a).await.as_deref(), Some("0.2.0"));
        assert_eq!(offered(&newer).await, None, "never a downgrade");
        assert_eq!(offered(&ancient).await, None, "below min_version");

        // A failed health gate pauses the rollout, with the reason for ops.
        report_update(
            &main_a,
            "0.2.0",
            "0.1.0",
            "rolled_back",
            "health_deadline",
            "ui not drawn within 90 s",
        )
        .await;
        let status = central
            .store
            .rollout_status(status.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.state, RolloutState::Paused);
        assert!(
            status
                .paused_reason
                .as_deref()
                .unwrap()
                .contains("health_deadline")
        );
        assert_eq!(status.failures.len(), 1);
        assert_eq!(status.failures[0].kiosk_id, main_a.id().to_string());
        assert_eq!(status.failures[0].detail, "ui not drawn within 90 s");
        assert_eq!(offered(&main_b).await, None, "paused: nothing offered");

        // Ops accept the failure and resume; the last kiosk commits and the rollout completes.
        let status = central.store.resume_rollout(status.id).await.unwrap();
        assert_eq!(status.stages[1].acknowledged, 1);
        assert_eq!(
            offered(&main_a).await,
            None,
            "a failed kiosk is not offered it again"
        );
        assert_eq!(offered(&main_b).await.as_deref(), Some("0.2.0"));
        report_update(&main_b, "0.2.0", "0.1.0", "committed", "", "").await;
        let status = central
            .store
            .rollout_status(status.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.state, RolloutState::Completed);
        assert!(matches!(
            central.store.resume_rollout(status.id).await,
            Err(central::store::RolloutError::WrongState { .. })
        ));
        central.stop().await;
    }
}

#[tokio::test]
async fn kiosks_committing_at_the_same_moment_still_start_the_next_cohort() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let mut pilots = Vec::new();
        for _ in 0..4 {
            pilots.push(kiosk_in(&central, "xicheng").await);
        }
        let next = kiosk_in(&central, "dongcheng-main").await;
        publish(&central, "0.2.0", "0.1.0", &artifact(2, 1000)).await;
        let rollout = central
            .store
            .start_rollout(
                "0.2.0",
                &[
                    central::store::StageSelector::Hall("xicheng".into()),
                    central::store::StageSelector::Hall("dongcheng-main".into()),
                ],
                1,
            )
            .await
            .unwrap();
        // Every pilot reports in the same instant, each in its own ingest transaction.
        futures::future::join_all(
            pilots
                .iter()
                .map(|k| report_update(k, "0.2.0", "0.1.0", "committed", "", "")),
        )
        .await;
        let status = central
            .store
            .rollout_status(rollout.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.stages[0].committed, 4, "{}", db.name);
        assert_eq!(status.current_stage, 2, "{}", db.name);
        assert_eq!(offered(&next).await.as_deref(), Some("0.2.0"));
        central.stop().await;
    }
}
