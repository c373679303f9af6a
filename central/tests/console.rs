//! The ops console over real HTTP, as a browser without JavaScript uses it: sign-in, the
//! fleet, a kiosk, rollouts with their failures and buttons, a hall's queue and 好差评. Data
//! reaches central the way kiosks send it (signed event batches). SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;
mod ops_common;

use common::browser::{Browser, csrf_of};
use common::{Central, Kiosk, databases};
use kiosk_api::{EnrolRequest, Enrolment, Event, Stream, keys, routes};
use ops_common::{artifact, health, publish, report_health, report_update};

const PASSWORD: &str = "correct horse battery";

async fn enrol_named(central: &Central, hall: &str, hostname: &str) -> Kiosk {
    let key = keys::generate();
    let token = central.token(hall).await;
    let r = central
        .http
        .post(format!("{}{}", central.base, routes::ENROLMENTS))
        .json(&EnrolRequest {
            token,
            public_key: keys::public_key_to_base64(&key.verifying_key()),
            hostname: hostname.into(),
            version: "0.1.0".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let enrolment: Enrolment = r.json().await.unwrap();
    Kiosk {
        key,
        enrolment,
        base: central.base.clone(),
        http: central.http.clone(),
        clock_skew: 0,
    }
}

fn citizen_event(stream: Stream, kind: &str, payload: serde_json::Value) -> Event {
    Event {
        stream,
        kind: kind.into(),
        payload,
        ..health("x", serde_json::json!({}))
    }
}

#[tokio::test]
async fn ops_log_in_and_see_the_fleet_a_kiosk_rollout_failures_and_a_hall() {
    for db in databases().await {
        let central = Central::start(&db).await;
        central
            .store
            .add_console_user("ops", PASSWORD, central::store::Role::Admin)
            .await
            .unwrap();
        let kiosk = enrol_named(&central, "dongcheng-main", "east-3 <b>lobby</b>").await;
        report_health(
            &kiosk,
            serde_json::json!({"version": "0.1.0", "devices": [
                {"kind": "printer", "state": "degraded", "detail": "paper_low"},
                {"kind": "id_card_reader", "state": "fault", "detail": "no answer on /dev/kiosk/idcard"},
                {"kind": "scanner", "state": "ready"}
            ], "backlog": 17, "disk_free_bytes": 3221225472u64, "session_active": false}),
        )
        .await;
        let mut browser = Browser::new(&central.base);

        for root in ["/console", "/console/"] {
            let r = browser.get(root).await;
            assert_eq!(
                (r.status, r.location.as_deref()),
                (303, Some("/console/fleet"))
            );
        }
        // Not signed in: every page sends the browser to the login form.
        let fleet = browser.get("/console/fleet").await;
        assert_eq!(fleet.status, 303, "{}", db.name);
        assert_eq!(fleet.location.as_deref(), Some("/console/login"));
        // A wrong password and an unknown user get the very same answer.
        let wrong = browser.log_in("ops", "not the password").await;
        let unknown = browser.log_in("nobody", PASSWORD).await;
        assert_eq!((wrong.status, unknown.status), (401, 401));
        assert!(wrong.body.contains("Wrong user name or password"));
        assert_eq!(
            wrong.body.replace(&csrf_of(&wrong.body), ""),
            unknown.body.replace(&csrf_of(&unknown.body), "")
        );
        // A login form not sent from our page is refused.
        let forged = browser
            .post(
                "/console/login",
                &[
                    ("user", "ops"),
                    ("password", PASSWORD),
                    ("csrf", &"0".repeat(64)),
                ],
            )
            .await;
        assert_eq!(forged.status, 403);
        // Five wrong guesses lock a name out for a while, right password or not.
        central
            .store
            .add_console_user("ops-wu", PASSWORD, central::store::Role::Admin)
            .await
            .unwrap();
        for _ in 0..5 {
            assert_eq!(browser.log_in("ops-wu", "guess").await.status, 401);
        }
        let locked = browser.log_in("ops-wu", PASSWORD).await;
        assert_eq!(locked.status, 401);
        assert!(locked.body.contains("Wrong user name or password"));

        let ok = browser.log_in("ops", PASSWORD).await;
        assert_eq!(
            (ok.status, ok.location.as_deref()),
            (303, Some("/console/fleet"))
        );
        let fleet = browser.get("/console/fleet").await;
        assert_eq!(fleet.status, 200);
        let html = &fleet.body;
        assert!(html.contains(&kiosk.id().to_string()));
        assert!(
            html.contains("east-3 &lt;b&gt;lobby&lt;/b&gt;"),
            "host names are escaped"
        );
        assert!(!html.contains("<b>lobby"));
        assert!(html.contains("在线 online"));
        assert!(html.contains("纸将尽 paper low"));
        assert!(html.contains("故障 fault"));
        assert!(html.contains(">17<"), "backlog shown");

        let detail = browser
            .get(&format!("/console/kiosks/{}", kiosk.id()))
            .await;
        assert_eq!(detail.status, 200);
        assert!(detail.body.contains("no answer on /dev/kiosk/idcard"));
        assert!(detail.body.contains("3072 MiB"));
        assert!(detail.body.contains("id=\"health-history\""));

        // A rollout whose only kiosk fails its health gate: paused, reason on the page.
        publish(&central, "0.2.0", "0.1.0", &artifact(3, 500)).await;
        let rollout = central
            .store
            .start_rollout("0.2.0", &[central::store::StageSelector::Percent(100)], 1)
            .await
            .unwrap();
        report_update(
            &kiosk,
            "0.2.0",
            "0.1.0",
            "rolled_back",
            "health_deadline",
            "ui not drawn within 90 s",
        )
        .await;
        let page = browser.get("/console/rollouts").await;
        assert!(page.body.contains("已暂停 paused"));
        assert!(page.body.contains("health_deadline"));
        assert!(page.body.contains("ui not drawn within 90 s"));
        assert!(
            page.body.contains("rolled_back: health_deadline"),
            "member note"
        );
        let kiosk_page = browser
            .get(&format!("/console/kiosks/{}", kiosk.id()))
            .await;
        assert!(kiosk_page.body.contains("rolled_back"));
        // Buttons need the session's CSRF token.
        let action = format!("/console/rollouts/{}/resume", rollout.id);
        let refused = browser.post(&action, &[("csrf", &"f".repeat(64))]).await;
        assert_eq!(refused.status, 403);
        assert_eq!(
            central
                .store
                .rollout_status(rollout.id)
                .await
                .unwrap()
                .unwrap()
                .state,
            central::store::RolloutState::Paused
        );
        let csrf = csrf_of(&page.body);
        let resumed = browser.post(&action, &[("csrf", &csrf)]).await;
        assert_eq!(resumed.status, 303);
        // The only kiosk's failure is accepted, so the rollout is done.
        assert_eq!(
            central
                .store
                .rollout_status(rollout.id)
                .await
                .unwrap()
                .unwrap()
                .state,
            central::store::RolloutState::Completed
        );

        // The hall: 好差评 and a bad review to follow up, and a help request.
        let today = chrono::Utc::now()
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .date_naive();
        let events = vec![
            citizen_event(
                Stream::Ratings,
                "rating_given",
                serde_json::json!({
                "subject": format!("ticket:A012:{today}"), "level": 1, "reasons": ["long_wait"],
                "note": "等了<很久>", "matter_code": null}),
            ),
            citizen_event(
                Stream::Ratings,
                "rating_given",
                serde_json::json!({
                "subject": format!("ticket:A013:{today}"), "level": 5, "reasons": [], "note": null, "matter_code": null}),
            ),
            citizen_event(
                Stream::Help,
                "help_requested",
                serde_json::json!({
                "page": "apply/materials", "language": "zh", "at": chrono::Utc::now()}),
            ),
        ];
        assert_eq!(kiosk.post_events(&events).await.status(), 200);
        let hall = browser.get("/console/halls/dongcheng-main").await;
        assert_eq!(hall.status, 200);
        assert!(hall.body.contains("等了&lt;很久&gt;"), "{}", db.name);
        // Reason codes are shown by their labels.
        assert!(hall.body.contains("等候时间长 Long wait"), "{}", db.name);
        assert!(hall.body.contains("apply/materials"));
        assert!(hall.body.contains("2 条 in total"));
        let fleet = browser.get("/console/fleet").await;
        assert!(
            fleet.body.contains("<span class=\"bad\">1</span>"),
            "one open help request"
        );

        // The kiosk's numbers, its quarantine, and an event central refused.
        report_health(
            &kiosk,
            serde_json::json!({"version": "0.1.0", "devices": [], "backlog": 2, "disk_free_bytes": 1u64 << 30,
                "session_active": false, "quarantined": 3, "quarantine": [{"seq": 41, "kind": "application_submitted",
                "reason": "unreadable", "detail": "outbox row 41 cannot be decrypted", "since": chrono::Utc::now()}]}),
        )
        .await;
        let wrong = citizen_event(
            Stream::Records,
            "rating_given",
            serde_json::json!({"subject": format!("ticket:A014:{today}"), "level": 4}),
        );
        let ack: kiosk_api::BatchAck = kiosk.post_events(&[wrong]).await.json().await.unwrap();
        assert!(!ack.results[0].outcome.is_acknowledged());
        let page = browser
            .get(&format!("/console/kiosks/{}", kiosk.id()))
            .await;
        let number = format!(
            "{}-{:02}",
            kiosk.enrolment.hall_code,
            kiosk.enrolment.kiosk_no.get()
        );
        assert!(
            page.body.contains(&number.replace('-', " ")),
            "{}: {number}",
            db.name
        );
        assert!(page.body.contains("outbox row 41 cannot be decrypted"));
        assert!(page.body.contains("无法读取 unreadable"));
        assert!(page.body.contains("数据流错误 wrong stream"));
        assert!(
            page.body
                .contains("kind rating_given travels on stream ratings, not records")
        );
        let fleet = browser.get("/console/fleet").await;
        assert!(fleet.body.contains(&number));

        // Staff press "I'm coming" on the hall's open help request; the console records who.
        let hall = browser.get("/console/halls/dongcheng-main").await;
        let at = hall.body.find("data-help=\"").unwrap() + 11;
        let id: String = hall.body[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let csrf = csrf_of(&hall.body);
        let done = browser
            .post(
                &format!("/console/help/{id}/ack"),
                &[("csrf", &csrf), ("back", "hall:dongcheng-main")],
            )
            .await;
        assert_eq!(
            (done.status, done.location.as_deref()),
            (303, Some("/console/halls/dongcheng-main"))
        );
        let forged = browser
            .post(
                &format!("/console/help/{id}/ack"),
                &[("csrf", &"0".repeat(64))],
            )
            .await;
        assert_eq!(forged.status, 403);
        let help = central.store.help_requests(false).await.unwrap();
        assert_eq!(
            help[0].acknowledged_by.as_deref(),
            Some("ops"),
            "{}",
            db.name
        );
        assert!(central.store.help_requests(true).await.unwrap().is_empty());
        let hall = browser.get("/console/halls/dongcheng-main").await;
        assert!(
            !hall.body.contains("data-help="),
            "no open help request is left"
        );

        // Logging out ends the session for good.
        let csrf = csrf_of(&fleet.body);
        let cookie = browser.cookies.get("kiosk_console").cloned().unwrap();
        assert_eq!(
            browser
                .post("/console/logout", &[("csrf", &csrf)])
                .await
                .status,
            303
        );
        browser.cookies.insert("kiosk_console".into(), cookie);
        assert_eq!(browser.get("/console/fleet").await.status, 303);
        central.stop().await;
    }
}

/// The kiosk page's revoke button: refused without the confirmation box ticked or without
/// a reason; with both, the kiosk is revoked as the signed-in user, its page says so with
/// the reason, and the kiosk's next request is refused with it.
#[tokio::test]
async fn a_kiosk_is_revoked_from_its_console_page_with_a_reason_and_a_confirmation() {
    for db in databases().await {
        let central = Central::start(&db).await;
        central
            .store
            .add_console_user("ops", PASSWORD, central::store::Role::Admin)
            .await
            .unwrap();
        let kiosk = enrol_named(&central, "dongcheng-main", "east-3").await;
        let mut browser = Browser::new(&central.base);
        assert_eq!(browser.log_in("ops", PASSWORD).await.status, 303);
        let path = format!("/console/kiosks/{}", kiosk.id());
        let page = browser.get(&path).await;
        assert!(page.body.contains(r#"id="revoke""#), "{}", db.name);
        let csrf = csrf_of(&page.body);
        let action = format!("{path}/revoke");
        let unconfirmed = browser
            .post(&action, &[("csrf", &csrf), ("reason", "stolen")])
            .await;
        assert_eq!(unconfirmed.status, 422, "{}", db.name);
        let no_reason = browser
            .post(
                &action,
                &[("csrf", &csrf), ("reason", " "), ("confirm", "yes")],
            )
            .await;
        assert_eq!(no_reason.status, 422, "{}", db.name);
        let forged = browser
            .post(
                &action,
                &[
                    ("csrf", &"0".repeat(64)),
                    ("reason", "x"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(forged.status, 403, "{}", db.name);
        let r = kiosk
            .request(reqwest::Method::GET, routes::DESIRED_STATE, vec![])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}: not revoked yet", db.name);

        let done = browser
            .post(
                &action,
                &[
                    ("csrf", &csrf),
                    ("reason", "stolen <b>at night</b>"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(
            (done.status, done.location.as_deref()),
            (303, Some(path.as_str()))
        );
        let page = browser.get(&path).await;
        assert!(page.body.contains("已吊销 revoked"), "{}", db.name);
        assert!(page.body.contains("stolen &lt;b&gt;at night&lt;/b&gt;"));
        assert!(!page.body.contains(r#"id="revoke""#), "no second button");
        let record = central
            .store
            .fleet_kiosk(&kiosk.id().to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.revoked.unwrap().by, "ops");
        // The in-process node re-reads the kiosk within its cache age.
        let since = std::time::Instant::now();
        let refused = loop {
            assert!(
                since.elapsed() < std::time::Duration::from_secs(10),
                "{}",
                db.name
            );
            let r = kiosk
                .request(reqwest::Method::GET, routes::DESIRED_STATE, vec![])
                .send()
                .await
                .unwrap();
            if r.status() == 403 {
                break r.json::<kiosk_api::ApiError>().await.unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        assert!(
            refused.message.contains("stolen <b>at night</b>"),
            "{}",
            refused.message
        );
        central.stop().await;
    }
}

/// Roles on the console: a viewer reads but every state-changing form is refused with 403
/// (and leaves no audit row), an operator acknowledges help and pauses rollouts but cannot
/// revoke kiosks or abort rollouts, an admin manages users. Removing a user ends that user's
/// open session at once; changing one's own password ends all one's sessions. The audit page
/// lists every action newest first, 50 to a page.
#[tokio::test]
async fn console_roles_are_enforced_sessions_end_and_the_audit_log_is_shown() {
    use central::store::Role;
    for db in databases().await {
        let central = Central::start(&db).await;
        for (user, role) in [
            ("ops", Role::Admin),
            ("ops-op", Role::Operator),
            ("ops-view", Role::Viewer),
        ] {
            central
                .store
                .add_console_user(user, PASSWORD, role)
                .await
                .unwrap();
        }
        let kiosk = enrol_named(&central, "dongcheng-main", "east-3").await;
        let kiosk_page = format!("/console/kiosks/{}", kiosk.id());
        let revoke = format!("{kiosk_page}/revoke");
        let mut viewer = Browser::new(&central.base);
        assert_eq!(viewer.log_in("ops-view", PASSWORD).await.status, 303);
        let mut operator = Browser::new(&central.base);
        assert_eq!(operator.log_in("ops-op", PASSWORD).await.status, 303);
        let mut admin = Browser::new(&central.base);
        assert_eq!(admin.log_in("ops", PASSWORD).await.status, 303);
        let rows_before = central.store.audit_log(1, 0).await.unwrap().1;

        // The viewer reads every page but changes nothing.
        let page = viewer.get(&kiosk_page).await;
        assert_eq!(page.status, 200, "{}", db.name);
        assert!(
            !page.body.contains(r#"id="revoke""#),
            "no revoke form for a viewer"
        );
        let csrf = csrf_of(&page.body);
        for (path, form) in [
            (revoke.as_str(), vec![("reason", "x"), ("confirm", "yes")]),
            ("/console/rollouts/1/pause", vec![]),
            ("/console/help/1/ack", vec![]),
            (
                "/console/users",
                vec![("name", "x"), ("role", "admin"), ("password", PASSWORD)],
            ),
        ] {
            let mut form = form;
            form.push(("csrf", &csrf));
            let r = viewer.post(path, &form).await;
            assert_eq!(r.status, 403, "{}: viewer POST {path}", db.name);
            assert!(r.body.contains("has the viewer role"), "{}", r.body);
        }
        assert_eq!(viewer.get("/console/users").await.status, 403);
        assert_eq!(viewer.get("/console/audit").await.status, 200);

        // The operator: help and pausing pass the role check (nothing to act on here), kiosks
        // and aborting do not.
        let csrf_op = csrf_of(&operator.get("/console/fleet").await.body);
        assert_eq!(
            operator
                .post("/console/help/999/ack", &[("csrf", &csrf_op)])
                .await
                .status,
            404
        );
        assert_eq!(
            operator
                .post("/console/rollouts/999/pause", &[("csrf", &csrf_op)])
                .await
                .status,
            409
        );
        assert_eq!(
            operator
                .post("/console/rollouts/999/abort", &[("csrf", &csrf_op)])
                .await
                .status,
            403
        );
        let r = operator
            .post(
                &revoke,
                &[("csrf", &csrf_op), ("reason", "x"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(r.status, 403, "{}", db.name);
        assert_eq!(
            central.store.audit_log(1, 0).await.unwrap().1,
            rows_before,
            "{}: refused actions leave no row",
            db.name
        );

        // The admin adds a user, demotes the operator (effective on their next request) and
        // removes the viewer, whose open session ends at once.
        let users = admin.get("/console/users").await;
        assert_eq!(users.status, 200);
        assert!(users.body.contains("ops-view"));
        let csrf_admin = csrf_of(&users.body);
        let added = admin
            .post(
                "/console/users",
                &[
                    ("csrf", &csrf_admin),
                    ("name", "ops-new"),
                    ("role", "operator"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(added.status, 303, "{}: {}", db.name, added.body);
        let demoted = admin
            .post(
                "/console/users/ops-op/role",
                &[("csrf", &csrf_admin), ("role", "viewer")],
            )
            .await;
        assert_eq!(demoted.status, 303);
        assert_eq!(
            operator
                .post("/console/help/999/ack", &[("csrf", &csrf_op)])
                .await
                .status,
            403,
            "{}: the new role holds on the open session",
            db.name
        );
        let unconfirmed = admin
            .post("/console/users/ops-view/remove", &[("csrf", &csrf_admin)])
            .await;
        assert_eq!(unconfirmed.status, 422);
        assert_eq!(viewer.get("/console/fleet").await.status, 200);
        let removed = admin
            .post(
                "/console/users/ops-view/remove",
                &[("csrf", &csrf_admin), ("confirm", "yes")],
            )
            .await;
        assert_eq!(removed.status, 303, "{}", db.name);
        let after = viewer.get("/console/fleet").await;
        assert_eq!(
            (after.status, after.location.as_deref()),
            (303, Some("/console/login")),
            "{}: the removed user's session ended",
            db.name
        );
        assert_eq!(viewer.log_in("ops-view", PASSWORD).await.status, 401);

        // A name that is no plain path segment still reaches its own forms.
        let odd = "ops/night shift?";
        let added = admin
            .post(
                "/console/users",
                &[
                    ("csrf", &csrf_admin),
                    ("name", odd),
                    ("role", "viewer"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(added.status, 303, "{}", db.name);
        let encoded = "/console/users/ops%2Fnight%20shift%3F/remove";
        assert!(admin.get("/console/users").await.body.contains(encoded));
        let removed = admin
            .post(encoded, &[("csrf", &csrf_admin), ("confirm", "yes")])
            .await;
        assert_eq!(removed.status, 303, "{}", db.name);
        assert_eq!(central.store.console_user_role(odd).await.unwrap(), None);

        // The new operator changes their password: a wrong current one changes nothing; the
        // right one ends every session of theirs, this one included.
        let mut second = Browser::new(&central.base);
        assert_eq!(second.log_in("ops-new", PASSWORD).await.status, 303);
        let mut new_op = Browser::new(&central.base);
        assert_eq!(new_op.log_in("ops-new", PASSWORD).await.status, 303);
        let account = new_op.get("/console/account").await;
        assert!(account.body.contains("operator"));
        let csrf_new = csrf_of(&account.body);
        let wrong = new_op
            .post(
                "/console/account/password",
                &[
                    ("csrf", &csrf_new),
                    ("current", "not it at all"),
                    ("new", "a new long password"),
                    ("again", "a new long password"),
                ],
            )
            .await;
        assert_eq!(wrong.status, 422, "{}", db.name);
        let changed = new_op
            .post(
                "/console/account/password",
                &[
                    ("csrf", &csrf_new),
                    ("current", PASSWORD),
                    ("new", "a new long password"),
                    ("again", "a new long password"),
                ],
            )
            .await;
        assert_eq!(
            (changed.status, changed.location.as_deref()),
            (303, Some("/console/login"))
        );
        for b in [&mut new_op, &mut second] {
            assert_eq!(b.get("/console/fleet").await.status, 303, "{}", db.name);
        }
        assert_eq!(
            new_op.log_in("ops-new", "a new long password").await.status,
            303
        );

        // The admin revokes the kiosk; every action above is in the log, newest first, by
        // whom and through which door.
        let r = admin
            .post(
                &revoke,
                &[
                    ("csrf", &csrf_admin),
                    ("reason", "stolen"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(r.status, 303);
        let (entries, _) = central.store.audit_log(10, 0).await.unwrap();
        let seen: Vec<_> = entries
            .iter()
            .take(5)
            .map(|e| {
                (
                    e.actor.as_str(),
                    e.via.as_str(),
                    e.action.as_str(),
                    e.target.as_str(),
                )
            })
            .collect();
        let kiosk_target = format!("kiosk {}", kiosk.id());
        assert_eq!(
            seen,
            [
                ("ops", "console", "kiosk.revoke", kiosk_target.as_str()),
                ("ops-new", "console", "user.own_password", "ops-new"),
                ("ops", "console", "user.remove", odd),
                ("ops", "console", "user.add", odd),
                ("ops", "console", "user.remove", "ops-view"),
            ],
            "{}",
            db.name
        );
        let audit = admin.get("/console/audit").await;
        assert_eq!(audit.status, 200);
        let revoked_at = audit.body.find("kiosk.revoke").unwrap();
        let added_at = audit.body.find("user.add").unwrap();
        assert!(revoked_at < added_at, "newest first");

        // Paged: 50 rows a page, with a link to the older ones.
        for _ in 0..60 {
            central
                .store
                .set_ops_public_key(&keys::public_key_to_base64(&central.ops.verifying_key()))
                .await
                .unwrap();
        }
        let first = admin.get("/console/audit").await;
        assert_eq!(first.body.matches("keys.trust").count(), 50, "{}", db.name);
        assert!(first.body.contains(r#"href="/console/audit?page=1""#));
        let second_page = admin.get("/console/audit?page=1").await;
        assert!(second_page.body.contains("kiosk.revoke"), "{}", db.name);
        assert!(second_page.body.contains(r#"href="/console/audit?page=0""#));
        central.stop().await;
    }
}
