//! `kioskctl provision`: generates the kiosk's key, enrols with central using a one-time
//! token, and records the result in the data folder (`identity.json`, `kiosk.pem`) and in the
//! configuration file. Then it fetches the platform's holder keys once and keeps them in the
//! kiosk's store, sealed, so that the kiosk can hash ID numbers before its first day online.
//!
//! The token is spent by central the moment it accepts the enrolment, so everything that
//! could fail locally is checked before it is sent: the configuration parses (and still
//! parses with the new values in it), its folder takes a new file, the data folder can be
//! created and written, and the kiosk is not already enrolled (unless `force`).

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use kiosk_api::error_code;
use kiosk_core::config::Config;
use kiosk_core::identity::{IDENTITY_FILE, Identity, IdentityError, KEY_FILE};
use kiosk_core::store::{DB_FILE, SPOOL_DIR, Store, StoreKey, StoreOptions};
use kiosk_core::sync::{SyncError, Timeouts};
use kiosk_core::trust::Trust;
use serde::Serialize;
use uuid::Uuid;

use crate::config_file::{self, ConfigFileError, ProvisionedValues};

/// Where kioskctl puts the data folder when it has to write a new configuration.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/kiosk";

/// What to provision.
#[derive(Debug, Clone)]
pub struct Request {
    /// The configuration file to write (normally `/etc/kiosk/kiosk.toml`).
    pub config_path: PathBuf,
    /// Central's base URL.
    pub central_url: String,
    /// The one-time enrolment token from ops.
    pub token: String,
    /// The name central records for this kiosk; the machine's host name if `None`.
    pub hostname: Option<String>,
    /// Enrol again even though the kiosk already has an identity.
    pub force: bool,
    /// The data folder to put in a configuration kioskctl creates (ignored when the file
    /// exists: its `[kiosk] data_dir` is used).
    pub new_data_dir: PathBuf,
    /// Allow a plain `http://` central (a test bench): the ops key would arrive unprotected.
    pub insecure_http: bool,
    /// The ops key id ops gave the technician; enrolment is undone unless central's key has it.
    pub expect_ops_key: Option<String>,
    /// A hall's or province's private CA (PEM file) that alone may vouch for central.
    pub ca_file: Option<PathBuf>,
}

/// File name of the private CA copied beside the configuration.
pub const CA_FILE: &str = "central-ca.pem";

/// What provisioning did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provisioned {
    /// The id central assigned.
    pub kiosk_id: Uuid,
    /// The hall the token was bound to.
    pub hall_id: String,
    /// The hall's name.
    pub hall_name: String,
    /// The hall's code on the platform (first digits of its application numbers).
    pub hall_code: kiosk_api::HallCode,
    /// This kiosk's number in its hall.
    pub kiosk_no: kiosk_api::KioskNo,
    /// Holder keys fetched and stored (0 if that failed; the app fetches them itself).
    pub holder_keys: usize,
    /// Why the holder keys could not be fetched or stored, if so.
    pub holder_keys_problem: Option<String>,
    /// Offline queue numbers reserved for this kiosk.
    pub number_band: kiosk_api::NumberBand,
    /// Central's base URL, as recorded.
    pub central_url: String,
    /// The configuration written.
    pub config_path: PathBuf,
    /// Whether that file was created (it did not exist).
    pub config_created: bool,
    /// The trust anchors written beside it (central's URL, the ops key).
    pub trust_path: PathBuf,
    /// The id of the ops key the kiosk now trusts, for the technician to compare with what
    /// ops say it is.
    pub ops_key_id: String,
    /// The data folder holding the identity and key.
    pub data_dir: PathBuf,
    /// The kiosk id this enrolment replaced (`--force`).
    pub replaced: Option<Uuid>,
}

