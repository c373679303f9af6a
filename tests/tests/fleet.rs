#![allow(clippy::unwrap_used)]
//! A hall's fleet end to end: one `central serve` and three kiosks provisioned into the same
//! hall within one minute with `kioskctl provision`, each running scripted citizens
//! (`kiosk-app --simulate --headless`: tickets, check-ins, applications with scans, ratings,
//! calls for help) on its own simulated reader, scanner and printer emulators.
//!
//! Kiosk B reaches central through a relay that is cut for part of its run; kiosk C is
//! SIGKILLed in the middle of its run and started again on the same data folder.
//!
//! Afterwards central holds exactly what the kiosks told citizens was done: every queue
//! ticket and every application receipt the emulators printed (read back off the paper,
//! through the QR code) is on central, from the kiosk that printed it, under a number no
//! other record has; every rating a kiosk said it saved is on central; every event central
//! stored is in its projection (no acknowledged event dropped); nothing is left in any
//! kiosk's outbox or quarantine. On SQLite, and on PostgreSQL when KIOSK_TEST_PG_URL is set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kiosk_api::numbers::ApplicationNo;
use kiosk_core::identity::Identity;
use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central;
use kiosk_system_tests::db::{self, CentralDb};
use kiosk_system_tests::kiosk::{self, HeadlessRun, Printer};
use kiosk_system_tests::relay::Relay;

const HALL: &str = "dongcheng-main";
const HALL_NAME: &str = "东城区政务服务中心";
/// Longest any kiosk run may take on a loaded CI machine.
const RUN: Duration = Duration::from_secs(600);

/// Two fleets at once would only crowd CI's two cores: one story at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn three_kiosks_enrolled_in_the_same_minute_keep_every_record_a_citizen_was_told_of_on_sqlite() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let work = tempfile::tempdir().unwrap();
    let db = work
        .path()
        .join("central.db")
        .to_string_lossy()
        .into_owned();
    fleet_story(work.path(), &db);
}

#[test]
fn three_kiosks_enrolled_in_the_same_minute_keep_every_record_a_citizen_was_told_of_on_postgresql()
{
    let Some(base) = db::postgres_or_skip("the fleet story on PostgreSQL") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let work = tempfile::tempdir().unwrap();
    let db = db::fresh_postgres(&base, "fleet").unwrap();
    fleet_story(work.path(), &db);
}

/// One kiosk of the fleet: its folder and who central enrolled it as.
struct Member {
    name: &'static str,
    dir: PathBuf,
    kiosk_id: String,
}

/// What one kiosk told its citizens, from its paper and its summaries.
#[derive(Debug, Default)]
struct Told {
    /// `(business date, ticket number)` of every ticket the dispenser printed.
    tickets: Vec<(String, String)>,
    /// The application number on every receipt the receipt printer printed.
    receipts: Vec<String>,
    /// Subjects the kiosk said "thank you, rated" for (its own record of ratings given).
    ratings: BTreeSet<String>,
    /// Help requests acknowledged on screen, by the runs that finished.
    help_requests: u64,
}

