//! The hall director's statistics (issue 16 item 7) told as a day at two windows: calls,
//! 办结, a 过号 that goes back to the queue and is served later at the other window, a
//! transfer, two ratings at window 1's tablet; the figures per window and for the hall,
//! worked out by hand, from the store, the
//! console page, its CSV and `central queue report`; on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::browser::Browser;
use common::{Central, Kiosk, Outbox, acked, databases, today};
use kiosk_api::EventOutcome;
use kiosk_api::citizen::{TicketIssued, TicketPriority, hall_offset, ticket_no};

use central::store::{
    Actor, HallReport, NoShowAfter, QueuePolicy, ReportError, Role, Via, WindowRating,
};

const PASSWORD: &str = "correct horse battery staple";

/// A moment of today (hall time) with half an hour of the day on either side, so that every
/// call of the story falls on the same business date as its tickets.
fn story_start() -> DateTime<Utc> {
    let midnight = today()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(hall_offset())
        .unwrap()
        .with_timezone(&Utc);
    let now = Utc::now();
    now.clamp(
        midnight + Duration::minutes(30),
        midnight + Duration::hours(23),
    )
}

fn ticket(kiosk: &Kiosk, category: &str, n: u32, issued_at: DateTime<Utc>) -> TicketIssued {
    let number = kiosk.enrolment.number_band.first + n;
    TicketIssued {
        ticket_no: ticket_no(category, number),
        category: category.into(),
        number,
        business_date: today(),
        priority: TicketPriority::Normal,
        source: "band".into(),
        issued_at,
        holder_hash: None,
        appointment_id: None,
        unconfirmed: false,
        live_token: None,
    }
}

fn clerk(name: &str) -> Actor {
    Actor {
        name: name.into(),
        via: Via::Console,
        role: Role::Clerk,
    }
}

fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

/// The story's day; returns the hall.
async fn a_day_at_two_windows(central: &Central) -> String {
    let kiosk = central.kiosk().await;
    let hall = kiosk.enrolment.hall_id.clone();
    let store = &central.store;
    let t0 = story_start();
    // Four tickets issued 10, 9, 8 and 7 minutes before t0.
    let tickets: Vec<TicketIssued> = (0..4u32)
        .map(|n| ticket(&kiosk, "A", n, t0 - secs(600 - 60 * i64::from(n))))
        .collect();
    let mut outbox = Outbox::new();
    let events: Vec<_> = tickets.iter().map(|t| outbox.event(t)).collect();
    assert_eq!(acked(&kiosk, &events).await, vec![EventOutcome::Stored; 4]);
    store.set_window(&hall, 1, &["A".into()]).await.unwrap();
    store.set_window(&hall, 2, &["A".into()]).await.unwrap();
    store
        .set_queue_policy(
            &hall,
            QueuePolicy {
                max_recalls: 1,
                after_no_show: NoShowAfter::Requeue,
            },
        )
        .await
        .unwrap();
    for (user, window) in [("li", 1), ("wang", 2)] {
        store
            .add_console_user(user, PASSWORD, Role::Clerk)
            .await
            .unwrap();
        store.bind_clerk(user, &hall, window).await.unwrap();
    }
    let li = store.acting_as(clerk("li"));
    // Window 1 has a rating tablet; the citizens it served rate there (一次一评).
    let tablet = store.pair_rating_tablet(&hall, 1).await.unwrap();
    let rate = |ticket: &TicketIssued, level: u8, reasons: &[&str]| WindowRating {
        secret: tablet.clone(),
        business_date: today(),
        ticket_no: ticket.ticket_no.clone(),
        level,
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        note: None,
    };
    let wang = store.acting_as(clerk("wang"));

    // t0: li calls A0 (waited 600 s), serves it at t0+120.
    let a0 = li
        .call_at_window(&hall, 1, None, t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a0.ticket_no, tickets[0].ticket_no);
    li.served(&hall, 1, t0 + secs(120)).await.unwrap();
    store
        .rate_at_window(&hall, 1, &rate(&tickets[0], 5, &[]), t0 + secs(125))
        .await
        .unwrap();
    // t0+10: wang calls A1 (waited 550 s), recalls it, marks it a no-show at t0+70: it goes
    // back to the end of the queue at t0+70.
    let a1 = wang
        .call_at_window(&hall, 2, None, t0 + secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a1.ticket_no, tickets[1].ticket_no);
    wang.recall(&hall, 2, t0 + secs(40)).await.unwrap();
    wang.no_show(&hall, 2, t0 + secs(70)).await.unwrap();
    // t0+80: wang calls A2 (waited 560 s) and transfers it to B at t0+100.
    let a2 = wang
        .call_at_window(&hall, 2, None, t0 + secs(80))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a2.ticket_no, tickets[2].ticket_no);
    wang.transfer(&hall, 2, Some("B"), None, t0 + secs(100))
        .await
        .unwrap();
    // t0+130: li calls A3 (waited 550 s); t0+330: li calls the next, which ends A3's service
    // (200 s) and takes A1 back (waited 260 s since its requeue); li serves it at t0+390.
    let a3 = li
        .call_at_window(&hall, 1, None, t0 + secs(130))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a3.ticket_no, tickets[3].ticket_no);
    let again = li
        .call_at_window(&hall, 1, None, t0 + secs(330))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.ticket_no, tickets[1].ticket_no);
    li.served(&hall, 1, t0 + secs(390)).await.unwrap();
    let reason = central::store::window_reasons().next().unwrap().0;
    store
        .rate_at_window(&hall, 1, &rate(&tickets[1], 2, &[reason]), t0 + secs(400))
        .await
        .unwrap();
    hall
}

