//! The downlink: polls the desired state with an ETag, fetches the bundles whose version
//! changed, verifies each with the ops key from enrolment, and only when every one of them
//! verified writes them into place (write temp, fsync, rename, fsync folder) and records the
//! new versions and ETag in one transaction. A bundle that fails verification, or whose content
//! cannot be applied whole (a catalog that does not parse, a config a kiosk refuses), changes
//! nothing: the bundles in force stay.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use kiosk_api::rotation::{KeyAnchors, SignedKeyStatement};
use kiosk_api::{BundleRef, verify_bundle};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::SyncError;
use super::client::CentralClient;
use super::uplink::blocking as run_blocking;
use crate::identity::Identity;
use crate::store::{AppliedBundle, Store, StoreError};

/// Folder inside the store directory where applied bundles live, one file per kind.
pub const BUNDLES_DIR: &str = "bundles";

/// The key statements central last sent, kept in [`BUNDLES_DIR`] for readers that verify
/// the signed copies themselves (the update agent).
pub const KEY_STATEMENTS_FILE: &str = "key_statements.json";

/// Ends the name of a bundle's signed copy; kinds are plain names without a dot, so it
/// cannot be mistaken for a kind.
const SIGNED_SUFFIX: &str = ".signed.json";

/// Result of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// Central answered 304.
    NotModified,
    /// New desired state; these bundles were applied (possibly none).
    Applied(Vec<AppliedBundle>),
}

/// Polls central's desired state and applies signed bundles.
#[derive(Debug, Clone)]
pub struct Downlink {
    store: Store,
    client: CentralClient,
    anchors: Arc<Mutex<KeyAnchors>>,
    /// The data folder whose identity keeps the keys reached by following key statements.
    keep_in: Option<PathBuf>,
}

impl Downlink {
    /// A downlink applying bundles signed by `ops_key` (from the enrolment) into `store`.
    pub fn new(store: Store, client: CentralClient, ops_key: VerifyingKey) -> Downlink {
        Downlink {
            store,
            client,
            anchors: Arc::new(Mutex::new(KeyAnchors::single(ops_key))),
            keep_in: None,
        }
    }

    /// A downlink that starts from `anchors` and, when key statements move it to new keys,
    /// writes them into the identity in `data_dir`, so a restart starts from there.
    pub fn following(
        store: Store,
        client: CentralClient,
        anchors: KeyAnchors,
        data_dir: &Path,
    ) -> Downlink {
        Downlink {
            store,
            client,
            anchors: Arc::new(Mutex::new(anchors)),
            keep_in: Some(data_dir.to_owned()),
        }
    }

