//! The hall director's statistics (issue 16 item 7): `/console/halls/{id}/report` shows a
//! period per day and window, `/console/halls/{id}/report.csv` gives the same to a
//! spreadsheet. Any signed-in user may read them, as every other console page.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Days, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Console, download, hall_today, page, pages, session, trouble};
use crate::store::{ConsoleSession, HallReport, ReportError, Spread};

/// The period asked for (`?from=YYYY-MM-DD&to=YYYY-MM-DD`); without them, the last seven days
/// up to today.
#[derive(Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

impl PeriodQuery {
    /// The first and last day, or the text that could not be read as a date.
    fn period(&self) -> Result<(NaiveDate, NaiveDate), String> {
        let day = |text: &Option<String>| -> Result<Option<NaiveDate>, String> {
            match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                None => Ok(None),
                Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| t.to_owned()),
            }
        };
        let to = day(&self.to)?.unwrap_or_else(hall_today);
        let from =
            day(&self.from)?.unwrap_or_else(|| to.checked_sub_days(Days::new(6)).unwrap_or(to));
        Ok((from, to))
    }
}

fn refused(session: &ConsoleSession, text: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        pages::message(Some(session), "无法生成报表 · No report", text),
    )
}

async fn made(
    console: &Console,
    session: &ConsoleSession,
    hall: &str,
    query: &PeriodQuery,
) -> Result<HallReport, Response> {
    let (from, to) = query.period().map_err(|bad| {
        refused(
            session,
            &format!(
                "“{bad}” 不是日期，请写成 2026-12-01 · “{bad}” is no date; write it as 2026-12-01."
            ),
        )
    })?;
    let halls = console.store.halls().await.map_err(|e| trouble(&e))?;
    if !halls.iter().any(|h| h.id == hall) {
        return Err(page(
            StatusCode::NOT_FOUND,
            pages::message(
                Some(session),
                "未找到大厅 · No such hall",
                "No hall with this id.",
            ),
        ));
    }
    console
        .store
        .hall_report(hall, from, to)
        .await
        .map_err(|e| match e {
            ReportError::Store(e) => trouble(&e),
            ReportError::Backwards { .. } => {
                refused(session, &format!("结束日期早于开始日期 · {e}"))
            }
            ReportError::TooLong { .. } => refused(session, &format!("时间段过长 · {e}")),
        })
}

/// `/console/halls/{id}/report`.
pub(super) async fn report(
    State(console): State<Console>,
    Path(hall): Path<String>,
    Query(query): Query<PeriodQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match made(&console, &session, &hall, &query).await {
        Ok(report) => page(StatusCode::OK, render(&session, &report)),
        Err(r) => r,
    }
}

/// `/console/halls/{id}/report.csv`: the same period as a download.
pub(super) async fn report_csv(
    State(console): State<Console>,
    Path(hall): Path<String>,
    Query(query): Query<PeriodQuery>,
    headers: HeaderMap,
) -> Response {
    let session = match session(&console, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let report = match made(&console, &session, &hall, &query).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    download(
        report.to_csv().into(),
        "text/csv; charset=utf-8",
        "attachment",
        &format!("hall-{}-{}-{}.csv", report.hall_id, report.from, report.to),
    )
}

fn spread(s: &Spread, which: fn(&Spread) -> Option<u64>) -> Markup {
    match which(s) {
        // Minutes and seconds, as a stopwatch shows them: the columns stay narrow.
        Some(secs) => html! { (format!("{}:{:02}", secs / 60, secs % 60)) },
        None => html! { "–" },
    }
}

fn render(session: &ConsoleSession, report: &HallReport) -> Markup {
    let base = format!("/console/halls/{}/report", report.hall_id);
    let csv = format!("{base}.csv?from={}&to={}", report.from, report.to);
    pages::layout(
        &format!("窗口统计 Window statistics · {}", report.hall_id),
        Some(session),
        html! {
            p { a href=(format!("/console/halls/{}", report.hall_id)) { "← 大厅 Hall" } }
            form method="get" action=(base) {
                label for="from" { "从 From" } " "
                input type="text" id="from" name="from" value=(report.from) pattern="\\d{4}-\\d{2}-\\d{2}";
                " " label for="to" { "到 To" } " "
                input type="text" id="to" name="to" value=(report.to) pattern="\\d{4}-\\d{2}-\\d{2}";
                " " button type="submit" { "查看 Show" }
                " " a id="csv" href=(csv) { "导出 CSV · Download CSV" }
            }
            p class="muted" { "等候：取号（或过号后重新排队）至叫号；办理：叫号至办结或叫下一位。P90：九成不超过此值。 · Wait: from the ticket (or its requeue) to the call; service: from the call to 办结 or the next call. P90: nine in ten took at most this long. Times are 分:秒 min:s." }
            table id="report" {
                thead { tr {
                    th { "日期 Date" } th { "窗口 Window" } th { "工作人员 Clerks" }
                    th class="num" { "取号 Issued" } th class="num" { "叫号 Calls" } th class="num" { "办结 Served" }
                    th class="num" { "过号 No-shows" } th class="num" { "转出 Transferred" }
                    th class="num" { "平均等候 Mean wait" } th class="num" { "P90 等候 wait" }
                    th class="num" { "平均办理 Mean service" } th class="num" { "P90 办理 service" }
                    th class="num" { "评价 Ratings" } th class="num" { "平均评分 Mean" } th class="num" { "差评 Bad" }
                } }
                tbody {
                    @for day in report.days.iter().rev() {
                        @for w in day.windows.iter().chain(std::iter::once(&day.hall)) {
                            tr class=[w.window_no.is_none().then_some("total")] {
                                td style="white-space: nowrap" { (day.date) }
                                td { @match w.window_no { Some(n) => { (n) " 号 no. " (n) }, None => { strong { "全部 All" } } } }
                                td { (w.clerks.join(", ")) }
                                td class="num" { @if w.window_no.is_none() { (day.issued) } }
                                td class="num" { (w.calls) } td class="num" { (w.served) }
                                td class="num" { (w.no_shows) } td class="num" { (w.transferred) }
                                td class="num" { (spread(&w.wait, |s| s.mean_secs)) }
                                td class="num" { (spread(&w.wait, |s| s.p90_secs)) }
                                td class="num" { (spread(&w.service, |s| s.mean_secs)) }
                                td class="num" { (spread(&w.service, |s| s.p90_secs)) }
                                td class="num" { (w.ratings.count) }
                                td class="num" { (w.ratings.mean().unwrap_or_else(|| "–".to_owned())) }
                                td class="num" { @if w.ratings.bad > 0 { span class="bad" { (w.ratings.bad) } } @else { "0" } }
                            }
                        }
                    }
                }
            }
        },
    )
}
