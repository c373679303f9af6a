//! Issue 17 (trust), central's side, told as attacks a kiosk or a stranger could try against a
//! real central on 127.0.0.1, with real kiosk keys and real signatures. Each test says what
//! must happen and checks it, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use central::store::{BundleFetch, PublishOutcome};
use common::{Central, Kiosk, Outbox, acked, databases, today};
use kiosk_api::citizen::{HelpRequested, Lease, TicketIssued, TicketPriority, ticket_no};
use kiosk_api::{ApiError, EventOutcome, SignedBundle, reject_reason, routes};
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use uuid::Uuid;

/// A kiosk of one hall must never get another hall's bundle (a config bundle carries the
/// technician PIN's hash): 403 with the reason. Its own hall's kiosks get it, and publishing
/// the same bundle to the same hall again binds it once.
#[tokio::test]
async fn another_halls_bundle_is_refused_with_403() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let ours = central.kiosk().await;
        let theirs = central.kiosk_of_hall("xicheng-main").await;
        let config = br#"{"technician": {"pin_hash": "argon2id-of-the-pin"}}"#;
        let bundle = kiosk_api::sign_bundle(&central.ops, "config", "2026-12-03.1", config);
        let first = central
            .store
            .publish("dongcheng-main", &bundle)
            .await
            .unwrap();
        assert_eq!(first, PublishOutcome::Published);
        let again = central
            .store
            .publish("dongcheng-main", &bundle)
            .await
            .unwrap();
        assert_eq!(again, PublishOutcome::AlreadyPublished, "{}", db.name);
        assert_eq!(
            central
                .store
                .bundle_halls("config", "2026-12-03.1")
                .await
                .unwrap(),
            ["dongcheng-main"],
            "{}: publishing twice binds once",
            db.name
        );

        let path = routes::bundle("config", "2026-12-03.1");
        let stolen = theirs
            .request(Method::GET, &path, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(stolen.status(), 403, "{}", db.name);
        let error: ApiError = stolen.json().await.unwrap();
        assert_eq!(error.error, central::http::code::FORBIDDEN);
        assert!(
            error
                .message
                .contains("not published for hall xicheng-main"),
            "{}: {}",
            db.name,
            error.message
        );
        assert!(!error.message.contains("pin_hash"));

        let own = ours
            .request(Method::GET, &path, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), 200, "{}", db.name);
        let signed: SignedBundle = own.json().await.unwrap();
        assert_eq!(signed, bundle);

        // Published for the other hall too, the same bytes reach both halls.
        let shared = central
            .store
            .publish("xicheng-main", &bundle)
            .await
            .unwrap();
        assert_eq!(shared, PublishOutcome::AlreadyPublished);
        let now_theirs = theirs
            .request(Method::GET, &path, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(now_theirs.status(), 200, "{}", db.name);
        central.stop().await;
    }
}

