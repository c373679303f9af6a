//! libsane in a process of its own: `kiosk-sane-helper` runs the SANE thread of
//! [`Scanner`](crate::Scanner) and speaks to the kiosk over its stdin and stdout. A backend
//! that hangs (sanei_thread backends can deadlock in `sane_cancel`, see the README) or
//! crashes takes only the helper with it: the kiosk kills it, reports the run as failed,
//! and the next request starts a new helper and reopens the device.
//!
//! The wire: each message is `[u32 LE header length][u32 LE body length][JSON header]
//! [body]`; the body carries a page's pixels, everything else is in the header.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::error::ScanError;
use crate::page::{PageImage, PixelLayout};
use crate::sane::DeviceInfo;
use crate::scanner::{OpenedDevice, Request, ScanEnd, ScanEvent, ScannedPage};
use crate::settings::ScanSettings;

/// Name of the helper binary, looked for next to the running executable.
pub const HELPER_NAME: &str = "kiosk-sane-helper";
/// Environment variable naming the helper binary explicitly.
pub const HELPER_ENV: &str = "KIOSK_SANE_HELPER";
/// A header larger than this is not one of ours: the helper is confused, restart it.
const MAX_HEADER: u32 = 1 << 20;
/// A page body larger than this (2 GB) is refused as corrupt.
const MAX_BODY: u32 = 1 << 31;

/// How to run the helper and how long to wait for it.
#[derive(Debug, Clone, PartialEq)]
pub struct HelperConfig {
    /// The `kiosk-sane-helper` binary.
    pub program: PathBuf,
    /// Longest wait for an answer to start-up, listing or opening a device.
    pub call_timeout: Duration,
    /// Longest silence during a scan (no event, no data) before the backend counts as
    /// hung. A feeder's first page after warm-up is the slowest case.
    pub scan_timeout: Duration,
}

impl HelperConfig {
    /// The helper at `program` with the default timeouts (20 s for calls, 60 s of
    /// silence during a scan).
    pub fn new(program: impl Into<PathBuf>) -> Self {
        HelperConfig {
            program: program.into(),
            call_timeout: Duration::from_secs(20),
            scan_timeout: Duration::from_secs(60),
        }
    }

    /// The helper named by `KIOSK_SANE_HELPER`, or `kiosk-sane-helper` next to the running
    /// executable; `None` when there is neither.
    pub fn find() -> Option<Self> {
        if let Some(path) = std::env::var_os(HELPER_ENV) {
            return Some(Self::new(path));
        }
        let beside = std::env::current_exe().ok()?.parent()?.join(HELPER_NAME);
        beside.is_file().then(|| Self::new(beside))
    }
}

/// What the kiosk asks of the helper.
#[derive(Debug, Serialize, Deserialize)]
enum ToHelper {
    List,
    Open {
        name: String,
        settings: ScanSettings,
    },
    Scan {
        max_pages: Option<u32>,
    },
    /// Stop the running scan, as dropping the event receiver does in process.
    Cancel,
}

/// What the helper answers; a page's pixels travel in the body of `Page`.
#[derive(Debug, Serialize, Deserialize)]
enum FromHelper {
    Ready(Result<(), WireError>),
    Devices(Result<Vec<DeviceInfo>, WireError>),
    Opened(Result<OpenedDevice, WireError>),
    PageStarted {
        number: u32,
        width_px: u32,
        height_px: Option<u32>,
    },
    Progress {
        number: u32,
        bytes: u64,
        lines: u32,
        expected_bytes: Option<u64>,
    },
    Page {
        number: u32,
        width: u32,
        height: u32,
        dpi: f32,
        gray: bool,
    },
    Finished {
        pages: u32,
        end: ScanEnd,
    },
    Failed(WireError),
}

/// A [`ScanError`] as it crosses the pipe.
#[derive(Debug, Serialize, Deserialize)]
enum WireError {
    Jammed(String),
    FeederEmpty(String),
    CoverOpen(String),
    DeviceBusy(String),
    DeviceGone(String, String, String),
    AccessDenied(String),
    NoSuchDevice(String, String),
    Unsupported(String, String),
    Sane(String, String, String),
    Other(String, String),
}

