//! USB bulk transport (e.g. readers enumerating as 0400:C35A), blocking: run it on a
//! blocking thread.
//!
//! Readers come in two shapes. Most have one bulk endpoint pair and move whole frames over
//! it. Some split each frame: the 7-byte header (preamble and LEN) over one pair, the rest
//! over a second pair. Which shape a reader has is decided from its descriptors by
//! [`probe_layout`], a pure function, so the decision is tested without hardware.

use std::time::{Duration, Instant};

use rusb::{Context, TransferType, UsbContext};

use super::{Transport, TransportError};
use crate::frame::{self, Boundary, HEADER_LEN};

/// The transfer type of an endpoint, as the descriptor says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// Bulk: what frames travel over.
    Bulk,
    /// Interrupt, control or isochronous: not used for frames.
    Other,
}

/// What probing needs to know of one endpoint descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointInfo {
    /// The interface it belongs to.
    pub interface: u8,
    /// `bEndpointAddress`; bit 7 set means IN.
    pub address: u8,
    /// Transfer type.
    pub kind: TransferKind,
    /// `wMaxPacketSize`.
    pub max_packet: u16,
}

impl EndpointInfo {
    fn is_in(&self) -> bool {
        self.address & 0x80 != 0
    }
}

/// How frames travel over a reader's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointLayout {
    /// One OUT and one IN endpoint carry whole frames.
    Single {
        /// Interface to claim.
        interface: u8,
        /// Bulk OUT.
        out: u8,
        /// Bulk IN.
        input: u8,
    },
    /// Header and body travel over separate endpoint pairs.
    Split {
        /// Interface to claim.
        interface: u8,
        /// Bulk OUT for the 7 header bytes.
        header_out: u8,
        /// Bulk IN for the 7 header bytes.
        header_in: u8,
        /// Bulk OUT for the rest of the frame.
        body_out: u8,
        /// Bulk IN for the rest of the frame.
        body_in: u8,
    },
}

/// Why a device's descriptors do not look like a SAM reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// No interface has at least one bulk IN and one bulk OUT endpoint.
    #[error("no interface with a bulk IN and a bulk OUT endpoint")]
    NoBulkPair,
}

/// Decides the endpoint layout from the endpoint descriptors of a device.
///
/// The first interface with bulk endpoints in both directions wins. Two or more pairs mean a
/// split reader: the pair with the smaller max packet size carries headers (vendors size the
/// header pipe for the 7-byte header); on a tie, the lower endpoint numbers carry headers.
pub fn probe_layout(endpoints: &[EndpointInfo]) -> Result<EndpointLayout, ProbeError> {
    let mut interfaces: Vec<u8> = endpoints.iter().map(|e| e.interface).collect();
    interfaces.sort_unstable();
    interfaces.dedup();
    for interface in interfaces {
        let bulk = |is_in: bool| {
            let mut v: Vec<EndpointInfo> = endpoints
                .iter()
                .filter(|e| e.interface == interface && e.kind == TransferKind::Bulk)
                .filter(|e| e.is_in() == is_in)
                .copied()
                .collect();
            v.sort_by_key(|e| (e.max_packet, e.address & 0x0F));
            v
        };
        let (outs, ins) = (bulk(false), bulk(true));
        match (outs.as_slice(), ins.as_slice()) {
            ([], _) | (_, []) => continue,
            ([out], [input, ..]) | ([out, ..], [input]) => {
                return Ok(EndpointLayout::Single {
                    interface,
                    out: out.address,
                    input: input.address,
                });
            }
            ([header_out, body_out, ..], [header_in, body_in, ..]) => {
                return Ok(EndpointLayout::Split {
                    interface,
                    header_out: header_out.address,
                    header_in: header_in.address,
                    body_out: body_out.address,
                    body_in: body_in.address,
                });
            }
        }
    }
    Err(ProbeError::NoBulkPair)
}

