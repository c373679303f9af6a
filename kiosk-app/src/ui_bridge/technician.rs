//! Technician mode on the kiosk screen: held hall name → PIN keypad → device status, network,
//! version, a test ticket and the self-test. The PIN is checked against the configured
//! argon2id hash on a worker thread (argon2 is slow on purpose), and a run of wrong PINs
//! locks the keypad for a while.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use slint::{ComponentHandle, ModelRc, Timer, TimerMode, VecModel};

use super::links::{self, Offer};
use super::{
    AppWindow, Device, PinState, TechCheck, TechDevice, TechLink, TechStage, TechnicianAdapter,
    device_of,
};
use crate::config::{CentralSection, DevicesSection, TechnicianSection};
use crate::config::{LocalDevices, Role};
use crate::status::{Connectivity, KioskStatus};

/// The longest PIN `kioskctl technician set-pin` accepts.
const MAX_PIN_DIGITS: usize = 12;

/// Technician mode closes itself after this long without a touch, so a technician who walks
/// away does not leave it open to the next citizen.
const IDLE_EXIT: Duration = Duration::from_secs(300);

/// What technician mode shows besides the live status.
#[derive(Debug, Clone)]
pub struct TechnicianOptions {
    /// The PIN hash and the lockout rules.
    pub settings: TechnicianSection,
    /// Central's URL, if provisioned.
    pub central_url: Option<String>,
    /// This kiosk's id (or "unprovisioned").
    pub kiosk_id: String,
    /// The running version.
    pub version: String,
    /// The data directory, whose store tells the backlog and the last sync.
    pub data_dir: std::path::PathBuf,
    /// The configured devices and central, for the self-test.
    pub devices: DevicesSection,
    /// Central, for the self-test.
    pub central: Option<CentralSection>,
    /// The whole configuration, for `kioskctl`'s self-test; without it the app's own probes
    /// are the self-test.
    pub config: Option<Box<crate::config::Config>>,
    /// `kiosk.toml` as read, before the page's own device choices: what a new choice is made
    /// against. Without it (simulate mode) connections cannot be changed on the page.
    pub file_config: Option<Box<crate::config::Config>>,
    /// Where sysfs and `/dev` are, for the connections the page offers.
    pub device_roots: kioskctl::devices::Roots,
}

/// One line of a self-test report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelftestLine {
    /// Which check.
    pub name: String,
    /// `PASS`, `WARN`, `FAIL` or `SKIP`.
    pub outcome: &'static str,
    /// What was found.
    pub summary: String,
    /// What to do about it.
    pub advice: Option<String>,
}

/// Something technician mode can ask the rest of the app to do; the answer comes back through
/// [`Technician::show_test_ticket_result`] / [`Technician::show_selftest`].
pub type Action = Box<dyn Fn()>;

/// Technician mode, bound to the window's `TechnicianAdapter`.
pub struct Technician {
    window: slint::Weak<AppWindow>,
    options: TechnicianOptions,
    pin: RefCell<String>,
    wrong_in_a_row: Cell<u32>,
    locked: Cell<bool>,
    lock_timer: Timer,
    idle_timer: Timer,
    test_timer: Timer,
    test_ticket: RefCell<Option<Action>>,
    selftest: RefCell<Option<Action>>,
    // The device whose connection is being chosen, and what the chooser offers.
    choosing: Cell<Option<Role>>,
    offers: RefCell<Vec<Offer>>,
    restart: RefCell<Option<Action>>,
    // The devices as the engine last reported them, for kioskctl's self-test (which must not
    // open the ports the engine owns).
    reported: std::sync::Arc<std::sync::Mutex<Vec<kiosk_hal::DeviceHealth>>>,
}

