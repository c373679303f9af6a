//! Ops' part of the configuration: the signed `config` bundle central publishes for a hall.
//!
//! A kiosk's own file (`/etc/kiosk/kiosk.toml`) says what only the kiosk can know: its
//! devices' addresses, its data directory, central's URL, its identity. What is the same for
//! every kiosk of a hall (the hall's name and help desk, session timeouts, voice, queue leases,
//! check-in times, the technician PIN, the maintenance window) ops may set centrally; those
//! keys, and only those, are taken from the bundle, over the file's values. The bundle is JSON
//! in the file's shape (`{"ui": {"inactivity_timeout_secs": 90}}`), and the merged result must
//! pass every check a file must pass, so a bad bundle is refused whole, never half-applied:
//! by `central config publish` before it is signed, and again by the kiosk's downlink before it
//! replaces the bundle in force.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Config, ConfigError};

/// The sections and keys ops may set for a hall. Everything else (devices, data directory,
/// central's URL, identity, logging, the update agent's paths and restart command) stays in
/// each kiosk's own file: a wrong value there is fixed at the kiosk, not broadcast to a hall.
pub const CENTRAL_KEYS: &[(&str, &[&str])] = &[
    (
        "hall",
        &["name_zh", "name_en", "help_window_zh", "help_window_en"],
    ),
    (
        "ui",
        &[
            "language",
            "elder_mode",
            "inactivity_timeout_secs",
            "continue_prompt_secs",
        ],
    ),
    ("queue", &["lease_size", "low_water", "state_refresh_secs"]),
    ("voice", &["enabled", "always", "words_per_minute"]),
    (
        "journeys",
        &[
            "queue_url",
            "progress_url",
            "guide_url",
            "health_interval_secs",
            "checkin_early_minutes",
            "checkin_late_minutes",
        ],
    ),
    ("technician", &["pin_hash", "max_attempts", "lockout_secs"]),
    (
        "update",
        &[
            "window",
            "utc_offset",
            "health_deadline_secs",
            "keep_releases",
        ],
    ),
];

/// Where the downlink keeps the config bundle in force, under the kiosk's data directory.
pub fn applied_central_path(data_dir: &Path) -> PathBuf {
    crate::sync::Downlink::bundle_path(data_dir, kiosk_api::CONFIG_BUNDLE_KIND)
}

/// Where the downlink keeps the config bundle in force as central signed it, for readers
/// that must not trust the data directory (the update agent, as root).
pub fn applied_central_signed_path(data_dir: &Path) -> PathBuf {
    crate::sync::Downlink::signed_bundle_path(data_dir, kiosk_api::CONFIG_BUNDLE_KIND)
}

fn refused(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Central {
        key: key.into(),
        problem: problem.into(),
    }
}