/// Bundles published before hall binding existed stay fetchable by the halls told to run
/// them (the migration binds each hall to its desired bundles), and by no other hall.
#[tokio::test]
async fn bundles_from_before_the_upgrade_stay_bound_to_the_halls_that_run_them() {
    for db in databases().await {
        // A database as the release before this one left it: migrations 1 to 4.
        sqlx::any::install_default_drivers();
        let (backend, url) = central::store::database_url(&db.url);
        let dialect = match backend {
            central::Backend::Sqlite => "sqlite",
            central::Backend::Postgres => "postgres",
        };
        let old = tempfile::tempdir().unwrap();
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        for name in [
            "0001_init.sql",
            "0002_citizen.sql",
            "0003_ops.sql",
            "0004_fleet_records.sql",
        ] {
            std::fs::copy(shipped.join(name), old.path().join(name)).unwrap();
        }
        let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        for (code, hall) in [(1i64, "dongcheng-main"), (2, "xicheng-main")] {
            sqlx::query(
                "INSERT INTO halls (id, name, created_at, hall_code) VALUES ($1, $1, 1, $2)",
            )
            .bind(hall)
            .bind(code)
            .execute(&pool)
            .await
            .unwrap();
        }
        for version in ["old.1", "old.2"] {
            sqlx::query("INSERT INTO bundles (kind, version, payload, sha256, signature, key_id, published_at) VALUES ('config', $1, $2, 'x', 'x', 'x', 1)")
                .bind(version)
                .bind(b"{}".to_vec())
                .execute(&pool)
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO desired (hall_id, kind, version, updated_at) VALUES ('dongcheng-main', 'config', 'old.2', 2)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;

        let store = central::Store::open(&db.url).await.unwrap();
        assert_eq!(
            store.bundle_halls("config", "old.2").await.unwrap(),
            ["dongcheng-main"],
            "{}",
            db.name
        );
        assert!(
            store
                .bundle_halls("config", "old.1")
                .await
                .unwrap()
                .is_empty(),
            "{}: a bundle no hall runs is bound to none",
            db.name
        );
        let fetch = |hall: &'static str| store.bundle_for_hall("config", "old.2", hall);
        assert!(matches!(
            fetch("dongcheng-main").await.unwrap(),
            BundleFetch::Found(_)
        ));
        assert_eq!(fetch("xicheng-main").await.unwrap(), BundleFetch::OtherHall);
        store.close().await;
    }
}

async fn lease(kiosk: &Kiosk, body: serde_json::Value) -> reqwest::Response {
    kiosk
        .request(
            Method::POST,
            routes::QUEUE_LEASES,
            serde_json::to_vec(&body).unwrap(),
        )
        .send()
        .await
        .unwrap()
}

async fn leased(kiosk: &Kiosk, count: u32) -> Lease {
    let response = lease(
        kiosk,
        json!({"category": "A", "business_date": today(), "count": count}),
    )
    .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// One kiosk cannot drain a category: beyond `--lease-cap` unused numbers it is refused with
/// 429 and the reason, while the hall's other kiosks still get numbers. Numbers it issues
/// make room again.
#[tokio::test]
async fn a_kiosk_draining_leases_stops_at_the_cap_and_others_still_lease() {
    for db in databases().await {
        let limits = central::Limits {
            lease_cap: 30,
            ..Default::default()
        };
        let central = Central::start_with(&db, limits).await;
        let greedy = central.kiosk().await;
        let other = central.kiosk().await;

        let a = leased(&greedy, 20).await;
        assert_eq!((a.first, a.last), (1, 20), "{}", db.name);
        // Asking past the cap gets only what fits under it.
        let b = leased(&greedy, 20).await;
        assert_eq!((b.first, b.last), (21, 30), "{}", db.name);
        let refused = lease(
            &greedy,
            json!({"category": "A", "business_date": today(), "count": 1}),
        )
        .await;
        assert_eq!(refused.status(), 429, "{}", db.name);
        let error: ApiError = refused.json().await.unwrap();
        assert_eq!(error.error, central::http::code::TOO_MANY);
        assert!(
            error.message.contains("already holds 30 unused") && error.message.contains("is 30"),
            "{}",
            error.message
        );
        // The cap is per category: another letter is still open to it.
        let other_letter = lease(
            &greedy,
            json!({"category": "B", "business_date": today(), "count": 5}),
        )
        .await;
        assert_eq!(other_letter.status(), 201);

        let theirs = leased(&other, 20).await;
        assert_eq!((theirs.first, theirs.last), (31, 50), "{}", db.name);

        // One ticket issued from its block: one number of room again.
        let mut outbox = Outbox::new();
        let ticket = TicketIssued {
            ticket_no: ticket_no("A", 1),
            category: "A".into(),
            number: 1,
            business_date: today(),
            priority: TicketPriority::Normal,
            source: format!("lease:{}", a.lease_id),
            issued_at: chrono::Utc::now(),
            holder_hash: None,
            appointment_id: None,
            unconfirmed: false,
            live_token: None,
        };
        assert_eq!(
            acked(&greedy, &[outbox.event(&ticket)]).await,
            [EventOutcome::Stored]
        );
        let again = leased(&greedy, 5).await;
        assert_eq!((again.first, again.last), (51, 51), "{}", db.name);
        central.stop().await;
    }
}

/// A lease request retried with the same request_id (its answer was lost) gets the same
/// block, so nothing leaks; without a request_id every request is a new block, as before.
#[tokio::test]
async fn a_retried_lease_with_the_same_request_id_gets_the_same_block() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let other = central.kiosk().await;
        let request_id = Uuid::new_v4();
        let body = json!({"category": "A", "business_date": today(), "count": 10, "request_id": request_id});

        let first: Lease = lease(&kiosk, body.clone()).await.json().await.unwrap();
        let retried = lease(&kiosk, body.clone()).await;
        assert_eq!(retried.status(), 201, "{}", db.name);
        let retried: Lease = retried.json().await.unwrap();
        assert_eq!(retried, first, "{}: the retry gets the same block", db.name);

        // The counter did not move for the retry.
        let next = leased(&kiosk, 1).await;
        assert_eq!(next.first, first.last + 1, "{}", db.name);

        // Request ids are the kiosk's own: another kiosk's same id is its own new request.
        let theirs: Lease = lease(&other, body.clone()).await.json().await.unwrap();
        assert_ne!(theirs.lease_id, first.lease_id);
        assert_eq!(theirs.first, next.last + 1);

        // The same id for something else is a kiosk bug, said so, and leases nothing.
        let changed = lease(
            &kiosk,
            json!({"category": "B", "business_date": today(), "count": 10, "request_id": request_id}),
        )
        .await;
        assert_eq!(changed.status(), 422, "{}", db.name);
        let error: ApiError = changed.json().await.unwrap();
        assert!(error.message.contains("already used"), "{}", error.message);

        // Without an id, two identical requests are two blocks.
        let plain = json!({"category": "C", "business_date": today(), "count": 3});
        let one: Lease = lease(&kiosk, plain.clone()).await.json().await.unwrap();
        let two: Lease = lease(&kiosk, plain).await.json().await.unwrap();
        assert_eq!((one.first, two.first), (1, 4), "{}", db.name);

        // A retry racing its first attempt (the kiosk timed out and sent again at once): four
        // at once with one id, on a category nobody leased yet, make one block.
        let kiosk = std::sync::Arc::new(kiosk);
        let raced = json!({"category": "D", "business_date": today(), "count": 7, "request_id": Uuid::new_v4()});
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let (kiosk, body) = (kiosk.clone(), raced.clone());
            tasks.spawn(async move {
                let response = lease(&kiosk, body).await;
                assert_eq!(response.status(), 201);
                response.json::<Lease>().await.unwrap()
            });
        }
        let mut blocks = Vec::new();
        while let Some(done) = tasks.join_next().await {
            blocks.push(done.unwrap());
        }
        assert!(
            blocks.iter().all(|b| *b == blocks[0]),
            "{}: {blocks:?}",
            db.name
        );
        assert_eq!((blocks[0].first, blocks[0].last), (1, 7));
        let after = lease(
            &kiosk,
            json!({"category": "D", "business_date": today(), "count": 1}),
        )
        .await;
        let after: Lease = after.json().await.unwrap();
        assert_eq!(after.first, 8, "{}: one block was leased", db.name);
        central.stop().await;
    }
}

