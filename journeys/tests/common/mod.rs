//! What the engine tests share: a simulated kiosk's configuration with its dispenser on a
//! printer emulator of the test's own, and waiting for a page.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use kiosk_api::NumberBand;
use kiosk_core::config::{Config, PrinterDevice};
use kiosk_core::identity::Identity;
use kiosk_journeys::Page;

/// Enrols the kiosk whose data folder is `data` in hall `dongcheng` (code 12, kiosk 3, band
/// 500..=549) with a central that is not there: nothing listens on port 9. A kiosk that is
/// not enrolled gives no queue numbers, so every test that takes one outside simulate mode
/// enrols first, as a technician would.
pub fn enrol_offline(data: &Path) -> Identity {
    let identity = Identity {
        kiosk_id: uuid::Uuid::now_v7(),
        hall_id: "dongcheng".into(),
        hall_name: "东城区政务服务中心".into(),
        number_band: NumberBand {
            first: 500,
            last: 549,
        },
        ops_public_key: kiosk_api::keys::public_key_to_base64(
            &kiosk_api::keys::generate().verifying_key(),
        ),
        release_public_key: None,
        revoked_key_ids: Vec::new(),
        central_ca_pem: None,
        central_url: "http://127.0.0.1:9".into(),
        hall_code: kiosk_api::HallCode::new(12).unwrap(),
        kiosk_no: kiosk_api::KioskNo::new(3).unwrap(),
    };
    identity.save(data, &kiosk_api::keys::generate()).unwrap();
    identity
}

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
