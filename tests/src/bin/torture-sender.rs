//! The kiosk side of `sync-torture`: commits events steadily into a real kiosk store and runs
//! the real uplink against central, until `--events` have been committed and acknowledged.
//! Meant to be SIGKILLed at any moment and started again on the same data folder.
//!
//! Prints `committed <seq>` after each durable commit, `produced` when all are committed and
//! `drained` when central has acknowledged everything.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use kiosk_core::store::{NewEvent, NewRecord, Store, StoreKey, StoreOptions, Stream};
use kiosk_core::sync::{Backoff, CentralClient, Timeouts, Uplink};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// The kiosk's data folder (store, key).
    #[arg(long)]
    data: PathBuf,
    /// Central's base URL (usually the fault proxy).
    #[arg(long)]
    central: String,
    /// Kiosk id from enrolment.
    #[arg(long)]
    kiosk_id: uuid::Uuid,
    /// The kiosk's private key (PKCS#8 PEM).
    #[arg(long)]
    key: PathBuf,
    /// Events to commit in total (across restarts).
    #[arg(long)]
    events: u64,
    /// Events committed per second.
    #[arg(long, default_value_t = 400)]
    rate: u32,
    /// Seconds added to the clock when signing (skew inside the window).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset: i64,
    /// Every this many events carries a scanned attachment (1.5 MiB: two chunks).
    #[arg(long, default_value_t = 100)]
    attachment_every: u64,
}

/// Streams in rotation, so that order is checked within each of several streams.
const STREAMS: [Stream; 5] = [
    Stream::Records,
    Stream::Tickets,
    Stream::Ratings,
    Stream::Health,
    Stream::Telemetry,
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key = StoreKey::load_or_create(&args.data.join("store.key"))?;
    let store = Store::open(&args.data, key, StoreOptions::default())?;
    let pem = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading the kiosk key {}", args.key.display()))?;
    let signing = kiosk_api::keys::private_key_from_pem(&pem)?;
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        request: Duration::from_secs(3),
    };
    let client = CentralClient::new(&args.central, args.kiosk_id, signing, timeouts)?
        .with_clock_offset(args.clock_offset);
    let uplink = Uplink::builder(store.clone(), client)
        .backoff(Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(1000),
        })
        .max_batch_events(100)
        .idle_poll(Duration::from_millis(200))
        .spawn();

    let pause = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let mut stdout = std::io::stdout();
    loop {
        let s = store.clone();
        let n = tokio::task::spawn_blocking(move || s.last_seq()).await?? + 1;
        if n > args.events {
            break;
        }
        let s = store.clone();
        let every = args.attachment_every;
        let committed = tokio::task::spawn_blocking(move || commit(&s, n, every)).await??;
        if let Some(seq) = committed {
            anyhow::ensure!(seq == n, "store gave seq {seq} where {n} was expected");
            writeln!(stdout, "committed {seq}")?;
            stdout.flush()?;
        }
        tokio::time::sleep(pause).await;
    }
    writeln!(stdout, "produced")?;
    stdout.flush()?;
    loop {
        let s = store.clone();
        if tokio::task::spawn_blocking(move || s.backlog()).await?? == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    uplink.stop().await;
    writeln!(stdout, "drained")?;
    stdout.flush()?;
    Ok(())
}

/// Commits event `n` in the way a journey would; `None` if telemetry was dropped.
fn commit(store: &Store, n: u64, attachment_every: u64) -> anyhow::Result<Option<u64>> {
    let stream = STREAMS[(n % STREAMS.len() as u64) as usize];
    let attachments = if attachment_every > 0 && n.is_multiple_of(attachment_every) {
        let scan: Vec<u8> = (0..1_536 * 1024u64)
            .map(|i| (i.wrapping_mul(31) ^ n.wrapping_mul(7919)) as u8)
            .collect();
        vec![store.spool_attachment(&scan)?]
    } else {
        Vec::new()
    };
    let committed = match stream {
        Stream::Records | Stream::Tickets | Stream::Ratings => {
            Some(store.commit_record(NewRecord {
                stream,
                kind: format!("{}.torture", stream.as_str()),
                summary: json!({ "n": n }),
                personal: Some(json!({ "name": "测试人", "id_number": "11010519491231002X" })),
                attachments,
            })?)
        }
        _ => store.enqueue(NewEvent {
            stream,
            kind: format!("{}.torture", stream.as_str()),
            payload: json!({ "n": n }),
            personal: false,
            attachments,
        })?,
    };
    Ok(committed.map(|c| c.seq))
}
