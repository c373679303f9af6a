//! A kiosk and its central for the agent's tests: `central serve` (SQLite) as a separate
//! process with an ops key, a kiosk enrolled with it (identity and store in its data
//! directory, as `kioskctl provision` and the app leave them), a root with the running
//! release installed, and a kiosk configuration whose restart command is a test hook that
//! starts `<root>/current/bin/kiosk-app` (a shell script writing the state file) in the
//! background, as systemd would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kiosk_core::identity::Identity;
use kiosk_core::store::{Store, StoreKey, StoreOptions};
use kiosk_core::sync::{Timeouts, Uplink};
use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central::{Central, create_token, generate_ops_key};
use serde_json::Value;

/// Inside the default window 22:00-06:00 (+08:00): 23:00 in the hall.
pub const NIGHT: &str = "2026-11-26T15:00:00Z";
/// Outside it: 10:00 in the hall, open to citizens.
pub const DAY: &str = "2026-11-26T02:00:00Z";

/// How a test release's `bin/kiosk-app` behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// Writes a healthy state and keeps running.
    Healthy,
    /// Writes a state with the UI not drawn and keeps running.
    UiNotDrawn,
    /// Writes a healthy state, then exits.
    Crashes,
    /// Writes nothing and keeps running.
    Silent,
    /// Takes three seconds to start, then writes a healthy state and keeps running.
    SlowHealthy,
}

/// The restart hook: stop the app the state's pidfile names, start `current` in the background.
const RESTART_HOOK: &str = r#"pid=$(cat "$KIOSK_DATA_DIR/app.pid" 2>/dev/null) && kill "$pid" 2>/dev/null; "$KIOSK_UPDATE_ROOT/current/bin/kiosk-app" </dev/null >/dev/null 2>&1 &"#;

pub struct Rig {
    _work: tempfile::TempDir,
    pub work: PathBuf,
    pub exe: PathBuf,
    pub central: Central,
    pub db: String,
    pub root: PathBuf,
    pub data: PathBuf,
    pub config: PathBuf,
    pub identity: Identity,
    runtime: tokio::runtime::Runtime,
}

impl Rig {
    /// Central, an enrolled kiosk reporting `enrolled_as`, and `running` installed under the
    /// root; the health deadline is `deadline_secs`.
    pub fn start(enrolled_as: &str, running: &str, deadline_secs: u64) -> Rig {
        let work = tempfile::tempdir().unwrap();
        let path = work.path().to_owned();
        let exe = cargo_bin("central", "central").unwrap();
        let db = path.join("central.db").to_string_lossy().into_owned();
        let central = Central::start(&exe, &db, &path.join("central.log")).unwrap();
        generate_ops_key(&exe, &db, &path.join("ops.pem")).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let data = path.join("data");
        let url = format!("http://{}", central.addr());
        let token = create_token(&exe, &db, "hall-1", "东城区政务服务中心").unwrap();
        let identity = runtime
            .block_on(Identity::enrol(&data, &url, &token, "kiosk-1", enrolled_as))
            .unwrap();
        // The app's store: the agent reports through its outbox.
        drop(open_store(&data));
        let root = path.join("opt-kiosk");
        let rig = Rig {
            _work: work,
            work: path.clone(),
            exe,
            central,
            db,
            root,
            data,
            config: path.join("kiosk.toml"),
            identity,
            runtime,
        };
        rig.install_by_hand(running);
        // The anchors `kioskctl provision` writes beside the configuration.
        kiosk_core::trust::Trust {
            central_url: url.clone(),
            ops_public_key: rig.identity.ops_public_key.clone(),
            release_public_key: rig.identity.release_public_key.clone(),
            central_ca_pem: None,
        }
        .write(&kiosk_core::trust::Trust::beside(&rig.config))
        .unwrap();
        let hook = serde_json::to_string(RESTART_HOOK).unwrap();
        std::fs::write(
            &rig.config,
            format!(
                r#"[kiosk]
data_dir = "{data}"

[hall]
name_zh = "东城区政务服务中心"
name_en = "Dongcheng District Government Service Center"
help_window_zh = "1号综合咨询台"
help_window_en = "Information desk 1"

[central]
url = "{url}"

[update]
root = "{root}"
window = "22:00-06:00"
utc_offset = "+08:00"
restart_command = ["sh", "-c", {hook}]
health_deadline_secs = {deadline_secs}
"#,
                data = rig.data.display(),
                root = rig.root.display(),
            ),
        )
        .unwrap();
        rig
    }

