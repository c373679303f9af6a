//! `central`: the reference central platform and its ops commands.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use central::Store;
use central::store::PublishOutcome;
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use kiosk_api::{Catalog, keys};

mod cli_citizen;
mod cli_ops;

#[derive(Parser)]
#[command(name = "central", version, about = "Central platform for hall kiosks")]
// `central help ack ID` is a command of its own; `--help` still prints help.
#[command(disable_help_subcommand = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Db {
    /// `postgres://…` for PostgreSQL; anything else is a SQLite file (created if missing).
    /// Default: $CENTRAL_DB, as central.service sets it from /etc/central/central.env so that
    /// the password is on no command line.
    #[arg(long, env = "CENTRAL_DB", hide_env_values = true)]
    db: String,
    /// Act as this console user: their role is checked and the audit log names them.
    /// Without it the action is logged as `cli:` and the operating-system user, with every
    /// right (whoever holds the database URL holds everything).
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,
}

impl Db {
    /// The database, acting for `action` as `--as USER` or as the operating-system user.
    async fn acting(&self, action: central::store::Action) -> anyhow::Result<Store> {
        open_as(&self.db, self.as_user.as_deref(), action).await
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the kiosk API, and the ops console at /console.
    Serve {
        #[command(flatten)]
        db: Db,
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
        #[arg(long, env = "CENTRAL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// The holder-hash key file (`central holder-keys generate`), kept outside the
        /// database; read again when it changes. Default: $CENTRAL_HOLDER_KEYS.
        #[arg(long, value_name = "FILE")]
        holder_keys: Option<PathBuf>,
        /// Most unused leased queue numbers one kiosk may hold per category and day; a lease
        /// beyond it is refused with 429.
        #[arg(long, default_value_t = central::Limits::default().lease_cap, value_parser = clap::value_parser!(u32).range(1..))]
        lease_cap: u32,
        /// Longest a request may take from its headers to its answer, body included (10s,
        /// 2m…); a slower one is dropped with 408.
        #[arg(long, default_value = "10s", value_parser = central::duration::parse_std)]
        body_timeout: std::time::Duration,
        /// Most requests worked on at once; more are refused with 503 at once. Each may hold
        /// a body of up to 4 MiB, so this also bounds memory.
        #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        max_in_flight: u32,
        /// Help requests one kiosk may send per minute; more wait at the kiosk.
        #[arg(long, default_value_t = central::Limits::default().help_per_minute, value_parser = clap::value_parser!(u32).range(1..))]
        help_per_minute: u32,
        /// Events one kiosk may have stored per minute; more wait at the kiosk.
        #[arg(long, default_value_t = central::Limits::default().events_per_minute, value_parser = clap::value_parser!(u32).range(1..))]
        events_per_minute: u32,
        /// The address citizens' phones reach this central at, e.g. https://q.example.gov.cn:
        /// kiosks print it with /t/ and the ticket's token in the ticket's QR code (the
        /// ticket's live page). Without it kiosks print their configured queue URL.
        #[arg(long, env = "CENTRAL_PUBLIC_URL", value_parser = public_url)]
        public_url: Option<String>,
        /// Attachment uploads one kiosk may begin per day; more are refused with 429 and
        /// wait at the kiosk.
        #[arg(long, default_value_t = central::Limits::default().attachments_per_day, value_parser = clap::value_parser!(u32).range(1..))]
        attachments_per_day: u32,
        /// Signed requests one kiosk may make per minute; more are refused with 429. Also
        /// bounds the seen nonces kept per kiosk.
        #[arg(long, default_value_t = central::Limits::default().requests_per_minute, value_parser = clap::value_parser!(u32).range(1..))]
        requests_per_minute: u32,
    },
    /// The holder-hash keys (kept in a file of their own, never in the database).
    #[command(subcommand)]
    HolderKeys(cli_ops::HolderKeysCommand),
    /// Enrolled kiosks.
    #[command(subcommand)]
    Kiosk(cli_ops::KioskCommand),
    /// Enrolment tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The ops signing key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign and publish a bundle to the halls' desired state.
    #[command(subcommand)]
    Publish(PublishCommand),
    /// Events per kiosk and per kind, and sequence gaps.
    Stats {
        #[command(flatten)]
        db: Db,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the OpenAPI document of the kiosk API.
    Openapi,
    /// Signed software releases.
    #[command(subcommand)]
    Release(cli_ops::ReleaseCommand),
    /// Staged rollouts of a release to the fleet.
    #[command(subcommand)]
    Rollout(cli_ops::RolloutCommand),
    /// Ops console users.
    #[command(subcommand)]
    User(cli_ops::UserCommand),
    /// Appointments booked in the halls.
    #[command(subcommand)]
    Appointments(cli_citizen::AppointmentsCommand),
    /// Progress of applications made at kiosks.
    #[command(subcommand)]
    Application(cli_citizen::ApplicationCommand),
    /// Queue tickets: call the next one, statistics.
    #[command(subcommand)]
    Queue(cli_citizen::QueueCommand),
    /// Citizens' calls for help.
    #[command(subcommand)]
    Help(cli_citizen::HelpCommand),
    /// 好差评 ratings and their follow-up.
    #[command(subcommand)]
    Ratings(cli_citizen::RatingsCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a one-time enrolment token bound to a hall.
    Create {
        /// Hall id, as in the hall's catalog.
        #[arg(long, required_unless_present = "reprovision")]
        hall: Option<String>,
        /// Make a token that re-provisions this kiosk (a lost or leaked key, a revoked
        /// kiosk): the kiosk enrolling with it keeps its id, number and band under a new key.
        #[arg(long, value_name = "KIOSK_ID")]
        reprovision: Option<String>,
        /// Display name of the hall (kept from earlier tokens if not given).
        #[arg(long)]
        hall_name: Option<String>,
        /// How long the token is valid: 90s, 30m, 24h, 7d.
        #[arg(long, default_value = "24h", value_parser = central::duration::parse)]
        expires: chrono::Duration,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate the ops key pair: FILE (private, PKCS#8 PEM, mode 0600) and FILE.pub (base64).
    Generate {
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
        /// Also make this central trust the new key (what kiosks get at enrolment).
        #[arg(long)]
        db: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make central trust an ops public key (a FILE.pub written by `keys generate`) for
    /// kiosks enrolled from now on. Kiosks enrolled earlier move only by `keys rotate`.
    Trust {
        /// The public key file.
        #[arg(long)]
        public_key: PathBuf,
        /// Which key: catalog (signs catalogs and configs) or release (signs releases).
        #[arg(long, default_value = "catalog")]
        role: kiosk_api::rotation::KeyRole,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Move every kiosk from the role's current key to the next one: a statement signed by
    /// the current key, which kiosks check themselves (docs/keys.md).
    Rotate {
        /// Which key: catalog or release.
        #[arg(long)]
        role: kiosk_api::rotation::KeyRole,
        /// The role's current private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// The next public key (FILE.pub from `keys generate`); its private key stays offline
        /// until it is needed.
        #[arg(long)]
        next_public_key: PathBuf,
        /// Why, for the audit log and the technicians.
        #[arg(long)]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Distrust a leaked key for good and move kiosks to its replacement: a statement signed
    /// by the other role's key (docs/keys.md).
    Revoke {
        /// Which key leaked: catalog or release.
        #[arg(long)]
        role: kiosk_api::rotation::KeyRole,
        /// The other role's current private key (PEM), which signs the revocation.
        #[arg(long)]
        by: PathBuf,
        /// The leaked key's public key file (FILE.pub), or the trusted key if omitted.
        #[arg(long)]
        leaked_public_key: Option<PathBuf>,
        /// The replacement's public key file (FILE.pub).
        #[arg(long)]
        next_public_key: PathBuf,
        /// Why, for the audit log and the technicians.
        #[arg(long)]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// List the trusted keys and every statement kiosks follow.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
enum PublishCommand {
    /// Validate, sign and publish a catalog as the desired catalog of its hall.
    Catalog {
        /// Catalog JSON file (the shape of journeys/data/catalog.sample.json).
        file: PathBuf,
        /// Ops private key (PEM) from `central keys generate`.
        #[arg(long)]
        key: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
    /// Sign and publish a kiosk configuration (a JSON object) as the desired config of a hall.
    Config {
        /// Configuration JSON file.
        file: PathBuf,
        /// Hall whose kiosks apply it.
        #[arg(long)]
        hall: String,
        /// Version chosen by ops, e.g. 2026-11-26.1.
        #[arg(long)]
        version: String,
        /// Ops private key (PEM) from `central keys generate`.
        #[arg(long)]
        key: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: Db,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // Parsed by hand so `rollout start` can keep its --percent/--hall stages in order.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Serve {
            db,
            listen,
            holder_keys,
            lease_cap,
            body_timeout,
            max_in_flight,
            help_per_minute,
            events_per_minute,
            attachments_per_day,
            requests_per_minute,
            public_url,
        } => {
            let keys = cli_ops::holder_key_source(holder_keys.as_deref())?;
            let limits = central::Limits {
                lease_cap,
                body_timeout,
                max_in_flight: usize::try_from(max_in_flight).unwrap_or(usize::MAX),
                help_per_minute,
                events_per_minute,
                attachments_per_day,
                requests_per_minute,
            };
            serve(&db.db, &listen, keys, limits, public_url).await
        }
        Command::HolderKeys(c) => cli_ops::holder_keys(c),
        Command::Kiosk(c) => cli_ops::kiosk(c).await,
        Command::Token(TokenCommand::Create {
            hall,
            reprovision,
            hall_name,
            expires,
            json,
            db,
        }) => {
            let store = db.acting(central::store::Action::TokenCreate).await?;
            let token = match (reprovision, hall) {
                (Some(kiosk), hall) => {
                    if let (Some(hall), Some(known)) = (hall, store.fleet_kiosk(&kiosk).await?)
                        && known.hall_id != hall
                    {
                        bail!(
                            "kiosk {kiosk} is of hall {}, not {hall}; no token was made",
                            known.hall_id
                        );
                    }
                    store.create_reprovision_token(&kiosk, expires).await?
                }
                (None, Some(hall)) => {
                    store
                        .create_token(&hall, hall_name.as_deref(), expires)
                        .await?
                }
                (None, None) => bail!("give --hall HALL, or --reprovision KIOSK_ID"),
            };
            if json {
                println!("{}", serde_json::to_string(&token)?);
            } else {
                println!(
                    "token {} for hall {} (hall code {:04}, valid until {})",
                    token.token, token.hall_id, token.hall_code, token.expires_at
                );
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Generate { out, db, json }) => {
            generate_key(&out, db.as_deref(), json).await
        }
        Command::Keys(KeysCommand::Trust {
            public_key,
            role,
            json,
            db,
        }) => {
            let text = std::fs::read_to_string(&public_key)
                .with_context(|| format!("reading the ops public key {}", public_key.display()))?;
            let key = keys::public_key_from_base64(&text).with_context(|| {
                format!(
                    "{} is not a base64 ed25519 public key",
                    public_key.display()
                )
            })?;
            db.acting(central::store::Action::KeysTrust)
                .await?
                .set_trusted_key(role, &keys::public_key_to_base64(&key))
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "role": role, "trusted_key_id": keys::key_id(&key) })
                );
            } else {
                println!(
                    "central now trusts {} key {} for kiosks enrolled from now on",
                    role.as_str(),
                    keys::key_id(&key)
                );
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate {
            role,
            key,
            next_public_key,
            reason,
            json,
            db,
        }) => {
            let store = db.acting(central::store::Action::KeysRotate).await?;
            let signer = cli_ops::trusted_key(role, &key, &store).await?;
            let next = cli_ops::read_public_key(&next_public_key)?;
            let statement = cli_ops::KeyChange {
                role,
                action: kiosk_api::rotation::KeyAction::Rotate,
                previous: signer.verifying_key(),
                next,
                reason,
            };
            cli_ops::record_key_statement(&store, &signer, statement, json).await
        }
        Command::Keys(KeysCommand::Revoke {
            role,
            by,
            leaked_public_key,
            next_public_key,
            reason,
            json,
            db,
        }) => {
            let store = db.acting(central::store::Action::KeysRevoke).await?;
            let signer = cli_ops::trusted_key(role.other(), &by, &store).await?;
            let leaked = match leaked_public_key {
                Some(path) => cli_ops::read_public_key(&path)?,
                None => {
                    let text = store
                        .trusted_key(role)
                        .await?
                        .with_context(|| format!("central trusts no {} key", role.as_str()))?;
                    keys::public_key_from_base64(&text).context("the trusted key")?
                }
            };
            let next = cli_ops::read_public_key(&next_public_key)?;
            let statement = cli_ops::KeyChange {
                role,
                action: kiosk_api::rotation::KeyAction::Revoke,
                previous: leaked,
                next,
                reason,
            };
            cli_ops::record_key_statement(&store, &signer, statement, json).await
        }
        Command::Keys(KeysCommand::Show { json, db }) => {
            cli_ops::show_keys(&open(&db.db).await?, json).await
        }
        Command::Publish(PublishCommand::Catalog {
            file,
            key,
            json,
            db,
        }) => publish_catalog(&file, &key, &db, json).await,
        Command::Publish(PublishCommand::Config {
            file,
            hall,
            version,
            key,
            json,
            db,
        }) => cli_ops::publish_config(&file, &hall, &version, &key, &db, json).await,
        Command::Release(c) => cli_ops::release(c).await,
        Command::Rollout(c) => cli_ops::rollout(c, cli_ops::stage_order(&matches)).await,
        Command::User(c) => cli_ops::user(c).await,
        Command::Appointments(c) => cli_citizen::appointments(c).await,
        Command::Application(c) => cli_citizen::application(c).await,
        Command::Queue(c) => cli_citizen::queue(c).await,
        Command::Help(c) => cli_citizen::help(c).await,
        Command::Ratings(c) => cli_citizen::ratings(c).await,
        Command::Stats { db, json } => {
            let stats = open(&db.db).await?.stats().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print_stats(&stats);
            }
            Ok(())
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&kiosk_api::openapi::document())?
            );
            Ok(())
        }
    }
}

/// Opens `db` to do `action` as console user `as_user` (whose role must allow it), or,
/// without one, as `cli:` and the operating-system user, with every right: whoever holds the
/// database URL can do anything anyway, and the log still says who ran the command.
pub(crate) async fn open_as(
    db: &str,
    as_user: Option<&str>,
    action: central::store::Action,
) -> anyhow::Result<Store> {
    use central::store::{Actor, Role, Via};
    let store = open(db).await?;
    let actor = match as_user {
        Some(name) => {
            let Some(role) = store.console_user_role(name).await? else {
                bail!("--as {name}: there is no console user {name:?}; see `central user list`");
            };
            Actor {
                name: name.trim().to_owned(),
                via: Via::Cli,
                role,
            }
        }
        None => {
            let user = std::env::var("SUDO_USER")
                .or_else(|_| std::env::var("USER"))
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| format!("uid {}", nix_uid()));
            Actor {
                name: format!("cli:{user}"),
                via: Via::Cli,
                role: Role::Admin,
            }
        }
    };
    actor.may(action)?;
    Ok(store.acting_as(actor))
}

/// The real user id, for the log when no user name is in the environment.
fn nix_uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        })
        .unwrap_or_else(|| "?".to_owned())
}

async fn open(db: &str) -> anyhow::Result<Store> {
    Store::open(db)
        .await
        .with_context(|| format!("opening the database {}", redact(db)))
}

/// The URL without its password, for messages.
fn redact(db: &str) -> String {
    match (db.find("://"), db.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_end = db[scheme + 3..at].find(':').map_or(at, |i| scheme + 3 + i);
            format!("{}:***{}", &db[..user_end], &db[at..])
        }
        _ => db.to_owned(),
    }
}

