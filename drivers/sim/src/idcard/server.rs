//! The simulated reader on a pseudo-terminal: reads request frames from the master, answers
//! them through the engine, and paces each answer at the wire speed of the baud rate the
//! driver set, so timing measured over the PTY is the timing of a real serial line.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kiosk_hal::LinkedPty;
use kiosk_idcard::frame::{self, Boundary, Command};
use kiosk_idcard::{CardError, IdCard};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::engine::{Faults, SamEngine};

/// How the simulated reader is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The card on the reader at start, if any.
    pub card: Option<IdCard>,
    /// The reader's baud rate: requests sent at any other speed go unanswered.
    pub baud: u32,
    /// Faults to show.
    pub faults: Faults,
    /// Hold each answer back for the wire time of the request and the reply.
    pub pace: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            card: None,
            baud: 115_200,
            faults: Faults::default(),
            pace: true,
        }
    }
}

/// One request the simulator saw, for tests that check the driver's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// When it arrived.
    pub at: Instant,
    /// The command, if it was one the simulator knows.
    pub command: Option<Command>,
    /// Whether it was answered (it is not at the wrong baud rate).
    pub answered: bool,
}

struct Shared {
    engine: Mutex<SamEngine>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
}

/// A simulated GA 467 SAM reader, running on its own thread until stopped or dropped.
pub struct SimulatedReader {
    shared: Arc<Shared>,
    link: PathBuf,
    slave: PathBuf,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on the server thread must not hide the test's own failure behind a poison.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The pseudo-terminal could not be made or linked.
    #[error(transparent)]
    Pty(#[from] kiosk_hal::PtyError),
    /// The card cannot be encoded (a field too long for its slot, a missing nation).
    #[error("the card cannot be put on the simulated reader: {0}")]
    Card(#[from] CardError),
}

impl SimulatedReader {
    /// Opens a PTY, publishes it at `link` and starts answering.
    pub fn start(link: impl AsRef<Path>, config: SimConfig) -> Result<Self, SimError> {
        let engine = SamEngine::new(config.card.as_ref(), config.faults.clone())?;
        let pty = LinkedPty::open_linked(link.as_ref())?;
        let slave = pty.slave_path().to_path_buf();
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let (baud, pace) = (config.baud, config.pace);
            std::thread::Builder::new()
                .name("idcard-sim".into())
                .spawn(move || serve(&pty, &shared, baud, pace))
                .expect("the OS can start a thread for the simulator")
        };
        Ok(Self {
            shared,
            link: link.as_ref().to_path_buf(),
            slave,
            thread: Some(thread),
        })
    }

    /// The published path.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// The PTY slave behind the link.
    pub fn slave_path(&self) -> &Path {
        &self.slave
    }

    /// Places a card on the reader, or takes it away (`None`).
    pub fn set_card(&self, card: Option<&IdCard>) -> Result<(), CardError> {
        lock(&self.shared.engine).set_card(card)
    }

    /// Changes the faults.
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.shared.engine).set_faults(faults);
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// Stops answering, closes the PTY and removes the link: an unplug.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SimulatedReader {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Wire time of `bytes` at `baud`, 8N1: ten bits a byte.
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_secs_f64(bytes as f64 * 10.0 / f64::from(baud))
}

fn serve(pty: &LinkedPty, shared: &Shared, baud: u32, pace: bool) {
    let mut master = pty.master();
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    while !shared.stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(20u8)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::error!("ID-card simulator: poll failed: {e}");
                return;
            }
        }
        let n = match master.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!("ID-card simulator: read failed: {e}");
                return;
            }
        };
        pending.extend_from_slice(&chunk[..n]);
        loop {
            match frame::boundary(&pending) {
                Boundary::Garbage(skip) => {
                    pending.drain(..skip);
                }
                Boundary::Incomplete(_) => break,
                Boundary::Complete(len) => {
                    let request: Vec<u8> = pending.drain(..len).collect();
                    answer(pty, shared, &request, baud, pace);
                }
            }
        }
    }
}

fn answer(pty: &LinkedPty, shared: &Shared, request: &[u8], baud: u32, pace: bool) {
    let arrived = Instant::now();
    let command = frame::decode_request(request)
        .ok()
        .and_then(|(code, _)| Command::from_code(code));
    // The driver's speed is only visible once it has sent something: check it per request.
    let answered = pty.client_baud().ok() == Some(baud);
    lock(&shared.seen).push(Seen {
        at: arrived,
        command,
        answered,
    });
    if !answered {
        // At the wrong speed a real reader sees noise and stays silent.
        return;
    }
    let (reply, slow) = {
        let mut engine = lock(&shared.engine);
        (engine.answer(request), engine.faults().slow)
    };
    // The request took its wire time to arrive; a PTY delivered it at once.
    let mut start = arrived;
    if pace {
        start += wire_time(request.len(), baud);
    }
    if let Some(delay) = slow {
        start += delay;
    }
    let mut master = pty.master();
    let mut sent = 0;
    for piece in reply.chunks(32) {
        sent += piece.len();
        if pace {
            sleep_until(start + wire_time(sent, baud));
        } else {
            sleep_until(start);
        }
        if master.write_all(piece).is_err() {
            return;
        }
    }
    let _ = master.flush();
}

fn sleep_until(deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        std::thread::sleep(left);
    }
}
