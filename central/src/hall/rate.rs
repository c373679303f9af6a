//! The window's rating tablet (issue 16 item 5, 一次一评): `/hall/<hall>/window/<n>/rate/<secret>`
//! on a tablet mounted at the window, paired with it by `central queue tablet`.
//!
//! It waits until the window serves (办结) a ticket, then shows that ticket and five big
//! levels; a level of 1 or 2 asks for reasons; a thank-you follows, then it waits again. No
//! staff touch it: a stream (polling the database like the display's) tells it each ticket
//! to rate within [`super::POLL`] and a render, and tells it to wait again when the window
//! calls its next ticket or the time to rate is up. The page posts with `fetch` to its own
//! URL; the hall screens' CSP allows no forms and no inline script.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use kiosk_api::citizen::RATING_LEVELS;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::{Deserialize, Serialize};

use super::{POLL, Screens, feed, not_found, secured, trouble};
use crate::store::{RateError, RateableTicket, Store, WindowRating, window_reasons};

/// How long the thank-you (or a refusal) stays on the tablet before it waits again.
pub const THANKS_MILLIS: u32 = 4000;

const RATE_CSS: &str = r#"
body { font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 0; background: #f5f6f8; color: #1b1f24; font-size: 22px; user-select: none; }
main { max-width: 60em; margin: 0 auto; padding: 1em 1.4em; }
h1 { font-size: 1.5em; margin: 0.3em 0 0.6em; text-align: center; }
.ticket { font-size: 2.6em; font-weight: 700; text-align: center; margin: 0.1em 0 0.4em; color: #23395d; }
.muted { color: #555; text-align: center; }
section[hidden] { display: none; }
.levels, .reasons { display: grid; gap: 0.6em; }
.levels { grid-template-columns: repeat(5, 1fr); }
.levels button { min-height: 7em; font-size: 1.15em; }
.reasons { grid-template-columns: repeat(2, 1fr); }
button { font: inherit; min-height: 4.2em; border-radius: 0.5em; border: 2px solid #9aa7b8; background: #fff; color: #1b1f24; padding: 0.4em; cursor: pointer; }
button .en { display: block; font-size: 0.7em; color: #555; margin-top: 0.2em; }
button.level[data-level="5"], button.level[data-level="4"] { border-color: #17692f; }
button.level[data-level="2"], button.level[data-level="1"] { border-color: #b0201a; }
button.reason[aria-pressed="true"] { background: #23395d; color: #fff; border-color: #23395d; }
button.reason[aria-pressed="true"] .en { color: #dde6f3; }
.actions { display: flex; gap: 1em; justify-content: center; margin-top: 1em; }
.actions button { min-width: 10em; }
button.primary { background: #17692f; color: #fff; border-color: #17692f; }
button.primary .en { color: #e3f3e7; }
button:disabled { opacity: 0.45; }
.big { font-size: 2em; text-align: center; margin: 1.6em 0 0.4em; }
#message { text-align: center; font-size: 1.2em; }
"#;

/// What the tablet is told: a ticket to rate, or to wait (or that it is no longer paired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct RateMessage {
    state: &'static str,
    ticket_no: Option<String>,
    business_date: Option<NaiveDate>,
}

impl RateMessage {
    fn of(t: Option<&RateableTicket>) -> RateMessage {
        match t {
            Some(t) => RateMessage {
                state: "rate",
                ticket_no: Some(t.ticket_no.clone()),
                business_date: Some(t.business_date),
            },
            None => RateMessage {
                state: "wait",
                ticket_no: None,
                business_date: None,
            },
        }
    }
}

fn unpaired() -> Response {
    // The same answer for a wrong secret and a missing window: a stranger learns nothing.
    not_found("本设备未绑定此窗口 · This tablet is not paired with this window.")
}

fn tablet_page(hall: &str, window: u32, now: Option<&RateableTicket>) -> Markup {
    let m = RateMessage::of(now);
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (window) " 号窗口评价 · Rate window " (window) }
                style { (PreEscaped(RATE_CSS)) }
            }
            body {
                main id="rate" data-hall=(hall) data-window=(window) data-thanks-ms=(THANKS_MILLIS)
                    data-mode=(if m.state == "rate" { "levels" } else { "wait" })
                    data-ticket=[m.ticket_no.as_deref()] data-date=[m.business_date] {
                    section id="wait" hidden[m.state == "rate"] {
                        p class="big" { (window) " 号窗口 · Window " (window) }
                        p class="muted" { "办理完成后，请在此为本次服务评价。 · When your service is done, please rate it here." }
                    }
                    section id="levels" hidden[m.state != "rate"] {
                        h1 { "请为本次服务评价 · Please rate this service" }
                        p class="ticket" id="ticket-no" { (m.ticket_no.as_deref().unwrap_or("")) }
                        div class="levels" {
                            @for (level, zh, en) in RATING_LEVELS {
                                button type="button" class="level" data-level=(level) { (zh) span class="en" { (en) } }
                            }
                        }
                        p class="muted" { (window) " 号窗口 · Window " (window) " · 每张号评价一次 · one rating per ticket" }
                    }
                    section id="reasons" hidden {
                        h1 { "请选择不满意的原因（可多选） · What went wrong? (choose one or more)" }
                        div class="reasons" {
                            @for (code, zh, en) in window_reasons() {
                                button type="button" class="reason" data-reason=(code) aria-pressed="false" { (zh) span class="en" { (en) } }
                            }
                        }
                        div class="actions" {
                            button type="button" id="back" { "返回" span class="en" { "Back" } }
                            button type="button" id="submit" class="primary" disabled { "提交评价" span class="en" { "Submit" } }
                        }
                    }
                    section id="thanks" hidden {
                        p class="big" id="thanks-title" { "感谢您的评价！" }
                        p id="message" { "Thank you for your rating!" }
                    }
                }
                script src="/hall-assets/rate.js" {}
            }
        }
    }
}

/// `GET /hall/{hall}/window/{window}/rate/{secret}`.
pub(super) async fn tablet(
    State(s): State<Screens>,
    Path((hall, window, secret)): Path<(String, u32, String)>,
) -> Response {
    match s.store.tablet_paired(&hall, window, &secret).await {
        Ok(true) => {}
        Ok(false) => return unpaired(),
        Err(e) => return trouble(&e),
    }
    match s.store.rateable_ticket(&hall, window, Utc::now()).await {
        Ok(t) => secured(tablet_page(&hall, window, t.as_ref()).into_response()),
        Err(e) => trouble(&e),
    }
}

struct RateFeed {
    store: Store,
    hall: String,
    window: u32,
    secret: String,
    sent: Option<RateMessage>,
}

async fn rate_tick(mut f: RateFeed) -> (Vec<Event>, RateFeed) {
    let mut events = Vec::new();
    // Paired again elsewhere: this tablet stops, as its next rating would be refused.
    let message = match f.store.tablet_paired(&f.hall, f.window, &f.secret).await {
        Ok(false) => Some(RateMessage {
            state: "unpaired",
            ticket_no: None,
            business_date: None,
        }),
        Ok(true) => match f.store.rateable_ticket(&f.hall, f.window, Utc::now()).await {
            Ok(t) => Some(RateMessage::of(t.as_ref())),
            Err(e) => {
                tracing::warn!(error = %e, hall = %f.hall, window = f.window, "rating stream could not read the window; retrying");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, hall = %f.hall, window = f.window, "rating stream could not check its tablet; retrying");
            None
        }
    };
    if let Some(message) = message
        && f.sent.as_ref() != Some(&message)
    {
        events.extend(Event::default().event("rating").json_data(&message).ok());
        f.sent = Some(message);
    }
    (events, f)
}

/// `GET /hall/{hall}/window/{window}/rate/{secret}/events`.
pub(super) async fn tablet_events(
    State(s): State<Screens>,
    Path((hall, window, secret)): Path<(String, u32, String)>,
) -> Response {
    match s.store.tablet_paired(&hall, window, &secret).await {
        Ok(true) => {}
        Ok(false) => return unpaired(),
        Err(e) => return trouble(&e),
    }
    let state = RateFeed {
        store: s.store.clone(),
        hall,
        window,
        secret,
        sent: None,
    };
    feed(state, POLL, s.closing.clone(), rate_tick).into_response()
}

/// A rating as the tablet's script posts it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    business_date: NaiveDate,
    ticket_no: String,
    level: u8,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Serialize)]
struct RateAnswer {
    ok: bool,
    /// `rated`, or what was wrong: `not_paired`, `invalid`, `not_rateable`, `already_rated`,
    /// `unavailable`.
    outcome: &'static str,
    /// For the citizen, in Chinese and English.
    message: &'static str,
}

fn answer(status: StatusCode, outcome: &'static str, message: &'static str) -> Response {
    let ok = status == StatusCode::OK;
    secured(
        (
            status,
            axum::Json(RateAnswer {
                ok,
                outcome,
                message,
            }),
        )
            .into_response(),
    )
}

/// `POST /hall/{hall}/window/{window}/rate/{secret}`: JSON [`RateBody`]; answers JSON with a
/// message for the citizen whatever happened.
pub(super) async fn rate(
    State(s): State<Screens>,
    Path((hall, window, secret)): Path<(String, u32, String)>,
    body: Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<RateBody>(&body) else {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "无法读取评价，请重试。 · The rating could not be read; please try again.",
        );
    };
    let rating = WindowRating {
        secret,
        business_date: body.business_date,
        ticket_no: body.ticket_no,
        level: body.level,
        reasons: body.reasons,
        note: body.note,
    };
    match s
        .store
        .rate_at_window(&hall, window, &rating, Utc::now())
        .await
    {
        Ok(_) => answer(
            StatusCode::OK,
            "rated",
            "感谢您的评价！ · Thank you for your rating!",
        ),
        Err(e) => {
            let (status, outcome) = match &e {
                RateError::NotPaired { .. } => (StatusCode::NOT_FOUND, "not_paired"),
                RateError::BadLevel(_)
                | RateError::ReasonsRequired
                | RateError::BadReason(_)
                | RateError::NoteTooLong => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
                RateError::NotRateable { .. } => (StatusCode::CONFLICT, "not_rateable"),
                RateError::AlreadyRated { .. } => (StatusCode::CONFLICT, "already_rated"),
                RateError::Store(e) => {
                    tracing::error!(error = %e, "window rating failed in the database");
                    (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
                }
            };
            if !matches!(e, RateError::Store(_)) {
                tracing::info!(%hall, window, error = %e, "window rating refused");
            }
            answer(status, outcome, e.citizen_message())
        }
    }
}

/// The tablet's script: follows the stream, takes a level (and reasons for 1 and 2), posts
/// it, thanks the citizen for [`THANKS_MILLIS`], then shows what the stream last said.
/// `main[data-mode]` is what it shows: wait, levels, reasons, sending, thanks, unpaired.
pub(super) const RATE_JS: &str = r#""use strict";
(function () {
  const root = document.getElementById("rate");
  const base = location.pathname.replace(/\/+$/, "");
  const thanksMs = Number(root.dataset.thanksMs) || 4000;
  const sections = ["wait", "levels", "reasons", "thanks"];
  let latest = root.dataset.ticket
    ? { state: "rate", ticket_no: root.dataset.ticket, business_date: root.dataset.date }
    : { state: "wait" };
  let shown = latest.state === "rate" ? latest : null;
  let level = null;
  let holding = false;
  function show(mode, section) {
    root.dataset.mode = mode;
    for (const s of sections) document.getElementById(s).hidden = s !== section;
  }
  function clearReasons() {
    for (const b of document.querySelectorAll("button.reason")) b.setAttribute("aria-pressed", "false");
    document.getElementById("submit").disabled = true;
  }
  function apply() {
    if (holding) return;
    if (latest.state === "unpaired") {
      shown = null;
      document.getElementById("thanks-title").textContent = "本设备未绑定此窗口";
      document.getElementById("message").textContent = "This tablet is not paired with this window; please tell the staff.";
      show("unpaired", "thanks");
      return;
    }
    if (latest.state !== "rate") {
      shown = null;
      show("wait", "wait");
      return;
    }
    const same = shown && shown.ticket_no === latest.ticket_no && shown.business_date === latest.business_date;
    if (same && root.dataset.mode === "reasons") return;
    shown = latest;
    level = null;
    clearReasons();
    document.getElementById("ticket-no").textContent = latest.ticket_no;
    show("levels", "levels");
  }
  function thank(title, message) {
    holding = true;
    document.getElementById("thanks-title").textContent = title;
    document.getElementById("message").textContent = message;
    show("thanks", "thanks");
    setTimeout(function () { holding = false; apply(); }, thanksMs);
  }
  async function send(reasons) {
    if (!shown) return;
    holding = true;
    root.dataset.mode = "sending";
    const body = { business_date: shown.business_date, ticket_no: shown.ticket_no, level: level, reasons: reasons };
    let answer = null;
    try {
      const r = await fetch(base, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      answer = await r.json();
    } catch (e) {
      answer = { ok: false, outcome: "unavailable", message: "暂时无法提交，请稍后再试。 · Your rating could not be sent; please try again in a moment." };
    }
    root.dataset.outcome = answer.outcome;
    const [zh, en] = String(answer.message).split(" · ");
    thank(answer.ok ? "感谢您的评价！" : zh, answer.ok ? "Thank you for your rating!" : (en || ""));
  }
  for (const b of document.querySelectorAll("button.level")) {
    b.addEventListener("click", function () {
      level = Number(b.dataset.level);
      if (level <= 2) {
        clearReasons();
        show("reasons", "reasons");
      } else {
        send([]);
      }
    });
  }
  for (const b of document.querySelectorAll("button.reason")) {
    b.addEventListener("click", function () {
      b.setAttribute("aria-pressed", b.getAttribute("aria-pressed") === "true" ? "false" : "true");
      document.getElementById("submit").disabled = !document.querySelector('button.reason[aria-pressed="true"]');
    });
  }
  document.getElementById("back").addEventListener("click", function () {
    level = null;
    show("levels", "levels");
  });
  document.getElementById("submit").addEventListener("click", function () {
    const reasons = Array.from(document.querySelectorAll('button.reason[aria-pressed="true"]')).map(function (b) { return b.dataset.reason; });
    if (reasons.length > 0) send(reasons);
  });
  const events = new EventSource(base + "/events");
  events.addEventListener("open", function () { root.dataset.stream = "live"; });
  events.addEventListener("error", function () { root.dataset.stream = "stale"; });
  events.addEventListener("rating", function (e) {
    latest = JSON.parse(e.data);
    apply();
  });
})();
"#;