impl Technician {
    /// Binds the adapter's callbacks.
    pub fn setup(window: &AppWindow, options: TechnicianOptions) -> Rc<Self> {
        let this = Rc::new(Self {
            window: window.as_weak(),
            options,
            pin: RefCell::new(String::new()),
            wrong_in_a_row: Cell::new(0),
            locked: Cell::new(false),
            lock_timer: Timer::default(),
            idle_timer: Timer::default(),
            test_timer: Timer::default(),
            test_ticket: RefCell::new(None),
            selftest: RefCell::new(None),
            choosing: Cell::new(None),
            offers: RefCell::new(Vec::new()),
            restart: RefCell::new(None),
            reported: std::sync::Arc::default(),
        });
        if let Some(config) = this.options.config.clone() {
            let reported = this.reported.clone();
            this.set_selftest(
                "kioskctl's self-test: the devices as the app reports them, disk, identity, \
                 central, clock, outbox.",
                move || kioskctl_selftest(&config, &reported),
            );
        } else {
            let (devices, central) = (this.options.devices.clone(), this.options.central.clone());
            this.set_selftest(
                "The app's own probes: device nodes and central's address.",
                move || app_probes(&devices, central.as_ref()),
            );
        }
        let adapter = window.global::<TechnicianAdapter>();
        adapter.set_version(this.options.version.clone().into());
        adapter.set_kiosk_id(this.options.kiosk_id.clone().into());
        adapter.set_central_url(this.options.central_url.clone().unwrap_or_default().into());
        adapter.set_last_sync("–".into());
        adapter.set_backlog("–".into());

        let w = Rc::downgrade(&this);
        adapter.on_open_requested(move || with(&w, |t| t.open_pin()));
        let w = Rc::downgrade(&this);
        adapter.on_pin_digit(move |d| with(&w, |t| t.digit(&d)));
        let w = Rc::downgrade(&this);
        adapter.on_pin_backspace(move || {
            with(&w, |t| {
                t.pin.borrow_mut().pop();
                t.show_pin(PinState::Entering);
            })
        });
        let w = Rc::downgrade(&this);
        adapter.on_pin_submit(move || with(&w, |t| t.submit()));
        let w = Rc::downgrade(&this);
        adapter.on_exit(move || with(&w, |t| t.close()));
        let w = Rc::downgrade(&this);
        adapter.on_print_test_ticket(move || {
            with(&w, |t| {
                t.touch();
                if let Some(action) = t.test_ticket.borrow().as_ref() {
                    t.ui(|a| {
                        a.set_test_ticket_busy(true);
                        a.set_test_ticket_result("".into());
                    });
                    action();
                    // The answer comes with the engine's next device report; if none comes,
                    // say so rather than leave the button disabled.
                    let weak = Rc::downgrade(t);
                    t.test_timer
                        .start(TimerMode::SingleShot, Duration::from_secs(15), move || {
                            with(&weak, |t| {
                                t.ui(|a| {
                                    if a.get_test_ticket_busy() {
                                        a.set_test_ticket_busy(false);
                                        a.set_test_ticket_result(
                                            "no report from the ticket printer within 15 s: \
                                             see its status above and the log"
                                                .into(),
                                        );
                                    }
                                })
                            })
                        });
                }
            })
        });
        let w = Rc::downgrade(&this);
        adapter.on_change_link(move |device| with(&w, |t| t.open_chooser(device)));
        let w = Rc::downgrade(&this);
        adapter.on_pick_link(move |i| with(&w, |t| t.pick(i)));
        let w = Rc::downgrade(&this);
        adapter.on_cancel_link(move || with(&w, |t| t.close_chooser()));
        let w = Rc::downgrade(&this);
        adapter.on_run_selftest(move || {
            with(&w, |t| {
                t.touch();
                if let Some(action) = t.selftest.borrow().as_ref() {
                    t.ui(|a| {
                        a.set_selftest_busy(true);
                        a.set_checks(ModelRc::default());
                    });
                    action();
                }
            })
        });
        this
    }

    /// What a connection chosen on the page does once it is kept: restart the app on it.
    pub fn set_restart_action(&self, action: impl Fn() + 'static) {
        *self.restart.borrow_mut() = Some(Box::new(action));
    }

