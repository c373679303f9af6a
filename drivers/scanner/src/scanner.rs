//! The async face of the driver: a [`Scanner`] handle whose SANE calls all run on one
//! dedicated thread, answering over channels; that thread runs either in this process or,
//! when the `kiosk-sane-helper` binary is installed, in a helper process of its own that
//! is killed and restarted when a backend hangs or crashes (see [`crate::helper`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread;

use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
use tokio::sync::{mpsc, oneshot};

use crate::error::ScanError;
use crate::frame::{FrameFormat, FrameParameters, decode_page};
use crate::helper::{HelperConfig, parent_worker};
use crate::page::PageImage;
use crate::sane::{Device, DeviceInfo, PageStart, Session};
use crate::settings::{ScanSettings, Source};

/// Bytes asked of `sane_read` at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Progress events per page, at most (they are lossy: dropped when the receiver lags).
const PROGRESS_STEPS: u64 = 20;
/// Events buffered between the SANE thread and the receiver.
const EVENT_BUFFER: usize = 32;
/// A pause before the calls that make a backend cancel its reader thread (the EOF read of a
/// frame, `sane_cancel`). Backends built on sanei_thread (the test backend, pixma and others)
/// cancel that thread asynchronously with `pthread_cancel`; caught inside `free` as it
/// finishes, it leaves a malloc arena lock held and its own exit then waits for it forever
/// (seen with gdb in `tcache_thread_shutdown`). By the time we have read every byte of a frame
/// the reader has written them all, so this pause lets it finish before it is cancelled. It
/// narrows a race in libsane that only running SANE in a process of its own would close.
const READER_GRACE: std::time::Duration = std::time::Duration::from_millis(30);
/// How long dropping a [`Scanner`] waits for the SANE thread to close the device and end
/// libsane. A backend can hang in `sane_cancel` (sanei_thread cancels its reader thread
/// asynchronously, which can leave a malloc lock held); the process must still be able to
/// finish, so after this the thread is left behind and the hang is logged.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A page as it came off the scanner.
#[derive(Debug, Clone)]
pub struct ScannedPage {
    /// 1-based position in this scan run.
    pub number: u32,
    /// The pixels.
    pub image: PageImage,
}

/// Why a scan run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanEnd {
    /// The feeder ran out of paper after at least one page.
    FeederEmpty,
    /// The number of pages asked for was reached.
    PageLimit,
}

/// What a scan run reports, in order: for each page `PageStarted`, some `Progress`,
/// `PageDone`; then exactly one `Finished` or `Failed`.
#[derive(Debug)]
pub enum ScanEvent {
    /// The scanner started a page.
    PageStarted {
        /// 1-based page number.
        number: u32,
        /// Pixels per line.
        width_px: u32,
        /// Lines, when the device knows them in advance.
        height_px: Option<u32>,
    },
    /// Data of the current page arrived.
    Progress {
        /// 1-based page number.
        number: u32,
        /// Bytes read so far for this page.
        bytes: u64,
        /// Whole lines read so far.
        lines: u32,
        /// Bytes the page will have, when known.
        expected_bytes: Option<u64>,
    },
    /// A page is complete.
    PageDone(ScannedPage),
    /// The run ended normally.
    Finished {
        /// Pages scanned.
        pages: u32,
        /// Why it ended.
        end: ScanEnd,
    },
    /// The run stopped on an error; pages already delivered stay valid.
    Failed(ScanError),
}

pub(crate) enum Request {
    List(oneshot::Sender<Result<Vec<DeviceInfo>, ScanError>>),
    Open {
        name: String,
        settings: ScanSettings,
        reply: oneshot::Sender<Result<OpenedDevice, ScanError>>,
    },
    Scan {
        max_pages: Option<u32>,
        events: mpsc::Sender<ScanEvent>,
    },
}

/// The device that [`Scanner::open`] opened, with what it actually applied.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpenedDevice {
    /// SANE name.
    pub name: String,
    /// Resolution the device uses (it may snap the one asked for).
    pub dpi: f32,
    /// The settings applied.
    pub settings: ScanSettings,
}

