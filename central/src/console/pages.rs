//! The console's pages as maud templates. Every value from the database goes through
//! maud's escaping; the only pre-escaped text is the constant style sheet below.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use kiosk_api::SignedRelease;
use kiosk_api::fleet::{DeviceKind, DeviceReport, DeviceState};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::store::{
    AuditEntry, BadReview, ConsoleSession, ConsoleUser, FleetKiosk, FollowUpKind, Hall,
    HealthEntry, HelpRequest, MemberState, QueueStats, RatingDistribution, RefusedEvent, Role,
    RolloutMember, RolloutState, RolloutStatus, TicketRow, UpdateResultRow,
};

const CSS: &str = r#"
body { font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 0; color: #1b1f24; background: #f5f6f8; font-size: 15px; }
header { background: #23395d; color: #fff; padding: 0.6em 1.2em; display: flex; gap: 1.4em; align-items: center; flex-wrap: wrap; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
header form { margin-left: auto; }
main { padding: 1em 1.4em; max-width: 1400px; }
h1 { font-size: 1.4em; margin: 0.4em 0 0.8em; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.5em; }
table { border-collapse: collapse; background: #fff; width: 100%; margin-bottom: 1em; }
th, td { border: 1px solid #d5d9e0; padding: 0.35em 0.55em; text-align: left; vertical-align: top; }
th { background: #e9edf3; font-weight: 600; }
td.num, th.num { text-align: right; }
.ok { color: #17692f; font-weight: 600; }
.warn { color: #8a5a00; font-weight: 600; }
.bad { color: #b0201a; font-weight: 600; }
.muted { color: #666; }
.box { background: #fff; border: 1px solid #d5d9e0; padding: 0.8em 1em; margin-bottom: 1em; }
.error { background: #fdecea; border: 1px solid #e0a19b; padding: 0.6em 1em; margin-bottom: 1em; }
form.inline { display: inline; }
button { font-size: 0.95em; padding: 0.25em 0.8em; cursor: pointer; }
label { display: block; margin: 0.6em 0 0.2em; }
input[type=text], input[type=password] { font-size: 1em; padding: 0.3em; width: 18em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.3em 1.2em; }
dt { font-weight: 600; }
dd { margin: 0; }
"#;

fn china() -> FixedOffset {
    kiosk_api::citizen::hall_offset()
}

/// A time as Beijing time, `2026-11-26 18:05:03`.
pub(super) fn bj(t: DateTime<Utc>) -> String {
    t.with_timezone(&china())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// An RFC 3339 text as Beijing time, or as it is if unreadable.
fn bj_text(text: &str) -> String {
    DateTime::parse_from_rfc3339(text)
        .map(|t| bj(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| text.to_owned())
}

fn ago(t: DateTime<Utc>) -> String {
    let secs = (Utc::now() - t).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} 秒前 · {secs} s ago"),
        60..3600 => format!("{m} 分钟前 · {m} min ago", m = secs / 60),
        3600..86400 => format!("{h} 小时前 · {h} h ago", h = secs / 3600),
        _ => format!("{d} 天前 · {d} d ago", d = secs / 86400),
    }
}

fn kind_label(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::IdCardReader => "身份证阅读器 ID-card reader",
        DeviceKind::Printer => "打印机 printer",
        DeviceKind::Dispenser => "取号机 ticket dispenser",
        DeviceKind::Scanner => "扫描仪 scanner",
        DeviceKind::NumberDisplay => "叫号屏 number display",
    }
}

fn state_label(state: DeviceState) -> (&'static str, &'static str) {
    match state {
        DeviceState::Ready => ("正常 ready", "ok"),
        DeviceState::Degraded => ("需注意 degraded", "warn"),
        DeviceState::Fault => ("故障 fault", "bad"),
        DeviceState::Absent => ("未连接 absent", "bad"),
    }
}

fn detail_label(detail: &str) -> String {
    match detail {
        "paper_low" => "纸将尽 paper low".into(),
        "paper_out" => "缺纸 paper out".into(),
        "cover_open" => "机盖打开 cover open".into(),
        other => other.to_owned(),
    }
}

fn rating_label(level: u8) -> &'static str {
    match level {
        5 => "非常满意 very satisfied",
        4 => "满意 satisfied",
        3 => "基本满意 fairly satisfied",
        2 => "不满意 dissatisfied",
        1 => "非常不满意 very dissatisfied",
        _ => "?",
    }
}

fn outcome_class(outcome: &str) -> &'static str {
    if outcome == "committed" { "ok" } else { "bad" }
}

fn device(d: &DeviceReport) -> Markup {
    let (label, class) = state_label(d.state);
    html! {
        (kind_label(d.kind)) ": " span class=(class) { (label) }
        @if !d.detail.is_empty() { " (" (detail_label(&d.detail)) ")" }
    }
}

/// The devices that need attention, or a word that all are fine.
fn devices_summary(report: Option<&kiosk_api::HealthReport>) -> Markup {
    match report {
        None => html! { span class="muted" { "无报告 no report yet" } },
        Some(r) => {
            let trouble: Vec<&DeviceReport> = r
                .devices
                .iter()
                .filter(|d| d.state != DeviceState::Ready)
                .collect();
            html! {
                @if trouble.is_empty() {
                    span class="ok" { "全部正常 all ready" }
                } @else {
                    @for (i, d) in trouble.iter().enumerate() {
                        @if i > 0 { br; }
                        (device(d))
                    }
                }
            }
        }
    }
}

/// `0012-03`: hall code and kiosk number, the digits that start its application numbers.
fn kiosk_number(k: &FleetKiosk) -> String {
    match (k.hall_code, k.kiosk_no) {
        (Some(h), Some(n)) => format!("{h:04}-{n:02}"),
        _ => "–".to_owned(),
    }
}

/// What a quarantine or refusal reason means, for ops.
fn reason_label(reason: &str) -> String {
    match reason {
        "invalid_payload" => "内容不符合约定 invalid payload".into(),
        "wrong_stream" => "数据流错误 wrong stream".into(),
        "number_not_yours" => "编号不属于该终端 number not this kiosk's".into(),
        "number_taken" => "编号已被占用 number taken".into(),
        "already_rated" => "已评价 already rated".into(),
        "seq_reused" => "序号重复 sequence number reused".into(),
        "unreadable" => "无法读取 unreadable".into(),
        "attachment_lost" => "附件丢失 attachment lost".into(),
        "too_large" => "过大 too large".into(),
        other => other.to_owned(),
    }
}

pub(super) fn layout(title: &str, session: Option<&ConsoleSession>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 运维控制台 Ops console" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    span { "政务服务终端运维 · Hall kiosk ops" }
                    @if let Some(s) = session {
                        a href="/console/fleet" { "终端 Fleet" }
                        a href="/console/rollouts" { "发布 Rollouts" }
                        a href="/console/clerk" { "窗口 Windows" }
                        a href="/console/applications" { "申请 Applications" }
                        a href="/console/followups" { "回访 Follow-ups" }
                        a href="/console/audit" { "审计 Audit log" }
                        @if s.role == Role::Admin { a href="/console/users" { "用户 Users" } }
                        a href="/console/account" { "账户 Account" }
                        form class="inline" method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            span { (s.user) " (" (s.role) ") " }
                            button type="submit" { "退出 Log out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                    p class="muted" { "时间均为北京时间 (UTC+8) · times are Beijing time (UTC+8)" }
                }
            }
        }
    }
}

/// Rows of the audit log per page.
pub(super) const AUDIT_PAGE_ROWS: i64 = 50;

/// The audit log, newest first, `page` (from 0) of `total` rows.
pub(super) fn audit(
    session: &ConsoleSession,
    entries: &[AuditEntry],
    page: i64,
    total: i64,
) -> Markup {
    let pages = (total + AUDIT_PAGE_ROWS - 1) / AUDIT_PAGE_ROWS;
    layout(
        "审计日志 Audit log",
        Some(session),
        html! {
            p class="muted" { "每一项改变状态的运维操作（控制台与命令行），最新在前 · every state-changing ops action, from the console and the CLI, newest first · " (total) " 条 rows" }
            table id="audit" {
                thead { tr { th class="num" { "#" } th { "时间 When" } th { "操作人 Who" } th { "途径 Via" } th { "操作 Action" } th { "对象 Target" } th { "说明 Detail" } } }
                tbody { @for e in entries {
                    tr { td class="num" { (e.id) } td { (bj(e.at)) } td { (e.actor) } td { (e.via) } td { (e.action) } td { (e.target) } td { (e.detail) } }
                } }
            }
            p id="pager" {
                @if page > 0 { a href=(format!("/console/audit?page={}", page - 1)) { "← 较新 Newer" } " " }
                "第 " (page + 1) " / " (pages.max(1)) " 页 · page " (page + 1) " of " (pages.max(1))
                @if page + 1 < pages { " " a href=(format!("/console/audit?page={}", page + 1)) { "较旧 Older →" } }
            }
        },
    )
}

/// `text` as one URL path segment: user names may hold `/`, `?`, `#` or spaces, which would
/// otherwise send a form somewhere else. axum's `Path` decodes it back.
pub(super) fn path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn role_options(selected: Role) -> Markup {
    html! {
        @for r in [Role::Viewer, Role::Operator, Role::Admin] {
            option value=(r) selected[r == selected] { (r) }
        }
    }
}

/// Console users (admins only): add, change role, remove.
pub(super) fn users(session: &ConsoleSession, users: &[ConsoleUser]) -> Markup {
    layout(
        "控制台用户 Console users",
        Some(session),
        html! {
            p class="muted" { "viewer 只读 reads; operator 日常操作 day-to-day (help, follow-up, application status, queue, pause/resume); admin 全部 everything (publishing, releases, rollouts, users, kiosks, tokens). 删除用户或更改密码会立即结束其所有会话 · removing a user or changing a password ends all their sessions at once." }
            table id="users" {
                thead { tr { th { "用户 User" } th { "角色 Role" } th { "创建 Added" } th class="num" { "会话 Sessions" } th { "删除 Remove" } } }
                tbody { @for u in users {
                    tr {
                        td { (u.name) }
                        td { form class="inline" method="post" action=(format!("/console/users/{}/role", path_segment(&u.name))) {
                            input type="hidden" name="csrf" value=(session.csrf);
                            select name="role" { (role_options(u.role)) }
                            " " button type="submit" { "更改 Change" }
                        } }
                        td { (bj(u.created_at)) }
                        td class="num" { (u.sessions) }
                        td { @if u.name != session.user { form class="inline" method="post" action=(format!("/console/users/{}/remove", path_segment(&u.name))) {
                            input type="hidden" name="csrf" value=(session.csrf);
                            label { input type="checkbox" name="confirm" value="yes" required; " 确认 confirm" }
                            button type="submit" { "删除 Remove" }
                        } } }
                    }
                } }
            }
            h2 { "添加用户 Add a user" }
            form class="box" id="add-user" method="post" action="/console/users" {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="name" { "用户名 User name" } input type="text" id="name" name="name" required maxlength="64";
                label for="role" { "角色 Role" } select id="role" name="role" { (role_options(Role::Viewer)) }
                label for="password" { "初始密码 First password (10+ characters)" } input type="password" id="password" name="password" required minlength="10" autocomplete="new-password";
                p { button type="submit" { "添加 Add" } }
            }
        },
    )
}

/// The signed-in user's account: their role and the password form.
pub(super) fn account(session: &ConsoleSession, problem: Option<&str>) -> Markup {
    layout(
        "账户 Account",
        Some(session),
        html! {
            dl class="box" { dt { "用户 User" } dd { (session.user) } dt { "角色 Role" } dd { (session.role) } }
            @if let Some(p) = problem { div class="error" role="alert" { (p) } }
            h2 { "更改密码 Change password" }
            form class="box" id="password" method="post" action="/console/account/password" {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="current" { "当前密码 Current password" } input type="password" id="current" name="current" required autocomplete="current-password";
                label for="new" { "新密码 New password (10+ characters)" } input type="password" id="new" name="new" required minlength="10" autocomplete="new-password";
                label for="again" { "再次输入 New password again" } input type="password" id="again" name="again" required minlength="10" autocomplete="new-password";
                p class="muted" { "更改后，您的所有会话（包括本会话）都将结束，请重新登录 · all your sessions, this one included, end: sign in again." }
                p { button type="submit" { "更改 Change" } }
            }
        },
    )
}

/// A page with one message.
pub(super) fn message(session: Option<&ConsoleSession>, title: &str, text: &str) -> Markup {
    layout(title, session, html! { div class="box" { p { (text) } } })
}

/// The login form; `failed` after a refused attempt (never saying which part was wrong).
pub(super) fn login(csrf: &str, failed: bool) -> Markup {
    layout(
        "登录 Log in",
        None,
        html! {
            @if failed {
                div class="error" role="alert" { "用户名或密码错误 · Wrong user name or password" }
            }
            form class="box" method="post" action="/console/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="user" { "用户名 User name" }
                input type="text" id="user" name="user" autocomplete="username" required;
                label for="password" { "密码 Password" }
                input type="password" id="password" name="password" autocomplete="current-password" required;
                p { button type="submit" { "登录 Log in" } }
            }
        },
    )
}

/// The fleet list.
pub(super) fn fleet(
    session: &ConsoleSession,
    kiosks: &[FleetKiosk],
    help: &[HelpRequest],
    halls: &[Hall],
) -> Markup {
    let online = kiosks.iter().filter(|k| k.online).count();
    layout(
        "终端列表 Fleet",
        Some(session),
        html! {
            p {
                (kiosks.len()) " 台终端 kiosks · " span class="ok" { (online) " 在线 online" } " · "
                span class=(if online < kiosks.len() { "bad" } else { "muted" }) { (kiosks.len() - online) " 离线 offline" }
                " · " span class="muted" { "在线 = 5 分钟内有联系 · online = heard from within 5 minutes" }
            }
            p {
                "大厅 Halls: "
                @for (i, h) in halls.iter().enumerate() {
                    @if i > 0 { " · " }
                    a href=(format!("/console/halls/{}", h.id)) { (h.name) " (" (h.id) ")" }
                }
            }
            table id="fleet" {
                thead { tr {
                    th { "终端 Kiosk" } th { "编号 No." } th { "大厅 Hall" } th { "状态 Status" } th { "最后联系 Last seen" }
                    th { "版本 Version" } th { "设备 Devices" } th class="num" { "积压 Backlog" } th class="num" { "隔离 Quarantined" } th class="num" { "求助 Help" }
                } }
                tbody {
                    @for k in kiosks {
                        @let open_help = help.iter().filter(|h| h.kiosk_id == k.kiosk_id).count();
                        tr data-kiosk=(k.kiosk_id) {
                            td { a href=(format!("/console/kiosks/{}", k.kiosk_id)) { (k.hostname) } br; span class="muted" { (k.kiosk_id) } }
                            td { (kiosk_number(k)) }
                            td { a href=(format!("/console/halls/{}", k.hall_id)) { (k.hall_name) } }
                            td { @if k.revoked.is_some() { span class="bad" { "已吊销 revoked" } } @else if k.retired_at.is_some() { span class="muted" { "已停用 retired" } } @else if k.online { span class="ok" { "在线 online" } } @else { span class="bad" { "离线 offline" } } }
                            td { @match k.last_seen_at { Some(t) => { (bj(t)) br; span class="muted" { (ago(t)) } }, None => { span class="muted" { "从未 never" } } } }
                            td { (k.version) }
                            td { (devices_summary(k.report.as_ref())) }
                            td class="num" { @match &k.report { Some(r) => { (r.backlog) }, None => { "–" } } }
                            td class="num" { @match &k.report {
                                Some(r) if r.quarantined > 0 => { span class="bad" { (r.quarantined) } },
                                Some(_) => { "0" },
                                None => { "–" },
                            } }
                            td class="num" { @if open_help > 0 { span class="bad" { (open_help) } } @else { "0" } }
                        }
                    }
                }
            }
        },
    )
}

/// One kiosk: state now, its quarantine and what central refused, health history, update
/// results and help requests.
pub(super) fn kiosk(
    session: &ConsoleSession,
    k: &FleetKiosk,
    history: &[HealthEntry],
    updates: &[UpdateResultRow],
    help: &[HelpRequest],
    refused: &[RefusedEvent],
) -> Markup {
    layout(
        &format!("终端 Kiosk {}", k.hostname),
        Some(session),
        html! {
            dl class="box" id="kiosk" {
                dt { "终端编号 Kiosk id" } dd { (k.kiosk_id) }
                dt { "主机名 Host name" } dd { (k.hostname) }
                dt { "大厅 Hall" } dd { a href=(format!("/console/halls/{}", k.hall_id)) { (k.hall_name) } " (" (k.hall_id) ")" }
                dt { "大厅代码 Hall code" } dd { @match k.hall_code { Some(c) => { (format!("{c:04}")) }, None => { "–" } } }
                dt { "终端号 Kiosk no." } dd { @match k.kiosk_no { Some(n) => { (format!("{n:02}")) }, None => { "–" } }
                    " " span class="muted" { "申请编号以 " (kiosk_number(k).replace('-', " ")) " 开头 · application numbers start " (kiosk_number(k).replace('-', " ")) } }
                dt { "状态 Status" } dd { @if k.online { span class="ok" { "在线 online" } } @else { span class="bad" { "离线 offline" } }
                    @if let Some(t) = k.retired_at { " · " span class="muted" { "已停用 retired " (bj(t)) } }
                    @if let Some(r) = &k.revoked { " · " span class="bad" id="revoked" { "已吊销 revoked " (bj(r.at)) " by " (r.by) ": " (r.reason) } } }
                dt { "最后联系 Last seen" } dd { @match k.last_seen_at { Some(t) => { (bj(t)) " · " (ago(t)) }, None => { "从未 never" } } }
                dt { "版本 Version" } dd { (k.version) }
                dt { "登记时间 Enrolled" } dd { @if let Some(t) = k.enrolled_at { (bj(t)) } }
                dt { "离线号段 Offline numbers" } dd { (k.band.0) "–" (k.band.1) }
                @if let Some(r) = &k.report {
                    dt { "积压 Backlog" } dd { (r.backlog) " 条 events" }
                    dt { "隔离 Quarantined" } dd { @if r.quarantined > 0 { span class="bad" { (r.quarantined) " 条 events" } } @else { "0" } }
                    dt { "磁盘剩余 Disk free" } dd { (r.disk_free_bytes / (1024 * 1024)) " MiB" }
                    dt { "使用中 Session active" } dd { @if r.session_active { "是 yes" } @else { "否 no" } }
                }
            }
            h2 { "设备 Devices" }
            @match &k.report {
                Some(r) => {
                    table id="devices" {
                        thead { tr { th { "设备 Device" } th { "状态 State" } th { "说明 Detail" } } }
                        tbody { @for d in &r.devices {
                            @let (label, class) = state_label(d.state);
                            tr { td { (kind_label(d.kind)) } td { span class=(class) { (label) } } td { (detail_label(&d.detail)) } }
                        } }
                    }
                    @if let Some(at) = &k.reported_at { p class="muted" { "报告于 reported at " (bj_text(at)) } }
                },
                None => { p class="muted" { "无报告 no health report yet" } },
            }
            h2 { "隔离的事件 Quarantined on the kiosk" }
            @match &k.report {
                Some(r) if !r.quarantine.is_empty() => {
                    table id="quarantine" {
                        thead { tr { th class="num" { "序号 Seq" } th { "类型 Kind" } th { "原因 Reason" } th { "说明 Detail" } th { "时间 Since" } } }
                        tbody { @for q in &r.quarantine {
                            tr { td class="num" { (q.seq) } td { (q.kind) } td { span class="bad" { (reason_label(&q.reason)) } } td { (q.detail) } td { (bj(q.since)) } }
                        } }
                    }
                    @if r.quarantined > r.quarantine.len() as u64 {
                        p class="muted" { "另有 " (r.quarantined - r.quarantine.len() as u64) " 条未列出 · " (r.quarantined - r.quarantine.len() as u64) " more not listed" }
                    }
                    p class="muted" { "终端保留这些事件（仍加密），可用 kioskctl sync status 查看、重试或导出 · the kiosk keeps them (still encrypted); kioskctl sync status lists, retries or exports them" }
                },
                Some(_) => { p class="ok" { "无 none" } },
                None => { p class="muted" { "无报告 no health report yet" } },
            }
            h2 { "中心拒收 Refused by central" }
            table id="refused" {
                thead { tr { th { "时间 Time" } th class="num" { "序号 Seq" } th { "类型 Kind" } th { "原因 Reason" } th { "说明 Detail" } th class="num" { "次数 Times" } } }
                tbody { @for r in refused {
                    tr { td { (bj(r.refused_at)) } td class="num" { (r.seq) } td { (r.kind) } td { span class="bad" { (reason_label(&r.reason)) } } td { (r.detail) } td class="num" { (r.times) } }
                } }
            }
            @if refused.is_empty() { p class="ok" { "无 none" } }
            h2 { "健康记录 Health history" }
            table id="health-history" {
                thead { tr { th { "时间 Time" } th { "版本 Version" } th { "设备 Devices" } th class="num" { "积压 Backlog" } th class="num" { "磁盘剩余 Disk free (MiB)" } } }
                tbody { @for h in history {
                    tr {
                        td { (bj_text(&h.at)) }
                        @match &h.report {
                            Some(r) => {
                                td { (r.version) } td { (devices_summary(Some(r))) } td class="num" { (r.backlog) } td class="num" { (r.disk_free_bytes / (1024 * 1024)) }
                            },
                            None => { td colspan="4" class="bad" { "报告格式错误 report does not fit the contract" } },
                        }
                    }
                } }
            }
            h2 { "更新结果 Update results" }
            (update_table(updates))
            h2 { "求助 Help requests" }
            (help_table(help, session, &format!("kiosk:{}", k.kiosk_id)))
            @if k.revoked.is_none() && session.role == Role::Admin {
                h2 { "吊销 Revoke" }
                form class="box" id="revoke" method="post" action=(format!("/console/kiosks/{}/revoke", k.kiosk_id)) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    p { "吊销后，各中心节点在几秒内拒绝该终端的所有请求，并告知原因；其离线号段归还大厅。重新登记需新的登记令牌（central token create --reprovision）。"
                        br; "Once revoked, every central node refuses this kiosk's requests within seconds, telling it the reason; its offline band goes back to the hall. Bringing it back takes a re-provisioning token." }
                    label for="reason" { "原因 Reason" }
                    input type="text" id="reason" name="reason" required maxlength="500";
                    label { input type="checkbox" name="confirm" value="yes" required; " 确认吊销此终端 · I confirm: revoke this kiosk" }
                    button type="submit" { "吊销 Revoke" }
                }
            }
        },
    )
}

fn update_table(updates: &[UpdateResultRow]) -> Markup {
    html! {
        table class="updates" {
            thead { tr { th { "时间 Time" } th { "版本 Version" } th { "原版本 From" } th { "结果 Outcome" } th { "原因 Reason" } th { "说明 Detail" } } }
            tbody { @for u in updates {
                tr {
                    td { (bj_text(&u.at)) } td { (u.version) } td { (u.from_version) }
                    td { span class=(outcome_class(&u.outcome)) { (u.outcome) } } td { (u.reason) } td { (u.detail) }
                }
            } }
        }
        @if updates.is_empty() { p class="muted" { "暂无 none yet" } }
    }
}

fn help_table(help: &[HelpRequest], session: &ConsoleSession, back: &str) -> Markup {
    html! {
        table class="help" {
            thead { tr { th { "时间 Time" } th { "终端 Kiosk" } th { "页面 Page" } th { "语言 Language" } th { "状态 State" } } }
            tbody { @for h in help {
                tr data-help=(h.id) {
                    td { (bj(h.requested_at)) }
                    td { a href=(format!("/console/kiosks/{}", h.kiosk_id)) { (h.hostname) }
                        @if let Some(n) = h.kiosk_no { " " span class="muted" { "(" (format!("{n:02}")) ")" } } }
                    td { (h.page) } td { (h.language) }
                    td { @match h.acknowledged_at {
                        Some(t) => { span class="muted" { "已处理 handled " (bj(t)) @if let Some(by) = &h.acknowledged_by { " · " (by) } } },
                        None => {
                            span class="bad" { "待处理 open" } " "
                            form class="inline" method="post" action=(format!("/console/help/{}/ack", h.id)) {
                                input type="hidden" name="csrf" value=(session.csrf);
                                input type="hidden" name="back" value=(back);
                                button type="submit" { "我去处理 I'm coming" }
                            }
                        },
                    } }
                }
            } }
        }
        @if help.is_empty() { p class="muted" { "暂无 none" } }
    }
}

/// Rollouts with their cohorts, failures and buttons.
pub(super) fn rollouts(
    session: &ConsoleSession,
    rollouts: &[RolloutStatus],
    members: &[Vec<RolloutMember>],
    releases: &[SignedRelease],
) -> Markup {
    layout(
        "版本发布 Rollouts",
        Some(session),
        html! {
            @if rollouts.is_empty() { p class="muted" { "暂无发布 no rollouts yet; start one with `central rollout start`" } }
            @for (r, chosen) in rollouts.iter().zip(members) {
                section class="box rollout" id=(format!("rollout-{}", r.id)) {
                    h2 { "发布 Rollout " (r.id) " · 版本 release " (r.release) " · "
                        span class=(rollout_class(r.state)) { (state_zh(r.state)) " " (r.state) } }
                    @if let Some(reason) = &r.paused_reason { p class="warn" { "暂停原因 Paused: " (reason) } }
                    p class="muted" { "创建 created " (bj_text(&r.created_at)) " · 更新 updated " (bj_text(&r.updated_at))
                        " · 失败达 " (r.max_failures) " 台即暂停 pauses at " (r.max_failures) " failed kiosk(s)" }
                    table class="stages" {
                        thead { tr { th { "批次 Cohort" } th { "范围 Selector" } th { "状态 State" } th class="num" { "终端 Kiosks" } th class="num" { "已完成 Committed" }
                            th class="num" { "进行中 Pending" } th class="num" { "失败 Failed" } th class="num" { "已确认失败 Acknowledged" } th class="num" { "跳过 Skipped" } th class="num" { "进度 Progress" } } }
                        tbody { @for s in &r.stages {
                            @let settled = s.committed + s.acknowledged + s.skipped;
                            tr {
                                td { (s.stage) } td { (s.selector) } td { (s.state) } td class="num" { (s.kiosks) } td class="num" { (s.committed) }
                                td class="num" { (s.pending) } td class="num" { @if s.failed > 0 { span class="bad" { (s.failed) } } @else { "0" } }
                                td class="num" { (s.acknowledged) } td class="num" { (s.skipped) }
                                td class="num" { @if s.kiosks > 0 { (settled * 100 / s.kiosks) "%" } @else { "–" } }
                            }
                        } }
                    }
                    @if !r.failures.is_empty() {
                        h2 { "失败 Failures" }
                        table class="failures" {
                            thead { tr { th { "时间 Time" } th { "终端 Kiosk" } th { "大厅 Hall" } th { "结果 Outcome" } th { "原因 Reason" } th { "说明 Detail" } } }
                            tbody { @for f in &r.failures {
                                tr {
                                    td { (bj_text(&f.at)) }
                                    td { a href=(format!("/console/kiosks/{}", f.kiosk_id)) { (f.hostname) } }
                                    td { (f.hall_id) }
                                    td { span class="bad" { (f.outcome) } } td { (f.reason) } td { (f.detail) }
                                }
                            } }
                        }
                    }
                    details {
                        summary { "终端明细 Kiosks of this rollout (" (chosen.len()) ")" }
                        table class="members" {
                            thead { tr { th { "批次 Cohort" } th { "终端 Kiosk" } th { "大厅 Hall" } th { "状态 State" } th { "说明 Note" } } }
                            tbody { @for m in chosen {
                                tr {
                                    td { (m.stage) }
                                    td { a href=(format!("/console/kiosks/{}", m.kiosk_id)) { (m.hostname) } }
                                    td { (m.hall_id) }
                                    td { span class=(member_class(m.state)) { (m.state) } }
                                    td { (m.note) }
                                }
                            } }
                        }
                    }
                    @for action in actions(r.state) {
                        form class="inline" method="post" action=(format!("/console/rollouts/{}/{}", r.id, action.0)) {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { (action.1) }
                            " "
                        }
                    }
                }
            }
            h2 { "已发布版本 Published releases" }
            table id="releases" {
                thead { tr { th { "版本 Version" } th { "最低版本 Min version" } th class="num" { "大小 Size (bytes)" } th { "sha256" } th { "签名密钥 Key" } th { "发布时间 Published" } } }
                tbody { @for rel in releases {
                    @let m = &rel.manifest;
                    tr { td { (m.version) } td { (m.min_version) } td class="num" { (m.size) } td { code { (m.sha256) } } td { (rel.key_id) } td { (bj(m.published_at)) } }
                } }
            }
        },
    )
}

fn member_class(state: MemberState) -> &'static str {
    match state {
        MemberState::Committed => "ok",
        MemberState::Failed => "bad",
        MemberState::Acknowledged | MemberState::Skipped => "warn",
        MemberState::Pending => "muted",
    }
}

fn rollout_class(state: RolloutState) -> &'static str {
    match state {
        RolloutState::Active | RolloutState::Completed => "ok",
        RolloutState::Paused => "warn",
        RolloutState::Aborted => "bad",
    }
}

fn state_zh(state: RolloutState) -> &'static str {
    match state {
        RolloutState::Active => "进行中",
        RolloutState::Paused => "已暂停",
        RolloutState::Aborted => "已中止",
        RolloutState::Completed => "已完成",
    }
}

fn actions(state: RolloutState) -> Vec<(&'static str, &'static str)> {
    match state {
        RolloutState::Active => vec![("pause", "暂停 Pause"), ("abort", "中止 Abort")],
        RolloutState::Paused => vec![("resume", "继续 Resume"), ("abort", "中止 Abort")],
        RolloutState::Aborted | RolloutState::Completed => vec![],
    }
}

/// What the hall page lists besides its queue.
pub(super) struct HallLists<'a> {
    /// 好差评 by level.
    pub(super) ratings: &'a RatingDistribution,
    /// Bad reviews to follow up.
    pub(super) bad: &'a [BadReview],
    /// Open help requests.
    pub(super) help: &'a [HelpRequest],
    /// Its kiosks.
    pub(super) kiosks: &'a [FleetKiosk],
    /// The day's tickets recorded unconfirmed.
    pub(super) unconfirmed: &'a [TicketRow],
}

