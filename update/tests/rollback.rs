//! A new version that fails its health gate is rolled back, by the agent's own gate or by
//! systemd's failure path (`kiosk-update rollback --reason start-limit-hit`, what
//! kiosk-rollback.service runs), and the reason reaches central's rollout status, which the
//! console shows.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{App, NIGHT, Rig};

#[test]
fn a_version_that_never_draws_its_ui_is_rolled_back_and_central_shows_why() {
    let rig = Rig::start("0.1.0", "0.1.0", 5);
    rig.publish_and_roll_out("0.2.0", "0.1.0", &rig.artifact("0.2.0", App::UiNotDrawn));

    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert_eq!(code, 3, "{verdict}");
    assert_eq!(verdict["verdict"], "rolled_back");
    assert_eq!(verdict["reason"], "ui_not_drawn");
    assert_eq!(rig.current(), "0.1.0", "switched back");
    // The previous version was restarted by the hook and runs again.
    let state = wait_for_state(&rig, "0.1.0");
    assert!(state.healthy());
    assert!(
        !rig.root.join("releases/0.2.0").exists(),
        "the failed release is removed"
    );

    rig.sync();
    assert_eq!(
        rig.update_results(),
        vec![("0.2.0".into(), "rolled_back".into(), "ui_not_drawn".into())]
    );
    let status = rig.rollout_status();
    let failure = &status["failures"][0];
    assert_eq!(failure["outcome"], "rolled_back", "{status}");
    assert_eq!(failure["reason"], "ui_not_drawn");
    assert!(
        failure["detail"]
            .as_str()
            .unwrap()
            .contains("did not draw its UI"),
        "{failure}"
    );

    // It is not tried again.
    let (code, verdict) = rig.agent("apply", NIGHT, &[]);
    assert!(code == 0 && verdict["verdict"] != "committed", "{verdict}");
    assert_eq!(rig.current(), "0.1.0");
}

#[test]
fn a_version_that_crashes_or_stays_silent_is_rolled_back_with_that_reason() {
    for (app, reason) in [(App::Crashes, "crashed"), (App::Silent, "no_state")] {
        let rig = Rig::start("0.1.0", "0.1.0", 5);
        rig.publish_and_roll_out("0.2.0", "0.1.0", &rig.artifact("0.2.0", app));
        let (code, verdict) = rig.agent("apply", NIGHT, &[]);
        assert_eq!(code, 3, "{verdict}");
        assert_eq!(verdict["reason"], reason, "{verdict}");
        assert_eq!(rig.current(), "0.1.0");
        rig.sync();
        assert_eq!(
            rig.update_results(),
            vec![("0.2.0".into(), "rolled_back".into(), reason.into())]
        );
    }
}

fn wait_for_state(rig: &Rig, version: &str) -> kiosk_core::state::KioskState {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(state) = kiosk_core::state::KioskState::read(&rig.data)
            .ok()
            .flatten()
            && state.version == version
        {
            return state;
        }
        assert!(Instant::now() < deadline, "{version} never wrote its state");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts `kiosk-update apply` and returns once it has switched (its pending switch is on
/// disk), with the child still running its gate.
// The child is returned for the caller to wait on; on a panic here the test fails anyway.
#[allow(clippy::zombie_processes)]
fn apply_until_switched(rig: &Rig) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiosk-update"))
        .args(["apply", "--json", "--now", NIGHT])
        .args(["--config", rig.config.to_str().unwrap()])
        .args(["--root", rig.root.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = std::fs::read(rig.root.join("agent.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|s| !s["pending"].is_null());
        if pending && rig.current() == "0.2.0" {
            return child;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the agent never switched");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn systemds_failure_path_ends_a_running_gate_with_start_limit_hit() {
    // A long deadline: only the request from systemd's path can end this gate early with
    // this reason; otherwise it would end with ui_not_drawn.
    let rig = Rig::start("0.1.0", "0.1.0", 120);
    rig.publish_and_roll_out("0.2.0", "0.1.0", &rig.artifact("0.2.0", App::UiNotDrawn));
    let apply = apply_until_switched(&rig);

    let (code, verdict) = rig.agent("rollback", NIGHT, &["--reason", "start-limit-hit"]);
    assert_eq!(
        (code, &verdict["verdict"]),
        (0, &"rollback_requested".into()),
        "{verdict}"
    );
    let out = apply.wait_with_output().unwrap();
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(3), "{verdict}");
    assert_eq!(verdict["reason"], "start_limit_hit", "{verdict}");
    assert_eq!(rig.current(), "0.1.0");
    rig.sync();
    assert_eq!(
        rig.update_results(),
        vec![(
            "0.2.0".into(),
            "rolled_back".into(),
            "start_limit_hit".into()
        )]
    );
}

#[test]
fn a_gate_cut_short_by_a_crash_of_the_agent_is_rolled_back_by_systemd_or_finished_by_confirm() {
    // Rolled back by systemd's path when the agent is gone.
    let rig = Rig::start("0.1.0", "0.1.0", 120);
    rig.publish_and_roll_out("0.2.0", "0.1.0", &rig.artifact("0.2.0", App::UiNotDrawn));
    let mut apply = apply_until_switched(&rig);
    apply.kill().unwrap();
    apply.wait().unwrap();
    let (code, verdict) = rig.agent("rollback", NIGHT, &["--reason", "start-limit-hit"]);
    assert_eq!(code, 3, "{verdict}");
    assert_eq!(verdict["verdict"], "rolled_back");
    assert_eq!(verdict["reason"], "start_limit_hit");
    assert_eq!(rig.current(), "0.1.0");
    let (code, verdict) = rig.agent("rollback", NIGHT, &["--reason", "start-limit-hit"]);
    assert_eq!(
        (code, &verdict["verdict"]),
        (0, &"nothing_to_roll_back".into()),
        "{verdict}"
    );

    // Finished by `confirm` (kiosk-update-confirm.service at boot) when the new version is
    // in fact healthy.
    let rig = Rig::start("0.1.0", "0.1.0", 120);
    // Slow to start, so that the agent is surely killed before its gate could commit.
    rig.publish_and_roll_out("0.2.0", "0.1.0", &rig.artifact("0.2.0", App::SlowHealthy));
    let mut apply = apply_until_switched(&rig);
    apply.kill().unwrap();
    apply.wait().unwrap();
    let (code, verdict) = rig.agent("confirm", NIGHT, &[]);
    assert_eq!(code, 0, "{verdict}");
    assert_eq!(verdict["verdict"], "committed", "{verdict}");
    assert_eq!(rig.current(), "0.2.0");
    rig.sync();
    assert_eq!(
        rig.update_results(),
        vec![("0.2.0".into(), "committed".into(), "".into())]
    );
}
