//! The ops console, served by `central serve` under `/console`: plain server-rendered HTML,
//! no build step (docs/architecture.md), and no JavaScript but the clerk's page's one small
//! script, which follows the hall's event stream; every page works without it.
//!
//! Pages are written with `maud`: its `html!` templates are checked Rust at compile time and
//! escape every interpolated value unless explicitly marked pre-escaped (nothing here is), so
//! a kiosk's host name or a citizen's rating note cannot inject markup. Plain string functions
//! would make escaping something to remember at every call.
//!
//! Sign-in: argon2id password hashes ([`crate::store::ConsoleSession`]); a session cookie
//! `HttpOnly; SameSite=Strict; Path=/console`; every POST form carries the session's CSRF
//! token, and the login form a double-submit token of its own. A failed login never says
//! whether the name or the password was wrong; after
//! [`MAX_FAILED_LOGINS`](crate::store::MAX_FAILED_LOGINS) tries a name is locked out for
//! [`LOCKOUT_MILLIS`](crate::store::LOCKOUT_MILLIS), with the same answer, on every node (the
//! count is kept in the database). Run central behind TLS in production (the
//! cookie has no `Secure` flag so the console also works on a plain-HTTP test address).

mod applications;
mod clerk;
mod followups;
pub mod input;
mod pages;
mod report;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use input::{
    AckForm, AddUserForm, AuditQuery, CsrfForm, HallQuery, LoginForm, PasswordForm, RemoveUserForm,
    RevokeForm, RoleForm, cookie,
};
use maud::Markup;
use rand::RngCore as _;

use crate::store::{
    Action, ConsoleSession, LoginOutcome, RevokeError, Role, RolloutError, SESSION_MILLIS, Store,
    StoreError, UserError,
};

/// Cookie holding the session token.
pub const SESSION_COOKIE: &str = "kiosk_console";
/// Cookie holding the login form's double-submit token.
pub const LOGIN_COOKIE: &str = "kiosk_console_login";

#[derive(Clone)]
struct Console {
    store: Store,
}

/// The console's routes, to be nested under `/console`.
pub fn router<S: Clone + Send + Sync + 'static>(store: Store) -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/fleet", get(fleet))
        .route("/kiosks/{id}", get(kiosk))
        .route("/kiosks/{id}/revoke", post(revoke_kiosk))
        .route("/rollouts", get(rollouts))
        .route("/rollouts/{id}/{action}", post(rollout_action))
        .route("/halls/{id}", get(hall))
        .route("/halls/{id}/report", get(report::report))
        .route("/halls/{id}/report.csv", get(report::report_csv))
        .route("/help/{id}/ack", post(help_ack))
        .route("/audit", get(audit))
        .route("/users", get(users).post(add_user))
        .route("/users/{name}/remove", post(remove_user))
        .route("/users/{name}/role", post(set_role))
        .route("/applications", get(applications::list))
        .route("/applications/{no}", get(applications::detail))
        .route(
            "/applications/{no}/materials/{file}",
            get(applications::material),
        )
        .route("/applications/{no}/advance", post(applications::advance))
        .route("/followups", get(followups::list))
        .route("/followups/{id}/{action}", post(followups::act))
        .route("/assets/clerk.js", get(clerk::script))
        .route("/clerk", get(clerk::windows))
        .route("/clerk/{hall}/{window}", get(clerk::window))
        .route("/clerk/{hall}/{window}/{action}", post(clerk::act))
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(Console { store })
}