fn check_figures(report: &HallReport) {
    let day = report
        .days
        .iter()
        .find(|d| d.date == today())
        .expect("today is in the report");
    assert_eq!(day.issued, 4);
    assert_eq!(day.windows.len(), 2, "{day:?}");
    let w1 = &day.windows[0];
    assert_eq!(w1.window_no, Some(1));
    assert_eq!(w1.clerks, vec!["li".to_owned()]);
    assert_eq!(
        (w1.calls, w1.served, w1.no_shows, w1.transferred),
        (3, 3, 0, 0)
    );
    // Waits 600, 550, 260: mean 470, p90 (3rd of 3) 600. Services 120, 200, 60.
    assert_eq!(
        (w1.wait.mean_secs, w1.wait.p90_secs),
        (Some(470), Some(600))
    );
    assert_eq!(
        (w1.service.count, w1.service.mean_secs, w1.service.p90_secs),
        (3, Some(127), Some(200))
    );
    assert_eq!((w1.ratings.count, w1.ratings.bad), (2, 1));
    assert_eq!(w1.ratings.mean().as_deref(), Some("3.50"));
    let w2 = &day.windows[1];
    assert_eq!(w2.window_no, Some(2));
    assert_eq!(w2.clerks, vec!["wang".to_owned()]);
    assert_eq!(
        (w2.calls, w2.served, w2.no_shows, w2.transferred),
        (2, 0, 1, 1)
    );
    assert_eq!(
        (w2.wait.mean_secs, w2.wait.p90_secs),
        (Some(555), Some(560))
    );
    assert_eq!(w2.service.count, 0);
    assert_eq!(w2.service.mean_secs, None);
    assert_eq!(w2.ratings.count, 0);
    // The hall: all five calls together, not an average of the windows' figures. Waits 600,
    // 550, 560, 550, 260 → mean 504, p90 (5th of 5) 600.
    let all = &day.hall;
    assert_eq!(all.window_no, None);
    assert_eq!(all.clerks, vec!["li".to_owned(), "wang".to_owned()]);
    assert_eq!(
        (all.calls, all.served, all.no_shows, all.transferred),
        (5, 3, 1, 1)
    );
    assert_eq!(
        (all.wait.mean_secs, all.wait.p90_secs),
        (Some(504), Some(600))
    );
    assert_eq!(all.service.p90_secs, Some(200));
    assert_eq!((all.ratings.count, all.ratings.bad), (2, 1));
}