/// The devices as [`kiosk_hal::pick_usb_device`] chooses among them; serial numbers are
/// read (which opens each device) only when a choice is to be made.
fn candidates(
    devices: &[rusb::Device<Context>],
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

/// A reader on USB bulk endpoints.
pub struct UsbTransport {
    handle: rusb::DeviceHandle<Context>,
    layout: EndpointLayout,
    location: String,
}

impl UsbTransport {
    /// Opens the device with this vendor and product id (the one with `serial` when several
    /// are attached), probes and claims it.
    pub fn open(
        vendor_id: u16,
        product_id: u16,
        serial: Option<&str>,
    ) -> Result<Self, TransportError> {
        let location = match serial {
            Some(serial) => format!("usb {vendor_id:04x}:{product_id:04x} serial {serial}"),
            None => format!("usb {vendor_id:04x}:{product_id:04x}"),
        };
        let fail = |reason: String| TransportError::Open {
            port: location.clone(),
            reason,
        };
        // An own context, not rusb's global one: that one panics when libusb cannot start
        // (no /dev/bus/usb in a container), which would kill the reader task's thread.
        let context = Context::new().map_err(|e| fail(format!("libusb unavailable: {e}")))?;
        let devices = context.devices().map_err(|e| fail(e.to_string()))?;
        let matching: Vec<_> = devices
            .iter()
            .filter(|d| {
                d.device_descriptor().is_ok_and(|desc| {
                    desc.vendor_id() == vendor_id && desc.product_id() == product_id
                })
            })
            .collect();
        let candidates = candidates(&matching, serial.is_some() || matching.len() > 1);
        let device = kiosk_hal::pick_usb_device(&candidates, serial)
            .map(|i| &matching[i])
            .map_err(|e| fail(e.to_string()))?;
        let handle = device
            .open()
            .map_err(|e| fail(format!("{e} (unplugged, or no permission)")))?;
        let config = handle
            .device()
            .active_config_descriptor()
            .map_err(|e| fail(e.to_string()))?;
        let endpoints: Vec<EndpointInfo> = config
            .interfaces()
            .flat_map(|i| i.descriptors())
            .flat_map(|d| {
                let interface = d.interface_number();
                d.endpoint_descriptors()
                    .map(move |e| EndpointInfo {
                        interface,
                        address: e.address(),
                        kind: match e.transfer_type() {
                            TransferType::Bulk => TransferKind::Bulk,
                            _ => TransferKind::Other,
                        },
                        max_packet: e.max_packet_size(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let layout = probe_layout(&endpoints).map_err(|e| fail(e.to_string()))?;
        let interface = match layout {
            EndpointLayout::Single { interface, .. } | EndpointLayout::Split { interface, .. } => {
                interface
            }
        };
        let _ = handle.set_auto_detach_kernel_driver(true);
        handle
            .claim_interface(interface)
            .map_err(|e| fail(format!("cannot claim interface {interface}: {e}")))?;
        Ok(Self {
            handle,
            layout,
            location,
        })
    }

    /// The probed layout.
    pub fn layout(&self) -> EndpointLayout {
        self.layout
    }

    fn write(&self, endpoint: u8, bytes: &[u8]) -> Result<(), TransportError> {
        let written = self
            .handle
            .write_bulk(endpoint, bytes, Duration::from_secs(1))
            .map_err(|e| TransportError::Io(e.to_string()))?;
        if written == bytes.len() {
            Ok(())
        } else {
            Err(TransportError::Io(format!(
                "short write on endpoint {endpoint:#04x}: {written} of {} bytes",
                bytes.len()
            )))
        }
    }

    /// Reads from `endpoint` into `buf` until `want` bytes are there or the deadline passes.
    fn read_until(
        &self,
        endpoint: u8,
        buf: &mut Vec<u8>,
        want: impl Fn(&[u8]) -> bool,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), TransportError> {
        // Card data passes through this chunk: wiped when the read returns.
        let mut chunk = zeroize::Zeroizing::new([0u8; 4096]);
        while !want(buf) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout {
                    timeout,
                    got: buf.len(),
                    received: buf.clone(),
                });
            }
            match self.handle.read_bulk(endpoint, chunk.as_mut_slice(), left) {
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(rusb::Error::Timeout) => {}
                Err(e) => return Err(TransportError::Io(e.to_string())),
            }
        }
        Ok(())
    }
}

impl Transport for UsbTransport {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        match self.layout {
            EndpointLayout::Single { out, .. } => self.write(out, frame),
            EndpointLayout::Split {
                header_out,
                body_out,
                ..
            } => {
                let (header, body) = frame.split_at(HEADER_LEN.min(frame.len()));
                self.write(header_out, header)?;
                self.write(body_out, body)
            }
        }
    }

    fn receive(&mut self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let deadline = Instant::now() + timeout;
        let complete = |b: &[u8]| matches!(frame::boundary(b), Boundary::Complete(_));
        // Room for the largest frame and one more chunk up front: growing would leave copies
        // of card data behind in freed allocations that nothing wipes.
        let mut buf = Vec::with_capacity(frame::HEADER_LEN + frame::MAX_LEN + 4096);
        match self.layout {
            EndpointLayout::Single { input, .. } => {
                self.read_until(input, &mut buf, complete, deadline, timeout)?;
            }
            EndpointLayout::Split {
                header_in, body_in, ..
            } => {
                self.read_until(
                    header_in,
                    &mut buf,
                    |b| b.len() >= HEADER_LEN,
                    deadline,
                    timeout,
                )?;
                self.read_until(body_in, &mut buf, complete, deadline, timeout)?;
            }
        }
        match frame::boundary(&buf) {
            Boundary::Complete(n) => {
                buf.truncate(n);
                Ok(buf)
            }
            _ => Err(TransportError::Timeout {
                timeout,
                got: buf.len(),
                received: buf,
            }),
        }
    }
}
