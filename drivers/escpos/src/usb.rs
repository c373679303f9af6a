//! USB printers spoken to directly over bulk endpoints with `rusb` (for printers that are
//! not bound to the kernel's `usblp`, or whose `usblp` node gives no status back).
//!
//! libusb is blocking, so two threads own the device handle: one writes what the driver
//! sends, one polls the IN endpoint and forwards what the printer answers. The async side
//! sees an ordinary duplex stream. The choice of interface and endpoints is a pure function
//! of the descriptors ([`choose_endpoints`]) so that it is tested without hardware.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rusb::UsbContext;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

/// USB class code of printers.
pub const CLASS_PRINTER: u8 = 0x07;
/// USB class code meaning "vendor specific": many Chinese thermal printers use it.
pub const CLASS_VENDOR: u8 = 0xFF;

/// Direction of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Device to host.
    In,
    /// Host to device.
    Out,
}

/// One endpoint as its descriptor describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointInfo {
    /// Endpoint address, direction bit included.
    pub address: u8,
    /// Its direction.
    pub direction: Direction,
    /// Whether it is a bulk endpoint (the others are of no use to a printer driver).
    pub bulk: bool,
}

/// One alternate setting of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Interface number.
    pub number: u8,
    /// Alternate setting.
    pub alt_setting: u8,
    /// Class code.
    pub class: u8,
    /// Its endpoints.
    pub endpoints: Vec<EndpointInfo>,
}

/// The interface and endpoints to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// Interface to claim.
    pub interface: u8,
    /// Its alternate setting.
    pub alt_setting: u8,
    /// Bulk OUT endpoint for print data.
    pub out: u8,
    /// Bulk IN endpoint for status answers; unidirectional printers have none.
    pub input: Option<u8>,
}

/// Picks where to talk: a printer-class interface first (bidirectional settings before
/// unidirectional ones), else a vendor-specific interface with a bulk OUT endpoint.
pub fn choose_endpoints(interfaces: &[InterfaceInfo]) -> Option<Endpoints> {
    let candidate = |iface: &InterfaceInfo| {
        let out = iface
            .endpoints
            .iter()
            .find(|e| e.bulk && e.direction == Direction::Out)?;
        let input = iface
            .endpoints
            .iter()
            .find(|e| e.bulk && e.direction == Direction::In);
        Some(Endpoints {
            interface: iface.number,
            alt_setting: iface.alt_setting,
            out: out.address,
            input: input.map(|e| e.address),
        })
    };
    let rank = |iface: &InterfaceInfo, ep: &Endpoints| {
        let class_rank = match iface.class {
            CLASS_PRINTER => 0,
            CLASS_VENDOR => 1,
            _ => 2,
        };
        (
            class_rank,
            ep.input.is_none(),
            iface.number,
            iface.alt_setting,
        )
    };
    interfaces
        .iter()
        .filter(|iface| iface.class == CLASS_PRINTER || iface.class == CLASS_VENDOR)
        .filter_map(|iface| candidate(iface).map(|ep| (rank(iface, &ep), ep)))
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, ep)| ep)
}

fn describe(device: &rusb::Device<rusb::Context>) -> Result<Vec<InterfaceInfo>, rusb::Error> {
    let config = device.active_config_descriptor()?;
    let mut out = Vec::new();
    for interface in config.interfaces() {
        for desc in interface.descriptors() {
            out.push(InterfaceInfo {
                number: desc.interface_number(),
                alt_setting: desc.setting_number(),
                class: desc.class_code(),
                endpoints: desc
                    .endpoint_descriptors()
                    .map(|e| EndpointInfo {
                        address: e.address(),
                        direction: match e.direction() {
                            rusb::Direction::In => Direction::In,
                            rusb::Direction::Out => Direction::Out,
                        },
                        bulk: e.transfer_type() == rusb::TransferType::Bulk,
                    })
                    .collect(),
            });
        }
    }
    Ok(out)
}

