//! Serial ports (RS-232, USB-serial adapters, and the pseudo-terminals that stand in for them
//! in tests), set up the one way the kiosk's devices speak: raw bytes, 8N1, no flow control,
//! at a given speed.
//!
//! This replaces the `serialport` and `tokio-serial` crates, which pin an older nix: the whole
//! workspace shares one nix, and these few termios calls are all the drivers ever needed.
//! The port is opened exclusively (`TIOCEXCL`, as `serialport` did), so a second program (or
//! a second driver instance) gets `EBUSY` instead of stealing half the replies.
//!
//! A [`SerialPort`] is blocking with [`SerialPort::read_timeout`] for threads, or
//! non-blocking ([`SerialPort::open_nonblocking`]) for a reactor such as tokio's `AsyncFd`;
//! `&SerialPort` implements [`Read`] and [`Write`] for both.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{
    self, ControlFlags, FlushArg, InputFlags, SetArg, SpecialCharacterIndices,
};

/// What failed on which port, with the OS's reason.
#[derive(Debug, thiserror::Error)]
#[error("serial port {}: {what}: {source}", path.display())]
pub struct SerialError {
    /// The device path the caller gave.
    pub path: PathBuf,
    /// The step that failed ("opening", "setting 115200 baud", "reading"...).
    pub what: String,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

impl SerialError {
    fn new(path: &Path, what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Self {
            path: path.to_path_buf(),
            what: what.into(),
            source: source.into(),
        }
    }

    /// Whether the port is simply not there: no node (`ENOENT`, an unplugged adapter's
    /// symlink is gone), or a node whose device went away (`ENODEV`, `ENXIO`).
    pub fn is_absent(&self) -> bool {
        self.source.kind() == io::ErrorKind::NotFound
            || matches!(self.source.raw_os_error(), Some(libc::ENODEV | libc::ENXIO))
    }

    /// Whether another program holds the port (`TIOCEXCL` answers `EBUSY`).
    pub fn is_busy(&self) -> bool {
        self.source.raw_os_error() == Some(libc::EBUSY)
    }
}

// TIOCEXCL takes no argument; TCGETS2/TCSETS2 read and write one `termios2`.
nix::ioctl_none_bad!(tiocexcl, libc::TIOCEXCL);
nix::ioctl_none_bad!(tiocnxcl, libc::TIOCNXCL);
nix::ioctl_read_bad!(tcgets2, libc::TCGETS2, libc::termios2);
nix::ioctl_write_ptr_bad!(tcsets2, libc::TCSETS2, libc::termios2);
nix::ioctl_read_bad!(tiocoutq, libc::TIOCOUTQ, libc::c_int);

/// An open, configured serial port.
#[derive(Debug)]
pub struct SerialPort {
    file: File,
    path: PathBuf,
    baud: u32,
}

impl SerialPort {
    /// Opens `path` blocking, raw 8N1 at `baud`: for a driver on its own thread, reading
    /// with [`Self::read_timeout`].
    pub fn open(path: impl AsRef<Path>, baud: u32) -> Result<Self, SerialError> {
        let port = Self::open_inner(path.as_ref(), baud)?;
        // Opened non-blocking only so that `open` itself cannot hang; reads and writes on a
        // thread block (bounded by `read_timeout`'s poll).
        fcntl(port.file.as_fd(), FcntlArg::F_SETFL(OFlag::empty()))
            .map_err(|e| SerialError::new(&port.path, "clearing O_NONBLOCK", e))?;
        Ok(port)
    }

    /// Opens `path` non-blocking, raw 8N1 at `baud`: for a reactor (tokio's `AsyncFd`).
    /// Reads and writes that cannot proceed fail with [`io::ErrorKind::WouldBlock`].
    pub fn open_nonblocking(path: impl AsRef<Path>, baud: u32) -> Result<Self, SerialError> {
        Self::open_inner(path.as_ref(), baud)
    }