/// A hall: queue statistics of a day, unconfirmed tickets, 好差评 distribution, bad reviews
/// to follow up, open help requests and its kiosks.
pub(super) fn hall(
    session: &ConsoleSession,
    hall: &Hall,
    date: NaiveDate,
    queue: &QueueStats,
    lists: HallLists<'_>,
) -> Markup {
    let HallLists {
        ratings,
        bad,
        help,
        kiosks,
        unconfirmed,
    } = lists;
    layout(
        &format!("大厅 Hall {}", hall.name),
        Some(session),
        html! {
            p class="muted" { "大厅编号 Hall id " (hall.id) " · 大厅代码 hall code "
                @match hall.code { Some(c) => { (format!("{c:04}")) }, None => { "–" } }
                " · " (kiosks.len()) " 台终端 kiosks, "
                (kiosks.iter().filter(|k| k.online).count()) " 在线 online · "
                a href={ "/console/applications?hall=" (path_segment(&hall.id)) } { "本厅申请 this hall's applications" } }
            h2 { "排队统计 Queue · " (date) }
            p { a id="report-link" href=(format!("/console/halls/{}/report", hall.id)) { "窗口统计与导出 · Window statistics and CSV" } }
            form method="get" action=(format!("/console/halls/{}", hall.id)) {
                label for="date" { "日期 Date" }
                input type="text" id="date" name="date" value=(date) pattern="\\d{4}-\\d{2}-\\d{2}";
                " " button type="submit" { "查看 Show" }
            }
            table id="queue" {
                thead { tr { th { "队列 Queue" } th class="num" { "已取号 Issued" } th class="num" { "作废 Voided" } th class="num" { "已叫号 Called" }
                    th class="num" { "等候 Waiting" } th class="num" { "其中优先 Priority waiting" } th class="num" { "未确认 Unconfirmed" } th class="num" { "平均办理 Avg service" } th class="num" { "平均等候 Avg wait" } th { "正在办理 Now serving" } } }
                tbody { @for c in &queue.categories {
                    tr {
                        td { (c.category) } td class="num" { (c.issued) } td class="num" { (c.voided) } td class="num" { (c.called) }
                        td class="num" { (c.waiting) } td class="num" { (c.waiting_priority) }
                        td class="num" { @if c.unconfirmed > 0 { span class="warn" { (c.unconfirmed) } } @else { "0" } }
                        td class="num" { @match c.avg_service_secs { Some(s) => { (s / 60) " 分 min " (s % 60) " 秒 s" }, None => { "–" } } }
                        td class="num" { @match c.avg_wait_secs { Some(s) => { (s / 60) " 分 min " (s % 60) " 秒 s" }, None => { "–" } } }
                        td { @match &c.now_serving { Some(t) => { (t) }, None => { "–" } } }
                    }
                } }
            }
            @if queue.categories.is_empty() { p class="muted" { "当日无取号 no tickets that day" } }
            @if !unconfirmed.is_empty() {
                h2 { "未确认的号 Unconfirmed tickets · " (unconfirmed.len()) }
                p class="warn" { "终端在打印后、记录前重启：号码照常叫号，请核对市民手中的号票 · the kiosk restarted between printing and recording: call them as usual, check the citizen's slip" }
                table id="unconfirmed" {
                    thead { tr { th { "号码 Ticket" } th { "状态 State" } th { "时间 Printed" } th { "终端 Kiosk" } } }
                    tbody { @for t in unconfirmed {
                        tr { td { (t.ticket_no) } td { (t.state) } td { (bj(t.issued_at)) } td { a href=(format!("/console/kiosks/{}", t.kiosk_id)) { "终端 kiosk" } } }
                    } }
                }
            }
            h2 { "好差评 Ratings · " (ratings.total) " 条 in total" }
            table id="ratings" {
                thead { tr { th { "评价 Level" } th class="num" { "数量 Count" } th class="num" { "占比 Share" } } }
                tbody { @for level in (1..=5u8).rev() {
                    @let n = ratings.levels.iter().find(|l| l.level == level).map_or(0, |l| l.count);
                    tr {
                        td { @if level <= 2 { span class="bad" { (rating_label(level)) } } @else { (rating_label(level)) } }
                        td class="num" { (n) }
                        td class="num" { @if ratings.total > 0 { (n * 100 / ratings.total) "%" } @else { "–" } }
                    }
                } }
            }
            h2 { "待回访差评 Bad reviews to follow up · " (bad.len()) }
            p { a href="/console/followups" { "全部待处理回访，逾期在前 · all open follow-ups, overdue first →" } }
            table id="bad-reviews" {
                thead { tr { th { "期限 Due" } th { "时间 Time" } th { "评价 Level" } th { "对象 Subject" } th { "事项 Matter" } th { "原因 Reasons" } th { "留言 Note" } th { "来源 From" } } }
                tbody { @for b in bad {
                    tr {
                        td { (due_cell(b, Utc::now())) }
                        td { (bj(b.given_at)) } td { span class="bad" { (rating_label(b.level)) } } td { (b.subject) }
                        td { @if let Some(m) = &b.matter_code { (m) } } td { (reasons_label(&b.reasons)) }
                        td { @if let Some(n) = &b.note { (n) } }
                        td { (rated_from(b)) }
                    }
                } }
            }
            @if bad.is_empty() { p class="ok" { "无待回访差评 nothing to follow up" } }
            h2 { "待处理求助 Open help requests" }
            (help_table(help, session, &format!("hall:{}", hall.id)))
        },
    )
}

