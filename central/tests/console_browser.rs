//! The ops console in a real browser: Debian's headless `chromium`, driven over the Chrome
//! DevTools Protocol on `--remote-debugging-pipe` (NUL-separated JSON on fds 3 and 4; no
//! WebSocket, no extra crate). It types the credentials, clicks the buttons and links, and
//! reads what the pages show, which must be what a kiosk sent through the API.
//!
//! Without chromium the test is skipped loudly, or fails when CI=true.
#![allow(clippy::unwrap_used)]

mod common;
mod ops_common;

use common::chrome::{Chrome, chromium};
use common::{Central, databases};
use kiosk_api::{EnrolRequest, Enrolment, keys, routes};
use ops_common::report_health;
use serde_json::json;

#[tokio::test]
async fn headless_chromium_logs_in_reads_the_fleet_and_follows_a_kiosk_link() {
    let Some(binary) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is not installed but CI=true: apt-get install chromium");
        }
        eprintln!(
            "\n!!!! SKIPPING the headless browser test of the ops console: chromium is not installed.\n!!!! Run `apt-get install chromium` to test the console in a real browser.\n"
        );
        return;
    };
    for db in databases().await {
        let central = Central::start(&db).await;
        central
            .store
            .add_console_user(
                "ops-zhang",
                "correct horse battery",
                central::store::Role::Admin,
            )
            .await
            .unwrap();
        // What the kiosk tells central through the API is what the pages must show.
        let key = keys::generate();
        let token = central.token("dongcheng-main").await;
        let enrolled = central
            .http
            .post(format!("{}{}", central.base, routes::ENROLMENTS))
            .json(&EnrolRequest {
                token,
                public_key: keys::public_key_to_base64(&key.verifying_key()),
                hostname: "dongcheng-lobby-2".into(),
                version: "0.1.0".into(),
            })
            .send()
            .await
            .unwrap();
        let enrolment: Enrolment = enrolled.json().await.unwrap();
        let kiosk = common::Kiosk {
            key,
            enrolment,
            base: central.base.clone(),
            http: central.http.clone(),
            clock_skew: 0,
        };
        report_health(
            &kiosk,
            json!({"version": "0.1.3", "devices": [
                {"kind": "printer", "state": "degraded", "detail": "paper_low"},
                {"kind": "id_card_reader", "state": "ready"}
            ], "backlog": 42, "disk_free_bytes": 1073741824u64, "session_active": true}),
        )
        .await;
        let kiosk_id = kiosk.id().to_string();
        let base = central.base.clone();
        let name = db.name;
        let binary = binary.clone();

        tokio::task::spawn_blocking(move || {
            let mut chrome = Chrome::start(&binary);
            chrome.navigate(&format!("{base}/console/fleet"));
            // Not signed in: the console sent us to its login form.
            assert_eq!(chrome.eval("location.pathname"), "/console/login", "{name}");
            chrome.type_into("#user", "ops-zhang");
            chrome.type_into("#password", "correct horse battery");
            chrome.and_wait_for_load(|c| c.click("button[type=submit]"));
            assert_eq!(chrome.eval("location.pathname"), "/console/fleet");
            let cookie_visible = chrome.eval("document.cookie");
            assert_eq!(cookie_visible, "", "the session cookie is HttpOnly");

            chrome.screenshot(&format!("fleet-{name}"));
            let row = chrome.text(&format!("tr[data-kiosk='{kiosk_id}']"));
            assert!(row.contains("dongcheng-lobby-2"), "{row}");
            assert!(row.contains("在线 online"), "{row}");
            assert!(row.contains("0.1.3"), "{row}");
            assert!(row.contains("纸将尽 paper low"), "{row}");
            assert!(row.contains("42"), "{row}");

            chrome.and_wait_for_load(|c| {
                c.click(&format!("a[href='/console/kiosks/{kiosk_id}']"));
            });
            assert_eq!(
                chrome.eval("location.pathname"),
                format!("/console/kiosks/{kiosk_id}").as_str()
            );
            let detail = chrome.text("#kiosk");
            assert!(detail.contains(&kiosk_id), "{detail}");
            assert!(detail.contains("dongcheng-lobby-2"), "{detail}");
            assert!(detail.contains("42 条 events"), "{detail}");
            assert!(detail.contains("1024 MiB"), "{detail}");
            chrome.screenshot(&format!("kiosk-{name}"));
            let devices = chrome.text("#devices");
            assert!(devices.contains("打印机 printer"), "{devices}");
            assert!(devices.contains("需注意 degraded"), "{devices}");
            let history = chrome.text("#health-history");
            assert!(history.contains("0.1.3"), "{history}");

            // Logging out with the page's button leads back to the login form.
            chrome.and_wait_for_load(|c| c.click("header button[type=submit]"));
            assert_eq!(chrome.eval("location.pathname"), "/console/login");
            chrome.navigate(&format!("{base}/console/fleet"));
            assert_eq!(chrome.eval("location.pathname"), "/console/login");
        })
        .await
        .unwrap();
        central.stop().await;
    }
}