    /// The key statements kept by the last poll that brought any; none if the file is
    /// missing or unreadable (each statement is checked by whoever follows them anyway).
    pub fn kept_statements(store_dir: &Path) -> Vec<SignedKeyStatement> {
        std::fs::read(store_dir.join(BUNDLES_DIR).join(KEY_STATEMENTS_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The keys trusted now.
    pub fn anchors(&self) -> KeyAnchors {
        self.anchors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Walks central's key statements from the keys trusted now; a move is kept before any
    /// bundle is verified with the new key.
    async fn follow_keys(
        &self,
        statements: &[SignedKeyStatement],
    ) -> Result<KeyAnchors, SyncError> {
        let before = self.anchors();
        if !statements.is_empty() {
            let store = self.store.clone();
            let json = serde_json::to_vec(statements)
                .map_err(|e| SyncError::Keys(format!("encoding key statements: {e}")))?;
            run_blocking(move || {
                write_atomically(&store.dir().join(BUNDLES_DIR), KEY_STATEMENTS_FILE, &json)
            })
            .await?;
        }
        let (after, done) = kiosk_api::rotation::follow(&before, statements);
        for (serial, why) in &done.refused {
            tracing::warn!(serial, %why, "key statement refused");
        }
        if after == before {
            return Ok(before);
        }
        for st in &done.applied {
            tracing::info!(
                serial = st.serial,
                role = st.role.as_str(),
                action = ?st.action,
                key_id = %st.key_id,
                reason = %st.reason,
                "following an ops key statement"
            );
        }
        if let Some(dir) = self.keep_in.clone() {
            let keep = after.clone();
            tokio::task::spawn_blocking(move || {
                let mut identity = Identity::load(&dir)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no identity in {}", dir.display()))?;
                identity
                    .keep_anchors(&dir, &keep)
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| SyncError::Task(e.to_string()))?
            .map_err(SyncError::Keys)?;
        }
        *self
            .anchors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = after.clone();
        Ok(after)
    }

    /// Where the bundle of `kind` is applied.
    pub fn bundle_path(store_dir: &Path, kind: &str) -> PathBuf {
        store_dir.join(BUNDLES_DIR).join(kind)
    }

    /// Where the bundle of `kind` is kept as central signed it, so that a reader that does
    /// not trust this folder can verify it itself.
    pub fn signed_bundle_path(store_dir: &Path, kind: &str) -> PathBuf {
        store_dir
            .join(BUNDLES_DIR)
            .join(format!("{kind}{SIGNED_SUFFIX}"))
    }

    /// One poll: ask with the stored ETag, fetch and verify what changed, apply atomically.
    pub async fn poll_once(&self) -> Result<PollOutcome, SyncError> {
        let store = self.store.clone();
        let etag = run_blocking(move || store.desired_state_etag()).await?;
        let Some((state, new_etag)) = self.client.desired_state(etag.as_deref()).await? else {
            return Ok(PollOutcome::NotModified);
        };
        let catalog_key = self.follow_keys(&state.key_statements).await?.catalog;
        let wanted: Vec<BundleRef> = [state.catalog, state.config]
            .into_iter()
            .flatten()
            .collect();
        let mut fetched = Vec::new();
        for want in wanted {
            let kind_ok = !want.kind.is_empty()
                && want
                    .kind
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !kind_ok {
                return Err(
                    self.protocol(format!("bundle kind {:?} is not a plain name", want.kind))
                );
            }
            let store = self.store.clone();
            let kind = want.kind.clone();
            let current = run_blocking(move || store.applied_bundle(&kind)).await?;
            if let Some(current) = &current {
                if current.version == want.version && current.sha256 == want.sha256 {
                    continue;
                }
                // An older bundle, validly signed once, must not undo ops' later change (a
                // rollback attack, or a stale central node): the one in force stays.
                if kiosk_api::version_cmp(&want.version, &current.version).is_le() {
                    return Err(SyncError::Unusable {
                        kind: want.kind,
                        version: want.version,
                        reason: format!(
                            "not newer than version {} in force; a bundle is never replaced by an older or equal one",
                            current.version
                        ),
                    });
                }
            }
            let bundle = self.client.bundle(&want.kind, &want.version).await?;
            if bundle.kind != want.kind || bundle.version != want.version {
                return Err(self.protocol(format!(
                    "asked for bundle {} {}, got {} {}",
                    want.kind, want.version, bundle.kind, bundle.version
                )));
            }
            let payload = verify_bundle(&catalog_key, &bundle).map_err(SyncError::Bundle)?;
            let digest = hex::encode(Sha256::digest(&payload));
            if digest != want.sha256 {
                return Err(self.protocol(format!(
                    "bundle {} {} hashes to {digest}, desired state says {}",
                    want.kind, want.version, want.sha256
                )));
            }
            if let Err(reason) = check_content(&want.kind, &payload) {
                return Err(SyncError::Unusable {
                    kind: want.kind,
                    version: want.version,
                    reason,
                });
            }
            let signed = serde_json::to_vec(&bundle).map_err(|e| {
                self.protocol(format!("bundle {} {}: {e}", want.kind, want.version))
            })?;
            fetched.push((
                AppliedBundle {
                    kind: want.kind,
                    version: want.version,
                    sha256: digest,
                },
                payload,
                signed,
            ));
        }
        let store = self.store.clone();
        let applied = run_blocking(move || {
            let dir = store.dir().join(BUNDLES_DIR);
            for (bundle, payload, signed) in &fetched {
                // Readers that verify (the update agent) read only the signed copy.
                write_atomically(&dir, &format!("{}{SIGNED_SUFFIX}", bundle.kind), signed)?;
                write_atomically(&dir, &bundle.kind, payload)?;
            }
            let applied: Vec<AppliedBundle> = fetched.into_iter().map(|(b, _, _)| b).collect();
            store.note_applied(&applied, new_etag.as_deref())?;
            Ok(applied)
        })
        .await?;
        Ok(PollOutcome::Applied(applied))
    }

    fn protocol(&self, message: String) -> SyncError {
        SyncError::Protocol {
            url: format!(
                "{}{}",
                self.client.base_url(),
                kiosk_api::routes::DESIRED_STATE
            ),
            message,
        }
    }

    /// Polls every `every` until stopped; a failed poll is logged and retried next time.
    pub fn spawn(self, every: Duration) -> DownlinkHandle {
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let join = tokio::spawn(async move {
            loop {
                let result = self.poll_once().await;
                // A revoked kiosk learns it here too when it has nothing to send.
                let revocation = match &result {
                    Ok(_) => Some(None),
                    Err(e) => e.revocation().map(|m| Some(m.to_owned())),
                };
                if let Some(revocation) = revocation {
                    let store = self.store.clone();
                    let _ =
                        run_blocking(move || store.note_revocation(revocation.as_deref())).await;
                }
                match result {
                    Ok(PollOutcome::Applied(applied)) if !applied.is_empty() => {
                        tracing::info!(?applied, "applied bundles from central");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "desired-state poll failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop_rx.changed() => break,
                }
            }
        });
        DownlinkHandle {
            stop: stop_tx,
            join,
        }
    }
}

/// Control of a running downlink.
#[derive(Debug)]
pub struct DownlinkHandle {
    stop: watch::Sender<bool>,
    join: JoinHandle<()>,
}

impl DownlinkHandle {
    /// Stops polling and waits for the task.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }
}

/// Whether a verified payload can be applied whole: a catalog must parse, a config must lay
/// over a kiosk's configuration with every check passing. Kinds this kiosk does not use are
/// kept as they are.
fn check_content(kind: &str, payload: &[u8]) -> Result<(), String> {
    if kind == kiosk_api::catalog::BUNDLE_KIND {
        kiosk_api::Catalog::from_json(payload)
            .map(drop)
            .map_err(|e| e.to_string())
    } else if kind == kiosk_api::CONFIG_BUNDLE_KIND {
        crate::config::Config::check_central(payload).map_err(|e| e.to_string())
    } else {
        Ok(())
    }
}

fn write_atomically(dir: &Path, name: &str, content: &[u8]) -> Result<(), StoreError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(content).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    let target = dir.join(name);
    std::fs::rename(&tmp, &target).map_err(io(&target))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::check_content;

    #[test]
    fn a_signed_bundle_whose_content_cannot_be_applied_whole_is_refused() {
        let config = |json: &str| check_content(kiosk_api::CONFIG_BUNDLE_KIND, json.as_bytes());
        assert!(config(r#"{"voice": {"words_per_minute": 120}}"#).is_ok());
        let refused = config(r#"{"voice": {"words_per_minute": 900}}"#).unwrap_err();
        assert!(refused.contains("voice.words_per_minute"), "{refused}");
        assert!(config(r#"{"devices": {}}"#).is_err());
        assert!(config("not json").is_err());

        let catalog = |bytes: &[u8]| check_content(kiosk_api::catalog::BUNDLE_KIND, bytes);
        assert!(catalog(b"{\"categories\": 7}").is_err());
        assert!(catalog(b"").is_err());
        // A kind this kiosk does not use is kept as it comes.
        assert!(check_content("signage", b"anything").is_ok());
    }
}
