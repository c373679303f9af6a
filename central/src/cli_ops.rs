//! Ops commands of `central`: releases, rollouts, console users, config bundles, and the
//! ops key check they share with `publish catalog`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use central::Store;
use central::store::{Action, ReleasePublished, Revoked, Role, RolloutStatus, StageSelector};
use clap::{ArgMatches, Subcommand};
use ed25519_dalek::SigningKey;
use kiosk_api::rotation::{KeyAction, KeyRole, KeyStatement};
use kiosk_api::{ReleaseManifest, SignedRelease, keys};
use sha2::{Digest as _, Sha256};

use crate::{Db, open};

#[derive(Subcommand)]
pub(crate) enum ReleaseCommand {
    /// Sign and publish a release artifact (a gzip tar holding bin/kiosk-app).
    Publish {
        /// The artifact file.
        artifact: PathBuf,
        /// Release version (semver), e.g. 0.2.0.
        #[arg(long)]
        version: String,
        /// Lowest version a kiosk must run to take this release directly (semver).
        #[arg(long)]
        min_version: String,
        /// Ops private key (PEM) from `central keys generate`.
        #[arg(long)]
        key: PathBuf,
        /// Print the signed manifest as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// List published releases.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
pub(crate) enum RolloutCommand {
    /// Start rolling a release out, in stages taken in the order given.
    Start {
        /// Release version to roll out.
        #[arg(long)]
        release: String,
        /// A stage reaching this share of the whole fleet (cumulative), e.g. 10 or 10%.
        #[arg(long, value_parser = parse_percent)]
        percent: Vec<u8>,
        /// A stage of every kiosk of this hall.
        #[arg(long)]
        hall: Vec<String>,
        /// Pause once this many kiosks failed (rolled back or refused) without ops accepting it.
        #[arg(long, default_value_t = 1)]
        max_failures: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Stop offering the release until resumed.
    Pause {
        /// Rollout id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Go on, accepting the failures so far.
    Resume {
        /// Rollout id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Stop for good (kiosks that updated keep the release).
    Abort {
        /// Rollout id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Progress per cohort and failures with their reasons; all rollouts without ID.
    Status {
        /// Rollout id.
        id: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Add an ops console user; the password is read from --password-file or stdin's first line.
    Add {
        /// User name.
        name: String,
        /// File holding the password (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// viewer (reads), clerk (acts at the windows bound to it, `central queue clerk`),
        /// operator (day-to-day in the halls) or admin (everything).
        #[arg(long)]
        role: Role,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Console users with their roles and open sessions.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Remove a console user; every session of theirs ends at once.
    Remove {
        /// User name.
        name: String,
        #[command(flatten)]
        db: Db,
    },
    /// Set a user's password (read from --password-file or stdin's first line); every
    /// session of theirs ends at once.
    Password {
        /// User name.
        name: String,
        /// File holding the password (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        db: Db,
    },
    /// Change a user's role; it holds from their next request.
    Role {
        /// User name.
        name: String,
        /// viewer, operator or admin.
        #[arg(long)]
        role: Role,
        #[command(flatten)]
        db: Db,
    },
}

/// The password from `file`'s first line, or stdin's.
fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the password file {}", path.display()))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the password from stdin")?;
            text
        }
    };
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

fn parse_percent(text: &str) -> Result<u8, String> {
    let n = text.trim().trim_end_matches('%');
    match n.parse::<u8>() {
        Ok(p) if (1..=100).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a share from 1 to 100")),
    }
}

/// The stages of `rollout start` in the order they were written on the command line.
pub(crate) fn stage_order(matches: &ArgMatches) -> Vec<StageSelector> {
    let Some(start) = matches
        .subcommand_matches("rollout")
        .and_then(|m| m.subcommand_matches("start"))
    else {
        return Vec::new();
    };
    let mut stages: Vec<(usize, StageSelector)> = Vec::new();
    if let (Some(idx), Some(vals)) = (start.indices_of("percent"), start.get_many::<u8>("percent"))
    {
        stages.extend(idx.zip(vals).map(|(i, p)| (i, StageSelector::Percent(*p))));
    }
    if let (Some(idx), Some(vals)) = (start.indices_of("hall"), start.get_many::<String>("hall")) {
        stages.extend(
            idx.zip(vals)
                .map(|(i, h)| (i, StageSelector::Hall(h.clone()))),
        );
    }
    stages.sort_by_key(|(i, _)| *i);
    stages.into_iter().map(|(_, s)| s).collect()
}

/// Reads the ops key and checks that central trusts it, so kiosks will accept what it signs.
pub(crate) async fn trusted_ops_key(key: &Path, store: &Store) -> anyhow::Result<SigningKey> {
    trusted_key(KeyRole::Catalog, key, store).await
}

/// Reads the private key at `key` and checks that central trusts it as the `role` key.
pub(crate) async fn trusted_key(
    role: KeyRole,
    key: &Path,
    store: &Store,
) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(key)
        .with_context(|| format!("reading the {} key {}", role.as_str(), key.display()))?;
    let ops = keys::private_key_from_pem(&pem)
        .with_context(|| format!("reading the {} key {}", role.as_str(), key.display()))?;
    let public = keys::public_key_to_base64(&ops.verifying_key());
    match store.trusted_key(role).await? {
        Some(trusted) if trusted == public => Ok(ops),
        Some(trusted) => bail!(
            "{} is not the {} key this central trusts (key id {}); kiosks would refuse what it signs. Use the trusted key, or move kiosks to this one with `central keys rotate --role {}` (docs/keys.md)",
            key.display(),
            role.as_str(),
            keys::public_key_from_base64(&trusted)
                .map(|k| keys::key_id(&k))
                .unwrap_or_else(|_| "unreadable".into()),
            role.as_str(),
        ),
        None => bail!(
            "central trusts no ops key yet; run `central keys trust --public-key {}.pub --db …` first",
            key.display()
        ),
    }
}

/// Reads a public key file written by `central keys generate` (FILE.pub).
pub(crate) fn read_public_key(path: &Path) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the public key {}", path.display()))?;
    keys::public_key_from_base64(&text)
        .with_context(|| format!("{} is not a base64 ed25519 public key", path.display()))
}

/// A key change ops asked for, before it is signed.
pub(crate) struct KeyChange {
    pub(crate) role: KeyRole,
    pub(crate) action: KeyAction,
    pub(crate) previous: ed25519_dalek::VerifyingKey,
    pub(crate) next: ed25519_dalek::VerifyingKey,
    pub(crate) reason: String,
}

/// Signs `change` with `signer` as the next statement and stores it; central then trusts the
/// next key, and every kiosk moves to it at its next poll.
pub(crate) async fn record_key_statement(
    store: &Store,
    signer: &SigningKey,
    change: KeyChange,
    json: bool,
) -> anyhow::Result<()> {
    if change.reason.trim().is_empty() {
        bail!("--reason must say why; it goes into the audit log and every kiosk's log");
    }
    if change.next == change.previous {
        bail!("the next key is the key being replaced");
    }
    let statement = KeyStatement {
        serial: store.next_key_serial().await?,
        role: change.role,
        action: change.action,
        previous_public_key: keys::public_key_to_base64(&change.previous),
        next_public_key: keys::public_key_to_base64(&change.next),
        reason: change.reason.trim().to_owned(),
        issued_at: chrono::Utc::now(),
    };
    let signed = kiosk_api::rotation::sign_statement(signer, &statement);
    let st = store
        .record_key_statement(&signed)
        .await
        .context("recording the key statement")?;
    let next_id = keys::key_id(&change.next);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "serial": st.serial,
                "role": st.role,
                "action": st.action,
                "previous_key_id": keys::key_id(&change.previous),
                "next_key_id": next_id,
                "signed_by": signed.key_id,
            })
        );
    } else {
        println!(
            "statement {}: {} key {} -> {} ({}), signed by {}; kiosks follow at their next poll",
            st.serial,
            st.role.as_str(),
            keys::key_id(&change.previous),
            next_id,
            match st.action {
                KeyAction::Rotate => "rotated",
                KeyAction::Revoke => "revoked",
            },
            signed.key_id
        );
    }
    Ok(())
}