fn fleet_story(root: &Path, db_url: &str) {
    let central_exe = cargo_bin("central", "central").unwrap();
    let kiosk_exe = cargo_bin("kiosk-app", "kiosk-app").unwrap();
    let kioskctl = cargo_bin("kioskctl", "kioskctl").unwrap();
    let config = kiosk_core::config::Config::simulate().unwrap();
    let progress_url = config.journeys.progress_url.clone();

    let mut central = central::start_on(&central_exe, db_url, root).unwrap();
    let direct = format!("http://{}", central.addr());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let relay = runtime.block_on(Relay::start(central.addr())).unwrap();
    let via_relay = format!("http://{}", relay.addr());

    // A technician provisions three kiosks for the hall, one after the other, well within
    // a minute: the case that once gave two kiosks the same application numbers.
    let provisioning = Instant::now();
    let mut fleet = Vec::new();
    for (name, url) in [
        ("kiosk-a", &direct),
        ("kiosk-b", &via_relay),
        ("kiosk-c", &direct),
    ] {
        let token = central::create_token(&central_exe, db_url, HALL, HALL_NAME).unwrap();
        let dir = root.join(name);
        let enrolled = kiosk::provision(&kioskctl, &dir, url, &token, name).unwrap();
        fleet.push(Member {
            name,
            dir,
            kiosk_id: enrolled["kiosk_id"].as_str().unwrap().to_owned(),
        });
    }
    assert!(
        provisioning.elapsed() < Duration::from_secs(60),
        "the three kiosks were provisioned within one minute"
    );
    let ids: BTreeSet<&str> = fleet.iter().map(|m| m.kiosk_id.as_str()).collect();
    assert_eq!(ids.len(), 3, "three kiosk ids");
    // Central numbered the kiosks of the hall: one hall code, three different kiosk numbers.
    let identities: Vec<Identity> = fleet
        .iter()
        .map(|m| Identity::load(&m.dir.join("data")).unwrap().unwrap())
        .collect();
    let halls: BTreeSet<u16> = identities.iter().map(|i| i.hall_code.get()).collect();
    let numbers: BTreeSet<u8> = identities.iter().map(|i| i.kiosk_no.get()).collect();
    assert_eq!(halls.len(), 1, "one hall, one hall code: {halls:?}");
    assert_eq!(numbers.len(), 3, "a kiosk number each: {numbers:?}");

    let drain = ["--drain-secs", "120"];
    let (a, b, c) = (&fleet[0], &fleet[1], &fleet[2]);
    let mut run_a = HeadlessRun::start(&kiosk_exe, &a.dir, &direct, 24, 10, &drain, "a").unwrap();
    let mut run_b =
        HeadlessRun::start(&kiosk_exe, &b.dir, &via_relay, 24, 11, &drain, "b").unwrap();
    let mut run_c1 = HeadlessRun::start(&kiosk_exe, &c.dir, &direct, 24, 13, &drain, "c1").unwrap();

    // B's network goes down after its first few citizens and comes back a few citizens
    // later; C loses power after its sixth sheet of paper and is started again.
    let deadline = Instant::now() + RUN;
    let (mut cut_at, mut back_at, mut killed_at) = (None, None, None);
    let mut run_c2 = None;
    while back_at.is_none() || killed_at.is_none() {
        let (sheets_b, sheets_c) = (kiosk::sheets(&b.dir), kiosk::sheets(&c.dir));
        match cut_at {
            None if sheets_b >= 3 => {
                relay.set_online(false);
                cut_at = Some(sheets_b);
            }
            Some(cut) if back_at.is_none() && sheets_b >= cut + 6 => {
                relay.set_online(true);
                back_at = Some(sheets_b);
            }
            _ => {}
        }
        if killed_at.is_none() && sheets_c >= 6 {
            run_c1.kill();
            killed_at = Some(sheets_c);
            run_c2 = Some(
                HeadlessRun::start(&kiosk_exe, &c.dir, &direct, 10, 35, &drain, "c2").unwrap(),
            );
        }
        assert!(
            Instant::now() < deadline,
            "kiosk B printed {sheets_b} sheets (cut at {cut_at:?}), kiosk C {sheets_c}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "kiosk B offline from sheet {} to {}; kiosk C killed at sheet {}",
        cut_at.unwrap(),
        back_at.unwrap(),
        killed_at.unwrap()
    );
    let mut run_c2 = run_c2.unwrap();
    let done_a = run_a.finish_ok(RUN).unwrap();
    let done_b = run_b.finish_ok(RUN).unwrap();
    let done_c2 = run_c2.finish_ok(RUN).unwrap();
    for (name, done) in [("A", &done_a), ("B", &done_b), ("C", &done_c2)] {
        eprintln!("--- kiosk {name} ---\n{}", done.stdout);
        assert_eq!(
            done.field("backlog"),
            Some(0),
            "kiosk {name}'s outbox drained"
        );
    }

    // What each kiosk told its citizens.
    let mut told: Vec<Told> = fleet
        .iter()
        .map(|m| Told {
            tickets: kiosk::printed(&m.dir, Printer::Dispenser)
                .iter()
                .map(|png| kiosk::ticket_on_paper(png).unwrap())
                .collect(),
            receipts: kiosk::receipts_on_paper(&m.dir, &progress_url).unwrap(),
            ratings: ratings_given(&m.dir),
            help_requests: 0,
        })
        .collect();
    told[0].help_requests = done_a.stat("help_requests");
    told[1].help_requests = done_b.stat("help_requests");
    // Only C's second run says how many it served; its first run was cut short.
    told[2].help_requests = done_c2.stat("help_requests");
    assert_eq!(
        told[0].ratings.len() as u64,
        done_a.stat("ratings"),
        "kiosk A's record of ratings agrees with its summary"
    );
    for (member, t) in fleet.iter().zip(&told) {
        eprintln!(
            "{}: {} tickets, {} receipts, {} ratings printed/given",
            member.name,
            t.tickets.len(),
            t.receipts.len(),
            t.ratings.len()
        );
    }
    let receipts: usize = told.iter().map(|t| t.receipts.len()).sum();
    assert!(
        receipts >= 3,
        "the citizens made at least three applications ({receipts}): the story needs them"
    );

    // What central holds.
    central.stop();
    let held = Held::read(&CentralDb::new(db_url));
    let mut problems = Vec::new();

    // Applications: every receipt's number is a well-formed number of its kiosk, no two
    // receipts share one, and central holds each one as that kiosk's, and nothing else.
    let mut printed_by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for ((member, t), identity) in fleet.iter().zip(&told).zip(&identities) {
        for no in &t.receipts {
            printed_by.entry(no).or_default().push(member.name);
            match ApplicationNo::parse(no) {
                Ok(parsed) => {
                    if parsed.hall() != identity.hall_code || parsed.kiosk() != identity.kiosk_no {
                        problems.push(format!(
                            "{} printed {no}, a number of hall {} kiosk {}",
                            member.name,
                            parsed.hall(),
                            parsed.kiosk()
                        ));
                    }
                }
                Err(e) => problems.push(format!("{} printed {no:?}: {e}", member.name)),
            }
            match held.applications.get(no.as_str()) {
                Some(kiosk_id) if *kiosk_id == member.kiosk_id => {}
                Some(other) => problems.push(format!(
                    "{} printed receipt {no}; central holds it as kiosk {other}'s",
                    member.name
                )),
                None => problems.push(format!(
                    "{} printed receipt {no}; central has no such application",
                    member.name
                )),
            }
        }
        let submitted = held.events(&member.kiosk_id, "application_submitted");
        if submitted != t.receipts.len() {
            problems.push(format!(
                "{} printed {} receipts; central stored {submitted} application events from it",
                member.name,
                t.receipts.len()
            ));
        }
    }
    let shared: Vec<_> = printed_by.iter().filter(|(_, by)| by.len() > 1).collect();
    if !shared.is_empty() {
        problems.push(format!("receipts printed with the same number: {shared:?}"));
    }
    if held.applications.len() != receipts {
        problems.push(format!(
            "the kiosks printed {receipts} receipts; central holds {} applications",
            held.applications.len()
        ));
    }
    if held.kind_total("application_submitted") != held.applications.len() {
        problems.push(format!(
            "central stored {} application events but holds {} applications",
            held.kind_total("application_submitted"),
            held.applications.len()
        ));
    }
    // The scans of every application arrived whole.
    for (no, sha) in &held.materials {
        if !held.complete_attachments.contains(sha) {
            problems.push(format!(
                "application {no}: scan {sha} is not complete on central"
            ));
        }
    }

    // Tickets: every printed ticket is issued on central from the kiosk that printed it; a
    // ticket central holds that no paper shows can only be the one C was printing when it
    // died, and it is marked unconfirmed (callable, for staff to check), never void.
    let mut printed_tickets: BTreeMap<(String, String), &str> = BTreeMap::new();
    for (member, t) in fleet.iter().zip(&told) {
        for ticket in &t.tickets {
            if let Some(other) = printed_tickets.insert(ticket.clone(), &member.kiosk_id) {
                problems.push(format!(
                    "ticket {ticket:?} printed by {} and by kiosk {other}",
                    member.name
                ));
            }
        }
    }
    for (ticket, kiosk_id) in &printed_tickets {
        match held.tickets.get(ticket) {
            Some(t) if t.kiosk_id == *kiosk_id && !t.voided => {}
            Some(t) => problems.push(format!("printed ticket {ticket:?} is on central as {t:?}")),
            None => problems.push(format!("printed ticket {ticket:?} is not on central")),
        }
    }
    let unprinted: Vec<_> = held
        .tickets
        .iter()
        .filter(|(k, t)| !t.voided && !printed_tickets.contains_key(*k))
        .collect();
    for (ticket, t) in &unprinted {
        if t.kiosk_id != c.kiosk_id || !held.unconfirmed.contains(*ticket) {
            problems.push(format!(
                "central has ticket {ticket:?} ({t:?}) that no kiosk printed"
            ));
        }
    }
    if unprinted.len() > 1 {
        problems.push(format!(
            "more than the one ticket C may have been printing when it died: {unprinted:?}"
        ));
    }
    let issued_events = held.kind_total("ticket_issued");
    let issued_rows = held.tickets.values().filter(|t| !t.voided).count();
    if issued_events != issued_rows {
        problems.push(format!(
            "central stored {issued_events} ticket_issued events but has {issued_rows} issued tickets"
        ));
    }

    // Ratings and help: what each kiosk said it saved is on central, as that kiosk's.
    for (member, t) in fleet.iter().zip(&told) {
        let on_central: BTreeSet<String> = held
            .ratings
            .iter()
            .filter(|(_, k)| **k == member.kiosk_id)
            .map(|(s, _)| s.clone())
            .collect();
        if on_central != t.ratings {
            problems.push(format!(
                "{} rated {:?}; central holds {:?} from it",
                member.name, t.ratings, on_central
            ));
        }
        let events = held.events(&member.kiosk_id, "rating_given");
        if events != on_central.len() {
            problems.push(format!(
                "central stored {events} rating events from {} but holds {} of its ratings",
                member.name,
                on_central.len()
            ));
        }
        let help = held.help.get(&member.kiosk_id).copied().unwrap_or(0);
        let help_events = held.events(&member.kiosk_id, "help_requested");
        if help != help_events || (help as u64) < t.help_requests {
            problems.push(format!(
                "{} acknowledged {} calls for help (in runs that finished); central stored {help_events} events and holds {help}",
                member.name, t.help_requests
            ));
        }
    }

    // Nothing waits or was set aside on any kiosk.
    for member in &fleet {
        let status = kiosk::sync_status(&kioskctl, &member.dir).unwrap();
        let quarantined = status["quarantined"].as_u64().unwrap_or(0);
        if status["total_backlog"] != 0 || quarantined != 0 {
            problems.push(format!(
                "{}: kioskctl sync status says {status}",
                member.name
            ));
        }
    }

    eprintln!(
        "central ({}): {} applications, {} issued tickets, {} ratings, {} help requests",
        held.backend,
        held.applications.len(),
        issued_rows,
        held.ratings.len(),
        held.help.values().sum::<usize>()
    );
    assert!(
        problems.is_empty(),
        "central does not hold exactly what the kiosks told citizens:\n  {}",
        problems.join("\n  ")
    );
}

/// The subjects the kiosk in `dir` recorded as rated: it says "thank you" only after this
/// record is written (and refuses a second rating of the same subject by it).
fn ratings_given(dir: &Path) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("data").join(kiosk_core::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn.prepare("SELECT subject FROM ratings_given").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|s| subject(&s.unwrap()))
        .collect()
}

