//! The clerk's page (issue 16 item 1): a window's current ticket and queues, and the buttons
//! that call the next ticket, recall it, mark it a no-show (过号), transfer it and finish it.
//! It also says when the window's rating tablet offers the ticket just served (一次一评).
//! Plain forms like the rest of the console; every action is checked twice, for the role
//! here and for the window in the store ([`Store::may_act_at`]), and audited there.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    Console, acting, csrf_refused, page, pages, same_secret, scripted_page, session, trouble,
};
use crate::store::{
    Action, Board, ConsoleSession, HallWindow, Role, Store, StoreError, WindowError, WindowTicket,
};

/// A window action's form: its CSRF token and, for a transfer, where to.
#[derive(Deserialize)]
pub struct WindowForm {
    csrf: String,
    #[serde(default)]
    to_category: String,
    #[serde(default)]
    to_window: String,
}

/// The windows this user may act at: a clerk's bound ones, everyone else's all of every hall.
async fn my_windows(
    store: &Store,
    session: &ConsoleSession,
) -> Result<Vec<(String, u32)>, StoreError> {
    if session.role == Role::Clerk {
        return store.clerk_windows(&session.user).await;
    }
    let mut all = Vec::new();
    for hall in store.halls().await? {
        for w in store.windows(&hall.id).await? {
            all.push((hall.id.clone(), w.window_no));
        }
    }
    Ok(all)
}

/// `/console/clerk`: the windows to pick from.
pub(super) async fn windows(State(console): State<Console>, headers: HeaderMap) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match my_windows(&console.store, &session).await {
        Ok(list) => page(
            StatusCode::OK,
            pages::layout(
                "窗口 · Windows",
                Some(&session),
                html! {
                    @if list.is_empty() {
                        p { "没有可用的窗口。 · No window for you: an admin sets windows up with "
                            code { "central queue window" } " and binds clerks with " code { "central queue clerk" } "." }
                    }
                    ul {
                        @for (hall, w) in &list {
                            li { a href={ "/console/clerk/" (hall) "/" (w) } { (hall) " · " (w) " 号窗口 window " (w) } }
                        }
                    }
                },
            ),
        ),
        Err(e) => trouble(&e),
    }
}

/// `/console/clerk/{hall}/{window}`.
pub(super) async fn window(
    State(console): State<Console>,
    Path((hall, window)): Path<(String, u32)>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    window_page(&console, &session, &hall, window, StatusCode::OK, None).await
}

async fn window_page(
    console: &Console,
    session: &ConsoleSession,
    hall: &str,
    window: u32,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let store = console.store.acting_as(session.actor());
    if let Err(e) = store.may_act_at(hall, window).await {
        return refused(session, &e);
    }
    let now = Utc::now();
    let data = async {
        let windows = store.windows(hall).await?;
        let current = store.window_ticket(hall, window, now).await?;
        let board = store.board(hall, now).await?;
        let paired = store.has_rating_tablet(hall, window).await?;
        let rating = if paired {
            store.rateable_ticket(hall, window, now).await?
        } else {
            None
        };
        Ok::<_, StoreError>((windows, current, board, rating, paired))
    };
    match data.await {
        Ok((windows, current, board, rating, paired)) => {
            let Some(this) = windows.iter().find(|w| w.window_no == window) else {
                return refused(
                    session,
                    &WindowError::NoSuchWindow {
                        hall: hall.to_owned(),
                        window,
                    },
                );
            };
            scripted_page(
                status,
                render(
                    session,
                    hall,
                    this,
                    &windows,
                    At {
                        current: current.as_ref(),
                        rating: rating.as_ref().map(|r| r.ticket_no.as_str()),
                        paired,
                    },
                    &board,
                    problem,
                ),
            )
        }
        Err(e) => trouble(&e),
    }
}

fn refused(session: &ConsoleSession, e: &WindowError) -> Response {
    let status = match e {
        WindowError::NotYourWindow { .. } => StatusCode::FORBIDDEN,
        WindowError::NoSuchWindow { .. } => StatusCode::NOT_FOUND,
        WindowError::Store(e) => return trouble(e),
        _ => StatusCode::CONFLICT,
    };
    page(
        status,
        pages::message(Some(session), "无法操作 · Not possible", &e.to_string()),
    )
}

fn minutes(secs: Option<u32>) -> String {
    match secs {
        Some(0) => "无需等候 · no wait".to_owned(),
        Some(s) => format!("约 {m} 分钟 · about {m} min", m = s.div_ceil(60)),
        None => "尚无数据 · not measured yet".to_owned(),
    }
}