    /// Lists the connections found for `device`, the one in use marked.
    fn open_chooser(self: &Rc<Self>, device: Device) {
        self.touch();
        let role = match device {
            Device::IdcardReader => Role::Idcard,
            Device::Printer => Role::Printer,
            Device::Dispenser => Role::Dispenser,
            _ => return,
        };
        let mut note = String::new();
        let found = if self.options.file_config.is_none() {
            note = "simulate mode: the simulators' connections cannot be changed".into();
            Vec::new()
        } else {
            // sysfs and /dev only: directory reads, no device is opened.
            match kioskctl::devices::scan(&self.options.device_roots) {
                Ok(inventory) => links::offers(&inventory, role),
                Err(e) => {
                    note = e.to_string();
                    Vec::new()
                }
            }
        };
        let current = links::current(&self.options.devices, role);
        let shown: Vec<TechLink> = found
            .iter()
            .map(|o| TechLink {
                transport: o.transport.into(),
                place: o.place.as_str().into(),
                about: o.about.as_str().into(),
                current: current.as_ref() == Some(&o.link),
            })
            .collect();
        *self.offers.borrow_mut() = found;
        self.choosing.set(Some(role));
        self.ui(|a| {
            a.set_links(ModelRc::new(VecModel::from(shown)));
            a.set_choice_note(note.into());
            a.set_choosing(device);
        });
    }

    /// Keeps the chosen connection in the data folder and restarts on it.
    fn pick(self: &Rc<Self>, index: i32) {
        self.touch();
        let (Some(role), Some(file)) = (self.choosing.get(), self.options.file_config.as_ref())
        else {
            return;
        };
        let Some(offer) = usize::try_from(index)
            .ok()
            .and_then(|i| self.offers.borrow().get(i).cloned())
        else {
            return;
        };
        let data_dir = &self.options.data_dir;
        // An unreadable file of choices is replaced: the page is where they are made.
        let mut local = LocalDevices::read(data_dir).unwrap_or_default();
        local.choose(file, role, offer.link.clone(), chrono::Utc::now());
        match local.write(data_dir) {
            Ok(()) => {
                tracing::info!(
                    device = role.key(),
                    link = %offer.link.describe(),
                    "technician chose a connection on the page; restarting to use it"
                );
                self.close_chooser();
                if let Some(restart) = self.restart.borrow().as_ref() {
                    restart();
                }
            }
            Err(e) => {
                tracing::error!(%e, "the technician's choice of connection could not be kept");
                self.ui(|a| a.set_choice_note(format!("not kept: {e}").into()));
            }
        }
    }

    fn close_chooser(&self) {
        self.choosing.set(None);
        self.offers.borrow_mut().clear();
        self.ui(|a| {
            a.set_choosing(Device::None);
            a.set_links(ModelRc::default());
            a.set_choice_note("".into());
        });
    }

    /// What "print test ticket" does; without it the button stays disabled.
    pub fn set_test_ticket_action(&self, action: impl Fn() + 'static) {
        *self.test_ticket.borrow_mut() = Some(Box::new(action));
        self.ui(|a| a.set_test_ticket_available(true));
    }

    /// Runs `test` on a worker thread whenever the technician asks for a self-test; `note`
    /// says above the results what the test covers.
    pub fn set_selftest(
        self: &Rc<Self>,
        note: &str,
        test: impl Fn() -> Vec<SelftestLine> + Send + Sync + 'static,
    ) {
        let test = std::sync::Arc::new(test);
        let weak = Rc::downgrade(self);
        *self.selftest.borrow_mut() = Some(Box::new(move || {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let test = test.clone();
            std::thread::spawn(move || {
                let _ = tx.send(test());
            });
            let weak = weak.clone();
            let _ = slint::spawn_local(async move {
                let lines = rx.await.unwrap_or_default();
                with(&weak, |t| t.show_selftest(lines));
            });
        }));
        self.ui(|a| a.set_selftest_note(note.into()));
    }

    /// The outcome of a test ticket, in the technician's words.
    pub fn show_test_ticket_result(&self, text: &str) {
        self.ui(|a| {
            a.set_test_ticket_busy(false);
            a.set_test_ticket_result(text.into());
        });
    }

    /// Shows self-test results.
    pub fn show_selftest(&self, lines: Vec<SelftestLine>) {
        let checks: Vec<TechCheck> = lines
            .into_iter()
            .map(|l| TechCheck {
                name: l.name.into(),
                outcome: l.outcome.into(),
                summary: l.summary.into(),
                advice: l.advice.unwrap_or_default().into(),
            })
            .collect();
        self.ui(|a| {
            a.set_selftest_busy(false);
            a.set_checks(ModelRc::new(VecModel::from(checks)));
        });
    }

