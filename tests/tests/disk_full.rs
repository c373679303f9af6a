#![allow(clippy::unwrap_used)]
//! A full disk loses nothing. The kiosk's data folder is a small filesystem of its own (a
//! tmpfs, mounted by the test: it needs root, as CI has; elsewhere the test says why it
//! skips). The network is down, so records pile up, and the disk is filled to the last few
//! kilobytes. Citizens keep coming: each is told where they stand (the run ends with no
//! citizen stuck), the kiosk stops offering what it cannot keep, and its store stays whole.
//! Once space is freed and the network is back, every ticket and receipt that was printed
//! reaches central, and nothing that was not.
//!
//! The printer emulators' paper and the simulated devices' files are kept outside the small
//! filesystem: paper leaves the kiosk in the citizen's hand.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central;
use kiosk_system_tests::db::CentralDb;
use kiosk_system_tests::kiosk::{self, HeadlessRun, Printer};
use kiosk_system_tests::relay::Relay;

const HALL: &str = "dongcheng-main";
const HALL_NAME: &str = "东城区政务服务中心";
const RUN: Duration = Duration::from_secs(600);
/// The data folder's filesystem: room for the store's reserve of free space (64 MiB) and more.
const DISK: &str = "160m";
/// What is left free once the disk is filled: less than one scan, a handful of SQLite pages.
const LEFT_FREE: u64 = 96 * 1024;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(at: &Path, size: &str) -> Result<Mounted, String> {
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Mounted(at.to_owned()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    fn free_bytes(&self) -> u64 {
        let stat = nix::sys::statvfs::statvfs(&self.0).unwrap();
        stat.blocks_available() as u64 * stat.fragment_size() as u64
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn on_a_full_disk_every_citizen_is_told_nothing_is_half_written_and_all_of_it_drains_once_space_is_freed()
 {
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let dir = root.join("kiosk");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let disk = match Mounted::tmpfs(&data, DISK) {
        Ok(disk) => disk,
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs as root and must run this test: mount -t tmpfs failed: {why}"
            );
            eprintln!(
                "\n!!!! SKIPPING the disk-full story: cannot mount a {DISK} tmpfs at {} ({why}); it needs root.\n",
                data.display()
            );
            return;
        }
    };
    for kept_outside in ["printed", "sim"] {
        let outside = dir.join(format!("{kept_outside}-outside"));
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, data.join(kept_outside)).unwrap();
    }

    let central_exe = cargo_bin("central", "central").unwrap();
    let kiosk_exe = cargo_bin("kiosk-app", "kiosk-app").unwrap();
    let kioskctl = cargo_bin("kioskctl", "kioskctl").unwrap();
    let progress_url = kiosk_core::config::Config::simulate()
        .unwrap()
        .journeys
        .progress_url;
    let mut central = central::start_fresh(&central_exe, root).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let relay = runtime.block_on(Relay::start(central.addr())).unwrap();
    let url = format!("http://{}", relay.addr());
    let token = central::create_token(&central_exe, central.db(), HALL, HALL_NAME).unwrap();
    let enrolled = kiosk::provision(&kioskctl, &dir, &url, &token, "kiosk-1").unwrap();
    let kiosk_id = enrolled["kiosk_id"].as_str().unwrap().to_owned();

    // An ordinary start of the day, online.
    HeadlessRun::start(
        &kiosk_exe,
        &dir,
        &url,
        3,
        31,
        &["--drain-secs", "60"],
        "online",
    )
    .unwrap()
    .finish_ok(RUN)
    .unwrap();

    // The network goes down, and the disk fills up (a log gone wild, say).
    relay.set_online(false);
    let filler = data.join("filler");
    let fill = disk.free_bytes().saturating_sub(LEFT_FREE);
    let status = Command::new("fallocate")
        .args(["-l", &fill.to_string()])
        .arg(&filler)
        .status()
        .unwrap();
    assert!(status.success(), "fallocate the filler");
    eprintln!("disk filled: {} bytes free", disk.free_bytes());

    // Citizens keep coming. Each one's run ends on a page that tells them where they stand
    // (the run exits 0 only if no citizen was left waiting for a page that never came).
    let full = HeadlessRun::start(
        &kiosk_exe,
        &dir,
        &url,
        16,
        5,
        &["--drain-secs", "0"],
        "full",
    )
    .unwrap()
    .finish_ok(RUN)
    .unwrap();
    eprintln!("--- on the full disk ---\n{}", full.stdout);
    assert_eq!(full.field("stuck"), Some(0), "every citizen was told");
    let status = kiosk::sync_status(&kioskctl, &dir).unwrap();
    assert_eq!(
        status["accepting_records"], false,
        "the kiosk knows its disk is full: {status:#}"
    );
    // Nothing half-written: the store is whole.
    let store = data.join(kiosk_core::store::DB_FILE);
    let integrity: String =
        rusqlite::Connection::open_with_flags(&store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
    assert_eq!(integrity, "ok", "the kiosk's store after the full disk");

    // Space is freed, the network is back: it all drains.
    std::fs::remove_file(&filler).unwrap();
    relay.set_online(true);
    let back = HeadlessRun::start(
        &kiosk_exe,
        &dir,
        &url,
        0,
        33,
        &["--drain-secs", "90"],
        "back",
    )
    .unwrap()
    .finish_ok(RUN)
    .unwrap();
    eprintln!("--- space freed ---\n{}", back.stdout);
    assert_eq!(back.field("backlog"), Some(0), "everything reached central");
    let status = kiosk::sync_status(&kioskctl, &dir).unwrap();
    assert_eq!(status["accepting_records"], true, "{status:#}");
    assert_eq!(status["quarantined"].as_u64().unwrap_or(0), 0, "{status:#}");
    central.stop();

    // Central holds exactly what was printed: every ticket, every receipt, nothing more.
    let db = CentralDb::new(central.db());
    let printed_tickets: BTreeSet<(String, String)> = kiosk::printed(&dir, Printer::Dispenser)
        .iter()
        .map(|png| kiosk::ticket_on_paper(png).unwrap())
        .collect();
    let issued: BTreeSet<(String, String)> = db
        .rows(&format!(
            "SELECT business_date, ticket_no FROM tickets \
             WHERE kiosk_id = '{kiosk_id}' AND voided_at IS NULL"
        ))
        .unwrap()
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    assert_eq!(
        issued, printed_tickets,
        "issued tickets on central vs paper"
    );
    let receipts: BTreeSet<String> = kiosk::receipts_on_paper(&dir, &progress_url)
        .unwrap()
        .into_iter()
        .collect();
    let applications: BTreeSet<String> = db
        .rows(&format!(
            "SELECT application_no FROM applications WHERE kiosk_id = '{kiosk_id}'"
        ))
        .unwrap()
        .into_iter()
        .map(|r| kiosk::compact(r[0].as_deref().unwrap()))
        .collect();
    assert_eq!(
        applications, receipts,
        "applications on central vs receipts"
    );
    eprintln!(
        "{} tickets and {} receipts printed over the day, all on central",
        printed_tickets.len(),
        receipts.len()
    );
}