/// Reason codes as staff read them: the label of each known code, the code itself else.
fn reasons_label(reasons: &[String]) -> String {
    reasons
        .iter()
        .map(|r| {
            kiosk_api::citizen::RATING_REASONS
                .iter()
                .find(|(code, _, _)| code == r)
                .map_or_else(|| r.clone(), |(_, zh, en)| format!("{zh} {en}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a rating came from: a kiosk (linked) or a window and its clerk.
fn rated_from(b: &BadReview) -> Markup {
    html! {
        @if let Some(w) = b.window_no {
            (w) " 号窗口 window " (w)
            @if let Some(c) = &b.clerk { " · " (c) }
        }
        @if let Some(k) = &b.kiosk_id {
            a href=(format!("/console/kiosks/{k}")) { "终端 kiosk" }
        }
    }
}

/// How long past its deadline a follow-up is, in days once it is a day or more.
fn overdue_by(late: chrono::Duration) -> String {
    match late.num_days() {
        0 => format!("{h} 小时 h", h = late.num_hours()),
        d => format!("{d} 天 d"),
    }
}

/// A follow-up's deadline, marked when it has passed at `now`.
fn due_cell(b: &BadReview, now: DateTime<Utc>) -> Markup {
    html! {
        @match b.follow_up_due {
            Some(due) if due < now => {
                span class="bad overdue" { "已逾期 OVERDUE " (overdue_by(now - due)) } br; (bj(due))
            }
            Some(due) => { (bj(due)) }
            None => { "–" }
        }
    }
}

/// Open follow-ups of bad ratings of every hall, overdue first: each can be turned into
/// another kind (restarting its deadline) or closed with a note.
pub(super) fn follow_ups(
    session: &ConsoleSession,
    open: &[BadReview],
    deadlines: &[(FollowUpKind, u32)],
    problem: Option<&str>,
) -> Markup {
    let now = Utc::now();
    let overdue = open
        .iter()
        .filter(|b| b.follow_up_due.is_some_and(|d| d < now))
        .count();
    layout(
        "差评回访 Follow-ups",
        Some(session),
        html! {
            @if let Some(p) = problem { div class="error" id="problem" { (p) } }
            p {
                (open.len()) " 条待处理 open · "
                @if overdue > 0 { span class="bad" id="overdue-count" { (overdue) " 条已逾期 overdue" } }
                @else { span class="ok" id="overdue-count" { "无逾期 none overdue" } }
            }
            p class="muted" {
                "差评（不满意、非常不满意）自动生成整改，期限按自然日计 · a bad rating opens a rectification; deadlines count calendar days: "
                @for (i, (k, d)) in deadlines.iter().enumerate() {
                    @if i > 0 { ", " }
                    (k.label()) " " (d) " 天 days"
                }
                " (" code { "central ratings deadline" } ")"
            }
            table id="follow-ups" {
                thead { tr { th { "期限 Due" } th { "类型 Kind" } th { "大厅 Hall" } th { "评价 Level" } th { "对象 Subject" } th { "来源 From" }
                    th { "原因 Reasons" } th { "留言 Note" } th { "评价时间 Given" } th { "处理 Act" } } }
                tbody { @for b in open {
                    tr data-rating=(b.id) {
                        td { (due_cell(b, now)) }
                        td class="kind" { (b.follow_up_kind.map_or("–", FollowUpKind::label)) }
                        td { a href=(format!("/console/halls/{}", b.hall_id)) { (b.hall_id) } }
                        td { span class="bad" { (rating_label(b.level)) } }
                        td { (b.subject) }
                        td { (rated_from(b)) }
                        td { (reasons_label(&b.reasons)) }
                        td { @if let Some(n) = &b.note { (n) } }
                        td { (bj(b.given_at)) }
                        td {
                            form method="post" action=(format!("/console/followups/{}/kind", b.id)) {
                                input type="hidden" name="csrf" value=(session.csrf);
                                select name="kind" {
                                    @for k in FollowUpKind::ALL {
                                        option value=(k.as_str()) selected[b.follow_up_kind == Some(k)] { (k.label()) }
                                    }
                                }
                                " " button type="submit" { "改为 Change" }
                            }
                            form method="post" action=(format!("/console/followups/{}/close", b.id)) {
                                input type="hidden" name="csrf" value=(session.csrf);
                                input type="text" name="note" required placeholder="处理结果 what was done";
                                " " button type="submit" class="close" { "办结 Close" }
                            }
                        }
                    }
                } }
            }
            @if open.is_empty() { p class="ok" { "无待处理回访 nothing to follow up" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_go_into_urls_as_one_path_segment() {
        assert_eq!(path_segment("ops-li_2.x~"), "ops-li_2.x~");
        assert_eq!(path_segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(path_segment("王"), "%E7%8E%8B");
    }
}
