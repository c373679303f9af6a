#![allow(clippy::unwrap_used)]
//! The data folder on a small filesystem that fills up while a citizen is at the kiosk: the
//! step that meets the full disk writes nothing, the citizen is told where to go instead, and
//! once space is freed the kiosk carries on with the very next number. Needs root (it mounts
//! a tmpfs of a few MB).

mod common;

use common::until;
use std::path::Path;
use std::time::Duration;

use kiosk_core::config::Config;
use kiosk_core::store::{Store, StoreKey, StoreOptions};
use kiosk_journeys::{Command, Engine, EngineOptions, JourneyKind, Page};
use kiosk_sim::printer::{Config as PrinterConfig, Emulator};

fn config(data: &Path, dispenser: &str) -> Config {
    let mut config = common::with_tcp_dispenser(data, dispenser);
    // The whole filesystem is 8 MB, below the default free-space reserve: keep 1 MB free, so
    // what stops the step is the disk filling up, not the reserve.
    config.kiosk.disk_budget.min_free_mb = 1;
    config
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs failed");
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the filesystem refuses.
    fn fill(&self) {
        use std::io::Write as _;
        let mut file = std::fs::File::create(self.path().join("filler")).unwrap();
        for size in [64 * 1024, 4096, 1] {
            let block = vec![0xA5u8; size];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_mid_step_writes_nothing_and_sends_the_citizen_to_the_desk() {
    let Some(disk) = SmallDisk::mount(8) else {
        eprintln!("skipped: mounting a small filesystem needs root");
        return;
    };
    let data = disk.path().join("kiosk");
    let printed = tempfile::tempdir().unwrap();
    let emulator = Emulator::new(PrinterConfig::new(printed.path())).unwrap();
    let server = emulator.serve_tcp("127.0.0.1:0").unwrap();
    let dispenser = server.tcp_addr().unwrap().to_string();
    std::fs::create_dir_all(&data).unwrap();
    common::enrol_offline(&data);
    let engine = Engine::start(
        config(&data, &dispenser),
        EngineOptions {
            voice: false,
            ticket_take_timeout: Some(Duration::ZERO),
            ..EngineOptions::default()
        },
    )
    .await
    .unwrap();
    let mut screen = engine.screen();

    // A citizen starts taking a number; the disk fills before they choose.
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    until(&mut screen, r, |p| matches!(p, Page::Choose { .. })).await;
    engine.send(Command::Choose { id: "A".into() });
    until(&mut screen, r, |p| matches!(p, Page::TapCard { .. })).await;
    disk.fill();
    let r = screen.borrow().revision;
    engine.send(Command::Skip);
    let Page::Notice {
        message,
        window,
        failure,
        ..
    } = until(&mut screen, r, |p| matches!(p, Page::Notice { .. })).await
    else {
        unreachable!()
    };
    assert!(failure);
    assert!(message.zh.contains("存储空间已满"), "{message:?}");
    assert!(message.zh.contains("1号综合咨询台"), "{message:?}");
    assert_eq!(window.unwrap().en, "Information desk 1");
    assert!(
        emulator.tickets().is_empty(),
        "no ticket printed without a record"
    );

    // Calling for help cannot be written down either: the page sends them to the desk now.
    let r = screen.borrow().revision;
    engine.send(Command::CallHelp);
    let Page::Notice {
        message, failure, ..
    } = until(&mut screen, r, |p| matches!(p, Page::Notice { .. })).await
    else {
        unreachable!()
    };
    assert!(failure);
    assert!(message.en.contains("Information desk 1 now"), "{message:?}");
    engine.send(Command::Cancel);

    // Space is freed: the next citizen gets the very number the failed step did not use.
    disk.free();
    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    engine.send(Command::Choose { id: "A".into() });
    engine.send(Command::Skip);
    let Page::Ticket { ticket } = until(&mut screen, r, |p| {
        matches!(p, Page::Ticket { .. } | Page::Notice { .. })
    })
    .await
    else {
        panic!("{:?}", screen.borrow().page)
    };
    assert_eq!(ticket.ticket_no, "A500", "the failed step took no number");
    engine.shutdown().await;

    let key = StoreKey::load_or_create(&data.join("store.key")).unwrap();
    let store = Store::open(&data, key, StoreOptions::default()).unwrap();
    assert!(
        store.unsettled_tickets().unwrap().is_empty(),
        "nothing half-written"
    );
    let kinds: Vec<String> = store
        .next_batch(100, 1 << 20)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k != kiosk_api::fleet::KIND_HEALTH_REPORT)
        .collect();
    assert_eq!(
        kinds,
        ["ticket_issued"],
        "one ticket, nothing of the failed steps"
    );
}