    /// Installs `version` (healthy) under the root and points `current` at it, as the
    /// image or a technician would.
    pub fn install_by_hand(&self, version: &str) {
        let bin = self.root.join("releases").join(version).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let app = bin.join("kiosk-app");
        std::fs::write(&app, app_script(version, App::Healthy)).unwrap();
        make_executable(&app);
        let current = self.root.join("current");
        let _ = std::fs::remove_file(&current);
        std::os::unix::fs::symlink(Path::new("releases").join(version), &current).unwrap();
    }

    /// A release artifact (gzip tar) whose app behaves as `app`, with some incompressible
    /// payload so that a download takes more than one read.
    pub fn artifact(&self, version: &str, app: App) -> PathBuf {
        let path = self.work.join(format!("kiosk-{version}.tar.gz"));
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let script = app_script(version, app);
        let mut header = tar::Header::new_gnu();
        header.set_size(script.len() as u64);
        header.set_mode(0o755);
        tar.append_data(&mut header, "bin/kiosk-app", script.as_bytes())
            .unwrap();
        let mut state = 0x9e37_79b9_u32 ^ version.len() as u32;
        let filler: Vec<u8> = (0..400_000)
            .map(|_| {
                // xorshift: incompressible, reproducible
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let mut header = tar::Header::new_gnu();
        header.set_size(filler.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, "share/kiosk/assets.bin", filler.as_slice())
            .unwrap();
        std::fs::write(&path, tar.into_inner().unwrap().finish().unwrap()).unwrap();
        path
    }

    /// `central <args> --db DB`; stdout.
    pub fn central_cli(&self, args: &[&str]) -> String {
        let out = Command::new(&self.exe)
            .args(args)
            .args(["--db", &self.db])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "central {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Publishes `artifact` as `version` (signed with the ops key) and rolls it out to the
    /// whole fleet; returns the signed manifest.
    pub fn publish_and_roll_out(&self, version: &str, min_version: &str, artifact: &Path) -> Value {
        self.publish_and_roll_out_signed(version, min_version, artifact, &self.work.join("ops.pem"))
    }

    /// [`Rig::publish_and_roll_out`] signed with the release key at `key`.
    pub fn publish_and_roll_out_signed(
        &self,
        version: &str,
        min_version: &str,
        artifact: &Path,
        key: &Path,
    ) -> Value {
        let published = self.central_cli(&[
            "release",
            "publish",
            artifact.to_str().unwrap(),
            "--version",
            version,
            "--min-version",
            min_version,
            "--key",
            key.to_str().unwrap(),
            "--json",
        ]);
        self.central_cli(&[
            "rollout",
            "start",
            "--release",
            version,
            "--percent",
            "100",
            "--json",
        ]);
        serde_json::from_str(&published).unwrap()
    }

    /// Runs `kiosk-update <command> --json` with the clock at `now`; exit code and verdict.
    pub fn agent(&self, command: &str, now: &str, extra: &[&str]) -> (i32, Value) {
        let out = Command::new(env!("CARGO_BIN_EXE_kiosk-update"))
            .arg(command)
            .args(["--config", self.config.to_str().unwrap()])
            .args(["--root", self.root.to_str().unwrap()])
            .args(["--json", "--now", now])
            .args(extra)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let verdict = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "kiosk-update {command} printed no verdict ({e}): {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), verdict)
    }

    /// Runs `kiosk-update <command>` expecting it to fail; its exit code and stderr.
    pub fn agent_fails(&self, command: &str, now: &str) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_kiosk-update"))
            .arg(command)
            .args(["--config", self.config.to_str().unwrap()])
            .args(["--root", self.root.to_str().unwrap()])
            .args(["--json", "--now", now])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The version `current` points at.
    pub fn current(&self) -> String {
        std::fs::read_link(self.root.join("current"))
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// Writes the running app's state as kiosk-app would.
    pub fn write_state(&self, version: &str, session_active: bool) {
        let mut state = kiosk_core::state::KioskState::starting(version);
        state.ui_drawn = true;
        state.devices_ready = true;
        state.central_reached = true;
        state.session_active = session_active;
        state.write(&self.data).unwrap();
    }

    /// Runs the app's real uplink until the outbox is empty: what the running kiosk app does
    /// with the agent's reports.
    pub fn sync(&self) {
        let store = open_store(&self.data);
        let client = self
            .identity
            .client(&self.data, Timeouts::default())
            .unwrap();
        self.runtime.block_on(async {
            let uplink = Uplink::builder(store.clone(), client)
                .idle_poll(Duration::from_millis(100))
                .spawn();
            for _ in 0..200 {
                if store.backlog().unwrap() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            uplink.stop().await;
        });
        assert_eq!(store.backlog().unwrap(), 0, "the outbox drained to central");
    }

    /// Central's record of this kiosk's update results: (version, outcome, reason).
    pub fn update_results(&self) -> Vec<(String, String, String)> {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT version, outcome, reason FROM update_results WHERE kiosk_id = ?1 ORDER BY occurred_at",
            )
            .unwrap();
        stmt.query_map([self.identity.kiosk_id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    /// `central rollout status --json` of the newest rollout.
    pub fn rollout_status(&self) -> Value {
        let all: Value =
            serde_json::from_str(&self.central_cli(&["rollout", "status", "--json"])).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .max_by_key(|r| r["id"].as_i64().unwrap())
            .unwrap()
            .clone()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // The test apps run in the background like a service: stop the last one.
        if let Ok(pid) = std::fs::read_to_string(self.data.join("app.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

pub fn open_store(data: &Path) -> Store {
    let key = StoreKey::load_or_create(&data.join("store.key")).unwrap();
    Store::open(data, key, StoreOptions::default()).unwrap()
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A stand-in for kiosk-app: writes `<data>/state.json` (contract E) atomically and its
/// pidfile, then keeps running (`exec sleep`, same pid) or exits.
pub fn app_script(version: &str, app: App) -> String {
    let (ui_drawn, write, tail) = match app {
        App::Healthy | App::SlowHealthy => ("true", true, "exec sleep 30"),
        App::UiNotDrawn => ("false", true, "exec sleep 30"),
        App::Crashes => ("true", true, "exit 1"),
        App::Silent => ("true", false, "exec sleep 30"),
    };
    let write = if write {
        format!(
            r#"printf '{{"version":"{version}","pid":%d,"ui_drawn":{ui_drawn},"devices_ready":true,"central_reached":true,"session_active":false,"updated_at":"%s"}}' $$ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$KIOSK_DATA_DIR/state.json.tmp"
mv "$KIOSK_DATA_DIR/state.json.tmp" "$KIOSK_DATA_DIR/state.json""#
        )
    } else {
        String::new()
    };
    let slow = if app == App::SlowHealthy {
        "sleep 3"
    } else {
        ""
    };
    format!(
        "#!/bin/sh\n# kiosk-app {version} for the update tests ({app:?})\necho $$ > \"$KIOSK_DATA_DIR/app.pid\"\n{slow}\n{write}\n{tail}\n"
    )
}
