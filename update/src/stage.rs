//! Staging: the verified artifact (a gzip tar whose root holds `bin/kiosk-app`) is unpacked
//! into `releases/<version>.partial`, synced, checked, and only then renamed to
//! `releases/<version>`. A folder named after a version is therefore always complete.

use std::fs::File;
use std::path::{Component, Path};

use crate::layout::{Layout, sync_dir};
use crate::reason::{Reason, Refusal};

/// Why staging failed: the artifact is bad (a refusal), or the disk failed (retry later).
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The artifact is not an installable release.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Reading or writing failed.
    #[error("staging under {path}: {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StageError + '_ {
    move |source| StageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Most bytes a release may unpack to. A release is the app, its helpers and its data files,
/// tens of megabytes; a tar that unpacks to more is a mistake or a decompression bomb, and
/// would fill the disk the kiosk's records live on.
pub const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

/// Most entries a release may hold (a bomb of empty files fills inodes instead of bytes).
pub const MAX_ENTRIES: usize = 20_000;

/// Unpacks `artifact` as release `version` and returns once `releases/<version>` exists.
///
/// Refused, with nothing left behind: an entry whose path or symlink target leaves the
/// release, a device file, FIFO or hard link, a setuid or setgid bit (the agent runs as root
/// and must not mint privileged programs), more than [`MAX_UNPACKED_BYTES`] or
/// [`MAX_ENTRIES`], and a release without an executable `bin/kiosk-app`.
pub fn stage(layout: &Layout, version: &str, artifact: &Path) -> Result<(), StageError> {
    stage_with_limit(layout, version, artifact, MAX_UNPACKED_BYTES)
}

fn stage_with_limit(
    layout: &Layout,
    version: &str,
    artifact: &Path,
    max_bytes: u64,
) -> Result<(), StageError> {
    let target = layout.release(version);
    if target.join("bin").join("kiosk-app").is_file() {
        return Ok(());
    }
    let staging = layout.staging(version);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    if let Err(err) = unpack(version, artifact, &staging, max_bytes) {
        // Nothing of a refused or failed release stays on disk.
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    sync_tree(&staging).map_err(io(&staging))?;
    if target.exists() {
        // A half-removed older copy: the staged one replaces it.
        std::fs::remove_dir_all(&target).map_err(io(&target))?;
    }
    std::fs::rename(&staging, &target).map_err(io(&target))?;
    sync_dir(&layout.releases()).map_err(io(&target))?;
    Ok(())
}

/// Checks and unpacks every entry of `artifact` into `staging`.
fn unpack(
    version: &str,
    artifact: &Path,
    staging: &Path,
    max_bytes: u64,
) -> Result<(), StageError> {
    let bad =
        |detail: String| StageError::Refused(Refusal::new(version, Reason::BadArtifact, detail));
    let file = File::open(artifact).map_err(io(artifact))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a gzip tar: {e}")))?;
    let (mut bytes, mut count) = (0u64, 0usize);
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("not a gzip tar: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("unreadable entry name: {e}")))?
            .into_owned();
        if escapes(Path::new(""), &path) {
            return Err(bad(format!(
                "entry {} escapes the release folder",
                path.display()
            )));
        }
        let header = entry.header();
        let kind = header.entry_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
            return Err(bad(format!(
                "entry {} is a {kind:?}, not a file, folder or symlink",
                path.display()
            )));
        }
        let mode = header
            .mode()
            .map_err(|e| bad(format!("entry {}: unreadable mode: {e}", path.display())))?;
        if mode & 0o6000 != 0 {
            return Err(bad(format!(
                "entry {} is setuid or setgid (mode {mode:o})",
                path.display()
            )));
        }
        if kind.is_symlink() {
            let link = header
                .link_name()
                .map_err(|e| bad(format!("entry {}: unreadable link: {e}", path.display())))?
                .ok_or_else(|| bad(format!("symlink {} has no target", path.display())))?;
            let from = path.parent().unwrap_or(Path::new(""));
            if escapes(from, &link) {
                return Err(bad(format!(
                    "symlink {} points outside the release ({})",
                    path.display(),
                    link.display()
                )));
            }
        }
        count += 1;
        bytes = bytes.saturating_add(header.entry_size().unwrap_or(u64::MAX));
        if count > MAX_ENTRIES || bytes > max_bytes {
            return Err(bad(format!(
                "the release unpacks to more than {max_bytes} bytes or {MAX_ENTRIES} entries"
            )));
        }
        let unpacked = entry
            .unpack_in(staging)
            .map_err(|e| bad(format!("unpacking {}: {e}", path.display())))?;
        if !unpacked {
            return Err(bad(format!(
                "entry {} escapes the release folder",
                path.display()
            )));
        }
    }
    let app = staging.join("bin").join("kiosk-app");
    let executable = std::fs::metadata(&app).is_ok_and(|m| {
        use std::os::unix::fs::PermissionsExt as _;
        m.is_file() && m.permissions().mode() & 0o111 != 0
    });
    if !executable {
        return Err(bad(
            "the artifact has no executable bin/kiosk-app at its root".into(),
        ));
    }
    Ok(())
}

/// Whether `target`, taken from folder `from` inside the release, leads outside it: an
/// absolute path, or more `..` than there are folders to climb.
fn escapes(from: &Path, target: &Path) -> bool {
    let mut depth: i64 = 0;
    for c in from.components().chain(target.components()) {
        match c {
            Component::RootDir | Component::Prefix(_) => return true,
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
        }
    }
    false
}

