#![allow(clippy::unwrap_used)]
//! The self-test's clock check against an HTTP server whose clock is ten minutes behind: the
//! skew is read from the `Date` header of a real HTTP answer, reported, and fails the check.
//! Called through the library, as the kiosk app's technician screen calls it.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use kiosk_api::{NumberBand, keys};
use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kioskctl::selftest::{self, DeviceProbe, Options, Outcome};

/// Answers every request with 200 and a `Date` `behind` in the past.
fn slow_clock_server(behind: chrono::Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let date = (chrono::Utc::now() - behind).format("%a, %d %b %Y %H:%M:%S GMT");
            let answer = format!(
                "HTTP/1.1 200 OK\r\ndate: {date}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    format!("http://{addr}")
}

fn provisioned_config(dir: &std::path::Path, url: &str) -> Config {
    let data = dir.join("data");
    let identity = Identity {
        kiosk_id: uuid::Uuid::now_v7(),
        hall_id: "dongcheng-main".into(),
        hall_name: "东城区政务服务中心".into(),
        number_band: NumberBand {
            first: 950,
            last: 999,
        },
        ops_public_key: keys::public_key_to_base64(&keys::generate().verifying_key()),
        release_public_key: None,
        revoked_key_ids: Vec::new(),
        central_ca_pem: None,
        central_url: url.to_owned(),
        hall_code: kiosk_api::HallCode::new(12).unwrap(),
        kiosk_no: kiosk_api::KioskNo::new(3).unwrap(),
    };
    identity.save(&data, &keys::generate()).unwrap();
    Config::parse(
        &format!(
            r#"[kiosk]
id = "{id}"
data_dir = "{data}"
number_band = {{ first = 950, last = 999 }}

[hall]
name_zh = "东城区政务服务中心"
name_en = "Dongcheng District Government Service Center"
help_window_zh = "1号综合咨询台"
help_window_en = "Information desk 1"

[central]
url = "{url}"
"#,
            id = identity.kiosk_id,
            data = data.display(),
        ),
        "kiosk.toml",
    )
    .unwrap()
}

#[tokio::test]
async fn a_central_ten_minutes_behind_fails_the_clock_check_with_the_skew() {
    let dir = tempfile::tempdir().unwrap();
    let url = slow_clock_server(chrono::Duration::minutes(10));
    let config = provisioned_config(dir.path(), &url);
    let options = Options {
        devices: DeviceProbe::Reported(Vec::new()),
        central_timeout: Duration::from_secs(5),
        ..Options::default()
    };
    let report = selftest::run(&config, &options).await;
    let clock = report.check(selftest::names::CLOCK).unwrap();
    assert_eq!(clock.outcome, Outcome::Fail, "{}", report.to_text());
    assert!(
        clock.summary.contains("600 s ahead of"),
        "{}",
        clock.summary
    );
    let skew = clock.detail["skew_secs"].as_f64().unwrap();
    assert!((skew - 600.0).abs() < 2.0, "{skew}");
    // Everything else this kiosk has is fine: only the clock is listed.
    assert_eq!(
        report.failures,
        vec!["clock".to_owned()],
        "{}",
        report.to_text()
    );
    assert_eq!(
        report.check(selftest::names::IDENTITY).unwrap().outcome,
        Outcome::Pass
    );
    assert_eq!(
        report.check(selftest::names::CENTRAL).unwrap().outcome,
        Outcome::Pass
    );
    assert_eq!(
        report.check(selftest::names::PRINTER).unwrap().outcome,
        Outcome::Skip
    );
}

#[tokio::test]
async fn an_unprovisioned_kiosk_is_told_to_provision_and_central_is_not_asked() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(
        &format!(
            r#"[kiosk]
data_dir = "{}"

[hall]
name_zh = "东城区政务服务中心"
name_en = "Dongcheng District Government Service Center"
help_window_zh = "1号综合咨询台"
help_window_en = "Information desk 1"
"#,
            dir.path().join("data").display()
        ),
        "kiosk.toml",
    )
    .unwrap();
    let report = selftest::run(&config, &Options::default()).await;
    assert!(!report.passed);
    assert_eq!(report.failures, vec!["identity", "central"]);
    let identity = report.check(selftest::names::IDENTITY).unwrap();
    assert!(
        identity
            .advice
            .as_deref()
            .unwrap()
            .contains("kioskctl provision"),
        "{}",
        report.to_text()
    );
    assert_eq!(
        report.check(selftest::names::CLOCK).unwrap().outcome,
        Outcome::Skip
    );
}
