//! Test harness: a real central on a real database (a SQLite file, and PostgreSQL when
//! KIOSK_TEST_PG_URL is set), reached over real HTTP.
#![allow(dead_code)]

pub mod browser;
pub mod chrome;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use central::Store;
use ed25519_dalek::SigningKey;
use kiosk_api::{EnrolRequest, Enrolment, Event, Stream, keys};
use uuid::Uuid;

/// One database to run a story against.
pub struct TestDb {
    pub url: String,
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
}

static PG_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh SQLite file, and a fresh PostgreSQL database when KIOSK_TEST_PG_URL is set.
/// Without it the PostgreSQL half is skipped loudly, or fails when CI=true.
pub async fn databases() -> Vec<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = TestDb {
        url: dir.path().join("central.db").display().to_string(),
        name: "sqlite",
        _dir: Some(dir),
    };
    let mut dbs = vec![sqlite];
    match std::env::var("KIOSK_TEST_PG_URL") {
        Ok(base) if !base.is_empty() => dbs.push(fresh_postgres(&base).await),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "KIOSK_TEST_PG_URL is not set but CI=true: start PostgreSQL with `eval \"$(.ci/start-postgres)\"`"
                );
            }
            eprintln!(
                "\n!!!! SKIPPING the PostgreSQL half of this test: KIOSK_TEST_PG_URL is not set.\n!!!! Run `eval \"$(.ci/start-postgres)\"` first to test both backends.\n"
            );
        }
    }
    dbs
}

async fn fresh_postgres(base: &str) -> TestDb {
    sqlx::any::install_default_drivers();
    let name = format!(
        "central_t{}_{}_{}",
        std::process::id(),
        PG_COUNTER.fetch_add(1, Ordering::SeqCst),
        rand::random::<u32>()
    );
    let pool = sqlx::AnyPool::connect(base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (prefix, _) = base.rsplit_once('/').unwrap();
    TestDb {
        url: format!("{prefix}/{name}"),
        name: "postgres",
        _dir: None,
    }
}

/// A holder key file of one fresh key in `dir`, as `central holder-keys generate` makes it.
pub fn holder_key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("holder.keys");
    central::holder_keys::generate(&path, "test1").unwrap();
    path
}