/// Handle to the scanner thread. Dropping it closes the device and ends libsane.
///
/// libsane is process-global, so only one in-process `Scanner` is live per process: a
/// second [`Scanner::start_in_process`] waits until the first is dropped. Each helper
/// process has a libsane of its own.
pub struct Scanner {
    // Process id of the SANE helper, 0 when in process or between helpers.
    helper_pid: Arc<AtomicU32>,
    requests: Option<std_mpsc::Sender<Request>>,
    worker: Option<thread::JoinHandle<()>>,
    // Closed or signalled when the worker has returned. In a Mutex only so that `Scanner`
    // stays Sync (an mpsc Receiver is not); only Drop takes it.
    finished: std::sync::Mutex<Option<std_mpsc::Receiver<()>>>,
}

// The engine keeps a Scanner across awaits on a multi-threaded runtime.
const _: fn() = || {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Scanner>();
};

impl Scanner {
    /// Starts SANE: in the helper process when one is installed ([`HelperConfig::find`]:
    /// `KIOSK_SANE_HELPER`, or `kiosk-sane-helper` beside the running executable), else
    /// on a thread of this process.
    pub async fn start() -> Result<Scanner, ScanError> {
        match HelperConfig::find() {
            Some(config) => Scanner::start_with_helper(config).await,
            None => {
                tracing::info!("scanner: no kiosk-sane-helper installed; libsane runs in process");
                Scanner::start_in_process().await
            }
        }
    }

    /// Starts the SANE thread in this process and initialises libsane on it. A backend
    /// that hangs there leaves the scanner dead until the process restarts; prefer
    /// [`Scanner::start_with_helper`].
    pub async fn start_in_process() -> Result<Scanner, ScanError> {
        Scanner::spawn(worker, Arc::default()).await
    }

    /// Starts the helper process `config.program` and talks to SANE through it. When the
    /// helper hangs (no answer within the config's timeouts) or dies, the request in
    /// flight fails with [`ScanError::Helper`], the helper is killed, and the next request
    /// starts a new one and reopens the device opened last.
    pub async fn start_with_helper(config: HelperConfig) -> Result<Scanner, ScanError> {
        let pid = Arc::new(AtomicU32::new(0));
        let worker_pid = Arc::clone(&pid);
        Scanner::spawn(
            move |inbox, ready| parent_worker(inbox, ready, config, worker_pid),
            pid,
        )
        .await
    }

    /// Process id of the SANE helper now running, `None` in process or while no helper
    /// runs (between a kill and the next request). For diagnostics and tests.
    pub fn helper_pid(&self) -> Option<u32> {
        Some(self.helper_pid.load(Ordering::SeqCst)).filter(|&p| p != 0)
    }

    async fn spawn(
        run: impl FnOnce(std_mpsc::Receiver<Request>, oneshot::Sender<Result<(), ScanError>>)
        + Send
        + 'static,
        helper_pid: Arc<AtomicU32>,
    ) -> Result<Scanner, ScanError> {
        let (requests, inbox) = std_mpsc::channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (finished_tx, finished) = std_mpsc::channel();
        let worker = thread::Builder::new()
            .name("sane".into())
            .spawn(move || {
                run(inbox, ready_tx);
                let _ = finished_tx.send(());
            })
            .map_err(|_| ScanError::WorkerGone)?;
        let scanner = Scanner {
            helper_pid,
            requests: Some(requests),
            worker: Some(worker),
            finished: std::sync::Mutex::new(Some(finished)),
        };
        ready_rx.await.map_err(|_| ScanError::WorkerGone)??;
        Ok(scanner)
    }