/// What is at the window now: the ticket called, the ticket its rating tablet offers, and
/// whether it has a tablet at all.
struct At<'a> {
    current: Option<&'a WindowTicket>,
    rating: Option<&'a str>,
    paired: bool,
}

fn render(
    session: &ConsoleSession,
    hall: &str,
    this: &HallWindow,
    windows: &[HallWindow],
    at: At<'_>,
    board: &Board,
    problem: Option<&str>,
) -> Markup {
    let At {
        current,
        rating,
        paired,
    } = at;
    let action = |what: &str| format!("/console/clerk/{hall}/{}/{what}", this.window_no);
    let button = |what: &str, label: &str, enabled: bool| {
        html! {
            form class="inline" method="post" action=(action(what)) {
                input type="hidden" name="csrf" value=(session.csrf);
                @if enabled { button type="submit" id={ "do-" (what) } { (label) } }
                @else { button type="submit" id={ "do-" (what) } disabled { (label) } }
            }
        }
    };
    pages::layout(
        &format!("{} 号窗口 · Window {}", this.window_no, this.window_no),
        Some(session),
        html! {
            div id="clerk" data-hall=(hall) data-window=(this.window_no)
                data-current=(current.map_or("", |t| t.ticket_no.as_str())) {
            @if let Some(p) = problem { div class="error" id="problem" { (p) } }
            p id="changed" class="warn" hidden {
                "本窗口的号已在别处变更 · This window's ticket changed elsewhere. "
                a href=(format!("/console/clerk/{hall}/{}", this.window_no)) { "刷新 Reload" }
            }
            div class="box" {
                h2 { "当前号 · Now serving" }
                @match current {
                    Some(t) => {
                        p id="current" style="font-size: 2.4em; margin: 0.2em 0" { (t.ticket_no) }
                        p {
                            (t.category) " · " (t.priority)
                            " · 已重呼 " (t.recalls) " 次 recalled " (t.recalls) " times"
                            @if t.unconfirmed { " · " span class="warn" { "未确认，请核对号票 UNCONFIRMED: check the slip" } }
                        }
                    }
                    None => { p id="current" class="muted" { "空闲 · free" } }
                }
                @if let Some(t) = rating {
                    // Calling the next ticket ends the offer, so the clerk lets the citizen rate first.
                    p id="rating-open" class="warn" {
                        "评价器正在请 " (t) " 评价；叫下一位后不再提供 · the rating tablet offers " (t)
                        " to the citizen; calling the next ticket ends that"
                    }
                }
                p {
                    (button("call", "叫号 Call next", true)) " "
                    (button("recall", "重呼 Recall", current.is_some())) " "
                    (button("no-show", "过号 No-show", current.is_some())) " "
                    (button("served", "办结 Served", current.is_some()))
                }
                @if current.is_some() {
                    form method="post" action=(action("transfer")) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        "转移 Transfer: "
                        label style="display: inline" { "类别 category " input type="text" name="to_category" size="4"; }
                        " "
                        label style="display: inline" {
                            "窗口 window "
                            select name="to_window" {
                                option value="" { "—" }
                                @for w in windows.iter().filter(|w| w.window_no != this.window_no) {
                                    option value=(w.window_no) { (w.window_no) " (" (w.categories.join(",")) ")" }
                                }
                            }
                        }
                        " " button type="submit" id="do-transfer" { "转移 Transfer" }
                    }
                }
            }
            h2 { "本窗口的队列 · This window's queues" }
            table {
                tr { th { "类别 Category" } th class="num" { "等候 Waiting" } th { "新取号预计等候 Wait for a new ticket" } }
                @for c in &this.categories {
                    @let q = board.queues.iter().find(|q| &q.category == c);
                    tr {
                        td { (c) }
                        td class="num" id={ "waiting-" (c) } data-waiting=(c) { (q.map_or(0, |q| q.waiting)) }
                        td id={ "wait-" (c) } { (minutes(q.and_then(|q| q.wait_secs))) }
                    }
                }
            }
            p class="muted" { "预计等候按今日实测办理时长计算，随大厅实时更新 · waits are from today's measured service times, kept current with the hall." }
            @if session.actor().may(Action::WindowSet).is_ok() {
                h2 { "评价平板 · Rating tablet" }
                p id="tablet" {
                    @if paired { "本窗口已配对评价平板。 · This window has a rating tablet." }
                    @else { "本窗口尚无评价平板。 · This window has no rating tablet yet." }
                }
                form method="post" action=(action("pair-tablet")) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" id="do-pair-tablet" { "配对新平板 Pair a new tablet" }
                    @if paired { " " span class="warn" { "原平板将停止工作 · the tablet paired before stops working" } }
                }
            }
            }
            script src="/console/assets/clerk.js" {}
        },
    )
}

