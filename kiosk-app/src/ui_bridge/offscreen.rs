//! Rendering without a display: a Slint platform whose one window is drawn by the software
//! renderer into memory. Used by `--screenshots` (every screen to PNG for review) and by the
//! startup probe the benchmark runs.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::Context;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, ModelRc, PhysicalSize, Rgb8Pixel, SharedPixelBuffer, VecModel};

use super::{
    Device, HelpState, Notice, NoticeKind, Page, Shell, ShellAdapter, ShellOptions, Theme,
};
use crate::config::Language;

struct OffscreenPlatform {
    window: Rc<MinimalSoftwareWindow>,
}

impl Platform for OffscreenPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }
}

/// Makes the offscreen platform this process's Slint platform. Call once, before any window
/// is created.
pub fn install() -> anyhow::Result<Rc<MinimalSoftwareWindow>> {
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    slint::platform::set_platform(Box::new(OffscreenPlatform {
        window: window.clone(),
    }))
    .map_err(|e| anyhow::anyhow!("cannot install the headless renderer: {e}"))?;
    Ok(window)
}

/// Draws the window's current state into a new RGB buffer.
pub fn render(window: &MinimalSoftwareWindow) -> SharedPixelBuffer<Rgb8Pixel> {
    let size = window.size();
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(size.width, size.height);
    slint::platform::update_timers_and_animations();
    window.request_redraw();
    window.draw_if_needed(|renderer| {
        renderer.render(buffer.make_mut_slice(), size.width as usize);
    });
    buffer
}