const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const READ_POLL: Duration = Duration::from_millis(100);

/// Why a USB printer could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsbOpenError {
    /// No device with these ids is attached (unplugged, or switched off).
    #[error("no such USB device; check the cable and `lsusb` for the ids")]
    Absent,
    /// The device is there but cannot be used; the text says why and what to do.
    #[error("{0}")]
    Unusable(String),
}

/// What an error of a bulk transfer means for the link: whether the device is gone (so the
/// link is dead and must be reopened once it is back) or the transfer may simply be tried
/// again. Pure, so that unplugging is tested without hardware.
pub fn transfer_failure(err: &rusb::Error) -> TransferFailure {
    match err {
        rusb::Error::Timeout | rusb::Error::Interrupted | rusb::Error::Busy => {
            TransferFailure::Retry
        }
        // NoDevice is the unplug; Io and Pipe are what a device half-way through
        // disappearing, or one that reset itself, reports first.
        _ => TransferFailure::LinkLost,
    }
}

/// See [`transfer_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferFailure {
    /// Nothing came in time, or the call was interrupted: try again.
    Retry,
    /// The device is gone or broken: close the link.
    LinkLost,
}

/// A claimed USB printer seen as an async byte stream.
pub struct UsbLink {
    near: DuplexStream,
    lost: Arc<AtomicBool>,
}

impl UsbLink {
    /// Finds the first device with `vendor:product`, claims its printer interface and starts
    /// the two I/O threads. The error text is for a technician.
    pub async fn open(
        vendor: u16,
        product: u16,
        serial: Option<String>,
    ) -> Result<Self, UsbOpenError> {
        let runtime = tokio::runtime::Handle::current();
        let (handle, endpoints) =
            tokio::task::spawn_blocking(move || claim(vendor, product, serial.as_deref()))
                .await
                .map_err(|e| UsbOpenError::Unusable(format!("USB open task failed: {e}")))??;
        let handle = Arc::new(handle);
        let lost = Arc::new(AtomicBool::new(false));
        let (near, far) = tokio::io::duplex(64 * 1024);
        let (mut far_read, mut far_write) = tokio::io::split(far);

        let writer = Arc::clone(&handle);
        let rt = runtime.clone();
        let writer_lost = Arc::clone(&lost);
        std::thread::Builder::new()
            .name("usb-printer-out".into())
            .spawn(move || {
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = rt.block_on(far_read.read(&mut buf)) {
                    if n == 0 {
                        break;
                    }
                    let mut sent = 0;
                    while sent < n {
                        match writer.write_bulk(endpoints.out, &buf[sent..n], WRITE_TIMEOUT) {
                            Ok(k) => sent += k,
                            Err(err) if transfer_failure(&err) == TransferFailure::Retry => {
                                // A stopped printer (paper out) takes nothing until it is
                                // served; the driver's own timeouts tell the citizen. Do not
                                // spin on a busy device meanwhile.
                                tracing::debug!(%err, "USB printer: bulk write retried");
                                std::thread::sleep(READ_POLL);
                            }
                            Err(err) => {
                                tracing::warn!(%err, "USB printer: bulk write failed");
                                writer_lost.store(true, Ordering::SeqCst);
                                return;
                            }
                        }
                    }
                }
            })
            .map_err(|e| {
                UsbOpenError::Unusable(format!("cannot start the USB writer thread: {e}"))
            })?;

        if let Some(input) = endpoints.input {
            let reader = Arc::clone(&handle);
            let reader_lost = Arc::clone(&lost);
            std::thread::Builder::new()
                .name("usb-printer-in".into())
                .spawn(move || {
                    let mut buf = [0u8; 64];
                    loop {
                        match reader.read_bulk(input, &mut buf, READ_POLL) {
                            Ok(0) => {}
                            Ok(n) => {
                                if runtime.block_on(far_write.write_all(&buf[..n])).is_err() {
                                    return;
                                }
                            }
                            Err(err) if transfer_failure(&err) == TransferFailure::Retry => {}
                            Err(err) => {
                                tracing::warn!(%err, "USB printer: bulk read failed");
                                reader_lost.store(true, Ordering::SeqCst);
                            }
                        }
                        // Either thread found the device gone: end the stream, so that the
                        // driver's next read sees the link closed and reopens it.
                        if reader_lost.load(Ordering::SeqCst) {
                            let _ = runtime.block_on(far_write.shutdown());
                            return;
                        }
                        // The driver side dropped the link: stop polling the device.
                        if Arc::strong_count(&reader) == 1 {
                            return;
                        }
                    }
                })
                .map_err(|e| {
                    UsbOpenError::Unusable(format!("cannot start the USB reader thread: {e}"))
                })?;
        }
        Ok(Self { near, lost })
    }

