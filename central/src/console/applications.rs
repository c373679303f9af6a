//! Applications for staff (issue 16 item 6): a hall's applications, one application with
//! its form answers and scanned materials, and the moves 受理 (accept), 需补正 (ask for missing
//! materials), 办结 (complete) and the others the state machine allows from where it stands
//! ([`next_statuses`]).
//!
//! Who sees what: every signed-in user sees the list and an application's status and
//! timeline (masked name only); form answers and scans, which are personal data, only
//! clerks of the application's hall and operators and admins, each read audited in the store.
//! Each move records the signed-in user on the timeline; the citizen sees the step and its
//! notes, never the name.

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kiosk_api::Catalog;
use kiosk_api::catalog::Matter;
use kiosk_api::citizen::ApplicationStatus;
use maud::{Markup, html};

use super::input::{AdvanceForm, ApplicationsQuery};
use super::pages::{bj, layout, path_segment};
use super::{Console, acting, csrf_refused, download, page, pages, same_secret, session, trouble};
use crate::store::{
    APPLICATION_LIST_ROWS, Action, AdvanceError, ApplicationDetail, ApplicationSummary,
    ConsoleSession, ReadError, StaffTimelineEntry, Store, StoreError, needs_note, next_statuses,
};

/// What a move's button says.
fn move_label(to: ApplicationStatus) -> &'static str {
    match to {
        ApplicationStatus::Submitted => "已提交 Submitted",
        ApplicationStatus::Accepted => "受理 Accept",
        ApplicationStatus::InReview => "转入审核 Send to review",
        ApplicationStatus::SupplementRequired => "需补正 Ask for missing materials",
        ApplicationStatus::Approved => "审核通过 Approve",
        ApplicationStatus::Rejected => "不予受理 Refuse",
        ApplicationStatus::ReadyForPickup => "待领取 Ready for pickup",
        ApplicationStatus::Completed => "办结 Complete",
    }
}

fn status_text(s: ApplicationStatus) -> String {
    format!("{} {}", s.label_zh(), s.label_en())
}

fn status_class(s: ApplicationStatus) -> &'static str {
    match s {
        ApplicationStatus::Completed | ApplicationStatus::Approved => "ok",
        ApplicationStatus::SupplementRequired => "warn",
        ApplicationStatus::Rejected => "bad",
        _ => "",
    }
}

fn matter<'a>(catalog: Option<&'a Catalog>, code: &str) -> Option<&'a Matter> {
    catalog.and_then(|c| c.matters.iter().find(|m| m.id == code))
}

fn matter_name(catalog: Option<&Catalog>, code: &str) -> String {
    matter(catalog, code).map_or_else(
        || code.to_owned(),
        |m| format!("{} {}", m.name_zh, m.name_en),
    )
}

/// The number as the receipt prints it, or as stored for a number of an older format.
fn grouped(no: &str) -> String {
    kiosk_api::ApplicationNo::parse(no).map_or_else(|_| no.to_owned(), |n| n.grouped())
}

