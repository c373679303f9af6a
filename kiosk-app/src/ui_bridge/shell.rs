//! The kiosk shell: header, status strip, home tiles, language and elder-mode switches, the
//! call for help, and the inactivity timeout that ends a forgotten session.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use chrono::{Datelike, Timelike};
use slint::{ComponentHandle, ModelRc, Timer, TimerMode, VecModel};

use kiosk_journeys::{Availability, Command, EngineHandle, JourneyKind};

use super::screens::JourneyBridge;
use super::technician::{self, Technician, TechnicianOptions};
use super::{
    AppWindow, Device, HelpState, Notice, NoticeKind, Page, ShellAdapter, Theme, notices_for,
};
use crate::config::{Config, HallSection, Language, UiSection};
use crate::status::KioskStatus;

/// What the shell needs from the configuration.
#[derive(Debug, Clone)]
pub struct ShellOptions {
    /// The hall's names and its help desk.
    pub hall: HallSection,
    /// Session defaults and timeouts.
    pub ui: UiSection,
    /// Small print in the footer: kiosk id and version, for staff and technicians.
    pub kiosk_label: String,
    /// Technician mode.
    pub technician: TechnicianOptions,
    /// The voice, for elder mode's 再听一遍.
    pub voice: kiosk_core::config::VoiceSection,
}

impl ShellOptions {
    /// The shell's options from the configuration.
    pub fn from_config(config: &Config) -> Self {
        let kiosk_id = config
            .kiosk
            .id
            .clone()
            .unwrap_or_else(|| "unprovisioned".into());
        Self {
            hall: config.hall.clone(),
            ui: config.ui.clone(),
            kiosk_label: format!("{kiosk_id} · v{}", crate::version()),
            voice: config.voice.clone(),
            technician: TechnicianOptions {
                settings: config.technician.clone(),
                central_url: config.central.as_ref().map(|c| c.url.clone()),
                kiosk_id,
                version: crate::version().into(),
                data_dir: config.kiosk.data_dir.clone(),
                devices: config.devices.clone(),
                central: config.central.clone(),
                config: Some(Box::new(config.clone())),
                file_config: None,
                device_roots: kioskctl::devices::Roots::default(),
            },
        }
    }
}

/// The running shell. Create it on the UI thread; it lives as long as the window.
pub struct Shell {
    window: AppWindow,
    inner: Rc<Inner>,
    technician: Rc<Technician>,
}

struct Inner {
    window: slint::Weak<AppWindow>,
    options: ShellOptions,
    // Each session's timeline: idle → prompt (countdown) → expiry.
    idle: Timer,
    countdown: Timer,
    expiry: Timer,
    clock: Timer,
    seconds_left: Cell<u64>,
    // Whether a citizen is in a journey, and who wants to know when that changes.
    session_active: Cell<bool>,
    session_observer: RefCell<Option<SessionObserver>>,
    // The journey engine, once attached; without it journey pages say they are unavailable.
    journeys: RefCell<Option<Rc<JourneyBridge>>>,
}

/// Told whether a citizen session is under way.
type SessionObserver = Box<dyn Fn(bool)>;

/// Why a session ended, for the log.
#[derive(Debug, Clone, Copy)]
enum SessionEnd {
    Timeout,
    Citizen,
}

impl Shell {
    /// Creates the window and binds the shell adapter. Uses whatever Slint platform is set
    /// (winit on a kiosk, the software renderer for screenshots, the testing backend in tests).
    pub fn new(options: ShellOptions) -> Result<Self, slint::PlatformError> {
        let window = AppWindow::new()?;
        let technician = Technician::setup(&window, options.technician.clone());
        let inner = Rc::new(Inner {
            window: window.as_weak(),
            options,
            idle: Timer::default(),
            countdown: Timer::default(),
            expiry: Timer::default(),
            clock: Timer::default(),
            seconds_left: Cell::new(0),
            session_active: Cell::new(false),
            session_observer: RefCell::new(None),
            journeys: RefCell::new(None),
        });
        inner.setup(&window);
        Ok(Self {
            window,
            inner,
            technician,
        })
    }

    /// The window, for showing it and for tests.
    pub fn window(&self) -> &AppWindow {
        &self.window
    }

