#![allow(clippy::unwrap_used)]
//! A day that starts offline. The kiosk works a day online: citizens take numbers and nobody
//! is called yet, so its last queue figures say people are waiting, and it leases the next
//! business day's numbers ahead. Overnight the hall's network goes down. Next morning (the
//! clock of every process moved one day on with libfaketime) the kiosk starts without
//! central: its first citizens get numbers from the block leased for today — not from its
//! offline band — and their tickets do not show yesterday's queue as today's. When the
//! network is back, central holds each of those tickets under that lease.
//!
//! The kiosk's engine (kiosk-journeys, on the simulated devices) runs in the test process on
//! the first day; on the second day the test runs itself again under the moved clock
//! (`next_day_kiosk`, ignored unless called so), since a clock can only be moved for a whole
//! process.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use kiosk_api::citizen::business_date_at;
use kiosk_core::config::Config;
use kiosk_journeys::model::TicketView;
use kiosk_journeys::sim::SimPrinter;
use kiosk_journeys::{Command, Engine, EngineHandle, EngineOptions, JourneyKind, Page, Screen};
use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central;
use kiosk_system_tests::clock;
use kiosk_system_tests::db::CentralDb;
use kiosk_system_tests::kiosk::{self, HeadlessRun, Printer};
use kiosk_system_tests::relay::Relay;
use tokio::sync::watch;

const HALL: &str = "dongcheng-main";
const HALL_NAME: &str = "东城区政务服务中心";
const PATIENCE: Duration = Duration::from_secs(60);
/// The queue both days' citizens join.
const CATEGORY: &str = "A";
/// Set for the second-day run of this test binary: the kiosk's data folder.
const DATA_ENV: &str = "KIOSK_NEXT_DAY_DATA";
/// Set for the second-day run: where it writes the tickets its citizens were shown.
const OUT_ENV: &str = "KIOSK_NEXT_DAY_OUT";