fn answer(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn detail_url(no: &str) -> String {
    format!("/console/applications/{}", path_segment(no))
}

fn not_found(session: &ConsoleSession, text: &str) -> Response {
    page(
        StatusCode::NOT_FOUND,
        pages::message(Some(session), "未找到 · Not found", text),
    )
}

/// A refused read or move as its page.
fn read_refused(session: &ConsoleSession, e: &ReadError) -> Response {
    let (status, title) = match e {
        ReadError::Store(e) => return trouble(e),
        ReadError::Unknown(_)
        | ReadError::NoSuchMaterial { .. }
        | ReadError::NotUploaded { .. } => (StatusCode::NOT_FOUND, "未找到 · Not found"),
        ReadError::NotYourHall { .. } => (StatusCode::FORBIDDEN, "无权查看 · Not allowed"),
        ReadError::Incomplete { .. } | ReadError::NotAPdf { .. } => (
            StatusCode::CONFLICT,
            "材料暂不可用 · Material not available",
        ),
    };
    page(status, pages::message(Some(session), title, &e.to_string()))
}

/// `/console/applications?hall=H&status=S`.
pub(super) async fn list(
    State(console): State<Console>,
    Query(query): Query<ApplicationsQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let status = match query.status() {
        Ok(s) => s,
        Err(unknown) => {
            return page(
                StatusCode::BAD_REQUEST,
                pages::message(
                    Some(&session),
                    "无此状态 · No such status",
                    &format!("{unknown:?} is no application status."),
                ),
            );
        }
    };
    let (page_no, offset) = query.page_and_offset(APPLICATION_LIST_ROWS);
    let store = console.store.acting_as(session.actor());
    let data = async {
        let mine = store.application_halls().await?;
        let scoped = mine.is_some();
        let halls: Vec<String> = match mine {
            Some(mine) => mine,
            None => store.halls().await?.into_iter().map(|h| h.id).collect(),
        };
        // A clerk sees their halls one at a time; everyone else all of them at once.
        let hall = match query.hall() {
            Some(h) => Some(h.to_owned()),
            None if scoped => halls.first().cloned(),
            None => None,
        };
        if let Some(h) = &hall
            && scoped
            && !halls.contains(h)
        {
            return Ok(Err(h.clone()));
        }
        let (list, total) = if scoped && hall.is_none() {
            (Vec::new(), 0)
        } else {
            store
                .applications_for_staff(hall.as_deref(), status, offset)
                .await?
        };
        let mut catalogs = HashMap::new();
        for a in &list {
            if !catalogs.contains_key(&a.hall_id) {
                catalogs.insert(a.hall_id.clone(), store.hall_catalog(&a.hall_id).await?);
            }
        }
        Ok::<_, StoreError>(Ok((halls, hall, list, total, catalogs)))
    };
    match data.await {
        Ok(Ok((halls, hall, list, total, catalogs))) => page(
            StatusCode::OK,
            list_page(
                &session,
                &halls,
                Filter {
                    hall: hall.as_deref(),
                    status,
                    page: page_no,
                    total,
                },
                &list,
                &catalogs,
            ),
        ),
        Ok(Err(hall)) => page(
            StatusCode::FORBIDDEN,
            pages::message(
                Some(&session),
                "无权查看 · Not allowed",
                &format!(
                    "{} has no window in hall {hall}; a clerk sees the applications of their own halls only.",
                    session.user
                ),
            ),
        ),
        Err(e) => trouble(&e),
    }
}

/// What the list shows: its filters and which page of how many rows.
struct Filter<'a> {
    hall: Option<&'a str>,
    status: Option<ApplicationStatus>,
    page: i64,
    total: i64,
}

impl Filter<'_> {
    /// The list's address with these filters, at page `page`.
    fn url(&self, page: i64) -> String {
        format!(
            "/console/applications?hall={}&status={}&page={page}",
            path_segment(self.hall.unwrap_or("")),
            self.status.map_or("", ApplicationStatus::as_str)
        )
    }
}

