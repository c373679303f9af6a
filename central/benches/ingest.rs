//! Central ingest throughput per node, on SQLite and on PostgreSQL, through real HTTP with
//! signed requests. Prints a table; the baseline is the same central taking one event per
//! request, measured in the same run.
//!
//! cargo bench -p central --bench ingest -- [--kiosks 16] [--batches 20] [--batch-size 500]
//! PostgreSQL is measured when KIOSK_TEST_PG_URL is set (eval "$(.ci/start-postgres)").
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use central::Store;
use ed25519_dalek::SigningKey;
use kiosk_api::{EnrolRequest, Enrolment, Event, EventBatch, Stream, keys, routes};
use uuid::Uuid;

struct Options {
    kiosks: usize,
    batches: usize,
    batch_size: usize,
    naive_requests: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Options {
        kiosks: get("--kiosks", 16),
        batches: get("--batches", 20),
        batch_size: get("--batch-size", 500),
        naive_requests: get("--naive-requests", 100),
    }
}

struct Client {
    key: SigningKey,
    id: Uuid,
    base: String,
    http: reqwest::Client,
    next_seq: u64,
}

impl Client {
    async fn send(&mut self, n: usize) {
        let events: Vec<Event> = (0..n)
            .map(|_| {
                self.next_seq += 1;
                Event {
                    event_id: Uuid::now_v7(),
                    seq: self.next_seq,
                    // A kind central stores without projecting: this measures the uplink
                    // itself, not the projections (which refuse or apply per event).
                    stream: Stream::Telemetry,
                    kind: "screen_shown".into(),
                    priority: 1,
                    occurred_at: chrono::Utc::now(),
                    payload: serde_json::json!({"screen": format!("take_number_{:03}", self.next_seq % 1000), "window": "A区 1-6号窗口"}),
                    attachments: vec![],
                }
            })
            .collect();
        let body = serde_json::to_vec(&EventBatch { events }).unwrap();
        let h = kiosk_api::sign_request(
            &self.key,
            self.id,
            "POST",
            routes::EVENTS,
            &body,
            chrono::Utc::now().timestamp(),
        );
        let mut r = self
            .http
            .post(format!("{}{}", self.base, routes::EVENTS))
            .body(body);
        for (name, value) in h.pairs() {
            r = r.header(name, value);
        }
        let response = r.send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }
}

async fn fresh_postgres(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let name = format!("central_bench_{}", std::process::id());
    let pool = sqlx::AnyPool::connect(base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    format!("{}/{name}", base.rsplit_once('/').unwrap().0)
}

/// Returns (events, elapsed) for `per_kiosk_requests` requests of `size` events from each kiosk.
async fn run(db: &str, o: &Options, per_kiosk_requests: usize, size: usize) -> (usize, Duration) {
    let store = Store::open(db).await.unwrap();
    let ops = keys::generate();
    store
        .set_ops_public_key(&keys::public_key_to_base64(&ops.verifying_key()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let keys_dir = tempfile::tempdir().unwrap();
    let keys_file = keys_dir.path().join("holder.keys");
    central::holder_keys::generate(&keys_file, "bench").unwrap();
    let keys = central::holder_keys::HolderKeySource::open(&keys_file).unwrap();
    // The benchmark measures the uplink, not the per-kiosk quotas that hold back a runaway
    // kiosk, so those are out of its way.
    let limits = central::Limits {
        events_per_minute: u32::MAX,
        requests_per_minute: u32::MAX,
        ..Default::default()
    };
    let server = tokio::spawn(central::serve_with_limits(
        store.clone(),
        keys,
        limits,
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let mut clients = Vec::new();
    for i in 0..o.kiosks {
        let token = store
            .create_token(
                &format!("hall-{}", i / 10),
                None,
                chrono::Duration::hours(1),
            )
            .await
            .unwrap();
        let key = keys::generate();
        let request = EnrolRequest {
            token: token.token,
            public_key: keys::public_key_to_base64(&key.verifying_key()),
            hostname: format!("k{i}"),
            version: "bench".into(),
        };
        let e: Enrolment = http
            .post(format!("{base}{}", routes::ENROLMENTS))
            .json(&request)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        clients.push(Client {
            key,
            id: e.kiosk_id,
            base: base.clone(),
            http: http.clone(),
            next_seq: 0,
        });
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                for _ in 0..per_kiosk_requests {
                    c.send(size).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let stats = store.stats().await.unwrap();
    let expected = o.kiosks * per_kiosk_requests * size;
    assert_eq!(stats.total_events as usize, expected);
    assert_eq!(stats.total_missing, 0);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    store.close().await;
    (expected, elapsed)
}

#[tokio::main]
async fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![(
        "sqlite",
        dir.path().join("bench.db").display().to_string(),
        dir.path().join("naive.db").display().to_string(),
    )];
    match std::env::var("KIOSK_TEST_PG_URL") {
        Ok(base) if !base.is_empty() => {
            let batched = fresh_postgres(&base).await;
            let naive = format!("{batched}_naive");
            let pool = sqlx::AnyPool::connect(&base).await.unwrap();
            let name = naive.rsplit_once('/').unwrap().1.to_owned();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .execute(&pool)
            .await
            .unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            backends.push(("postgres", batched, naive));
        }
        _ => eprintln!(
            "KIOSK_TEST_PG_URL not set: PostgreSQL not measured (eval \"$(.ci/start-postgres)\")"
        ),
    }
    println!(
        "central ingest, one node, {} kiosks sending concurrently over HTTP (signed), {} cores",
        o.kiosks,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<10} {:<22} {:>9} {:>9} {:>11} {:>9}",
        "backend", "mode", "events", "seconds", "events/s", "ratio"
    );
    let mut baseline = None;
    for (name, batched_db, naive_db) in backends {
        let (n, t) = run(&naive_db, &o, o.naive_requests, 1).await;
        let naive_rate = n as f64 / t.as_secs_f64();
        let base = *baseline.get_or_insert(naive_rate);
        println!(
            "{:<10} {:<22} {:>9} {:>9.2} {:>11.0} {:>8.2}x",
            name,
            "1 event/request",
            n,
            t.as_secs_f64(),
            naive_rate,
            naive_rate / base
        );
        let (n, t) = run(&batched_db, &o, o.batches, o.batch_size).await;
        let rate = n as f64 / t.as_secs_f64();
        println!(
            "{:<10} {:<22} {:>9} {:>9.2} {:>11.0} {:>8.2}x",
            name,
            format!("{} events/request", o.batch_size),
            n,
            t.as_secs_f64(),
            rate,
            rate / base
        );
    }
    println!("ratio: against sqlite at 1 event/request, measured in this run");
}