/// `central.base` as a socket address; every test here talks to 127.0.0.1 only.
fn local_addr(central: &Central) -> String {
    let addr = central.base.trim_start_matches("http://").to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    addr
}

/// Sends `head` and then trickles a byte every 100 ms while reading the answer, for at most
/// `patience`. Returns what central answered and whether it closed the connection by then.
async fn trickle(addr: &str, head: String, patience: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let until = Instant::now() + patience;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&answer).into_owned(), true),
            Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
            // Central closing its side makes this write fail; the read above then says so.
            Err(_) => {
                let _ = stream.write_all(b" ").await;
            }
        }
    }
    (String::from_utf8_lossy(&answer).into_owned(), false)
}

/// 150 unauthenticated POSTs announcing a 4 MB body and trickling it are each refused at
/// once (401, or 503 when more are in flight than central takes) without central reading the
/// body, and their connections are closed within seconds, not held for 15 s.
#[tokio::test]
async fn unauthenticated_trickling_posts_are_refused_at_once_and_closed() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let addr = local_addr(&central);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..150 {
            let addr = addr.clone();
            let head = format!(
                "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n{{",
                routes::EVENTS
            );
            tasks.spawn(async move { trickle(&addr, head, Duration::from_secs(8)).await });
        }
        let mut statuses = BTreeMap::new();
        while let Some(done) = tasks.join_next().await {
            let (answer, closed) = done.unwrap();
            let status = answer.get(9..12).unwrap_or("none").to_owned();
            assert!(
                status == "401" || status == "503",
                "{}: answered {answer:?}",
                db.name
            );
            assert!(closed, "{}: connection still open after 8 s", db.name);
            *statuses.entry(status).or_insert(0) += 1;
        }
        let took = started.elapsed();
        eprintln!("{}: {statuses:?} in {took:?}", db.name);
        assert!(took < Duration::from_secs(8), "{}: took {took:?}", db.name);
        // And central still serves its kiosks.
        let kiosk = central.kiosk().await;
        let r = kiosk
            .request(Method::GET, routes::DESIRED_STATE, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        central.stop().await;
    }
}

/// A body that trickles from an enrolled kiosk (signed headers, so central must read it to
/// check the signature) is dropped with 408 at `--body-timeout` and its connection closed.
#[tokio::test]
async fn a_slow_body_is_dropped_at_the_body_timeout() {
    for db in databases().await {
        let limits = central::Limits {
            body_timeout: Duration::from_secs(2),
            ..Default::default()
        };
        let central = Central::start_with(&db, limits).await;
        let kiosk = central.kiosk().await;
        let addr = local_addr(&central);
        let body = vec![b' '; 1_000_000];
        let now = chrono::Utc::now().timestamp();
        let signed =
            kiosk_api::sign_request(&kiosk.key, kiosk.id(), "POST", routes::EVENTS, &body, now);
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            routes::EVENTS,
            body.len()
        );
        for (name, value) in signed.pairs() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let started = Instant::now();
        let (answer, closed) = trickle(&addr, head, Duration::from_secs(8)).await;
        let took = started.elapsed();
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "{}: {answer:?}",
            db.name
        );
        assert!(answer.contains("within 2 s"), "{answer}");
        assert!(closed, "{}", db.name);
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(5),
            "{}: {took:?}",
            db.name
        );
        central.stop().await;
    }
}