    /// The devices and the link as the journey engine's driver tasks see them (better than
    /// the node probes: they talk to the devices). Also ends a pending test ticket: the
    /// engine republishes the devices after printing it.
    pub fn show_engine_devices(&self, availability: &kiosk_journeys::Availability) {
        let devices: Vec<TechDevice> = availability
            .devices
            .iter()
            .map(|d| TechDevice {
                device: device_of(d.kind),
                ok: d.usable,
                detail: d.detail.as_str().into(),
                transport: transport_of(d.kind, &d.location).into(),
                link: d.location.as_str().into(),
            })
            .collect();
        if let Ok(mut reported) = self.reported.lock() {
            *reported = availability
                .devices
                .iter()
                .map(|d| {
                    let state = if d.usable {
                        kiosk_hal::HealthState::Ready
                    } else {
                        kiosk_hal::HealthState::Fault(d.detail.clone())
                    };
                    kiosk_hal::DeviceHealth::now(d.kind, d.detail.clone(), state)
                })
                .collect();
        }
        let dispenser = availability
            .devices
            .iter()
            .find(|d| d.kind == kiosk_hal::DeviceKind::Dispenser);
        self.ui(|a| {
            a.set_devices(ModelRc::new(VecModel::from(devices)));
            a.set_central_reachable(availability.online);
            if a.get_test_ticket_busy() {
                a.set_test_ticket_busy(false);
                a.set_test_ticket_result(
                    match dispenser {
                        Some(d) if d.usable => format!("sent to the ticket printer: {}", d.detail),
                        Some(d) => format!("ticket printer out of order: {}", d.detail),
                        None => "no ticket printer configured".to_string(),
                    }
                    .into(),
                );
            }
        });
    }

    /// Backlog and last sync from the store's status snapshot.
    pub fn set_sync(&self, backlog: Option<u64>, last_sync: Option<String>) {
        self.ui(|a| {
            a.set_backlog(backlog.map_or("–".into(), |b| b.to_string()).into());
            a.set_last_sync(last_sync.unwrap_or_else(|| "–".into()).into());
        });
    }

    /// Whether technician mode (or its PIN dialog) is on screen.
    pub fn is_open(&self) -> bool {
        self.window
            .upgrade()
            .is_some_and(|w| w.global::<TechnicianAdapter>().get_stage() != TechStage::Closed)
    }

