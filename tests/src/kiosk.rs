//! Kiosks as processes: `kioskctl provision` into a data folder, `kiosk-app --simulate
//! --headless` running scripted citizens on it (its own ID-card reader, scanner and two
//! ESC/POS emulators), and what those emulators printed, read back off the paper.
//!
//! A kiosk's folder holds `kiosk.toml` (written by kioskctl), `data/` (identity, store, the
//! emulators' PNGs under `data/printed/{dispenser,receipt}`) and one `NAME.out` / `NAME.err`
//! per run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Which emulator's paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Printer {
    /// The ticket dispenser: queue tickets.
    Dispenser,
    /// The receipt printer: application receipts, guide slips, 一次性告知 lists.
    Receipt,
}

impl Printer {
    fn dir(self) -> &'static str {
        match self {
            Printer::Dispenser => "dispenser",
            Printer::Receipt => "receipt",
        }
    }
}

/// `kioskctl provision --central URL --token T --config DIR/kiosk.toml --data-dir DIR/data
/// --hostname NAME --json`: what a technician runs on a new kiosk. Returns kioskctl's JSON.
pub fn provision(
    kioskctl: &Path,
    dir: &Path,
    central_url: &str,
    token: &str,
    name: &str,
) -> anyhow::Result<serde_json::Value> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = Command::new(kioskctl)
        .args(["provision", "--central", central_url, "--token", token])
        .arg("--config")
        .arg(dir.join("kiosk.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--hostname", name, "--json", "--insecure-http"])
        .env("RUST_LOG", "warn")
        .output()
        .context("running kioskctl provision")?;
    if !out.status.success() {
        bail!(
            "kioskctl provision {name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("kioskctl provision --json printed no JSON")
}

/// One `kiosk-app --simulate --headless` run on the data folder `DIR/data`.
#[derive(Debug)]
pub struct HeadlessRun {
    child: Option<Child>,
    dir: PathBuf,
    name: String,
}

/// How a headless run ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// What it printed on stdout (the summary).
    pub stdout: String,
    /// The last lines of its log.
    pub log_tail: String,
    /// The `summary {json}` line, parsed, if it printed one.
    pub summary: Option<serde_json::Value>,
}

impl Finished {
    /// A counter of the engine's stats in the summary (`tickets_printed`, `ratings`, …).
    pub fn stat(&self, name: &str) -> u64 {
        self.summary
            .as_ref()
            .and_then(|s| s["stats"][name].as_u64())
            .unwrap_or(0)
    }

    /// A top-level field of the summary (`backlog`, `stuck`, `receipt_pngs`, …).
    pub fn field(&self, name: &str) -> Option<u64> {
        self.summary.as_ref().and_then(|s| s[name].as_u64())
    }
}

impl HeadlessRun {
    /// Starts `kiosk-app --simulate --headless --citizens N --seed S --central URL --data-dir
    /// DIR/data` plus `extra`, its stdout in `DIR/NAME.out` and log in `DIR/NAME.err`.
    pub fn start(
        exe: &Path,
        dir: &Path,
        central_url: &str,
        citizens: u32,
        seed: u64,
        extra: &[&str],
        name: &str,
    ) -> anyhow::Result<HeadlessRun> {
        Self::start_with_env(exe, dir, central_url, citizens, seed, extra, &[], name)
    }

    /// [`HeadlessRun::start`] with `env` added to the kiosk's environment
    /// ([`crate::clock::next_day`]: its clock on the next day).
    #[allow(clippy::too_many_arguments)]
    pub fn start_with_env(
        exe: &Path,
        dir: &Path,
        central_url: &str,
        citizens: u32,
        seed: u64,
        extra: &[&str],
        env: &[(String, String)],
        name: &str,
    ) -> anyhow::Result<HeadlessRun> {
        let out = std::fs::File::create(dir.join(format!("{name}.out")))?;
        let err = std::fs::File::create(dir.join(format!("{name}.err")))?;
        let child = Command::new(exe)
            .args(["--simulate", "--headless"])
            .args(["--citizens", &citizens.to_string()])
            .args(["--seed", &seed.to_string()])
            .args(["--central", central_url])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        Ok(HeadlessRun {
            child: Some(child),
            dir: dir.to_owned(),
            name: name.to_owned(),
        })
    }

