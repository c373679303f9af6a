//! The hall's public screens (issue 16 items 2 and 3), served by `central serve`:
//!
//! - `/hall/<hall>/display`, for a TV running Chromium in kiosk mode: the ticket each window
//!   serves, the last calls, the waiting count and estimated wait per category; each call is
//!   announced with a chime and then by voice in Mandarin and English, one at a time.
//! - `/hall/<hall>/window/<n>/rate/<secret>`, the rating tablet at a window (item 5, 一次一评;
//!   `rate.rs`): rates the ticket the window has just served, paired by an unguessable secret.
//! - `/t/<token>`, a ticket's live page, reached from the ticket's QR code by an unguessable
//!   token: its number, the people ahead, the estimated wait and, once called, the window; or
//!   an application's progress, from the receipt's QR code. No personal data is on any page.
//!
//! All are server-rendered with maud and then kept current by server-sent events. Each
//! stream polls the database (every node reads the same tables, so a call made on any node
//! reaches every screen), and ends when the server shuts down so it never holds a shutdown.

mod rate;
pub mod speech;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use futures::StreamExt as _;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Serialize;
use tokio::sync::watch;

use crate::store::{Board, CallRow, Store, StoreError, TicketLive};
use kiosk_api::citizen::{ApplicationProgress, ApplicationStatus};
use speech::{Language, Voice};

/// How often the display's stream looks for news: a call reaches the hall's screens within
/// this and a render.
pub const POLL: Duration = Duration::from_millis(300);
/// How often a live page's stream looks: a phone may lag a little, and there are many.
pub const LIVE_POLL: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct Screens {
    store: Store,
    voice: Voice,
    closing: watch::Receiver<bool>,
}

/// The routes of the display, the announcements and the live pages. `closing` turns true
/// when the server begins to shut down; the event streams end then.
pub fn router<S: Clone + Send + Sync + 'static>(
    store: Store,
    voice: Voice,
    closing: watch::Receiver<bool>,
) -> Router<S> {
    Router::new()
        .route("/hall/{hall}/display", get(display))
        .route("/hall/{hall}/events", get(display_events))
        .route("/hall/{hall}/calls/{id}/{lang}", get(announcement))
        .route("/hall-assets/chime.wav", get(chime))
        .route("/hall-assets/display.js", get(|| script(DISPLAY_JS)))
        .route("/hall-assets/live.js", get(|| script(LIVE_JS)))
        .route("/hall-assets/rate.js", get(|| script(rate::RATE_JS)))
        .route(
            "/hall/{hall}/window/{window}/rate/{secret}",
            get(rate::tablet)
                .post(rate::rate)
                .layer(axum::extract::DefaultBodyLimit::max(4096)),
        )
        .route(
            "/hall/{hall}/window/{window}/rate/{secret}/events",
            get(rate::tablet_events),
        )
        .route("/t/{token}", get(live))
        .route("/t/{token}/events", get(live_events))
        .with_state(Screens {
            store,
            voice,
            closing,
        })
}

