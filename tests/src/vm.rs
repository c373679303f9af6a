//! A kiosk appliance in a QEMU virtual machine (software emulation: TCG), driven the way a
//! technician at the box would: a root shell on the serial console, the screen read back
//! through QMP `screendump`, a touch through QMP `input-send-event`, power cut with `system_reset`.
//!
//! The image is made by `tests/appliance/build-image` from Debian's packages and the
//! project's own `.deb`s; see `tests/appliance/README.md`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The files `build-image` writes.
#[derive(Debug, Clone)]
pub struct Image {
    /// The root filesystem (ext4, raw).
    pub rootfs: PathBuf,
    /// The Debian kernel.
    pub kernel: PathBuf,
    /// Its initramfs.
    pub initrd: PathBuf,
}

impl Image {
    /// The image in `dir`, if one was built there.
    pub fn in_dir(dir: &Path) -> Option<Self> {
        let image = Self {
            rootfs: dir.join("rootfs.ext4"),
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initrd.img"),
        };
        (image.rootfs.is_file() && image.kernel.is_file() && image.initrd.is_file())
            .then_some(image)
    }
}

/// What the machine is given besides its disk.
#[derive(Debug, Clone)]
pub struct Machine {
    /// The panel's size: the emulated display's preferred mode (bochs DRM, EDID).
    pub screen: (u32, u32),
    /// Files handed to the guest through fw_cfg as `opt/kiosk/<name>` (the appliance image's
    /// seed unit copies `kiosk.toml` and `71-kiosk-ports.rules` into place at boot).
    pub seeds: Vec<(String, PathBuf)>,
    /// A host serial port (a PTY path) wired to the guest's USB-serial adapter (FTDI).
    pub usb_serial: Option<PathBuf>,
    /// Where the guest's sound card plays to (a WAV file on the host).
    pub audio_wav: Option<PathBuf>,
}

/// The PCI address of the USB controller: fixed, so that the ports' udev `ID_PATH` is known.
pub const XHCI_ADDR: &str = "0x5";
/// `ID_PATH` of the first port of that controller, where the USB-serial adapter sits.
pub const SERIAL_ID_PATH: &str = "pci-0000:00:05.0-usb-0:1:1.0";

/// A running virtual machine; killed (power cut) on drop.
pub struct Vm {
    child: Child,
    stdin: ChildStdin,
    console: Arc<(Mutex<Vec<u8>>, Condvar)>,
    // Where in the console output the next command's answer is looked for.
    seen: usize,
    qmp: Option<BufReader<UnixStream>>,
    dir: PathBuf,
    commands: u64,
}