/// Prints the trusted keys and the statements.
pub(crate) async fn show_keys(store: &Store, json: bool) -> anyhow::Result<()> {
    let id = |k: Option<String>| {
        k.and_then(|k| keys::public_key_from_base64(&k).ok())
            .map(|k| keys::key_id(&k))
    };
    let catalog = id(store.trusted_key(KeyRole::Catalog).await?);
    let release = id(store.trusted_key(KeyRole::Release).await?);
    let statements = store.key_statements().await?;
    let read: Vec<KeyStatement> = statements.iter().filter_map(|s| s.read().ok()).collect();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "catalog_key_id": catalog,
                "release_key_id": release,
                "statements": read,
            })
        );
        return Ok(());
    }
    println!(
        "catalog key {}\nrelease key {}",
        catalog.as_deref().unwrap_or("(none)"),
        release.as_deref().unwrap_or("(none)")
    );
    for (st, signed) in read.iter().zip(&statements) {
        let key = |b64: &str| {
            keys::public_key_from_base64(b64)
                .map(|k| keys::key_id(&k))
                .unwrap_or_default()
        };
        println!(
            "{} {} {:?} {} -> {} signed by {} at {}: {}",
            st.serial,
            st.role.as_str(),
            st.action,
            key(&st.previous_public_key),
            key(&st.next_public_key),
            signed.key_id,
            st.issued_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            st.reason
        );
    }
    Ok(())
}