async fn serve(
    db: &str,
    listen: &str,
    holder_keys: central::holder_keys::HolderKeySource,
    limits: central::Limits,
    public_url: Option<String>,
) -> anyhow::Result<()> {
    let store = open(db).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}; is another central running there?"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    // The first stdout line tells scripts and tests where central listens.
    println!("central listening on {addr}");
    std::io::stdout().flush().context("writing to stdout")?;
    tracing::info!(%addr, backend = ?store.backend(), "central serving");
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch SIGTERM; stop with Ctrl-C");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    // The token that opens /metrics comes from the environment (the unit's credentials or
    // EnvironmentFile), never the command line, where every local user could read it.
    let metrics = central::Metrics::new(std::env::var("CENTRAL_METRICS_TOKEN").ok());
    let state = central::AppState::new(store.clone(), holder_keys)
        .with_limits(limits)
        .with_metrics(metrics)
        .with_public_url(public_url);
    central::serve_with(state, listener, shutdown)
        .await
        .context("serving HTTP")?;
    store.close().await;
    Ok(())
}

/// `--public-url`: an http(s) address with no query or fragment, which a phone can open.
fn public_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} does not start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(format!(
            "{text:?} is not a plain address such as https://q.example.gov.cn"
        ));
    }
    Ok(url.to_owned())
}