/// A finished page with the headers every console page carries.
fn page(status: StatusCode, markup: Markup) -> Response {
    secured(
        (status, markup).into_response(),
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
}

/// A page that runs the console's own scripts (`/console/assets/`) and reads event streams
/// of this origin: the clerk's page, which follows the hall as it changes. Still no inline
/// script, so markup injected into it could not run.
fn scripted_page(status: StatusCode, markup: Markup) -> Response {
    secured(
        (status, markup).into_response(),
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
}

fn secured(mut response: Response, policy: &'static str) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
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

/// A file staff download or open from the console (a scan, a report): `disposition` is
/// `inline` or `attachment`, `name` is cut down to characters that need no quoting in the
/// header. Never cached, never sniffed, never framed by another page.
fn download(
    body: axum::body::Body,
    content_type: &'static str,
    disposition: &str,
    name: &str,
) -> Response {
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(96)
        .collect();
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn trouble(e: &StoreError) -> Response {
    tracing::error!(error = %e, "console page failed in the database");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message(
            None,
            "数据库暂不可用 · Database unavailable",
            "central could not read its database; reload in a moment.",
        ),
    )
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn set_cookie(response: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The signed-in session, or the response that sends the browser to the login page.
async fn session(console: &Console, headers: &HeaderMap) -> Result<ConsoleSession, Response> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Err(Redirect::to("/console/login").into_response());
    };
    match console.store.console_session(&token).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Redirect::to("/console/login").into_response()),
        Err(e) => Err(trouble(&e)),
    }
}

/// The store acting as the signed-in user, when their role allows `action`; else the page
/// that says which role it needs. Checked before anything is done.
fn acting(
    console: &Console,
    session: &ConsoleSession,
    action: Action,
) -> Result<Store, Box<Response>> {
    let actor = session.actor();
    if let Err(refused) = actor.may(action) {
        tracing::warn!(user = %session.user, role = %session.role, %action, "console action refused for the user's role");
        return Err(Box::new(page(
            StatusCode::FORBIDDEN,
            pages::message(
                Some(session),
                "无权操作 · Not allowed",
                &refused.to_string(),
            ),
        )));
    }
    Ok(console.store.acting_as(actor))
}

fn csrf_refused(session: Option<&ConsoleSession>) -> Response {
    page(
        StatusCode::FORBIDDEN,
        pages::message(
            session,
            "表单已过期 · Form expired",
            "The form was not sent from this console session. Go back, reload the page and try again.",
        ),
    )
}

async fn index() -> Redirect {
    Redirect::to("/console/fleet")
}

async fn not_found(State(console): State<Console>, headers: HeaderMap) -> Response {
    let session = session(&console, &headers).await.ok();
    page(
        StatusCode::NOT_FOUND,
        pages::message(
            session.as_ref(),
            "未找到 · Not found",
            "No such console page.",
        ),
    )
}

fn login_page(status: StatusCode, failed: bool) -> Response {
    let token = random_token();
    let mut response = page(status, pages::login(&token, failed));
    set_cookie(
        &mut response,
        format!("{LOGIN_COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=3600"),
    );
    response
}

async fn login_form() -> Response {
    login_page(StatusCode::OK, false)
}

async fn login(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&expected, &form.csrf) {
        return csrf_refused(None);
    }
    let user = form.user.trim();
    match console.store.console_login(user, &form.password).await {
        Ok(LoginOutcome::Session(session)) => {
            tracing::info!(user = %session.user, "console login");
            // A clerk's work is at their window.
            let home = if session.role == Role::Clerk {
                "/console/clerk"
            } else {
                "/console/fleet"
            };
            let mut response = Redirect::to(home).into_response();
            set_cookie(
                &mut response,
                format!(
                    "{SESSION_COOKIE}={}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
                    session.token,
                    SESSION_MILLIS / 1000
                ),
            );
            set_cookie(
                &mut response,
                format!("{LOGIN_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
            );
            response
        }
        Ok(LoginOutcome::Refused) => {
            tracing::warn!("console login refused");
            login_page(StatusCode::UNAUTHORIZED, true)
        }
        // The same answer as a wrong password: the page never says a name is locked.
        Ok(LoginOutcome::LockedOut) => {
            tracing::warn!(user = %user, "console login refused: too many failed attempts");
            login_page(StatusCode::UNAUTHORIZED, true)
        }
        Err(e) => trouble(&e),
    }
}

async fn logout(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    if let Err(e) = console.store.console_logout(&session.token).await {
        return trouble(&e);
    }
    let mut response = Redirect::to("/console/login").into_response();
    set_cookie(
        &mut response,
        format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

async fn fleet(State(console): State<Console>, headers: HeaderMap) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = async {
        let kiosks = console.store.fleet().await?;
        let help = console.store.help_requests(true).await?;
        let halls = console.store.halls().await?;
        Ok::<_, StoreError>((kiosks, help, halls))
    };
    match data.await {
        Ok((kiosks, help, halls)) => page(
            StatusCode::OK,
            pages::fleet(&session, &kiosks, &help, &halls),
        ),
        Err(e) => trouble(&e),
    }
}

async fn kiosk(
    State(console): State<Console>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = async {
        let Some(kiosk) = console.store.fleet_kiosk(&id).await? else {
            return Ok(None);
        };
        let history = console.store.health_history(&id, 20).await?;
        let updates = console.store.update_results(Some(&id), 20).await?;
        let help: Vec<_> = console
            .store
            .help_requests(false)
            .await?
            .into_iter()
            .filter(|h| h.kiosk_id == id)
            .take(20)
            .collect();
        let refused = console.store.refused_events(&id, 20).await?;
        Ok::<_, StoreError>(Some((kiosk, history, updates, help, refused)))
    };
    match data.await {
        Ok(Some((kiosk, history, updates, help, refused))) => page(
            StatusCode::OK,
            pages::kiosk(&session, &kiosk, &history, &updates, &help, &refused),
        ),
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            pages::message(
                Some(&session),
                "未找到终端 · No such kiosk",
                "No kiosk with this id is enrolled.",
            ),
        ),
        Err(e) => trouble(&e),
    }
}

async fn rollouts(State(console): State<Console>, headers: HeaderMap) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = async {
        let rollouts = console.store.rollouts().await?;
        let mut members = Vec::with_capacity(rollouts.len());
        for r in &rollouts {
            members.push(console.store.rollout_members(r.id).await?);
        }
        Ok::<_, StoreError>((rollouts, members, console.store.releases().await?))
    };
    match data.await {
        Ok((rollouts, members, releases)) => page(
            StatusCode::OK,
            pages::rollouts(&session, &rollouts, &members, &releases),
        ),
        Err(e) => trouble(&e),
    }
}

