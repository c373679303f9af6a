//! Central's holder-hash keys, kept in a file of their own outside the database, so a dump
//! of the database holds hashes that cannot be matched against enumerated ID numbers.
//!
//! The file is private (mode 0600, refused otherwise) and holds one key per line,
//! `ID BASE64SECRET`, the first line the current key (new hashes), the others older keys
//! that still match records hashed before a rotation. Blank lines and lines starting with
//! `#` are ignored. `central holder-keys generate` writes it; `central serve` gives the keys
//! to kiosks (`GET /v1/holder-keys`) and reads the file again when it changes.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use kiosk_api::citizen::{HolderKey, HolderKeys};
use zeroize::Zeroizing;

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HolderKeyError {
    /// It cannot be read (missing, no permission).
    #[error(
        "cannot read the holder key file {path}: {source}; make one with `central holder-keys generate --file {path} --id ID`"
    )]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Others than its owner may read it.
    #[error(
        "the holder key file {0} may be read by others (mode {1:o}); run `chmod 600 {0}`: with the keys, holder hashes can be reversed"
    )]
    NotPrivate(String, u32),
    /// A line is not `ID BASE64SECRET`.
    #[error(
        "line {line} of the holder key file {path} is not `ID BASE64SECRET` (an id of 1 to 32 letters, digits, '.', '_' or '-', and 32 bytes in standard base64)"
    )]
    BadLine {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
    },
    /// Two keys share an id.
    #[error("the holder key file {path} has key id {id} twice")]
    DuplicateId {
        /// The file.
        path: String,
        /// The id.
        id: String,
    },
    /// No key at all.
    #[error(
        "the holder key file {0} holds no key; add one with `central holder-keys generate --file {0} --id ID`"
    )]
    Empty(String),
    /// Writing the file failed.
    #[error("writing the holder key file {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Reads and checks the key file at `path`.
pub fn load(path: &Path) -> Result<HolderKeys, HolderKeyError> {
    let shown = path.display().to_string();
    let read = |source| HolderKeyError::Read {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(HolderKeyError::NotPrivate(shown, mode));
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(read)?);
    parse(&text, &shown)
}

fn parse(text: &str, shown: &str) -> Result<HolderKeys, HolderKeyError> {
    let mut keys: Vec<HolderKey> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || HolderKeyError::BadLine {
            path: shown.to_owned(),
            line: index + 1,
        };
        let (id, secret) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
        let secret = secret.trim();
        if !valid_id(id) {
            return Err(bad());
        }
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(secret.as_bytes())
                .map_err(|_| bad())?,
        );
        let secret = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| bad())?;
        if keys.iter().any(|k| k.id == id) {
            return Err(HolderKeyError::DuplicateId {
                path: shown.to_owned(),
                id: id.to_owned(),
            });
        }
        keys.push(HolderKey {
            id: id.to_owned(),
            secret,
        });
    }
    if keys.is_empty() {
        return Err(HolderKeyError::Empty(shown.to_owned()));
    }
    Ok(HolderKeys { keys })
}

/// Makes a new key `id` the current one in the file at `path`, keeping the older keys after
/// it (a rotation), or creates the file with it. The file is replaced atomically, mode 0600.
pub fn generate(path: &Path, id: &str) -> Result<HolderKeys, HolderKeyError> {
    let shown = path.display().to_string();
    if !valid_id(id) {
        return Err(HolderKeyError::BadLine {
            path: format!("{shown} (new key id {id:?})"),
            line: 0,
        });
    }
    let mut keys = match std::fs::symlink_metadata(path) {
        Ok(_) => load(path)?.keys,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(HolderKeyError::Read {
                path: shown,
                source,
            });
        }
    };
    if keys.iter().any(|k| k.id == id) {
        return Err(HolderKeyError::DuplicateId {
            path: shown,
            id: id.to_owned(),
        });
    }
    keys.insert(0, HolderKey::generate(id));
    let mut text = Zeroizing::new(String::from(
        "# holder-hash keys of central: ID BASE64SECRET, the first is current. Keep private.\n",
    ));
    for k in &keys {
        text.push_str(&k.id);
        text.push(' ');
        text.push_str(&base64::engine::general_purpose::STANDARD.encode(k.secret));
        text.push('\n');
    }
    write_private(path, text.as_bytes()).map_err(|source| HolderKeyError::Write {
        path: shown,
        source,
    })?;
    Ok(HolderKeys { keys })
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The key file `central serve` reads, read again when it changes so a rotation reaches the
/// kiosks without a restart. A file that turns unreadable keeps the keys last read (and
/// says so in the log): kiosks must not lose the keys over an editing mistake.
#[derive(Debug, Clone)]
pub struct HolderKeySource {
    path: PathBuf,
    cached: Arc<Mutex<(Option<Stamp>, HolderKeys)>>,
}

/// When the file was last changed, and its length: what tells a rewrite.
type Stamp = (SystemTime, u64);

impl HolderKeySource {
    /// Reads `path` once; fails when it is not a usable key file.
    pub fn open(path: &Path) -> Result<HolderKeySource, HolderKeyError> {
        let keys = load(path)?;
        Ok(HolderKeySource {
            path: path.to_owned(),
            cached: Arc::new(Mutex::new((stamp(path), keys))),
        })
    }

    /// The keys as the file holds them now.
    pub fn keys(&self) -> HolderKeys {
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = stamp(&self.path);
        if now != cached.0 {
            match load(&self.path) {
                Ok(keys) => {
                    tracing::info!(file = %self.path.display(), keys = keys.keys.len(), current = keys.current().map_or("", |k| k.id.as_str()), "holder keys read again");
                    *cached = (now, keys);
                }
                Err(e) => {
                    tracing::error!(error = %e, "holder key file changed but cannot be used; serving the keys read before");
                    cached.0 = now;
                }
            }
        }
        cached.1.clone()
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_puts_the_new_key_first_and_keeps_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("holder.keys");
        let first = generate(&path, "2026a").unwrap();
        assert_eq!(first.keys.len(), 1);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let rotated = generate(&path, "2027a").unwrap();
        let ids: Vec<&str> = rotated.keys.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["2027a", "2026a"]);
        assert_eq!(load(&path).unwrap(), rotated);
        assert_eq!(rotated.keys[1], first.keys[0]);
        assert!(matches!(
            generate(&path, "2027a"),
            Err(HolderKeyError::DuplicateId { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(load(&path), Err(HolderKeyError::NotPrivate(..))));
    }

    #[test]
    fn lines_that_are_not_keys_are_refused_by_number() {
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(parse(&format!("# c\n\nk1 {good}\n"), "f").is_ok());
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        for (text, line) in [
            (format!("k1 {good}\nk2 {short}\n"), 2),
            ("k1\n".to_owned(), 1),
            (format!("k/1 {good}\n"), 1),
            ("k1 not-base64!\n".to_owned(), 1),
        ] {
            match parse(&text, "f") {
                Err(HolderKeyError::BadLine { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            parse("# only\n", "f"),
            Err(HolderKeyError::Empty(_))
        ));
    }
}
