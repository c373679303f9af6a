#![allow(clippy::unwrap_used)]
//! The kiosk as an appliance: the project's Debian packages installed on a minimal Debian
//! bookworm (built from Debian's packages by `tests/appliance/build-image`), booted under QEMU
//! with an emulated DRM display, a USB tablet for touch, an FTDI USB-serial adapter wired to the
//! ID-card simulator on the host, a sound card recorded to a WAV file, and the printer
//! simulator on the host's network. systemd is the real PID 1 and the app runs under its real
//! unit.
//!
//! Runs when `KIOSK_APPLIANCE_IMAGE` names a folder with a built image (`scripts/appliance-test`
//! builds one and runs this); without it, it says so and passes, except under `CI=true`,
//! where a missing image fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::vm::{Image, Machine, SERIAL_ID_PATH, Vm};

/// The panel of the machine: a common 10.1" kiosk panel's mode.
const SCREEN: (u32, u32) = (1280, 800);
/// Boot of a Debian kernel and systemd under TCG on two cores, with room for a slow machine.
const BOOT: Duration = Duration::from_secs(300);

fn image() -> Option<Image> {
    let Some(dir) = std::env::var_os("KIOSK_APPLIANCE_IMAGE") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the appliance test: set KIOSK_APPLIANCE_IMAGE (scripts/appliance-test)"
        );
        eprintln!("skipped: KIOSK_APPLIANCE_IMAGE is not set (scripts/appliance-test runs this)");
        return None;
    };
    let image = Image::in_dir(Path::new(&dir));
    assert!(
        image.is_some(),
        "no image in {dir:?}: run tests/appliance/build-image"
    );
    image
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_path(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The simulators on the host: the ID-card reader on a PTY (QEMU's USB-serial adapter opens
/// it) and the receipt printer on TCP, which the guest reaches at 10.0.2.2.
fn simulators(dir: &Path) -> (Vec<Killed>, PathBuf, u16) {
    let sim = cargo_bin("kiosk-sim", "kiosk-sim").unwrap();
    let link = dir.join("idcard");
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("../drivers/sim/cards/resident.json");
    let reader = Command::new(&sim)
        .args(["idcard", "--link"])
        .arg(&link)
        .arg("--card")
        .arg(&card)
        .spawn()
        .unwrap();
    let reader = Killed(reader);
    wait_for_path(&link);
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let paper = dir.join("paper");
    std::fs::create_dir_all(&paper).unwrap();
    let printer = Command::new(&sim)
        .args(["printer", "--tcp", &format!("127.0.0.1:{port}"), "--out"])
        .arg(&paper)
        .spawn()
        .unwrap();
    (vec![reader, Killed(printer)], link, port)
}

/// The kiosk's configuration and the technician's port rule, as fw_cfg seeds.
fn seeds(dir: &Path, printer_port: u16) -> Vec<(String, PathBuf)> {
    let config = dir.join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            r#"[kiosk]
id = "K-VM-0001"
data_dir = "/var/lib/kiosk"

[hall]
name_zh = "虚拟机政务服务中心"
name_en = "Appliance Test Service Center"
help_window_zh = "1号综合咨询台"
help_window_en = "Information desk 1"

[ui]
language = "zh_CN"

[logging]
format = "text"
level = "info"

[devices.idcard]
port = "/dev/kiosk/idcard"

[devices.printer]
tcp = "10.0.2.2:{printer_port}"
"#
        ),
    )
    .unwrap();
    // The technician's copy of 71-kiosk-ports.rules.example, with this box's port.
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd/udev/71-kiosk-ports.rules.example"),
    )
    .unwrap();
    let rule = example
        .lines()
        .find(|l| !l.starts_with('#') && l.contains("kiosk/idcard"))
        .expect("the example names the reader's port")
        .replace("pci-0000:00:14.0-usb-0:1:1.0", SERIAL_ID_PATH);
    let rules = dir.join("71-kiosk-ports.rules");
    std::fs::write(&rules, format!("{rule}\n")).unwrap();
    vec![
        ("kiosk.toml".to_string(), config),
        ("71-kiosk-ports.rules".to_string(), rules),
    ]
}

/// A small grey picture of `picture`, for comparing screens whatever their details.
fn thumbnail(picture: &image::RgbImage) -> Vec<f32> {
    image::imageops::thumbnail(
        &image::DynamicImage::ImageRgb8(picture.clone()).to_luma8(),
        64,
        40,
    )
    .pixels()
    .map(|p| f32::from(p.0[0]))
    .collect()
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

/// Every screen the software renderer draws at this size, in Chinese: (name, thumbnail).
fn rendered_screens(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let app = cargo_bin("kiosk-app", "kiosk-app").unwrap();
    let out = dir.join("rendered");
    let status = Command::new(app)
        .args(["--simulate", "--screenshots"])
        .arg(&out)
        .args(["--size", &format!("{}x{}", SCREEN.0, SCREEN.1)])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success());
    let folder = out.join(format!("{}x{}/zh", SCREEN.0, SCREEN.1));
    let mut screens: Vec<(String, Vec<f32>)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let picture = image::open(&p).unwrap().to_rgb8();
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                thumbnail(&picture),
            )
        })
        .collect();
    screens.sort_by(|a, b| a.0.cmp(&b.0));
    screens
}

