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
async fn scripted_citizens_go_through_every_journey_offline() {
    let dir = tempfile::tempdir().unwrap();
    let summary = headless::run(
        config(dir.path()),
        HeadlessOptions {
            citizens: 14,
            seed: 3,
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
    assert_eq!(
        summary.receipt_pngs as u32,
        s.applications + s.guide_slips + s.missing_lists,
        "every receipt, guide slip and 一次性告知 list came out of the receipt printer"
    );
}