/// fsync every file and folder under `dir`, so the rename publishes durable content.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            sync_tree(&entry.path())?;
        } else if kind.is_file() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (path, content, mode) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(*mode);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *content).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_release_is_unpacked_beside_the_running_one_and_renamed_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create().unwrap();
        let artifact = dir.path().join("a.tar.gz");
        std::fs::write(
            &artifact,
            tarball(&[
                ("bin/kiosk-app", b"#!/bin/sh\n", 0o755),
                ("share/notes.txt", b"hello", 0o644),
            ]),
        )
        .unwrap();
        stage(&layout, "0.2.0", &artifact).unwrap();
        assert!(layout.release("0.2.0").join("bin/kiosk-app").is_file());
        assert!(!layout.staging("0.2.0").exists());
    }

    #[test]
    fn an_artifact_without_the_app_or_with_an_escaping_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create().unwrap();
        let artifact = dir.path().join("a.tar.gz");
        std::fs::write(&artifact, tarball(&[("README", b"no app", 0o644)])).unwrap();
        match stage(&layout, "0.2.0", &artifact) {
            Err(StageError::Refused(r)) => assert_eq!(r.reason, Reason::BadArtifact),
            other => panic!("{other:?}"),
        }
        assert!(!layout.release("0.2.0").exists());
        assert!(!layout.staging("0.2.0").exists());

        std::fs::write(&artifact, b"\x1f\x8b not really gzip").unwrap();
        assert!(matches!(
            stage(&layout, "0.2.0", &artifact),
            Err(StageError::Refused(_))
        ));
    }

    /// One entry of a hand-made tar: path, type, mode, content, link target.
    struct Raw<'a> {
        path: &'a str,
        kind: tar::EntryType,
        mode: u32,
        content: &'a [u8],
        link: Option<&'a str>,
    }

    fn file<'a>(path: &'a str, mode: u32, content: &'static [u8]) -> Raw<'a> {
        Raw {
            path,
            kind: tar::EntryType::Regular,
            mode,
            content,
            link: None,
        }
    }

    /// Writes the header fields by hand, as an attacker's tool would: the tar crate's
    /// builder refuses some of what must be tested.
    fn raw_tarball(entries: &[Raw<'_>]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for e in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(e.kind);
            header.set_mode(e.mode);
            header.set_size(e.content.len() as u64);
            {
                let gnu = header.as_gnu_mut().unwrap();
                gnu.name[..e.path.len()].copy_from_slice(e.path.as_bytes());
                if let Some(link) = e.link {
                    gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
                }
            }
            header.set_cksum();
            builder.append(&header, e.content).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    fn refused(entries: &[Raw<'_>], max_bytes: u64) -> String {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create().unwrap();
        let artifact = dir.path().join("a.tar.gz");
        std::fs::write(&artifact, raw_tarball(entries)).unwrap();
        let detail = match stage_with_limit(&layout, "0.2.0", &artifact, max_bytes) {
            Err(StageError::Refused(r)) => {
                assert_eq!(r.reason, Reason::BadArtifact);
                r.detail
            }
            other => panic!("{other:?}"),
        };
        assert!(!layout.release("0.2.0").exists(), "{detail}");
        assert!(!layout.staging("0.2.0").exists(), "nothing left: {detail}");
        detail
    }

    const APP: &[u8] = b"#!/bin/sh\n";

    #[test]
    fn symlinks_that_leave_the_release_are_refused_and_those_inside_kept() {
        let link = |path: &'static str, to: &'static str| Raw {
            path,
            kind: tar::EntryType::Symlink,
            mode: 0o777,
            content: b"",
            link: Some(to),
        };
        for (path, to) in [
            ("bin/sh", "/bin/sh"),
            ("share/up", "../../etc"),
            ("etc", ".."),
            ("a/b/c", "../../../x"),
        ] {
            let detail = refused(
                &[file("bin/kiosk-app", 0o755, APP), link(path, to)],
                1 << 20,
            );
            assert!(
                detail.contains("points outside"),
                "{path} -> {to}: {detail}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create().unwrap();
        let artifact = dir.path().join("a.tar.gz");
        std::fs::write(
            &artifact,
            raw_tarball(&[
                file("bin/kiosk-app", 0o755, APP),
                link("bin/kiosk", "kiosk-app"),
                link("share/app", "../bin/kiosk-app"),
            ]),
        )
        .unwrap();
        stage(&layout, "0.2.0", &artifact).unwrap();
        assert!(layout.release("0.2.0").join("share/app").is_file());
    }

    #[test]
    fn setuid_setgid_and_device_entries_are_refused() {
        for mode in [0o4755, 0o2755, 0o6755] {
            let detail = refused(&[file("bin/kiosk-app", mode, APP)], 1 << 20);
            assert!(detail.contains("setuid or setgid"), "{mode:o}: {detail}");
        }
        for kind in [
            tar::EntryType::Char,
            tar::EntryType::Block,
            tar::EntryType::Fifo,
            tar::EntryType::Link,
        ] {
            let device = Raw {
                path: "dev/mem",
                kind,
                mode: 0o666,
                content: b"",
                link: Some("bin/kiosk-app"),
            };
            let detail = refused(&[file("bin/kiosk-app", 0o755, APP), device], 1 << 20);
            assert!(detail.contains("not a file, folder or symlink"), "{detail}");
        }
    }

    #[test]
    fn a_release_that_unpacks_past_the_limit_is_refused_before_it_fills_the_disk() {
        // A highly compressible file: a small download, a large tree.
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        let detail = refused(
            &[
                file("bin/kiosk-app", 0o755, APP),
                file("share/zeros-1", 0o644, &ZEROS),
                file("share/zeros-2", 0o644, &ZEROS),
            ],
            100 * 1024,
        );
        assert!(detail.contains("more than"), "{detail}");
    }
}
