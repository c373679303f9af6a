#![allow(clippy::unwrap_used)]
//! Appointment check-in and progress look-up end to end: the kiosk's engine (kiosk-journeys,
//! in this process, on the simulated reader and dispenser) enrolled with a real `central
//! serve` process on a SQLite file, with hall staff working through central's own CLI
//! (`central appointments import`, `central application advance`, `central queue …`).
//!
//! What a citizen sees is read from the engine's screen (the pages the UI draws), what the
//! kiosk printed from the dispenser emulator's PNG, and what central holds from its CLI and
//! its database. Waits poll with deadlines; nothing is timed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, Timelike as _, Utc};
use kiosk_api::citizen::{
    ApplicationStatus, ApplicationSubmitted, CitizenEvent, HolderKeys, business_date_at,
    hall_offset,
};
use kiosk_api::numbers::ApplicationNo;
use kiosk_api::{Event, EventBatch};
use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kiosk_core::sync::Timeouts;
use kiosk_idcard::IdCard;
use kiosk_journeys::model::{ProgressView, TicketView};
use kiosk_journeys::sim::{SimPrinter, citizen_card};
use kiosk_journeys::{
    Command, Engine, EngineHandle, JourneyKind, KeypadKey, Page, Screen, SimControls, Text,
};
use kiosk_system_tests::binaries::cargo_bin;
use kiosk_system_tests::central::{self, Central};
use tokio::sync::watch;
use uuid::Uuid;

const HALL: &str = "dongcheng-main";
const HALL_NAME: &str = "东城区政务服务中心";
/// How long a page, a drain or a device may take on a loaded CI machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// The simulated devices set `SANE_CONFIG_DIR` for the whole process when they start, and two
/// engines with central processes at once would only crowd CI's two cores: one story at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn story(body: impl std::future::Future<Output = ()>) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(body);
}

/// A hall: central serving its database, enrolment tokens, and staff's CLI.
struct Hall {
    work: tempfile::TempDir,
    exe: PathBuf,
    central: Central,
}

impl Hall {
    fn open() -> Hall {
        let exe = cargo_bin("central", "central").unwrap();
        let work = tempfile::tempdir().unwrap();
        let central = central::start_fresh(&exe, work.path()).unwrap();
        Hall { work, exe, central }
    }

    fn url(&self) -> String {
        format!("http://{}", self.central.addr())
    }

    /// Staff (or ops) at central: `central ARGS… --json --db DB`.
    fn cli(&self, args: &[&str]) -> serde_json::Value {
        central::json(&self.exe, self.central.db(), args).unwrap()
    }

    /// Enrols a kiosk of this hall into a data folder `name`, as `kioskctl provision` would.
    async fn enrol(&self, name: &str) -> (PathBuf, Identity) {
        let dir = self.work.path().join(name);
        let token = central::create_token(&self.exe, self.central.db(), HALL, HALL_NAME).unwrap();
        let identity = Identity::enrol(&dir, &self.url(), &token, name, "0.1.0")
            .await
            .unwrap();
        (dir, identity)
    }

    /// The booking system's export for today, imported with `central appointments import`.
    fn import_appointments(&self, appointments: &[serde_json::Value]) -> serde_json::Value {
        let file = self
            .work
            .path()
            .join(format!("appointments-{}.json", Uuid::now_v7()));
        std::fs::write(&file, serde_json::to_vec(appointments).unwrap()).unwrap();
        let file = file.to_string_lossy().into_owned();
        let keys = self.central.holder_keys().to_string_lossy().into_owned();
        self.cli(&[
            "appointments",
            "import",
            &file,
            "--hall",
            HALL,
            "--holder-keys",
            &keys,
        ])
    }

