//! `sync-torture`: central and a kiosk-side sender as separate processes; the sender is
//! SIGKILLed at `--kills` random moments, central is killed and restarted, traffic goes through
//! a TCP fault proxy (`--proxy-faults`), and each sender start signs with a clock skewed
//! within the allowed window. Ends with exactly one line on stdout:
//!
//! `sent N, stored N, duplicates 0, missing 0, out-of-order 0`
//!
//! with the real counts, read from central's database (see `kiosk_system_tests::ledger` for
//! what each count means), and exits non-zero if any is wrong. Progress goes to stderr.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use kiosk_api::auth::WINDOW_SECS;
use kiosk_api::{EnrolRequest, keys};
use kiosk_core::store::{Store, StoreKey, StoreOptions};
use kiosk_system_tests::central::{self, Central};
use kiosk_system_tests::proxy::{FaultMix, FaultProxy};
use kiosk_system_tests::{binaries, ledger};
use rand::Rng as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};

#[derive(Parser)]
#[command(about = "Kill, cut and skew the kiosk <-> central link; count what central stored")]
struct Args {
    /// Events the kiosk commits in total.
    #[arg(long)]
    events: u64,
    /// SIGKILLs of the kiosk-side sender at random moments.
    #[arg(long)]
    kills: u32,
    /// Pass traffic through the fault proxy (drops, resets, stalls, 500s, truncation).
    #[arg(long)]
    proxy_faults: bool,
    /// Times central is killed and restarted during the run.
    #[arg(long, default_value_t = 2)]
    central_restarts: u32,
    /// Events committed per second by the sender.
    #[arg(long, default_value_t = 400)]
    rate: u32,
    /// Give up (and fail) after this many seconds.
    #[arg(long, default_value_t = 1200)]
    timeout: u64,
    /// Work folder (kept); a temporary one is used and removed otherwise.
    #[arg(long)]
    work: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sync-torture: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sync-torture: {e:#}");
            ExitCode::from(2)
        }
    }
}