impl From<&ScanError> for WireError {
    fn from(e: &ScanError) -> Self {
        match e {
            ScanError::Jammed { device } => WireError::Jammed(device.clone()),
            ScanError::FeederEmpty { device } => WireError::FeederEmpty(device.clone()),
            ScanError::CoverOpen { device } => WireError::CoverOpen(device.clone()),
            ScanError::DeviceBusy { device } => WireError::DeviceBusy(device.clone()),
            ScanError::DeviceGone {
                device,
                call,
                status,
            } => WireError::DeviceGone(device.clone(), call.to_string(), status.clone()),
            ScanError::AccessDenied { device } => WireError::AccessDenied(device.clone()),
            ScanError::NoSuchDevice { device, available } => {
                WireError::NoSuchDevice(device.clone(), available.clone())
            }
            ScanError::Unsupported { device, what } => {
                WireError::Unsupported(device.clone(), what.clone())
            }
            ScanError::Sane {
                device,
                call,
                status,
            } => WireError::Sane(device.clone(), call.to_string(), status.clone()),
            ScanError::BadImage { device, .. } | ScanError::Helper { device, .. } => {
                WireError::Other(device.clone(), e.to_string())
            }
            ScanError::WorkerGone => WireError::Other(String::new(), e.to_string()),
        }
    }
}

/// The SANE calls errors name, as the `&'static str` [`ScanError`] keeps.
fn call_name(call: &str) -> &'static str {
    const CALLS: [&str; 9] = [
        "sane_init",
        "sane_get_devices",
        "sane_open",
        "sane_start",
        "sane_get_parameters",
        "sane_read",
        "sane_control_option(count)",
        "sane_control_option(get)",
        "sane_control_option(set)",
    ];
    CALLS.into_iter().find(|c| *c == call).unwrap_or("sane")
}

impl From<WireError> for ScanError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Jammed(device) => ScanError::Jammed { device },
            WireError::FeederEmpty(device) => ScanError::FeederEmpty { device },
            WireError::CoverOpen(device) => ScanError::CoverOpen { device },
            WireError::DeviceBusy(device) => ScanError::DeviceBusy { device },
            WireError::DeviceGone(device, call, status) => ScanError::DeviceGone {
                device,
                call: call_name(&call),
                status,
            },
            WireError::AccessDenied(device) => ScanError::AccessDenied { device },
            WireError::NoSuchDevice(device, available) => {
                ScanError::NoSuchDevice { device, available }
            }
            WireError::Unsupported(device, what) => ScanError::Unsupported { device, what },
            WireError::Sane(device, call, status) => ScanError::Sane {
                device,
                call: call_name(&call),
                status,
            },
            // Errors that have no variant of their own on the wire (unreadable image data)
            // came from the backend, not from the helper, which keeps running.
            WireError::Other(device, what) => ScanError::Sane {
                device,
                call: "sane_read",
                status: what,
            },
        }
    }
}

fn write_message<T: Serialize>(out: &mut impl Write, header: &T, body: &[u8]) -> io::Result<()> {
    let header = serde_json::to_vec(header).map_err(io::Error::other)?;
    let too_big = || io::Error::new(io::ErrorKind::InvalidInput, "message too large");
    let header_len = u32::try_from(header.len()).map_err(|_| too_big())?;
    let body_len = u32::try_from(body.len()).map_err(|_| too_big())?;
    out.write_all(&header_len.to_le_bytes())?;
    out.write_all(&body_len.to_le_bytes())?;
    out.write_all(&header)?;
    out.write_all(body)?;
    out.flush()
}

