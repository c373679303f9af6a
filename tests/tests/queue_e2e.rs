#![allow(clippy::unwrap_used)]
//! Queue numbers end to end: `central serve` and two `kiosk-app --simulate --headless`
//! processes taking numbers in the same hall. Kiosk B reaches central through a relay that
//! is switched off for part of its run (it goes on from its leases and its offline band) and
//! is SIGKILLed once, then started again on the same data folder, network back.
//!
//! Afterwards: every ticket the dispenser emulators printed (their PNGs, read back through
//! the QR code with `zbarimg`) is on central as issued, except a number taken in the instant
//! the kill hit (voided `interrupted` at restart: printed or not, nobody was told it counts);
//! central holds no issued ticket that was not printed; no number was issued twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central::{self, Central};
use kiosk_system_tests::relay::Relay;

const HALL: &str = "dongcheng-main";

fn kiosk(
    exe: &Path,
    dir: &Path,
    url: &str,
    token: Option<&str>,
    citizens: u32,
    seed: u64,
    log: &str,
) -> Child {
    let mut command = Command::new(exe);
    command
        .args([
            "--simulate",
            "--headless",
            "--numbers-only",
            "--drain-secs",
            "60",
        ])
        .args([
            "--citizens",
            &citizens.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .args(["--central", url])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            std::fs::File::create(dir.join(format!("{log}.out"))).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("{log}.err"))).unwrap(),
        ));
    if let Some(token) = token {
        command.args(["--token", token]);
    }
    command.spawn().unwrap()
}

fn pngs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("data/printed/dispenser"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "png"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn wait_for_pngs(dir: &Path, count: usize, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let n = pngs(dir).len();
        if n >= count || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `(business date, ticket number)` from the QR code of a printed ticket.
fn printed_ticket(png: &Path) -> (String, String) {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png)
        .output()
        .expect("zbarimg (zbar-tools) is installed");
    let link = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut parts = link.rsplit('/');
    let ticket = parts.next().unwrap_or_default().to_owned();
    let date = parts.next().unwrap_or_default().to_owned();
    assert!(
        !ticket.is_empty() && date.len() == 10,
        "{} has QR {link:?}",
        png.display()
    );
    (date, ticket)
}

fn finish(child: &mut Child, what: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = std::fs::read_to_string(dir.join(format!("{what}.out"))).unwrap_or_default();
            let err = std::fs::read_to_string(dir.join(format!("{what}.err"))).unwrap_or_default();
            eprintln!("--- {what} ---\n{out}");
            assert!(
                status.success(),
                "{what} failed ({status}):\n{out}\n{}",
                tail(&err)
            );
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[test]
fn two_kiosks_one_offline_and_killed_print_exactly_what_central_holds() {
    let central_exe = cargo_bin("central", "central").unwrap();
    let kiosk_exe = cargo_bin("kiosk-app", "kiosk-app").unwrap();
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let db = root.join("central.db").to_string_lossy().into_owned();
    let mut central = Central::start(&central_exe, &db, &root.join("central.log")).unwrap();
    central::generate_ops_key(&central_exe, &db, &root.join("ops.pem")).unwrap();
    let token_a = central::create_token(&central_exe, &db, HALL, "东城区政务服务中心").unwrap();
    let token_b = central::create_token(&central_exe, &db, HALL, "东城区政务服务中心").unwrap();
    let direct = format!("http://{}", central.addr());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let relay = runtime.block_on(Relay::start(central.addr())).unwrap();
    let via_relay = format!("http://{}", relay.addr());

    let (dir_a, dir_b) = (root.join("a"), root.join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let mut a = kiosk(&kiosk_exe, &dir_a, &direct, Some(&token_a), 24, 7, "a");
    let mut b = kiosk(&kiosk_exe, &dir_b, &via_relay, Some(&token_b), 40, 11, "b1");

    // B issues online, then its network goes down and it goes on offline, then it dies.
    let online_tickets = wait_for_pngs(&dir_b, 4, Duration::from_secs(300));
    assert!(
        online_tickets >= 4,
        "kiosk B printed only {online_tickets} tickets online"
    );
    relay.set_online(false);
    let offline_until = wait_for_pngs(&dir_b, online_tickets + 8, Duration::from_secs(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(b.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = b.wait();
    eprintln!("kiosk B: {online_tickets} tickets online, {offline_until} when killed offline");

    // Back up, network restored: it settles the number the kill interrupted and drains.
    relay.set_online(true);
    let mut b2 = kiosk(&kiosk_exe, &dir_b, &via_relay, None, 10, 13, "b2");
    finish(&mut a, "a", &dir_a);
    finish(&mut b2, "b2", &dir_b);

    // What was printed, from the paper.
    let mut printed: BTreeSet<(String, String)> = BTreeSet::new();
    let mut sheets = 0;
    for dir in [&dir_a, &dir_b] {
        for png in pngs(dir) {
            sheets += 1;
            assert!(
                printed.insert(printed_ticket(&png)),
                "{} printed twice",
                png.display()
            );
        }
    }

    // What central holds, from its events (every kiosk event is kept) and its projection.
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut issued: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut voided: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut stmt = conn
        .prepare(
            "SELECT kind, payload FROM events WHERE kind IN ('ticket_issued', 'ticket_voided')",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .unwrap();
    for row in rows {
        let (kind, payload) = row.unwrap();
        let p: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let key = (
            p["business_date"].as_str().unwrap().to_owned(),
            p["ticket_no"].as_str().unwrap().to_owned(),
        );
        if kind == "ticket_issued" {
            *issued.entry(key).or_default() += 1;
        } else {
            voided.insert(key, p["reason"].as_str().unwrap_or_default().to_owned());
        }
    }
    let twice: Vec<_> = issued.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "numbers issued twice: {twice:?}");
    let both: Vec<_> = issued.keys().filter(|k| voided.contains_key(*k)).collect();
    assert!(both.is_empty(), "numbers both issued and voided: {both:?}");
    let issued: BTreeSet<_> = issued.into_keys().collect();
    let not_printed: Vec<_> = issued.difference(&printed).collect();
    assert!(
        not_printed.is_empty(),
        "central has tickets nobody printed: {not_printed:?}"
    );
    let not_on_central: Vec<_> = printed.difference(&issued).collect();
    for key in &not_on_central {
        assert_eq!(
            voided.get(*key).map(String::as_str),
            Some("interrupted"),
            "printed ticket {key:?} is not on central"
        );
    }
    assert!(
        not_on_central.len() <= 1,
        "more than the one interrupted number: {not_on_central:?}"
    );
    let projected: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tickets WHERE voided_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        projected as usize,
        issued.len(),
        "central's ticket table agrees with its events"
    );
    let from_band = conn
        .query_row(
            "SELECT COUNT(*) FROM tickets WHERE source = 'band'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    eprintln!(
        "printed {sheets}, central issued {}, voided {} ({} interrupted and printed), from offline bands {from_band}",
        issued.len(),
        voided.len(),
        not_on_central.len()
    );
    central.stop();
}