#[tokio::test]
async fn a_day_at_two_windows_gives_the_directors_figures_per_window_and_for_the_hall() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let hall = a_day_at_two_windows(&central).await;
        let store = &central.store;
        let yesterday = today().pred_opt().unwrap();
        let report = store.hall_report(&hall, yesterday, today()).await.unwrap();
        assert_eq!(report.days.len(), 2, "quiet days are listed too");
        assert_eq!(report.days[0].date, yesterday);
        assert_eq!(report.days[0].issued, 0);
        assert!(report.days[0].windows.is_empty());
        check_figures(&report);

        // Periods that make no sense are refused with a reason.
        assert!(matches!(
            store.hall_report(&hall, today(), yesterday).await,
            Err(ReportError::Backwards { .. })
        ));
        let long_ago = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        assert!(matches!(
            store.hall_report(&hall, long_ago, today()).await,
            Err(ReportError::TooLong { .. })
        ));
        // Another hall's report has none of it.
        let other = store
            .hall_report("no-such-hall", today(), today())
            .await
            .unwrap();
        assert_eq!(other.days[0].hall.calls, 0);
    }
}

#[tokio::test]
async fn the_console_and_the_cli_give_the_same_figures_as_csv() {
    for db in databases().await {
        let central = Central::start(&db).await;
        let hall = a_day_at_two_windows(&central).await;
        central
            .store
            .add_console_user("director", PASSWORD, Role::Viewer)
            .await
            .unwrap();
        let mut browser = Browser::new(&central.base);
        browser.log_in("director", PASSWORD).await;

        let hall_page = browser.get(&format!("/console/halls/{hall}")).await;
        assert!(
            hall_page
                .body
                .contains(&format!("/console/halls/{hall}/report"))
        );
        let page = browser.get(&format!("/console/halls/{hall}/report")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("id=\"report\""), "{}", page.body);
        // The default period is the last seven days up to today.
        let week_ago = today().checked_sub_days(chrono::Days::new(6)).unwrap();
        assert!(page.body.contains(&format!("value=\"{week_ago}\"")));
        assert!(page.body.contains(">7:50<"), "window 1's mean wait");

        let period = format!("from={}&to={}", today(), today());
        let csv_url = format!("{}/console/halls/{hall}/report.csv?{period}", central.base);
        let cookie = browser
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = browser
            .http
            .get(&csv_url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("content-type"), "text/csv; charset=utf-8");
        assert!(header("content-disposition").starts_with("attachment; filename=\"hall-"));
        assert_eq!(header("cache-control"), "no-store");
        let body = response.bytes().await.unwrap();
        assert!(
            body.starts_with(b"\xEF\xBB\xBF"),
            "a byte-order mark for Excel"
        );
        let text = std::str::from_utf8(&body[3..]).unwrap();
        // Read back with a CSV parser someone else wrote.
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(&headers[0], "日期 date");
        assert_eq!(&headers[8], "平均等候秒 mean wait s");
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3, "two windows and the hall");
        let day = today().to_string();
        let fields = |r: &csv::StringRecord| r.iter().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            fields(&rows[0]),
            [
                &day, "1", "li", "", "3", "3", "0", "0", "470", "600", "127", "200", "3", "3", "2",
                "3.50", "1"
            ]
        );
        assert_eq!(
            fields(&rows[1]),
            [
                &day, "2", "wang", "", "2", "0", "1", "1", "555", "560", "", "", "2", "0", "0", "",
                "0"
            ]
        );
        assert_eq!(
            fields(&rows[2]),
            [
                &day,
                "全部 all",
                "li wang",
                "4",
                "5",
                "3",
                "1",
                "1",
                "504",
                "600",
                "127",
                "200",
                "5",
                "3",
                "2",
                "3.50",
                "1"
            ]
        );

        // Signed out, there is no report; a bad date gets a reason, not a default.
        let anonymous = browser.http.get(&csv_url).send().await.unwrap();
        assert!(
            anonymous.status().is_redirection(),
            "{}",
            anonymous.status()
        );
        assert_eq!(
            anonymous.headers().get("location").unwrap(),
            "/console/login"
        );
        let bad = browser
            .get(&format!("/console/halls/{hall}/report?from=yesterday"))
            .await;
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("yesterday"));
        let missing = browser.get("/console/halls/nowhere/report").await;
        assert_eq!(missing.status, 404);

        // The CLI prints the same CSV from the database.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_central"))
            .args(["queue", "report", "--db", &db.url, "--hall", &hall])
            .args(["--from", &day, "--to", &day, "--csv"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, body.to_vec());
        let table = std::process::Command::new(env!("CARGO_BIN_EXE_central"))
            .args(["queue", "report", "--db", &db.url, "--hall", &hall])
            .output()
            .unwrap();
        let table = String::from_utf8(table.stdout).unwrap();
        assert!(table.contains("470s"), "{table}");
    }
}
