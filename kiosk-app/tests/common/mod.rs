//! Shared set-up for the UI tests: the shell on Slint's testing backend with mock time, and
//! element look-ups by accessible label, as a screen reader would find them.

#![allow(dead_code)]

use argon2::password_hash::{PasswordHasher, SaltString};
use i_slint_backend_testing::ElementHandle;
use kiosk_app::config::Config;
use kiosk_app::ui_bridge::{Shell, ShellOptions};
use slint::ComponentHandle;
use slint::platform::{PointerEventButton, WindowEvent};

/// The simulate profile's shell on a 1920×1080 test window, shown.
pub fn start_shell() -> Shell {
    start_shell_with(Config::simulate().unwrap())
}

/// The shell for this configuration on a 1920×1080 test window, shown.
pub fn start_shell_with(config: Config) -> Shell {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let shell = Shell::new(ShellOptions::from_config(&config)).unwrap();
    shell
        .window()
        .window()
        .set_size(slint::PhysicalSize::new(1920, 1080));
    shell.window().show().unwrap();
    settle();
    shell
}

/// Lets property bindings and conditional elements catch up, as a frame would.
pub fn settle() {
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(16));
}

/// The visible elements carrying this accessible label.
pub fn find(shell: &Shell, label: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(shell.window(), label)
        .filter(|e| e.is_valid() && e.size().width > 0.0 && e.size().height > 0.0)
        .collect()
}

/// Whether something labelled so is on screen.
pub fn visible(shell: &Shell, label: &str) -> bool {
    !find(shell, label).is_empty()
}

/// Whether a visible element's label holds `part` (one line of a text of several).
pub fn visible_containing(shell: &Shell, part: &str) -> bool {
    let part = part.to_owned();
    i_slint_backend_testing::ElementQuery::from_root(shell.window())
        .match_descendants()
        .match_predicate(move |e| {
            e.size().width > 0.0
                && e.size().height > 0.0
                && e.accessible_label()
                    .is_some_and(|l| l.contains(part.as_str()))
        })
        .find_first()
        .is_some()
}

/// The one visible button with this label (its text is a separate element with the same
/// label, as a screen reader sees it).
pub fn button(shell: &Shell, label: &str) -> ElementHandle {
    let buttons: Vec<_> = find(shell, label)
        .into_iter()
        .filter(|e| e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Button))
        .collect();
    assert_eq!(
        buttons.len(),
        1,
        "expected exactly one button labelled {label:?}, found {}",
        buttons.len()
    );
    buttons.into_iter().next().unwrap()
}

/// Taps the button with this label, with real pointer events at its centre.
pub fn tap(shell: &Shell, label: &str) {
    button(shell, label).mock_single_click(slint::platform::PointerEventButton::Left);
    settle();
}

/// Runs what other threads queued for the UI thread (results of background work), as the
/// real event loop would between frames.
pub fn pump() {
    slint::invoke_from_event_loop(|| {
        let _ = slint::quit_event_loop();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    settle();
}

/// Pumps the event loop until `done` holds (background work finishing), for at most 20 s.
pub fn pump_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
        pump();
    }
}

/// The shell driven by the journey engine on the simulated devices (kiosk-sim's reader on a
/// PTY, two ESC/POS emulators, SANE's test backend), with its data in a temporary folder.
pub struct Kiosk {
    pub shell: Shell,
    pub engine: kiosk_journeys::EngineHandle,
    pub sim: kiosk_journeys::SimControls,
    pub runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
}

impl Kiosk {
    pub fn start() -> Kiosk {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::simulate().unwrap();
        config.kiosk.data_dir = dir.path().to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let shell = start_shell_with(config.clone());
        let engine = runtime
            .block_on(kiosk_journeys::Engine::start(
                config,
                kiosk_journeys::EngineOptions {
                    simulate: true,
                    voice: false,
                    ..Default::default()
                },
            ))
            .unwrap();
        let sim = engine.sim().unwrap().clone();
        shell.attach_engine(engine.clone());
        // The simulated reader comes up a moment after the engine: wait until its task has
        // talked to it, as a citizen would find it.
        pump_until("the ID-card reader to be ready", || {
            engine
                .availability()
                .borrow()
                .devices
                .iter()
                .any(|d| d.kind == kiosk_hal::DeviceKind::IdCardReader && d.usable)
        });
        Kiosk {
            shell,
            engine,
            sim,
            runtime,
            dir,
        }
    }

    pub fn journey(&self) -> kiosk_app::ui_bridge::JourneyAdapter<'_> {
        self.shell
            .window()
            .global::<kiosk_app::ui_bridge::JourneyAdapter>()
    }

    /// Waits until the engine's screen shows this page.
    pub fn wait_for(&self, page: kiosk_app::ui_bridge::JPage) {
        pump_until(&format!("page {page:?}"), || {
            self.journey().get_page() == page
        });
    }

    /// Taps the choice (or guide category) whose id is `id`, by its label as shown.
    pub fn tap_choice(&self, id: &str) {
        use slint::Model;
        let journey = self.journey();
        let label = journey
            .get_choices()
            .iter()
            .chain(journey.get_categories().iter())
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no choice {id} on screen"))
            .label;
        tap(&self.shell, &label);
    }

    /// Taps the `index`th answer of a choice field of the form.
    pub fn tap_choice_in_field(&self, key: &str, index: usize) {
        use slint::Model;
        let field = self
            .journey()
            .get_fields()
            .iter()
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("no field {key} on screen"));
        let label = field.choices.row_data(index).unwrap().label;
        tap(&self.shell, &label);
    }

    /// The card leaves the reader (and the reader has noticed).
    pub fn take_card_away(&self) {
        self.runtime.block_on(self.sim.take_card_away());
    }

    pub fn stop(self) {
        let Kiosk {
            shell,
            engine,
            runtime,
            dir,
            ..
        } = self;
        runtime.block_on(engine.shutdown());
        drop(shell);
        drop(dir);
    }
}

/// An argon2id PHC string as `kioskctl technician set-pin` writes it, with small parameters
/// so the debug build checks it quickly (the verifier reads them from the string).
pub fn pin_hash(pin: &str) -> String {
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
    argon
        .hash_password(pin.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// Holds a finger on the hall name for `secs` seconds.
pub fn hold_hall_name(shell: &Shell, secs: u64) {
    let name = find(shell, "东城区政务服务中心")
        .into_iter()
        .next()
        .unwrap();
    let (at, size) = (name.absolute_position(), name.size());
    let centre = slint::LogicalPosition::new(at.x + size.width / 2.0, at.y + size.height / 2.0);
    let window = shell.window().window();
    window.dispatch_event(WindowEvent::PointerPressed {
        position: centre,
        button: PointerEventButton::Left,
    });
    settle();
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(secs));
    window.dispatch_event(WindowEvent::PointerReleased {
        position: centre,
        button: PointerEventButton::Left,
    });
    settle();
}

pub fn type_pin(shell: &Shell, pin: &str) {
    for digit in pin.chars() {
        tap(shell, &digit.to_string());
    }
}