    /// Lets the journey engine drive the journey pages: tiles start journeys, the engine's
    /// screens are shown as they are published, and the shell's switches, home button,
    /// help button and inactivity timeout become engine commands. Call on the UI thread,
    /// once; the engine's channels are awaited on the UI thread's own event loop.
    pub fn attach_engine(&self, engine: EngineHandle) {
        let sender = engine.clone();
        let bridge = self.attach_journeys(Rc::new(move |c| sender.send(c)));
        bridge.set_voice(kiosk_journeys::voice::Voice::new(&self.inner.options.voice));

        let mut screens = engine.screen();
        let weak_bridge = Rc::downgrade(&bridge);
        let weak_inner = Rc::downgrade(&self.inner);
        let spawned = slint::spawn_local(async move {
            loop {
                let screen = screens.borrow_and_update().clone();
                let journey = screen.journey;
                match weak_bridge.upgrade() {
                    Some(b) => b.show_screen(screen),
                    None => return,
                }
                with(&weak_inner, |s| s.follow_journey(journey));
                if screens.changed().await.is_err() {
                    return;
                }
            }
        });
        let mut availability = engine.availability();
        let weak_bridge = Rc::downgrade(&bridge);
        let weak_technician = Rc::downgrade(&self.technician);
        let window = self.window.as_weak();
        let watched = slint::spawn_local(async move {
            loop {
                let latest = availability.borrow_and_update().clone();
                if let Some(w) = window.upgrade() {
                    show_engine_status(&w, &latest);
                }
                if let Some(t) = weak_technician.upgrade() {
                    t.show_engine_devices(&latest);
                }
                match weak_bridge.upgrade() {
                    Some(b) => b.show_availability(latest),
                    None => return,
                }
                if availability.changed().await.is_err() {
                    return;
                }
            }
        });
        if let Err(e) = spawned.and(watched) {
            tracing::error!("cannot follow the journey engine: {e}");
        }
        let tester = engine.clone();
        self.technician
            .set_test_ticket_action(move || tester.send(Command::TestTicket));
    }

    /// Binds the journey pages to whatever takes their commands (the engine; a no-op for
    /// screenshots, which show sample screens through [`JourneyBridge::show_screen`]).
    pub fn attach_journeys(&self, send: super::screens::CommandSink) -> Rc<JourneyBridge> {
        let language = to_engine_language(self.inner.language());
        let bridge = JourneyBridge::setup(&self.window, send, language);
        bridge.send(Command::SetLanguage { language });
        bridge.send(Command::SetElderMode {
            on: self.window.global::<Theme>().get_elder_mode(),
        });
        *self.inner.journeys.borrow_mut() = Some(bridge.clone());
        bridge
    }

    /// Shows the page of this journey (what a tile or the engine does), for screenshots.
    pub fn show_journey(&self, journey: Option<JourneyKind>) {
        self.inner.follow_journey(journey);
    }

    /// The journeys' binding, once an engine is attached.
    pub fn journeys(&self) -> Option<Rc<JourneyBridge>> {
        self.inner.journeys.borrow().clone()
    }

    /// Technician mode.
    pub fn technician(&self) -> &Rc<Technician> {
        &self.technician
    }

    /// Shows a new status (on the UI thread).
    pub fn set_status(&self, status: &KioskStatus) {
        show_status(&self.window, status);
    }

    /// A function other threads can call to show a new status: it hops onto the UI thread
    /// through the event loop and does nothing once the window is gone.
    pub fn status_sink(&self) -> impl Fn(KioskStatus) + Send + 'static {
        let weak = self.window.as_weak();
        move |status| {
            let _ = weak.upgrade_in_event_loop(move |w| show_status(&w, &status));
        }
    }

    /// Calls `observer` (on the UI thread) whenever a citizen session starts or ends: a journey
    /// page is open, as opposed to the home screen. The state file's `session_active`.
    pub fn on_session_change(&self, observer: impl Fn(bool) + 'static) {
        observer(self.inner.session_active.get());
        *self.inner.session_observer.borrow_mut() = Some(Box::new(observer));
    }

    /// Switches the UI language (as the footer switch does).
    pub fn select_language(&self, language: Language) {
        self.inner.apply_language(language);
    }
}