    fn check_lost(&self) -> std::io::Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the USB printer is gone (unplugged or switched off)",
            ))
        } else {
            Ok(())
        }
    }
}

fn claim(
    vendor: u16,
    product: u16,
    serial: Option<&str>,
) -> Result<(rusb::DeviceHandle<rusb::Context>, Endpoints), UsbOpenError> {
    let unusable = UsbOpenError::Unusable;
    let context = rusb::Context::new().map_err(|e| unusable(format!("libusb unavailable: {e}")))?;
    let devices = context
        .devices()
        .map_err(|e| unusable(format!("cannot list USB devices: {e}")))?;
    let matching: Vec<_> = devices
        .iter()
        .filter(|d| {
            d.device_descriptor()
                .is_ok_and(|desc| desc.vendor_id() == vendor && desc.product_id() == product)
        })
        .collect();
    let candidates = usb_candidates(&matching, serial.is_some() || matching.len() > 1);
    let device = match kiosk_hal::pick_usb_device(&candidates, serial) {
        Ok(i) => matching[i].clone(),
        Err(kiosk_hal::UsbPickError::Absent) => return Err(UsbOpenError::Absent),
        Err(other) => return Err(unusable(other.to_string())),
    };
    let interfaces =
        describe(&device).map_err(|e| unusable(format!("cannot read USB descriptors: {e}")))?;
    let endpoints = choose_endpoints(&interfaces).ok_or_else(|| {
        unusable(
            "the device has no printer or vendor interface with a bulk OUT endpoint; is it a printer?"
                .to_owned(),
        )
    })?;
    let handle = device.open().map_err(|e| match e {
        rusb::Error::NoDevice => UsbOpenError::Absent,
        e => unusable(format!(
            "cannot open the USB device: {e}; the kiosk user needs access (udev rule)"
        )),
    })?;
    if handle
        .kernel_driver_active(endpoints.interface)
        .unwrap_or(false)
    {
        handle
            .detach_kernel_driver(endpoints.interface)
            .map_err(|e| unusable(format!("cannot detach usblp from the printer: {e}")))?;
    }
    handle.claim_interface(endpoints.interface).map_err(|e| {
        unusable(format!(
            "cannot claim the printer interface: {e}; another program holds it"
        ))
    })?;
    if endpoints.alt_setting != 0 {
        handle
            .set_alternate_setting(endpoints.interface, endpoints.alt_setting)
            .map_err(|e| {
                unusable(format!(
                    "cannot select the printer's alternate setting: {e}"
                ))
            })?;
    }
    Ok((handle, endpoints))
}

/// The devices as [`kiosk_hal::pick_usb_device`] chooses among them; their serial numbers
/// are read (which opens each device) only when a choice is to be made.
pub(crate) fn usb_candidates<T: UsbContext>(
    devices: &[rusb::Device<T>],
    read_serials: bool,
) -> Vec<kiosk_hal::UsbCandidate> {
    devices
        .iter()
        .map(|d| {
            let ports = d
                .port_numbers()
                .map(|p| p.iter().map(u8::to_string).collect::<Vec<_>>().join("."))
                .unwrap_or_default();
            let serial = if read_serials {
                d.device_descriptor()
                    .ok()
                    .and_then(|desc| d.open().ok()?.read_serial_number_string_ascii(&desc).ok())
            } else {
                None
            };
            kiosk_hal::UsbCandidate {
                bus_path: format!("{}-{ports}", d.bus_number()),
                serial,
            }
        })
        .collect()
}