    fn ui(&self, f: impl FnOnce(TechnicianAdapter<'_>)) {
        if let Some(w) = self.window.upgrade() {
            f(w.global::<TechnicianAdapter>());
        }
    }

    fn open_pin(self: &Rc<Self>) {
        if self.is_open() {
            return;
        }
        tracing::info!("technician PIN requested");
        self.pin.borrow_mut().clear();
        let state = if self.options.settings.pin_hash.is_none() {
            PinState::NoPin
        } else if self.locked.get() {
            PinState::Locked
        } else {
            PinState::Entering
        };
        self.show_pin(state);
        self.ui(|a| a.set_stage(TechStage::Pin));
        self.touch();
    }

    fn digit(self: &Rc<Self>, d: &str) {
        self.touch();
        if self.locked.get() || !d.chars().all(|c| c.is_ascii_digit()) {
            return;
        }
        let mut pin = self.pin.borrow_mut();
        if pin.len() < MAX_PIN_DIGITS {
            pin.push_str(d);
        }
        drop(pin);
        self.show_pin(PinState::Entering);
    }

    fn show_pin(&self, state: PinState) {
        let digits = i32::try_from(self.pin.borrow().len()).unwrap_or(0);
        let state = if self.locked.get() {
            PinState::Locked
        } else {
            state
        };
        let tries_left = self
            .options
            .settings
            .max_attempts
            .saturating_sub(self.wrong_in_a_row.get());
        let minutes = self.options.settings.lockout_secs.div_ceil(60);
        self.ui(|a| {
            a.set_pin_digits(digits);
            a.set_pin_state(state);
            a.set_tries_left(i32::try_from(tries_left).unwrap_or(0));
            a.set_locked_minutes(i32::try_from(minutes).unwrap_or(i32::MAX));
        });
    }

    /// Checks the PIN off the UI thread; the keypad shows "checking" meanwhile.
    fn submit(self: &Rc<Self>) {
        self.touch();
        let Some(hash) = self.options.settings.pin_hash.clone() else {
            return;
        };
        if self.locked.get() || self.pin.borrow().is_empty() {
            return;
        }
        let pin = std::mem::take(&mut *self.pin.borrow_mut());
        self.show_pin(PinState::Checking);
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(verify_pin(&hash, &pin));
        });
        let weak = Rc::downgrade(self);
        let spawned = slint::spawn_local(async move {
            let right = rx.await.unwrap_or(false);
            with(&weak, |t| t.pin_checked(right));
        });
        if let Err(e) = spawned {
            tracing::error!("cannot check the technician PIN: {e}");
            self.show_pin(PinState::Entering);
        }
    }

    fn pin_checked(self: &Rc<Self>, right: bool) {
        if right {
            tracing::info!("technician mode opened");
            self.wrong_in_a_row.set(0);
            self.ui(|a| a.set_stage(TechStage::Open));
            self.refresh_sync();
            return;
        }
        let wrong = self.wrong_in_a_row.get() + 1;
        self.wrong_in_a_row.set(wrong);
        tracing::warn!(wrong_in_a_row = wrong, "wrong technician PIN");
        if wrong >= self.options.settings.max_attempts {
            tracing::warn!(
                seconds = self.options.settings.lockout_secs,
                "technician PIN locked after too many wrong tries"
            );
            self.locked.set(true);
            let weak = Rc::downgrade(self);
            self.lock_timer.start(
                TimerMode::SingleShot,
                Duration::from_secs(self.options.settings.lockout_secs),
                move || {
                    with(&weak, |t| {
                        t.locked.set(false);
                        t.wrong_in_a_row.set(0);
                        t.show_pin(PinState::Entering);
                    })
                },
            );
        }
        self.show_pin(PinState::Wrong);
    }

    /// Reads the store's sync snapshot on a worker thread (it opens the database).
    fn refresh_sync(self: &Rc<Self>) {
        let dir = self.options.data_dir.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(kiosk_core::store::read_status(&dir).ok());
        });
        let weak = Rc::downgrade(self);
        let _ = slint::spawn_local(async move {
            if let Ok(Some(status)) = rx.await {
                let last = status.last_success_at.map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                });
                with(&weak, |t| t.set_sync(Some(status.total_backlog), last));
            }
        });
    }

    fn touch(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        self.idle_timer
            .start(TimerMode::SingleShot, IDLE_EXIT, move || {
                with(&weak, |t| t.close());
            });
    }

    fn close(&self) {
        self.close_chooser();
        self.pin.borrow_mut().clear();
        self.idle_timer.stop();
        if self.is_open() {
            tracing::info!("technician mode closed");
        }
        self.ui(|a| {
            a.set_stage(TechStage::Closed);
            a.set_pin_digits(0);
            a.set_checks(ModelRc::default());
            a.set_test_ticket_result("".into());
        });
    }
}

/// Shows the latest device and network status in technician mode (kept up to date while it
/// is closed too, so it opens on current facts).
pub fn show_status(window: &AppWindow, status: &KioskStatus) {
    let devices: Vec<TechDevice> = status
        .devices
        .iter()
        .map(|d| TechDevice {
            device: device_of(d.kind),
            ok: d.state.is_usable(),
            detail: format!("{}: {:?}", d.location, d.state).into(),
            transport: transport_of(d.kind, &d.location).into(),
            link: d.location.as_str().into(),
        })
        .collect();
    let adapter = window.global::<TechnicianAdapter>();
    adapter.set_devices(ModelRc::new(VecModel::from(devices)));
    adapter.set_central_reachable(status.connectivity == Connectivity::Online);
}

/// How a device is connected, as the page names it (`usb`, `serial`, `node`, `network`, or
/// empty for a scanner), read off the location its driver gives: `usb vvvv:pppp` for
/// libusb, `tcp://` for a network printer, a speed in brackets for a serial printer; a
/// reader on a path is on a serial port, a printer on a bare path on its device node.
pub fn transport_of(kind: kiosk_hal::DeviceKind, location: &str) -> &'static str {
    use kiosk_hal::DeviceKind;
    if location.starts_with("usb ") {
        "usb"
    } else if location.starts_with("tcp://") {
        "network"
    } else if !location.starts_with('/') {
        ""
    } else if kind == DeviceKind::IdCardReader || location.ends_with(" baud)") {
        "serial"
    } else if matches!(kind, DeviceKind::Printer | DeviceKind::Dispenser) {
        "node"
    } else {
        ""
    }
}