/// A central serving on 127.0.0.1 with an ops key it trusts and a holder key file.
pub struct Central {
    pub store: Store,
    pub base: String,
    pub ops: SigningKey,
    pub http: reqwest::Client,
    /// Its holder key file.
    pub holder_keys: std::path::PathBuf,
    _keys_dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Central {
    pub async fn start(db: &TestDb) -> Central {
        Central::start_with(db, central::Limits::default()).await
    }

    /// A central serving under `limits`.
    pub async fn start_with(db: &TestDb, limits: central::Limits) -> Central {
        let store = Store::open(&db.url).await.unwrap();
        let ops = keys::generate();
        store
            .set_ops_public_key(&keys::public_key_to_base64(&ops.verifying_key()))
            .await
            .unwrap();
        let keys_dir = tempfile::tempdir().unwrap();
        let holder_keys = holder_key_file(keys_dir.path());
        let source = central::holder_keys::HolderKeySource::open(&holder_keys).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn({
            let store = store.clone();
            async move {
                central::serve_with_limits(store, source, limits, listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            }
        });
        Central {
            store,
            base,
            ops,
            http: reqwest::Client::new(),
            holder_keys,
            _keys_dir: keys_dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// The current holder key.
    pub fn holder_key(&self) -> kiosk_api::citizen::HolderKey {
        central::holder_keys::load(&self.holder_keys).unwrap().keys[0].clone()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.store.close().await;
    }

    pub async fn token(&self, hall: &str) -> String {
        self.store
            .create_token(
                hall,
                Some("东城区政务服务中心"),
                chrono::Duration::hours(24),
            )
            .await
            .unwrap()
            .token
    }

    pub async fn enrol_raw(&self, token: &str, key: &SigningKey) -> reqwest::Response {
        let body = EnrolRequest {
            token: token.to_owned(),
            public_key: keys::public_key_to_base64(&key.verifying_key()),
            hostname: "kiosk-a".into(),
            version: "0.1.0".into(),
        };
        self.http
            .post(format!("{}{}", self.base, kiosk_api::routes::ENROLMENTS))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A freshly enrolled kiosk of hall `dongcheng-main`.
    pub async fn kiosk(&self) -> Kiosk {
        let token = self.token("dongcheng-main").await;
        self.enrol_with(&token).await
    }

    /// A freshly enrolled kiosk of `hall` (made, as 西城区政务服务中心, if new).
    pub async fn kiosk_of_hall(&self, hall: &str) -> Kiosk {
        let token = self
            .store
            .create_token(hall, Some("西城区政务服务中心"), chrono::Duration::hours(1))
            .await
            .unwrap()
            .token;
        self.enrol_with(&token).await
    }

    async fn enrol_with(&self, token: &str) -> Kiosk {
        Kiosk::enrol(&self.base, &self.http, token).await
    }
}

/// The `central` binary of this crate.
pub const BIN: &str = env!("CARGO_BIN_EXE_central");

/// A `central serve` process on 127.0.0.1 and its base URL; SIGTERM stops it, dropping it
/// kills it.
pub struct Server(pub Child, pub String);

impl Server {
    pub fn start(db: &str, holder_keys: &str) -> Server {
        Server::start_with(db, holder_keys, &[])
    }

    /// Serving with `extra` arguments after the usual ones.
    pub fn start_with(db: &str, holder_keys: &str, extra: &[&str]) -> Server {
        Server::start_with_env(db, holder_keys, extra, &[])
    }

    /// Serving with `extra` arguments and these environment variables.
    pub fn start_with_env(
        db: &str,
        holder_keys: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
            .args(["--holder-keys", holder_keys])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("central listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Server(child, format!("http://{addr}"))
    }

    pub fn stop(mut self) {
        nix_kill(self.0.id(), "TERM");
        let status = self.0.wait().unwrap();
        assert!(
            status.success(),
            "central did not stop cleanly on SIGTERM: {status}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn nix_kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// The kiosk side of the contract, as the sync client will do it.
pub struct Kiosk {
    pub key: SigningKey,
    pub enrolment: Enrolment,
    pub base: String,
    pub http: reqwest::Client,
    pub clock_skew: i64,
}

impl Kiosk {
    /// A kiosk with a fresh key, enrolled with `token` at the central serving on `base`.
    pub async fn enrol(base: &str, http: &reqwest::Client, token: &str) -> Kiosk {
        let key = keys::generate();
        let body = EnrolRequest {
            token: token.to_owned(),
            public_key: keys::public_key_to_base64(&key.verifying_key()),
            hostname: "kiosk-a".into(),
            version: "0.1.0".into(),
        };
        let response = http
            .post(format!("{base}{}", kiosk_api::routes::ENROLMENTS))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let enrolment: Enrolment = response.json().await.unwrap();
        Kiosk {
            key,
            enrolment,
            base: base.to_owned(),
            http: http.clone(),
            clock_skew: 0,
        }
    }

    pub fn id(&self) -> Uuid {
        self.enrolment.kiosk_id
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let now = chrono::Utc::now().timestamp() + self.clock_skew;
        let headers =
            kiosk_api::sign_request(&self.key, self.id(), method.as_str(), path, &body, now);
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        request
    }

    pub async fn post_events(&self, events: &[Event]) -> reqwest::Response {
        let body = serde_json::to_vec(&kiosk_api::EventBatch {
            events: events.to_vec(),
        })
        .unwrap();
        self.request(reqwest::Method::POST, kiosk_api::routes::EVENTS, body)
            .send()
            .await
            .unwrap()
    }
}

/// An event with sequence number `seq`.
pub fn event(seq: u64, stream: Stream, kind: &str) -> Event {
    Event {
        event_id: Uuid::now_v7(),
        seq,
        stream,
        kind: kind.into(),
        priority: 1,
        occurred_at: chrono::Utc::now(),
        payload: serde_json::json!({"number": format!("A{seq:03}"), "window": "A区 3号窗口"}),
        attachments: vec![],
    }
}

pub fn sample_catalog() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../journeys/data/catalog.sample.json");
    std::fs::read(&path).unwrap_or_else(|e| panic!("sample catalog {}: {e}", path.display()))
}

/// Today's business date in the hall.
pub fn today() -> chrono::NaiveDate {
    kiosk_api::citizen::business_date_at(chrono::Utc::now())
}

/// The next event of a kiosk: its own sequence counter, a fresh event id.
pub struct Outbox {
    seq: u64,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox { seq: 0 }
    }

    /// `payload` as this kiosk's next event.
    pub fn event<T: kiosk_api::citizen::CitizenEvent>(&mut self, payload: &T) -> Event {
        self.seq += 1;
        Event {
            event_id: Uuid::now_v7(),
            seq: self.seq,
            stream: T::STREAM,
            kind: T::KIND.into(),
            priority: 1,
            occurred_at: chrono::Utc::now(),
            payload: payload.to_payload(),
            attachments: vec![],
        }
    }
}

/// Sends `events` as one batch and returns central's answer to each.
pub async fn acked(kiosk: &Kiosk, events: &[Event]) -> Vec<kiosk_api::EventOutcome> {
    let response = kiosk.post_events(events).await;
    assert_eq!(response.status(), 200);
    let ack: kiosk_api::BatchAck = response.json().await.unwrap();
    ack.results.into_iter().map(|r| r.outcome).collect()
}

/// A database made ready for real `central serve` processes: an ops key trusted, an
/// enrolment token for hall dongcheng-main, and a holder-key file in a folder of its own.
pub struct ServeSetup {
    pub store: Store,
    pub token: String,
    pub holder_keys: String,
    _dir: tempfile::TempDir,
}

pub async fn serve_setup(db: &TestDb) -> ServeSetup {
    let dir = tempfile::tempdir().unwrap();
    let holder_keys = holder_key_file(dir.path()).to_str().unwrap().to_owned();
    let store = Store::open(&db.url).await.unwrap();
    let ops = keys::generate();
    store
        .set_ops_public_key(&keys::public_key_to_base64(&ops.verifying_key()))
        .await
        .unwrap();
    let token = store
        .create_token("dongcheng-main", None, chrono::Duration::hours(1))
        .await
        .unwrap()
        .token;
    ServeSetup {
        store,
        token,
        holder_keys,
        _dir: dir,
    }
}

/// Uploads `bytes` as `kiosk`'s attachment in one chunk, or only the first `len` bytes of it
/// (an upload left incomplete); returns its sha256.
pub async fn upload_attachment(kiosk: &Kiosk, bytes: &[u8], len: usize) -> String {
    use sha2::Digest as _;
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    let response = kiosk
        .request(
            reqwest::Method::PUT,
            &kiosk_api::routes::attachment(&sha),
            bytes[..len].to_vec(),
        )
        .header(kiosk_api::routes::HEADER_UPLOAD_OFFSET, "0")
        .header(
            kiosk_api::routes::HEADER_UPLOAD_LENGTH,
            bytes.len().to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "upload: {}",
        response.status()
    );
    sha
}
