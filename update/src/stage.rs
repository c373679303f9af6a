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

/// Unpacks `artifact` as release `version` and returns once `releases/<version>` exists.
pub fn stage(layout: &Layout, version: &str, artifact: &Path) -> Result<(), StageError> {
    let target = layout.release(version);
    if target.join("bin").join("kiosk-app").is_file() {
        return Ok(());
    }
    let staging = layout.staging(version);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let bad =
        |detail: String| StageError::Refused(Refusal::new(version, Reason::BadArtifact, detail));
    let file = File::open(artifact).map_err(io(artifact))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a gzip tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("not a gzip tar: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("unreadable entry name: {e}")))?
            .into_owned();
        if path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::RootDir))
        {
            return Err(bad(format!(
                "entry {} escapes the release folder",
                path.display()
            )));
        }
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
            return Err(bad(format!(
                "entry {} is a {kind:?}, not a file, folder or symlink",
                path.display()
            )));
        }
        let unpacked = entry
            .unpack_in(&staging)
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
        let _ = std::fs::remove_dir_all(&staging);
        return Err(bad(
            "the artifact has no executable bin/kiosk-app at its root".into(),
        ));
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
}