    /// Devices SANE sees now.
    pub async fn list(&self) -> Result<Vec<DeviceInfo>, ScanError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::List(reply))?;
        answer.await.map_err(|_| ScanError::WorkerGone)?
    }

    /// Opens `name` (closing any device opened before) and applies `settings`.
    pub async fn open(
        &self,
        name: &str,
        settings: ScanSettings,
    ) -> Result<OpenedDevice, ScanError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Open {
            name: name.to_string(),
            settings,
            reply,
        })?;
        answer.await.map_err(|_| ScanError::WorkerGone)?
    }

    /// Scans pages from the open device: from the feeder until it runs empty or
    /// `max_pages` is reached, from the flatbed `max_pages` scans (default 1). Dropping
    /// the receiver cancels the run.
    pub fn scan_pages(&self, max_pages: Option<u32>) -> mpsc::Receiver<ScanEvent> {
        let (events, rx) = mpsc::channel(EVENT_BUFFER);
        if let Err(e) = self.send(Request::Scan {
            max_pages,
            events: events.clone(),
        }) {
            // The receiver is ours and fresh: this cannot be full.
            let _ = events.try_send(ScanEvent::Failed(e));
        }
        rx
    }

    /// Health of device `name`: ready if SANE lists it, absent if not, fault if SANE fails.
    pub async fn health(&self, name: &str) -> DeviceHealth {
        let state = match self.list().await {
            Ok(devices) if devices.iter().any(|d| d.name == name) => HealthState::Ready,
            Ok(_) => HealthState::Absent,
            Err(e) => e.health_state(),
        };
        DeviceHealth::now(DeviceKind::Scanner, name, state)
    }

    fn send(&self, request: Request) -> Result<(), ScanError> {
        self.requests
            .as_ref()
            .ok_or(ScanError::WorkerGone)?
            .send(request)
            .map_err(|_| ScanError::WorkerGone)
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        // Closing the request channel ends the worker loop, which closes the device and
        // calls sane_exit; wait so the next Scanner starts on a clean libsane.
        self.requests.take();
        let finished = self
            .finished
            .get_mut()
            .ok()
            .and_then(Option::take)
            .map(|done| done.recv_timeout(SHUTDOWN_GRACE));
        match finished {
            Some(Err(std_mpsc::RecvTimeoutError::Timeout)) => {
                tracing::error!(
                    grace_secs = SHUTDOWN_GRACE.as_secs(),
                    "scanner: the SANE backend did not return from cancel/close; its thread is left behind and the scanner needs the kiosk service restarted"
                );
            }
            _ => {
                if let Some(worker) = self.worker.take() {
                    let _ = worker.join();
                }
            }
        }
    }
}

impl ScanError {
    /// How this error leaves the device, for health reports.
    pub fn health_state(&self) -> HealthState {
        match self {
            ScanError::NoSuchDevice { .. } | ScanError::DeviceGone { .. } => HealthState::Absent,
            ScanError::FeederEmpty { .. } => HealthState::Degraded(self.to_string()),
            _ => HealthState::Fault(self.to_string()),
        }
    }
}

