//! The ways bytes reach a printer: a serial port, a `/dev/usb/lp*` (or any character device)
//! file, USB bulk endpoints, and a raw TCP socket (port 9100). Each becomes a [`Link`]: an
//! async byte stream the [`crate::Printer`] talks through.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An open byte stream to a printer.
pub trait Link: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Link for T {}

/// Where a printer is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A serial port (`/dev/ttyS0`, `/dev/kiosk/printer`), 8N1 at `baud`.
    Serial {
        /// The device path.
        path: PathBuf,
        /// Baud rate.
        baud: u32,
    },
    /// A character device written and read as a file (`/dev/usb/lp0`).
    Device(PathBuf),
    /// A network printer's raw port, `host:9100`.
    Tcp(String),
    /// A USB printer by vendor and product id, talked to over its bulk endpoints.
    Usb {
        /// USB vendor id.
        vendor: u16,
        /// USB product id.
        product: u16,
        /// The serial number that picks one of several identical printers.
        serial: Option<String>,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Serial { path, baud } => write!(f, "{} ({baud} baud)", path.display()),
            Self::Device(path) => write!(f, "{}", path.display()),
            Self::Tcp(addr) => write!(f, "tcp://{addr}"),
            Self::Usb {
                vendor,
                product,
                serial: None,
            } => write!(f, "usb {vendor:04x}:{product:04x}"),
            Self::Usb {
                vendor,
                product,
                serial: Some(serial),
            } => write!(f, "usb {vendor:04x}:{product:04x} serial {serial}"),
        }
    }
}

/// Why a link could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The OS refused.
    #[error("printer on {endpoint}: cannot open: {source}; {advice}")]
    Io {
        /// Where.
        endpoint: String,
        /// The OS error.
        #[source]
        source: io::Error,
        /// What to do.
        advice: &'static str,
    },
    /// The serial port could not be set up.
    #[error(
        "printer on {endpoint}: cannot open the serial port: {source}; check the path and that no other program holds it"
    )]
    Serial {
        /// Where.
        endpoint: String,
        /// Which step failed on which port, and the OS's reason.
        #[source]
        source: kiosk_hal::SerialError,
    },
    /// The USB device could not be found or claimed.
    #[error("printer on {endpoint}: {source}")]
    Usb {
        /// Where.
        endpoint: String,
        /// What went wrong and what to do.
        #[source]
        source: crate::usb::UsbOpenError,
    },
}

impl OpenError {
    /// Whether the printer is simply not there (unplugged, switched off, its node gone), as
    /// opposed to there but unusable.
    pub fn is_absent(&self) -> bool {
        match self {
            Self::Io { source, .. } => io_absent(source),
            Self::Serial { source, .. } => source.is_absent(),
            Self::Usb { source, .. } => *source == crate::usb::UsbOpenError::Absent,
        }
    }
}

/// Whether an OS error says the device is not there: no node (`ENOENT`), or a node whose
/// device went away (`ENODEV`, `ENXIO`, as `/dev/usb/lp0` answers after an unplug).
pub(crate) fn io_absent(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotFound
        || matches!(err.raw_os_error(), Some(libc::ENODEV | libc::ENXIO))
}

fn advice_for(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::NotFound => {
            "check that the printer is plugged in and the udev rule made the link"
        }
        io::ErrorKind::PermissionDenied => {
            "the kiosk user needs to be in the lp (or dialout) group"
        }
        io::ErrorKind::ConnectionRefused => {
            "the printer is on but its port 9100 is closed; check its network settings"
        }
        io::ErrorKind::TimedOut => {
            "the printer does not answer on the network; check its address and cable"
        }
        _ => "check the cable and that the printer is on",
    }
}