fn secured(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn script(body: &'static str) -> Response {
    secured(
        (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

fn trouble(e: &StoreError) -> Response {
    tracing::error!(error = %e, "hall screen failed in the database");
    secured(
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "数据库暂不可用 · Database unavailable; reload in a moment.",
        )
            .into_response(),
    )
}

fn not_found(what: &str) -> Response {
    secured((StatusCode::NOT_FOUND, what.to_owned()).into_response())
}

async fn hall_exists(store: &Store, hall: &str) -> Result<bool, StoreError> {
    Ok(store.halls().await?.iter().any(|h| h.id == hall))
}

const CSS: &str = r#"
body { font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 0; background: #0f2740; color: #fff; }
main { padding: 1.2em 2em; }
h1 { font-size: 2.2em; margin: 0 0 0.4em; }
h2 { font-size: 1.4em; margin: 1em 0 0.4em; color: #cfe0f5; }
table { border-collapse: collapse; width: 100%; font-size: 1.6em; }
th, td { border-bottom: 1px solid #35557a; padding: 0.3em 0.6em; text-align: left; }
th { color: #cfe0f5; font-weight: 600; }
.num { font-weight: 700; color: #ffd23f; }
#latest { font-size: 2.6em; background: #17406a; padding: 0.4em 0.6em; border-radius: 0.3em; min-height: 1.4em; }
.cols { display: grid; grid-template-columns: 2fr 1fr; gap: 2em; }
"#;

const LIVE_CSS: &str = r#"
body { font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 0; background: #f5f6f8; color: #1b1f24; font-size: 18px; }
main { max-width: 32em; margin: 0 auto; padding: 1em; }
.ticket { font-size: 3.4em; font-weight: 700; text-align: center; margin: 0.2em 0; color: #23395d; }
.box { background: #fff; border: 1px solid #d5d9e0; border-radius: 0.5em; padding: 0.8em 1em; margin: 0.8em 0; }
.called { background: #17692f; color: #fff; font-size: 1.6em; text-align: center; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.4em 1em; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; }
.muted { color: #666; font-size: 0.85em; }
"#;

fn minutes(secs: Option<u32>) -> String {
    match secs {
        Some(s) => format!("约 {m} 分钟 · about {m} min", m = s.div_ceil(60)),
        None => "暂无估计 · no estimate yet".to_owned(),
    }
}

fn display_page(hall: &str, board: &Board) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "叫号 · Calls · " (hall) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main id="display" data-hall=(hall) {
                    h1 { "叫号 · Now calling" }
                    div id="latest" {
                        @if let Some(c) = board.recent.first() {
                            (speech::sentence(&c.ticket_no, c.window_no, Language::Zh))
                        }
                    }
                    div class="cols" {
                        div {
                            h2 { "窗口 · Windows" }
                            table {
                                thead { tr { th { "窗口 Window" } th { "办理中 Serving" } } }
                                tbody id="windows" {
                                    @for (w, t) in &board.windows {
                                        tr data-window=(w) {
                                            td { (w) " 号窗口" }
                                            td class="num" { (t.as_deref().unwrap_or("—")) }
                                        }
                                    }
                                }
                            }
                            h2 { "等候 · Waiting" }
                            table {
                                thead { tr { th { "类别 Category" } th { "等候人数 Waiting" } th { "预计等候 Estimated wait" } } }
                                tbody id="queues" {
                                    @for q in &board.queues {
                                        tr data-category=(q.category) {
                                            td { (q.category) }
                                            td { (q.waiting) }
                                            td { (minutes(q.wait_secs)) }
                                        }
                                    }
                                }
                            }
                        }
                        div {
                            h2 { "最近叫号 · Last calls" }
                            table {
                                tbody id="recent" {
                                    @for c in &board.recent {
                                        tr {
                                            td class="num" { (c.ticket_no) }
                                            td { (c.window_no) " 号窗口" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                script src="/hall-assets/display.js" {}
            }
        }
    }
}

async fn display(State(s): State<Screens>, Path(hall): Path<String>) -> Response {
    match hall_exists(&s.store, &hall).await {
        Ok(true) => {}
        Ok(false) => return not_found("no such hall"),
        Err(e) => return trouble(&e),
    }
    match s.store.board(&hall, Utc::now()).await {
        Ok(board) => secured(display_page(&hall, &board).into_response()),
        Err(e) => trouble(&e),
    }
}

/// A call as the display's script gets it: what to show and the clips to play.
#[derive(Serialize)]
struct CallMessage<'a> {
    id: i64,
    ticket_no: &'a str,
    window_no: u32,
    recall: bool,
    text_zh: String,
    text_en: String,
    zh: String,
    en: String,
}

fn call_event(hall: &str, c: &CallRow) -> Option<Event> {
    let message = CallMessage {
        id: c.id,
        ticket_no: &c.ticket_no,
        window_no: c.window_no,
        recall: c.recall,
        text_zh: speech::sentence(&c.ticket_no, c.window_no, Language::Zh),
        text_en: speech::sentence(&c.ticket_no, c.window_no, Language::En),
        zh: format!("/hall/{hall}/calls/{}/zh", c.id),
        en: format!("/hall/{hall}/calls/{}/en", c.id),
    };
    Event::default()
        .event("call")
        .id(c.id.to_string())
        .json_data(&message)
        .ok()
}

/// Polls `next` every `poll` until it has events, and ends the stream when the server
/// begins to shut down.
fn feed<T, F, Fut>(
    state: T,
    poll: Duration,
    closing: watch::Receiver<bool>,
    next: F,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = (Vec<Event>, T)> + Send,
{
    let mut stop = closing.clone();
    let ended = async move {
        // A dropped sender means the server is gone: end as well.
        let _ = stop.wait_for(|closing| *closing).await;
    };
    let stream = futures::stream::unfold((state, true), move |(mut state, first)| async move {
        if !first {
            tokio::time::sleep(poll).await;
        }
        loop {
            let (events, after) = next(state).await;
            state = after;
            if !events.is_empty() {
                return Some((events, (state, false)));
            }
            tokio::time::sleep(poll).await;
        }
    })
    .flat_map(|events| futures::stream::iter(events.into_iter().map(Ok)))
    .take_until(Box::pin(ended));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

struct DisplayFeed {
    store: Store,
    hall: String,
    last: i64,
    board: Option<Board>,
}

async fn display_tick(mut f: DisplayFeed) -> (Vec<Event>, DisplayFeed) {
    let mut events = Vec::new();
    let now = Utc::now();
    match f.store.calls_after(&f.hall, f.last, None, now).await {
        Ok(calls) => {
            for c in &calls {
                f.last = f.last.max(c.id);
                events.extend(call_event(&f.hall, c));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, hall = %f.hall, "display stream could not read calls; retrying")
        }
    }
    match f.store.board(&f.hall, now).await {
        Ok(board) if f.board.as_ref() != Some(&board) => {
            if let Ok(e) = Event::default().event("board").json_data(&board) {
                // The board first, so the screen shows a call before its voice starts.
                events.insert(0, e);
            }
            f.board = Some(board);
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, hall = %f.hall, "display stream could not read the board; retrying")
        }
    }
    (events, f)
}

async fn display_events(
    State(s): State<Screens>,
    Path(hall): Path<String>,
    headers: HeaderMap,
) -> Response {
    match hall_exists(&s.store, &hall).await {
        Ok(true) => {}
        Ok(false) => return not_found("no such hall"),
        Err(e) => return trouble(&e),
    }
    // A reconnecting display resumes after the last call it got (nothing announced twice,
    // nothing skipped); a new one starts from now, without announcing the morning's calls.
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let last = match resumed {
        Some(id) => id,
        None => match s.store.last_call_id(&hall).await {
            Ok(id) => id,
            Err(e) => return trouble(&e),
        },
    };
    let state = DisplayFeed {
        store: s.store.clone(),
        hall,
        last,
        board: None,
    };
    feed(state, POLL, s.closing.clone(), display_tick).into_response()
}

async fn announcement(
    State(s): State<Screens>,
    Path((hall, id, lang)): Path<(String, i64, String)>,
) -> Response {
    let Some(language) = Language::parse(&lang) else {
        return not_found("no such language; zh or en");
    };
    let call = match s.store.hall_call(&hall, id).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found("no such call"),
        Err(e) => return trouble(&e),
    };
    let text = speech::sentence(&call.ticket_no, call.window_no, language);
    match s.voice.speak(&text, language).await {
        Ok(wav) => (
            [
                (header::CONTENT_TYPE, "audio/wav"),
                (header::CACHE_CONTROL, "max-age=86400"),
            ],
            wav.as_ref().clone(),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "announcement could not be synthesised; install espeak-ng on central");
            (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
        }
    }
}

async fn chime() -> Response {
    (
        [
            (header::CONTENT_TYPE, "audio/wav"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        speech::chime(),
    )
        .into_response()
}

/// Tokens are 32 lower-case hex digits; anything else is no token, and is not looked up.
fn is_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn live_page(token: &str, t: &TicketLive) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t.ticket_no) " · 排队进度 Queue" }
                style { (PreEscaped(LIVE_CSS)) }
                noscript { meta http-equiv="refresh" content="20"; }
            }
            body {
                main id="live" data-token=(token) {
                    p class="ticket" id="ticket-no" { (t.ticket_no) }
                    div class={ "box" @if t.state == "called" { " called" } } id="status" {
                        (live_status(t))
                    }
                    dl class="box" {
                        dt { "前面还有 · Ahead of you" }
                        dd id="ahead" { (t.ahead.map_or_else(|| "—".to_owned(), |a| format!("{a} 人 · {a} people"))) }
                        dt { "预计等候 · Estimated wait" }
                        dd id="wait" { @if t.state == "waiting" { (minutes(t.wait_secs)) } @else { "—" } }
                    }
                    p class="muted" { "本页自动更新；请留意大厅叫号。 · This page updates itself; listen for your number in the hall." }
                }
                script src="/hall-assets/live.js" {}
            }
        }
    }
}

fn live_status(t: &TicketLive) -> String {
    match (t.state, t.window_no) {
        ("called", Some(w)) => format!("请到 {w} 号窗口 · Please go to window {w}"),
        ("served", _) => "已办理 · Served".to_owned(),
        ("voided", _) => "已作废 · No longer valid".to_owned(),
        _ => "等候中 · Waiting".to_owned(),
    }
}

async fn live(State(s): State<Screens>, Path(token): Path<String>) -> Response {
    if !is_token(&token) {
        return not_found("no such ticket");
    }
    match s.store.ticket_live(&token, Utc::now()).await {
        Ok(Some(t)) => secured(live_page(&token, &t).into_response()),
        Ok(None) => match application_live(&s.store, &token).await {
            Ok(Some(a)) => secured(application_page(&token, &a).into_response()),
            Ok(None) => not_found("no such ticket"),
            Err(e) => trouble(&e),
        },
        Err(e) => trouble(&e),
    }
}

/// The progress of the application whose receipt carries `token`.
async fn application_live(
    store: &Store,
    token: &str,
) -> Result<Option<ApplicationProgress>, StoreError> {
    match store.application_by_token(token).await? {
        Some(no) => store.application_progress(&no, None).await,
        None => Ok(None),
    }
}

fn status_label(status: ApplicationStatus) -> &'static str {
    match status {
        ApplicationStatus::Submitted => "已提交 · Submitted",
        ApplicationStatus::Accepted => "已受理 · Accepted",
        ApplicationStatus::InReview => "审核中 · In review",
        ApplicationStatus::SupplementRequired => "需补正材料 · Materials to supplement",
        ApplicationStatus::Approved => "审核通过 · Approved",
        ApplicationStatus::Rejected => "不予受理 · Not accepted",
        ApplicationStatus::ReadyForPickup => "待领取 · Ready for pickup",
        ApplicationStatus::Completed => "已办结 · Completed",
    }
}

/// An application's progress as its page and stream show it: no personal data (the number
/// on the receipt, the matter, the statuses and staff's notes for the citizen).
#[derive(Serialize, PartialEq)]
struct ApplicationMessage {
    application_no: String,
    status: &'static str,
    timeline: Vec<(String, &'static str, String)>,
}

fn application_message(a: &ApplicationProgress) -> ApplicationMessage {
    let offset = kiosk_api::citizen::hall_offset();
    ApplicationMessage {
        application_no: a.application_no.grouped(),
        status: status_label(a.status),
        timeline: a
            .timeline
            .iter()
            .map(|t| {
                let note = match (&t.note_zh, &t.note_en) {
                    (Some(zh), Some(en)) => format!("{zh} · {en}"),
                    (Some(n), None) | (None, Some(n)) => n.clone(),
                    (None, None) => String::new(),
                };
                (
                    t.at.with_timezone(&offset)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    status_label(t.status),
                    note,
                )
            })
            .collect(),
    }
}

fn application_page(token: &str, a: &ApplicationProgress) -> Markup {
    let m = application_message(a);
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "办件进度 · Application progress" }
                style { (PreEscaped(LIVE_CSS)) }
                noscript { meta http-equiv="refresh" content="60"; }
            }
            body {
                main id="live" data-token=(token) data-kind="application" {
                    p class="muted" { "办件编号 · Application no." }
                    p class="ticket" id="application-no" style="font-size: 1.6em" { (m.application_no) }
                    div class="box" id="status" { (m.status) }
                    table class="box" style="width: 100%" {
                        tbody id="timeline" {
                            @for (at, status, note) in &m.timeline {
                                tr { td { (at) } td { (status) } td { (note) } }
                            }
                        }
                    }
                    p class="muted" { "本页自动更新。 · This page updates itself." }
                }
                script src="/hall-assets/live.js" {}
            }
        }
    }
}

/// A ticket's state as the live page's script gets it.
#[derive(Serialize, PartialEq)]
struct LiveMessage {
    ticket_no: String,
    state: &'static str,
    status: String,
    ahead: String,
    wait: String,
}

fn live_message(t: &TicketLive) -> LiveMessage {
    LiveMessage {
        ticket_no: t.ticket_no.clone(),
        state: t.state,
        status: live_status(t),
        ahead: t
            .ahead
            .map_or_else(|| "—".to_owned(), |a| format!("{a} 人 · {a} people")),
        wait: if t.state == "waiting" {
            minutes(t.wait_secs)
        } else {
            "—".to_owned()
        },
    }
}

struct LiveFeed {
    store: Store,
    token: String,
    sent: Option<LiveMessage>,
}

async fn live_tick(mut f: LiveFeed) -> (Vec<Event>, LiveFeed) {
    let mut events = Vec::new();
    match f.store.ticket_live(&f.token, Utc::now()).await {
        Ok(Some(t)) => {
            let message = live_message(&t);
            if f.sent.as_ref() != Some(&message) {
                events.extend(Event::default().event("ticket").json_data(&message).ok());
                f.sent = Some(message);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "live stream could not read its ticket; retrying"),
    }
    (events, f)
}

struct ApplicationFeed {
    store: Store,
    token: String,
    sent: Option<ApplicationMessage>,
}

async fn application_tick(mut f: ApplicationFeed) -> (Vec<Event>, ApplicationFeed) {
    let mut events = Vec::new();
    match application_live(&f.store, &f.token).await {
        Ok(Some(a)) => {
            let message = application_message(&a);
            if f.sent.as_ref() != Some(&message) {
                events.extend(
                    Event::default()
                        .event("application")
                        .json_data(&message)
                        .ok(),
                );
                f.sent = Some(message);
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "progress stream could not read its application; retrying")
        }
    }
    (events, f)
}

async fn live_events(State(s): State<Screens>, Path(token): Path<String>) -> Response {
    if !is_token(&token) {
        return not_found("no such ticket");
    }
    match s.store.ticket_live(&token, Utc::now()).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return match application_live(&s.store, &token).await {
                Ok(Some(_)) => {
                    let state = ApplicationFeed {
                        store: s.store.clone(),
                        token,
                        sent: None,
                    };
                    feed(state, LIVE_POLL, s.closing.clone(), application_tick).into_response()
                }
                Ok(None) => not_found("no such ticket"),
                Err(e) => trouble(&e),
            };
        }
        Err(e) => return trouble(&e),
    }
    let state = LiveFeed {
        store: s.store.clone(),
        token,
        sent: None,
    };
    feed(state, LIVE_POLL, s.closing.clone(), live_tick).into_response()
}

/// The display's script: renders each board, and plays each call's chime, Mandarin and
/// English clips strictly one after another, calls queued in order, so that announcements
/// never overlap. `window.hallAnnouncements` records each clip's start and end.
const DISPLAY_JS: &str = r#""use strict";
(function () {
  const root = document.getElementById("display");
  const hall = root.dataset.hall;
  const queue = [];
  let playing = false;
  window.hallAnnouncements = [];
  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  function minutes(secs) {
    if (secs === null || secs === undefined) return "暂无估计 · no estimate yet";
    const m = Math.ceil(secs / 60);
    return "约 " + m + " 分钟 · about " + m + " min";
  }
  function render(board) {
    const windows = document.getElementById("windows");
    windows.replaceChildren();
    for (const [w, t] of board.windows) {
      const tr = document.createElement("tr");
      tr.dataset.window = w;
      cell(tr, w + " 号窗口");
      cell(tr, t || "—", "num");
      windows.appendChild(tr);
    }
    const queues = document.getElementById("queues");
    queues.replaceChildren();
    for (const q of board.queues) {
      const tr = document.createElement("tr");
      tr.dataset.category = q.category;
      cell(tr, q.category);
      cell(tr, String(q.waiting));
      cell(tr, minutes(q.wait_secs));
      queues.appendChild(tr);
    }
    const recent = document.getElementById("recent");
    recent.replaceChildren();
    for (const c of board.recent) {
      const tr = document.createElement("tr");
      cell(tr, c.ticket_no, "num");
      cell(tr, c.window_no + " 号窗口");
      recent.appendChild(tr);
    }
  }
  function play(src, id, clip) {
    return new Promise(function (resolve) {
      const record = { id: id, clip: clip, start: performance.now(), end: null, ok: false };
      window.hallAnnouncements.push(record);
      const audio = new Audio(src);
      let done = false;
      function finish(ok) {
        if (done) return;
        done = true;
        record.end = performance.now();
        record.ok = ok;
        resolve();
      }
      audio.addEventListener("ended", function () { finish(true); });
      audio.addEventListener("error", function () { finish(false); });
      const started = audio.play();
      if (started) started.catch(function () { finish(false); });
    });
  }
  async function next() {
    if (playing) return;
    const call = queue.shift();
    if (!call) return;
    playing = true;
    document.getElementById("latest").textContent = call.text_zh + " · " + call.text_en;
    await play("/hall-assets/chime.wav", call.id, "chime");
    await play(call.zh, call.id, "zh");
    await play(call.en, call.id, "en");
    playing = false;
    next();
  }
  const events = new EventSource("/hall/" + encodeURIComponent(hall) + "/events");
  // What the screen is: connected (live) or showing what it had (stale, reconnecting).
  events.addEventListener("open", function () { root.dataset.stream = "live"; });
  events.addEventListener("error", function () { root.dataset.stream = "stale"; });
  events.addEventListener("board", function (e) { render(JSON.parse(e.data)); });
  events.addEventListener("call", function (e) {
    queue.push(JSON.parse(e.data));
    next();
  });
})();
"#;

/// The live page's script: shows each state the stream sends.
const LIVE_JS: &str = r#""use strict";
(function () {
  const root = document.getElementById("live");
  const token = root.dataset.token;
  const events = new EventSource("/t/" + encodeURIComponent(token) + "/events");
  events.addEventListener("open", function () { root.dataset.stream = "live"; });
  events.addEventListener("error", function () { root.dataset.stream = "stale"; });
  events.addEventListener("application", function (e) {
    const a = JSON.parse(e.data);
    document.getElementById("status").textContent = a.status;
    const timeline = document.getElementById("timeline");
    timeline.replaceChildren();
    for (const [at, status, note] of a.timeline) {
      const tr = document.createElement("tr");
      for (const text of [at, status, note]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      timeline.appendChild(tr);
    }
  });
  events.addEventListener("ticket", function (e) {
    const t = JSON.parse(e.data);
    document.getElementById("ticket-no").textContent = t.ticket_no;
    const status = document.getElementById("status");
    status.textContent = t.status;
    status.className = t.state === "called" ? "box called" : "box";
    document.getElementById("ahead").textContent = t.ahead;
    document.getElementById("wait").textContent = t.wait;
  });
})();
"#;
