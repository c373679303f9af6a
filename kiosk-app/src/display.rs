//! Which Slint backend puts the kiosk on its screen.
//!
//! A kiosk box runs no X server and no compositor: the app draws straight to the panel with
//! Slint's linuxkms backend (the software renderer into DRM dumb buffers, or the legacy
//! framebuffer where the board has no DRM driver) and reads the touchscreen through libinput.
//! The winit backend, which needs X11 or Wayland, is for developers' machines and the tests
//! that drive the real binary on Xvfb; it is compiled in only with the `desktop` feature, so
//! the appliance's build (`--no-default-features --features kms`) carries no windowing code.

use std::ffi::OsString;

use kiosk_core::config::UiSection;

/// Where the picture goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Straight to the panel: linuxkms with the software renderer.
    Panel,
    /// A window on the desktop session this process was started in (winit).
    Window,
    /// `SLINT_BACKEND` is set: a technician's explicit choice, left to Slint.
    Environment,
}

impl Display {
    /// Where the picture goes, for the log.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Panel => "on the panel",
            Self::Window => "in a window",
            Self::Environment => "where SLINT_BACKEND says",
        }
    }

    /// Decides where to draw. `env` reads the process environment (a parameter so that the
    /// decision is tested without touching it).
    ///
    /// A desktop session (`DISPLAY` or `WAYLAND_DISPLAY`) or `--windowed` means a window if
    /// the build can open one; otherwise the panel.
    pub fn choose(windowed: bool, env: impl Fn(&str) -> Option<OsString>) -> Self {
        let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        if set("SLINT_BACKEND") {
            return Self::Environment;
        }
        let desktop_session = set("DISPLAY") || set("WAYLAND_DISPLAY");
        if cfg!(feature = "desktop") && (windowed || desktop_session) {
            return Self::Window;
        }
        if cfg!(feature = "kms") {
            Self::Panel
        } else {
            Self::Window
        }
    }
}

/// The value of `SLINT_KMS_ROTATION` for `ui.rotation`, if the panel is turned.
pub fn kms_rotation(ui: &UiSection) -> Option<String> {
    (ui.rotation != 0).then(|| ui.rotation.to_string())
}

/// Selects the backend before the first window is created.
///
/// Call while the process has a single thread: turning the panel is passed to Slint through
/// its environment variable, the only way its linuxkms backend takes it.
pub fn select(ui: &UiSection, windowed: bool) -> Result<Display, slint::PlatformError> {
    let display = Display::choose(windowed, |name| std::env::var_os(name));
    match display {
        Display::Panel => {
            if let Some(rotation) = kms_rotation(ui)
                && std::env::var_os("SLINT_KMS_ROTATION").is_none()
            {
                // SAFETY: called from main before the I/O runtime or any other thread exists,
                // so nothing reads the environment concurrently.
                unsafe { std::env::set_var("SLINT_KMS_ROTATION", rotation) };
            }
            slint::BackendSelector::new()
                .backend_name("linuxkms".into())
                .renderer_name("software".into())
                .select()?;
        }
        Display::Window => slint::BackendSelector::new().select()?,
        Display::Environment => {}
    }
    Ok(display)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_kiosk_box_with_no_desktop_session_draws_on_the_panel() {
        let want = if cfg!(feature = "kms") {
            Display::Panel
        } else {
            Display::Window
        };
        assert_eq!(Display::choose(false, env(&[])), want);
        // An empty DISPLAY, as a unit's Environment= can leave it, is no session.
        assert_eq!(Display::choose(false, env(&[("DISPLAY", "")])), want);
    }

    #[test]
    fn a_desktop_session_gets_a_window_when_the_build_can_open_one() {
        let want = if cfg!(feature = "desktop") {
            Display::Window
        } else {
            Display::Panel
        };
        assert_eq!(Display::choose(false, env(&[("DISPLAY", ":3")])), want);
        assert_eq!(
            Display::choose(false, env(&[("WAYLAND_DISPLAY", "wayland-0")])),
            want
        );
        if cfg!(feature = "desktop") {
            assert_eq!(Display::choose(true, env(&[])), Display::Window);
        }
    }

    #[test]
    fn a_technicians_slint_backend_wins() {
        let env = env(&[("SLINT_BACKEND", "linuxkms-software"), ("DISPLAY", ":0")]);
        assert_eq!(Display::choose(false, env), Display::Environment);
    }

    #[test]
    fn only_a_turned_panel_sets_a_rotation() {
        let mut ui = UiSection::default();
        assert_eq!(kms_rotation(&ui), None);
        ui.rotation = 270;
        assert_eq!(kms_rotation(&ui).as_deref(), Some("270"));
    }
}