/// Checks that `bytes` is a gzip tar whose root holds `bin/kiosk-app` (contract C).
fn check_artifact(bytes: &[u8]) -> anyhow::Result<()> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .context("the artifact is not a gzip tar")?;
    for entry in entries {
        let entry = entry.context("the artifact is not a readable gzip tar")?;
        let path = entry
            .path()
            .context("the artifact has an entry with an unreadable name")?;
        let path = path.strip_prefix(".").unwrap_or(&path);
        if path == Path::new("bin/kiosk-app") {
            return Ok(());
        }
    }
    bail!(
        "the artifact holds no bin/kiosk-app at its root; build it as `tar czf ARTIFACT -C DIR bin ...`"
    )
}

fn print_release(release: &SignedRelease) {
    let m = &release.manifest;
    println!(
        "release {} sha256 {} {} bytes min_version {} signed by {} at {}",
        m.version,
        m.sha256,
        m.size,
        m.min_version,
        release.key_id,
        m.published_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
}

pub(crate) async fn release(command: ReleaseCommand) -> anyhow::Result<()> {
    match command {
        ReleaseCommand::Publish {
            artifact,
            version,
            min_version,
            key,
            json,
            db,
        } => {
            let (Some(v), Some(min)) = (
                central::store::rollouts::parse_version(&version),
                central::store::rollouts::parse_version(&min_version),
            ) else {
                bail!(
                    "--version {version:?} and --min-version {min_version:?} must both be semantic versions like 0.2.0"
                );
            };
            if min > v {
                bail!("--min-version {min} is above --version {v}; no kiosk could take it");
            }
            let bytes = std::fs::read(&artifact)
                .with_context(|| format!("reading the artifact {}", artifact.display()))?;
            check_artifact(&bytes)
                .with_context(|| format!("checking the artifact {}", artifact.display()))?;
            let store = db.acting(Action::ReleasePublish).await?;
            let ops = trusted_key(KeyRole::Release, &key, &store).await?;
            let published_at =
                chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis())
                    .context("reading the clock")?;
            let manifest = ReleaseManifest {
                version: v.to_string(),
                sha256: hex::encode(Sha256::digest(&bytes)),
                size: u64::try_from(bytes.len()).context("artifact size")?,
                min_version: min.to_string(),
                published_at,
            };
            let signed = kiosk_api::sign_release(&ops, manifest);
            match store.publish_release(&signed, &bytes).await? {
                ReleasePublished::Published => {}
                ReleasePublished::VersionTaken => bail!(
                    "release {v} is already published; a version is published once, so bump --version"
                ),
            }
            if json {
                println!("{}", serde_json::to_string(&signed)?);
            } else {
                print!("published ");
                print_release(&signed);
            }
            Ok(())
        }
        ReleaseCommand::List { json, db } => {
            let releases = open(&db.db).await?.releases().await?;
            if json {
                println!("{}", serde_json::to_string(&releases)?);
            } else {
                if releases.is_empty() {
                    println!("no releases published");
                }
                releases.iter().for_each(print_release);
            }
            Ok(())
        }
    }
}