impl AsyncRead for UsbLink {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check_lost()?;
        Pin::new(&mut self.near).poll_read(cx, buf)
    }
}

impl AsyncWrite for UsbLink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check_lost()?;
        Pin::new(&mut self.near).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.near).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.near).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(address: u8, bulk: bool) -> EndpointInfo {
        EndpointInfo {
            address,
            direction: if address & 0x80 != 0 {
                Direction::In
            } else {
                Direction::Out
            },
            bulk,
        }
    }

    fn iface(number: u8, alt: u8, class: u8, endpoints: Vec<EndpointInfo>) -> InterfaceInfo {
        InterfaceInfo {
            number,
            alt_setting: alt,
            class,
            endpoints,
        }
    }

    #[test]
    fn a_bidirectional_printer_interface_is_preferred_over_a_unidirectional_one() {
        let interfaces = [
            // alt 0: unidirectional (OUT only), alt 1: bidirectional
            iface(0, 0, CLASS_PRINTER, vec![ep(0x01, true)]),
            iface(0, 1, CLASS_PRINTER, vec![ep(0x01, true), ep(0x82, true)]),
        ];
        let chosen = choose_endpoints(&interfaces).unwrap();
        assert_eq!(chosen.alt_setting, 1);
        assert_eq!(chosen.out, 0x01);
        assert_eq!(chosen.input, Some(0x82));
    }

    #[test]
    fn a_vendor_interface_is_used_when_there_is_no_printer_class() {
        let interfaces = [
            // HID keypad on interface 0 (interrupt endpoint), vendor bulk pair on 1
            iface(0, 0, 0x03, vec![ep(0x81, false)]),
            iface(1, 0, CLASS_VENDOR, vec![ep(0x03, true), ep(0x84, true)]),
        ];
        let chosen = choose_endpoints(&interfaces).unwrap();
        assert_eq!(chosen.interface, 1);
        assert_eq!((chosen.out, chosen.input), (0x03, Some(0x84)));
    }

    #[test]
    fn the_printer_class_wins_over_a_vendor_interface() {
        let interfaces = [
            iface(0, 0, CLASS_VENDOR, vec![ep(0x01, true), ep(0x81, true)]),
            iface(1, 0, CLASS_PRINTER, vec![ep(0x02, true)]),
        ];
        assert_eq!(choose_endpoints(&interfaces).unwrap().interface, 1);
    }

    #[test]
    fn an_unplugged_printer_ends_the_link_and_a_slow_one_does_not() {
        // What libusb reports when the cable is pulled mid-transfer, or the printer resets.
        for gone in [rusb::Error::NoDevice, rusb::Error::Io, rusb::Error::Pipe] {
            assert_eq!(transfer_failure(&gone), TransferFailure::LinkLost, "{gone}");
        }
        // A printer busy feeding paper answers late; that is not an unplug.
        for slow in [
            rusb::Error::Timeout,
            rusb::Error::Interrupted,
            rusb::Error::Busy,
        ] {
            assert_eq!(transfer_failure(&slow), TransferFailure::Retry, "{slow}");
        }
    }

    #[test]
    fn a_device_without_a_bulk_out_endpoint_is_not_a_printer() {
        let interfaces = [
            iface(0, 0, CLASS_PRINTER, vec![ep(0x81, true)]),
            iface(1, 0, 0x08, vec![ep(0x02, true)]), // mass storage
        ];
        assert_eq!(choose_endpoints(&interfaces), None);
    }
}
