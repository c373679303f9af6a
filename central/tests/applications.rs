//! Applications for staff (issue 16 item 6), told as stories on SQLite and PostgreSQL: a kiosk
//! submits an application with an uploaded PDF; a clerk of the hall lists it, opens it, reads
//! the PDF, accepts it, asks for a missing material and completes it, each step recorded with
//! the clerk and shown by the kiosk's progress query without the name. Moves that make no
//! sense, staff without rights and materials that are not this application's own are refused;
//! the command line follows the same rules and records its actor.
//! Then the same in headless Chromium: a clerk clicks through the list to the application and
//! accepts it. Without chromium that test is skipped loudly, or fails when CI=true.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Utc;
use common::browser::{Browser, csrf_of};
use common::chrome::{Chrome, chromium};
use common::{Central, Kiosk, Outbox, acked, databases, sample_catalog, today, upload_attachment};
use kiosk_api::citizen::{
    ApplicationProgress, ApplicationStatus, ApplicationSubmitted, SubmittedMaterial,
};
use kiosk_api::{ApplicationNo, EventOutcome, routes};
use reqwest::Method;

const PASSWORD: &str = "correct horse battery";

/// A small but real PDF, different per `tag`.
fn pdf(tag: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% scan {tag}\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}

fn application_no(kiosk: &Kiosk, seq: u16) -> ApplicationNo {
    ApplicationNo::new(
        kiosk.enrolment.hall_code,
        kiosk.enrolment.kiosk_no,
        today(),
        seq,
    )
    .unwrap()
}

fn material(code: &str, sha: &str, pages: u32) -> SubmittedMaterial {
    SubmittedMaterial {
        material_code: code.into(),
        attachment_sha256: sha.into(),
        pages,
    }
}

/// Submits an application of `kiosk` for a social security card with `materials`, listing
/// `attached` as the event's attachments (those central waits for).
async fn submit(
    kiosk: &Kiosk,
    outbox: &mut Outbox,
    no: ApplicationNo,
    materials: Vec<SubmittedMaterial>,
    attached: &[&str],
) {
    let submitted = ApplicationSubmitted {
        application_no: no,
        matter_code: "hr-sscard-apply".into(),
        holder_hash: "cd".repeat(32),
        holder_name_masked: "张*".into(),
        form: serde_json::json!({"phone": "13800000000", "bank": "工商银行", "extra": 7})
            .as_object()
            .unwrap()
            .clone(),
        materials,
        submitted_at: Utc::now(),
        live_token: None,
    };
    let mut event = outbox.event(&submitted);
    event.attachments = attached.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(acked(kiosk, &[event]).await, vec![EventOutcome::Stored]);
}

/// A console user of `role` named `name`.
async fn user(central: &Central, name: &str, role: central::store::Role) {
    central
        .store
        .add_console_user(name, PASSWORD, role)
        .await
        .unwrap();
}

/// Posts a move of an application as the page's form does.
async fn post(
    b: &mut Browser,
    path: &str,
    csrf: &str,
    status: &str,
    note_zh: &str,
    note_en: &str,
) -> common::browser::Page {
    b.post(
        path,
        &[
            ("csrf", csrf),
            ("status", status),
            ("note_zh", note_zh),
            ("note_en", note_en),
        ],
    )
    .await
}

