//! The emulator as a device: listens on TCP (like a network printer's port 9100) or on a
//! pseudo-terminal published at a path (like a serial printer), writes each cut ticket to
//! `ticket-NNNN.png`, and lets its owner change the mechanism state while it runs.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::GrayImage;
use kiosk_hal::LinkedPty;

use super::engine::{Cover, Engine, Mechanism, Paper};
use super::font::{FontError, Glyphs};
use super::render::PaperWidth;

/// How the emulator is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where tickets are written.
    pub out_dir: PathBuf,
    /// Roll width.
    pub paper_width: PaperWidth,
    /// CJK font file.
    pub font: PathBuf,
    /// Face index in the font file.
    pub font_index: u32,
    /// Initial paper state.
    pub paper: Paper,
    /// Initial cover state.
    pub cover: Cover,
    /// Emulate a presenter with a ticket-taken sensor.
    pub presenter: bool,
    /// On a PTY: answer only when the client set this baud rate (like a real serial port
    /// at the wrong speed, which hears only noise).
    pub baud: Option<u32>,
    /// Answer `GS a` with automatic status blocks, as an Epson TM-T88 does; `false` emulates
    /// a printer that ignores it.
    pub automatic_status: bool,
}

impl Config {
    /// An 80 mm printer with paper and a closed cover, writing into `out_dir`, with the
    /// default font (or `KIOSK_CJK_FONT`).
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            paper_width: PaperWidth::Mm80,
            font: std::env::var_os("KIOSK_CJK_FONT")
                .map_or_else(|| PathBuf::from(super::font::DEFAULT_FONT), PathBuf::from),
            font_index: super::font::DEFAULT_FONT_INDEX,
            paper: Paper::Ok,
            cover: Cover::Closed,
            presenter: false,
            baud: None,
            automatic_status: true,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The font is missing or broken.
    #[error(transparent)]
    Font(#[from] FontError),
    /// The output directory or a socket could not be set up.
    #[error("printer emulator: {what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The PTY could not be set up.
    #[error("printer emulator: {0}")]
    Pty(#[from] kiosk_hal::PtyError),
}

struct Shared {
    config: Config,
    glyphs: Arc<Glyphs>,
    mechanism: Arc<Mutex<Mechanism>>,
    tickets: Mutex<Vec<PathBuf>>,
    spoiled: Mutex<usize>,
    changed: Condvar,
}

/// An emulated printer. Cheap to clone; all clones control the same printer.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl Emulator {
    /// Loads the font and prepares the output directory.
    pub fn new(config: Config) -> Result<Self, EmulatorError> {
        let glyphs = Arc::new(Glyphs::load(&config.font, config.font_index)?);
        std::fs::create_dir_all(&config.out_dir).map_err(|source| EmulatorError::Io {
            what: format!("cannot create {}", config.out_dir.display()),
            source,
        })?;
        let mechanism = Arc::new(Mutex::new(Mechanism {
            paper: config.paper,
            cover: config.cover,
            presenter: config.presenter,
            ticket_waiting: false,
        }));
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                glyphs,
                mechanism,
                tickets: Mutex::new(Vec::new()),
                spoiled: Mutex::new(0),
                changed: Condvar::new(),
            }),
        })
    }

    /// A fresh engine on this printer's font, paper and mechanism.
    pub fn engine(&self) -> Engine {
        Engine::new(
            Arc::clone(&self.shared.glyphs),
            self.shared.config.paper_width,
            Arc::clone(&self.shared.mechanism),
        )
        .with_automatic_status(self.shared.config.automatic_status)
    }

    fn update(&self, f: impl FnOnce(&mut Mechanism)) {
        match self.shared.mechanism.lock() {
            Ok(mut m) => f(&mut m),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Loads, runs low on, or takes out the paper.
    pub fn set_paper(&self, paper: Paper) {
        self.update(|m| m.paper = paper);
    }

    /// Opens or closes the cover.
    pub fn set_cover(&self, cover: Cover) {
        self.update(|m| m.cover = cover);
    }

    /// Fits or removes the presenter with its ticket-taken sensor. With it, a cut ticket
    /// waits in the mouth until [`Emulator::take_ticket`], and a dispenser that watches the
    /// sensor waits with it: a slow dispenser for tests, held as long as the test likes.
    pub fn set_presenter(&self, presenter: bool) {
        self.update(|m| m.presenter = presenter);
    }

    /// The citizen takes the ticket from the presenter.
    pub fn take_ticket(&self) {
        self.update(|m| m.ticket_waiting = false);
    }

    /// The mechanism now.
    pub fn mechanism(&self) -> Mechanism {
        match self.shared.mechanism.lock() {
            Ok(m) => *m,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// The tickets written so far.
    pub fn tickets(&self) -> Vec<PathBuf> {
        self.shared
            .tickets
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Tickets lost because the printer was offline while they were sent.
    pub fn spoiled(&self) -> usize {
        self.shared.spoiled.lock().map(|s| *s).unwrap_or_default()
    }

    /// Waits until at least `count` tickets are written or `timeout` passes.
    pub fn wait_for_tickets(&self, count: usize, timeout: Duration) -> Vec<PathBuf> {
        let deadline = Instant::now() + timeout;
        let Ok(mut tickets) = self.shared.tickets.lock() else {
            return Vec::new();
        };
        while tickets.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.shared.changed.wait_timeout(tickets, left) {
                Ok((guard, _)) => tickets = guard,
                Err(_) => return Vec::new(),
            }
        }
        tickets.clone()
    }

    /// Handles bytes from a client: returns the answers, saves finished tickets.
    pub fn handle(&self, engine: &mut Engine, bytes: &[u8]) -> Vec<u8> {
        let output = engine.feed(bytes);
        for ticket in output.tickets {
            if let Err(err) = self.save(&ticket) {
                tracing::error!(%err, "printer emulator: cannot write a ticket");
            }
        }
        if output.spoiled > 0
            && let Ok(mut spoiled) = self.shared.spoiled.lock()
        {
            *spoiled += output.spoiled;
        }
        output.answers
    }

    fn save(&self, ticket: &GrayImage) -> Result<PathBuf, EmulatorError> {
        let mut tickets = self.shared.tickets.lock().map_err(|_| EmulatorError::Io {
            what: "ticket list poisoned".into(),
            source: io::Error::other("poisoned"),
        })?;
        let path = next_ticket_path(&self.shared.config.out_dir, tickets.len());
        // Written beside and renamed, so a watcher never reads half a PNG.
        let part = path.with_extension("png.part");
        ticket
            .save_with_format(&part, image::ImageFormat::Png)
            .map_err(|e| EmulatorError::Io {
                what: format!("cannot write {}", part.display()),
                source: io::Error::other(e),
            })?;
        std::fs::rename(&part, &path).map_err(|source| EmulatorError::Io {
            what: format!("cannot rename {}", part.display()),
            source,
        })?;
        tracing::info!(path = %path.display(), "printer emulator: ticket cut");
        tickets.push(path.clone());
        self.shared.changed.notify_all();
        Ok(path)
    }

    /// Serves one client at a time on a TCP address (`127.0.0.1:0` picks a free port).
    pub fn serve_tcp(&self, addr: &str) -> Result<Server, EmulatorError> {
        let io_err = |what: String| move |source| EmulatorError::Io { what, source };
        let listener =
            TcpListener::bind(addr).map_err(io_err(format!("cannot listen on {addr}")))?;
        let local = listener
            .local_addr()
            .map_err(io_err("cannot read the listening address".into()))?;
        listener
            .set_nonblocking(true)
            .map_err(io_err("cannot make the listener non-blocking".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let emulator = self.clone();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("printer-emulator-tcp".into())
            .spawn(move || emulator.tcp_loop(&listener, &flag))
            .map_err(io_err("cannot start the TCP thread".into()))?;
        Ok(Server {
            stop,
            thread: Some(thread),
            location: Location::Tcp(local),
        })
    }

    fn tcp_loop(&self, listener: &TcpListener, stop: &AtomicBool) {
        let mut engine = self.engine();
        while !stop.load(Ordering::Relaxed) {
            let (mut stream, peer) = match listener.accept() {
                Ok(conn) => conn,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Err(err) => {
                    tracing::warn!(%err, "printer emulator: accept failed");
                    continue;
                }
            };
            tracing::debug!(%peer, "printer emulator: client connected");
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
            let mut buf = [0u8; 8192];
            while !stop.load(Ordering::Relaxed) {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let answers = self.handle(&mut engine, &buf[..n]);
                        if !answers.is_empty() && stream.write_all(&answers).is_err() {
                            break;
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
                // A state change (paper out, cover opened) is told without being asked.
                if let Some(block) = engine.automatic_update()
                    && stream.write_all(&block).is_err()
                {
                    break;
                }
            }
        }
    }

    /// Publishes a pseudo-terminal at `link` and serves whatever opens it.
    pub fn serve_pty(&self, link: &Path) -> Result<Server, EmulatorError> {
        let pty = LinkedPty::open_linked(link)?;
        let master = pty.try_clone_master().map_err(|source| EmulatorError::Io {
            what: "cannot clone the PTY master".into(),
            source,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let emulator = self.clone();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("printer-emulator-pty".into())
            .spawn(move || emulator.pty_loop(pty, master, &flag))
            .map_err(|source| EmulatorError::Io {
                what: "cannot start the PTY thread".into(),
                source,
            })?;
        Ok(Server {
            stop,
            thread: Some(thread),
            location: Location::Pty(link.to_path_buf()),
        })
    }

    fn pty_loop(&self, pty: LinkedPty, mut master: std::fs::File, stop: &AtomicBool) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut engine = self.engine();
        let mut buf = [0u8; 8192];
        while !stop.load(Ordering::Relaxed) {
            let ready = {
                let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
                poll(&mut fds, PollTimeout::from(20u8)).unwrap_or(0)
            };
            if let Some(block) = engine.automatic_update() {
                let _ = master.write_all(&block);
            }
            if ready == 0 {
                continue;
            }
            let n = match master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            };
            if let Some(expected) = self.shared.config.baud {
                let actual = pty.client_baud().unwrap_or(0);
                if actual != expected {
                    tracing::warn!(
                        expected,
                        actual,
                        "printer emulator: wrong baud rate, bytes ignored"
                    );
                    continue;
                }
            }
            let answers = self.handle(&mut engine, &buf[..n]);
            if !answers.is_empty() {
                let _ = master.write_all(&answers);
            }
        }
        drop(pty);
    }
}

fn next_ticket_path(dir: &Path, written: usize) -> PathBuf {
    // Continue after tickets left by an earlier run instead of overwriting them.
    let mut n = written + 1;
    loop {
        let path = dir.join(format!("ticket-{n:04}.png"));
        if !path.exists() {
            return path;
        }
        n += 1;
    }
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A PTY published at a path.
    Pty(PathBuf),
}

/// A running server; stops (and removes its PTY link) when dropped.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    location: Location,
}

impl Server {
    /// Where it listens.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The TCP address, if it listens on TCP.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self.location {
            Location::Tcp(addr) => Some(addr),
            Location::Pty(_) => None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
