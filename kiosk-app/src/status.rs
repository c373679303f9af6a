//! What the status strip tells the citizen: whether the kiosk reaches the central platform,
//! and which devices are unusable. Producers (probes now, the drivers' reader tasks and the
//! sync later) publish into a `watch` channel; the UI bridge shows the latest value.

use std::time::Duration;

use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
use tokio::sync::watch;

use crate::config::{CentralSection, DevicesSection};

/// Whether the kiosk can reach the central platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connectivity {
    /// Reached recently.
    Online,
    /// Not reached: the kiosk keeps serving and keeps what citizens submit.
    Offline,
    /// No central platform configured (not provisioned yet): treated as offline.
    NotConfigured,
}

/// The kiosk's condition as the citizen-facing UI needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct KioskStatus {
    /// The link to central.
    pub connectivity: Connectivity,
    /// The latest report of each configured device.
    pub devices: Vec<DeviceHealth>,
    /// Whether the devices have been checked at least once (an empty list before that means
    /// "not known yet", after it "none configured").
    pub checked: bool,
}

impl KioskStatus {
    /// Before any probe has run: connectivity unknown is shown as offline, devices as ready
    /// until their first check says otherwise (a blank strip at boot, not a false alarm).
    pub fn initial(central: Option<&CentralSection>) -> Self {
        Self {
            connectivity: if central.is_some() {
                Connectivity::Offline
            } else {
                Connectivity::NotConfigured
            },
            devices: Vec::new(),
            checked: false,
        }
    }

    /// The devices that journeys cannot use right now.
    pub fn faulty_devices(&self) -> impl Iterator<Item = DeviceKind> + '_ {
        self.devices
            .iter()
            .filter(|d| !d.state.is_usable())
            .map(|d| d.kind)
    }

    /// Whether central is unreachable (for the strip).
    pub fn is_offline(&self) -> bool {
        self.connectivity != Connectivity::Online
    }
}

/// Checks that each configured device's node exists. A missing `/dev/kiosk/idcard` means the
/// reader is unplugged or its udev rule did not match: the technician's first question.
/// Devices selected by USB id have no node; their device tasks report them.
pub fn probe_device_nodes(devices: &DevicesSection) -> Vec<DeviceHealth> {
    let mut reports = Vec::new();
    let mut check = |kind, path: &std::path::Path| {
        let state = if path.exists() {
            HealthState::Ready
        } else {
            HealthState::Absent
        };
        reports.push(DeviceHealth::now(kind, path.display().to_string(), state));
    };
    if let Some(port) = devices.idcard.as_ref().and_then(|d| d.port.as_ref()) {
        check(DeviceKind::IdCardReader, port);
    }
    for (kind, printer) in [
        (DeviceKind::Printer, &devices.printer),
        (DeviceKind::Dispenser, &devices.dispenser),
    ] {
        if let Some(node) = printer
            .as_ref()
            .and_then(|p| p.port.as_ref().or(p.device.as_ref()))
        {
            check(kind, node);
        }
    }
    reports
}

/// `host:port` of a central URL, for the reachability probe.
pub fn central_address(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if authority.is_empty() {
        return None;
    }
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| {
        !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !authority.ends_with(']')
    });
    Some(if has_port {
        authority.to_string()
    } else {
        let port = if scheme == "https" { 443 } else { 80 };
        format!("{authority}:{port}")
    })
}

/// Whether a TCP connection to central opens within `timeout`.
pub async fn probe_central(address: &str, timeout: Duration) -> Connectivity {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Connectivity::Online,
        _ => Connectivity::Offline,
    }
}

/// Runs the probes forever, publishing each change. Cancel by dropping the task.
pub async fn run_probes(
    central: Option<CentralSection>,
    devices: DevicesSection,
    tx: watch::Sender<KioskStatus>,
    every: Duration,
) {
    let address = central.as_ref().and_then(|c| central_address(&c.url));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let connectivity = match &address {
            Some(a) => probe_central(a, Duration::from_secs(3)).await,
            None => Connectivity::NotConfigured,
        };
        let devices = probe_device_nodes(&devices);
        tx.send_if_modified(|status| {
            let changed = !status.checked
                || status.connectivity != connectivity
                || status.devices.iter().map(|d| (&d.kind, &d.state)).ne(devices.iter().map(|d| (&d.kind, &d.state)));
            if changed {
                if status.connectivity != connectivity {
                    tracing::info!(?connectivity, "central link changed");
                }
                for d in devices.iter().filter(|d| !d.state.is_usable()) {
                    tracing::warn!(device = d.kind.label(), location = %d.location, state = ?d.state, "device unusable");
                }
                status.connectivity = connectivity;
                status.devices = devices.clone();
                status.checked = true;
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IdcardDevice;

    #[test]
    fn central_addresses_get_the_scheme_port_when_none_is_given() {
        assert_eq!(
            central_address("https://zwfw.example.gov.cn/api").as_deref(),
            Some("zwfw.example.gov.cn:443")
        );
        assert_eq!(
            central_address("http://127.0.0.1:8080").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            central_address("http://[::1]:8080/x").as_deref(),
            Some("[::1]:8080")
        );
        assert_eq!(central_address("not a url"), None);
    }

    #[test]
    fn an_unplugged_reader_is_reported_absent_and_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("idcard");
        std::fs::write(&present, b"").unwrap();
        let mut devices = DevicesSection {
            idcard: Some(IdcardDevice {
                port: Some(present),
                baud: None,
                usb: None,
                usb_serial: None,
            }),
            ..Default::default()
        };
        assert_eq!(probe_device_nodes(&devices)[0].state, HealthState::Ready);
        devices.idcard = Some(IdcardDevice {
            port: Some(dir.path().join("gone")),
            baud: None,
            usb: None,
            usb_serial: None,
        });
        let status = KioskStatus {
            connectivity: Connectivity::Online,
            devices: probe_device_nodes(&devices),
            checked: true,
        };
        assert_eq!(
            status.faulty_devices().collect::<Vec<_>>(),
            vec![DeviceKind::IdCardReader]
        );
    }

    #[tokio::test]
    async fn central_is_online_only_while_something_listens() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        assert_eq!(
            probe_central(&address, Duration::from_secs(2)).await,
            Connectivity::Online
        );
        drop(listener);
        assert_eq!(
            probe_central(&address, Duration::from_secs(2)).await,
            Connectivity::Offline
        );
    }
}