async fn rollout_action(
    State(console): State<Console>,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let act = match action.as_str() {
        "pause" => Action::RolloutPause,
        "resume" => Action::RolloutResume,
        "abort" => Action::RolloutAbort,
        _ => {
            return page(
                StatusCode::NOT_FOUND,
                pages::message(
                    Some(&session),
                    "未找到 · Not found",
                    "No such rollout action.",
                ),
            );
        }
    };
    let store = match acting(&console, &session, act) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let done = match act {
        Action::RolloutPause => store.pause_rollout(id).await,
        Action::RolloutResume => store.resume_rollout(id).await,
        _ => store.abort_rollout(id).await,
    };
    match done {
        Ok(_) => {
            tracing::info!(user = %session.user, rollout = id, %action, "rollout changed from the console");
            Redirect::to("/console/rollouts").into_response()
        }
        Err(RolloutError::Store(e)) => trouble(&e),
        Err(e) => page(
            StatusCode::CONFLICT,
            pages::message(Some(&session), "无法执行 · Not done", &e.to_string()),
        ),
    }
}

/// Revokes a kiosk as the signed-in user, once the form says why and confirms.
async fn revoke_kiosk(
    State(console): State<Console>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let store = match acting(&console, &session, Action::KioskRevoke) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if form.confirm != "yes" {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::message(
                Some(&session),
                "未吊销 · Not revoked",
                "Tick the confirmation box to revoke the kiosk.",
            ),
        );
    }
    match store.revoke_kiosk(&id, &form.reason).await {
        Ok(_) => {
            tracing::warn!(user = %session.user, kiosk = %id, reason = %form.reason.trim(), "kiosk revoked from the console");
            Redirect::to(&format!("/console/kiosks/{id}")).into_response()
        }
        Err(RevokeError::Store(e)) => trouble(&e),
        Err(e @ RevokeError::NoSuchKiosk(_)) => page(
            StatusCode::NOT_FOUND,
            pages::message(Some(&session), "未找到终端 · No such kiosk", &e.to_string()),
        ),
        Err(e @ RevokeError::BadReason) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::message(Some(&session), "未吊销 · Not revoked", &e.to_string()),
        ),
    }
}