impl Vm {
    /// Boots `image` with a copy-on-write overlay (the image itself is never written), with
    /// its files in `dir`. Returns once QEMU runs; [`Vm::login`] waits for the guest.
    pub fn boot(image: &Image, machine: &Machine, dir: &Path) -> anyhow::Result<Self> {
        let overlay = dir.join("disk.qcow2");
        let status = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
            .arg(&image.rootfs)
            .arg(&overlay)
            .status()
            .context("qemu-img")?;
        if !status.success() {
            bail!("qemu-img create failed");
        }
        let qmp_socket = dir.join("qmp.sock");
        let (w, h) = machine.screen;
        let mut qemu = Command::new("qemu-system-x86_64");
        qemu.args([
            "-machine",
            "pc",
            "-accel",
            "tcg,thread=multi",
            "-cpu",
            "max",
        ])
        .args(["-smp", "2", "-m", "1536", "-nodefaults", "-no-user-config"])
        .args(["-display", "none", "-serial", "stdio"])
        .arg("-kernel")
        .arg(&image.kernel)
        .arg("-initrd")
        .arg(&image.initrd)
        .args([
            "-append",
            "root=/dev/vda rw console=ttyS0,115200 quiet loglevel=3 \
                 systemd.show_status=false",
        ])
        .arg("-drive")
        .arg(format!(
            "file={},format=qcow2,if=virtio,cache=unsafe",
            overlay.display()
        ))
        .args(["-device", &format!("bochs-display,xres={w},yres={h}")])
        .args([
            "-netdev",
            "user,id=net0",
            "-device",
            "virtio-net-pci,netdev=net0",
        ])
        .args(["-device", &format!("qemu-xhci,id=xhci,addr={XHCI_ADDR}")])
        .args(["-device", "usb-tablet,bus=xhci.0,port=2"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp_socket.display()));
        for (name, file) in &machine.seeds {
            qemu.arg("-fw_cfg")
                .arg(format!("name=opt/kiosk/{name},file={}", file.display()));
        }
        if let Some(pty) = &machine.usb_serial {
            qemu.arg("-chardev")
                .arg(format!("serial,id=idcard,path={}", pty.display()))
                .args(["-device", "usb-serial,bus=xhci.0,port=1,chardev=idcard"]);
        }
        if let Some(wav) = &machine.audio_wav {
            qemu.arg("-audiodev")
                .arg(format!("wav,id=snd0,path={}", wav.display()))
                .args([
                    "-device",
                    "intel-hda",
                    "-device",
                    "hda-output,audiodev=snd0",
                ]);
        }
        let mut child = qemu
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("qemu.stderr"))?)
            .spawn()
            .context("qemu-system-x86_64")?;
        let stdin = child.stdin.take().context("qemu's stdin")?;
        let mut stdout = child.stdout.take().context("qemu's stdout")?;
        let console = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = console.clone();
        let mut log = std::fs::File::create(dir.join("console.log"))?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = log.write_all(&buf[..n]);
                let (lock, ready) = &*sink;
                if let Ok(mut seen) = lock.lock() {
                    seen.extend_from_slice(&buf[..n]);
                }
                ready.notify_all();
            }
        });
        Ok(Self {
            child,
            stdin,
            console,
            seen: 0,
            qmp: None,
            dir: dir.to_path_buf(),
            commands: 0,
        })
    }

    /// Waits for `needle` in the console output after what was already consumed, and
    /// consumes up to its end. Returns the output before it.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        let (lock, ready) = &*self.console;
        let mut out = lock.lock().map_err(|_| anyhow::anyhow!("console lock"))?;
        loop {
            let text = String::from_utf8_lossy(&out[self.seen..]).into_owned();
            if let Some(at) = text.find(needle) {
                // Byte offsets: the lossy text equals the bytes whenever they are UTF-8,
                // which the shell's output is.
                self.seen += at + needle.len();
                return Ok(text[..at].to_string());
            }
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "no {needle:?} on the console within {timeout:?}; last output:\n{}",
                    crate::kiosk::tail(&text, 30)
                );
            }
            out = ready
                .wait_timeout(out, deadline - now)
                .map_err(|_| anyhow::anyhow!("console lock"))?
                .0;
        }
    }

    /// Waits for the root shell the serial console logs into by itself, and makes it quiet
    /// (no echo, no prompt) so that a command's output is exactly what it printed.
    pub fn login(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for("root@kiosk-vm", timeout)?;
        self.stdin
            .write_all(b"stty -echo; PS1=''; export SYSTEMD_PAGER= SYSTEMD_COLORS=0 TERM=dumb\n")?;
        self.sh("true", Duration::from_secs(30))?;
        Ok(())
    }

    /// Runs `command` in the guest's root shell; its output and exit status.
    pub fn sh_status(&mut self, command: &str, timeout: Duration) -> anyhow::Result<(i32, String)> {
        self.commands += 1;
        let marker = format!("@@done-{}:", self.commands);
        // The marker is printed by printf from two halves so that an echoed command line,
        // should echo still be on, can never contain it.
        let line = format!(
            "{command}\nprintf '%s%s%s@@\\n' '@@done-' '{}:' \"$?\"\n",
            self.commands
        );
        self.stdin.write_all(line.as_bytes())?;
        self.stdin.flush()?;
        let out = self.wait_for(&marker, timeout)?;
        let rest = self.wait_for("@@", Duration::from_secs(5))?;
        let status = rest.trim().parse().unwrap_or(-1);
        Ok((status, out.replace('\r', "")))
    }

    /// Runs `command`, which must succeed; its output.
    pub fn sh(&mut self, command: &str, timeout: Duration) -> anyhow::Result<String> {
        let (status, out) = self.sh_status(command, timeout)?;
        if status != 0 {
            bail!("`{command}` in the guest exited with {status}:\n{out}");
        }
        Ok(out)
    }

    /// Polls `command` every second until it succeeds; its output.
    pub fn sh_until(&mut self, command: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, out) = self.sh_status(command, Duration::from_secs(60))?;
            if status == 0 {
                return Ok(out);
            }
            if Instant::now() >= deadline {
                bail!("`{command}` did not succeed in {timeout:?}; last output:\n{out}");
            }
            self.sh("sleep 1", Duration::from_secs(30))?;
        }
    }

    fn qmp(&mut self, command: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        if self.qmp.is_none() {
            let stream = UnixStream::connect(self.dir.join("qmp.sock")).context("QMP socket")?;
            stream.set_read_timeout(Some(Duration::from_secs(120)))?;
            let mut reader = BufReader::new(stream);
            let mut greeting = String::new();
            reader.read_line(&mut greeting)?;
            self.qmp = Some(reader);
            self.qmp(serde_json::json!({"execute": "qmp_capabilities"}))?;
        }
        let reader = self.qmp.as_mut().context("QMP")?;
        let mut line = serde_json::to_vec(&command)?;
        line.push(b'\n');
        reader.get_mut().write_all(&line)?;
        loop {
            let mut answer = String::new();
            if reader.read_line(&mut answer)? == 0 {
                bail!("QMP closed");
            }
            let value: serde_json::Value = serde_json::from_str(&answer)?;
            if let Some(error) = value.get("error") {
                bail!("QMP {command}: {error}");
            }
            if let Some(ret) = value.get("return") {
                return Ok(ret.clone());
            }
            // An asynchronous event: not the answer.
        }
    }

    /// The screen as the emulated display shows it.
    pub fn screendump(&mut self, name: &str) -> anyhow::Result<image::RgbImage> {
        let file = self.dir.join(format!("{name}.png"));
        self.qmp(serde_json::json!({
            "execute": "screendump",
            "arguments": {"filename": file.to_string_lossy(), "format": "png"}
        }))?;
        Ok(image::open(&file)
            .with_context(|| format!("reading {}", file.display()))?
            .to_rgb8())
    }

    /// Touches the screen at `(x, y)` pixels of a `screen`-sized panel (the USB tablet's
    /// absolute pointer: down and up).
    pub fn touch(&mut self, (x, y): (u32, u32), screen: (u32, u32)) -> anyhow::Result<()> {
        let abs = |v: u32, max: u32| (u64::from(v) * 0x7fff / u64::from(max.max(1))) as i64;
        let events = |down: bool| {
            serde_json::json!({"execute": "input-send-event", "arguments": {"events": [
                {"type": "abs", "data": {"axis": "x", "value": abs(x, screen.0)}},
                {"type": "abs", "data": {"axis": "y", "value": abs(y, screen.1)}},
                {"type": "btn", "data": {"button": "left", "down": down}},
            ]}})
        };
        self.qmp(events(true))?;
        std::thread::sleep(Duration::from_millis(150));
        self.qmp(events(false))?;
        Ok(())
    }

    /// Cuts the power and turns it on again: no shutdown; what the guest had not yet written
    /// to its disk (its page cache, its RAM) is lost.
    pub fn power_cycle(&mut self) -> anyhow::Result<()> {
        self.qmp(serde_json::json!({"execute": "system_reset"}))?;
        Ok(())
    }

    /// The console output so far, for a failing test's message.
    pub fn console_tail(&self, lines: usize) -> String {
        let (lock, _) = &*self.console;
        lock.lock()
            .map(|out| crate::kiosk::tail(&String::from_utf8_lossy(&out), lines))
            .unwrap_or_default()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