fn print_rollout(r: &RolloutStatus) {
    println!(
        "rollout {} of release {}: {} (stage {} of {}, pauses at {} failure(s))",
        r.id,
        r.release,
        r.state,
        r.current_stage,
        r.stages.len(),
        r.max_failures
    );
    if let Some(reason) = &r.paused_reason {
        println!("  {reason}");
    }
    for s in &r.stages {
        println!(
            "  stage {} {:<24} {:<8} kiosks {:>4}  committed {:>4}  pending {:>4}  failed {:>3}  acknowledged {:>3}  skipped {:>3}",
            s.stage,
            s.selector,
            s.state,
            s.kiosks,
            s.committed,
            s.pending,
            s.failed,
            s.acknowledged,
            s.skipped
        );
    }
    for f in &r.failures {
        println!(
            "  failure: kiosk {} ({}, {}) {} {}: {} at {}",
            f.kiosk_id, f.hostname, f.hall_id, f.outcome, f.reason, f.detail, f.at
        );
    }
}

fn show(json: bool, rollout: &RolloutStatus) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(rollout)?);
    } else {
        print_rollout(rollout);
    }
    Ok(())
}

pub(crate) async fn rollout(
    command: RolloutCommand,
    stages: Vec<StageSelector>,
) -> anyhow::Result<()> {
    match command {
        RolloutCommand::Start {
            release,
            max_failures,
            json,
            db,
            ..
        } => {
            let status = db
                .acting(Action::RolloutStart)
                .await?
                .start_rollout(&release, &stages, max_failures)
                .await?;
            show(json, &status)
        }
        RolloutCommand::Pause { id, json, db } => show(
            json,
            &db.acting(Action::RolloutPause)
                .await?
                .pause_rollout(id)
                .await?,
        ),
        RolloutCommand::Resume { id, json, db } => show(
            json,
            &db.acting(Action::RolloutResume)
                .await?
                .resume_rollout(id)
                .await?,
        ),
        RolloutCommand::Abort { id, json, db } => show(
            json,
            &db.acting(Action::RolloutAbort)
                .await?
                .abort_rollout(id)
                .await?,
        ),
        RolloutCommand::Status { id, json, db } => {
            let store = open(&db.db).await?;
            match id {
                Some(id) => {
                    let status = store
                        .rollout_status(id)
                        .await?
                        .with_context(|| format!("no rollout {id}"))?;
                    show(json, &status)
                }
                None => {
                    let all = store.rollouts().await?;
                    if json {
                        println!("{}", serde_json::to_string(&all)?);
                    } else if all.is_empty() {
                        println!("no rollouts");
                    } else {
                        all.iter().for_each(print_rollout);
                    }
                    Ok(())
                }
            }
        }
    }
}

pub(crate) async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            password_file,
            role,
            json,
            db,
        } => {
            let password = read_password(password_file.as_deref())?;
            db.acting(Action::UserAdd)
                .await?
                .add_console_user(&name, &password, role)
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "user": name.trim(), "role": role, "added": true })
                );
            } else {
                println!("console user {} added as {role}", name.trim());
            }
            Ok(())
        }
        UserCommand::List { json, db } => {
            let users = open(&db.db).await?.console_users().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
                return Ok(());
            }
            println!("{:<24} {:<9} {:>8}  added", "user", "role", "sessions");
            for u in &users {
                println!(
                    "{:<24} {:<9} {:>8}  {}",
                    u.name,
                    u.role,
                    u.sessions,
                    u.created_at
                        .with_timezone(&kiosk_api::citizen::hall_offset())
                        .format("%Y-%m-%d %H:%M")
                );
            }
            Ok(())
        }
        UserCommand::Remove { name, db } => {
            db.acting(Action::UserRemove)
                .await?
                .remove_console_user(&name)
                .await?;
            println!("console user {} removed; their sessions ended", name.trim());
            Ok(())
        }
        UserCommand::Password {
            name,
            password_file,
            db,
        } => {
            let password = read_password(password_file.as_deref())?;
            db.acting(Action::UserPassword)
                .await?
                .set_console_password(&name, &password)
                .await?;
            println!("password of {} changed; their sessions ended", name.trim());
            Ok(())
        }
        UserCommand::Role { name, role, db } => {
            db.acting(Action::UserRole)
                .await?
                .set_console_role(&name, role)
                .await?;
            println!("{} is now {role}", name.trim());
            Ok(())
        }
    }
}