/// Opens a link to `endpoint`. TCP connects within `timeout`.
pub async fn open(
    endpoint: &Endpoint,
    timeout: std::time::Duration,
) -> Result<Box<dyn Link>, OpenError> {
    let name = endpoint.to_string();
    let io_err = |source: io::Error| OpenError::Io {
        endpoint: name.clone(),
        advice: advice_for(&source),
        source,
    };
    match endpoint {
        Endpoint::Serial { path, baud } => {
            let serial_err = |source| OpenError::Serial {
                endpoint: name.clone(),
                source,
            };
            let port = kiosk_hal::SerialPort::open_nonblocking(path, *baud).map_err(serial_err)?;
            let link = SerialLink::new(port).map_err(|source| OpenError::Serial {
                endpoint: name.clone(),
                source: kiosk_hal::SerialError {
                    path: path.clone(),
                    what: "registering with the reactor".into(),
                    source,
                },
            })?;
            Ok(Box::new(link))
        }
        Endpoint::Device(path) => Ok(Box::new(DeviceFile::open(path).map_err(io_err)?)),
        Endpoint::Tcp(addr) => {
            let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
                .await
                .map_err(|_| io_err(io::ErrorKind::TimedOut.into()))?
                .map_err(io_err)?;
            // Small writes (a status query) must not wait for Nagle.
            stream.set_nodelay(true).map_err(io_err)?;
            Ok(Box::new(stream))
        }
        Endpoint::Usb {
            vendor,
            product,
            serial,
        } => {
            let link = crate::usb::UsbLink::open(*vendor, *product, serial.clone())
                .await
                .map_err(|source| OpenError::Usb {
                    endpoint: name.clone(),
                    source,
                })?;
            Ok(Box::new(link))
        }
    }
}

/// A character device (`/dev/usb/lp0`) opened non-blocking and driven by the reactor, so a
/// read that gets no answer can be abandoned at a timeout without a thread stuck in it.
pub struct DeviceFile {
    fd: AsyncFd<File>,
}

impl DeviceFile {
    /// Opens `path` for reading and writing, non-blocking.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        // SAFETY: `File` owns its descriptor; it is neither closed nor replaced while the
        // `AsyncFd` owns the file, and `as_raw_fd` always returns that descriptor.
        let fd = unsafe { AsyncFd::register(file) }.map_err(io::Error::from)?;
        Ok(Self { fd })
    }
}

impl AsyncRead for DeviceFile {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| inner.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(err)) => return Poll::Ready(Err(err)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for DeviceFile {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|inner| inner.get_ref().write(buf)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// How often a flush looks whether the UART has sent everything: ~10 bytes at 9600 baud.
const DRAIN_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// A serial port (raw 8N1, non-blocking) driven by the reactor.
///
/// A flush waits until the bytes have left the UART, as `tcdrain` would, but without
/// blocking a runtime thread for the seconds a long job takes at 9600 baud: it looks at the
/// driver's output queue every [`DRAIN_POLL`] instead.
pub struct SerialLink {
    fd: AsyncFd<kiosk_hal::SerialPort>,
    drain_wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl SerialLink {
    /// Registers a port opened with [`kiosk_hal::SerialPort::open_nonblocking`]; must be
    /// called within a tokio runtime.
    pub fn new(port: kiosk_hal::SerialPort) -> io::Result<Self> {
        // SAFETY: `SerialPort` owns its descriptor (a `File`), never closes or replaces it
        // while alive, and `as_raw_fd` always returns that one; the `AsyncFd` owns the port.
        let fd = unsafe { AsyncFd::register(port) }.map_err(io::Error::from)?;
        Ok(Self {
            fd,
            drain_wait: None,
        })
    }
}

impl AsyncRead for SerialLink {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| inner.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(err)) => return Poll::Ready(Err(err)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for SerialLink {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|inner| inner.get_ref().write(buf)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(wait) = self.drain_wait.as_mut() {
                ready!(wait.as_mut().poll(cx));
                self.drain_wait = None;
            }
            let queued = self
                .fd
                .get_ref()
                .output_queued()
                .map_err(|err| io::Error::new(err.source.kind(), err))?;
            if queued == 0 {
                return Poll::Ready(Ok(()));
            }
            self.drain_wait = Some(Box::pin(tokio::time::sleep(DRAIN_POLL)));
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