/// Why provisioning stopped. Each message says what was (not) changed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The CA file cannot be read.
    #[error("cannot read the CA file {path}: {source}; nothing was sent to central")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The URL is not http(s).
    #[error(
        "{0:?} is not a central URL: give it as https://HOST[:PORT] (http:// only on a test bench)"
    )]
    BadUrl(String),
    /// A plain-http URL without `--insecure-http`.
    #[error(
        "{0} is plain http: the ops key the kiosk will trust would arrive unprotected, and anyone on the network could swap it. Use https://, or --insecure-http on a test bench; nothing was sent to central"
    )]
    PlainHttp(String),
    /// Central's ops key is not the one the technician was told to expect.
    #[error(
        "central gave ops key {got}, not {expected} as you were told: the kiosk trusts nothing from this enrolment and saved nothing. Someone may be intercepting the connection; tell ops, who should revoke kiosk {kiosk_id} (`central kiosk revoke`)"
    )]
    OpsKeyMismatch {
        /// The id the technician expected.
        expected: String,
        /// The id central's key has.
        got: String,
        /// The enrolment to revoke.
        kiosk_id: Uuid,
    },
    /// The configuration cannot be read, would be invalid, or cannot be written.
    #[error("{0}; nothing was sent to central, the token is still valid")]
    Config(#[from] ConfigFileError),
    /// The data folder cannot be created or written.
    #[error(
        "cannot write the kiosk's data folder {path}: {source}; run kioskctl as root (sudo) or fix `[kiosk] data_dir`; nothing was sent to central, the token is still valid"
    )]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The kiosk already has an identity.
    #[error(
        "this kiosk is already enrolled as {kiosk_id} (hall {hall_id}, identity in {data_dir}); nothing was changed. To enrol it again (moved to another hall, key lost or revoked) run provision with --force and a new token"
    )]
    AlreadyEnrolled {
        /// Its id.
        kiosk_id: Uuid,
        /// Its hall.
        hall_id: String,
        /// Where the identity is.
        data_dir: PathBuf,
    },
    /// The identity in the data folder is damaged.
    #[error("{0}; or run provision with --force and a new token to replace it")]
    DamagedIdentity(IdentityError),
    /// Central refused the token.
    #[error(
        "central at {url} refused the enrolment token: it is unknown, already used or expired ({message}). Nothing was changed on this kiosk. Ask ops for a new token (`central token create --hall HALL`) and run provision again"
    )]
    TokenRefused {
        /// Central's URL.
        url: String,
        /// Central's words.
        message: String,
    },
    /// Central could not be reached.
    #[error(
        "cannot reach central at {url}: {detail}. Nothing was changed on this kiosk and the token is still valid. Check the URL (scheme, host, port), the network cable, DNS and the hall's firewall, and that central is running (`curl {url}/v1/openapi.json` must answer)"
    )]
    Unreachable {
        /// Central's URL.
        url: String,
        /// The transport error.
        detail: String,
    },
    /// Central's certificate was not issued by a CA this kiosk trusts.
    #[error(
        "central at {url} showed a certificate this kiosk does not trust: {detail}. Nothing was sent and the token is still valid. If the hall or province runs its own CA, give its certificate with --ca-file (ask ops for it); otherwise someone may be intercepting the connection: do not go on"
    )]
    UntrustedCertificate {
        /// Central's URL.
        url: String,
        /// What TLS said.
        detail: String,
    },
    /// Central refused for another reason.
    #[error(
        "central at {url} refused the enrolment ({status} {code}): {message}. Nothing was changed on this kiosk"
    )]
    Refused {
        /// Central's URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Central's error code.
        code: String,
        /// Central's words.
        message: String,
    },
    /// Central answered outside the contract, or the identity could not be saved.
    #[error("enrolment failed: {0}")]
    Enrol(IdentityError),
    /// Enrolled, but the trust anchors could not be written afterwards.
    #[error(
        "enrolled with central as kiosk {kiosk_id}, but writing the trust anchors {path} failed: {source}. Run kioskctl as root, then provision again with --force and a new token"
    )]
    TrustAfterEnrol {
        /// The new id.
        kiosk_id: Uuid,
        /// The anchors' file.
        path: PathBuf,
        /// Why.
        #[source]
        source: kiosk_core::trust::TrustError,
    },
    /// Enrolled, but the configuration could not be written afterwards.
    #[error(
        "enrolled with central as kiosk {kiosk_id} (identity saved in {data_dir}), but writing the configuration failed: {source}. Fix the cause, then run provision again with --force and a new token"
    )]
    ConfigAfterEnrol {
        /// The new id.
        kiosk_id: Uuid,
        /// Where the identity is.
        data_dir: PathBuf,
        /// Why.
        #[source]
        source: Box<ConfigFileError>,
    },
}

/// The machine's host name, as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "kiosk".into())
}

