//! Pseudo-terminals standing in for serial ports.
//!
//! Simulators hold the master side and publish the slave under a stable path (a symlink,
//! like udev's `/dev/kiosk/idcard`), so the driver under test opens it exactly as it would
//! open a real port. Both sides are put in raw mode: a serial protocol is bytes, not lines.
//! The baud rate the driver sets on the slave is visible on the master (Linux shares one
//! termios between them), which lets a simulator refuse to answer at the wrong speed.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::pty::openpty;
use nix::sys::termios::{self, SetArg};

/// Why a pseudo-terminal could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    /// The kernel would not give us a pseudo-terminal pair.
    #[error("could not open a pseudo-terminal: {0}")]
    Open(#[source] nix::Error),
    /// Raw mode could not be set.
    #[error("could not set raw mode on the pseudo-terminal: {0}")]
    Termios(#[source] nix::Error),
    /// The symlink at the requested path could not be made.
    #[error("could not link {link} to {target}: {source}")]
    Link {
        /// The path we were asked to publish.
        link: PathBuf,
        /// The slave device it should point at.
        target: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// A pseudo-terminal pair whose slave is optionally published at a symlink.
///
/// The slave end stays open for the pair's lifetime so that reads on the master do not fail
/// with `EIO` between two clients; the symlink is removed on drop.
#[derive(Debug)]
pub struct LinkedPty {
    master: File,
    // Held open on purpose, see the type's documentation.
    _slave: OwnedFd,
    slave_path: PathBuf,
    link: Option<PathBuf>,
}

impl LinkedPty {
    /// Opens a raw pseudo-terminal pair without publishing it.
    pub fn open() -> Result<Self, PtyError> {
        let pair = openpty(None, None).map_err(PtyError::Open)?;
        for fd in [&pair.master, &pair.slave] {
            let mut attrs = termios::tcgetattr(fd.as_fd()).map_err(PtyError::Termios)?;
            termios::cfmakeraw(&mut attrs);
            termios::tcsetattr(fd.as_fd(), SetArg::TCSANOW, &attrs).map_err(PtyError::Termios)?;
        }
        let slave_path = nix::unistd::ttyname(pair.slave.as_fd()).map_err(PtyError::Open)?;
        Ok(Self {
            master: File::from(pair.master),
            _slave: pair.slave,
            slave_path,
            link: None,
        })
    }

    /// Opens a raw pair and publishes its slave at `link`, replacing a stale symlink there.
    pub fn open_linked(link: impl AsRef<Path>) -> Result<Self, PtyError> {
        let mut pty = Self::open()?;
        let link = link.as_ref().to_path_buf();
        let link_err = |source| PtyError::Link {
            link: link.clone(),
            target: pty.slave_path.clone(),
            source,
        };
        if link
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            std::fs::remove_file(&link).map_err(link_err)?;
        }
        std::os::unix::fs::symlink(&pty.slave_path, &link).map_err(link_err)?;
        pty.link = Some(link);
        Ok(pty)
    }

    /// The slave device, e.g. `/dev/pts/7`: what a driver opens.
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// The published symlink, if any.
    pub fn link_path(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// The master side: what the simulator reads requests from and writes answers to.
    pub fn master(&self) -> &File {
        &self.master
    }

    /// A second handle on the master, for a reader and a writer on separate threads.
    pub fn try_clone_master(&self) -> io::Result<File> {
        self.master.try_clone()
    }

    /// The baud rate the client last set on the slave, as seen from the master.
    ///
    /// Read with `TCGETS2`, not `cfgetospeed`: [`crate::serial`] sets speeds the termios2 way
    /// (`BOTHER` and a number), which the legacy call cannot express. The kernel fills
    /// `c_ospeed` from the `Bxxx` code when a client used the legacy call, so both work.
    pub fn client_baud(&self) -> Result<u32, PtyError> {
        use std::os::fd::AsRawFd;
        nix::ioctl_read_bad!(tcgets2, libc::TCGETS2, libc::termios2);
        // SAFETY: termios2 is plain old data; all-zero is a valid value.
        let mut attrs: libc::termios2 = unsafe { std::mem::zeroed() };
        // SAFETY: the fd is the master we own for the pair's lifetime, and TCGETS2 writes
        // exactly one termios2 into the pointer it is given.
        unsafe { tcgets2(self.master.as_raw_fd(), &mut attrs) }.map_err(PtyError::Termios)?;
        Ok(attrs.c_ospeed)
    }
}

impl Drop for LinkedPty {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            // Only remove the link if it is still ours: another simulator may have replaced it.
            if std::fs::read_link(link).is_ok_and(|target| target == self.slave_path) {
                let _ = std::fs::remove_file(link);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn bytes_written_to_the_link_arrive_at_the_master_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("idcard");
        let pty = LinkedPty::open_linked(&link).unwrap();
        let mut port = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&link)
            .unwrap();
        // 0x0A and 0x0D must not be translated: raw mode.
        port.write_all(&[0xAA, 0x0A, 0x0D, 0x00, 0xFF]).unwrap();
        let mut buf = [0u8; 5];
        pty.master().read_exact(&mut buf).unwrap();
        assert_eq!(buf, [0xAA, 0x0A, 0x0D, 0x00, 0xFF]);
        // The speed the client sets is visible from the master.
        let mut attrs = termios::tcgetattr(port.as_fd()).unwrap();
        termios::cfsetspeed(&mut attrs, termios::BaudRate::B9600).unwrap();
        termios::tcsetattr(port.as_fd(), SetArg::TCSANOW, &attrs).unwrap();
        assert_eq!(pty.client_baud().unwrap(), 9600);
        let path = pty.link_path().unwrap().to_path_buf();
        drop(pty);
        assert!(
            path.symlink_metadata().is_err(),
            "the link is removed on drop"
        );
    }
}
