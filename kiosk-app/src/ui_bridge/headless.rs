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

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }
}

/// Makes the headless platform this process's Slint platform. Call once, before any window
/// is created.
pub fn install() -> anyhow::Result<Rc<MinimalSoftwareWindow>> {
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    slint::platform::set_platform(Box::new(HeadlessPlatform {
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
        name: "take-number",
        set: |w| adapter_do(w, |a| a.set_page(Page::TakeNumber)),
    },
    Screen {
        name: "check-in",
        set: |w| adapter_do(w, |a| a.set_page(Page::CheckIn)),
    },
    Screen {
        name: "guide",
        set: |w| adapter_do(w, |a| a.set_page(Page::Guide)),
    },
    Screen {
        name: "apply",
        set: |w| adapter_do(w, |a| a.set_page(Page::Apply)),
    },
    Screen {
        name: "progress",
        set: |w| adapter_do(w, |a| a.set_page(Page::Progress)),
    },
    Screen {
        name: "rate",
        set: |w| adapter_do(w, |a| a.set_page(Page::Rate)),
    },
    Screen {
        name: "help",
        set: |w| adapter_do(w, |a| a.set_help_state(HelpState::Directions)),
    },
    Screen {
        name: "timeout",
        set: |w| {
            adapter_do(w, |a| {
                a.set_page(Page::Guide);
                a.set_timeout_seconds_left(20);
                a.set_timeout_prompt_visible(true);
            })
        },
    },
];

fn reset(w: &slint::Weak<super::AppWindow>) {
    adapter_do(w, |a| {
        a.set_page(Page::Home);
        a.set_help_state(HelpState::Hidden);
        a.set_timeout_prompt_visible(false);
        a.set_notices(ModelRc::new(VecModel::from(Vec::<Notice>::new())));
    });
}

/// Renders every screen, in Chinese and English, normal and elder mode, at 1920×1080 (and
/// the home screen also in portrait, 1080×1920), into `dir/<lang>[-elder]/<screen>.png`.
/// Returns the files written.
pub fn render_all_screens(options: ShellOptions, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let window = install()?;
    let shell = Shell::new(options).context("cannot create the UI")?;
    let landscape = PhysicalSize::new(1920, 1080);
    window.set_size(landscape);
    shell.window().show().context("cannot show the UI")?;
    let weak = shell.window().as_weak();

    let mut written = Vec::new();
    for (language, lang_dir) in [(Language::ZhCn, "zh"), (Language::En, "en")] {
        for elder in [false, true] {
            let sub = dir.join(if elder {
                format!("{lang_dir}-elder")
            } else {
                lang_dir.to_string()
            });
            std::fs::create_dir_all(&sub)
                .with_context(|| format!("cannot create {}", sub.display()))?;
            shell.select_language(language);
            shell.window().global::<Theme>().set_elder_mode(elder);
            for screen in SCREENS {
                reset(&weak);
                (screen.set)(&weak);
                let path = sub.join(format!("{}.png", screen.name));
                save_png(&render(&window), &path)?;
                written.push(path);
            }
            reset(&weak);
            window.set_size(PhysicalSize::new(1080, 1920));
            let path = sub.join("home-portrait.png");
            save_png(&render(&window), &path)?;
            written.push(path);
            window.set_size(landscape);
        }
    }

    // The journey pages, fed sample screens as the engine would publish them.
    let bridge = shell.attach_journeys(Rc::new(|_| {}));
    for (language, lang_dir) in [(Language::ZhCn, "zh"), (Language::En, "en")] {
        for elder in [false, true] {
            let sub = dir.join(if elder {
                format!("{lang_dir}-elder")
            } else {
                lang_dir.to_string()
            });
            shell.select_language(language);
            shell.window().global::<Theme>().set_elder_mode(elder);
            for (name, journey, page) in super::samples::samples() {
                reset(&weak);
                bridge.show_screen(kiosk_journeys::Screen {
                    journey: Some(journey),
                    page,
                    can_go_back: true,
                    ..Default::default()
                });
                shell.show_journey(Some(journey));
                let path = sub.join(format!("journey-{name}.png"));
                save_png(&render(&window), &path)?;
                written.push(path);
            }
            // A ticket printer out of paper: its journeys greyed, saying why.
            reset(&weak);
            bridge.show_screen(kiosk_journeys::Screen::default());
            shell.show_journey(None);
            bridge.show_availability(printer_fault());
            let path = sub.join("home-tiles-greyed.png");
            save_png(&render(&window), &path)?;
            written.push(path);
            bridge.show_availability(kiosk_journeys::Availability::default());
        }
    }
    Ok(written)
}

/// The dispenser out of paper: taking a number and checking in are off.
fn printer_fault() -> kiosk_journeys::Availability {
    use kiosk_journeys::model::Tile;
    use kiosk_journeys::{JourneyKind, Text};
    let reason = Text::new(
        "取号机暂停出票，请到1号综合咨询台办理",
        "The ticket printer is out of order: please go to Information desk 1",
    );
    kiosk_journeys::Availability {
        tiles: JourneyKind::ALL
            .iter()
            .map(|&journey| {
                let off = matches!(journey, JourneyKind::TakeNumber | JourneyKind::CheckIn);
                Tile {
                    journey,
                    title: journey.title(),
                    enabled: !off,
                    reason: off.then(|| reason.clone()),
                }
            })
            .collect(),
        ..Default::default()
    }
}