    fn open_inner(path: &Path, baud: u32) -> Result<Self, SerialError> {
        // O_NONBLOCK so the open does not wait for a carrier (DCD) that a 3-wire cable never
        // raises; O_NOCTTY so the port never becomes our controlling terminal. std adds
        // O_CLOEXEC itself.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| SerialError::new(path, "opening", e))?;
        // SAFETY: the descriptor is open for the duration of the call (we own `file`) and
        // TIOCEXCL takes no argument.
        unsafe { tiocexcl(file.as_raw_fd()) }
            .map_err(|e| SerialError::new(path, "taking exclusive access (TIOCEXCL)", e))?;
        let mut attrs = termios::tcgetattr(file.as_fd())
            .map_err(|e| SerialError::new(path, "reading the terminal settings", e))?;
        // Bytes, not lines: no echo, no CR/LF translation, no signals from ^C in the data.
        termios::cfmakeraw(&mut attrs);
        // 8 data bits, no parity, one stop bit; ignore modem lines (CLOCAL) and receive.
        attrs.control_flags &= !(ControlFlags::CSIZE
            | ControlFlags::PARENB
            | ControlFlags::CSTOPB
            | ControlFlags::CRTSCTS);
        attrs.control_flags |= ControlFlags::CS8 | ControlFlags::CLOCAL | ControlFlags::CREAD;
        // No software flow control: XON/XOFF bytes occur in binary replies.
        attrs.input_flags &= !(InputFlags::IXON | InputFlags::IXOFF | InputFlags::IXANY);
        // A blocking read returns as soon as one byte is there; timeouts come from poll.
        attrs.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        attrs.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        termios::tcsetattr(file.as_fd(), SetArg::TCSANOW, &attrs)
            .map_err(|e| SerialError::new(path, "setting raw 8N1", e))?;
        let mut port = Self {
            file,
            path: path.to_path_buf(),
            baud,
        };
        port.set_baud(baud)?;
        Ok(port)
    }

    /// The path the port was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The speed the port is set to.
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// Sets the speed, any number the driver accepts (`BOTHER`, the termios2 way, like
    /// `serialport` did): a pseudo-terminal's master sees it with `TCGETS2`.
    pub fn set_baud(&mut self, baud: u32) -> Result<(), SerialError> {
        let what = || format!("setting {baud} baud");
        // SAFETY: termios2 is plain old data; all-zero is a valid value.
        let mut attrs: libc::termios2 = unsafe { std::mem::zeroed() };
        // SAFETY: the descriptor is ours and open; TCGETS2 writes exactly one termios2 into
        // the pointer it is given.
        unsafe { tcgets2(self.file.as_raw_fd(), &mut attrs) }
            .map_err(|e| SerialError::new(&self.path, what(), e))?;
        attrs.c_cflag &= !libc::CBAUD;
        attrs.c_cflag |= libc::BOTHER;
        attrs.c_ispeed = baud;
        attrs.c_ospeed = baud;
        // SAFETY: as above; TCSETS2 reads exactly one termios2 from the pointer.
        unsafe { tcsets2(self.file.as_raw_fd(), &attrs) }
            .map_err(|e| SerialError::new(&self.path, what(), e))?;
        self.baud = baud;
        Ok(())
    }

    /// Reads what has arrived, waiting at most `timeout` for the first byte. `Ok(None)` is
    /// a timeout; `Ok(Some(0))` means the other end hung up.
    pub fn read_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Option<usize>, SerialError> {
        // Longer than poll's ~24 days saturates; nobody waits that long for a card.
        let wait = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, wait) {
            Ok(0) | Err(Errno::EINTR) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(SerialError::new(&self.path, "waiting for data", e)),
        }
        match (&self.file).read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(SerialError::new(&self.path, "reading", e)),
        }
    }

    /// Drops bytes received but not read yet: a late answer to an earlier request must not
    /// be taken for the next one's.
    pub fn discard_input(&self) -> Result<(), SerialError> {
        termios::tcflush(self.file.as_fd(), FlushArg::TCIFLUSH)
            .map_err(|e| SerialError::new(&self.path, "discarding input", e))
    }

    /// Waits until everything written has left the UART (`tcdrain`). Blocks: on a reactor,
    /// poll [`Self::output_queued`] instead.
    pub fn drain(&self) -> Result<(), SerialError> {
        loop {
            match termios::tcdrain(self.file.as_fd()) {
                Err(Errno::EINTR) => continue,
                result => {
                    return result.map_err(|e| SerialError::new(&self.path, "draining output", e));
                }
            }
        }
    }

    /// How many written bytes the driver still holds, not yet sent (`TIOCOUTQ`).
    pub fn output_queued(&self) -> Result<usize, SerialError> {
        let mut queued: libc::c_int = 0;
        // SAFETY: the descriptor is ours and open; TIOCOUTQ writes one int to the pointer.
        unsafe { tiocoutq(self.file.as_raw_fd(), &mut queued) }
            .map_err(|e| SerialError::new(&self.path, "reading the output queue", e))?;
        Ok(usize::try_from(queued).unwrap_or(0))
    }
}