/// Staff acknowledge a help request from the console; the signed-in user is recorded as
/// who is coming.
async fn help_ack(
    State(console): State<Console>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<AckForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let store = match acting(&console, &session, Action::HelpAck) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match store.acknowledge_help(id, &session.user).await {
        Ok(Some(h)) => {
            tracing::info!(user = %session.user, help = id, hall = %h.hall_id, "help request acknowledged from the console");
            Redirect::to(&form.back_to(&h.hall_id, &h.kiosk_id)).into_response()
        }
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            pages::message(
                Some(&session),
                "未找到求助 · No such help request",
                "No help request with this id.",
            ),
        ),
        Err(e) => trouble(&e),
    }
}

/// The audit log, newest first, paged; every signed-in user may read it.
async fn audit(
    State(console): State<Console>,
    Query(query): Query<AuditQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (page_no, offset) = query.page_and_offset(pages::AUDIT_PAGE_ROWS);
    match console
        .store
        .audit_log(pages::AUDIT_PAGE_ROWS, offset)
        .await
    {
        Ok((entries, total)) => page(
            StatusCode::OK,
            pages::audit(&session, &entries, page_no, total),
        ),
        Err(e) => trouble(&e),
    }
}

/// What a user change came to, as a page.
fn user_change(session: &ConsoleSession, done: Result<(), UserError>, what: &str) -> Response {
    match done {
        Ok(()) => {
            tracing::info!(user = %session.user, %what, "console users changed");
            Redirect::to("/console/users").into_response()
        }
        Err(UserError::Store(e)) => trouble(&e),
        Err(e @ UserError::Unknown(_)) => page(
            StatusCode::NOT_FOUND,
            pages::message(Some(session), "未找到用户 · No such user", &e.to_string()),
        ),
        Err(e) => page(
            StatusCode::CONFLICT,
            pages::message(Some(session), "未执行 · Not done", &e.to_string()),
        ),
    }
}

async fn users(State(console): State<Console>, headers: HeaderMap) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = acting(&console, &session, Action::UserAdd) {
        return *r;
    }
    match console.store.console_users().await {
        Ok(list) => page(StatusCode::OK, pages::users(&session, &list)),
        Err(e) => trouble(&e),
    }
}

async fn add_user(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<AddUserForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let store = match acting(&console, &session, Action::UserAdd) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let done = match form.role.parse::<Role>() {
        Ok(role) => {
            store
                .add_console_user(&form.name, &form.password, role)
                .await
        }
        Err(e) => Err(UserError::Invalid(e)),
    };
    user_change(&session, done, "user added")
}

async fn remove_user(
    State(console): State<Console>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RemoveUserForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let store = match acting(&console, &session, Action::UserRemove) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if form.confirm != "yes" {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::message(
                Some(&session),
                "未删除 · Not removed",
                "Tick the confirmation box to remove the user.",
            ),
        );
    }
    if name == session.user {
        return page(
            StatusCode::CONFLICT,
            pages::message(
                Some(&session),
                "未删除 · Not removed",
                "You cannot remove yourself; ask another admin.",
            ),
        );
    }
    user_change(
        &session,
        store.remove_console_user(&name).await,
        "user removed",
    )
}

async fn set_role(
    State(console): State<Console>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RoleForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let store = match acting(&console, &session, Action::UserRole) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let done = match form.role.parse::<Role>() {
        Ok(role) => store.set_console_role(&name, role).await,
        Err(e) => Err(UserError::Invalid(e)),
    };
    user_change(&session, done, "role changed")
}