impl Config {
    /// This configuration with central's bundle `payload` laid over it. Refused whole, naming
    /// the key, if the bundle is not a JSON object of [`CENTRAL_KEYS`] or if the result fails
    /// any check of [`Config::parse`].
    pub fn with_central(&self, payload: &[u8]) -> Result<Config, ConfigError> {
        let overlay: Value = serde_json::from_slice(payload).map_err(|e| {
            refused(
                ".",
                format!("not JSON (line {}, column {}): {e}", e.line(), e.column()),
            )
        })?;
        let Value::Object(overlay) = overlay else {
            return Err(refused(".", "must be a JSON object of sections"));
        };
        let mut merged = serde_json::to_value(self)
            .map_err(|e| refused(".", format!("the kiosk's own configuration: {e}")))?;
        let Some(base) = merged.as_object_mut() else {
            return Err(refused(".", "the kiosk's own configuration is not a table"));
        };
        for (section, values) in overlay {
            let Some((_, keys)) = CENTRAL_KEYS.iter().find(|(name, _)| *name == section) else {
                let allowed: Vec<&str> = CENTRAL_KEYS.iter().map(|(name, _)| *name).collect();
                return Err(refused(
                    section,
                    format!(
                        "may not be set centrally (only {}); device addresses, the data \
                         directory and central's URL stay in each kiosk's own file",
                        allowed.join(", ")
                    ),
                ));
            };
            let Value::Object(values) = values else {
                return Err(refused(section, "must be an object of keys"));
            };
            let target = base
                .entry(section.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(target) = target.as_object_mut() else {
                return Err(refused(section, "is not a table in the kiosk's own file"));
            };
            for (key, value) in values {
                if !keys.contains(&key.as_str()) {
                    return Err(refused(
                        format!("{section}.{key}"),
                        format!(
                            "may not be set centrally; the keys of [{section}] ops may set are {}",
                            keys.join(", ")
                        ),
                    ));
                }
                if value.is_null() {
                    return Err(refused(
                        format!("{section}.{key}"),
                        "is null: leave a key out to keep the kiosk's own value",
                    ));
                }
                target.insert(key, value);
            }
        }
        let config: Config = serde_path_to_error::deserialize(merged).map_err(|e| {
            let key = e.path().to_string();
            refused(key, e.into_inner().to_string())
        })?;
        config
            .validate()
            .map_err(|(key, problem)| refused(key, problem))?;
        Ok(config)
    }

    /// Whether `payload` is a config bundle every kiosk can take: laid over the built-in
    /// profile, as `central config publish` checks before signing.
    pub fn check_central(payload: &[u8]) -> Result<(), ConfigError> {
        Config::simulate()?.with_central(payload).map(drop)
    }

    /// This configuration with the config bundle the downlink applied under the data
    /// directory, if there is one. `Ok(None)` when there is none; an unreadable or refused
    /// bundle is an error, and the caller keeps the file's configuration.
    pub fn with_applied_central(&self) -> Result<Option<Config>, ConfigError> {
        let path = applied_central_path(&self.kiosk.data_dir);
        match std::fs::read(&path) {
            Ok(payload) => self.with_central(&payload).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// The configuration in force for a reader that trusts only `ops_key`: the file's, with
    /// central's bundle over it only if its signed copy verifies. Anything else (no signed
    /// copy, a bad signature, a bundle that does not fit) leaves the file's configuration
    /// alone, and says so in the log.
    ///
    /// The catalog key it verifies with is the one `anchors` lead to through the key
    /// statements the downlink kept beside the bundle. Those sit in the app's folder, but each
    /// is signed: the worst the file can do is hold back a statement.
    pub fn in_force_verified(self, anchors: &kiosk_api::rotation::KeyAnchors) -> Config {
        let statements = crate::sync::Downlink::kept_statements(&self.kiosk.data_dir);
        let (reached, _) = kiosk_api::rotation::follow(anchors, &statements);
        let ops_key = &reached.catalog;
        let path = applied_central_signed_path(&self.kiosk.data_dir);
        let bundle: kiosk_api::SignedBundle = match std::fs::read(&path) {
            Ok(text) => match serde_json::from_slice(&text) {
                Ok(bundle) => bundle,
                Err(error) => {
                    tracing::error!(%error, path = %path.display(), "central's signed configuration bundle unreadable; the kiosk's own file is used alone");
                    return self;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return self,
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "central's signed configuration bundle unreadable; the kiosk's own file is used alone");
                return self;
            }
        };
        if bundle.kind != kiosk_api::CONFIG_BUNDLE_KIND {
            tracing::error!(kind = %bundle.kind, "the signed configuration bundle is of another kind; the kiosk's own file is used alone");
            return self;
        }
        let payload = match kiosk_api::verify_bundle(ops_key, &bundle) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "central's configuration bundle does not verify against the trust anchors; the kiosk's own file is used alone");
                return self;
            }
        };
        match self.with_central(&payload) {
            Ok(merged) => merged,
            Err(error) => {
                tracing::error!(%error, "central's configuration bundle not applied; the kiosk's own file is used alone");
                self
            }
        }
    }

    /// The configuration in force: the file's, with central's bundle over it when there is a
    /// valid one. A refused bundle is logged (it was checked before it was stored, so this
    /// means the file changed under it) and the file's configuration is used alone.
    pub fn in_force(self) -> Config {
        match self.with_applied_central() {
            Ok(Some(merged)) => {
                tracing::info!("central's configuration bundle applied over the kiosk's file");
                merged
            }
            Ok(None) => self,
            Err(error) => {
                tracing::error!(%error, "central's configuration bundle not applied; the kiosk's own file is used alone");
                self
            }
        }
    }
}