fn list_page(
    session: &ConsoleSession,
    halls: &[String],
    filter: Filter<'_>,
    list: &[ApplicationSummary],
    catalogs: &HashMap<String, Option<Catalog>>,
) -> Markup {
    let Filter { hall, status, .. } = filter;
    let pages = ((filter.total + APPLICATION_LIST_ROWS - 1) / APPLICATION_LIST_ROWS).max(1);
    let page = filter.page;
    layout(
        "申请 · Applications",
        Some(session),
        html! {
            form class="box" method="get" action="/console/applications" id="filter" {
                label style="display: inline" {
                    "大厅 Hall "
                    select name="hall" {
                        @if session.role != crate::store::Role::Clerk { option value="" { "全部 all" } }
                        @for h in halls { option value=(h) selected[Some(h.as_str()) == hall] { (h) } }
                    }
                }
                " "
                label style="display: inline" {
                    "状态 Status "
                    select name="status" {
                        option value="" { "全部 all" }
                        @for s in ApplicationStatus::ALL {
                            option value=(s.as_str()) selected[Some(s) == status] { (status_text(s)) }
                        }
                    }
                }
                " " button type="submit" { "筛选 Filter" }
            }
            @if halls.is_empty() {
                p { "没有可查看的大厅。 · No hall for you: a clerk sees the applications of the halls where they have a window (" code { "central queue clerk" } ")." }
            }
            @if list.is_empty() {
                p id="none" class="muted" { "没有申请 · No applications" }
            } @else {
                table id="applications" {
                    thead { tr {
                        th { "申请编号 Number" } th { "事项 Matter" } th { "申请人 Applicant" }
                        th { "提交时间 Submitted" } th { "状态 Status" } th { "大厅 Hall" }
                    } }
                    tbody { @for a in list {
                        @let catalog = catalogs.get(&a.hall_id).and_then(Option::as_ref);
                        tr data-application=(a.application_no) {
                            td { a href=(detail_url(&a.application_no)) { (grouped(&a.application_no)) } }
                            td { (matter_name(catalog, &a.matter_code)) }
                            td { (a.holder_name_masked) }
                            td { (bj(a.submitted_at)) }
                            td class=(status_class(a.status)) { (status_text(a.status)) }
                            td { (a.hall_id) }
                        }
                    } }
                }
                p id="pager" {
                    @if page > 0 { a href=(filter.url(page - 1)) { "← 较新 Newer" } " " }
                    "共 " (filter.total) " 件，第 " (page + 1) " / " (pages) " 页 · "
                    (filter.total) " in all, page " (page + 1) " of " (pages)
                    @if page + 1 < pages { " " a href=(filter.url(page + 1)) { "较旧 Older →" } }
                }
            }
        },
    )
}

/// What the detail page shows: all of it to staff handling applications, the status and
/// timeline to viewers.
enum Shown {
    Full(ApplicationDetail),
    Outline(ApplicationSummary, Vec<StaffTimelineEntry>),
}

impl Shown {
    fn summary(&self) -> &ApplicationSummary {
        match self {
            Shown::Full(d) => &d.summary,
            Shown::Outline(s, _) => s,
        }
    }

    fn timeline(&self) -> &[StaffTimelineEntry] {
        match self {
            Shown::Full(d) => &d.timeline,
            Shown::Outline(_, t) => t,
        }
    }
}

/// `/console/applications/{no}`.
pub(super) async fn detail(
    State(console): State<Console>,
    Path(no): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    detail_page(&console, &session, &no, StatusCode::OK, None).await
}

async fn detail_page(
    console: &Console,
    session: &ConsoleSession,
    no: &str,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let store = console.store.acting_as(session.actor());
    let handles = session.actor().may(Action::ApplicationRead).is_ok();
    let shown = if handles {
        match store.application_for_staff(no).await {
            Ok(d) => Shown::Full(d),
            Err(e) => return read_refused(session, &e),
        }
    } else {
        let outline = async {
            let Some(summary) = store.application_summary(no).await? else {
                return Ok(None);
            };
            let timeline = store.application_timeline(no).await?;
            Ok::<_, StoreError>(Some(Shown::Outline(summary, timeline)))
        };
        match outline.await {
            Ok(Some(s)) => s,
            Ok(None) => return not_found(session, &format!("No application {no}.")),
            Err(e) => return trouble(&e),
        }
    };
    let catalog = match store.hall_catalog(&shown.summary().hall_id).await {
        Ok(c) => c,
        Err(e) => return trouble(&e),
    };
    let may_move = session.actor().may(Action::ApplicationStatus).is_ok();
    page(
        status,
        render(session, &shown, catalog.as_ref(), may_move, problem),
    )
}