impl Drop for SerialPort {
    /// Gives up exclusive access before closing: the flag lives on the tty, not the open
    /// file, and a tty someone else still holds open (a simulator's pseudo-terminal slave)
    /// would otherwise refuse our own reopen after a reconnect with `EBUSY`.
    fn drop(&mut self) {
        // SAFETY: the descriptor is still open (the `File` closes it after this returns) and
        // TIOCNXCL takes no argument. Best effort: a port that is gone has no flag to clear.
        let _ = unsafe { tiocnxcl(self.file.as_raw_fd()) };
    }
}

impl Read for &SerialPort {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }
}

impl Write for &SerialPort {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.file).write(buf)
    }

    /// Nothing is buffered in user space; see [`SerialPort::drain`] for waiting on the wire.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for SerialPort {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for SerialPort {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pty::LinkedPty;

    fn exclusive(file: &File) -> bool {
        nix::ioctl_read_bad!(tiocgexcl, libc::TIOCGEXCL, libc::c_int);
        let mut flag: libc::c_int = 0;
        // SAFETY: the descriptor is open; TIOCGEXCL writes one int to the pointer.
        unsafe { tiocgexcl(file.as_raw_fd(), &mut flag) }.unwrap();
        flag != 0
    }

    #[test]
    fn a_port_is_raw_8n1_at_its_speed_and_exclusive() {
        let pty = LinkedPty::open().unwrap();
        let port = SerialPort::open(pty.slave_path(), 115_200).unwrap();
        assert_eq!(pty.client_baud().unwrap(), 115_200);
        // Root may open a TIOCEXCL port anyway (CAP_SYS_ADMIN), so ask the tty for its flag
        // (TIOCGEXCL) through a second, plain descriptor.
        let plain = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(pty.slave_path());
        match &plain {
            Ok(plain) => assert!(exclusive(plain), "TIOCEXCL is set while the port is open"),
            Err(err) => assert_eq!(err.raw_os_error(), Some(libc::EBUSY)),
        }
        drop((plain, port));
        let plain = std::fs::File::options()
            .read(true)
            .write(true)
            .open(pty.slave_path())
            .unwrap();
        // The pair holds its slave open, so the tty outlives our descriptor: the flag must
        // be cleared on drop or a reconnect would find the port busy.
        assert!(!exclusive(&plain), "TIOCEXCL is cleared on drop");
        drop(plain);
        let mut port = SerialPort::open(pty.slave_path(), 115_200).unwrap();
        // A speed with no Bxxx code goes through BOTHER.
        port.set_baud(250_000).unwrap();
        assert_eq!(pty.client_baud().unwrap(), 250_000);
        let attrs = termios::tcgetattr(port.as_fd()).unwrap();
        assert!(
            attrs
                .control_flags
                .contains(ControlFlags::CS8 | ControlFlags::CLOCAL)
        );
        assert!(!attrs.control_flags.contains(ControlFlags::PARENB));
        assert!(!attrs.input_flags.contains(InputFlags::IXON));

        (&port).write_all(&[0x0A, 0x0D, 0x11, 0x13]).unwrap();
        let mut got = [0u8; 4];
        pty.master().read_exact(&mut got).unwrap();
        assert_eq!(got, [0x0A, 0x0D, 0x11, 0x13], "bytes pass untranslated");

        let mut buf = [0u8; 8];
        assert_eq!(
            port.read_timeout(&mut buf, Duration::from_millis(20))
                .unwrap(),
            None,
            "nothing arrived: a timeout"
        );
        pty.master().write_all(&[1, 2, 3]).unwrap();
        assert_eq!(
            port.read_timeout(&mut buf, Duration::from_secs(2)).unwrap(),
            Some(3)
        );
        assert_eq!(&buf[..3], [1, 2, 3]);
        port.drain().unwrap();
        assert_eq!(port.output_queued().unwrap(), 0);
    }

    #[test]
    fn a_missing_port_is_absent_and_named() {
        let err = SerialPort::open("/dev/kiosk-no-such-port", 9600).unwrap_err();
        assert!(err.is_absent());
        assert!(err.to_string().contains("/dev/kiosk-no-such-port"));
        assert!(err.to_string().contains("opening"));
    }
}