async fn generate_key(out: &Path, db: Option<&str>, json: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let key = keys::generate();
    let public = keys::public_key_to_base64(&key.verifying_key());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing key is never overwritten)",
                out.display()
            )
        })?;
    file.write_all(keys::private_key_to_pem(&key).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub");
    std::fs::write(&pub_path, format!("{public}\n"))
        .with_context(|| format!("writing {}", Path::new(&pub_path).display()))?;
    let key_id = keys::key_id(&key.verifying_key());
    if let Some(db) = db {
        open_as(db, None, central::store::Action::KeysTrust)
            .await?
            .set_ops_public_key(&public)
            .await?;
    }
    if json {
        println!(
            "{}",
            serde_json::json!({
                "key_id": key_id,
                "private_key": out.display().to_string(),
                "public_key_file": Path::new(&pub_path).display().to_string(),
                "public_key": public,
                "trusted": db.is_some(),
            })
        );
        return Ok(());
    }
    println!(
        "ops key {key_id} written to {} (public key in {})",
        out.display(),
        Path::new(&pub_path).display()
    );
    if db.is_some() {
        println!("central now trusts ops key {key_id}");
    }
    Ok(())
}

async fn publish_catalog(file: &Path, key: &Path, db: &Db, json: bool) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(file).with_context(|| format!("reading the catalog {}", file.display()))?;
    let catalog = Catalog::from_json(&bytes)
        .with_context(|| format!("checking the catalog {}", file.display()))?;
    let store = db.acting(central::store::Action::Publish).await?;
    let ops = cli_ops::trusted_ops_key(key, &store).await?;
    let bundle = kiosk_api::sign_bundle(
        &ops,
        kiosk_api::catalog::BUNDLE_KIND,
        &catalog.version,
        &bytes,
    );
    let outcome = store.publish(&catalog.hall.id, &bundle).await?;
    let refused = matches!(
        outcome,
        PublishOutcome::VersionTaken | PublishOutcome::OlderThanInForce(_)
    );
    if json && !refused {
        println!(
            "{}",
            serde_json::json!({
                "kind": kiosk_api::catalog::BUNDLE_KIND,
                "version": catalog.version,
                "hall_id": catalog.hall.id,
                "key_id": bundle.key_id,
                "already_published": outcome == PublishOutcome::AlreadyPublished,
            })
        );
        return Ok(());
    }
    match outcome {
        PublishOutcome::Published => println!(
            "published catalog {} for hall {}",
            catalog.version, catalog.hall.id
        ),
        PublishOutcome::AlreadyPublished => println!(
            "catalog {} was already published; hall {} now wants it",
            catalog.version, catalog.hall.id
        ),
        PublishOutcome::VersionTaken => bail!(
            "a different catalog was already published as version {}; change \"version\" in {} and publish again",
            catalog.version,
            file.display()
        ),
        PublishOutcome::OlderThanInForce(in_force) => bail!(
            "hall {} already has catalog {in_force}, newer than {}; kiosks never go back to an older catalog: give this one a newer \"version\" in {} and publish again",
            catalog.hall.id,
            catalog.version,
            file.display()
        ),
    }
    Ok(())
}