    /// The holder keys central serves, read from its key file (outside its database; one
    /// `ID BASE64SECRET` line per key, the current one first): what kiosks hash ID numbers
    /// with.
    fn holder_keys(&self) -> HolderKeys {
        let file = std::fs::read_to_string(self.central.holder_keys()).unwrap();
        let keys = file
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| {
                let (id, secret) = line.split_once(char::is_whitespace).unwrap();
                serde_json::from_value(serde_json::json!({"id": id, "secret": secret.trim()}))
                    .unwrap()
            })
            .collect();
        HolderKeys { keys }
    }

    /// The holder hash of `card` under central's current key, as the kiosks make it.
    fn holder_hash(&self, card: &IdCard) -> String {
        self.holder_keys().keys[0].hash(&card.id_number)
    }

    /// Central's database, read-only (what it stored, whatever its CLI shows).
    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.central.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// The row central keeps for today's ticket `ticket_no`, if any.
    fn ticket(&self, ticket_no: &str) -> Option<CentralTicket> {
        let today = business_date_at(Utc::now()).to_string();
        self.db()
            .query_row(
                "SELECT kiosk_id, priority, appointment_id, holder_hash, source, voided_at IS NULL \
                 FROM tickets WHERE hall_id = ?1 AND business_date = ?2 AND ticket_no = ?3",
                [HALL, &today, ticket_no],
                |r| {
                    Ok(CentralTicket {
                        kiosk_id: r.get(0)?,
                        priority: r.get(1)?,
                        appointment_id: r.get(2)?,
                        holder_hash: r.get(3)?,
                        source: r.get(4)?,
                        issued: r.get(5)?,
                    })
                },
            )
            .ok()
    }
}

#[derive(Debug)]
struct CentralTicket {
    kiosk_id: String,
    priority: String,
    appointment_id: Option<String>,
    holder_hash: Option<String>,
    source: String,
    issued: bool,
}

/// One booking of today, as the booking system exports it: `slot_start` is this minute, so
/// the slot is open for check-in for the whole story.
fn booking(id: &str, card: &IdCard, matter: &str, category: &str) -> serde_json::Value {
    let start = this_minute();
    serde_json::json!({
        "appointment_id": id,
        "id_number": card.id_number,
        "holder_name_masked": kiosk_hal::mask_name(card.display_name()),
        "matter_code": matter,
        "category": category,
        "slot_start": start.to_rfc3339(),
        "slot_end": (start + chrono::Duration::minutes(30)).to_rfc3339(),
    })
}

fn this_minute() -> DateTime<FixedOffset> {
    let now = Utc::now().with_timezone(&hall_offset());
    now.with_second(0).unwrap().with_nanosecond(0).unwrap()
}

/// The kiosk: its engine on the simulated devices, driven as the touchscreen drives it.
struct Kiosk {
    engine: EngineHandle,
    sim: SimControls,
    screen: watch::Receiver<Screen>,
    config: Config,
}