/// `POST /console/clerk/{hall}/{window}/{action}`.
pub(super) async fn act(
    State(console): State<Console>,
    Path((hall, window, what)): Path<(String, u32, String)>,
    headers: HeaderMap,
    Form(form): Form<WindowForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let action = match what.as_str() {
        "call" => Action::QueueCall,
        "recall" => Action::QueueRecall,
        "no-show" => Action::QueueNoShow,
        "served" => Action::QueueServed,
        "transfer" => Action::QueueTransfer,
        "pair-tablet" => Action::WindowSet,
        _ => {
            return page(
                StatusCode::NOT_FOUND,
                pages::message(
                    Some(&session),
                    "未找到 · Not found",
                    "No such window action.",
                ),
            );
        }
    };
    let store = match acting(&console, &session, action) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if action == Action::WindowSet {
        return match store.pair_rating_tablet(&hall, window).await {
            Ok(secret) => {
                tracing::info!(user = %session.user, %hall, window, "rating tablet paired from the console");
                page(
                    StatusCode::OK,
                    paired_page(&session, &hall, window, &secret),
                )
            }
            Err(WindowError::Store(e)) => trouble(&e),
            Err(e) => refused(&session, &e),
        };
    }
    let now = Utc::now();
    let done = match action {
        Action::QueueCall => store
            .call_at_window(&hall, window, None, now)
            .await
            .map(|t| t.map(|t| t.ticket_no)),
        Action::QueueRecall => store
            .recall(&hall, window, now)
            .await
            .map(|o| Some(o.ticket_no)),
        Action::QueueNoShow => store
            .no_show(&hall, window, now)
            .await
            .map(|o| Some(o.ticket_no)),
        Action::QueueServed => store
            .served(&hall, window, now)
            .await
            .map(|o| Some(o.ticket_no)),
        _ => {
            let to_category = Some(form.to_category.trim()).filter(|c| !c.is_empty());
            let to_window = match form.to_window.trim() {
                "" => Ok(None),
                n => n
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| WindowError::Invalid(format!("{n:?} is no window number"))),
            };
            match to_window {
                Ok(to_window) => store
                    .transfer(&hall, window, to_category, to_window, now)
                    .await
                    .map(|o| Some(o.ticket_no)),
                Err(e) => Err(e),
            }
        }
    };
    match done {
        Ok(ticket) => {
            tracing::info!(user = %session.user, %hall, window, %action, ticket = ticket.as_deref().unwrap_or("none"), "window action from the console");
            if ticket.is_none() {
                return window_page(
                    &console,
                    &session,
                    &hall,
                    window,
                    StatusCode::OK,
                    Some("无人等候 · Nobody is waiting."),
                )
                .await;
            }
            Redirect::to(&format!("/console/clerk/{hall}/{window}")).into_response()
        }
        Err(WindowError::Store(e)) => trouble(&e),
        Err(e @ (WindowError::NotYourWindow { .. } | WindowError::NoSuchWindow { .. })) => {
            refused(&session, &e)
        }
        Err(e) => {
            window_page(
                &console,
                &session,
                &hall,
                window,
                StatusCode::CONFLICT,
                Some(&e.to_string()),
            )
            .await
        }
    }
}

/// `/console/assets/clerk.js`: keeps the clerk's page current from the hall's event stream.
pub(super) async fn script() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("clerk.js"),
    )
        .into_response();
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The tablet's address, shown this once: central keeps only its hash.
fn paired_page(session: &ConsoleSession, hall: &str, window: u32, secret: &str) -> Markup {
    let path = format!(
        "/hall/{}/window/{window}/rate/{secret}",
        pages::path_segment(hall)
    );
    pages::layout(
        &format!("{window} 号窗口评价平板 · Window {window}'s rating tablet"),
        Some(session),
        html! {
            div class="box" {
                p { "在该窗口平板的浏览器中打开下面的地址（前加中心平台的公网地址），设为全屏。此地址只显示这一次。 · Open this address on the window's tablet, after central's public address, full screen. It is shown this once." }
                p { code id="tablet-path" style="font-size: 1.2em; word-break: break-all" { (path) } }
                p class="muted" { "之前配对的平板已停止工作。 · A tablet paired before has stopped working." }
                p { a href=(format!("/console/clerk/{hall}/{window}")) { "← " (window) " 号窗口 Window " (window) } }
            }
        },
    )
}