/// Provisions the kiosk: see the module documentation for the order of the steps.
pub async fn provision(request: &Request) -> Result<Provisioned, ProvisionError> {
    let url = request.central_url.trim().trim_end_matches('/').to_owned();
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.contains(char::is_whitespace)
    {
        return Err(ProvisionError::BadUrl(request.central_url.clone()));
    }
    if url.starts_with("http://") && !request.insecure_http {
        return Err(ProvisionError::PlainHttp(url));
    }
    let ca_pem = match &request.ca_file {
        Some(file) => {
            Some(
                std::fs::read_to_string(file).map_err(|source| ProvisionError::CaFile {
                    path: file.clone(),
                    source,
                })?,
            )
        }
        None => None,
    };
    let path = &request.config_path;
    // The CA is copied beside the configuration, root's like the trust anchors.
    let ca_copy = request
        .ca_file
        .as_ref()
        .map(|_| Trust::beside(path).with_file_name(CA_FILE));
    let existing = config_file::read(path)?;
    let config_created = existing.is_none();

    // The edit, tried with stand-in values: a configuration the app would refuse afterwards
    // must be found before the token is spent.
    let rehearsal = ProvisionedValues {
        kiosk_id: Uuid::nil().to_string(),
        number_band: (950, 999),
        central_url: url.clone(),
        hall_id: "rehearsal".into(),
        hall_name: "rehearsal".into(),
        ca_file: ca_copy.clone(),
    };
    let rehearsed =
        config_file::apply(existing.as_deref(), &rehearsal, &request.new_data_dir, path)?;
    let data_dir = Config::parse(&rehearsed, &path.display().to_string())
        .map_err(ConfigFileError::Invalid)?
        .kiosk
        .data_dir;
    config_file::check_writable(path)?;
    prepare_data_dir(&data_dir)?;

    let replaced = match Identity::load(&data_dir) {
        Ok(Some(identity)) if !request.force => {
            return Err(ProvisionError::AlreadyEnrolled {
                kiosk_id: identity.kiosk_id,
                hall_id: identity.hall_id,
                data_dir,
            });
        }
        Ok(Some(identity)) => Some(identity.kiosk_id),
        Ok(None) => None,
        Err(e) if request.force => {
            note_replacing(&e);
            None
        }
        Err(e) => return Err(ProvisionError::DamagedIdentity(e)),
    };

    let hostname = request.hostname.clone().unwrap_or_else(hostname);
    let identity = Identity::enrol_trusting(
        &data_dir,
        &url,
        ca_pem.as_deref(),
        &request.token,
        &hostname,
        env!("CARGO_PKG_VERSION"),
    )
    .await
    .map_err(|e| enrol_error(&url, e))?;
    let ops_key_id = identity
        .ops_key()
        .map(|k| kiosk_api::keys::key_id(&k))
        .map_err(ProvisionError::Enrol)?;
    if let Some(expected) = &request.expect_ops_key
        && !expected.trim().eq_ignore_ascii_case(&ops_key_id)
    {
        // Enrolment saves the identity as it goes: undo it, so that nothing from a
        // connection that may be intercepted is trusted.
        for file in [IDENTITY_FILE, KEY_FILE] {
            let _ = std::fs::remove_file(data_dir.join(file));
        }
        return Err(ProvisionError::OpsKeyMismatch {
            expected: expected.trim().to_owned(),
            got: ops_key_id,
            kiosk_id: identity.kiosk_id,
        });
    }
    give_to_folder_owner(&data_dir);

    if let (Some(copy), Some(pem)) = (&ca_copy, &ca_pem) {
        kiosk_core::identity::write_atomic(copy, pem.as_bytes(), 0o644).map_err(|e| {
            ProvisionError::TrustAfterEnrol {
                kiosk_id: identity.kiosk_id,
                path: copy.clone(),
                source: kiosk_core::trust::TrustError::Corrupt {
                    path: copy.clone(),
                    problem: e.to_string(),
                },
            }
        })?;
    }
    let values = ProvisionedValues {
        kiosk_id: identity.kiosk_id.to_string(),
        number_band: (identity.number_band.first, identity.number_band.last),
        central_url: identity.central_url.clone(),
        hall_id: identity.hall_id.clone(),
        hall_name: identity.hall_name.clone(),
        ca_file: ca_copy.clone(),
    };
    let after_enrol = |source| ProvisionError::ConfigAfterEnrol {
        kiosk_id: identity.kiosk_id,
        data_dir: data_dir.clone(),
        source: Box::new(source),
    };
    let text = config_file::apply(existing.as_deref(), &values, &request.new_data_dir, path)
        .map_err(after_enrol)?;
    config_file::write_atomic(path, &text).map_err(after_enrol)?;
    // The anchors the update agent trusts, beside the configuration: written by whoever runs
    // provision (root on a kiosk), never by the app.
    let trust_path = Trust::beside(path);
    Trust {
        central_url: identity.central_url.clone(),
        ops_public_key: identity.ops_public_key.clone(),
        release_public_key: identity.release_public_key.clone(),
        central_ca_pem: identity.central_ca_pem.clone(),
    }
    .write(&trust_path)
    .map_err(|source| ProvisionError::TrustAfterEnrol {
        kiosk_id: identity.kiosk_id,
        path: trust_path.clone(),
        source,
    })?;

    // The enrolment stands whatever happens here: the token is spent, and the app fetches
    // the keys itself when it is online.
    let (holder_keys, holder_keys_problem) = match store_holder_keys(&identity, &data_dir).await {
        Ok(n) => (n, None),
        Err(problem) => (0, Some(problem)),
    };
    give_to_folder_owner(&data_dir);

    Ok(Provisioned {
        kiosk_id: identity.kiosk_id,
        hall_id: identity.hall_id,
        hall_name: identity.hall_name,
        hall_code: identity.hall_code,
        kiosk_no: identity.kiosk_no,
        holder_keys,
        holder_keys_problem,
        number_band: identity.number_band,
        central_url: identity.central_url,
        config_path: path.clone(),
        config_created,
        trust_path,
        ops_key_id,
        data_dir,
        replaced,
    })
}

