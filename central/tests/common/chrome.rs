//! Debian's headless `chromium`, driven over the Chrome DevTools Protocol on
//! `--remote-debugging-pipe` (NUL-separated JSON on fds 3 and 4; no WebSocket, no extra
//! crate), for the tests of pages in a real browser.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const WAIT: Duration = Duration::from_secs(30);

pub fn chromium() -> Option<String> {
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
pub struct Chrome {
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
    pub fn start(binary: &str) -> Chrome {
        Chrome::start_with(binary, &[])
    }

    /// A headless chromium with `extra` flags.
    pub fn start_with(binary: &str, extra: &[&str]) -> Chrome {
        let profile = tempfile::tempdir().unwrap();
        // The shell hands our stdin/stdout pipes to chromium as fds 3 and 4, where
        // --remote-debugging-pipe expects them, and gives its own stdin/stdout /dev/null.
        let script = format!(
            "exec '{binary}' --headless=new --remote-debugging-pipe --no-sandbox --disable-gpu \
             --disable-dev-shm-usage --no-first-run --no-default-browser-check --disable-extensions \
             --user-data-dir='{}' {} about:blank 3<&0 4>&1 0</dev/null 1>/dev/null",
            profile.path().display(),
            extra.join(" ")
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
    pub fn call(&mut self, method: &str, params: Value, in_page: bool) -> Value {
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
    pub fn and_wait_for_load(&mut self, action: impl FnOnce(&mut Chrome)) {
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

    pub fn navigate(&mut self, url: &str) {
        self.and_wait_for_load(|c| {
            c.call("Page.navigate", json!({"url": url}), true);
        });
    }

    /// Evaluates JavaScript in the page (the test's probe; the console itself has none).
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
            true,
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    pub fn text(&mut self, selector: &str) -> String {
        let v = self.eval(&format!(
            "(document.querySelector({s}) || {{innerText: ''}}).innerText",
            s = json!(selector)
        ));
        v.as_str().unwrap_or_default().to_owned()
    }

    /// With CONSOLE_SCREENSHOTS=DIR set, saves the page as DIR/NAME.png for review.
    pub fn screenshot(&mut self, name: &str) {
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
    pub fn type_into(&mut self, selector: &str, text: &str) {
        self.eval(&format!(
            "document.querySelector({}).focus()",
            json!(selector)
        ));
        self.call("Input.insertText", json!({"text": text}), true);
    }

    /// Clicks the middle of an element with the mouse.
    pub fn click(&mut self, selector: &str) {
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