/// The status strip from the engine's view of the devices, the link and the disk.
fn show_engine_status(window: &AppWindow, availability: &Availability) {
    let mut notices: Vec<Notice> = availability
        .devices
        .iter()
        .filter(|d| !d.usable)
        .map(|d| Notice {
            kind: NoticeKind::DeviceFault,
            device: super::device_of(d.kind),
        })
        .collect();
    if !availability.accepting_records {
        notices.push(Notice {
            kind: NoticeKind::DiskFull,
            device: Device::None,
        });
    }
    if !availability.online {
        notices.push(Notice {
            kind: NoticeKind::Offline,
            device: Device::None,
        });
    }
    window
        .global::<ShellAdapter>()
        .set_notices(ModelRc::new(VecModel::from(notices)));
}

fn show_status(window: &AppWindow, status: &KioskStatus) {
    let notices = notices_for(status, false);
    window
        .global::<ShellAdapter>()
        .set_notices(ModelRc::new(VecModel::from(notices)));
    technician::show_status(window, status);
}

impl Inner {
    fn setup(self: &Rc<Self>, window: &AppWindow) {
        let adapter = window.global::<ShellAdapter>();
        adapter.set_kiosk_label(self.options.kiosk_label.clone().into());
        window
            .global::<Theme>()
            .set_elder_mode(self.options.ui.elder_mode);
        self.apply_language(self.options.ui.language);

        let weak = Rc::downgrade(self);
        self.clock
            .start(TimerMode::Repeated, Duration::from_secs(1), move || {
                with(&weak, |s| s.update_clock());
            });

        let w = Rc::downgrade(self);
        adapter.on_open(move |page| {
            with(&w, |s| {
                if let Some(journey) = journey_of(page) {
                    s.command(Command::Start { journey });
                }
                s.set_page(page);
                s.touch();
            })
        });
        let w = Rc::downgrade(self);
        adapter.on_go_home(move || with(&w, |s| s.go_home()));
        let w = Rc::downgrade(self);
        adapter.on_select_language(move |locale| {
            with(&w, |s| {
                if let Some(language) = Language::from_locale(&locale) {
                    s.apply_language(language);
                    s.command(Command::SetLanguage {
                        language: to_engine_language(language),
                    });
                }
                s.touch();
            })
        });
        let w = Rc::downgrade(self);
        adapter.on_set_elder_mode(move |on| {
            with(&w, |s| {
                s.ui(|ui| ui.global::<Theme>().set_elder_mode(on));
                // The engine speaks prompts by default in elder mode.
                s.command(Command::SetElderMode { on });
                s.touch();
            })
        });
        let w = Rc::downgrade(self);
        adapter.on_call_help(move || {
            with(&w, |s| {
                tracing::info!("citizen asked for help");
                // With the engine, staff are called through central; without it, the
                // citizen is told where to go.
                let state = if s.command(Command::CallHelp) {
                    HelpState::StaffCalled
                } else {
                    HelpState::Directions
                };
                s.ui(|ui| ui.global::<ShellAdapter>().set_help_state(state));
                s.touch();
            })
        });
        let w = Rc::downgrade(self);
        adapter.on_dismiss_help(move || {
            with(&w, |s| {
                s.ui(|ui| {
                    ui.global::<ShellAdapter>()
                        .set_help_state(HelpState::Hidden)
                });
                s.touch();
            })
        });
        let w = Rc::downgrade(self);
        adapter.on_continue_session(move || {
            with(&w, |s| {
                s.hide_prompt();
                s.arm_idle();
            })
        });
        let w = Rc::downgrade(self);
        adapter.on_activity(move || with(&w, |s| s.touch()));
    }

    fn ui(&self, f: impl FnOnce(&AppWindow)) {
        if let Some(window) = self.window.upgrade() {
            f(&window);
        }
    }

    /// Sends a command to the engine, if one is attached; says whether it was sent.
    fn command(&self, command: Command) -> bool {
        match self.journeys.borrow().as_ref() {
            Some(bridge) => {
                bridge.send(command);
                true
            }
            None => false,
        }
    }

    fn language(&self) -> Language {
        self.window
            .upgrade()
            .and_then(|ui| Language::from_locale(&ui.global::<ShellAdapter>().get_language()))
            .unwrap_or(self.options.ui.language)
    }