fn main_pid(vm: &mut Vm) -> u32 {
    vm.sh(
        "systemctl show -P MainPID kiosk-app",
        Duration::from_secs(30),
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap()
}

#[test]
fn the_appliance_boots_into_the_kiosk_draws_on_the_panel_and_the_watchdog_restarts_a_hung_app() {
    let Some(image) = image() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_sims, idcard, printer_port) = simulators(dir.path());
    let machine = Machine {
        screen: SCREEN,
        seeds: seeds(dir.path(), printer_port),
        usb_serial: Some(idcard),
        audio_wav: None,
    };
    let started = Instant::now();
    let mut vm = Vm::boot(&image, &machine, dir.path()).unwrap();
    if let Err(e) = vm.login(BOOT) {
        panic!("the guest never gave its console: {e:#}");
    }
    eprintln!("booted to a shell in {:?}", started.elapsed());

    // systemd starts the app from the package's unit, and it reaches READY.
    vm.sh_until(
        "systemctl is-active kiosk-app && journalctl -b -u kiosk-app | grep -q 'kiosk ready'",
        Duration::from_secs(180),
    )
    .unwrap_or_else(|e| {
        let log = vm.sh_status(
            "journalctl -b -u kiosk-app --no-pager | tail -40",
            Duration::from_secs(30),
        );
        panic!("kiosk-app never became ready: {e:#}\n{log:?}")
    });
    eprintln!("kiosk ready {:?} after power-on", started.elapsed());
    let log = vm
        .sh(
            "journalctl -b -u kiosk-app --no-pager",
            Duration::from_secs(30),
        )
        .unwrap();
    // Straight to the panel through DRM at the display's own mode: not a window, and not the
    // legacy framebuffer (which the app falls back to only on boards without DRM).
    assert!(log.contains("kiosk starting on the panel"), "{log}");
    let mode = format!("Rendering at {}x{}", SCREEN.0, SCREEN.1);
    assert!(log.contains(&mode), "not drawn at the panel's mode:\n{log}");
    assert!(
        !log.contains("graphics mode"),
        "drawn on the framebuffer, not DRM:\n{log}"
    );

    // The reader's adapter is named by the project's udev rule, for the app's group.
    let node = vm
        .sh_until(
            "readlink -f /dev/kiosk/idcard && stat -L -c '%G %a' /dev/kiosk/idcard",
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| {
            let seen = vm.sh_status(
                "ls -l /dev/ttyUSB* /etc/udev/rules.d; cat /etc/udev/rules.d/*; \
                 udevadm info /dev/ttyUSB0; lsmod | grep -i ftdi; dmesg | grep -i -E 'usb|ftdi' | tail",
                Duration::from_secs(30),
            );
            panic!("{e:#}\n{seen:?}")
        });
    assert!(node.contains("/dev/ttyUSB0"), "{node}");
    assert!(node.contains("dialout 660"), "{node}");

    // The panel shows the home page: of every screen the software renderer draws, the one
    // closest to what the emulated display shows is a home screen.
    let screens = rendered_screens(dir.path());
    let shown = thumbnail(&vm.screendump("home").unwrap());
    let mut ranked: Vec<(f32, &str)> = screens
        .iter()
        .map(|(name, t)| (distance(&shown, t), name.as_str()))
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    eprintln!("closest screens: {:?}", &ranked[..4]);
    // The rendered home screens have every device; this kiosk has no scanner or dispenser
    // and no central, so its home page carries banners none of them has exactly: the nearest
    // must still be a home screen, clearly nearer than any other page.
    assert!(
        ranked[0].1.starts_with("home"),
        "the panel shows {ranked:?}"
    );
    let other = ranked
        .iter()
        .find(|(_, name)| !name.starts_with("home"))
        .unwrap();
    assert!(
        ranked[0].0 < 0.9 * other.0,
        "not clearly a home screen: {ranked:?}"
    );

    // A hung app (its UI thread stopped) is killed by the watchdog and started again.
    let hung = main_pid(&mut vm);
    vm.sh(&format!("kill -STOP {hung}"), Duration::from_secs(30))
        .unwrap();
    vm.sh_until(
        &format!(
            "test \"$(systemctl show -P MainPID kiosk-app)\" != {hung} && systemctl is-active kiosk-app"
        ),
        Duration::from_secs(150),
    )
    .unwrap();
    let log = vm
        .sh(
            "journalctl -b -u kiosk-app --no-pager",
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(
        log.contains("Watchdog timeout"),
        "restarted, but not by the watchdog:\n{log}"
    );
    vm.sh_until(
        "test $(journalctl -b -u kiosk-app | grep -c 'kiosk ready') -ge 2",
        Duration::from_secs(180),
    )
    .unwrap();
    eprintln!("whole test {:?}", started.elapsed());
}