fn worker(inbox: std_mpsc::Receiver<Request>, ready: oneshot::Sender<Result<(), ScanError>>) {
    let session = match Session::init() {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    let mut open: Option<(Device<'_>, OpenedDevice)> = None;
    while let Ok(request) = inbox.recv() {
        match request {
            Request::List(reply) => {
                let _ = reply.send(session.devices());
            }
            Request::Open {
                name,
                settings,
                reply,
            } => {
                open = None;
                let result = open_device(&session, &name, settings).map(|(device, opened)| {
                    open = Some((device, opened.clone()));
                    opened
                });
                let _ = reply.send(result);
            }
            Request::Scan { max_pages, events } => match open.as_mut() {
                Some((device, opened)) => run_scan(device, opened, max_pages, &events),
                None => {
                    let _ = events.blocking_send(ScanEvent::Failed(ScanError::Unsupported {
                        device: "(none)".into(),
                        what: "no device is open; call open first".into(),
                    }));
                }
            },
        }
    }
}

fn open_device<'s>(
    session: &'s Session,
    name: &str,
    settings: ScanSettings,
) -> Result<(Device<'s>, OpenedDevice), ScanError> {
    let mut device = session.open(name)?;
    let dpi = device.apply(&settings)?;
    for (option, value) in &settings.extra_options {
        device.set_option(option, value)?;
    }
    tracing::info!(device = name, source = %settings.source, dpi, mode = %settings.mode, "scanner opened");
    Ok((
        device,
        OpenedDevice {
            name: name.to_string(),
            dpi,
            settings,
        },
    ))
}

fn run_scan(
    device: &mut Device<'_>,
    opened: &OpenedDevice,
    max_pages: Option<u32>,
    events: &mpsc::Sender<ScanEvent>,
) {
    let limit = match opened.settings.source {
        Source::Feeder => max_pages,
        Source::Flatbed => Some(max_pages.unwrap_or(1)),
    };
    let outcome = scan_loop(device, opened, limit, events);
    // The caller hears the outcome first: should the backend hang in cancel (see
    // SHUTDOWN_GRACE), the citizen or technician still gets the jam or the pages.
    let last = match outcome {
        Ok(Some((pages, end))) => Some(ScanEvent::Finished { pages, end }),
        Ok(None) => None, // the receiver went away: nobody to tell
        Err(e) => {
            tracing::warn!(device = device.name(), error = %e, "scan failed");
            Some(ScanEvent::Failed(e))
        }
    };
    if let Some(last) = last {
        let _ = events.blocking_send(last);
    }
    // Ends the batch (or aborts a page on error) so the next run starts afresh. A reader
    // thread still running is cancelled here; give it time to finish (see READER_GRACE).
    thread::sleep(READER_GRACE);
    device.cancel();
}

/// Scans until the limit or an empty feeder. `Ok(None)` when the receiver was dropped.
fn scan_loop(
    device: &mut Device<'_>,
    opened: &OpenedDevice,
    limit: Option<u32>,
    events: &mpsc::Sender<ScanEvent>,
) -> Result<Option<(u32, ScanEnd)>, ScanError> {
    let mut number = 0;
    loop {
        if limit.is_some_and(|l| number >= l) {
            return Ok(Some((number, ScanEnd::PageLimit)));
        }
        let params = match device.start()? {
            PageStart::Started(p) => p,
            PageStart::NoDocuments if number == 0 => {
                return Err(ScanError::FeederEmpty {
                    device: device.name().to_string(),
                });
            }
            PageStart::NoDocuments => return Ok(Some((number, ScanEnd::FeederEmpty))),
        };
        number += 1;
        let started = ScanEvent::PageStarted {
            number,
            width_px: params.pixels_per_line as u32,
            height_px: params.lines.map(|l| l as u32),
        };
        if events.blocking_send(started).is_err() {
            return Ok(None);
        }
        let image = read_page(device, opened.dpi, number, params, events)?;
        tracing::debug!(
            device = device.name(),
            page = number,
            width = image.width,
            height = image.height,
            "page scanned"
        );
        if events
            .blocking_send(ScanEvent::PageDone(ScannedPage { number, image }))
            .is_err()
        {
            return Ok(None);
        }
    }
}

fn read_page(
    device: &mut Device<'_>,
    dpi: f32,
    number: u32,
    first: FrameParameters,
    events: &mpsc::Sender<ScanEvent>,
) -> Result<PageImage, ScanError> {
    let mut frames = Vec::new();
    let mut params = first;
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut page_bytes = 0u64;
    // A three-pass scanner sends the page as three frames of one colour each.
    let frames_per_page = if matches!(first.format, FrameFormat::Gray | FrameFormat::Rgb) {
        1
    } else {
        3
    };
    loop {
        let frame_bytes = params.lines.map(|l| (l * params.bytes_per_line) as u64);
        let expected = frame_bytes.map(|b| b * frames_per_page);
        let step = frame_bytes.map_or(1 << 20, |e| (e / PROGRESS_STEPS).max(1));
        let mut data = Vec::with_capacity(frame_bytes.unwrap_or(0) as usize);
        let mut next_report = step;
        loop {
            if frame_bytes.is_some_and(|total| data.len() as u64 >= total) {
                // The read that answers EOF is where backends built on sanei_thread cancel
                // their reader thread; give it time to finish first (see READER_GRACE).
                thread::sleep(READER_GRACE);
            }
            let n = device.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            data.extend_from_slice(&chunk[..n]);
            if data.len() as u64 >= next_report {
                next_report += step;
                // Progress is advisory: when the UI lags, skip a report rather than stall SANE.
                let _ = events.try_send(ScanEvent::Progress {
                    number,
                    bytes: page_bytes + data.len() as u64,
                    lines: (data.len() / params.bytes_per_line.max(1)) as u32,
                    expected_bytes: expected,
                });
            }
        }
        page_bytes += data.len() as u64;
        let last = params.last_frame;
        frames.push((params, data));
        if last {
            break;
        }
        // Three-pass scanners: each colour is its own frame, started with sane_start.
        params = match device.start()? {
            PageStart::Started(p) => p,
            PageStart::NoDocuments => {
                return Err(ScanError::FeederEmpty {
                    device: device.name().to_string(),
                });
            }
        };
    }
    decode_page(&frames, dpi).map_err(|source| ScanError::BadImage {
        device: device.name().to_string(),
        source,
    })
}