fn render(
    session: &ConsoleSession,
    shown: &Shown,
    catalog: Option<&Catalog>,
    may_move: bool,
    problem: Option<&str>,
) -> Markup {
    let a = shown.summary();
    let matter = matter(catalog, &a.matter_code);
    let url = detail_url(&a.application_no);
    layout(
        &format!("申请 · Application {}", grouped(&a.application_no)),
        Some(session),
        html! {
            @if let Some(p) = problem { div class="error" id="problem" role="alert" { (p) } }
            p { a href={ "/console/applications?hall=" (path_segment(&a.hall_id)) } { "← " (a.hall_id) " 的申请 · applications of " (a.hall_id) } }
            dl class="box" id="application" {
                dt { "申请编号 Number" } dd { (grouped(&a.application_no)) }
                dt { "事项 Matter" } dd { (matter_name(catalog, &a.matter_code)) }
                dt { "申请人 Applicant" } dd { (a.holder_name_masked) }
                dt { "大厅 Hall" } dd { (a.hall_id) }
                dt { "终端 Kiosk" } dd { a href={ "/console/kiosks/" (path_segment(&a.kiosk_id)) } { (a.kiosk_id) } }
                dt { "提交时间 Submitted" } dd { (bj(a.submitted_at)) }
                dt { "状态 Status" } dd id="status" class=(status_class(a.status)) { (status_text(a.status)) }
            }
            @match shown {
                Shown::Full(d) => {
                    h2 { "表单 Form answers" }
                    @if d.form.is_empty() {
                        p class="muted" { "无 · none" }
                    } @else {
                        table id="form" {
                            thead { tr { th { "项目 Field" } th { "填写 Answer" } } }
                            tbody {
                                // The catalog's order first, as the citizen filled the form.
                                @if let Some(m) = matter {
                                    @for f in &m.form {
                                        @if let Some(v) = d.form.get(&f.key) {
                                            tr data-field=(f.key) { td { (f.label_zh) " " (f.label_en) } td { (answer(v)) } }
                                        }
                                    }
                                }
                                @for (key, v) in &d.form {
                                    @if !matter.is_some_and(|m| m.form.iter().any(|f| &f.key == key)) {
                                        tr data-field=(key) { td { code { (key) } } td { (answer(v)) } }
                                    }
                                }
                            }
                        }
                    }
                    h2 { "材料 Materials" }
                    @if d.materials.is_empty() {
                        p class="muted" { "无 · none" }
                    } @else {
                        table id="materials" {
                            thead { tr { th { "材料 Material" } th class="num" { "页数 Pages" } th { "扫描件 Scan" } } }
                            tbody { @for m in &d.materials {
                                @let code = &m.material.material_code;
                                @let named = matter.and_then(|mt| mt.materials.iter().find(|x| &x.id == code));
                                tr data-material=(code) {
                                    td { @match named { Some(n) => { (n.name_zh) " " (n.name_en) }, None => { code { (code) } } } }
                                    td class="num" { (m.material.pages) }
                                    td {
                                        @if m.complete {
                                            a href={ (url) "/materials/" (path_segment(code)) ".pdf" } target="_blank" rel="noopener" { "查看 PDF View PDF" }
                                        } @else if m.received > 0 {
                                            span class="warn" { "上传中 uploading (" (m.received) " bytes)" }
                                        } @else {
                                            span class="bad" { "未收到 not received" }
                                        }
                                    }
                                }
                            } }
                        }
                    }
                    p class="muted" { "查看表单与材料会记入审计日志 · reading form answers and scans is recorded in the audit log." }
                }
                Shown::Outline(..) => {
                    p class="muted" id="personal" { "表单与材料仅限经办人员（clerk 及以上）查看 · form answers and scans are for staff handling applications (clerk and above)." }
                }
            }
            h2 { "办理记录 Timeline" }
            table id="timeline" {
                thead { tr { th { "时间 When" } th { "状态 Status" } th { "给申请人的说明 Note for the citizen" } th { "经办 By" } } }
                tbody { @for t in shown.timeline() {
                    tr data-status=(t.entry.status.as_str()) {
                        td { (bj(t.entry.at)) }
                        td { (status_text(t.entry.status)) }
                        td {
                            (t.entry.note_zh.as_deref().unwrap_or(""))
                            @if let Some(en) = &t.entry.note_en { br; span class="muted" { (en) } }
                        }
                        td class="staff" {
                            @match &t.staff {
                                Some(s) => { (s) }
                                None => { span class="muted" { @if t.entry.status == ApplicationStatus::Submitted { "终端 kiosk" } @else { "—" } } }
                            }
                        }
                    }
                } }
            }
            p class="muted" { "申请人在终端和进度页上看到每一步的状态和说明，看不到经办人 · the citizen sees each step and its notes at the kiosk and on the progress page, not who set it." }
            @if may_move {
                h2 { "办理 Handle" }
                @let next = next_statuses(a.status);
                @if next.is_empty() {
                    p id="final" { "已是最终状态，不能再更改 · this status is final; nothing more can be done." }
                }
                @for to in next {
                    form class="box" method="post" action={ (url) "/advance" } id={ "move-" (to.as_str()) } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="status" value=(to.as_str());
                        @if needs_note(*to) {
                            label { "说明（中文，必填） Note in Chinese (required): "
                                @if *to == ApplicationStatus::SupplementRequired { "缺少什么 · what is missing" } @else { "理由 · why" } }
                            input type="text" name="note_zh" required style="width: 36em";
                            label { "说明（英文，可选） Note in English (optional)" }
                            input type="text" name="note_en" style="width: 36em";
                        } @else {
                            details {
                                summary { "附说明 Add a note for the citizen (optional)" }
                                label { "中文 Chinese" } input type="text" name="note_zh" style="width: 36em";
                                label { "英文 English" } input type="text" name="note_en" style="width: 36em";
                            }
                        }
                        p { button type="submit" id={ "do-" (to.as_str()) } { (move_label(*to)) } }
                    }
                }
            }
        },
    )
}

