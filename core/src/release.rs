//! Which release this process runs: the name the update agent gave the folder it runs from.
//!
//! The agent installs a release under `<root>/releases/<version>/` with the version of the
//! signed manifest, switches `<root>/current` to it and then waits for the app to report that
//! version. The build's own version (`CARGO_PKG_VERSION`) cannot be that report: one build is
//! often published as several releases (a re-signed or re-packaged release, a rebuilt
//! configuration of assets), and a process started before the switch must not pass for the new
//! one. The folder an executable was started from answers both: the running process resolved
//! `current` when it started, so an old process names the old release.

use std::path::Path;

/// The release an executable at `exe` belongs to: `V` for `.../releases/V/bin/NAME` (the
/// update agent's layout, after resolving `current`), `None` for anything else (a developer's
/// build, a package's binary outside that layout).
pub fn release_of(exe: &Path) -> Option<String> {
    let bin = exe.parent()?;
    if bin.file_name()? != "bin" {
        return None;
    }
    let release = bin.parent()?;
    if release.parent()?.file_name()? != "releases" {
        return None;
    }
    let version = release.file_name()?.to_str()?;
    // A folder being unpacked is never run, and a name with a path in it is no version.
    let plausible = !version.is_empty()
        && !version.ends_with(".partial")
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'));
    plausible.then(|| version.to_owned())
}

/// The version this process reports (state file, health reports, the technician's page): its
/// release when it runs from the agent's layout, else `build` (the crate's version).
pub fn running_version(build: &str) -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| release_of(&exe))
        .unwrap_or_else(|| build.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_is_named_by_its_folder_under_releases() {
        let at = |p: &str| release_of(Path::new(p));
        assert_eq!(
            at("/opt/kiosk/releases/0.2.0/bin/kiosk-app").as_deref(),
            Some("0.2.0")
        );
        assert_eq!(
            at("/opt/kiosk/releases/1.4.0-rc.1/bin/kiosk-app").as_deref(),
            Some("1.4.0-rc.1")
        );
        assert_eq!(at("/work/target/debug/kiosk-app"), None);
        assert_eq!(at("/usr/bin/kiosk-app"), None);
        assert_eq!(at("/opt/kiosk/releases/0.2.0.partial/bin/kiosk-app"), None);
        assert_eq!(at("/opt/kiosk/releases/0.2.0/lib/kiosk-app"), None);
        assert_eq!(at("/opt/kiosk/other/0.2.0/bin/kiosk-app"), None);
        assert_eq!(at("kiosk-app"), None);
    }

    #[test]
    fn a_developer_build_reports_its_own_version() {
        // The test binary runs from target/…/deps, not from a release folder.
        assert_eq!(running_version("9.9.9"), "9.9.9");
    }
}