#[test]
fn a_day_that_starts_offline_takes_numbers_from_the_lease_taken_ahead_and_shows_no_stale_queue() {
    let Some(next_day) = clock::next_day() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the next-day story: install libfaketime (scripts/install-deps)"
        );
        eprintln!("\n!!!! SKIPPING the next-day story: libfaketime is not installed.\n");
        return;
    };
    let central_exe = cargo_bin("central", "central").unwrap();
    let kiosk_exe = cargo_bin("kiosk-app", "kiosk-app").unwrap();
    let kioskctl = cargo_bin("kioskctl", "kioskctl").unwrap();
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let mut central = central::start_fresh(&central_exe, root).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let relay = runtime.block_on(Relay::start(central.addr())).unwrap();
    let url = format!("http://{}", relay.addr());
    let dir = root.join("kiosk");
    let token = central::create_token(&central_exe, central.db(), HALL, HALL_NAME).unwrap();
    let enrolled = kiosk::provision(&kioskctl, &dir, &url, &token, "kiosk-1").unwrap();
    let kiosk_id = enrolled["kiosk_id"].as_str().unwrap().to_owned();
    let data = dir.join("data");
    let db = CentralDb::new(central.db());
    let today = business_date_at(Utc::now());
    let tomorrow = today.succ_opt().unwrap();

    // Today, online: three numbers in A, nobody called. Once central has them, the kiosk's
    // figures (refreshed every 15 s, and kept for when central cannot be reached) say so.
    let yesterday_waiting = runtime.block_on(async {
        let mut kiosk = Kiosk::start(&data).await;
        kiosk.online().await;
        for _ in 0..3 {
            kiosk.take_number(CATEGORY).await;
        }
        kiosk.drained().await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        let last = kiosk.take_number(CATEGORY).await;
        assert!(
            last.ahead >= 3 && last.stale_note.is_none(),
            "central's live figures show the three waiting: {last:?}"
        );
        kiosk.drained().await;
        // Before the day ends the kiosk has leased tomorrow's numbers.
        let deadline = Instant::now() + PATIENCE;
        while leases_for(&db, &kiosk_id, &tomorrow.to_string()) == 0 {
            assert!(
                Instant::now() < deadline,
                "the kiosk took no lease for {tomorrow} while online on {today}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        kiosk.engine.shutdown().await;
        last.ahead
    });
    let printed_today = kiosk::printed(&dir, Printer::Dispenser).len();

    // Overnight the network goes down. Next morning, the kiosk starts offline.
    relay.set_online(false);
    let out = root.join("next-day.json");
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["next_day_kiosk", "--exact", "--ignored", "--nocapture"])
        .envs(next_day.iter().map(|(k, v)| (k, v)))
        .env(DATA_ENV, &data)
        .env(OUT_ENV, &out)
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "the next-day kiosk failed:\n{}\n{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    let shown: Vec<TicketView> = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(shown.len(), 3, "{shown:?}");
    // Numbers from the block leased ahead: below the offline band (500-999).
    for ticket in &shown {
        let number: u32 = ticket.ticket_no[1..].parse().unwrap();
        assert!(
            number < 500,
            "{} is from the offline band, not from the lease taken ahead",
            ticket.ticket_no
        );
    }
    // Yesterday's queue is not today's: nobody the kiosk knows of is ahead of its first
    // citizen, whatever was waiting yesterday.
    assert_eq!(
        (shown[0].ahead, shown[0].wait_minutes),
        (0, 0),
        "the first ticket of the day shows yesterday's queue ({yesterday_waiting} waiting): {:?}",
        shown[0]
    );
    for ticket in &shown {
        assert!(
            ticket.ahead < yesterday_waiting.max(3),
            "yesterday's figures on {ticket:?}"
        );
    }
    // The paper says tomorrow.
    let paper: Vec<(String, String)> = kiosk::printed(&dir, Printer::Dispenser)[printed_today..]
        .iter()
        .map(|png| kiosk::ticket_on_paper(png).unwrap())
        .collect();
    let expected: Vec<(String, String)> = shown
        .iter()
        .map(|t| (tomorrow.to_string(), t.ticket_no.clone()))
        .collect();
    assert_eq!(paper, expected, "the tickets printed on the second day");

    // The network is back (central, too, on the second day): the tickets reach central, each
    // under a lease of this kiosk for that day.
    central.restart_with_env(&next_day).unwrap();
    relay.set_online(true);
    let drained = HeadlessRun::start_with_env(
        &kiosk_exe,
        &dir,
        &url,
        0,
        1,
        &["--drain-secs", "90"],
        &next_day,
        "drain",
    )
    .unwrap()
    .finish_ok(Duration::from_secs(300))
    .unwrap();
    assert_eq!(drained.field("backlog"), Some(0), "{}", drained.stdout);
    central.stop();
    let rows = db
        .rows(&format!(
            "SELECT t.ticket_no, t.source, l.business_date, l.kiosk_id FROM tickets t \
             LEFT JOIN number_leases l ON t.source = 'lease:' || l.lease_id \
             WHERE t.business_date = '{tomorrow}' AND t.voided_at IS NULL ORDER BY t.number"
        ))
        .unwrap();
    let on_central: Vec<String> = rows.iter().map(|r| r[0].clone().unwrap()).collect();
    let mut numbers: Vec<String> = shown.iter().map(|t| t.ticket_no.clone()).collect();
    numbers.sort();
    assert_eq!(on_central, numbers, "central's tickets of {tomorrow}");
    for row in &rows {
        assert_eq!(
            (row[2].as_deref(), row[3].as_deref()),
            (Some(tomorrow.to_string().as_str()), Some(kiosk_id.as_str())),
            "ticket {:?} (source {:?}) is not from this kiosk's lease for {tomorrow}",
            row[0],
            row[1]
        );
    }
}