/// Fetches the holder keys as the new kiosk and keeps them sealed in its store; returns how
/// many, or what went wrong in words for the technician.
async fn store_holder_keys(identity: &Identity, data_dir: &Path) -> Result<usize, String> {
    let client = identity
        .client(
            data_dir,
            Timeouts {
                connect: std::time::Duration::from_secs(10),
                request: std::time::Duration::from_secs(30),
            },
        )
        .map_err(|e| e.to_string())?;
    let keys = client.holder_keys().await.map_err(|e| error_chain(&e))?;
    let dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let key = StoreKey::load_or_create(&dir.join(kiosk_core::store::KEY_FILE))?;
        let store = Store::open(&dir, key, StoreOptions::default())?;
        store.save_holder_keys(&keys)?;
        Ok::<_, kiosk_core::store::StoreError>(keys.keys.len())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

/// A damaged identity replaced under `--force` is worth a line on stderr, not a stop.
fn note_replacing(e: &IdentityError) {
    eprintln!("note: replacing a damaged identity: {e}");
}

/// Creates the data folder (0700) if missing and checks that it takes a new file.
fn prepare_data_dir(dir: &Path) -> Result<(), ProvisionError> {
    use std::os::unix::fs::DirBuilderExt as _;
    let err = |source| ProvisionError::DataDir {
        path: dir.to_owned(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    let probe = dir.join(".kioskctl-probe");
    std::fs::write(&probe, b"").map_err(err)?;
    std::fs::remove_file(&probe).map_err(err)
}

/// Files root writes into the app's data folder must belong to the folder's owner (the
/// `kiosk` user that tmpfiles.d made it for), or the app could not read its own keys and
/// store.
fn give_to_folder_owner(dir: &Path) {
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    let db = |suffix: &str| format!("{DB_FILE}{suffix}");
    let names = [
        IDENTITY_FILE.to_owned(),
        KEY_FILE.to_owned(),
        kiosk_core::store::KEY_FILE.to_owned(),
        db(""),
        db("-wal"),
        db("-shm"),
        SPOOL_DIR.to_owned(),
    ];
    for name in names {
        // Only root can give files away; anyone else already owns them. Files not (yet)
        // there are skipped.
        let _ = std::os::unix::fs::chown(dir.join(name), Some(meta.uid()), Some(meta.gid()));
    }
}

fn enrol_error(url: &str, e: IdentityError) -> ProvisionError {
    match e {
        IdentityError::Enrol(SyncError::Refused { status, error, .. }) => {
            if error.error == error_code::TOKEN_REFUSED {
                ProvisionError::TokenRefused {
                    url: url.to_owned(),
                    message: error.message,
                }
            } else {
                ProvisionError::Refused {
                    url: url.to_owned(),
                    status,
                    code: error.error,
                    message: error.message,
                }
            }
        }
        IdentityError::Enrol(SyncError::Http { source, .. }) => {
            let detail = error_chain(&source);
            if detail.contains("certificate") {
                ProvisionError::UntrustedCertificate {
                    url: url.to_owned(),
                    detail,
                }
            } else {
                ProvisionError::Unreachable {
                    url: url.to_owned(),
                    detail,
                }
            }
        }
        other => ProvisionError::Enrol(other),
    }
}

/// An error with its causes, which reqwest keeps in its source chain ("connection refused").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
