//! `kioskctl provision`.

use std::path::PathBuf;
use std::process::ExitCode;

use kioskctl::provision::{self, DEFAULT_DATA_DIR, ProvisionError, Request};

/// Exit status: the kiosk is already enrolled (use --force).
pub const EXIT_ALREADY_ENROLLED: u8 = 2;
/// Exit status: central refused the token.
pub const EXIT_TOKEN_REFUSED: u8 = 3;
/// Exit status: central could not be reached.
pub const EXIT_UNREACHABLE: u8 = 4;
/// Exit status: the configuration or data folder cannot be read, validated or written.
pub const EXIT_LOCAL: u8 = 5;

/// Options of `kioskctl provision`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Central's base URL, e.g. https://zwfw-kiosk.example.gov.cn
    #[arg(long = "central", value_name = "URL")]
    pub central: String,
    /// The one-time enrolment token ops gave you (`central token create`).
    #[arg(long, value_name = "TOKEN")]
    pub token: String,
    /// The configuration file to write.
    #[arg(long, default_value = kiosk_core::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Name central records for this kiosk (default: the host name).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Data folder written into a configuration that does not exist yet.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Enrol again although this kiosk already has an identity (a new hall, a lost key).
    #[arg(long)]
    pub force: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Allow a plain http:// central, on a test bench only: the ops key would arrive
    /// unprotected.
    #[arg(long)]
    pub insecure_http: bool,
    /// The ops key id ops gave you; the enrolment is undone if central's key differs.
    #[arg(long, value_name = "KEY_ID")]
    pub expect_ops_key: Option<String>,
    /// The hall's or province's private CA (PEM) that issued central's certificate: the kiosk
    /// then trusts only it, now and later (copied to central-ca.pem beside the configuration).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

/// Runs `kioskctl provision`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let request = Request {
        config_path: args.config.clone(),
        central_url: args.central.clone(),
        token: args.token.clone(),
        hostname: args.hostname.clone(),
        force: args.force,
        new_data_dir: args.data_dir.clone(),
        insecure_http: args.insecure_http,
        expect_ops_key: args.expect_ops_key.clone(),
        ca_file: args.ca_file.clone(),
    };
    let result = super::runtime()?.block_on(provision::provision(&request));
    match result {
        Ok(done) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                if let Some(old) = done.replaced {
                    println!("replaced the earlier enrolment as kiosk {old}");
                }
                println!(
                    "enrolled as kiosk {} in hall {} ({})",
                    done.kiosk_id, done.hall_id, done.hall_name
                );
                println!(
                    "hall code {}, kiosk number {} in the hall: application numbers start {}{}",
                    done.hall_code, done.kiosk_no, done.hall_code, done.kiosk_no
                );
                match &done.holder_keys_problem {
                    None => println!(
                        "holder keys: {} stored, sealed, for hashing ID numbers offline",
                        done.holder_keys
                    ),
                    Some(problem) => println!(
                        "holder keys: not fetched ({problem}); the kiosk fetches them itself once it reaches central"
                    ),
                }
                println!(
                    "offline queue numbers reserved for this kiosk: {}-{}",
                    done.number_band.first, done.number_band.last
                );
                println!("identity and key written to {}", done.data_dir.display());
                println!(
                    "configuration {} {}: [kiosk] id, number_band; [hall] id, name_zh; [central] url",
                    if done.config_created {
                        "created"
                    } else {
                        "updated"
                    },
                    done.config_path.display()
                );
                if done.config_created {
                    println!(
                        "  set [hall] name_en, help_window_zh, help_window_en and [devices] in it by hand"
                    );
                }
                println!(
                    "trust anchors written to {}: central {} and ops key {}; compare the key id with the one ops gave you",
                    done.trust_path.display(),
                    done.central_url,
                    done.ops_key_id
                );
                println!(
                    "next: `kioskctl devices`, then `kioskctl selftest --config {}`",
                    done.config_path.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let (code, kind) = match &e {
                ProvisionError::AlreadyEnrolled { .. } => {
                    (EXIT_ALREADY_ENROLLED, "already_enrolled")
                }
                ProvisionError::TokenRefused { .. } => (EXIT_TOKEN_REFUSED, "token_refused"),
                ProvisionError::Unreachable { .. } => (EXIT_UNREACHABLE, "unreachable"),
                ProvisionError::UntrustedCertificate { .. } => {
                    (EXIT_UNREACHABLE, "untrusted_certificate")
                }
                ProvisionError::CaFile { .. } => (EXIT_LOCAL, "ca_file"),
                ProvisionError::Config(_) | ProvisionError::DataDir { .. } => (EXIT_LOCAL, "local"),
                ProvisionError::ConfigAfterEnrol { .. } => (EXIT_LOCAL, "config_after_enrol"),
                ProvisionError::TrustAfterEnrol { .. } => (EXIT_LOCAL, "trust_after_enrol"),
                ProvisionError::PlainHttp(_) => (EXIT_LOCAL, "plain_http"),
                ProvisionError::OpsKeyMismatch { .. } => (EXIT_LOCAL, "ops_key_mismatch"),
                _ => (1, "refused"),
            };
            if args.json {
                let out = serde_json::json!({ "error": kind, "message": e.to_string() });
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            eprintln!("kioskctl provision: {e}");
            Ok(ExitCode::from(code))
        }
    }
}