/// The second day of the story above, in a process whose clock is a day on; does nothing
/// unless that test started it.
#[test]
#[ignore = "run by a_day_that_starts_offline_… under a moved clock"]
fn next_day_kiosk() {
    let (Some(data), Some(out)) = (std::env::var_os(DATA_ENV), std::env::var_os(OUT_ENV)) else {
        eprintln!("next_day_kiosk runs only as part of the next-day story");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shown = runtime.block_on(async {
        let mut kiosk = Kiosk::start(Path::new(&data)).await;
        let mut shown = Vec::new();
        for _ in 0..3 {
            shown.push(kiosk.take_number(CATEGORY).await);
        }
        kiosk.engine.shutdown().await;
        shown
    });
    for ticket in &shown {
        eprintln!("next day, offline: {ticket:?}");
    }
    std::fs::write(out, serde_json::to_vec(&shown).unwrap()).unwrap();
}

/// Leases central handed kiosk `kiosk_id` for `date`.
fn leases_for(db: &CentralDb, kiosk_id: &str, date: &str) -> i64 {
    db.count(&format!(
        "SELECT COUNT(*) FROM number_leases WHERE kiosk_id = '{kiosk_id}' AND business_date = '{date}'"
    ))
    .unwrap()
}

/// The kiosk's engine on its simulated devices, driven as the touchscreen drives it.
struct Kiosk {
    engine: EngineHandle,
    screen: watch::Receiver<Screen>,
}

impl Kiosk {
    async fn start(data: &Path) -> Kiosk {
        let mut config = Config::simulate().unwrap();
        config.kiosk.data_dir = data.to_owned();
        let engine = Engine::start(
            config,
            EngineOptions {
                simulate: true,
                voice: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        Kiosk {
            screen: engine.screen(),
            engine,
        }
    }

    /// Waits until central has answered (the offline banner is gone).
    async fn online(&mut self) {
        tokio::time::timeout(PATIENCE, self.screen.wait_for(|s| s.banner.is_none()))
            .await
            .expect("central answers")
            .unwrap();
    }

    async fn send_until(&mut self, command: Command, done: impl Fn(&Page) -> bool) -> Page {
        let after = self.screen.borrow().revision;
        self.engine.send(command);
        let reached = tokio::time::timeout(
            PATIENCE,
            self.screen
                .wait_for(|s| s.revision > after && done(&s.page)),
        )
        .await
        .map(|r| r.map(|screen| screen.page.clone()));
        match reached {
            Ok(Ok(page)) => page,
            _ => panic!("the screen shows {:?}", self.screen.borrow().page),
        }
    }

    /// A citizen takes a number in `category` without a card.
    async fn take_number(&mut self, category: &str) -> TicketView {
        let deadline = Instant::now() + PATIENCE;
        // The tile stays grey until the devices answer: touch again, as a citizen would.
        while self
            .send_until(
                Command::Start {
                    journey: JourneyKind::TakeNumber,
                },
                |_| true,
            )
            .await
            == Page::Home
        {
            assert!(
                Instant::now() < deadline,
                "taking a number stays unavailable"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.send_until(
            Command::Choose {
                id: category.into(),
            },
            |p| matches!(p, Page::TapCard { .. }),
        )
        .await;
        let page = self
            .send_until(Command::Skip, |p| {
                matches!(p, Page::Ticket { .. } | Page::Notice { .. })
            })
            .await;
        if let Some(sim) = self.engine.sim() {
            sim.take_ticket(SimPrinter::Dispenser);
        }
        self.send_until(Command::Cancel, |p| *p == Page::Home).await;
        match page {
            Page::Ticket { ticket } => ticket,
            other => panic!("no ticket but {other:?}"),
        }
    }

    /// Waits until central has acknowledged everything in the outbox.
    async fn drained(&self) {
        let deadline = Instant::now() + PATIENCE;
        while self.engine.backlog().await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "the outbox did not drain");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