fn print_stats(stats: &central::store::Stats) {
    println!(
        "{:<38} {:<20} {:>4} {:>2} {:>10} {:>10} {:>8} {:>8}",
        "kiosk", "hall", "code", "no", "events", "max seq", "missing", "refused"
    );
    for k in &stats.kiosks {
        println!(
            "{:<38} {:<20} {:>4} {:>2} {:>10} {:>10} {:>8} {:>8}",
            k.kiosk_id,
            k.hall_id,
            k.hall_code
                .map_or_else(|| "-".to_owned(), |c| format!("{c:04}")),
            k.kiosk_no
                .map_or_else(|| "-".to_owned(), |n| format!("{n:02}")),
            k.events,
            k.max_seq,
            k.missing,
            k.refused
        );
    }
    println!();
    println!("{:<12} {:<30} {:>10}", "stream", "kind", "events");
    for k in &stats.kinds {
        println!("{:<12} {:<30} {:>10}", k.stream, k.kind, k.count);
    }
    println!();
    if stats.gaps.is_empty() {
        println!("no sequence gaps");
    }
    for g in &stats.gaps {
        println!(
            "gap: kiosk {} is missing seq {}..={}",
            g.kiosk_id, g.first, g.last
        );
    }
    println!(
        "total: {} events, {} missing",
        stats.total_events, stats.total_missing
    );
}
