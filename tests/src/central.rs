//! A `central serve` process for system tests: started on a fixed address so that it can be
//! killed and restarted where the kiosk (or the proxy) expects it.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// A running (or killed, restartable) central.
#[derive(Debug)]
pub struct Central {
    exe: PathBuf,
    db: String,
    log: PathBuf,
    addr: SocketAddr,
    holder_keys: PathBuf,
    /// Environment central runs with beyond its own (a fake clock's `LD_PRELOAD`, say).
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Central {
    /// Starts `central serve --db DB --listen 127.0.0.1:0 --holder-keys FILE` and reads the
    /// address it bound. Its log goes to `log`; the holder key file is `holder-keys`
    /// beside it, generated with `central holder-keys generate` if it does not exist yet (it
    /// lives outside the database, as in production).
    pub fn start(exe: &Path, db: &str, log: &Path) -> anyhow::Result<Central> {
        let holder_keys = log.with_file_name("holder-keys");
        if !holder_keys.exists() {
            generate_holder_keys(exe, &holder_keys, "test-1")?;
        }
        let mut central = Central {
            exe: exe.to_owned(),
            db: db.to_owned(),
            log: log.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            holder_keys,
            env: Vec::new(),
            child: None,
        };
        central.spawn()?;
        Ok(central)
    }

    /// Where central listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The database URL central runs on.
    pub fn db(&self) -> &str {
        &self.db
    }

    /// The holder keys file central serves.
    pub fn holder_keys(&self) -> &Path {
        &self.holder_keys
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening central's log {}", self.log.display()))?;
        // The port stays in TIME_WAIT-free LISTEN reuse on Linux, but a restart right after a
        // SIGKILL can still race the kernel releasing it: try a few times.
        let mut last_error = None;
        for _ in 0..50 {
            let mut child = Command::new(&self.exe)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .args([
                    "serve",
                    "--db",
                    &self.db,
                    "--listen",
                    &self.addr.to_string(),
                ])
                .arg("--holder-keys")
                .arg(&self.holder_keys)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log.try_clone()?))
                .spawn()
                .with_context(|| format!("starting {}", self.exe.display()))?;
            let stdout = child.stdout.take().context("central's stdout")?;
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line)?;
            if let Some(addr) = line.trim().strip_prefix("central listening on ") {
                self.addr = addr
                    .parse()
                    .with_context(|| format!("central printed an unreadable address {addr:?}"))?;
                self.child = Some(child);
                return Ok(());
            }
            let status = child.wait()?;
            last_error = Some(format!("central exited ({status}) without listening"));
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "{}; see {}",
            last_error.unwrap_or_default(),
            self.log.display()
        )
    }

    /// SIGKILL, as a power cut or a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts central again on the same address and database.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }

    /// Starts central again on the same address and database with `env` added to its
    /// environment (and to every later restart): [`crate::clock::next_day`] moves its clock.
    pub fn restart_with_env(&mut self, env: &[(String, String)]) -> anyhow::Result<()> {
        self.kill();
        self.env = env.to_vec();
        self.spawn()
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh central on its own SQLite file in `dir` (`central.db`, log `central.log`) whose
/// ops key (`ops.pem`) exists, so that kiosks can enrol: central enrols nobody before ops has
/// a key. Returns the running central; its database is [`Central::db`].
pub fn start_fresh(exe: &Path, dir: &Path) -> anyhow::Result<Central> {
    let db = dir.join("central.db").to_string_lossy().into_owned();
    start_on(exe, &db, dir)
}

/// Like [`start_fresh`], on the database `db` (a SQLite file or a `postgres://` URL of an
/// empty database), with its log, ops key and holder keys in `dir`.
pub fn start_on(exe: &Path, db: &str, dir: &Path) -> anyhow::Result<Central> {
    let central = Central::start(exe, db, &dir.join("central.log"))?;
    generate_ops_key(exe, db, &dir.join("ops.pem"))?;
    Ok(central)
}

/// `central holder-keys generate --file FILE --id ID`: a new holder key, made the current
/// one of the keys file (created 0600 if missing).
pub fn generate_holder_keys(exe: &Path, file: &Path, id: &str) -> anyhow::Result<()> {
    let out = Command::new(exe)
        .args(["holder-keys", "generate", "--file"])
        .arg(file)
        .args(["--id", id])
        .env("RUST_LOG", "warn")
        .output()
        .context("running central holder-keys generate")?;
    if !out.status.success() {
        bail!(
            "central holder-keys generate failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `central token create --hall HALL --json`: a one-time enrolment token.
pub fn create_token(exe: &Path, db: &str, hall: &str, hall_name: &str) -> anyhow::Result<String> {
    let out = Command::new(exe)
        .args([
            "token",
            "create",
            "--hall",
            hall,
            "--hall-name",
            hall_name,
            "--json",
            "--db",
            db,
        ])
        .env("RUST_LOG", "warn")
        .output()
        .context("running central token create")?;
    if !out.status.success() {
        bail!(
            "central token create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let created: serde_json::Value = serde_json::from_slice(&out.stdout)
        .context("central token create --json printed no JSON")?;
    created["token"]
        .as_str()
        .map(str::to_owned)
        .context("central token create --json printed no \"token\"")
}

/// `central stats --db DB --json`.
pub fn stats(exe: &Path, db: &str) -> anyhow::Result<serde_json::Value> {
    let out = Command::new(exe)
        .args(["stats", "--json", "--db", db])
        .env("RUST_LOG", "warn")
        .output()
        .context("running central stats")?;
    if !out.status.success() {
        bail!(
            "central stats failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("central stats --json printed no JSON")
}

/// `central keys generate --out FILE --db DB`: the ops key, trusted by central (kiosks learn
/// its public half at enrolment, and central enrols nobody before it exists).
pub fn generate_ops_key(exe: &Path, db: &str, out: &Path) -> anyhow::Result<()> {
    let status = Command::new(exe)
        .args(["keys", "generate", "--out"])
        .arg(out)
        .args(["--db", db])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .context("running central keys generate")?;
    if !status.success() {
        bail!("central keys generate failed ({status})");
    }
    Ok(())
}

/// `central ARGS… --json --db DB`: one of central's staff and ops commands (appointments,
/// applications, queue, …) and the JSON it printed.
pub fn json(exe: &Path, db: &str, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let out = Command::new(exe)
        .args(args)
        .args(["--json", "--db", db])
        .env("RUST_LOG", "warn")
        .output()
        .with_context(|| format!("running central {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "central {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("central {} --json printed no JSON", args.join(" ")))
}