fn read_message<T: for<'de> Deserialize<'de>>(input: &mut impl Read) -> io::Result<(T, Vec<u8>)> {
    let mut lengths = [0u8; 8];
    input.read_exact(&mut lengths)?;
    let [a, b, c, d, e, f, g, h] = lengths;
    let (header_len, body_len) = (
        u32::from_le_bytes([a, b, c, d]),
        u32::from_le_bytes([e, f, g, h]),
    );
    if header_len > MAX_HEADER || body_len > MAX_BODY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "message length out of range",
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    input.read_exact(&mut header)?;
    let mut body = vec![0u8; body_len as usize];
    input.read_exact(&mut body)?;
    let header = serde_json::from_slice(&header).map_err(io::Error::other)?;
    Ok((header, body))
}

/// The helper process: runs the SANE thread and relays between it and stdin/stdout. Ends
/// when stdin closes (the kiosk dropped its `Scanner` or died). Called by the
/// `kiosk-sane-helper` binary; not for use in the kiosk itself.
#[doc(hidden)]
pub fn helper_main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(_) => return ExitCode::FAILURE,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let scanner = runtime.block_on(crate::Scanner::start_in_process());
    let scanner = match scanner {
        Ok(s) => {
            if write_message(&mut out, &FromHelper::Ready(Ok(())), &[]).is_err() {
                return ExitCode::FAILURE;
            }
            s
        }
        Err(e) => {
            let _ = write_message(&mut out, &FromHelper::Ready(Err((&e).into())), &[]);
            return ExitCode::FAILURE;
        }
    };
    // Requests are read on their own thread so that a Cancel reaches a running scan.
    let cancel = Arc::new(AtomicBool::new(false));
    let (requests, inbox) = std_mpsc::channel();
    let cancel_flag = Arc::clone(&cancel);
    thread::spawn(move || {
        let mut input = BufReader::new(io::stdin().lock());
        while let Ok((message, _)) = read_message::<ToHelper>(&mut input) {
            match message {
                ToHelper::Cancel => cancel_flag.store(true, Ordering::SeqCst),
                other => {
                    if requests.send(other).is_err() {
                        return;
                    }
                }
            }
        }
    });
    while let Ok(request) = inbox.recv() {
        let written = match request {
            ToHelper::List => {
                let answer = runtime.block_on(scanner.list()).map_err(|e| (&e).into());
                write_message(&mut out, &FromHelper::Devices(answer), &[])
            }
            ToHelper::Open { name, settings } => {
                let answer = runtime
                    .block_on(scanner.open(&name, settings))
                    .map_err(|e| (&e).into());
                write_message(&mut out, &FromHelper::Opened(answer), &[])
            }
            ToHelper::Scan { max_pages } => {
                cancel.store(false, Ordering::SeqCst);
                relay_scan(&runtime, &scanner, max_pages, &cancel, &mut out)
            }
            ToHelper::Cancel => Ok(()),
        };
        if written.is_err() {
            // The kiosk is gone: nobody to scan for.
            break;
        }
    }
    ExitCode::SUCCESS
}

/// Relays one scan run's events to stdout, cancelling it when the kiosk asks.
fn relay_scan(
    runtime: &tokio::runtime::Runtime,
    scanner: &crate::Scanner,
    max_pages: Option<u32>,
    cancel: &AtomicBool,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut events = Some(scanner.scan_pages(max_pages));
    loop {
        let Some(receiver) = events.as_mut() else {
            return Ok(());
        };
        if cancel.load(Ordering::SeqCst) {
            // Dropping the receiver is how the SANE thread learns to cancel; the kiosk
            // stops waiting once it hears the run is over.
            drop(events.take());
            return write_message(
                out,
                &FromHelper::Failed(WireError::Other(String::new(), "cancelled".into())),
                &[],
            );
        }
        let event = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(20), receiver.recv()).await
        });
        let event = match event {
            Err(_) => continue,
            Ok(None) => return Ok(()),
            Ok(Some(event)) => event,
        };
        match event {
            ScanEvent::PageStarted {
                number,
                width_px,
                height_px,
            } => write_message(
                out,
                &FromHelper::PageStarted {
                    number,
                    width_px,
                    height_px,
                },
                &[],
            )?,
            ScanEvent::Progress {
                number,
                bytes,
                lines,
                expected_bytes,
            } => write_message(
                out,
                &FromHelper::Progress {
                    number,
                    bytes,
                    lines,
                    expected_bytes,
                },
                &[],
            )?,
            ScanEvent::PageDone(ScannedPage { number, image }) => write_message(
                out,
                &FromHelper::Page {
                    number,
                    width: image.width,
                    height: image.height,
                    dpi: image.dpi,
                    gray: image.layout == PixelLayout::Gray8,
                },
                &image.data,
            )?,
            ScanEvent::Finished { pages, end } => {
                return write_message(out, &FromHelper::Finished { pages, end }, &[]);
            }
            ScanEvent::Failed(e) => {
                return write_message(out, &FromHelper::Failed((&e).into()), &[]);
            }
        }
    }
}

