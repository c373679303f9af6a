//! What the engine tests share: a simulated kiosk's configuration with its dispenser on a
//! printer emulator of the test's own, and waiting for a page.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use kiosk_core::config::{Config, PrinterDevice};
use kiosk_journeys::Page;

/// The simulated kiosk's configuration with its data in `data` and its dispenser the printer
/// emulator listening at `dispenser` (host:port).
pub fn with_tcp_dispenser(data: &Path, dispenser: &str) -> Config {
    let mut config = Config::simulate().unwrap();
    config.kiosk.data_dir = data.to_owned();
    config.devices.dispenser = Some(PrinterDevice {
        port: None,
        baud: None,
        device: None,
        usb: None,
        usb_serial: None,
        tcp: Some(dispenser.to_owned()),
        paper_mm: 80,
        automatic_status: true,
    });
    config
}

/// Waits (up to a minute) for a page published after revision `after` that `done` accepts.
pub async fn until(
    screen: &mut tokio::sync::watch::Receiver<kiosk_journeys::Screen>,
    after: u64,
    done: impl Fn(&Page) -> bool,
) -> Page {
    let reached = tokio::time::timeout(
        Duration::from_secs(60),
        screen.wait_for(|s| s.revision > after && done(&s.page)),
    )
    .await
    .map(|r| r.map(|s| s.page.clone()));
    match reached {
        Ok(Ok(page)) => page,
        _ => panic!(
            "page not reached; the screen shows {:?}",
            screen.borrow().page
        ),
    }
}