/// Beyond `--max-in-flight` requests at once, more are refused with 503 at once rather than
/// queued (each would hold a connection and possibly a 4 MiB body).
#[tokio::test]
async fn requests_beyond_the_in_flight_cap_are_refused_at_once() {
    for db in databases().await {
        let limits = central::Limits {
            max_in_flight: 2,
            body_timeout: Duration::from_secs(3),
            ..Default::default()
        };
        let central = Central::start_with(&db, limits).await;
        let kiosk = central.kiosk().await;
        let addr = local_addr(&central);
        // Two signed requests whose bodies never come hold both places.
        let mut holders = Vec::new();
        for _ in 0..2 {
            let now = chrono::Utc::now().timestamp();
            let signed =
                kiosk_api::sign_request(&kiosk.key, kiosk.id(), "POST", routes::EVENTS, b"{}", now);
            let mut head = format!(
                "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000\r\n",
                routes::EVENTS
            );
            for (name, value) in signed.pairs() {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            stream.write_all(head.as_bytes()).await.unwrap();
            holders.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let busy = kiosk
            .request(Method::GET, routes::DESIRED_STATE, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(busy.status(), 503, "{}", db.name);
        assert!(started.elapsed() < Duration::from_secs(1));
        let error: ApiError = busy.json().await.unwrap();
        assert_eq!(error.error, central::http::code::BUSY);
        // Once the holders are dropped at the body timeout, central serves again.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let served = kiosk
            .request(Method::GET, routes::DESIRED_STATE, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(served.status(), 200, "{}", db.name);
        drop(holders);
        central.stop().await;
    }
}

/// One kiosk cannot flood the help desk: beyond `--help-per-minute` its new help requests are
/// answered `central_busy` (retryable: the kiosk keeps them and sends them again later) and
/// not stored; a resent one central has is still `duplicate`, and other kiosks are not held.
#[tokio::test]
async fn help_requests_beyond_the_per_kiosk_rate_wait_at_the_kiosk() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let noisy = central.kiosk().await;
        let quiet = central.kiosk().await;
        let mut outbox = Outbox::new();
        let help = |page: &str| HelpRequested {
            page: page.into(),
            language: kiosk_api::citizen::Language::Zh,
            at: chrono::Utc::now(),
        };
        let batch: Vec<_> = (0..8)
            .map(|i| outbox.event(&help(&format!("p{i}"))))
            .collect();
        let outcomes = acked(&noisy, &batch).await;
        assert_eq!(outcomes[..6], vec![EventOutcome::Stored; 6], "{}", db.name);
        for o in &outcomes[6..] {
            match o {
                EventOutcome::Rejected { reason, detail } => {
                    assert_eq!(reason, reject_reason::CENTRAL_BUSY);
                    assert!(reject_reason::is_retryable(reason));
                    assert!(detail.as_deref().unwrap_or("").contains("6 help requests"));
                }
                other => panic!("{}: not held back: {other:?}", db.name),
            }
        }
        assert_eq!(central.store.help_requests(true).await.unwrap().len(), 6);
        // A resend of one already stored is a duplicate, not a new request.
        assert_eq!(
            acked(&noisy, &batch[..1]).await,
            [EventOutcome::Duplicate],
            "{}",
            db.name
        );
        let mut theirs = Outbox::new();
        assert_eq!(
            acked(&quiet, &[theirs.event(&help("home"))]).await,
            [EventOutcome::Stored]
        );
        central.stop().await;
    }
}

/// The console's sign-in form as a script would post it: the double-submit token is any
/// value the poster puts in both the cookie and the form.
async fn console_login(http: &reqwest::Client, base: &str, user: &str, password: &str) -> u16 {
    let token = hex::encode(rand::random::<[u8; 32]>());
    http.post(format!("{base}/console/login"))
        .header(
            "cookie",
            format!("{}={token}", central::console::LOGIN_COOKIE),
        )
        .form(&[("user", user), ("password", password), ("csrf", &token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A login flood with random names leaves the throttling table bounded (a row per console
/// user plus a fixed number of shared buckets; nothing grows in memory either), and does not
/// lock out the real user.
#[tokio::test]
async fn a_login_flood_with_random_names_leaves_throttling_bounded() {
    for db in databases().await {
        let central = Central::start(&db).await;
        central
            .store
            .add_console_user("ops", "correct horse battery", central::store::Role::Admin)
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        const NAMES: usize = 400;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..16 {
            let (http, base) = (http.clone(), central.base.clone());
            tasks.spawn(async move {
                for i in (worker..NAMES).step_by(16) {
                    let name = format!("guess-{i}-{}", Uuid::new_v4());
                    assert_eq!(console_login(&http, &base, &name, "password1").await, 401);
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let rows = central.store.login_throttle_rows().await.unwrap();
        eprintln!(
            "{}: {NAMES} names in {:?}, {rows} throttling rows",
            db.name,
            started.elapsed()
        );
        assert!(
            rows <= 1 + i64::from(central::store::UNKNOWN_NAME_BUCKETS),
            "{}: {rows} rows",
            db.name
        );
        assert!(rows < NAMES as i64, "{}: names share rows", db.name);
        assert_eq!(
            console_login(&http, &central.base, "ops", "correct horse battery").await,
            303,
            "{}: the real user still signs in",
            db.name
        );
        central.stop().await;
    }
}

/// Two `central serve` processes on one database (PostgreSQL in production) count failed
/// logins together: four wrong guesses on one node and one on the other lock the name on
/// both, while another user still signs in on either.
#[tokio::test]
async fn two_nodes_on_one_database_share_login_throttling() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let holder_keys = common::holder_key_file(dir.path());
        let holder_keys = holder_keys.to_str().unwrap();
        let store = central::Store::open(&db.url).await.unwrap();
        for user in ["ops-wu", "ops-li"] {
            store
                .add_console_user(user, "correct horse battery", central::store::Role::Admin)
                .await
                .unwrap();
        }
        let a = common::Server::start(&db.url, holder_keys);
        let b = common::Server::start(&db.url, holder_keys);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for _ in 0..4 {
            assert_eq!(console_login(&http, &a.1, "ops-wu", "guess").await, 401);
        }
        assert_eq!(console_login(&http, &b.1, "ops-wu", "guess").await, 401);
        for node in [&a.1, &b.1] {
            assert_eq!(
                console_login(&http, node, "ops-wu", "correct horse battery").await,
                401,
                "{}: locked on every node",
                db.name
            );
            assert_eq!(
                console_login(&http, node, "ops-li", "correct horse battery").await,
                303,
                "{}: another name is not locked",
                db.name
            );
        }
        a.stop();
        b.stop();
        store.close().await;
    }
}

/// The limit flags of `central serve` reach the limits: a real `central serve --lease-cap 3`
/// grants a kiosk 3 numbers of a category and refuses the next with 429, and a flag out of
/// range stops central at start with the reason.
#[tokio::test]
async fn the_serve_flags_set_the_limits() {
    for db in databases().await {
        let setup = common::serve_setup(&db).await;
        let (store, token) = (&setup.store, setup.token.clone());
        let holder_keys = setup.holder_keys.as_str();
        for (flag, value, said) in [
            ("--lease-cap", "0", "0 is not in 1.."),
            ("--body-timeout", "0s", "must be positive"),
            ("--max-in-flight", "0", "0 is not in 1.."),
            ("--help-per-minute", "often", "invalid digit"),
            ("--events-per-minute", "0", "0 is not in 1.."),
            ("--attachments-per-day", "0", "0 is not in 1.."),
            ("--requests-per-minute", "0", "0 is not in 1.."),
        ] {
            let out = std::process::Command::new(common::BIN)
                .args(["serve", "--db", &db.url, "--listen", "127.0.0.1:0"])
                .args(["--holder-keys", holder_keys, flag, value])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{flag} {value} was taken");
            assert!(stderr.contains(flag) && stderr.contains(said), "{stderr}");
        }

        let server = common::Server::start_with(
            &db.url,
            holder_keys,
            &[
                "--lease-cap",
                "3",
                "--body-timeout",
                "5s",
                "--max-in-flight",
                "16",
            ],
        );
        assert!(server.1.starts_with("http://127.0.0.1:"));
        let kiosk = Kiosk::enrol(&server.1, &reqwest::Client::new(), &token).await;
        let granted = leased(&kiosk, 5).await;
        assert_eq!((granted.first, granted.last), (1, 3), "{}", db.name);
        let refused = lease(
            &kiosk,
            json!({"category": "A", "business_date": today(), "count": 1}),
        )
        .await;
        assert_eq!(refused.status(), 429, "{}", db.name);
        server.stop();
        store.close().await;
    }
}

/// A signed GET of the queue state by `kiosk` at `base`: its status and error body, if any.
async fn asks(kiosk: &Kiosk, base: &str) -> (u16, Option<ApiError>) {
    let url_kiosk = Kiosk {
        key: kiosk.key.clone(),
        enrolment: kiosk.enrolment.clone(),
        base: base.to_owned(),
        http: kiosk.http.clone(),
        clock_skew: 0,
    };
    let r = url_kiosk
        .request(Method::GET, routes::QUEUE_STATE, vec![])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        r.json::<ApiError>().await.ok().filter(|_| status >= 400),
    )
}

/// A kiosk ops revoke (stolen, its key leaked) is refused on every central node within a
/// few seconds, with 403 and ops' reason, though both nodes had it cached: two `central
/// serve` processes on one database, revoked with `central kiosk revoke`. A signed POST is
/// refused before its body is read.
#[tokio::test]
async fn a_revoked_kiosk_is_refused_with_the_reason_on_every_node_within_seconds() {
    for db in databases().await {
        let setup = common::serve_setup(&db).await;
        let (store, token) = (&setup.store, setup.token.clone());
        let holder_keys = setup.holder_keys.as_str();
        let a = common::Server::start(&db.url, holder_keys);
        let b = common::Server::start(&db.url, holder_keys);
        let kiosk = Kiosk::enrol(&a.1, &reqwest::Client::new(), &token).await;
        for node in [&a.1, &b.1] {
            assert_eq!(asks(&kiosk, node).await.0, 200, "{}", db.name);
        }

        let reason = "stolen from the hall on 3 December";
        let out = std::process::Command::new(common::BIN)
            .args([
                "kiosk",
                "revoke",
                &kiosk.id().to_string(),
                "--reason",
                reason,
            ])
            .args(["--db", &db.url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let revoked_at = Instant::now();
        for node in [&a.1, &b.1] {
            let refusal = loop {
                match asks(&kiosk, node).await {
                    (403, Some(e)) => break e,
                    (200, _) if revoked_at.elapsed() < Duration::from_secs(10) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    other => panic!("{}: expected 403, got {other:?}", db.name),
                }
            };
            assert!(
                revoked_at.elapsed() <= central::http::KIOSK_CACHE_AGE + Duration::from_secs(2),
                "{}: took {:?}",
                db.name,
                revoked_at.elapsed()
            );
            assert_eq!(refusal.error, central::http::code::REVOKED);
            assert!(refusal.message.contains(reason), "{}", refusal.message);
        }
        // A POST: refused on its headers, before a body that never comes.
        let (head, closed) = trickle(
            b.1.trim_start_matches("http://"),
            signed_head(&kiosk, routes::EVENTS, 4 * 1024 * 1024),
            Duration::from_secs(5),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 403"), "{}: {head}", db.name);
        assert!(closed, "{}", db.name);
        // Revoking again keeps the first revocation.
        let again = store
            .revoke_kiosk(&kiosk.id().to_string(), "another reason")
            .await
            .unwrap();
        match again {
            central::store::Revoked::Already(r) => assert_eq!(r.reason, reason),
            other => panic!("{other:?}"),
        }
        a.stop();
        b.stop();
        store.close().await;
    }
}

/// The head of a signed POST of `path` announcing `length` body bytes that are never sent.
fn signed_head(kiosk: &Kiosk, path: &str, length: usize) -> String {
    let signed = kiosk_api::sign_request(
        &kiosk.key,
        kiosk.id(),
        "POST",
        path,
        b"",
        chrono::Utc::now().timestamp(),
    );
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n"
    );
    for (name, value) in signed.pairs() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Revoking a kiosk gives its offline band back to its hall: a full hall (ten bands) takes
/// a new kiosk again, on the revoked kiosk's band. Re-provisioning a kiosk (a token made for
/// it, a new key) keeps its record: same id, number and band, no new row, and its old key
/// no longer signs for it; a re-provisioned revoked kiosk is served again.
#[tokio::test]
async fn revocation_frees_the_band_and_reprovisioning_replaces_the_record() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let mut kiosks = Vec::new();
        for _ in 0..10 {
            kiosks.push(central.kiosk().await);
        }
        let token = central.token("dongcheng-main").await;
        let full = central
            .enrol_raw(&token, &kiosk_api::keys::generate())
            .await;
        assert_eq!(full.status(), 409, "{}: ten bands taken", db.name);

        let gone = &kiosks[3];
        central
            .store
            .revoke_kiosk(&gone.id().to_string(), "hardware stolen")
            .await
            .unwrap();
        let token = central.token("dongcheng-main").await;
        let newcomer = Kiosk::enrol(&central.base, &central.http, &token).await;
        assert_eq!(
            newcomer.enrolment.number_band, gone.enrolment.number_band,
            "{}: the revoked kiosk's band is reused",
            db.name
        );
        assert_ne!(newcomer.enrolment.kiosk_no, gone.enrolment.kiosk_no);

        // Kiosk 5's key leaked: revoke it, then re-provision it with a new key.
        let leaked = &kiosks[5];
        let id = leaked.id().to_string();
        central.store.revoke_kiosk(&id, "key leaked").await.unwrap();
        let rows_before = central.store.fleet().await.unwrap().len();
        let again = central
            .store
            .create_reprovision_token(&id, chrono::Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(again.hall_id, "dongcheng-main");
        let renewed = Kiosk::enrol(&central.base, &central.http, &again.token).await;
        assert_eq!(renewed.id(), leaked.id(), "{}", db.name);
        assert_eq!(renewed.enrolment.kiosk_no, leaked.enrolment.kiosk_no);
        assert_eq!(
            renewed.enrolment.number_band, leaked.enrolment.number_band,
            "{}: its band was still free, it takes it back",
            db.name
        );
        assert_eq!(central.store.fleet().await.unwrap().len(), rows_before);
        let record = central.store.fleet_kiosk(&id).await.unwrap().unwrap();
        assert!(record.revoked.is_none(), "{}", db.name);
        assert_eq!(asks(&renewed, &central.base).await.0, 200, "{}", db.name);
        let (status, _) = asks(leaked, &central.base).await;
        assert_eq!(status, 401, "{}: the old key signs for nobody", db.name);
        // The token is spent, and a key enrolled before is refused for re-provisioning.
        let reused = central.enrol_raw(&again.token, &leaked.key).await;
        assert_eq!(reused.status(), 403, "{}", db.name);
        let other = central
            .store
            .create_reprovision_token(&kiosks[6].id().to_string(), chrono::Duration::hours(1))
            .await
            .unwrap();
        let stale_key = central.enrol_raw(&other.token, &kiosks[7].key).await;
        assert_eq!(stale_key.status(), 409, "{}", db.name);
        central.stop().await;
    }
}

/// One kiosk sending more events a minute than `--events-per-minute` gets the first ones of
/// its batch stored, in order, and the rest answered `central_busy` (retryable: they wait in
/// its outbox); another kiosk is not held back by it.
#[tokio::test]
async fn events_beyond_the_per_kiosk_rate_wait_at_the_kiosk() {
    for db in databases().await {
        let limits = central::Limits {
            events_per_minute: 5,
            ..Default::default()
        };
        let central = Central::start_with(&db, limits).await;
        let noisy = central.kiosk().await;
        let quiet = central.kiosk().await;
        let batch: Vec<_> = (1..=8)
            .map(|seq| common::event(seq, kiosk_api::Stream::Telemetry, "screen_view"))
            .collect();
        let outcomes = acked(&noisy, &batch).await;
        assert_eq!(outcomes[..5], vec![EventOutcome::Stored; 5], "{}", db.name);
        for o in &outcomes[5..] {
            match o {
                EventOutcome::Rejected { reason, detail } => {
                    assert_eq!(reason, reject_reason::CENTRAL_BUSY, "{}", db.name);
                    assert!(reject_reason::is_retryable(reason));
                    assert!(
                        detail
                            .as_deref()
                            .unwrap_or("")
                            .contains("--events-per-minute")
                    );
                }
                other => panic!("{}: not held back: {other:?}", db.name),
            }
        }
        // Still within the minute: the rest waits again.
        assert!(matches!(
            acked(&noisy, &batch[5..6]).await[0],
            EventOutcome::Rejected { .. }
        ));
        let theirs: Vec<_> = (1..=5)
            .map(|seq| common::event(seq, kiosk_api::Stream::Telemetry, "screen_view"))
            .collect();
        assert_eq!(acked(&quiet, &theirs).await, vec![EventOutcome::Stored; 5]);
        central.stop().await;
    }
}

/// PUT the whole of `bytes` as one chunk (or only its first `len` bytes).
async fn upload(kiosk: &Kiosk, bytes: &[u8], len: usize) -> reqwest::Response {
    use sha2::Digest as _;
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    kiosk
        .request(
            Method::PUT,
            &routes::attachment(&sha),
            bytes[..len].to_vec(),
        )
        .header(routes::HEADER_UPLOAD_OFFSET, "0")
        .header(routes::HEADER_UPLOAD_LENGTH, bytes.len().to_string())
        .send()
        .await
        .unwrap()
}

/// A kiosk may begin `--attachments-per-day` uploads a day: the next new one is refused
/// with 429 and the reason (it waits at the kiosk), while finishing or re-sending one it
/// began still works. An upload left incomplete is dropped with its chunks once it is 24 h
/// old; complete ones stay.
#[tokio::test]
async fn uploads_beyond_the_per_kiosk_day_are_refused_and_incomplete_ones_expire() {
    for db in databases().await {
        let limits = central::Limits {
            attachments_per_day: 2,
            ..Default::default()
        };
        let central = Central::start_with(&db, limits).await;
        let kiosk = central.kiosk().await;
        let files: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 1000]).collect();
        assert_eq!(
            upload(&kiosk, &files[0], 1000).await.status(),
            200,
            "{}",
            db.name
        );
        assert_eq!(
            upload(&kiosk, &files[1], 400).await.status(),
            200,
            "{}",
            db.name
        );
        let refused = upload(&kiosk, &files[2], 1000).await;
        assert_eq!(refused.status(), 429, "{}", db.name);
        let error: ApiError = refused.json().await.unwrap();
        assert_eq!(error.error, central::http::code::TOO_MANY);
        assert!(
            error.message.contains("--attachments-per-day"),
            "{}",
            error.message
        );
        // Sending again one it has: no new upload, not refused.
        assert_eq!(upload(&kiosk, &files[0], 1000).await.status(), 200);
        // Another kiosk has its own day.
        let other = central.kiosk().await;
        assert_eq!(upload(&other, &files[2], 1000).await.status(), 200);

        // The half-sent upload (files[1]) expires; the complete ones stay.
        let dropped = central
            .store
            .expire_incomplete_uploads(central::store::now_millis() + 1)
            .await
            .unwrap();
        assert_eq!(dropped, 1, "{}", db.name);
        use sha2::Digest as _;
        let sha = |bytes: &[u8]| hex::encode(sha2::Sha256::digest(bytes));
        let half = central
            .store
            .upload_status(kiosk.id(), &sha(&files[1]))
            .await
            .unwrap();
        assert_eq!((half.received, half.complete), (0, false), "{}", db.name);
        let whole = central
            .store
            .upload_status(kiosk.id(), &sha(&files[0]))
            .await
            .unwrap();
        assert!(whole.complete, "{}", db.name);
        central.stop().await;
    }
}

/// A kiosk flooding central with signed requests (each with a fresh nonce and a good
/// signature) gets `--requests-per-minute` of them served and 429 for the rest, reads and
/// writes alike, and leaves no nonce behind for a refused one: the table of seen nonces
/// grows by at most the rate per kiosk. Other kiosks are served as before.
#[tokio::test]
async fn a_kiosk_flooding_signed_requests_is_held_to_its_rate_and_nonces_stay_bounded() {
    for db in databases().await {
        let limits = central::Limits {
            requests_per_minute: 5,
            ..Default::default()
        };
        let central = Central::start_with(&db, limits).await;
        let flood = central.kiosk().await;
        let calm = central.kiosk().await;
        let before = central.store.nonce_rows().await.unwrap();
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let r = flood
                .request(Method::GET, routes::QUEUE_STATE, vec![])
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
            if r.status() == 429 {
                let e: ApiError = r.json().await.unwrap();
                assert_eq!(e.error, central::http::code::TOO_MANY);
                assert!(e.message.contains("--requests-per-minute"), "{}", e.message);
            }
        }
        assert_eq!(statuses[..5], [200; 5], "{}", db.name);
        assert_eq!(statuses[5..], [429; 15], "{}", db.name);
        let posted = flood
            .post_events(&[common::event(
                1,
                kiosk_api::Stream::Telemetry,
                "screen_view",
            )])
            .await;
        assert_eq!(posted.status(), 429, "{}", db.name);
        assert_eq!(
            central.store.nonce_rows().await.unwrap() - before,
            5,
            "{}: refused requests keep no nonce",
            db.name
        );
        let r = calm
            .request(Method::GET, routes::QUEUE_STATE, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", db.name);
        central.stop().await;
    }
}

/// Key statements on both databases: central stores only what follows from the keys it
/// trusts now, moves its trusted key with each, and keeps the list whole and in order.
#[tokio::test]
async fn key_statements_are_checked_stored_in_order_and_move_the_trusted_keys_on_both_databases() {
    use kiosk_api::keys::{generate, key_id, public_key_to_base64};
    use kiosk_api::rotation::{KeyAction, KeyRole, KeyStatement, sign_statement};
    for db in databases().await {
        let store = central::Store::open(&db.url).await.unwrap();
        let (ops, release, catalog1, thief) = (generate(), generate(), generate(), generate());
        store
            .set_ops_public_key(&public_key_to_base64(&ops.verifying_key()))
            .await
            .unwrap();
        let statement = |serial,
                         role,
                         action,
                         previous: &ed25519_dalek::SigningKey,
                         next: &ed25519_dalek::SigningKey| KeyStatement {
            serial,
            role,
            action,
            previous_public_key: public_key_to_base64(&previous.verifying_key()),
            next_public_key: public_key_to_base64(&next.verifying_key()),
            reason: "test".into(),
            issued_at: chrono::Utc::now(),
        };
        let trusted = |role| {
            let store = store.clone();
            async move { store.trusted_key(role).await.unwrap().unwrap() }
        };
        assert_eq!(
            trusted(KeyRole::Release).await,
            public_key_to_base64(&ops.verifying_key())
        );

        let split = statement(1, KeyRole::Release, KeyAction::Rotate, &ops, &release);
        store
            .record_key_statement(&sign_statement(&ops, &split))
            .await
            .unwrap();
        let rotate = statement(2, KeyRole::Catalog, KeyAction::Rotate, &ops, &catalog1);
        // Signed by a key central does not trust for that role: refused, nothing stored.
        assert!(
            store
                .record_key_statement(&sign_statement(&thief, &rotate))
                .await
                .is_err(),
            "{}",
            db.name
        );
        // A serial that skips one: refused.
        let skipped = statement(3, KeyRole::Catalog, KeyAction::Rotate, &ops, &catalog1);
        assert!(
            store
                .record_key_statement(&sign_statement(&ops, &skipped))
                .await
                .is_err(),
            "{}",
            db.name
        );
        store
            .record_key_statement(&sign_statement(&ops, &rotate))
            .await
            .unwrap();
        assert_eq!(
            trusted(KeyRole::Catalog).await,
            public_key_to_base64(&catalog1.verifying_key()),
            "{}",
            db.name
        );
        assert_eq!(
            trusted(KeyRole::Release).await,
            public_key_to_base64(&release.verifying_key()),
            "{}",
            db.name
        );
        // The same statement twice: the second does not follow from the keys now.
        assert!(
            store
                .record_key_statement(&sign_statement(&ops, &rotate))
                .await
                .is_err(),
            "{}",
            db.name
        );

        let list = store.key_statements().await.unwrap();
        let serials: Vec<u64> = list.iter().map(|s| s.read().unwrap().serial).collect();
        assert_eq!(serials, vec![1, 2], "{}", db.name);
        assert_eq!(list[1].key_id, key_id(&ops.verifying_key()));
        assert_eq!(store.next_key_serial().await.unwrap(), 3);
    }
}