    /// The engine moved to another journey, or ended one (a ticket printed and taken, a
    /// rating sent): the shell's page follows.
    fn follow_journey(&self, journey: Option<JourneyKind>) {
        let page = journey.map_or(Page::Home, page_of);
        let current = self
            .window
            .upgrade()
            .map(|ui| ui.global::<ShellAdapter>().get_page());
        if current != Some(page) {
            self.set_page(page);
        }
    }

    fn set_page(&self, page: Page) {
        self.ui(|ui| ui.global::<ShellAdapter>().set_page(page));
        tracing::debug!(?page, "page");
        self.note_session(page != Page::Home);
    }

    fn note_session(&self, active: bool) {
        if self.session_active.replace(active) != active
            && let Some(observer) = self.session_observer.borrow().as_ref()
        {
            observer(active);
        }
    }

    /// The citizen went home: the journey is over, but their language and elder-mode choice
    /// stay until the session times out.
    fn go_home(self: &Rc<Self>) {
        if self.prompt_visible() {
            self.end_session(SessionEnd::Citizen);
            return;
        }
        self.command(Command::Cancel);
        self.wipe_journey();
        self.set_page(Page::Home);
        self.touch();
    }

    /// Any sign of a citizen: restart the idle clock. While the prompt is up only its own
    /// buttons count, so a stray touch cannot keep a forgotten session alive.
    fn touch(self: &Rc<Self>) {
        if !self.prompt_visible() {
            self.arm_idle();
        }
    }

    fn arm_idle(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        self.idle.start(
            TimerMode::SingleShot,
            self.options.ui.inactivity_timeout(),
            move || {
                with(&weak, |s| s.on_idle());
            },
        );
    }

    /// Nothing to protect or reset: the home screen in the kiosk's default settings.
    fn at_rest(&self) -> bool {
        let Some(ui) = self.window.upgrade() else {
            return true;
        };
        let adapter = ui.global::<ShellAdapter>();
        adapter.get_page() == Page::Home
            && adapter.get_help_state() == HelpState::Hidden
            && adapter.get_language().as_str() == self.options.ui.language.locale()
            && ui.global::<Theme>().get_elder_mode() == self.options.ui.elder_mode
    }

    fn on_idle(self: &Rc<Self>) {
        if self.at_rest() {
            return;
        }
        let seconds = self.options.ui.continue_prompt_secs;
        self.seconds_left.set(seconds);
        self.ui(|ui| {
            let adapter = ui.global::<ShellAdapter>();
            adapter.set_timeout_seconds_left(i32::try_from(seconds).unwrap_or(i32::MAX));
            adapter.set_timeout_prompt_visible(true);
        });
        let weak = Rc::downgrade(self);
        self.countdown
            .start(TimerMode::Repeated, Duration::from_secs(1), move || {
                with(&weak, |s| {
                    let left = s.seconds_left.get().saturating_sub(1);
                    s.seconds_left.set(left);
                    s.ui(|ui| {
                        ui.global::<ShellAdapter>()
                            .set_timeout_seconds_left(i32::try_from(left).unwrap_or(0))
                    });
                })
            });
        let weak = Rc::downgrade(self);
        self.expiry.start(
            TimerMode::SingleShot,
            self.options.ui.continue_prompt(),
            move || {
                with(&weak, |s| s.end_session(SessionEnd::Timeout));
            },
        );
    }

    fn prompt_visible(&self) -> bool {
        self.window
            .upgrade()
            .is_some_and(|ui| ui.global::<ShellAdapter>().get_timeout_prompt_visible())
    }

    fn hide_prompt(&self) {
        self.countdown.stop();
        self.expiry.stop();
        self.ui(|ui| {
            ui.global::<ShellAdapter>()
                .set_timeout_prompt_visible(false)
        });
    }

    /// Ends the session: home screen, default language and type size, no dialogs. What the
    /// citizen saw or entered is gone from the screen.
    fn end_session(self: &Rc<Self>, why: SessionEnd) {
        self.hide_prompt();
        self.idle.stop();
        self.command(match why {
            SessionEnd::Timeout => Command::Timeout,
            SessionEnd::Citizen => Command::Cancel,
        });
        self.wipe_journey();
        self.command(Command::SetLanguage {
            language: to_engine_language(self.options.ui.language),
        });
        self.command(Command::SetElderMode {
            on: self.options.ui.elder_mode,
        });
        self.ui(|ui| {
            let adapter = ui.global::<ShellAdapter>();
            adapter.set_help_state(HelpState::Hidden);
            ui.global::<Theme>()
                .set_elder_mode(self.options.ui.elder_mode);
        });
        self.set_page(Page::Home);
        self.apply_language(self.options.ui.language);
        tracing::info!(reason = ?why, "session ended");
    }