    /// SIGKILL, as a power cut would, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
        }
    }

    /// Waits (at most `timeout`) for the run to end and reads what it printed.
    pub fn finish(&mut self, timeout: Duration) -> anyhow::Result<Finished> {
        let Some(child) = self.child.as_mut() else {
            bail!("{} was killed", self.name);
        };
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                self.kill();
                bail!(
                    "{} did not finish in {timeout:?}:\n{}",
                    self.name,
                    tail(&self.read("err"), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        self.child = None;
        let stdout = self.read("out");
        let summary = stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("summary "))
            .and_then(|json| serde_json::from_str(json).ok());
        Ok(Finished {
            status,
            log_tail: tail(&self.read("err"), 40),
            stdout,
            summary,
        })
    }

    /// Like [`HeadlessRun::finish`], and fails unless the run exited 0 (no stuck citizen).
    pub fn finish_ok(&mut self, timeout: Duration) -> anyhow::Result<Finished> {
        let finished = self.finish(timeout)?;
        if !finished.status.success() {
            bail!(
                "{} failed ({}):\n{}\n{}",
                self.name,
                finished.status,
                finished.stdout,
                finished.log_tail
            );
        }
        Ok(finished)
    }

    fn read(&self, ext: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.{ext}", self.name))).unwrap_or_default()
    }
}

impl Drop for HeadlessRun {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The PNGs `printer` cut in the kiosk folder `dir` (all runs), in print order.
pub fn printed(dir: &Path, printer: Printer) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("data/printed").join(printer.dir()))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "png"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Everything both printers of kiosk folder `dir` cut so far.
pub fn sheets(dir: &Path) -> usize {
    printed(dir, Printer::Dispenser).len() + printed(dir, Printer::Receipt).len()
}

/// Waits until the kiosk in `dir` has cut at least `count` sheets on both printers together,
/// or `timeout` passed; returns how many it has.
pub fn wait_for_sheets(dir: &Path, count: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let n = sheets(dir);
        if n >= count || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The text in a printed sheet's QR code, read off the PNG with `zbarimg` (zbar-tools);
/// empty if it has none.
pub fn read_qr(png: &Path) -> anyhow::Result<String> {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png)
        .output()
        .context("running zbarimg (install zbar-tools)")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A printed queue ticket: its business date and number, from the link in its QR code
/// (`<queue_url><YYYY-MM-DD>/<ticket_no>`).
pub fn ticket_on_paper(png: &Path) -> anyhow::Result<(String, String)> {
    let link = read_qr(png)?;
    let mut parts = link.rsplit('/');
    let ticket = parts.next().unwrap_or_default().to_owned();
    let date = parts.next().unwrap_or_default().to_owned();
    if ticket.is_empty() || date.len() != 10 {
        bail!("{} has QR {link:?}, not a ticket link", png.display());
    }
    Ok((date, ticket))
}

/// The application numbers on the receipts the receipt printer of `dir` cut: the sheets whose
/// QR links to `progress_url` (guide slips and 一次性告知 lists link to the guide instead),
/// each as [`compact`].
pub fn receipts_on_paper(dir: &Path, progress_url: &str) -> anyhow::Result<Vec<String>> {
    let mut numbers = Vec::new();
    for png in printed(dir, Printer::Receipt) {
        if let Some(no) = read_qr(&png)?.strip_prefix(progress_url) {
            numbers.push(compact(no));
        }
    }
    Ok(numbers)
}

/// An application number without the spaces and hyphens it may be grouped with for reading
/// (`0012 03 261201 0007 5` is `00120326120100075`), to compare it with what central keeps.
pub fn compact(no: &str) -> String {
    no.chars().filter(|c| !matches!(c, ' ' | '-')).collect()
}

/// `kioskctl sync status --json --data DIR/data`: what the kiosk in folder `dir` still has to
/// send and what it set aside, as a technician reads it (the command runs beside the app).
pub fn sync_status(kioskctl: &Path, dir: &Path) -> anyhow::Result<serde_json::Value> {
    let out = Command::new(kioskctl)
        .args(["sync", "status", "--json", "--data"])
        .arg(dir.join("data"))
        .output()
        .context("running kioskctl sync status")?;
    // Exit 2 only says "events wait and the last attempt failed"; the JSON is printed anyway.
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "kioskctl sync status ({}) printed no JSON: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