struct Setup {
    central_exe: PathBuf,
    sender_exe: PathBuf,
    db: PathBuf,
    data: PathBuf,
    key: PathBuf,
    kiosk_id: uuid::Uuid,
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let temp;
    let work = match &args.work {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_owned()
        }
    };
    eprintln!("sync-torture: building/locating central and the sender");
    let central_exe =
        tokio::task::spawn_blocking(|| binaries::cargo_bin("central", "central")).await??;
    let sender_exe =
        tokio::task::spawn_blocking(|| binaries::cargo_bin("kiosk-system-tests", "torture-sender"))
            .await??;
    let db = work.join("central.db");
    let db_url = db.to_string_lossy().into_owned();
    let mut central = Central::start(&central_exe, &db_url, &work.join("central.log"))?;
    central::generate_ops_key(&central_exe, &db_url, &work.join("ops.pem"))?;
    let token = central::create_token(&central_exe, &db_url, "torture-hall", "压力测试大厅")?;
    let signing = keys::generate();
    let enrolment = kiosk_core::sync::enrol(
        &format!("http://{}", central.addr()),
        &EnrolRequest {
            token,
            public_key: keys::public_key_to_base64(&signing.verifying_key()),
            hostname: "torture-kiosk".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
    )
    .await
    .context("enrolling the torture kiosk")?;
    let key = work.join("kiosk.pem");
    write_private(&key, &keys::private_key_to_pem(&signing))?;
    let data = work.join("kiosk");
    std::fs::create_dir_all(&data)?;
    let setup = Setup {
        central_exe,
        sender_exe,
        db,
        data,
        key,
        kiosk_id: enrolment.kiosk_id,
    };

    let mix = args.proxy_faults.then(FaultMix::default);
    let proxy = FaultProxy::start(central.addr(), mix).await?;
    let url = format!("http://{}", proxy.addr());

    let mut rng = rand::thread_rng();
    let mut kill_points: Vec<u64> = (0..args.kills.min(args.events as u32))
        .map(|_| rng.gen_range(1..=args.events))
        .collect();
    kill_points.sort_unstable();
    let mut restart_points: Vec<u64> = (1..=u64::from(args.central_restarts))
        .map(|i| args.events * i / (u64::from(args.central_restarts) + 1))
        .filter(|p| *p > 0)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut kills = 0u32;
    let mut crashes = 0u32;
    let mut central_restarts = 0u32;

    'senders: loop {
        if Instant::now() > deadline {
            eprintln!("sync-torture: timed out after {} s", args.timeout);
            break;
        }
        let skew = rng.gen_range(-(WINDOW_SECS - 60)..=(WINDOW_SECS - 60));
        let mut sender = tokio::process::Command::new(&setup.sender_exe)
            .args(["--data", &setup.data.to_string_lossy(), "--central", &url])
            .args(["--kiosk-id", &setup.kiosk_id.to_string()])
            .args(["--key", &setup.key.to_string_lossy()])
            .args([
                "--events",
                &args.events.to_string(),
                "--rate",
                &args.rate.to_string(),
            ])
            .arg(format!("--clock-offset={skew}"))
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the torture sender")?;
        let stdout = sender.stdout.take().context("sender stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut kill_at: Option<Instant> = None;
        loop {
            let timer = async {
                match kill_at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                line = lines.next_line() => {
                    let Some(line) = line? else {
                        let status = sender.wait().await?;
                        crashes += 1;
                        eprintln!("sync-torture: sender exited on its own ({status})");
                        if crashes > 5 {
                            bail!("the sender keeps failing; see its messages above");
                        }
                        continue 'senders;
                    };
                    if let Some(seq) = line.strip_prefix("committed ").and_then(|s| s.parse::<u64>().ok()) {
                        if kill_at.is_none() && kill_points.first().is_some_and(|p| *p <= seq) {
                            kill_points.remove(0);
                            kill_at = Some(Instant::now() + Duration::from_millis(rng.gen_range(0..40)));
                        }
                        if restart_points.first().is_some_and(|p| *p <= seq) {
                            restart_points.remove(0);
                            central_restarts += 1;
                            tokio::task::block_in_place(|| -> anyhow::Result<()> {
                                central.kill();
                                std::thread::sleep(Duration::from_millis(300));
                                central.restart()
                            })?;
                            eprintln!("sync-torture: central killed and restarted at seq {seq}");
                        }
                    } else if line == "produced" && kill_at.is_none() && !kill_points.is_empty() {
                        kill_points.remove(0);
                        kill_at = Some(Instant::now() + Duration::from_millis(rng.gen_range(0..300)));
                    } else if line == "drained" {
                        sender.wait().await?;
                        break 'senders;
                    }
                }
                () = timer => {
                    sender.start_kill()?;
                    sender.wait().await?;
                    kills += 1;
                    eprintln!("sync-torture: SIGKILL {kills} of the sender (clock skew was {skew:+} s)");
                    continue 'senders;
                }
            }
        }
    }

    eprintln!(
        "sync-torture: faults drawn by the proxy: {:?}",
        proxy.counts()
    );
    drop(proxy);
    central.stop();
    let sent = committed_events(&setup.data)?;
    let ledger = ledger::check(&setup.db, &setup.kiosk_id.to_string(), sent)?;
    let stats = central::stats(&setup.central_exe, &setup.db.to_string_lossy())?;
    let stats_events = stats["kiosks"]
        .as_array()
        .and_then(|ks| {
            ks.iter()
                .find(|k| k["kiosk_id"] == setup.kiosk_id.to_string())
        })
        .and_then(|k| k["events"].as_u64());
    for problem in &ledger.problems {
        eprintln!("sync-torture: {problem}");
    }
    eprintln!(
        "sync-torture: {kills} sender kills, {central_restarts} central restarts, {crashes} sender crashes; central stats says {stats_events:?} events"
    );
    println!(
        "sent {sent}, stored {}, duplicates {}, missing {}, out-of-order {}",
        ledger.stored, ledger.duplicates, ledger.missing, ledger.out_of_order
    );
    let complete = sent == args.events && kills == args.kills.min(args.events as u32);
    Ok(complete && ledger.is_perfect(sent) && stats_events == Some(ledger.stored))
}

/// Events the kiosk durably committed: the store's last sequence number.
fn committed_events(data: &Path) -> anyhow::Result<u64> {
    let key = StoreKey::load_or_create(&data.join("store.key"))?;
    let store = Store::open(data, key, StoreOptions::default())?;
    let backlog = store.backlog()?;
    if backlog > 0 {
        eprintln!("sync-torture: {backlog} events still wait in the kiosk's outbox");
    }
    Ok(store.last_seq()?)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
