#![allow(clippy::unwrap_used)]
//! Enrolment over TLS with a hall's private CA: Debian's nginx terminates TLS in front of
//! `central serve` with a certificate that a CA made by openssl issued. Without `--ca-file`
//! the kiosk refuses central and spends nothing; with it, it enrols, keeps the CA for root
//! (trust.json) and for the app (kiosk.toml, identity), and talks to central through it; a
//! certificate from any other CA, public roots included, is refused.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kiosk_core::sync::Timeouts;
use kiosk_core::trust::Trust;
use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central::{Central, create_token, generate_ops_key};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA named `name` in `dir` (`NAME.pem`, `NAME.key`).
fn ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// A certificate for 127.0.0.1 issued by the CA `issuer` (`server.pem`, `server.key`).
fn server_certificate(dir: &Path, issuer: &str) {
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// nginx serving TLS on a free port and passing everything to `upstream`.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path, upstream: std::net::SocketAddr) -> Nginx {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.display();
        // As root, nginx hands requests to workers of another user unless told otherwise.
        let user = if nix::unistd::geteuid().is_root() {
            "user root;"
        } else {
            ""
        };
        let conf = format!(
            r#"{user}
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/client;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        location / {{
            proxy_pass http://{upstream};
            proxy_set_header Host $http_host;
        }}
    }}
}}
"#
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .unwrap_or("nginx");
        let child = Command::new(nginx)
            .args(["-e", &format!("{d}/nginx-error.log"), "-p"])
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen: {}",
                std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, port }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM to the master stops its workers too; KILL would leave them running.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.child.wait();
    }
}

fn provision(config: &Path, url: &str, token: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kioskctl"))
        .args(["provision", "--central", url, "--token", token, "--config"])
        .arg(config)
        .args(["--hostname", "kiosk-tls", "--data-dir"])
        .arg(config.parent().unwrap().parent().unwrap().join("data"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_private_ca_is_the_only_one_trusted_for_central_from_enrolment_on() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let exe = cargo_bin("central", "central").unwrap();
    let db = dir.join("central.db").to_str().unwrap().to_owned();
    generate_ops_key(&exe, &db, &dir.join("ops.pem")).unwrap();
    let central = Central::start(&exe, &db, &dir.join("central.log")).unwrap();
    let hall_ca = ca(dir, "hall-ca");
    let other_ca = ca(dir, "other-ca");
    server_certificate(dir, "hall-ca");
    let nginx = Nginx::start(dir, central.addr());
    let url = format!("https://127.0.0.1:{}", nginx.port);
    let token = create_token(&exe, &db, "hall-1", "东城区政务服务中心").unwrap();
    let etc = dir.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let config = etc.join("kiosk.toml");

    // Public roots only: refused, the technician told why, nothing written, the token kept.
    let out = provision(&config, &url, &token, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("does not trust") && err.contains("--ca-file"),
        "{err}"
    );
    assert!(!config.exists() && !etc.join("trust.json").exists());
    // Another CA: refused the same way.
    let out = provision(
        &config,
        &url,
        &token,
        &["--ca-file", other_ca.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not trust"));

    // The hall's CA: enrolled with the same token.
    let out = provision(
        &config,
        &url,
        &token,
        &["--ca-file", hall_ca.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read_to_string(&hall_ca).unwrap();
    let copy = etc.join("central-ca.pem");
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), pem);
    let loaded = Config::load(&config).unwrap();
    assert_eq!(
        loaded.central.as_ref().unwrap().ca_file.as_deref(),
        Some(copy.as_path())
    );
    let trust = Trust::load_owned(&etc.join("trust.json")).unwrap();
    assert_eq!(trust.central_ca_pem.as_deref(), Some(pem.as_str()));
    let data = dir.join("data");
    let identity = Identity::load(&data).unwrap().unwrap();
    assert_eq!(identity.central_ca_pem.as_deref(), Some(pem.as_str()));

    // The kiosk's signed calls go through the same CA.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = identity.client(&data, Timeouts::default()).unwrap();
    runtime.block_on(client.desired_state(None)).unwrap();
    // A kiosk that kept another CA cannot be talked round.
    let misled = Identity {
        central_ca_pem: Some(std::fs::read_to_string(&other_ca).unwrap()),
        ..identity
    };
    let client = misled.client(&data, Timeouts::default()).unwrap();
    let refused = runtime.block_on(client.desired_state(None)).unwrap_err();
    assert!(
        kiosk_core::sync::SyncError::to_string(&refused).contains("central at"),
        "{refused}"
    );
}