/// `central publish config`: a JSON object signed as the `config` bundle of a hall.
pub(crate) async fn publish_config(
    file: &Path,
    hall: &str,
    version: &str,
    key: &Path,
    db: &Db,
    json: bool,
) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(file).with_context(|| format!("reading the config {}", file.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", file.display()))?;
    if !value.is_object() {
        bail!("{} must hold a JSON object", file.display());
    }
    // The kiosks refuse a bundle they cannot take whole; refuse it here first, before it is
    // signed, with the same checks and the same words.
    kiosk_core::config::Config::check_central(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a configuration every kiosk can take: {e}; nothing was published",
            file.display()
        )
    })?;
    if version.trim().is_empty() {
        bail!("--version must not be empty");
    }
    let store = db.acting(Action::Publish).await?;
    let ops = trusted_ops_key(key, &store).await?;
    let bundle = kiosk_api::sign_bundle(&ops, kiosk_api::CONFIG_BUNDLE_KIND, version, &bytes);
    let outcome = store.publish(hall, &bundle).await?;
    match &outcome {
        central::store::PublishOutcome::VersionTaken => bail!(
            "a different config was already published as version {version}; publish it under a new --version"
        ),
        central::store::PublishOutcome::OlderThanInForce(in_force) => bail!(
            "hall {hall} already has config {in_force}, newer than {version}; kiosks never go back to an older config: publish it under a newer --version"
        ),
        central::store::PublishOutcome::Published
        | central::store::PublishOutcome::AlreadyPublished => {}
    }
    if json {
        println!(
            "{}",
            serde_json::json!({
                "kind": kiosk_api::CONFIG_BUNDLE_KIND,
                "version": version,
                "hall_id": hall,
                "sha256": hex::encode(Sha256::digest(&bytes)),
                "key_id": bundle.key_id,
                "already_published": outcome == central::store::PublishOutcome::AlreadyPublished,
            })
        );
    } else {
        println!("published config {version} for hall {hall}");
    }
    Ok(())
}

