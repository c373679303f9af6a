#![allow(clippy::unwrap_used)]
//! Scripted citizens through every journey on the simulated devices, no central. In a test
//! binary of its own: libsane is process-global and its test backend does not come back
//! after a `sane_exit` in the same process.

use kiosk_core::config::Config;
use kiosk_journeys::headless::{self, HeadlessOptions};

fn config(dir: &std::path::Path) -> Config {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = Config::simulate().unwrap();
    config.kiosk.data_dir = dir.to_owned();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_scripted_citizens_go_through_every_journey_offline_and_none_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    // Seed 1 is `kiosk-app --headless`'s default: the run a new user makes first.
    let summary = headless::run(
        config(dir.path()),
        HeadlessOptions {
            citizens: 40,
            seed: 1,
            ..HeadlessOptions::default()
        },
    )
    .await
    .unwrap();
    println!("{summary}");
    assert_eq!(summary.stuck, 0, "{summary}");
    let s = summary.stats;
    assert_eq!(
        summary.dispenser_pngs as u32, s.tickets_printed,
        "a ticket counts only when printed"
    );
    assert!(s.tickets_printed > 0);
    assert!(
        s.tickets_voided > 0,
        "the paper-out citizens' numbers are void"
    );
    assert!(s.guide_slips > 0, "{summary}");
    assert_eq!(
        summary.receipt_pngs as u32,
        s.applications + s.guide_slips + s.missing_lists,
        "every receipt, guide slip and 一次性告知 list came out of the receipt printer"
    );
}