/// GET with the browser's cookies, keeping the raw bytes and headers.
async fn fetch(b: &Browser, path: &str) -> reqwest::Response {
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    b.http
        .get(format!("{}{path}", b.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_clerk_handles_an_application_from_the_list_to_completion() {
    for db in databases().await {
        let name = db.name;
        let central = Central::start(&db).await;
        let store = &central.store;
        let kiosk = central.kiosk().await;
        let neighbour = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let _other_hall = central.kiosk_of_hall("xicheng-main").await;
        let bundle =
            kiosk_api::sign_bundle(&central.ops, "catalog", "2026-11-26.1", &sample_catalog());
        store.publish(&hall, &bundle).await.unwrap();

        // The kiosk's photo scan arrives whole; another kiosk of the hall uploads a scan of
        // its own, and this kiosk only half of a third one.
        let photo = pdf("photo");
        let photo_sha = upload_attachment(&kiosk, &photo, photo.len()).await;
        let theirs = pdf("the neighbour's citizen");
        let theirs_sha = upload_attachment(&neighbour, &theirs, theirs.len()).await;
        let partial = pdf("still uploading");
        let partial_sha = upload_attachment(&kiosk, &partial, 20).await;
        let no = application_no(&kiosk, 1);
        let mut outbox = Outbox::new();
        submit(
            &kiosk,
            &mut outbox,
            no,
            vec![
                material("photo-1in", &photo_sha, 1),
                // A material naming another kiosk's upload must never reach its bytes.
                material("idcard", &theirs_sha, 2),
                material("household", &partial_sha, 3),
            ],
            &[&photo_sha],
        )
        .await;
        let older = application_no(&kiosk, 2);
        // A second application, submitted a minute before the first (listed after it).
        let older_event = {
            let mut e = outbox.event(&ApplicationSubmitted {
                application_no: older,
                matter_code: "unknown-matter".into(),
                holder_hash: "ab".repeat(32),
                holder_name_masked: "李*".into(),
                form: serde_json::Map::new(),
                materials: vec![],
                submitted_at: Utc::now() - chrono::Duration::minutes(1),
                live_token: None,
            });
            e.attachments.clear();
            e
        };
        assert_eq!(
            acked(&kiosk, &[older_event]).await,
            vec![EventOutcome::Stored]
        );

        store.set_window(&hall, 5, &["A".into()]).await.unwrap();
        store
            .set_window("xicheng-main", 1, &["A".into()])
            .await
            .unwrap();
        user(&central, "li", central::store::Role::Clerk).await;
        user(&central, "wang", central::store::Role::Clerk).await;
        user(&central, "zhao", central::store::Role::Viewer).await;
        store.bind_clerk("li", &hall, 5).await.unwrap();
        store.bind_clerk("wang", "xicheng-main", 1).await.unwrap();

        // The list: newest first, masked name and the catalog's matter name, no holder hash.
        let mut li = Browser::new(&central.base);
        assert_eq!(li.log_in("li", PASSWORD).await.status, 303);
        let list = li.get("/console/applications").await;
        assert_eq!(list.status, 200, "{name}");
        let body = &list.body;
        assert!(
            body.contains("申请 Applications"),
            "the navigation links it"
        );
        let first = body.find(&no.grouped()).expect("the application is listed");
        let second = body
            .find(&older.grouped())
            .expect("the older one is listed");
        assert!(first < second, "{name}: newest first");
        assert!(
            body.contains("张*") && body.contains("社会保障卡申领"),
            "{body}"
        );
        assert!(
            body.contains("unknown-matter"),
            "a matter not in the catalog by code"
        );
        assert!(
            !body.contains(&"cd".repeat(32)),
            "no holder hash on the page"
        );
        let accepted_only = li
            .get(&format!(
                "/console/applications?hall={hall}&status=accepted"
            ))
            .await;
        assert_eq!(accepted_only.status, 200);
        assert!(!accepted_only.body.contains(&no.grouped()));
        assert_eq!(
            li.get("/console/applications?status=lost").await.status,
            400
        );

        // The application: form answers labelled from the catalog, materials with pages.
        let detail_path = format!("/console/applications/{no}");
        let detail = li.get(&detail_path).await;
        assert_eq!(detail.status, 200, "{name}");
        let d = &detail.body;
        assert!(
            d.contains("联系电话 Phone number") && d.contains("13800000000"),
            "{d}"
        );
        assert!(
            d.contains("选择合作银行 Partner bank") && d.contains("工商银行"),
            "{d}"
        );
        assert!(
            d.contains("<code>extra</code>"),
            "a key the catalog lacks, raw: {d}"
        );
        assert!(d.contains("近期一寸白底证件照"), "{d}");
        assert!(d.contains("已提交 Submitted"), "{d}");
        assert!(d.contains("未收到 not received"), "{d}");
        assert!(d.contains("上传中 uploading"), "{d}");
        let pdf_path = format!("{detail_path}/materials/photo-1in.pdf");
        assert!(d.contains(&pdf_path), "{d}");

        // The PDF itself: the same bytes, inline, never cached.
        let got = fetch(&li, &pdf_path).await;
        assert_eq!(got.status(), 200, "{name}");
        let h = got.headers().clone();
        assert_eq!(h["content-type"], "application/pdf");
        assert!(
            h["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("inline")
        );
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(got.bytes().await.unwrap().as_ref(), photo.as_slice());
        // Another kiosk's upload under this application's material: not found, and never
        // the neighbour's bytes; an incomplete one: 409; a code it lacks: 404.
        let stolen = fetch(&li, &format!("{detail_path}/materials/idcard.pdf")).await;
        assert_eq!(stolen.status(), 404, "{name}");
        let page = stolen.text().await.unwrap();
        assert!(!page.contains("neighbour"), "{page}");
        assert!(page.contains("has not reached central"), "{page}");
        let uploading = fetch(&li, &format!("{detail_path}/materials/household.pdf")).await;
        assert_eq!(uploading.status(), 409);
        assert!(uploading.text().await.unwrap().contains("still uploading"));
        assert_eq!(
            fetch(&li, &format!("{detail_path}/materials/contract.pdf"))
                .await
                .status(),
            404
        );
        assert_eq!(
            fetch(
                &li,
                &format!("/console/applications/{older}/materials/photo-1in.pdf")
            )
            .await
            .status(),
            404,
            "a material of another application"
        );
        assert_eq!(
            fetch(
                &li,
                "/console/applications/00000000000000000/materials/photo-1in.pdf"
            )
            .await
            .status(),
            404
        );

        // 受理, 需补正 (a note is required), a move that skips steps, 受理 again, 办结.
        let csrf = csrf_of(&detail.body);
        let advance = format!("{detail_path}/advance");
        let r = post(&mut li, &advance, &csrf, "accepted", "", "").await;
        assert_eq!(r.status, 303, "{name}: {}", r.body);
        let r = post(&mut li, &advance, &csrf, "supplement_required", "  ", "").await;
        assert_eq!(r.status, 422, "a supplement without a note");
        assert!(r.body.contains("请填写给申请人的说明"), "{}", r.body);
        let r = post(
            &mut li,
            &advance,
            &csrf,
            "supplement_required",
            "请补交户口簿首页及本人页",
            "Please bring the household register",
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let r = post(&mut li, &advance, &csrf, "completed", "", "").await;
        assert_eq!(r.status, 409, "{name}: completing what waits for materials");
        assert!(
            r.body.contains("不能从「需补正材料」改为「已办结」")
                && r.body.contains("cannot be moved to completed"),
            "{}",
            r.body
        );
        assert!(
            post(&mut li, &advance, &csrf, "accepted", "材料已补齐", "")
                .await
                .status
                == 303
        );
        assert!(
            post(&mut li, &advance, &csrf, "completed", "", "")
                .await
                .status
                == 303
        );
        let r = post(&mut li, &advance, &csrf, "rejected", "迟到的拒绝", "").await;
        assert_eq!(r.status, 409, "completed is final");
        assert!(r.body.contains("nothing, it is final"), "{}", r.body);
        let r = post(&mut li, &advance, &csrf, "submitted", "", "").await;
        assert_eq!(r.status, 409);
        let shown = li.get(&detail_path).await.body;
        assert!(shown.contains("已办结 Completed"), "{shown}");
        assert!(shown.contains("已是最终状态"), "{shown}");

        // Central's timeline names the clerk at every step the clerk set.
        let timeline = store.application_timeline(&no.to_string()).await.unwrap();
        let steps: Vec<(ApplicationStatus, Option<&str>)> = timeline
            .iter()
            .map(|t| (t.entry.status, t.staff.as_deref()))
            .collect();
        assert_eq!(
            steps,
            [
                (ApplicationStatus::Submitted, None),
                (ApplicationStatus::Accepted, Some("li")),
                (ApplicationStatus::SupplementRequired, Some("li")),
                (ApplicationStatus::Accepted, Some("li")),
                (ApplicationStatus::Completed, Some("li")),
            ],
            "{name}"
        );
        assert_eq!(timeline[1].entry.note_zh, None, "a blank note is none");

        // The kiosk's progress query shows each step with its notes, and no staff name.
        let response = kiosk
            .request(Method::GET, &routes::application(&no.to_string()), vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let raw = response.text().await.unwrap();
        assert!(!raw.contains("\"li\"") && !raw.contains("staff"), "{raw}");
        let progress: ApplicationProgress = serde_json::from_str(&raw).unwrap();
        assert_eq!(progress.status, ApplicationStatus::Completed);
        let statuses: Vec<ApplicationStatus> = progress.timeline.iter().map(|t| t.status).collect();
        assert_eq!(statuses, steps.iter().map(|s| s.0).collect::<Vec<_>>());
        assert_eq!(
            progress.timeline[2].note_zh.as_deref(),
            Some("请补交户口簿首页及本人页")
        );
        assert_eq!(
            progress.timeline[2].note_en.as_deref(),
            Some("Please bring the household register")
        );

        // The reads and moves are in the audit log, by li; no name or form answer in it.
        let (audit, _) = store.audit_log(100, 0).await.unwrap();
        let by_li: Vec<(&str, &str)> = audit
            .iter()
            .filter(|e| e.actor == "li")
            .map(|e| (e.action.as_str(), e.detail.as_str()))
            .collect();
        assert!(
            by_li
                .iter()
                .any(|(a, d)| *a == "application.read" && d.starts_with("material photo-1in")),
            "{by_li:?}"
        );
        assert!(by_li.contains(&("application.read", "form answers")));
        assert!(by_li.contains(&("application.status", "supplement_required -> accepted")));
        assert_eq!(
            by_li
                .iter()
                .filter(|(a, _)| *a == "application.status")
                .count(),
            4,
            "refused moves leave no row: {by_li:?}"
        );
        assert!(
            audit
                .iter()
                .all(|e| !e.detail.contains("张") && !e.detail.contains("13800000000"))
        );

        // A clerk of another hall: no list, no application, no scan, no move.
        let mut wang = Browser::new(&central.base);
        wang.log_in("wang", PASSWORD).await;
        let theirs_list = wang.get("/console/applications").await;
        assert_eq!(theirs_list.status, 200);
        assert!(!theirs_list.body.contains(&no.grouped()), "{name}");
        assert_eq!(
            wang.get(&format!("/console/applications?hall={hall}"))
                .await
                .status,
            403
        );
        let refused = wang.get(&format!("/console/applications/{older}")).await;
        assert_eq!(refused.status, 403, "{name}");
        assert!(!refused.body.contains("李*"));
        assert_eq!(fetch(&wang, &pdf_path).await.status(), 403);
        let wang_csrf = csrf_of(&wang.get("/console/applications").await.body);
        let r = wang
            .post(
                &format!("/console/applications/{older}/advance"),
                &[("csrf", &wang_csrf), ("status", "accepted")],
            )
            .await;
        assert_eq!(r.status, 403, "{name}");

        // A viewer reads the status and timeline, not the answers or scans, and moves nothing.
        let mut zhao = Browser::new(&central.base);
        zhao.log_in("zhao", PASSWORD).await;
        let outline = zhao.get(&format!("/console/applications/{older}")).await;
        assert_eq!(outline.status, 200);
        assert!(outline.body.contains("表单与材料仅限经办人员"));
        assert!(!outline.body.contains("id=\"form\"") && !outline.body.contains("do-accepted"));
        assert_eq!(fetch(&zhao, &pdf_path).await.status(), 403);
        let zhao_csrf = csrf_of(&outline.body);
        let r = zhao
            .post(
                &format!("/console/applications/{older}/advance"),
                &[("csrf", &zhao_csrf), ("status", "accepted")],
            )
            .await;
        assert_eq!(r.status, 403);
        assert!(r.body.contains("needs the clerk role"), "{}", r.body);
        let untouched = store
            .application_timeline(&older.to_string())
            .await
            .unwrap();
        assert_eq!(untouched.len(), 1, "nothing moved the older application");

        // The command line: the same rules, its actor recorded, and who set each step shown.
        let older_no = older.to_string();
        let cli = |args: &[&str]| {
            std::process::Command::new(common::BIN)
                .args(args)
                .args(["--db", &db.url])
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        };
        let said = |out: &std::process::Output| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        };
        let advance_older = ["application", "advance", &older_no, "--status", "accepted"];
        let as_wang = cli(&[&advance_older[..], &["--as", "wang"]].concat());
        assert!(!as_wang.status.success());
        assert!(
            said(&as_wang).contains("has no window in hall"),
            "{}",
            said(&as_wang)
        );
        let as_zhao = cli(&[&advance_older[..], &["--as", "zhao"]].concat());
        assert!(!as_zhao.status.success());
        assert!(
            said(&as_zhao).contains("needs the clerk role"),
            "{}",
            said(&as_zhao)
        );
        let no_note = cli(&["application", "advance", &older_no, "--status", "rejected"]);
        assert!(!no_note.status.success());
        assert!(
            said(&no_note).contains("needs a note"),
            "{}",
            said(&no_note)
        );
        let rejected = cli(&[
            "application",
            "advance",
            &older_no,
            "--status",
            "rejected",
            "--note-zh",
            "不属于本厅事项",
        ]);
        assert!(rejected.status.success(), "{}", said(&rejected));
        let t = store.application_timeline(&older_no).await.unwrap();
        assert!(
            t[1].staff.as_deref().is_some_and(|s| s.starts_with("cli:")),
            "{name}: {t:?}"
        );
        let after = cli(&advance_older);
        assert!(!after.status.success());
        assert!(
            said(&after).contains("cannot be moved to accepted"),
            "{}",
            said(&after)
        );
        let shown = cli(&["application", "show", &no.to_string()]);
        assert!(shown.status.success());
        assert_eq!(
            said(&shown).matches("[by li]").count(),
            4,
            "{}",
            said(&shown)
        );

        // Two clerks accepting one application at once: one step, the other told.
        let third = application_no(&kiosk, 4);
        submit(&kiosk, &mut outbox, third, vec![], &[]).await;
        let as_clerk = |who: &str| {
            store.acting_as(central::store::Actor {
                name: who.into(),
                via: central::store::Via::Console,
                role: central::store::Role::Operator,
            })
        };
        let (a, b) = (as_clerk("li"), as_clerk("chen"));
        let third_no = third.to_string();
        let accept = |s: central::Store| {
            let no = third_no.clone();
            async move {
                s.advance_application(&no, ApplicationStatus::Accepted, None, None, Utc::now())
                    .await
            }
        };
        let (first, second) = tokio::join!(accept(a), accept(b));
        let refused = match (&first, &second) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            _ => panic!("{name}: exactly one of two accepts wins: {first:?} {second:?}"),
        };
        assert!(
            matches!(
                refused,
                central::store::AdvanceError::Changed(_)
                    | central::store::AdvanceError::NotAllowed { .. }
            ),
            "{refused:?}"
        );
        assert_eq!(
            store.application_timeline(&third_no).await.unwrap().len(),
            2
        );
        central.stop().await;
    }
}

#[tokio::test]
async fn the_list_pages_through_a_busy_hall_keeping_its_filters() {
    let rows = usize::try_from(central::store::APPLICATION_LIST_ROWS).unwrap();
    for db in databases().await {
        let central = Central::start(&db).await;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        // One more application than a page holds, a minute apart, the oldest first.
        let mut outbox = Outbox::new();
        let events: Vec<_> = (1..=rows + 1)
            .map(|seq| {
                let mut e = outbox.event(&ApplicationSubmitted {
                    application_no: application_no(&kiosk, u16::try_from(seq).unwrap()),
                    matter_code: "hr-sscard-apply".into(),
                    holder_hash: "ab".repeat(32),
                    holder_name_masked: "李*".into(),
                    form: serde_json::Map::new(),
                    materials: vec![],
                    submitted_at: Utc::now()
                        - chrono::Duration::minutes(i64::try_from(rows + 1 - seq).unwrap()),
                    live_token: None,
                });
                e.attachments.clear();
                e
            })
            .collect();
        assert!(
            acked(&kiosk, &events)
                .await
                .iter()
                .all(|o| *o == EventOutcome::Stored)
        );
        user(&central, "zhao", central::store::Role::Operator).await;
        let mut zhao = Browser::new(&central.base);
        zhao.log_in("zhao", PASSWORD).await;
        let listed = |body: &str| body.matches("data-application=").count();

        let first = zhao
            .get(&format!(
                "/console/applications?hall={hall}&status=submitted"
            ))
            .await;
        assert_eq!(first.status, 200, "{}", db.name);
        assert_eq!(listed(&first.body), rows);
        let newest = application_no(&kiosk, u16::try_from(rows + 1).unwrap()).to_string();
        assert!(first.body.contains(&newest), "newest first");
        assert!(
            first
                .body
                .contains(&format!("{} in all, page 1 of 2", rows + 1))
        );
        let next = format!("/console/applications?hall={hall}&amp;status=submitted&amp;page=1");
        assert!(first.body.contains(&next), "{}", first.body);

        let second = zhao.get(&next.replace("&amp;", "&")).await;
        assert_eq!(listed(&second.body), 1);
        let oldest = application_no(&kiosk, 1).to_string();
        assert!(second.body.contains(&oldest), "{}", second.body);
        assert!(second.body.contains("page 2 of 2"));
        assert!(!second.body.contains("较旧 Older"));
        // Another status has none of them; a page past the end lists nothing.
        let accepted = zhao
            .get(&format!(
                "/console/applications?hall={hall}&status=accepted"
            ))
            .await;
        assert_eq!(listed(&accepted.body), 0);
        let beyond = zhao
            .get(&format!(
                "/console/applications?hall={hall}&page=99999999999999"
            ))
            .await;
        assert_eq!(beyond.status, 200);
        assert_eq!(listed(&beyond.body), 0);
    }
}

#[tokio::test]
async fn headless_chromium_a_clerk_opens_an_application_and_accepts_it() {
    let Some(binary) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is not installed but CI=true: apt-get install chromium");
        }
        eprintln!("\n!!!! SKIPPING the applications' browser test: chromium is not installed.\n");
        return;
    };
    for db in databases().await {
        let central = Central::start(&db).await;
        let store = &central.store;
        let kiosk = central.kiosk().await;
        let hall = kiosk.enrolment.hall_id.clone();
        let photo = pdf("photo");
        let sha = upload_attachment(&kiosk, &photo, photo.len()).await;
        let no = application_no(&kiosk, 3);
        submit(
            &kiosk,
            &mut Outbox::new(),
            no,
            vec![material("photo-1in", &sha, 1)],
            &[&sha],
        )
        .await;
        store.set_window(&hall, 5, &["A".into()]).await.unwrap();
        user(&central, "li", central::store::Role::Clerk).await;
        store.bind_clerk("li", &hall, 5).await.unwrap();
        let base = central.base.clone();
        let name = db.name;
        let binary = binary.clone();
        let bytes = photo.len();

        tokio::task::spawn_blocking(move || {
            let mut chrome = Chrome::start(&binary);
            chrome.navigate(&format!("{base}/console/login"));
            chrome.type_into("#user", "li");
            chrome.type_into("#password", PASSWORD);
            chrome.and_wait_for_load(|c| c.click("button[type=submit]"));
            assert_eq!(chrome.eval("location.pathname"), "/console/clerk", "{name}");

            chrome.and_wait_for_load(|c| c.click("header a[href='/console/applications']"));
            let row = chrome.text(&format!("tr[data-application='{no}']"));
            assert!(
                row.contains("张*") && row.contains("已提交 Submitted"),
                "{row}"
            );
            chrome.and_wait_for_load(|c| {
                c.click(&format!("tr[data-application='{no}'] a"));
            });
            assert_eq!(
                chrome.eval("location.pathname"),
                format!("/console/applications/{no}").as_str()
            );
            assert!(chrome.text("#status").contains("已提交"));
            chrome.screenshot(&format!("application-{name}"));

            // The PDF link answers a PDF of the scan's size to this session. The console's CSP
            // forbids a page's own requests, so the probe (the test's, not the console's) runs
            // with CSP bypassed on a reload, and the clicks after it under the real CSP again.
            let here = format!("{base}/console/applications/{no}");
            chrome.call(
                "Page.setBypassCSP",
                serde_json::json!({"enabled": true}),
                true,
            );
            chrome.navigate(&here);
            let answer = chrome.eval(
                "(() => { const a = document.querySelector('tr[data-material=\"photo-1in\"] a'); \
                   const x = new XMLHttpRequest(); x.open('GET', a.href, false); x.send(); \
                   return [x.status, x.getResponseHeader('content-type'), x.response.length, \
                           x.response.startsWith('%PDF-')]; })()",
            );
            assert_eq!(answer[0], 200, "{answer}");
            assert_eq!(answer[1], "application/pdf", "{answer}");
            assert_eq!(answer[2], bytes, "{answer}");
            assert_eq!(answer[3], true, "{answer}");
            chrome.call(
                "Page.setBypassCSP",
                serde_json::json!({"enabled": false}),
                true,
            );
            chrome.navigate(&here);

            chrome.and_wait_for_load(|c| c.click("#do-accepted"));
            assert_eq!(
                chrome.eval("location.pathname"),
                format!("/console/applications/{no}").as_str(),
                "back on the application"
            );
            let status = chrome.text("#status");
            assert!(status.contains("已受理 Accepted"), "{name}: {status}");
            let by = chrome.text("#timeline tr[data-status='accepted'] td.staff");
            assert_eq!(by, "li", "the step names the clerk");
            assert_eq!(
                chrome.eval("document.querySelector('#do-accepted') === null"),
                true,
                "accepting is no longer offered"
            );
            assert_eq!(
                chrome.eval("document.querySelector('#do-completed') !== null"),
                true,
                "completing is"
            );
        })
        .await
        .unwrap();
        central.stop().await;
    }
}