/// A running helper process, its stdin, and its messages as a reader thread delivers them.
struct Helper {
    process: Child,
    stdin: BufWriter<ChildStdin>,
    messages: std_mpsc::Receiver<io::Result<(FromHelper, Vec<u8>)>>,
}

impl Helper {
    fn spawn(config: &HelperConfig) -> Result<Helper, ScanError> {
        let failed = |what: String| ScanError::Helper {
            device: "sane".into(),
            what,
        };
        let mut process = Command::new(&config.program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| failed(format!("{} could not start: {e}", config.program.display())))?;
        let (Some(stdin), Some(stdout)) = (process.stdin.take(), process.stdout.take()) else {
            let _ = process.kill();
            let _ = process.wait();
            return Err(failed("has no pipes".into()));
        };
        let (tx, messages) = std_mpsc::channel();
        thread::Builder::new()
            .name("sane-helper-reader".into())
            .spawn(move || {
                let mut input = BufReader::new(stdout);
                loop {
                    let message = read_message::<FromHelper>(&mut input);
                    let end = message.is_err();
                    if tx.send(message).is_err() || end {
                        return;
                    }
                }
            })
            .map_err(|e| failed(format!("reader thread: {e}")))?;
        let mut helper = Helper {
            process,
            stdin: BufWriter::new(stdin),
            messages,
        };
        match helper.receive("start", config.call_timeout)? {
            (FromHelper::Ready(Ok(())), _) => Ok(helper),
            (FromHelper::Ready(Err(e)), _) => {
                helper.stop(Duration::ZERO);
                Err(e.into())
            }
            (other, _) => {
                helper.stop(Duration::ZERO);
                Err(failed(format!("answered {other:?} instead of ready")))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.process.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }

    fn send(&mut self, message: &ToHelper) -> Result<(), ScanError> {
        write_message(&mut self.stdin, message, &[]).map_err(|e| ScanError::Helper {
            device: "sane".into(),
            what: format!("stopped reading requests ({e})"),
        })
    }

    /// The next message, or an error when the helper says nothing for `timeout` or dies.
    fn receive(
        &mut self,
        during: &str,
        timeout: Duration,
    ) -> Result<(FromHelper, Vec<u8>), ScanError> {
        match self.messages.recv_timeout(timeout) {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(e)) => Err(ScanError::Helper {
                device: "sane".into(),
                what: format!("ended during {during} ({e}): the backend crashed"),
            }),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(ScanError::Helper {
                device: "sane".into(),
                what: format!("ended during {during}: the backend crashed"),
            }),
            Err(std_mpsc::RecvTimeoutError::Timeout) => Err(ScanError::Helper {
                device: "sane".into(),
                what: format!(
                    "did not answer {during} within {} s: the backend hung",
                    timeout.as_secs_f32()
                ),
            }),
        }
    }

    /// Closes stdin so the helper ends libsane and exits; kills it after `grace`.
    fn stop(mut self, grace: Duration) {
        drop(self.stdin);
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline {
            if !matches!(self.process.try_wait(), Ok(None)) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Grace for a helper to exit on its own when the `Scanner` is dropped.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// The kiosk's side: serves the `Scanner`'s requests through a helper process, restarting
/// it (and reopening the last device) whenever it died or had to be killed.
pub(crate) fn parent_worker(
    inbox: std_mpsc::Receiver<Request>,
    ready: oneshot::Sender<Result<(), ScanError>>,
    config: HelperConfig,
    pid: Arc<AtomicU32>,
) {
    let helper = match Helper::spawn(&config) {
        Ok(h) => h,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    pid.store(helper.pid(), Ordering::SeqCst);
    if ready.send(Ok(())).is_err() {
        helper.stop(EXIT_GRACE);
        return;
    }
    let mut slot = Some(helper);
    let mut last_open: Option<(String, ScanSettings)> = None;
    while let Ok(request) = inbox.recv() {
        // A helper that died between requests is replaced before the request is sent.
        let current = match ensure(&mut slot, &config, &last_open, &pid) {
            Ok(h) => h,
            Err(e) => {
                fail(request, e);
                continue;
            }
        };
        // A helper that hung or crashed is killed before the caller hears of it, so that
        // nothing of the old backend lingers when the caller tries again.
        match request {
            Request::List(reply) => {
                let result = match call(current, &ToHelper::List, config.call_timeout, "list") {
                    Ok(FromHelper::Devices(d)) => d.map_err(ScanError::from),
                    Ok(other) => Err(kill(&mut slot, &pid, unexpected(&other))),
                    Err(e) => Err(kill(&mut slot, &pid, e)),
                };
                let _ = reply.send(result);
            }
            Request::Open {
                name,
                settings,
                reply,
            } => {
                let message = ToHelper::Open {
                    name: name.clone(),
                    settings: settings.clone(),
                };
                let result = match call(current, &message, config.call_timeout, "open") {
                    Ok(FromHelper::Opened(o)) => o.map_err(ScanError::from),
                    Ok(other) => Err(kill(&mut slot, &pid, unexpected(&other))),
                    Err(e) => Err(kill(&mut slot, &pid, e)),
                };
                if result.is_ok() {
                    last_open = Some((name, settings));
                }
                let _ = reply.send(result);
            }
            Request::Scan { max_pages, events } => {
                if let Err(e) = relay_events(current, &config, max_pages, &events) {
                    let e = kill(&mut slot, &pid, e);
                    let _ = events.blocking_send(ScanEvent::Failed(e));
                }
            }
        }
    }
    if let Some(h) = slot.take() {
        h.stop(EXIT_GRACE);
    }
}

/// Stops the helper that hung or crashed at once; the next request starts a new one.
/// Returns `error`, for the caller.
fn kill(slot: &mut Option<Helper>, pid: &AtomicU32, error: ScanError) -> ScanError {
    if let Some(h) = slot.take() {
        tracing::warn!(pid = h.pid(), %error, "scanner: SANE helper killed; it restarts with the next request");
        h.stop(Duration::ZERO);
    }
    pid.store(0, Ordering::SeqCst);
    error
}

/// The live helper, starting a new one (and reopening the last device) if needed.
fn ensure<'a>(
    slot: &'a mut Option<Helper>,
    config: &HelperConfig,
    last_open: &Option<(String, ScanSettings)>,
    pid: &AtomicU32,
) -> Result<&'a mut Helper, ScanError> {
    if slot.as_mut().is_some_and(|h| !h.alive()) {
        tracing::warn!("scanner: SANE helper exited; starting a new one");
        if let Some(h) = slot.take() {
            h.stop(Duration::ZERO);
        }
    }
    if slot.is_none() {
        let mut fresh = Helper::spawn(config)?;
        if let Some((name, settings)) = last_open {
            let message = ToHelper::Open {
                name: name.clone(),
                settings: settings.clone(),
            };
            match call(&mut fresh, &message, config.call_timeout, "reopen") {
                Ok(FromHelper::Opened(Ok(_))) => {}
                Ok(FromHelper::Opened(Err(e))) => {
                    // Kept: the device may come back (replugged) and be opened again.
                    pid.store(fresh.pid(), Ordering::SeqCst);
                    *slot = Some(fresh);
                    return Err(e.into());
                }
                Ok(other) => {
                    fresh.stop(Duration::ZERO);
                    return Err(unexpected(&other));
                }
                Err(e) => {
                    fresh.stop(Duration::ZERO);
                    return Err(e);
                }
            }
        }
        tracing::info!(pid = fresh.pid(), "scanner: SANE helper started");
        pid.store(fresh.pid(), Ordering::SeqCst);
        *slot = Some(fresh);
    }
    slot.as_mut().ok_or(ScanError::WorkerGone)
}

fn call(
    helper: &mut Helper,
    message: &ToHelper,
    timeout: Duration,
    during: &str,
) -> Result<FromHelper, ScanError> {
    helper.send(message)?;
    Ok(helper.receive(during, timeout)?.0)
}

fn unexpected(message: &FromHelper) -> ScanError {
    ScanError::Helper {
        device: "sane".into(),
        what: format!("answered out of turn ({message:?})"),
    }
}

fn fail(request: Request, e: ScanError) {
    match request {
        Request::List(reply) => {
            let _ = reply.send(Err(e));
        }
        Request::Open { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        Request::Scan { events, .. } => {
            let _ = events.blocking_send(ScanEvent::Failed(e));
        }
    }
}

/// Relays one scan run. `Err` when the helper broke (hung, died, spoke out of turn) and
/// must be replaced; the caller has not been told yet.
fn relay_events(
    helper: &mut Helper,
    config: &HelperConfig,
    max_pages: Option<u32>,
    events: &mpsc::Sender<ScanEvent>,
) -> Result<(), ScanError> {
    let broke = Err;
    if let Err(e) = helper.send(&ToHelper::Scan { max_pages }) {
        return broke(e);
    }
    let mut cancelled = false;
    loop {
        let (message, body) = match helper.receive("a scan", config.scan_timeout) {
            Ok(m) => m,
            Err(e) => return broke(e),
        };
        let event = match message {
            FromHelper::PageStarted {
                number,
                width_px,
                height_px,
            } => ScanEvent::PageStarted {
                number,
                width_px,
                height_px,
            },
            FromHelper::Progress {
                number,
                bytes,
                lines,
                expected_bytes,
            } => {
                // Advisory, as in process: skip when the receiver lags.
                let _ = events.try_send(ScanEvent::Progress {
                    number,
                    bytes,
                    lines,
                    expected_bytes,
                });
                continue;
            }
            FromHelper::Page {
                number,
                width,
                height,
                dpi,
                gray,
            } => {
                let layout = if gray {
                    PixelLayout::Gray8
                } else {
                    PixelLayout::Rgb8
                };
                let expected = width as usize * height as usize * layout.channels();
                if body.len() != expected {
                    return broke(ScanError::Helper {
                        device: "sane".into(),
                        what: format!(
                            "sent a {width} x {height} page of {} bytes, not {expected}",
                            body.len()
                        ),
                    });
                }
                ScanEvent::PageDone(ScannedPage {
                    number,
                    image: PageImage {
                        width,
                        height,
                        dpi,
                        layout,
                        data: body,
                    },
                })
            }
            FromHelper::Finished { pages, end } => {
                let _ = events.blocking_send(ScanEvent::Finished { pages, end });
                return Ok(());
            }
            FromHelper::Failed(e) => {
                if !cancelled {
                    let _ = events.blocking_send(ScanEvent::Failed(e.into()));
                }
                return Ok(());
            }
            other => return broke(unexpected(&other)),
        };
        if !cancelled && events.blocking_send(event).is_err() {
            // The receiver is gone: cancel, then drain until the helper says the run
            // is over, so the next request starts on a quiet pipe.
            cancelled = true;
            if let Err(e) = helper.send(&ToHelper::Cancel) {
                return broke(e);
            }
        }
    }
}