async fn account(State(console): State<Console>, headers: HeaderMap) -> Response {
    match session(&console, &headers).await {
        Ok(s) => page(StatusCode::OK, pages::account(&s, None)),
        Err(r) => r,
    }
}

/// A user changes their own password; all their sessions end, this one too.
async fn change_password(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let store = match acting(&console, &session, Action::OwnPassword) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if form.new != form.again {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::account(
                &session,
                Some("两次输入的新密码不一致 · The new passwords differ"),
            ),
        );
    }
    match store
        .change_own_password(&session.user, &form.current, &form.new)
        .await
    {
        Ok(()) => {
            tracing::info!(user = %session.user, "console password changed; sessions ended");
            let mut response = Redirect::to("/console/login").into_response();
            set_cookie(
                &mut response,
                format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
            );
            response
        }
        Err(UserError::Store(e)) => trouble(&e),
        Err(e) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::account(&session, Some(&e.to_string())),
        ),
    }
}

/// Today in China Standard Time (UTC+8, no daylight saving), the halls' business day.
fn hall_today() -> chrono::NaiveDate {
    kiosk_api::citizen::business_date_at(chrono::Utc::now())
}

async fn hall(
    State(console): State<Console>,
    Path(id): Path<String>,
    Query(query): Query<HallQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let date = query.date().unwrap_or_else(hall_today);
    let data = async {
        let halls = console.store.halls().await?;
        let Some(hall) = halls.into_iter().find(|h| h.id == id) else {
            return Ok(None);
        };
        let queue = console.store.queue_stats(&id, date).await?;
        let ratings = console.store.rating_distribution(&id).await?;
        let bad = console.store.bad_reviews(&id).await?;
        let help: Vec<_> = console
            .store
            .help_requests(true)
            .await?
            .into_iter()
            .filter(|h| h.hall_id == id)
            .collect();
        let kiosks: Vec<_> = console
            .store
            .fleet()
            .await?
            .into_iter()
            .filter(|k| k.hall_id == id)
            .collect();
        let unconfirmed: Vec<_> = console
            .store
            .tickets(&id, date)
            .await?
            .into_iter()
            .filter(|t| t.unconfirmed)
            .collect();
        Ok::<_, StoreError>(Some((hall, queue, ratings, bad, help, kiosks, unconfirmed)))
    };
    match data.await {
        Ok(Some((hall, queue, ratings, bad, help, kiosks, unconfirmed))) => page(
            StatusCode::OK,
            pages::hall(
                &session,
                &hall,
                date,
                &queue,
                pages::HallLists {
                    ratings: &ratings,
                    bad: &bad,
                    help: &help,
                    kiosks: &kiosks,
                    unconfirmed: &unconfirmed,
                },
            ),
        ),
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            pages::message(
                Some(&session),
                "未找到大厅 · No such hall",
                "No hall with this id.",
            ),
        ),
        Err(e) => trouble(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name_and_secrets_compare_whole() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("kiosk_console_login=abc; kiosk_console=def"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("def"));
        assert_eq!(cookie(&h, LOGIN_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "other"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }

    #[test]
    fn application_filters_read_empty_as_all_and_never_echo_a_long_status() {
        let q = |hall: &str, status: &str| input::ApplicationsQuery {
            hall: hall.to_owned(),
            status: status.to_owned(),
            page: 0,
        };
        assert_eq!(q(" ", "").hall(), None);
        assert_eq!(q("dongcheng-main", "").hall(), Some("dongcheng-main"));
        assert_eq!(q("", " ").status(), Ok(None));
        assert_eq!(
            q("", "supplement_required").status(),
            Ok(Some(
                kiosk_api::citizen::ApplicationStatus::SupplementRequired
            ))
        );
        let long = "1".repeat(100);
        assert_eq!(q("", &long).status().map_err(|e| e.len()), Err(32));
    }
}
