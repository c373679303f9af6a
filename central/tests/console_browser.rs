//! The ops console in a real browser: Debian's headless `chromium`, driven over the Chrome
//! DevTools Protocol on `--remote-debugging-pipe` (NUL-separated JSON on fds 3 and 4; no
//! WebSocket, no extra crate). It types the credentials, clicks the buttons and links, and
//! reads what the pages show, which must be what a kiosk sent through the API.
//!
//! Without chromium the test is skipped loudly, or fails when CI=true.
#![allow(clippy::unwrap_used)]

mod common;
mod ops_common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Central, databases};
use kiosk_api::{EnrolRequest, Enrolment, keys, routes};
use ops_common::report_health;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(|name| {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {name}")])
                .output()
                .ok()?;
            found
                .status
                .success()
                .then(|| String::from_utf8_lossy(&found.stdout).trim().to_owned())
        })
}

/// A headless chromium and one page in it.
struct Chrome {
    child: Child,
    commands: ChildStdin,
    messages: mpsc::Receiver<Value>,
    // Events that arrived while a command waited for its answer.
    events: Vec<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Chrome {
    fn start(binary: &str) -> Chrome {
        let profile = tempfile::tempdir().unwrap();
        // The shell hands our stdin/stdout pipes to chromium as fds 3 and 4, where
        // --remote-debugging-pipe expects them, and gives its own stdin/stdout /dev/null.
        let script = format!(
            "exec '{binary}' --headless=new --remote-debugging-pipe --no-sandbox --disable-gpu \
             --disable-dev-shm-usage --no-first-run --no-default-browser-check --disable-extensions \
             --user-data-dir='{}' about:blank 3<&0 4>&1 0</dev/null 1>/dev/null",
            profile.path().display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let commands = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            loop {
                let mut message = Vec::new();
                match out.read_until(0, &mut message) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        message.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&message)
                            && tx.send(v).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let mut chrome = Chrome {
            child,
            commands,
            messages,
            events: Vec::new(),
            next_id: 1,
            session: String::new(),
            _profile: profile,
        };
        let target = chrome.call("Target.createTarget", json!({"url": "about:blank"}), false);
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = chrome.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
            false,
        );
        chrome.session = attached["sessionId"].as_str().unwrap().to_owned();
        chrome.call("Page.enable", json!({}), true);
        chrome
    }

    /// Sends a command and waits for its answer (events meanwhile are kept).
    fn call(&mut self, method: &str, params: Value, in_page: bool) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"id": id, "method": method, "params": params});
        if in_page {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        self.commands.flush().unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .messages
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("chromium did not answer {method} within {WAIT:?}"));
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method} failed: {m}");
                return m["result"].clone();
            }
            if m.get("method").is_some() {
                self.events.push(m);
            }
        }
    }

    /// Runs `action` (which navigates) and waits until the new page has loaded.
    fn and_wait_for_load(&mut self, action: impl FnOnce(&mut Chrome)) {
        // Drop stale events first, so only this navigation's load counts.
        while self.messages.try_recv().is_ok() {}
        self.events.clear();
        action(self);
        if self
            .events
            .drain(..)
            .any(|m| m["method"] == "Page.loadEventFired")
        {
            return;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .messages
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("page did not load within {WAIT:?}"));
            if m["method"] == "Page.loadEventFired" {
                return;
            }
        }
    }

    fn navigate(&mut self, url: &str) {
        self.and_wait_for_load(|c| {
            c.call("Page.navigate", json!({"url": url}), true);
        });
    }

    /// Evaluates JavaScript in the page (the test's probe; the console itself has none).
    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
            true,
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    fn text(&mut self, selector: &str) -> String {
        let v = self.eval(&format!(
            "(document.querySelector({s}) || {{innerText: ''}}).innerText",
            s = json!(selector)
        ));
        v.as_str().unwrap_or_default().to_owned()
    }

    /// With CONSOLE_SCREENSHOTS=DIR set, saves the page as DIR/NAME.png for review.
    fn screenshot(&mut self, name: &str) {
        let Some(dir) = std::env::var_os("CONSOLE_SCREENSHOTS") else {
            return;
        };
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
            true,
        );
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
            true,
        );
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str().unwrap(),
        )
        .unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }

    /// Focuses an input and types into it as a keyboard would.
    fn type_into(&mut self, selector: &str, text: &str) {
        self.eval(&format!(
            "document.querySelector({}).focus()",
            json!(selector)
        ));
        self.call("Input.insertText", json!({"text": text}), true);
    }

    /// Clicks the middle of an element with the mouse.
    fn click(&mut self, selector: &str) {
        self.eval(&format!(
            "document.querySelector({}).scrollIntoView()",
            json!(selector)
        ));
        // A point of the element's line boxes that really hits it (or a child of it).
        let point = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); \
               for (const r of e.getClientRects()) {{ \
                 for (const [fx, fy] of [[0.5, 0.5], [0.2, 0.5], [0.5, 0.3], [0.5, 0.7]]) {{ \
                   const x = r.x + r.width * fx, y = r.y + r.height * fy; \
                   const hit = document.elementFromPoint(x, y); \
                   if (hit && e.contains(hit)) return [x, y]; }} }} \
               return null; }})()",
            json!(selector)
        ));
        assert!(point.is_array(), "{selector} is not visible to click");
        let (x, y) = (point[0].as_f64().unwrap(), point[1].as_f64().unwrap());
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
            true,
        );
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1}),
                true,
            );
        }
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
