#![allow(clippy::unwrap_used)]
//! Eighty scripted citizens on the simulated devices, no central: every one reaches the end
//! of their journey (paper running out on the way included). A test binary of its own, as
//! libsane is process-global.

use kiosk_core::config::Config;
use kiosk_journeys::headless::{self, HeadlessOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eighty_scripted_citizens_finish_with_none_stuck() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::simulate().unwrap();
    config.kiosk.data_dir = dir.path().to_owned();
    let summary = headless::run(
        config,
        HeadlessOptions {
            citizens: 80,
            seed: 2,
            ..HeadlessOptions::default()
        },
    )
    .await
    .unwrap();
    println!("{summary}");
    assert_eq!(summary.stuck, 0, "{summary}");
    assert_eq!(
        summary.dispenser_pngs as u32, summary.stats.tickets_printed,
        "a ticket counts only when printed"
    );
    assert!(summary.stats.tickets_voided > 0, "{summary}");
}