/// The self-test the app can run on its own: each configured device node exists, central's
/// address accepts a TCP connection.
pub fn app_probes(devices: &DevicesSection, central: Option<&CentralSection>) -> Vec<SelftestLine> {
    let mut lines: Vec<SelftestLine> = crate::status::probe_device_nodes(devices)
        .into_iter()
        .map(|d| {
            let ok = d.state.is_usable();
            SelftestLine {
                name: d.kind.label().to_string(),
                outcome: if ok { "PASS" } else { "FAIL" },
                summary: format!("{}: {:?}", d.location, d.state),
                advice: (!ok)
                    .then(|| "check the cable and the udev rule (kioskctl devices)".to_string()),
            }
        })
        .collect();
    let central_line = match central.and_then(|c| crate::status::central_address(&c.url)) {
        None => SelftestLine {
            name: "central".into(),
            outcome: "FAIL",
            summary: "no central platform configured".into(),
            advice: Some("provision the kiosk: kioskctl provision --central URL --token T".into()),
        },
        Some(address) => {
            let reached = std::net::ToSocketAddrs::to_socket_addrs(address.as_str())
                .ok()
                .and_then(|mut addrs| addrs.next())
                .is_some_and(|a| {
                    std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_ok()
                });
            SelftestLine {
                name: "central".into(),
                outcome: if reached { "PASS" } else { "FAIL" },
                summary: format!(
                    "{address}: {}",
                    if reached {
                        "connection accepted"
                    } else {
                        "no connection within 3 s"
                    }
                ),
                advice: (!reached)
                    .then(|| "check the hall network, the firewall and [central] url".to_string()),
            }
        }
    };
    lines.push(central_line);
    lines
}

/// `kioskctl selftest` as a library, judging the devices by what the app's driver tasks
/// reported instead of opening their ports.
fn kioskctl_selftest(
    config: &crate::config::Config,
    reported: &std::sync::Mutex<Vec<kiosk_hal::DeviceHealth>>,
) -> Vec<SelftestLine> {
    let devices = reported.lock().map(|r| r.clone()).unwrap_or_default();
    let options = kioskctl::SelftestOptions {
        devices: kioskctl::DeviceProbe::Reported(devices),
        ..Default::default()
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return vec![SelftestLine {
                name: "selftest".into(),
                outcome: "FAIL",
                summary: format!("cannot start the self-test: {e}"),
                advice: None,
            }];
        }
    };
    let report = runtime.block_on(kioskctl::selftest::run(config, &options));
    report
        .checks
        .into_iter()
        .map(|c| SelftestLine {
            name: c.name,
            outcome: c.outcome.label(),
            summary: c.summary,
            advice: c.advice,
        })
        .collect()
}

/// Whether `pin` matches the argon2id PHC string `hash` (parameters are read from the string).
pub fn verify_pin(hash: &str, pin: &str) -> bool {
    use argon2::PasswordVerifier;
    match argon2::PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(pin.as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            tracing::error!("the configured technician PIN hash is unreadable: {e}");
            false
        }
    }
}

fn with(weak: &Weak<Technician>, f: impl FnOnce(&Rc<Technician>)) {
    if let Some(t) = weak.upgrade() {
        f(&t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_is_named_from_the_drivers_location() {
        use kiosk_hal::DeviceKind::{Dispenser, IdCardReader, Printer, Scanner};
        assert_eq!(transport_of(IdCardReader, "usb 0400:c35a"), "usb");
        assert_eq!(transport_of(IdCardReader, "/dev/kiosk/idcard"), "serial");
        assert_eq!(
            transport_of(Printer, "/dev/kiosk/printer (9600 baud)"),
            "serial"
        );
        assert_eq!(transport_of(Printer, "/dev/usb/lp0"), "node");
        assert_eq!(transport_of(Dispenser, "usb 04b8:0202"), "usb");
        assert_eq!(transport_of(Dispenser, "tcp://10.1.2.3:9100"), "network");
        assert_eq!(transport_of(Scanner, "fujitsu:fi-7160:12345"), "");
    }
}