    fn wipe_journey(&self) {
        if let Some(bridge) = self.journeys.borrow().as_ref() {
            bridge.wipe();
        }
    }

    fn apply_language(&self, language: Language) {
        // The source strings are English; Chinese is a bundled translation. "" selects the
        // source language.
        let bundle = match language {
            Language::ZhCn => "zh_CN",
            Language::En => "",
        };
        if let Err(e) = slint::select_bundled_translation(bundle) {
            tracing::error!("cannot switch the UI to {}: {e}", language.locale());
        }
        let hall = &self.options.hall;
        self.ui(|ui| {
            let adapter = ui.global::<ShellAdapter>();
            adapter.set_language(language.locale().into());
            let (name, help) = match language {
                Language::ZhCn => (&hall.name_zh, &hall.help_window_zh),
                Language::En => (&hall.name_en, &hall.help_window_en),
            };
            adapter.set_hall_name(name.as_str().into());
            adapter.set_help_window(help.as_str().into());
        });
        if let Some(bridge) = self.journeys.borrow().as_ref() {
            bridge.set_language(to_engine_language(language));
        }
        self.update_clock();
    }

    fn update_clock(&self) {
        self.ui(|ui| {
            let adapter = ui.global::<ShellAdapter>();
            let language = Language::from_locale(&adapter.get_language()).unwrap_or_default();
            let (time, date) = clock_text(chrono::Local::now(), language);
            adapter.set_clock_time(time.into());
            adapter.set_clock_date(date.into());
        });
    }
}

fn to_engine_language(language: Language) -> kiosk_journeys::Language {
    language.into()
}

/// The journey a home tile starts.
fn journey_of(page: Page) -> Option<JourneyKind> {
    Some(match page {
        Page::Home => return None,
        Page::TakeNumber => JourneyKind::TakeNumber,
        Page::CheckIn => JourneyKind::CheckIn,
        Page::Guide => JourneyKind::Guide,
        Page::Apply => JourneyKind::Apply,
        Page::Progress => JourneyKind::Progress,
        Page::Rate => JourneyKind::Rate,
        Page::Help => JourneyKind::Help,
    })
}

/// The shell page of a journey.
fn page_of(journey: JourneyKind) -> Page {
    match journey {
        JourneyKind::TakeNumber => Page::TakeNumber,
        JourneyKind::CheckIn => Page::CheckIn,
        JourneyKind::Guide => Page::Guide,
        JourneyKind::Apply => Page::Apply,
        JourneyKind::Progress => Page::Progress,
        JourneyKind::Rate => Page::Rate,
        JourneyKind::Help => Page::Help,
    }
}

fn with(weak: &Weak<Inner>, f: impl FnOnce(&Rc<Inner>)) {
    if let Some(inner) = weak.upgrade() {
        f(&inner);
    }
}

/// The header's time and date in the citizen's language.
pub(crate) fn clock_text<Tz: chrono::TimeZone>(
    now: chrono::DateTime<Tz>,
    language: Language,
) -> (String, String)
where
    Tz::Offset: std::fmt::Display,
{
    let time = format!("{:02}:{:02}", now.hour(), now.minute());
    let date = match language {
        Language::ZhCn => {
            const WEEKDAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
            let weekday = WEEKDAYS[now.weekday().num_days_from_monday() as usize];
            format!(
                "{}年{}月{}日 星期{}",
                now.year(),
                now.month(),
                now.day(),
                weekday
            )
        }
        Language::En => now.format("%A, %-d %B %Y").to_string(),
    };
    (time, date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_clock_reads_naturally_in_both_languages() {
        let now = chrono::FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 26, 9, 5, 0)
            .unwrap();
        assert_eq!(
            clock_text(now, Language::ZhCn),
            ("09:05".to_string(), "2026年11月26日 星期四".to_string())
        );
        assert_eq!(
            clock_text(now, Language::En).1,
            "Thursday, 26 November 2026"
        );
    }
}
