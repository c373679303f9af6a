//! `/console/followups` (issue 16 item 5): the open follow-ups of bad ratings, from window
//! tablets and kiosks alike, overdue first; an operator turns one into another kind (整改,
//! 回访, 申诉复核; its deadline starts again) or closes it with a note. Both are audited in
//! the store as `rating.follow_up`.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;

use super::input::FollowUpForm;
use super::{Console, acting, csrf_refused, page, pages, same_secret, session, trouble};
use crate::store::{Action, ConsoleSession, FollowUpKind, StoreError};

/// `GET /console/followups`.
pub(super) async fn list(State(console): State<Console>, headers: HeaderMap) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    render(&console, &session, StatusCode::OK, None).await
}

async fn render(
    console: &Console,
    session: &ConsoleSession,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let data = async {
        let open = console.store.follow_ups(None).await?;
        let mut deadlines = Vec::new();
        for k in FollowUpKind::ALL {
            deadlines.push((k, console.store.follow_up_days(k).await?));
        }
        Ok::<_, StoreError>((open, deadlines))
    };
    match data.await {
        Ok((open, deadlines)) => page(
            status,
            pages::follow_ups(session, &open, &deadlines, problem),
        ),
        Err(e) => trouble(&e),
    }
}

/// `POST /console/followups/{id}/close` (with a note) or `/kind` (with a kind).
pub(super) async fn act(
    State(console): State<Console>,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(form): Form<FollowUpForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    if action != "close" && action != "kind" {
        return page(
            StatusCode::NOT_FOUND,
            pages::message(
                Some(&session),
                "未找到 · Not found",
                "No such follow-up action.",
            ),
        );
    }
    let store = match acting(&console, &session, Action::RatingFollowUp) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let done = if action == "close" {
        let note = form.note.trim();
        if note.is_empty() {
            return render(
                &console,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("请写明处理结果 · Say what was done before closing a follow-up."),
            )
            .await;
        }
        store.follow_up_review(id, note).await
    } else {
        let kind = match form.kind.parse::<FollowUpKind>() {
            Ok(k) => k,
            Err(e) => {
                return render(
                    &console,
                    &session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(&e),
                )
                .await;
            }
        };
        store.set_follow_up_kind(id, kind, Utc::now()).await
    };
    match done {
        Ok(Some(_)) => {
            tracing::info!(user = %session.user, rating = id, %action, "follow-up changed from the console");
            Redirect::to("/console/followups").into_response()
        }
        Ok(None) => {
            render(
                &console,
                &session,
                StatusCode::NOT_FOUND,
                Some(
                    "没有这条待处理回访 · No such open follow-up; it may have been closed already.",
                ),
            )
            .await
        }
        Err(e) => trouble(&e),
    }
}
