#![allow(clippy::unwrap_used)]
//! One bad event never stops the others. A kiosk works through a network outage and builds
//! a backlog (tickets, applications with scans, ratings, help); while it is down, one row of
//! its outbox and one scan in its spool are damaged on disk (a bad sector, a botched
//! restore). When central is reachable again every other event arrives, and the damaged
//! ones — the row, and the application whose scan is gone — are set aside in the kiosk's
//! quarantine, where `kioskctl sync status` shows them to the technician.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central;
use kiosk_system_tests::db::CentralDb;
use kiosk_system_tests::kiosk::{self, HeadlessRun};
use kiosk_system_tests::relay::Relay;

const HALL: &str = "dongcheng-main";
const HALL_NAME: &str = "东城区政务服务中心";
const RUN: Duration = Duration::from_secs(600);

#[test]
fn a_damaged_outbox_row_and_a_damaged_scan_are_quarantined_and_everything_else_arrives() {
    let central_exe = cargo_bin("central", "central").unwrap();
    let kiosk_exe = cargo_bin("kiosk-app", "kiosk-app").unwrap();
    let kioskctl = cargo_bin("kioskctl", "kioskctl").unwrap();
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let mut central = central::start_fresh(&central_exe, root).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let relay = runtime.block_on(Relay::start(central.addr())).unwrap();
    let url = format!("http://{}", relay.addr());
    let dir = root.join("kiosk");
    let token = central::create_token(&central_exe, central.db(), HALL, HALL_NAME).unwrap();
    let enrolled = kiosk::provision(&kioskctl, &dir, &url, &token, "kiosk-1").unwrap();
    let kiosk_id = enrolled["kiosk_id"].as_str().unwrap().to_owned();

    // A morning online (the kiosk learns what it needs from central), then the network
    // goes down and citizens keep coming: their records wait in the outbox.
    HeadlessRun::start(
        &kiosk_exe,
        &dir,
        &url,
        3,
        21,
        &["--drain-secs", "60"],
        "online",
    )
    .unwrap()
    .finish_ok(RUN)
    .unwrap();
    relay.set_online(false);
    let offline = HeadlessRun::start(
        &kiosk_exe,
        &dir,
        &url,
        24,
        32,
        &["--drain-secs", "0"],
        "offline",
    )
    .unwrap()
    .finish_ok(RUN)
    .unwrap();
    eprintln!("{}", offline.stdout);

    // The backlog, as the store lists it (seq and kind are kept in clear).
    let store = dir.join("data").join(kiosk_core::store::DB_FILE);
    let waiting = outbox(&store);
    let attached = attachments(&store);
    let kinds: BTreeMap<&str, usize> = waiting.values().fold(BTreeMap::new(), |mut m, k| {
        *m.entry(k.as_str()).or_default() += 1;
        m
    });
    eprintln!("backlog: {kinds:?}");
    let bad_row = *waiting
        .iter()
        .find(|(seq, kind)| kind.as_str() == "ticket_issued" && !attached.contains_key(seq))
        .expect("the offline citizens took a ticket")
        .0;
    // A scan of a waiting application: one of its own if there is one (the spool keeps a
    // file per content, so identical scans share one, and every application naming the
    // damaged file loses it).
    let mut users: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (seq, shas) in &attached {
        for sha in shas {
            users.entry(sha).or_default().push(*seq);
        }
    }
    let (bad_scan, bad_applications) = users
        .iter()
        .min_by_key(|(_, seqs)| seqs.len())
        .map(|(sha, seqs)| (sha.to_string(), seqs.clone()))
        .expect("an offline application has a scan");
    assert!(waiting.len() >= 5, "a backlog worth the name: {waiting:?}");

    // The damage: the row's stored payload overwritten, the scan's sealed file scribbled on.
    let conn = rusqlite::Connection::open(&store).unwrap();
    conn.execute(
        "UPDATE outbox SET payload = randomblob(length(payload)) WHERE seq = ?1",
        [bad_row],
    )
    .unwrap();
    drop(conn);
    let spooled = dir.join("data").join("spool").join(&bad_scan);
    let size = std::fs::metadata(&spooled).unwrap().len() as usize;
    std::fs::write(&spooled, vec![0x5a; size]).unwrap();

    // The network is back: the kiosk sends what it can.
    relay.set_online(true);
    let back = HeadlessRun::start(
        &kiosk_exe,
        &dir,
        &url,
        0,
        23,
        &["--drain-secs", "90"],
        "back",
    )
    .unwrap()
    .finish_ok(RUN)
    .unwrap();
    eprintln!("{}", back.stdout);
    central.stop();

    // Everything but the two arrived, once each.
    let held = stored_seqs(&CentralDb::new(central.db()), &kiosk_id);
    let mut quarantined: BTreeSet<i64> = bad_applications.iter().copied().collect();
    quarantined.insert(bad_row);
    let expected: BTreeSet<i64> = waiting
        .keys()
        .copied()
        .filter(|s| !quarantined.contains(s))
        .collect();
    let missing: Vec<_> = expected.difference(&held).collect();
    assert!(missing.is_empty(), "events that never arrived: {missing:?}");
    let through: Vec<_> = quarantined.intersection(&held).collect();
    assert!(
        through.is_empty(),
        "damaged events central stored: {through:?}"
    );
    assert_eq!(back.field("backlog"), Some(0), "nothing else waits");

    // The technician sees both, with what they are and why.
    let status = kiosk::sync_status(&kioskctl, &dir).unwrap();
    assert_eq!(status["total_backlog"], 0, "{status:#}");
    assert_eq!(
        status["quarantined"].as_u64(),
        Some(quarantined.len() as u64),
        "{status:#}"
    );
    let listed: BTreeMap<i64, (String, String)> = status["quarantine"]
        .as_array()
        .unwrap_or_else(|| panic!("no quarantine list in {status:#}"))
        .iter()
        .map(|q| {
            (
                q["seq"].as_i64().unwrap(),
                (
                    q["kind"].as_str().unwrap_or_default().to_owned(),
                    q["reason"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(
        listed.keys().copied().collect::<BTreeSet<_>>(),
        quarantined,
        "{status:#}"
    );
    assert_eq!(
        listed[&bad_row],
        ("ticket_issued".to_owned(), "unreadable".to_owned())
    );
    for seq in &bad_applications {
        assert_eq!(
            listed[seq],
            (
                "application_submitted".to_owned(),
                "attachment_lost".to_owned()
            )
        );
    }
    for (seq, (_, reason)) in &listed {
        assert!(!reason.is_empty(), "quarantined event {seq} has no reason");
    }
    let text = std::process::Command::new(&kioskctl)
        .args(["sync", "status", "--data"])
        .arg(dir.join("data"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for seq in &quarantined {
        assert!(
            text.contains(&seq.to_string()),
            "the text status names quarantined event {seq}:\n{text}"
        );
    }
}

/// The outbox: seq → kind.
fn outbox(store: &Path) -> BTreeMap<i64, String> {
    let conn = read_only(store);
    let mut stmt = conn.prepare("SELECT seq, kind FROM outbox").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Waiting events' scans: seq → sha256s.
fn attachments(store: &Path) -> BTreeMap<i64, Vec<String>> {
    let conn = read_only(store);
    let mut stmt = conn
        .prepare("SELECT seq, sha256 FROM outbox_attachments")
        .unwrap();
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (seq, sha) = row.unwrap();
        out.entry(seq).or_default().push(sha);
    }
    out
}

fn read_only(store: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
}

/// The seqs of the events central stored for `kiosk_id`.
fn stored_seqs(db: &CentralDb, kiosk_id: &str) -> BTreeSet<i64> {
    db.rows(&format!(
        "SELECT seq FROM events WHERE kiosk_id = '{kiosk_id}'"
    ))
    .unwrap()
    .iter()
    .map(|r| r[0].as_deref().unwrap().parse().unwrap())
    .collect()
}