/// Writes a rendered buffer as PNG.
pub fn save_png(buffer: &SharedPixelBuffer<Rgb8Pixel>, path: &Path) -> anyhow::Result<()> {
    let image =
        image::RgbImage::from_raw(buffer.width(), buffer.height(), buffer.as_bytes().to_vec())
            .context("rendered buffer has the wrong size")?;
    image
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// One state of the UI worth a picture.
struct Screen {
    name: &'static str,
    set: fn(&slint::Weak<super::AppWindow>),
}

fn adapter_do(w: &slint::Weak<super::AppWindow>, f: impl FnOnce(ShellAdapter<'_>)) {
    if let Some(w) = w.upgrade() {
        f(w.global::<ShellAdapter>());
    }
}

const SCREENS: &[Screen] = &[
    Screen {
        name: "home",
        set: |_| {},
    },
    Screen {
        name: "home-faults",
        set: |w| {
            adapter_do(w, |a| {
                a.set_notices(ModelRc::new(VecModel::from(vec![
                    Notice {
                        kind: NoticeKind::DeviceFault,
                        device: Device::Printer,
                    },
                    Notice {
                        kind: NoticeKind::Offline,
                        device: Device::None,
                    },
                ])))
            })
        },
    },
    Screen {
        name: "help",
        set: |w| adapter_do(w, |a| a.set_help_state(HelpState::Directions)),
    },
    Screen {
        name: "timeout",
        set: |w| {
            adapter_do(w, |a| {
                a.set_timeout_seconds_left(20);
                a.set_timeout_prompt_visible(true);
            })
        },
    },
    Screen {
        name: "technician",
        set: |w| technician_do(w, false),
    },
    Screen {
        name: "technician-links",
        set: |w| technician_do(w, true),
    },
];

/// Technician mode on a kiosk whose reader is on a serial adapter and whose receipt printer
/// is unplugged; with `choosing`, the reader's connections found on the box.
fn technician_do(w: &slint::Weak<super::AppWindow>, choosing: bool) {
    use super::{TechDevice, TechLink, TechStage, TechnicianAdapter};
    let Some(w) = w.upgrade() else { return };
    let a = w.global::<TechnicianAdapter>();
    a.set_stage(TechStage::Open);
    a.set_kiosk_id("BJ-DC-0007".into());
    a.set_version("0.2.0".into());
    a.set_central_url("https://zwfw-kiosk.example.gov.cn".into());
    a.set_central_reachable(true);
    a.set_last_sync("2026-12-04 09:41".into());
    a.set_backlog("0".into());
    let device = |device, ok, detail: &str, transport: &str, link: &str| TechDevice {
        device,
        ok,
        detail: detail.into(),
        transport: transport.into(),
        link: link.into(),
    };
    a.set_devices(ModelRc::new(VecModel::from(vec![
        device(
            Device::IdcardReader,
            true,
            "SAM 05.01",
            "serial",
            "/dev/kiosk/idcard",
        ),
        device(
            Device::Printer,
            false,
            "absent: /dev/usb/lp0",
            "node",
            "/dev/usb/lp0",
        ),
        device(Device::Dispenser, true, "paper ok", "usb", "usb 0416:5011"),
    ])));
    if choosing {
        let link = |transport: &str, place: &str, about: &str, current| TechLink {
            transport: transport.into(),
            place: place.into(),
            about: about.into(),
            current,
        };
        a.set_links(ModelRc::new(VecModel::from(vec![
            link("serial", "/dev/kiosk/idcard", "ttyUSB0, ch341-uart", true),
            link("usb", "0400:c35a", "GA 467 SAM ID-card reader", false),
            link("serial", "/dev/ttyS0", "ttyS0, serial8250", false),
        ])));
        a.set_choosing(Device::IdcardReader);
    }
}

fn reset(w: &slint::Weak<super::AppWindow>) {
    if let Some(w) = w.upgrade() {
        let a = w.global::<super::TechnicianAdapter>();
        a.set_stage(super::TechStage::Closed);
        a.set_choosing(Device::None);
    }
    adapter_do(w, |a| {
        a.set_page(Page::Home);
        a.set_help_state(HelpState::Hidden);
        a.set_timeout_prompt_visible(false);
        a.set_notices(ModelRc::new(VecModel::from(Vec::<Notice>::new())));
    });
}

/// The screen sizes a hall uses: landscape 1920×1080 and 1366×768, portrait 1080×1920.
pub const HALL_SIZES: [(u32, u32); 3] = [(1920, 1080), (1366, 768), (1080, 1920)];

/// The languages and modes every screen is shown in, as `(language, elder mode, directory)`.
pub const VARIANTS: [(Language, bool, &str); 4] = [
    (Language::ZhCn, false, "zh"),
    (Language::En, false, "en"),
    (Language::ZhCn, true, "zh-elder"),
    (Language::En, true, "en-elder"),
];

enum Entry {
    Shell(&'static Screen),
    NotAvailable,
    Journey(Box<super::samples::Sample>),
    /// The home page as the engine's availability rule leaves it: the ticket printer at fault,
    /// or the disk too full for records (with the status strip saying so).
    Tiles {
        printer_fault: bool,
        disk_full: bool,
    },
}

/// Every state of the UI a citizen can meet, by name: the shell's own screens (home, faults,
/// help, the inactivity prompt, a journey this kiosk cannot do) and one sample of each journey
/// page as the engine publishes it. The screenshots and the layout test walk the same list.
pub struct Gallery {
    weak: slint::Weak<super::AppWindow>,
    bridge: Rc<super::JourneyBridge>,
    entries: Vec<(String, Entry)>,
}

impl Gallery {
    /// Binds the journey pages of `shell` to a sink that drops every command: the gallery's
    /// pages are samples, not an engine's.
    pub fn attach(shell: &Shell) -> Gallery {
        let bridge = shell.attach_journeys(Rc::new(|_| {}));
        let mut entries: Vec<(String, Entry)> = SCREENS
            .iter()
            .map(|s| (s.name.to_string(), Entry::Shell(s)))
            .collect();
        entries.push(("not-available".into(), Entry::NotAvailable));
        entries.push((
            "home-tiles-greyed".into(),
            Entry::Tiles {
                printer_fault: true,
                disk_full: false,
            },
        ));
        entries.push((
            "home-disk-full".into(),
            Entry::Tiles {
                printer_fault: false,
                disk_full: true,
            },
        ));
        for sample in super::samples::samples() {
            entries.push((
                format!("journey-{}", sample.0),
                Entry::Journey(Box::new(sample)),
            ));
        }
        Gallery {
            weak: shell.window().as_weak(),
            bridge,
            entries,
        }
    }

    /// The names of the screens, in order.
    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(name, _)| name.clone()).collect()
    }

    /// Puts the UI in the state of the screen called `name`; false if there is none.
    pub fn show(&self, shell: &Shell, name: &str) -> bool {
        let Some((_, entry)) = self.entries.iter().find(|(n, _)| n == name) else {
            return false;
        };
        reset(&self.weak);
        self.bridge.next_step();
        self.bridge.show_screen(kiosk_journeys::Screen::default());
        shell.show_journey(None);
        self.bridge
            .show_availability(kiosk_journeys::Availability::default());
        let adapter = shell.window().global::<super::JourneyAdapter>();
        adapter.set_engine(true);
        match entry {
            Entry::Shell(screen) => (screen.set)(&self.weak),
            Entry::NotAvailable => {
                adapter.set_engine(false);
                adapter_do(&self.weak, |a| a.set_page(Page::Apply));
            }
            Entry::Tiles {
                printer_fault,
                disk_full,
            } => {
                if *disk_full {
                    adapter_do(&self.weak, |a| {
                        a.set_notices(ModelRc::new(VecModel::from(vec![Notice {
                            kind: NoticeKind::DiskFull,
                            device: Device::None,
                        }])))
                    });
                }
                self.bridge
                    .show_availability(engine_availability(*printer_fault, *disk_full));
            }
            Entry::Journey(sample) => {
                let (_, journey, page, prompt) = &**sample;
                self.bridge.show_screen(kiosk_journeys::Screen {
                    journey: Some(*journey),
                    page: page.clone(),
                    prompt: prompt.clone(),
                    can_go_back: true,
                    ..Default::default()
                });
                shell.show_journey(Some(*journey));
            }
        }
        true
    }
}

/// Renders every screen of the [`Gallery`] at each size, in Chinese and English, normal and
/// elder mode, into `dir/<W>x<H>/<lang>[-elder]/<screen>.png`. Returns the files written.
pub fn render_all_screens(
    options: ShellOptions,
    dir: &Path,
    sizes: &[(u32, u32)],
) -> anyhow::Result<Vec<PathBuf>> {
    let window = install()?;
    let shell = Shell::new(options).context("cannot create the UI")?;
    let (w, h) = sizes.first().copied().unwrap_or(HALL_SIZES[0]);
    window.set_size(PhysicalSize::new(w, h));
    shell.window().show().context("cannot show the UI")?;
    let gallery = Gallery::attach(&shell);

    let mut written = Vec::new();
    for &(width, height) in sizes {
        window.set_size(PhysicalSize::new(width, height));
        for (language, elder, variant) in VARIANTS {
            let sub = dir.join(format!("{width}x{height}")).join(variant);
            std::fs::create_dir_all(&sub)
                .with_context(|| format!("cannot create {}", sub.display()))?;
            shell.select_language(language);
            shell.window().global::<Theme>().set_elder_mode(elder);
            for name in gallery.names() {
                gallery.show(&shell, &name);
                let path = sub.join(format!("{name}.png"));
                save_png(&render(&window), &path)?;
                written.push(path);
            }
        }
    }
    reset(&shell.window().as_weak());
    Ok(written)
}

/// The dispenser out of paper: taking a number and checking in are off.
/// What the engine's own rule offers with the ticket printer at fault or the disk full.
fn engine_availability(printer_fault: bool, disk_full: bool) -> kiosk_journeys::Availability {
    use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
    use kiosk_journeys::engine::availability::{Conditions, availability};
    let healths: Vec<DeviceHealth> = [
        DeviceKind::IdCardReader,
        DeviceKind::Dispenser,
        DeviceKind::Printer,
        DeviceKind::Scanner,
    ]
    .into_iter()
    .map(|kind| {
        let state = if printer_fault && kind == DeviceKind::Dispenser {
            HealthState::Fault("paper out".into())
        } else {
            HealthState::Ready
        };
        DeviceHealth::now(kind, "gallery".to_owned(), state)
    })
    .collect();
    let conditions = Conditions {
        accepting_records: !disk_full,
        card_lookup: true,
        numbering: true,
        online: true,
        revoked: false,
    };
    let desk = kiosk_journeys::Text::new("1号综合咨询台", "Information desk 1");
    availability(&healths, conditions, &desk)
}