impl Kiosk {
    /// Starts the engine on the enrolled data folder `dir` and waits until it has heard from
    /// central (the offline banner is gone).
    async fn start(dir: &Path) -> Kiosk {
        let mut config = Config::simulate().unwrap();
        config.kiosk.data_dir = dir.to_owned();
        let engine = Engine::start(
            config.clone(),
            kiosk_journeys::EngineOptions {
                simulate: true,
                voice: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let sim = engine.sim().unwrap().clone();
        let mut kiosk = Kiosk {
            screen: engine.screen(),
            engine,
            sim,
            config,
        };
        kiosk
            .wait_after(0, "central to answer", |s| s.banner.is_none())
            .await;
        // Enrolled here without kioskctl, the kiosk has no holder keys until it fetches them
        // (check-in is closed until then: it could not hash a card).
        let mut availability = kiosk.engine.availability();
        let keys = tokio::time::timeout(
            PATIENCE,
            availability.wait_for(|a| {
                a.tiles
                    .iter()
                    .any(|t| t.journey == JourneyKind::CheckIn && t.enabled)
            }),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        assert!(keys, "check-in never opened: {:?}", availability.borrow());
        kiosk
    }

    fn revision(&self) -> u64 {
        self.screen.borrow().revision
    }

    /// Waits for a screen published after revision `after` that `done` accepts.
    async fn wait_after(
        &mut self,
        after: u64,
        what: &str,
        done: impl Fn(&Screen) -> bool,
    ) -> Screen {
        let reached = tokio::time::timeout(
            PATIENCE,
            self.screen.wait_for(|s| s.revision > after && done(s)),
        )
        .await
        .map(|r| r.map(|s| s.clone()));
        match reached {
            Ok(Ok(screen)) => screen,
            _ => panic!(
                "waited for {what}; the screen shows {:?}",
                self.screen.borrow()
            ),
        }
    }

    async fn send_until(
        &mut self,
        command: Command,
        what: &str,
        done: impl Fn(&Page) -> bool,
    ) -> Page {
        let after = self.revision();
        self.engine.send(command);
        self.wait_after(after, what, |s| done(&s.page)).await.page
    }

    /// Touches a journey's tile. The simulated reader answers a moment after the engine
    /// starts and until it does the tile is grey and touching it says the service is paused:
    /// go back and touch again, as a citizen would.
    async fn start_journey(&mut self, journey: JourneyKind) -> Page {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let page = self
                .send_until(Command::Start { journey }, "the tile's answer", |_| true)
                .await;
            let paused = matches!(page, Page::Notice { failure: true, .. });
            if page != Page::Home && !paused {
                return page;
            }
            if paused {
                self.send_until(Command::Cancel, "home again", |p| *p == Page::Home)
                    .await;
            }
            assert!(
                Instant::now() < deadline,
                "{journey:?} stays unavailable: {:?}",
                self.engine.availability().borrow()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Lays `card` on the reader, waits for the page that answers it, takes the card away.
    async fn tap(&mut self, card: &IdCard, what: &str, done: impl Fn(&Page) -> bool) -> Page {
        let after = self.revision();
        self.sim.present_card(card);
        let page = self.wait_after(after, what, |s| done(&s.page)).await.page;
        self.sim.take_card_away().await;
        page
    }

    /// A citizen checks in with `card`: the ticket page or the notice that answers it.
    async fn check_in(&mut self, card: &IdCard) -> Page {
        let page = self.start_journey(JourneyKind::CheckIn).await;
        assert!(matches!(page, Page::TapCard { .. }), "{page:?}");
        let page = self
            .tap(card, "the check-in's answer", |p| {
                matches!(p, Page::Ticket { .. } | Page::Notice { .. })
            })
            .await;
        self.sim.take_ticket(SimPrinter::Dispenser);
        self.send_until(Command::Cancel, "home", |p| *p == Page::Home)
            .await;
        page
    }

    /// Types an application number on the progress keypad (digits only) and asks.
    async fn progress_by_number(&mut self, no: &ApplicationNo) -> Page {
        let page = self.start_journey(JourneyKind::Progress).await;
        assert!(matches!(page, Page::EnterNumber { .. }), "{page:?}");
        for c in no.to_string().chars() {
            let digit = c.to_digit(10).expect("application numbers are digits") as u8;
            self.engine.send(Command::Key {
                key: KeypadKey::Digit(digit),
            });
        }
        let page = self
            .send_until(Command::Confirm, "the progress", |p| {
                matches!(p, Page::Progress { .. } | Page::Notice { .. })
            })
            .await;
        self.send_until(Command::Cancel, "home", |p| *p == Page::Home)
            .await;
        page
    }

    /// Taps `card` on the progress page.
    async fn progress_by_card(&mut self, card: &IdCard) -> Page {
        let page = self.start_journey(JourneyKind::Progress).await;
        assert!(matches!(page, Page::EnterNumber { .. }), "{page:?}");
        let page = self
            .tap(card, "the progress", |p| {
                matches!(p, Page::Progress { .. } | Page::Notice { .. })
            })
            .await;
        self.send_until(Command::Cancel, "home", |p| *p == Page::Home)
            .await;
        page
    }

    /// Waits until central has acknowledged every event of the kiosk's outbox.
    async fn drained(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let backlog = self.engine.backlog().await.unwrap();
            if backlog == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{backlog} events still in the kiosk's outbox"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn help_window(&self) -> Text {
        Text::new(
            &self.config.hall.help_window_zh,
            &self.config.hall.help_window_en,
        )
    }

    /// Checks the dispenser's latest PNG is `ticket` for `card` with the 【绿色通道】 line, as
    /// kiosk-sim's renderer lays out the same ticket, issued between `from` and now.
    fn assert_printed_with_priority(
        &self,
        ticket: &TicketView,
        card: &IdCard,
        from: DateTime<Utc>,
    ) {
        let pngs = self.sim.printed(SimPrinter::Dispenser);
        let png = pngs.last().expect("the dispenser cut a ticket");
        let today = business_date_at(Utc::now());
        assert_eq!(
            read_qr(png),
            format!(
                "{}{today}/{}",
                self.config.journeys.queue_url, ticket.ticket_no
            ),
            "the ticket's QR code"
        );
        let paper = image::open(png).unwrap().to_luma8();
        let expected = |priority: bool, at: DateTime<Utc>| {
            render(&self.dispensed(ticket, card, today, priority, at))
        };
        // The printed time has minutes only: the minute the story started in, or the next.
        let minutes = [from, from + chrono::Duration::minutes(1)];
        assert!(
            minutes.iter().any(|at| expected(true, *at) == paper),
            "{} is not ticket {} with its priority line",
            png.display(),
            ticket.ticket_no
        );
        assert!(
            minutes.iter().all(|at| expected(false, *at) != paper),
            "the priority line cannot be told from the paper"
        );
    }

    /// The ticket the kiosk hands the dispenser for `ticket` (see the engine's `issue`).
    fn dispensed(
        &self,
        ticket: &TicketView,
        card: &IdCard,
        today: NaiveDate,
        priority: bool,
        at: DateTime<Utc>,
    ) -> kiosk_dispenser::Ticket {
        let catalog = kiosk_journeys::catalog::sample();
        let mut category = ticket.category.zh.clone();
        if let Some(note) = &ticket.stale_note {
            let since = note.zh.trim_start_matches("网络中断，排队信息截至 ");
            category.push_str(&format!("（离线，排队信息截至{since}）"));
        }
        kiosk_dispenser::Ticket {
            hall: catalog.hall.name_zh.clone(),
            category,
            number: ticket.ticket_no.clone(),
            ahead: ticket.ahead,
            estimated_wait: Duration::from_secs(u64::from(ticket.wait_minutes) * 60),
            issued_at: at.with_timezone(&hall_offset()).naive_local(),
            link: format!(
                "{}{today}/{}",
                self.config.journeys.queue_url, ticket.ticket_no
            ),
            holder_name: Some(kiosk_hal::mask_name(card.display_name())),
            priority,
        }
    }
}

/// kiosk-sim's rendering of `ticket`: the same job bytes through a fresh emulator.
fn render(ticket: &kiosk_dispenser::Ticket) -> image::GrayImage {
    let out = tempfile::tempdir().unwrap();
    let emulator =
        kiosk_sim::printer::Emulator::new(kiosk_sim::printer::Config::new(out.path())).unwrap();
    let bytes = kiosk_dispenser::ticket_job(ticket).unwrap();
    let mut cut = emulator.engine().feed(&bytes).tickets;
    assert_eq!(cut.len(), 1, "one ticket job cuts one ticket");
    cut.remove(0)
}

/// The link in a printed ticket's QR code, read off the PNG with `zbarimg` (zbar-tools).
fn read_qr(png: &Path) -> String {
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png)
        .output()
        .expect("zbarimg (zbar-tools) is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn ticket_of(page: Page) -> TicketView {
    match page {
        Page::Ticket { ticket } => ticket,
        other => panic!("no ticket but {other:?}"),
    }
}

fn progress_of(page: Page) -> (Vec<ProgressView>, Option<Text>) {
    match page {
        Page::Progress {
            applications,
            as_of,
        } => (applications, as_of),
        other => panic!("no progress but {other:?}"),
    }
}

fn born(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn a_citizen_with_an_appointment_checks_in_with_the_id_card_and_central_sees_the_check_in() {
    story(async {
        let hall = Hall::open();
        let (dir, identity) = hall.enrol("kiosk-1").await;
        let card = citizen_card(21, born(1985, 4, 12));
        let imported =
            hall.import_appointments(&[booking("YY-0001", &card, "hr-sscard-apply", "B")]);
        assert_eq!(imported["added"], 1);
        let mut kiosk = Kiosk::start(&dir).await;

        let from = Utc::now();
        let ticket = ticket_of(kiosk.check_in(&card).await);
        // The appointment's queue, its windows, and the appointment lane.
        assert!(ticket.ticket_no.starts_with('B'), "{ticket:?}");
        assert_eq!(
            ticket.category,
            Text::new("社保医保", "Social and medical insurance")
        );
        assert_eq!(ticket.window.zh, "B区 7-12号窗口");
        assert_eq!(ticket.priority, Some(Text::new("预约优先", "Appointment")));
        assert_eq!(ticket.stale_note, None, "online: live queue figures");
        assert_eq!(kiosk.sim.printed(SimPrinter::Dispenser).len(), 1);
        kiosk.assert_printed_with_priority(&ticket, &card, from);
        assert_eq!(kiosk.engine.stats().borrow().checkins, 1);

        // Central: the ticket, tied to the appointment, once the outbox has drained.
        kiosk.drained().await;
        let on_central = hall
            .ticket(&ticket.ticket_no)
            .expect("central has the ticket");
        assert_eq!(on_central.kiosk_id, identity.kiosk_id.to_string());
        assert_eq!(on_central.priority, "appointment");
        assert_eq!(on_central.appointment_id.as_deref(), Some("YY-0001"));
        assert_eq!(
            on_central.holder_hash.as_deref(),
            Some(hall.holder_hash(&card).as_str())
        );
        assert!(on_central.issued, "{on_central:?}");
        assert!(on_central.source.starts_with("lease:") || on_central.source == "band");

        // Staff see a priority ticket waiting in B, and the window calls it first.
        let stats = hall.cli(&["queue", "stats", "--hall", HALL]);
        let b = stats["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["category"] == "B")
            .unwrap()
            .clone();
        assert_eq!(
            (&b["waiting"], &b["waiting_priority"]),
            (&serde_json::json!(1), &serde_json::json!(1))
        );
        let called = hall.cli(&["queue", "call", "--hall", HALL, "--category", "B"]);
        assert_eq!(called["ticket_no"], ticket.ticket_no.as_str());
        assert_eq!(called["priority"], "appointment");

        // Tapping the card again gives no second ticket: the first one is named.
        let again = kiosk.check_in(&card).await;
        let Page::Notice { message, .. } = &again else {
            panic!("{again:?}")
        };
        assert!(message.zh.contains(&ticket.ticket_no), "{message:?}");
        assert_eq!(kiosk.sim.printed(SimPrinter::Dispenser).len(), 1);
        kiosk.engine.shutdown().await;
    });
}

#[test]
fn a_citizen_looks_up_progress_by_application_number_and_by_id_card() {
    story(async {
        let hall = Hall::open();
        let (dir, _) = hall.enrol("kiosk-1").await;
        let card = citizen_card(34, born(1978, 9, 30));

        // The citizen applied yesterday at the hall's other kiosk: its outbox delivered the
        // application to central (the wire the kiosks use, signed as that kiosk).
        let (other_dir, other) = hall.enrol("kiosk-2").await;
        let yesterday = business_date_at(Utc::now()).pred_opt().unwrap();
        let no = ApplicationNo::new(other.hall_code, other.kiosk_no, yesterday, 7).unwrap();
        let submitted = ApplicationSubmitted {
            application_no: no,
            matter_code: "hr-sscard-apply".into(),
            holder_hash: hall.holder_hash(&card),
            holder_name_masked: kiosk_hal::mask_name(card.display_name()),
            form: serde_json::Map::new(),
            materials: vec![],
            submitted_at: Utc::now() - chrono::Duration::days(1),
            live_token: None,
        };
        let batch = EventBatch {
            events: vec![Event {
                event_id: Uuid::now_v7(),
                seq: 1,
                stream: ApplicationSubmitted::STREAM,
                kind: ApplicationSubmitted::KIND.into(),
                priority: 1,
                occurred_at: submitted.submitted_at,
                payload: submitted.to_payload(),
                attachments: vec![],
            }],
        };
        let ack = other
            .client(&other_dir, Timeouts::default())
            .unwrap()
            .post_events(&batch)
            .await
            .unwrap();
        assert!(ack.results.iter().all(|r| r.outcome.is_acknowledged()));

        // The department accepted it and is reviewing it.
        hall.cli(&[
            "application",
            "advance",
            &no.to_string(),
            "--status",
            "in_review",
            "--note-zh",
            "材料已转社保中心审核",
            "--note-en",
            "Sent to the social security centre for review",
        ]);
        let mut kiosk = Kiosk::start(&dir).await;

        let no_text = no.to_string();
        let central_says = |hall: &Hall| hall.cli(&["application", "show", &no_text]);
        let expect = |page: Page, status: ApplicationStatus, held: &serde_json::Value| {
            let (applications, as_of) = progress_of(page);
            assert_eq!(as_of, None, "live from central, not a copy");
            let [shown] = applications.as_slice() else {
                panic!("{applications:?}")
            };
            assert_eq!(
                shown.application_no,
                no.grouped(),
                "grouped as on the receipt"
            );
            assert_eq!(
                shown.matter,
                Text::new("社会保障卡申领", "Application for a social security card")
            );
            assert_eq!(held["status"], status.as_str());
            assert_eq!(
                shown.status,
                Text::new(status.label_zh(), status.label_en())
            );
            let timeline = held["timeline"].as_array().unwrap();
            assert_eq!(shown.timeline.len(), timeline.len());
            for (line, entry) in shown.timeline.iter().zip(timeline) {
                let status =
                    ApplicationStatus::from_name(entry["status"].as_str().unwrap()).unwrap();
                assert_eq!(line.status.zh, status.label_zh());
                assert_eq!(line.note.zh, entry["note_zh"].as_str().unwrap_or_default());
                assert_eq!(line.note.en, entry["note_en"].as_str().unwrap_or_default());
            }
        };

        let held = central_says(&hall);
        expect(
            kiosk.progress_by_number(&no).await,
            ApplicationStatus::InReview,
            &held,
        );
        expect(
            kiosk.progress_by_card(&card).await,
            ApplicationStatus::InReview,
            &held,
        );
        let shown = progress_of(kiosk.progress_by_number(&no).await).0;
        assert_eq!(
            shown[0].timeline.last().unwrap().note,
            Text::new(
                "材料已转社保中心审核",
                "Sent to the social security centre for review"
            )
        );

        // The card is made: the next look-up says so, by number and by card.
        hall.cli(&[
            "application",
            "advance",
            &no.to_string(),
            "--status",
            "ready_for_pickup",
            "--note-zh",
            "请到B区7号窗口领取",
            "--note-en",
            "Collect it at window 7, zone B",
        ]);
        let held = central_says(&hall);
        assert_eq!(held["timeline"].as_array().unwrap().len(), 3);
        expect(
            kiosk.progress_by_number(&no).await,
            ApplicationStatus::ReadyForPickup,
            &held,
        );
        expect(
            kiosk.progress_by_card(&card).await,
            ApplicationStatus::ReadyForPickup,
            &held,
        );

        // Someone else's card finds nothing, and is told where to ask.
        let stranger = citizen_card(35, born(1990, 1, 1));
        let page = kiosk.progress_by_card(&stranger).await;
        let Page::Notice { window, .. } = &page else {
            panic!("{page:?}")
        };
        assert_eq!(window.as_ref(), Some(&kiosk.help_window()));
        assert_eq!(kiosk.engine.stats().borrow().progress_lookups, 5);
        kiosk.engine.shutdown().await;
    });
}

#[test]
fn with_central_down_check_in_sends_the_citizen_to_the_desk_or_checks_in_from_the_copy_and_loses_nothing()
 {
    story(async {
        let mut hall = Hall::open();
        let (dir, _) = hall.enrol("kiosk-1").await;
        let early = citizen_card(41, born(1960, 2, 3));
        let later = citizen_card(42, born(1992, 7, 8));
        let latest = citizen_card(43, born(1988, 12, 24));
        hall.import_appointments(&[
            booking("YY-0101", &early, "re-transfer", "C"),
            booking("YY-0102", &later, "hr-sscard-apply", "B"),
        ]);
        let mut kiosk = Kiosk::start(&dir).await;

        // Central goes down before anyone has checked in: the kiosk has no copy of today's
        // appointments. It cannot tell whether the citizen booked, so it does not say "no
        // appointment": it sends them to the desk, in both languages.
        hall.central.stop();
        let page = kiosk.check_in(&early).await;
        let Page::Notice {
            title,
            message,
            window,
            failure,
        } = &page
        else {
            panic!("{page:?}")
        };
        let desk = kiosk.help_window();
        assert!(*failure);
        assert_eq!(
            title,
            &Text::new(
                "暂时无法查询您的预约",
                "Your appointment cannot be looked up right now"
            )
        );
        assert!(message.zh.contains(&desk.zh), "{message:?}");
        assert!(message.en.contains(&desk.en), "{message:?}");
        assert_eq!(window.as_ref(), Some(&desk));
        assert_eq!(kiosk.sim.printed(SimPrinter::Dispenser).len(), 0);

        // Central is back: the same citizen checks in (and the kiosk keeps today's list).
        hall.central.restart().unwrap();
        let first = ticket_of(kiosk.check_in(&early).await);
        assert_eq!(first.priority, Some(Text::new("预约优先", "Appointment")));
        // Booked after the kiosk took its copy.
        hall.import_appointments(&[booking("YY-0103", &latest, "ps-idcard-renew", "D")]);

        // Down again. A citizen in the copy checks in offline: printed, with priority.
        hall.central.stop();
        let from = Utc::now();
        let offline = ticket_of(kiosk.check_in(&later).await);
        assert!(offline.ticket_no.starts_with('B'), "{offline:?}");
        assert_eq!(offline.priority, Some(Text::new("预约优先", "Appointment")));
        kiosk.assert_printed_with_priority(&offline, &later, from);
        // One booked since the copy was taken is sent to the desk, not turned away.
        let page = kiosk.check_in(&latest).await;
        let Page::Notice { title, window, .. } = &page else {
            panic!("{page:?}")
        };
        assert_eq!(title.zh, "暂时无法查询您的预约");
        assert_eq!(window.as_ref(), Some(&desk));
        assert_eq!(kiosk.sim.printed(SimPrinter::Dispenser).len(), 2);
        assert!(
            hall.ticket(&offline.ticket_no).is_none(),
            "central is down; the offline check-in is in the kiosk's outbox"
        );
        assert!(kiosk.engine.backlog().await.unwrap() > 0);

        // Central back: the outbox drains and central has both check-ins as the kiosk told
        // the citizens, each tied to its appointment; nobody else got a ticket.
        hall.central.restart().unwrap();
        kiosk.drained().await;
        for (ticket, appointment) in [(&first, "YY-0101"), (&offline, "YY-0102")] {
            let on_central = hall
                .ticket(&ticket.ticket_no)
                .unwrap_or_else(|| panic!("central lost check-in {}", ticket.ticket_no));
            assert!(on_central.issued, "{on_central:?}");
            assert_eq!(on_central.priority, "appointment");
            assert_eq!(on_central.appointment_id.as_deref(), Some(appointment));
        }
        let tickets: i64 = hall
            .db()
            .query_row("SELECT COUNT(*) FROM tickets", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tickets, 2);
        assert_eq!(kiosk.engine.stats().borrow().checkins, 2);
        kiosk.engine.shutdown().await;
        hall.central.stop();
    });
}

#[test]
fn staff_acknowledge_a_call_for_help_at_central_and_the_kiosk_that_asked_shows_who_is_coming() {
    story(async {
        let hall = Hall::open();
        let (dir, identity) = hall.enrol("kiosk-1").await;
        let mut kiosk = Kiosk::start(&dir).await;

        // A citizen calls for help; once the request is on central the page says staff have
        // it (not yet who is coming).
        let received = kiosk
            .send_until(Command::CallHelp, "central to have the call", |p| {
                matches!(p, Page::Notice { failure: false, title, .. } if title.en == "Staff have been called")
            })
            .await;
        let Page::Notice { window, .. } = &received else {
            panic!("{received:?}")
        };
        assert_eq!(window.as_ref(), Some(&kiosk.help_window()));

        // At central the request is open, from this kiosk; a clerk takes it.
        let open = hall.cli(&["help", "list", "--open"]);
        let [request] = open.as_array().unwrap().as_slice() else {
            panic!("one open request: {open:#}")
        };
        assert_eq!(request["kiosk_id"], identity.kiosk_id.to_string());
        let id = request["id"].as_i64().unwrap().to_string();
        let after = kiosk.revision();
        hall.cli(&["help", "ack", &id, "--by", "3号窗口 李**"]);

        // The kiosk that asked shows who is coming, in both languages.
        let screen = kiosk
            .wait_after(after, "the kiosk to show the acknowledgement", |s| {
                matches!(&s.page, Page::Notice { title, .. } if title.zh == "工作人员已收到，正在赶来")
            })
            .await;
        let Page::Notice {
            message, failure, ..
        } = &screen.page
        else {
            unreachable!()
        };
        assert!(!failure);
        assert!(message.zh.contains("3号窗口 李** 正在赶来"), "{message:?}");
        assert!(
            message.en.contains("3号窗口 李** is coming to you"),
            "{message:?}"
        );
        assert_eq!(
            hall.cli(&["help", "list", "--open"])
                .as_array()
                .map(Vec::len),
            Some(0),
            "acknowledged requests are no longer open"
        );
    });
}

/// A plain `GET` of `url` (http only): the status line and body, as a phone's browser gets
/// them.
fn http_get(url: &str) -> String {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("an http:// address");
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_printed_tickets_qr_opens_its_live_page_which_names_the_window_once_called() {
    story(async {
        // Central knows the address phones reach it at; kiosks learn it from the queue state.
        let mut hall = Hall::open();
        let public = hall.url();
        hall.central
            .restart_with_env(&[("CENTRAL_PUBLIC_URL".into(), public.clone())])
            .unwrap();
        let (dir, _) = hall.enrol("kiosk-1").await;
        let card = citizen_card(22, born(1990, 6, 1));
        hall.import_appointments(&[booking("YY-0002", &card, "hr-sscard-apply", "B")]);
        let mut kiosk = Kiosk::start(&dir).await;
        let ticket = ticket_of(kiosk.check_in(&card).await);
        let pngs = kiosk.sim.printed(SimPrinter::Dispenser);
        let link = read_qr(pngs.last().expect("the dispenser cut a ticket"));
        assert!(
            link.starts_with(&format!("{public}/t/")),
            "the ticket's QR code {link:?} is its live page"
        );
        kiosk.drained().await;

        // Scanned with a phone: the ticket, waiting, and nothing of the citizen.
        let page = http_get(&link);
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains(&ticket.ticket_no), "{page}");
        assert!(page.contains("等候中"), "{page}");
        assert!(!page.contains(&kiosk_hal::mask_name(card.display_name())));

        // A window calls it: the same page names the window.
        hall.cli(&[
            "queue",
            "window",
            "--hall",
            HALL,
            "--window",
            "7",
            "--categories",
            "B",
        ]);
        let called = hall.cli(&["queue", "call", "--hall", HALL, "--window", "7"]);
        assert_eq!(called["ticket_no"], ticket.ticket_no.as_str());
        let page = http_get(&link);
        assert!(page.contains("请到 7 号窗口"), "{page}");
        kiosk.engine.shutdown().await;
    });
}