/// `GET /console/applications/{no}/materials/{code}.pdf`: the scan, to staff handling
/// applications of its hall, audited.
pub(super) async fn material(
    State(console): State<Console>,
    Path((no, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(code) = file.strip_suffix(".pdf") else {
        return not_found(&session, "Materials are served as CODE.pdf.");
    };
    let store = match acting(&console, &session, Action::ApplicationRead) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match store.application_material(&no, code).await {
        Ok(pdf) => {
            tracing::info!(user = %session.user, application = %no, material = code, "application material read from the console");
            pdf_response(&no, code, pdf.bytes)
        }
        Err(e) => read_refused(&session, &e),
    }
}

fn pdf_response(no: &str, code: &str, bytes: Vec<u8>) -> Response {
    // A citizen's scan is opened by staff, never shown inside another site's page.
    download(
        bytes.into(),
        "application/pdf",
        "inline",
        &format!("{no}-{code}.pdf"),
    )
}

/// `POST /console/applications/{no}/advance`.
pub(super) async fn advance(
    State(console): State<Console>,
    Path(no): Path<String>,
    headers: HeaderMap,
    Form(form): Form<AdvanceForm>,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return csrf_refused(Some(&session));
    }
    let store = match acting(&console, &session, Action::ApplicationStatus) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(to) = ApplicationStatus::from_name(form.status.trim()) else {
        return detail_page(
            &console,
            &session,
            &no,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("无此状态 · no such status"),
        )
        .await;
    };
    let done = move_on(&store, &no, to, &form).await;
    match done {
        Ok(()) => {
            tracing::info!(user = %session.user, application = %no, status = %to, "application moved on from the console");
            Redirect::to(&detail_url(&crate::store::stored_number(&no))).into_response()
        }
        Err(AdvanceError::Store(e)) => trouble(&e),
        Err(AdvanceError::Unknown(_) | AdvanceError::NotANumber(_)) => {
            not_found(&session, &format!("No application {no}."))
        }
        Err(AdvanceError::Refused(e)) => read_refused(&session, &e),
        Err(e) => {
            let status = match e {
                AdvanceError::NoteRequired { .. } | AdvanceError::NoteTooLong => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::CONFLICT,
            };
            detail_page(&console, &session, &no, status, Some(&e.to_string())).await
        }
    }
}

async fn move_on(
    store: &Store,
    no: &str,
    to: ApplicationStatus,
    form: &AdvanceForm,
) -> Result<(), AdvanceError> {
    store
        .advance_application(
            no,
            to,
            Some(form.note_zh.as_str()),
            Some(form.note_en.as_str()),
            Utc::now(),
        )
        .await
        .map(|_| ())
}