/// A rating subject in one spelling: an application number without its grouping
/// (`application:0012 03 261201 0007 5` is `application:00120326120100075`).
fn subject(text: &str) -> String {
    match text.strip_prefix("application:") {
        Some(no) => format!("application:{}", kiosk::compact(no)),
        None => text.to_owned(),
    }
}

#[derive(Debug)]
struct HeldTicket {
    kiosk_id: String,
    voided: bool,
}

/// What central holds, from its tables.
struct Held {
    backend: &'static str,
    /// `(kiosk id, kind)` → events stored.
    events: BTreeMap<(String, String), usize>,
    /// Application number → kiosk id.
    applications: BTreeMap<String, String>,
    /// `(application number, scan sha256)` of every application's materials.
    materials: Vec<(String, String)>,
    /// Scans central has whole.
    complete_attachments: BTreeSet<String>,
    /// `(business date, ticket number)` → the ticket.
    tickets: BTreeMap<(String, String), HeldTicket>,
    /// Tickets whose `ticket_issued` event says `unconfirmed`.
    unconfirmed: BTreeSet<(String, String)>,
    /// Rating subject → kiosk id.
    ratings: BTreeMap<String, String>,
    /// Kiosk id → help requests.
    help: BTreeMap<String, usize>,
}

impl Held {
    fn read(db: &CentralDb) -> Held {
        let text = |row: &db::Row, i: usize| row[i].clone().unwrap_or_default();
        let mut events = BTreeMap::new();
        let mut unconfirmed = BTreeSet::new();
        for row in db
            .rows("SELECT kiosk_id, kind, payload FROM events")
            .unwrap()
        {
            *events.entry((text(&row, 0), text(&row, 1))).or_default() += 1;
            if text(&row, 1) == "ticket_issued" {
                let p: serde_json::Value = serde_json::from_str(&text(&row, 2)).unwrap();
                if p["unconfirmed"] == true {
                    unconfirmed.insert((
                        p["business_date"].as_str().unwrap().to_owned(),
                        p["ticket_no"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
        let mut applications = BTreeMap::new();
        let mut materials = Vec::new();
        for row in db
            .rows("SELECT application_no, kiosk_id, materials FROM applications")
            .unwrap()
        {
            let no = kiosk::compact(&text(&row, 0));
            let listed: serde_json::Value =
                serde_json::from_str(&text(&row, 2)).unwrap_or_default();
            for m in listed.as_array().into_iter().flatten() {
                if let Some(sha) = m["attachment_sha256"].as_str() {
                    materials.push((no.clone(), sha.to_owned()));
                }
            }
            applications.insert(no, text(&row, 1));
        }
        let complete_attachments = db
            .rows("SELECT sha256 FROM attachments WHERE complete <> 0")
            .unwrap()
            .iter()
            .map(|r| text(r, 0))
            .collect();
        let tickets = db
            .rows("SELECT business_date, ticket_no, kiosk_id, voided_at FROM tickets")
            .unwrap()
            .iter()
            .map(|r| {
                (
                    (text(r, 0), text(r, 1)),
                    HeldTicket {
                        kiosk_id: text(r, 2),
                        voided: r[3].is_some(),
                    },
                )
            })
            .collect();
        let ratings = db
            .rows("SELECT subject, kiosk_id FROM ratings")
            .unwrap()
            .iter()
            .map(|r| (subject(&text(r, 0)), text(r, 1)))
            .collect();
        let mut help = BTreeMap::new();
        for row in db.rows("SELECT kiosk_id FROM help_requests").unwrap() {
            *help.entry(text(&row, 0)).or_default() += 1;
        }
        Held {
            backend: db.backend(),
            events,
            applications,
            materials,
            complete_attachments,
            tickets,
            unconfirmed,
            ratings,
            help,
        }
    }

    fn events(&self, kiosk_id: &str, kind: &str) -> usize {
        self.events
            .get(&(kiosk_id.to_owned(), kind.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    fn kind_total(&self, kind: &str) -> usize {
        self.events
            .iter()
            .filter(|((_, k), _)| k == kind)
            .map(|(_, n)| n)
            .sum()
    }
}
