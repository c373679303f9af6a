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
use kiosk_system_tests::central::{Central, create_token, json, start_fresh};
use kiosk_system_tests::db::CentralDb;
use kiosk_system_tests::vm::{Image, Machine, SERIAL_ID_PATH, Vm};

/// The panel of the machine: a common 10.1" kiosk panel's mode.
const SCREEN: (u32, u32) = (1280, 800);
/// Boot of a Debian kernel and systemd under TCG on two cores, with room for a slow machine.
const BOOT: Duration = Duration::from_secs(300);

fn image_dir() -> Option<PathBuf> {
    std::env::var_os("KIOSK_APPLIANCE_IMAGE").map(PathBuf::from)
}

fn image() -> Option<Image> {
    let Some(dir) = image_dir() else {
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
/// it), the receipt printer and the ticket dispenser on TCP, which the guest reaches at
/// 10.0.2.2.
struct Simulators {
    _reader: Killed,
    printers: Vec<Killed>,
    sim: PathBuf,
    dir: PathBuf,
    idcard: PathBuf,
    printer_port: u16,
    dispenser_port: u16,
    dispenser_paper: PathBuf,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn printer(sim: &Path, port: u16, paper: &Path) -> Killed {
    std::fs::create_dir_all(paper).unwrap();
    let child = Command::new(sim)
        .args(["printer", "--tcp", &format!("127.0.0.1:{port}"), "--out"])
        .arg(paper)
        .spawn()
        .unwrap();
    Killed(child)
}

fn simulators(dir: &Path) -> Simulators {
    let sim = cargo_bin("kiosk-sim", "kiosk-sim").unwrap();
    let idcard = dir.join("idcard");
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("../drivers/sim/cards/resident.json");
    let reader = Command::new(&sim)
        .args(["idcard", "--link"])
        .arg(&idcard)
        .arg("--card")
        .arg(&card)
        .spawn()
        .unwrap();
    let reader = Killed(reader);
    wait_for_path(&idcard);
    let (printer_port, dispenser_port) = (free_port(), free_port());
    let mut sims = Simulators {
        _reader: reader,
        printers: Vec::new(),
        sim,
        dir: dir.to_owned(),
        idcard,
        printer_port,
        dispenser_port,
        dispenser_paper: dir.join("dispenser"),
    };
    sims.power_printers();
    sims
}

impl Simulators {
    /// Switches the printers on (again): a kiosk's printers are built into its case and on
    /// its power supply, so a power cut cuts them too, and their network links start afresh.
    /// (A printer left running would still hold the connection of the kiosk that vanished,
    /// and take no other: one connection at a time, as on port 9100.)
    fn power_printers(&mut self) {
        self.printers.clear();
        self.printers = vec![
            printer(&self.sim, self.printer_port, &self.dir.join("receipts")),
            printer(&self.sim, self.dispenser_port, &self.dispenser_paper),
        ];
    }
}

/// The kiosk's configuration and the technician's port rule, as fw_cfg seeds.
fn seeds(dir: &Path, sims: &Simulators) -> Vec<(String, PathBuf)> {
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
tcp = "10.0.2.2:{}"

[devices.dispenser]
tcp = "10.0.2.2:{}"
"#,
            sims.printer_port, sims.dispenser_port
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

// Where a citizen touches, on this panel (1280×800) with this kiosk's configuration (an
// offline banner, no scanner): the screenshots a failing run leaves show what was there
// (KIOSK_APPLIANCE_KEEP=1 keeps them).
const ELDER_MODE_SWITCH: (u32, u32) = (425, 760);
/// The x of a column through the left of the home tiles' round icons, clear of their glyphs.
const ICON_COLUMN: u32 = 60;

/// Where the 取号 tile is on the home page `shown`: its icon is the first blue disc down the
/// column of icons. The notices above the tiles (offline, a device's fault, a closed
/// journey) come and go with the kiosk's state and move the tiles, so the test finds the tile
/// as a citizen would, by looking.
fn take_number_tile(shown: &image::RgbImage) -> Option<(u32, u32)> {
    let blue = |y: u32| {
        let [r, g, b] = shown.get_pixel(ICON_COLUMN, y).0;
        r < 90 && b > 150 && b > g.saturating_add(60)
    };
    let top = (60..shown.height()).find(|y| blue(*y))?;
    let bottom = (top..shown.height()).take_while(|y| blue(*y)).last()?;
    // Below the last notice and above the footer's language buttons, which are blue too.
    (bottom - top > 20 && bottom < shown.height() - 100).then_some((320, (top + bottom) / 2))
}
const SAY_AGAIN: (u32, u32) = (1200, 150);
const FIRST_CATEGORY_ELDER: (u32, u32) = (640, 355);
const SKIP_CARD_ELDER: (u32, u32) = (1110, 688);

/// Seconds of sound louder than a whisper in a WAV file QEMU writes (16-bit PCM after the
/// 44-byte header; QEMU completes the header only when it exits, so it is not read).
fn speech_seconds(wav: &Path) -> f32 {
    let Ok(bytes) = std::fs::read(wav) else {
        return 0.0;
    };
    let loud = bytes
        .get(44..)
        .unwrap_or_default()
        .chunks_exact(2)
        .filter(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 500)
        .count();
    // QEMU's default: 44.1 kHz, two channels.
    loud as f32 / (44_100.0 * 2.0)
}

fn sheets(paper: &Path) -> usize {
    std::fs::read_dir(paper)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
                .count()
        })
        .unwrap_or(0)
}

/// The records the kiosk holds to send, per stream, as `kioskctl sync status` reads them in
/// the guest.
fn records_to_send(vm: &mut Vm) -> std::collections::BTreeMap<String, u64> {
    let out = vm
        .sh(
            "kioskctl sync status --json --data /var/lib/kiosk || true",
            Duration::from_secs(60),
        )
        .unwrap();
    let status: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("kioskctl sync status printed no JSON ({e}):\n{out}"));
    status["backlog"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            (
                b["stream"].as_str().unwrap_or("?").to_string(),
                b["events"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Waits for kiosk-app to be active and to have said "kiosk ready" `times` in this boot.
fn wait_ready(vm: &mut Vm, times: usize) {
    let check = format!(
        "systemctl is-active kiosk-app && test $(journalctl -b -u kiosk-app | grep -c 'kiosk ready') -ge {times}"
    );
    if let Err(e) = vm.sh_until(&check, Duration::from_secs(180)) {
        let log = vm.sh_status(
            "journalctl -b -u kiosk-app --no-pager | tail -40",
            Duration::from_secs(30),
        );
        panic!("kiosk-app never became ready: {e:#}\n{log:?}")
    }
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
fn the_appliance_boots_draws_speaks_keeps_a_ticket_through_a_power_cut_and_restarts_a_hung_app() {
    let Some(image) = image() else { return };
    // KIOSK_APPLIANCE_KEEP=1 keeps the run's folder (screen dumps, the guest's sound, central's
    // log) to look at afterwards; its path is printed.
    let keep = std::env::var_os("KIOSK_APPLIANCE_KEEP").is_some();
    let dir = tempfile::Builder::new()
        .prefix("appliance-")
        .disable_cleanup(keep)
        .tempdir()
        .unwrap();
    if keep {
        eprintln!("keeping {}", dir.path().display());
    }
    let mut sims = simulators(dir.path());
    let sound = dir.path().join("sound.wav");
    let machine = Machine {
        screen: SCREEN,
        seeds: seeds(dir.path(), &sims),
        usb_serial: Some(sims.idcard.clone()),
        audio_wav: Some(sound.clone()),
    };
    let started = Instant::now();
    let mut vm = Vm::boot(&image, &machine, dir.path()).unwrap();
    if let Err(e) = vm.login(BOOT) {
        panic!("the guest never gave its console: {e:#}");
    }
    eprintln!("booted to a shell in {:?}", started.elapsed());

    // systemd starts the app from the package's unit, and it reaches READY.
    wait_ready(&mut vm, 1);
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
    let unenrolled = vm.screendump("home").unwrap();
    let shown = thumbnail(&unenrolled);
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

    // A kiosk that is not enrolled gives no queue numbers, since no hall could call them: its
    // home page has no 取号 tile (the notice above the tiles says why). A technician enrols
    // it with central, as in a hall before its first citizen.
    assert_eq!(
        take_number_tile(&unenrolled),
        None,
        "an unenrolled kiosk offers 取号: see home.png"
    );
    let mut central = enrol(&mut vm, dir.path());
    eprintln!("enrolled {:?} after power-on", started.elapsed());
    // Then central goes out of reach, and stays so until after the power cut below: the
    // citizen still gets a number, and the kiosk must keep its record through the cut. The
    // app starts again without central, so that its home page carries the offline banner
    // from the start rather than from whenever it notices.
    central.stop();
    vm.sh(
        "systemctl restart kiosk-app.service",
        Duration::from_secs(120),
    )
    .unwrap();
    wait_ready(&mut vm, 3);
    std::thread::sleep(Duration::from_secs(10));
    vm.screendump("home-offline").unwrap();

    // Voice under the unit: elder mode, a journey, 再听一遍; the guest's sound card plays
    // into a WAV file on the host, which must then hold speech, not silence.
    vm.touch(ELDER_MODE_SWITCH, SCREEN).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let home = vm.screendump("home-elder").unwrap();
    let tile = take_number_tile(&home).expect("no 取号 tile on the home page: see home-elder.png");
    vm.touch(tile, SCREEN).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    vm.touch(SAY_AGAIN, SCREEN).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while speech_seconds(&sound) < 0.5 {
        if Instant::now() > deadline {
            vm.screendump("say-again").unwrap();
            panic!(
                "nothing was said: {:.2} s of sound in {}",
                speech_seconds(&sound),
                sound.display()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("said {:.1} s of speech", speech_seconds(&sound));

    // A citizen takes a number: the ticket comes out of the dispenser, and the power is cut
    // at once. After the reboot the kiosk still holds the ticket's record to send.
    vm.touch(FIRST_CATEGORY_ELDER, SCREEN).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    vm.touch(SKIP_CARD_ELDER, SCREEN).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sheets(&sims.dispenser_paper) == 0 {
        if Instant::now() > deadline {
            vm.screendump("no-ticket").unwrap();
            panic!("no ticket came out of the dispenser");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    vm.power_cycle().unwrap();
    sims.power_printers();
    vm.login(BOOT).unwrap();
    wait_ready(&mut vm, 1);
    let held = records_to_send(&mut vm);
    assert!(
        held.get("tickets").copied().unwrap_or(0) >= 1,
        "the ticket's record was lost with the power: {held:?}"
    );
    // Central is back: the ticket reaches it and is stored as the hall's, not refused into
    // the kiosk's quarantine.
    central.restart().unwrap();
    let tickets = central_tickets(&central);
    assert_eq!(tickets.len(), 1, "central has {tickets:?}");
    let sync = vm
        .sh(
            "kioskctl sync status --json --data /var/lib/kiosk",
            Duration::from_secs(60),
        )
        .unwrap();
    let sync: serde_json::Value = serde_json::from_str(sync.trim()).unwrap();
    assert_eq!(sync["quarantined"], 0, "{sync}");
    eprintln!("the ticket {tickets:?} reached central after the power cut");

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

    updates_from_central(&mut vm, dir.path(), &central);
    espeak_under_centrals_sandbox(&mut vm);
    eprintln!("whole test {:?}", started.elapsed());
}

/// The maintenance window, in UTC (the guest's clock is the host's): from an hour ago to two
/// hours ahead, so that the agent may switch now, as it would at night in a hall.
fn window_around_now() -> String {
    let now = chrono::Utc::now();
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    format!(
        "{}-{}",
        at(now - chrono::Duration::hours(1)),
        at(now + chrono::Duration::hours(2))
    )
}

/// A release artifact (gzip tar) holding `app` as `bin/kiosk-app`.
fn artifact(dir: &Path, version: &str, app: &Path) -> PathBuf {
    let stage = dir.join(format!("release-{version}"));
    std::fs::create_dir_all(stage.join("bin")).unwrap();
    std::fs::copy(app, stage.join("bin/kiosk-app")).unwrap();
    let out = dir.join(format!("kiosk-{version}.tar.gz"));
    let status = Command::new("tar")
        .arg("-C")
        .arg(&stage)
        .args(["--owner=0", "--group=0", "-czf"])
        .arg(&out)
        .arg("bin")
        .status()
        .unwrap();
    assert!(status.success());
    out
}

/// The app the kiosk package installs, out of the `.deb` the image was built with, without
/// its debug information (as a release carries it).
fn packaged_app(dir: &Path) -> PathBuf {
    let debs = image_dir().unwrap().join("../debs");
    let deb = std::fs::read_dir(&debs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("hall-kiosk_"))
        })
        .unwrap_or_else(|| panic!("no hall-kiosk package in {}", debs.display()));
    let app = dir.join("kiosk-app");
    let status = Command::new("sh")
        .arg("-c")
        .arg(
            "dpkg-deb --fsys-tarfile \"$1\" | tar -xO --wildcards './opt/kiosk/releases/*/bin/kiosk-app' > \"$2\" \
             && strip --strip-debug \"$2\" && chmod 0755 \"$2\"",
        )
        .args(["extract", deb.to_str().unwrap(), app.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "the app out of {}", deb.display());
    app
}

/// Publishes `artifact` as `version`, signed with the ops key, and rolls it out to every
/// kiosk.
fn publish(central: &Central, dir: &Path, version: &str, artifact: &Path) {
    let exe = cargo_bin("central", "central").unwrap();
    let key = dir.join("ops.pem");
    json(
        &exe,
        central.db(),
        &[
            "release",
            "publish",
            artifact.to_str().unwrap(),
            "--version",
            version,
            "--min-version",
            "0.1.0",
            "--key",
            key.to_str().unwrap(),
        ],
    )
    .unwrap();
    json(
        &exe,
        central.db(),
        &["rollout", "start", "--release", version, "--percent", "100"],
    )
    .unwrap();
}

/// What central recorded of the kiosk's updates: (version, outcome, reason), once `expected`
/// rows have arrived through the kiosk's outbox.
fn update_results(central: &Central, expected: usize) -> Vec<(String, String, String)> {
    let db = CentralDb::new(central.db());
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let rows: Vec<(String, String, String)> = db
            .rows("SELECT version, outcome, reason FROM update_results ORDER BY occurred_at")
            .unwrap()
            .into_iter()
            .map(|r| {
                let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                (text(0), text(1), text(2))
            })
            .collect();
        if rows.len() >= expected || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Runs one round of the update agent under its own unit, as its timer would, and waits for
/// it to end; returns what the agent said in the journal.
fn agent_round(vm: &mut Vm) -> String {
    // systemd counts every start of the app against its start limit (5 in 10 min); on a kiosk
    // the last restarts were hours before a night's update, here minutes: start counting
    // afresh, as then.
    // `systemctl start` of a oneshot returns when the round has ended, gate and all.
    let (status, out) = vm
        .sh_status(
            "systemctl reset-failed kiosk-app.service; systemctl start kiosk-update.service",
            Duration::from_secs(900),
        )
        .unwrap();
    assert_eq!(status, 0, "kiosk-update.service failed: {out}");
    vm.sh(
        "journalctl -b -u kiosk-update.service -u kiosk-rollback.service --no-pager | tail -60",
        Duration::from_secs(30),
    )
    .unwrap()
}

fn current_release(vm: &mut Vm) -> String {
    vm.sh("readlink /opt/kiosk/current", Duration::from_secs(30))
        .unwrap()
        .trim()
        .to_string()
}

/// The tickets of the VM's hall at central, once one has arrived through the kiosk's outbox
/// (or three minutes passed): (ticket number, where its number came from).
fn central_tickets(central: &Central) -> Vec<(String, String)> {
    let db = CentralDb::new(central.db());
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let rows: Vec<(String, String)> = db
            .rows("SELECT ticket_no, source FROM tickets WHERE hall_id = 'hall-vm' ORDER BY ticket_no")
            .unwrap()
            .into_iter()
            .map(|r| {
                let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                (text(0), text(1))
            })
            .collect();
        if !rows.is_empty() || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A technician enrols the kiosk with a fresh central on the host (`central/` in `dir`) and
/// the hall opens its maintenance window around now; returns once the app, restarted, has
/// reached central with its devices ready.
fn enrol(vm: &mut Vm, dir: &Path) -> Central {
    let work = dir.join("central");
    std::fs::create_dir_all(&work).unwrap();
    let exe = cargo_bin("central", "central").unwrap();
    let central = start_fresh(&exe, &work).unwrap();
    let token = create_token(&exe, central.db(), "hall-vm", "虚拟机政务服务中心").unwrap();
    let url = format!("http://10.0.2.2:{}", central.addr().port());
    let enrolled = vm
        .sh(
            &format!(
                "kioskctl provision --central {url} --insecure-http --token {token} --hostname kiosk-vm --json"
            ),
            Duration::from_secs(120),
        )
        .unwrap();
    assert!(enrolled.contains("kiosk_id"), "{enrolled}");
    // The hall's maintenance window, opened now.
    vm.sh(
        &format!(
            "printf '\\n[update]\\nwindow = \"{}\"\\nutc_offset = \"+00:00\"\\nhealth_deadline_secs = 300\\n' >> /etc/kiosk/kiosk.toml",
            window_around_now()
        ),
        Duration::from_secs(30),
    )
    .unwrap();
    vm.sh(
        "systemctl reset-failed kiosk-app.service; systemctl restart kiosk-app.service",
        Duration::from_secs(120),
    )
    .unwrap();
    vm.sh_until(
        "grep -q '\"central_reached\": *true' /var/lib/kiosk/state.json \
         && grep -q '\"devices_ready\": *true' /var/lib/kiosk/state.json",
        Duration::from_secs(180),
    )
    .unwrap_or_else(|e| {
        let log = vm.sh_status(
            "cat /etc/kiosk/kiosk.toml; cat /var/lib/kiosk/state.json; journalctl -b -u kiosk-app --no-pager | tail -30",
            Duration::from_secs(30),
        );
        panic!("the kiosk never reached central with its devices ready: {e:#}\n{log:?}")
    });
    central
}

/// Ops publish a release, which the agent installs under its unit and commits once the new
/// app reports itself healthy; then a release whose app cannot start, which systemd gives up
/// on, and its failure path switches back. Central hears both outcomes from the kiosk.
fn updates_from_central(vm: &mut Vm, dir: &Path, central: &Central) {
    let work = dir.join("central");

    // A good release: the packaged app, published as 0.2.0.
    let app = packaged_app(dir);
    publish(central, &work, "0.2.0", &artifact(dir, "0.2.0", &app));
    let said = agent_round(vm);
    assert_eq!(current_release(vm), "releases/0.2.0", "{said}");
    let state = vm
        .sh("cat /var/lib/kiosk/state.json", Duration::from_secs(30))
        .unwrap();
    let state: serde_json::Value = serde_json::from_str(state.trim()).unwrap();
    assert_eq!(
        state["version"], "0.2.0",
        "the new app reports: {state}\n{said}"
    );
    let agent = vm
        .sh("cat /opt/kiosk/agent.json", Duration::from_secs(30))
        .unwrap();
    let agent: serde_json::Value = serde_json::from_str(agent.trim()).unwrap();
    assert_eq!(agent["previous"], "0.1.0", "{agent}\n{said}");
    assert!(agent["pending"].is_null(), "{agent}");
    let results = update_results(central, 1);
    assert_eq!(
        results,
        vec![("0.2.0".into(), "committed".into(), String::new())],
        "{said}"
    );
    eprintln!("0.2.0 installed and committed");
    let sync = vm
        .sh(
            "kioskctl sync status --json --data /var/lib/kiosk",
            Duration::from_secs(60),
        )
        .unwrap();
    eprintln!("SYNC {sync}");

    // A bad release: its app exits at once. systemd restarts it until its start limit, then
    // kiosk-rollback.service ends the agent's gate, which switches back to 0.2.0.
    let broken = dir.join("broken-app");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho 'kiosk-app 0.3.0: cannot open its assets' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    publish(central, &work, "0.3.0", &artifact(dir, "0.3.0", &broken));
    let good = main_pid(vm);
    let said = agent_round(vm);
    assert_eq!(current_release(vm), "releases/0.2.0", "{said}");
    let failure_path = vm
        .sh(
            "journalctl -b -u kiosk-app.service -u kiosk-rollback.service --no-pager",
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(
        failure_path.contains("Start request repeated too quickly")
            || failure_path.contains("start-limit-hit"),
        "systemd did not give up on 0.3.0:\n{failure_path}\nthe agent said:\n{said}"
    );
    // 0.2.0 runs again, in a new process that has reported itself.
    vm.sh_until(
        &format!(
            "pid=$(systemctl show -P MainPID kiosk-app) && test \"$pid\" != 0 -a \"$pid\" != {good} \
             && grep -q \"\\\"pid\\\": *$pid,\" /var/lib/kiosk/state.json \
             && grep -q '\"version\": *\"0.2.0\"' /var/lib/kiosk/state.json"
        ),
        Duration::from_secs(180),
    )
    .unwrap();
    let results = update_results(central, 2);
    assert_eq!(
        results.get(1),
        Some(&(
            "0.3.0".to_string(),
            "rolled_back".to_string(),
            "start_limit_hit".to_string()
        )),
        "{results:?}\n{said}"
    );
    eprintln!("0.3.0 rolled back by systemd's failure path");
}

/// Central's hall display announces calls with espeak-ng, run by central under its unit's
/// sandbox. The appliance has the same Debian, systemd and espeak-ng, so the sandbox is tried
/// here: a oneshot unit with every hardening setting of central.service (a dynamic user
/// standing in for the `central` user) runs espeak-ng as central does, and must speak in both
/// languages. (A unit file rather than `systemd-run`, which needs a D-Bus the appliance has
/// no use for.)
fn espeak_under_centrals_sandbox(vm: &mut Vm) {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd/central/central.service"),
    )
    .unwrap();
    // What starts, restarts and places central is no part of the sandbox.
    const NOT_SANDBOX: [&str; 10] = [
        "Type",
        "User",
        "Group",
        "EnvironmentFile",
        "ExecStart",
        "Restart",
        "RestartSec",
        "TimeoutStopSec",
        "StateDirectory",
        "StateDirectoryMode",
    ];
    let sandbox: Vec<&str> = unit
        .lines()
        .skip_while(|l| l.trim() != "[Service]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| {
            let key = l.split('=').next().unwrap_or_default();
            !NOT_SANDBOX.contains(&key)
        })
        .collect();
    assert!(
        sandbox.len() > 20,
        "central.service's sandbox was not read: {sandbox:?}"
    );
    for (voice, text) in [
        ("cmn", "请 A012 号到 5 号窗口办理"),
        ("en", "Number A012, please go to window 5."),
    ] {
        let name = format!("espeak-check-{voice}");
        let exec = format!("ExecStart=/usr/bin/espeak-ng -v {voice} -s 150 --stdout -- \"{text}\"");
        // systemd opens the output file before it enters the sandbox, as it opens a journal.
        let output = format!("StandardOutput=file:/run/{name}.wav");
        let lines: Vec<&str> = [
            "[Service]",
            "Type=oneshot",
            "DynamicUser=yes",
            exec.as_str(),
            output.as_str(),
        ]
        .into_iter()
        .chain(sandbox.iter().copied())
        .collect();
        let quoted: Vec<String> = lines.iter().map(|l| format!("'{l}'")).collect();
        let (status, out) = vm
            .sh_status(
                &format!(
                    "printf '%s\\n' {} > /run/systemd/system/{name}.service && systemctl daemon-reload \
                     && systemctl start {name}.service; echo \"status $?\"; wc -c < /run/{name}.wav; \
                     journalctl -u {name}.service --no-pager | tail -5",
                    quoted.join(" ")
                ),
                Duration::from_secs(120),
            )
            .unwrap();
        let bytes: usize = out
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .next()
            .unwrap_or(0);
        // A WAV header is 44 bytes; a sentence at 22 kHz is tens of kilobytes.
        assert!(
            out.contains("status 0") && bytes > 20_000,
            "espeak-ng ({voice}) under central's sandbox gave {bytes} bytes (shell status {status}):\n{out}"
        );
        eprintln!("espeak-ng ({voice}) under central's sandbox: {bytes} bytes of speech");
    }
}