#[derive(Subcommand)]
pub(crate) enum HolderKeysCommand {
    /// Create the key file with a new key, or rotate: put a new key first (it makes every new
    /// hash) and keep the older ones (they still match records hashed before).
    Generate {
        /// The key file (mode 0600), outside the database and its backups.
        #[arg(long)]
        file: PathBuf,
        /// Name of the new key, e.g. 2026a (letters, digits, '.', '_', '-').
        #[arg(long)]
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the key ids, current first (never the secrets).
    List {
        /// The key file.
        #[arg(long)]
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum KioskCommand {
    /// Enrolled kiosks with their hall code and kiosk number (the digits that start their
    /// application numbers), version and when they were last heard from.
    List {
        /// Only this hall's kiosks.
        #[arg(long)]
        hall: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Retire a kiosk that no longer runs (replaced hardware): its offline number band goes
    /// back to the hall for the replacement, its kiosk number is never given again, rollouts
    /// leave it out. Retire it once it is switched off: a kiosk still printing from its band
    /// the same day as its replacement would print the same numbers.
    Retire {
        /// Kiosk id (from `central kiosk list`).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Revoke a kiosk (lost, stolen, its key leaked): every central node refuses its signed
    /// requests within seconds with 403 and the reason, its offline band goes back to the
    /// hall. Bring it back with `central token create --reprovision ID`.
    Revoke {
        /// Kiosk id (from `central kiosk list`).
        id: String,
        /// Why (1 to 500 characters): the kiosk is told with every refusal, ops read it on
        /// the console.
        #[arg(long)]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
}

/// The holder key file `serve` and `appointments import` need, or the reason to refuse.
pub(crate) fn holder_key_source(
    file: Option<&Path>,
) -> anyhow::Result<central::holder_keys::HolderKeySource> {
    let from_env = std::env::var_os("CENTRAL_HOLDER_KEYS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let Some(file) = file.map(Path::to_path_buf).or(from_env) else {
        bail!(
            "no holder key file: give --holder-keys FILE (or CENTRAL_HOLDER_KEYS=FILE); make one with `central holder-keys generate --file FILE --id 2026a` and keep it outside the database's backups"
        );
    };
    Ok(central::holder_keys::HolderKeySource::open(&file)?)
}

/// `central holder-keys …`.
pub(crate) fn holder_keys(command: HolderKeysCommand) -> anyhow::Result<()> {
    let (keys, file, json) = match command {
        HolderKeysCommand::Generate { file, id, json } => {
            let keys = central::holder_keys::generate(&file, &id)?;
            if !json {
                println!(
                    "holder key {id} is now current in {} ({} keys); kiosks pick it up at their next key fetch",
                    file.display(),
                    keys.keys.len()
                );
                return Ok(());
            }
            (keys, file, json)
        }
        HolderKeysCommand::List { file, json } => (central::holder_keys::load(&file)?, file, json),
    };
    let ids: Vec<&str> = keys.keys.iter().map(|k| k.id.as_str()).collect();
    if json {
        println!(
            "{}",
            serde_json::json!({ "file": file.display().to_string(), "current": ids.first(), "keys": ids })
        );
    } else {
        for (i, id) in ids.iter().enumerate() {
            println!("{id}{}", if i == 0 { "  (current)" } else { "" });
        }
    }
    Ok(())
}

/// `central kiosk …`.
pub(crate) async fn kiosk(command: KioskCommand) -> anyhow::Result<()> {
    let (hall, json, db) = match command {
        KioskCommand::List { hall, json, db } => (hall, json, db),
        KioskCommand::Revoke {
            id,
            reason,
            json,
            db,
        } => {
            let (revocation, now) = match db
                .acting(Action::KioskRevoke)
                .await?
                .revoke_kiosk(&id, &reason)
                .await?
            {
                Revoked::Now(r) => (r, true),
                Revoked::Already(r) => (r, false),
            };
            let at = revocation
                .at
                .with_timezone(&kiosk_api::citizen::hall_offset())
                .format("%Y-%m-%d %H:%M:%S");
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "revoked": id, "revocation": revocation, "already": !now })
                );
            } else if now {
                println!(
                    "kiosk {id} revoked at {at}: every central node refuses it within {} s; its offline band is free for the hall",
                    central::http::KIOSK_CACHE_AGE.as_secs()
                );
            } else {
                println!(
                    "kiosk {id} was already revoked at {at} by {}: {}",
                    revocation.by, revocation.reason
                );
            }
            return Ok(());
        }
        KioskCommand::Retire { id, json, db } => {
            let Some(at) = db
                .acting(Action::KioskRetire)
                .await?
                .retire_kiosk(&id)
                .await?
            else {
                bail!("no kiosk {id}; see `central kiosk list`");
            };
            let at = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default();
            if json {
                println!("{}", serde_json::json!({ "retired": id, "retired_at": at }));
            } else {
                println!(
                    "kiosk {id} retired at {}; its offline band is free for the next enrolment of its hall",
                    at.with_timezone(&kiosk_api::citizen::hall_offset())
                        .format("%Y-%m-%d %H:%M:%S")
                );
            }
            return Ok(());
        }
    };
    let kiosks: Vec<_> = open(&db.db)
        .await?
        .fleet()
        .await?
        .into_iter()
        .filter(|k| hall.as_ref().is_none_or(|h| *h == k.hall_id))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&kiosks)?);
        return Ok(());
    }
    println!(
        "{:<20} {:>4} {:>2}  {:<20} {:<38} {:<10} {:>8} {:>8}  last seen",
        "hall", "code", "no", "host", "kiosk", "version", "refused", "quarant."
    );
    for k in &kiosks {
        println!(
            "{:<20} {:>4} {:>2}  {:<20} {:<38} {:<10} {:>8} {:>8}  {}",
            k.hall_id,
            k.hall_code
                .map_or_else(|| "-".to_owned(), |c| format!("{c:04}")),
            k.kiosk_no
                .map_or_else(|| "-".to_owned(), |n| format!("{n:02}")),
            k.hostname,
            k.kiosk_id,
            k.version,
            k.refused,
            k.report.as_ref().map_or(0, |r| r.quarantined),
            if k.revoked.is_some() {
                "REVOKED".to_owned()
            } else if k.retired_at.is_some() {
                "RETIRED".to_owned()
            } else {
                k.last_seen_at.map_or_else(
                    || "never".to_owned(),
                    |t| {
                        t.with_timezone(&kiosk_api::citizen::hall_offset())
                            .format("%Y-%m-%d %H:%M:%S")
                            .to_string()
                    },
                )
            },
        );
    }
    Ok(())
}
