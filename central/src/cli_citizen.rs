//! Staff and ops commands of the citizen journeys: appointments import, application
//! progress, calling tickets at a window, help requests and bad reviews. Every command takes
//! `--db` and `--json`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use central::Store;
use central::store::{Action, AdvanceError, AppointmentImport, ImportError};
use chrono::{Days, NaiveDate};
use clap::{Args, Subcommand};
use kiosk_api::citizen::{ApplicationStatus, business_date_at, is_category_code};
use serde::Serialize;

/// `--db` and `--json`, shared by every command here.
#[derive(Args)]
pub(crate) struct Common {
    /// `postgres://…` for PostgreSQL; anything else is a SQLite file (created if missing).
    #[arg(long)]
    db: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Act as this console user: their role is checked and the audit log names them
    /// (without it: `cli:` and the operating-system user).
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,
}

impl Common {
    /// The database, acting for `action` (see `open_as`).
    async fn acting(&self, action: Action) -> anyhow::Result<Store> {
        crate::open_as(&self.db, self.as_user.as_deref(), action).await
    }
}

/// A hall's business day, for the commands that look at one.
#[derive(Args)]
pub(crate) struct HallDay {
    /// Hall.
    #[arg(long)]
    hall: String,
    /// Business date YYYY-MM-DD (default: today, hall time).
    #[arg(long)]
    date: Option<NaiveDate>,
    #[command(flatten)]
    common: Common,
}

impl HallDay {
    /// The hall, the date asked for or today (hall time), and `--db`/`--json`.
    fn resolve(self) -> (String, NaiveDate, Common) {
        (self.hall, self.date.unwrap_or_else(today), self.common)
    }
}

#[derive(Subcommand)]
pub(crate) enum AppointmentsCommand {
    /// Import a hall's booked appointments from the booking system's JSON export: an array of
    /// {appointment_id, holder_hash | id_number, holder_name_masked, matter_code, category,
    /// slot_start, slot_end} (RFC 3339 slots). Known ids are updated; all or nothing.
    Import {
        /// The JSON file.
        file: PathBuf,
        /// Hall the appointments are for.
        #[arg(long)]
        hall: String,
        /// The holder-hash key file: ID numbers are hashed under its current key. Default:
        /// $CENTRAL_HOLDER_KEYS.
        #[arg(long, value_name = "FILE")]
        holder_keys: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// List a hall's appointments of one day.
    List(HallDay),
}

#[derive(Subcommand)]
pub(crate) enum ApplicationCommand {
    /// Set an application's status, with notes the citizen reads at the kiosk.
    Advance {
        /// Application number, 17 digits, e.g. 00120326120100075 (spaces allowed).
        application_no: String,
        /// accepted, in_review, supplement_required, approved, rejected, ready_for_pickup,
        /// completed.
        #[arg(long)]
        status: ApplicationStatus,
        /// Note in Chinese.
        #[arg(long)]
        note_zh: Option<String>,
        /// Note in English.
        #[arg(long)]
        note_en: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Show an application's status and timeline.
    Show {
        /// Application number.
        application_no: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
pub(crate) enum QueueCommand {
    /// A window calls the next ticket (priority tickets and checked-in appointments first):
    /// with --window, of the categories that window serves (only --category if given), and
    /// the window's ticket before is served; without, of --category, at no window.
    Call {
        /// Hall.
        #[arg(long)]
        hall: String,
        /// Queue letter, e.g. A.
        #[arg(long, required_unless_present = "window")]
        category: Option<String>,
        /// Window number (`central queue window`).
        #[arg(long)]
        window: Option<u32>,
        #[command(flatten)]
        common: Common,
    },
    /// Call the window's current ticket again.
    Recall(AtWindow),
    /// 过号: the window's current ticket did not come after the hall's recalls; it goes back
    /// to the end of its queue or is voided (`central queue policy`).
    NoShow(AtWindow),
    /// The window's current ticket is served (办结).
    Served(AtWindow),
    /// Send the window's current ticket to another queue and/or window.
    Transfer {
        #[command(flatten)]
        at: AtWindow,
        /// The queue it waits in from now.
        #[arg(long, required_unless_present = "to_window")]
        to_category: Option<String>,
        /// The one window that calls it (it must serve the queue).
        #[arg(long)]
        to_window: Option<u32>,
    },
    /// Set up a window of a hall and the categories it serves, e.g. --categories A,B.
    Window {
        /// Hall.
        #[arg(long)]
        hall: String,
        /// Window number, as painted above it.
        #[arg(long)]
        window: u32,
        /// Queue letters it calls, comma-separated.
        #[arg(long, value_delimiter = ',')]
        categories: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// A hall's 过号 rule: recalls before a no-show, then requeue or void.
    Policy {
        /// Hall.
        #[arg(long)]
        hall: String,
        /// Recalls before the window may mark a no-show.
        #[arg(long)]
        recalls: u32,
        /// requeue (to the end of its queue) or void.
        #[arg(long)]
        then: central::store::NoShowAfter,
        #[command(flatten)]
        common: Common,
    },
    /// Bind a console user with the clerk role to a window: they may act there.
    Clerk {
        /// Console user name.
        user: String,
        /// Hall.
        #[arg(long)]
        hall: String,
        /// Window number.
        #[arg(long)]
        window: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Pair a rating tablet with a window (一次一评): prints the path the tablet opens on
    /// central, `/hall/<hall>/window/<n>/rate/<secret>`. Shown once (central keeps a hash);
    /// pairing again retires the tablet paired before.
    Tablet {
        /// Hall.
        #[arg(long)]
        hall: String,
        /// Window number.
        #[arg(long)]
        window: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Tickets printed outside their kiosk's leased block or offline band (exit 1 if any):
    /// the numbers that two kiosks may both have handed out.
    Check(HallDay),
    /// Issued, voided, called, waiting and unconfirmed tickets per category.
    Stats(HallDay),
    /// A hall director's statistics per day and window over a period: calls, served,
    /// no-shows, transfers, mean and p90 wait and service time; tickets issued per day.
    Report {
        /// Hall.
        #[arg(long)]
        hall: String,
        /// First business date, YYYY-MM-DD (default: six days before --to).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last business date, YYYY-MM-DD (default: today, hall time).
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Print CSV (UTF-8 with a byte-order mark, for a spreadsheet) instead of a table.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Every ticket of the day with its state; unconfirmed ones (the kiosk restarted between
    /// printing and recording) are marked: callable, but check the citizen's slip.
    List(HallDay),
}

/// A hall's window, for the commands acting on the ticket it has called.
#[derive(Args)]
pub(crate) struct AtWindow {
    /// Hall.
    #[arg(long)]
    hall: String,
    /// Window number.
    #[arg(long)]
    window: u32,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand)]
pub(crate) enum HelpCommand {
    /// Hall staff acknowledge a help request: by its id, or by hall and event id (both from
    /// `central help list`). The kiosk that asked shows who is coming.
    Ack {
        /// Its id.
        #[arg(required_unless_present = "event", conflicts_with_all = ["event", "hall"])]
        id: Option<i64>,
        /// The hall of the request.
        #[arg(long, requires = "event")]
        hall: Option<String>,
        /// The help_requested event's id.
        #[arg(long, requires = "hall")]
        event: Option<String>,
        /// Who is coming: a staff name or window, shown on the kiosk (never a citizen's data).
        #[arg(long)]
        by: String,
        #[command(flatten)]
        common: Common,
    },
    /// Help requests, newest first.
    List {
        /// Only those not yet acknowledged.
        #[arg(long)]
        open: bool,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
pub(crate) enum RatingsCommand {
    /// 好差评 of a hall by level, and the bad reviews (levels 1-2) not yet followed up.
    Summary {
        /// Hall.
        #[arg(long)]
        hall: String,
        #[command(flatten)]
        common: Common,
    },
    /// Days to the deadline of follow-ups of a kind opened from now on (calendar days;
    /// defaults: rectification 15, return_visit 3, appeal_review 5).
    Deadline {
        /// rectification (整改), return_visit (回访) or appeal_review (申诉复核).
        #[arg(long)]
        kind: central::store::FollowUpKind,
        /// Days.
        #[arg(long)]
        days: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Mark a bad review followed up.
    FollowUp {
        /// Rating id (from `central ratings summary`).
        id: i64,
        /// What was done.
        #[arg(long)]
        note: String,
        #[command(flatten)]
        common: Common,
    },
}

async fn open(db: &str) -> anyhow::Result<Store> {
    Store::open(db).await.with_context(|| {
        let shown = match (db.find("://"), db.rfind('@')) {
            (Some(_), Some(at)) => format!("…{}", &db[at..]),
            _ => db.to_owned(),
        };
        format!("opening the database {shown}")
    })
}

fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn today() -> NaiveDate {
    business_date_at(chrono::Utc::now())
}

/// `central appointments …`.
pub(crate) async fn appointments(command: AppointmentsCommand) -> anyhow::Result<()> {
    match command {
        AppointmentsCommand::Import {
            file,
            hall,
            holder_keys,
            common,
        } => {
            let keys = crate::cli_ops::holder_key_source(holder_keys.as_deref())?.keys();
            let Some(key) = keys.current() else {
                bail!("the holder key file holds no key");
            };
            let bytes = std::fs::read(&file)
                .with_context(|| format!("reading the appointments file {}", file.display()))?;
            let list: Vec<AppointmentImport> = serde_json::from_slice(&bytes).map_err(|e| {
                // Position only: the file may hold ID numbers, which must not reach a log.
                anyhow::anyhow!(
                    "{} is not a JSON array of appointments (line {}, column {}: {}); see `central appointments import --help`",
                    file.display(),
                    e.line(),
                    e.column(),
                    match e.classify() {
                        serde_json::error::Category::Data => "wrong field, type or missing field",
                        _ => "not valid JSON",
                    }
                )
            })?;
            let store = common.acting(Action::AppointmentsImport).await?;
            let summary = match store.import_appointments(&hall, &list, key).await {
                Ok(s) => s,
                Err(ImportError::Store(e)) => return Err(e.into()),
                Err(e) => bail!("{}: {e}; nothing was imported", file.display()),
            };
            if common.json {
                json(&summary)?;
            } else {
                println!(
                    "hall {hall}: {} appointments added, {} updated",
                    summary.added, summary.updated
                );
            }
            Ok(())
        }
        AppointmentsCommand::List(day) => {
            let (hall, date, common) = day.resolve();
            let list = open(&common.db)
                .await?
                .appointments_for_staff(&hall, date)
                .await?;
            if common.json {
                return json(&list);
            }
            println!("hall {hall}, {date}: {} appointments", list.len());
            for s in &list {
                let a = &s.appointment;
                println!(
                    "{}  {}-{}  {:<4} {:<24} {}",
                    a.appointment_id,
                    a.slot_start.format("%H:%M"),
                    a.slot_end.format("%H:%M"),
                    a.category,
                    a.matter_code,
                    s.holder_name_masked
                );
            }
            Ok(())
        }
    }
}

/// The progress, each step with who set it (`staff`, from central's own timeline; the
/// kiosk's view has no names).
fn print_progress(
    p: &kiosk_api::citizen::ApplicationProgress,
    staff: &[central::store::StaffTimelineEntry],
) {
    println!(
        "{} ({}): {} {}",
        p.application_no,
        p.matter_code,
        p.status,
        p.status.label_zh()
    );
    for (i, t) in p.timeline.iter().enumerate() {
        println!(
            "  {}  {:<20} {} {}{}",
            t.at.with_timezone(&kiosk_api::citizen::hall_offset())
                .format("%Y-%m-%d %H:%M"),
            t.status.as_str(),
            t.note_zh.as_deref().unwrap_or(""),
            t.note_en
                .as_deref()
                .map(|n| format!("/ {n}"))
                .unwrap_or_default(),
            staff
                .get(i)
                .and_then(|s| s.staff.as_deref())
                .map(|s| format!("  [by {s}]"))
                .unwrap_or_default()
        );
    }
}

/// `central application …`.
pub(crate) async fn application(command: ApplicationCommand) -> anyhow::Result<()> {
    match command {
        ApplicationCommand::Advance {
            application_no,
            status,
            note_zh,
            note_en,
            common,
        } => {
            let store = common.acting(Action::ApplicationStatus).await?;
            let progress = match store
                .advance_application(
                    &application_no,
                    status,
                    note_zh.as_deref(),
                    note_en.as_deref(),
                    chrono::Utc::now(),
                )
                .await
            {
                Ok(p) => p,
                Err(AdvanceError::Store(e)) => return Err(e.into()),
                Err(e) => bail!("{e}"),
            };
            if common.json {
                json(&progress)
            } else {
                let staff = store.application_timeline(&application_no).await?;
                print_progress(&progress, &staff);
                Ok(())
            }
        }
        ApplicationCommand::Show {
            application_no,
            common,
        } => {
            let store = open(&common.db).await?;
            let Some(progress) = store.application_progress(&application_no, None).await? else {
                bail!("{}", AdvanceError::Unknown(application_no));
            };
            if common.json {
                json(&progress)
            } else {
                let staff = store.application_timeline(&application_no).await?;
                print_progress(&progress, &staff);
                Ok(())
            }
        }
    }
}

fn window_done(done: &central::store::WindowOutcome, at: &AtWindow) -> anyhow::Result<()> {
    if at.common.json {
        return json(done);
    }
    println!(
        "{} {} at window {} of hall {}",
        done.ticket_no, done.done, at.window, at.hall
    );
    Ok(())
}

/// `central queue …`.
pub(crate) async fn queue(command: QueueCommand) -> anyhow::Result<()> {
    match command {
        QueueCommand::Call {
            hall,
            category,
            window: Some(window),
            common,
        } => {
            let called = common
                .acting(Action::QueueCall)
                .await?
                .call_at_window(&hall, window, category.as_deref(), chrono::Utc::now())
                .await?;
            match (called, common.json) {
                (Some(t), true) => json(&t),
                (Some(t), false) => {
                    println!(
                        "请 {} 号到 {} 号窗口办理 · calling {} ({}, {}) to window {}{}",
                        t.ticket_no,
                        t.window_no,
                        t.ticket_no,
                        t.category,
                        t.priority,
                        t.window_no,
                        if t.unconfirmed {
                            ", UNCONFIRMED: the kiosk restarted after printing it, check the citizen's slip"
                        } else {
                            ""
                        }
                    );
                    Ok(())
                }
                (None, _) => bail!("nobody is waiting for window {window} of hall {hall} today"),
            }
        }
        QueueCommand::Recall(at) => {
            let store = at.common.acting(Action::QueueRecall).await?;
            let done = store
                .recall(&at.hall, at.window, chrono::Utc::now())
                .await?;
            window_done(&done, &at)
        }
        QueueCommand::NoShow(at) => {
            let store = at.common.acting(Action::QueueNoShow).await?;
            let done = store
                .no_show(&at.hall, at.window, chrono::Utc::now())
                .await?;
            window_done(&done, &at)
        }
        QueueCommand::Served(at) => {
            let store = at.common.acting(Action::QueueServed).await?;
            let done = store
                .served(&at.hall, at.window, chrono::Utc::now())
                .await?;
            window_done(&done, &at)
        }
        QueueCommand::Transfer {
            at,
            to_category,
            to_window,
        } => {
            let store = at.common.acting(Action::QueueTransfer).await?;
            let done = store
                .transfer(
                    &at.hall,
                    at.window,
                    to_category.as_deref(),
                    to_window,
                    chrono::Utc::now(),
                )
                .await?;
            window_done(&done, &at)
        }
        QueueCommand::Window {
            hall,
            window,
            categories,
            common,
        } => {
            common
                .acting(Action::WindowSet)
                .await?
                .set_window(&hall, window, &categories)
                .await?;
            if common.json {
                return json(
                    &serde_json::json!({"hall": hall, "window": window, "categories": categories}),
                );
            }
            println!(
                "hall {hall} window {window} calls {}",
                categories.join(", ")
            );
            Ok(())
        }
        QueueCommand::Policy {
            hall,
            recalls,
            then,
            common,
        } => {
            common
                .acting(Action::WindowSet)
                .await?
                .set_queue_policy(
                    &hall,
                    central::store::QueuePolicy {
                        max_recalls: recalls,
                        after_no_show: then,
                    },
                )
                .await?;
            if common.json {
                return json(
                    &serde_json::json!({"hall": hall, "max_recalls": recalls, "after_no_show": then.as_str()}),
                );
            }
            println!(
                "hall {hall}: a ticket recalled {recalls} times may be marked a no-show, then {}",
                then.as_str()
            );
            Ok(())
        }
        QueueCommand::Tablet {
            hall,
            window,
            common,
        } => {
            let secret = common
                .acting(Action::WindowSet)
                .await?
                .pair_rating_tablet(&hall, window)
                .await?;
            let path = format!("/hall/{hall}/window/{window}/rate/{secret}");
            if common.json {
                return json(&serde_json::json!({"hall": hall, "window": window, "path": path}));
            }
            println!("open this on the tablet at window {window} (after central's address):");
            println!("{path}");
            Ok(())
        }
        QueueCommand::Clerk {
            user,
            hall,
            window,
            common,
        } => {
            common
                .acting(Action::ClerkBind)
                .await?
                .bind_clerk(&user, &hall, window)
                .await?;
            if common.json {
                return json(&serde_json::json!({"user": user, "hall": hall, "window": window}));
            }
            println!("{user} may act at window {window} of hall {hall}");
            Ok(())
        }
        QueueCommand::Call {
            hall,
            category: Some(category),
            window: None,
            common,
        } => {
            if !is_category_code(&category) {
                bail!("category {category:?} is not a queue letter such as A");
            }
            let called = common
                .acting(Action::QueueCall)
                .await?
                .call_next(&hall, &category, chrono::Utc::now())
                .await?;
            match (called, common.json) {
                (Some(t), true) => json(&t),
                (Some(t), false) => {
                    println!(
                        "calling {} ({}){}; {} still waiting in {}",
                        t.ticket_no,
                        t.priority,
                        if t.unconfirmed {
                            ", UNCONFIRMED: the kiosk restarted after printing it, check the citizen's slip"
                        } else {
                            ""
                        },
                        t.still_waiting,
                        t.category
                    );
                    Ok(())
                }
                (None, _) => bail!("nobody is waiting in category {category} of hall {hall} today"),
            }
        }
        QueueCommand::Call {
            category: None,
            window: None,
            ..
        } => bail!("name --window, --category or both"),
        QueueCommand::Check(day) => {
            let (hall, date, common) = day.resolve();
            let bad = open(&common.db)
                .await?
                .misnumbered_tickets(&hall, date)
                .await?;
            if common.json {
                json(&bad)?;
            } else {
                for t in &bad {
                    println!(
                        "{}  printed by {} claiming {}",
                        t.ticket_no, t.kiosk_id, t.source
                    );
                }
            }
            if !bad.is_empty() {
                bail!(
                    "{} tickets of hall {hall} on {date} lie outside their kiosk's lease or band",
                    bad.len()
                );
            }
            if !common.json {
                println!("hall {hall}, {date}: every ticket lies in its kiosk's lease or band");
            }
            Ok(())
        }
        QueueCommand::List(day) => {
            let (hall, date, common) = day.resolve();
            let tickets = open(&common.db).await?.tickets(&hall, date).await?;
            if common.json {
                return json(&tickets);
            }
            println!("hall {hall}, {date}: {} tickets", tickets.len());
            for t in &tickets {
                println!(
                    "{:<6} {:<9} {:<8} {}  {}{}",
                    t.ticket_no,
                    t.priority,
                    t.state,
                    t.issued_at
                        .with_timezone(&kiosk_api::citizen::hall_offset())
                        .format("%H:%M:%S"),
                    t.kiosk_id,
                    if t.unconfirmed {
                        "  UNCONFIRMED (callable; check the citizen's slip)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        QueueCommand::Report {
            hall,
            from,
            to,
            csv,
            common,
        } => {
            let to = to.unwrap_or_else(today);
            let from = from.unwrap_or_else(|| to.checked_sub_days(Days::new(6)).unwrap_or(to));
            let report = open(&common.db).await?.hall_report(&hall, from, to).await?;
            if common.json {
                return json(&report);
            }
            if csv {
                print!("{}", report.to_csv());
                return Ok(());
            }
            println!("hall {hall}, {from} to {to}");
            println!(
                "{:<10} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9} {:>11} {:>11} {:>7} {:>6}",
                "date",
                "window",
                "issued",
                "calls",
                "served",
                "no-shows",
                "transfer",
                "wait mean",
                "wait p90",
                "service mean",
                "service p90",
                "ratings",
                "mean"
            );
            let secs = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s}s"));
            for day in &report.days {
                for w in day.windows.iter().chain(std::iter::once(&day.hall)) {
                    let (window, issued) = match w.window_no {
                        Some(n) => (n.to_string(), String::new()),
                        None => ("all".to_owned(), day.issued.to_string()),
                    };
                    println!(
                        "{:<10} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9} {:>11} {:>11} {:>7} {:>6}",
                        day.date,
                        window,
                        issued,
                        w.calls,
                        w.served,
                        w.no_shows,
                        w.transferred,
                        secs(w.wait.mean_secs),
                        secs(w.wait.p90_secs),
                        secs(w.service.mean_secs),
                        secs(w.service.p90_secs),
                        w.ratings.count,
                        w.ratings.mean().unwrap_or_else(|| "-".to_owned())
                    );
                }
            }
            Ok(())
        }
        QueueCommand::Stats(day) => {
            let (hall, date, common) = day.resolve();
            let stats = open(&common.db).await?.queue_stats(&hall, date).await?;
            if common.json {
                return json(&stats);
            }
            println!("hall {hall}, {date}");
            println!(
                "{:<8} {:>7} {:>7} {:>7} {:>8} {:>9} {:>11} {:>10} {:>8}",
                "category",
                "issued",
                "voided",
                "called",
                "waiting",
                "priority",
                "unconfirmed",
                "pace (s)",
                "serving"
            );
            for c in &stats.categories {
                println!(
                    "{:<8} {:>7} {:>7} {:>7} {:>8} {:>9} {:>11} {:>10} {:>8}",
                    c.category,
                    c.issued,
                    c.voided,
                    c.called,
                    c.waiting,
                    c.waiting_priority,
                    c.unconfirmed,
                    c.avg_service_secs
                        .map_or_else(|| "-".into(), |s| s.to_string()),
                    c.now_serving.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
    }
}

/// `central help …`.
pub(crate) async fn help(command: HelpCommand) -> anyhow::Result<()> {
    match command {
        HelpCommand::Ack {
            id,
            hall,
            event,
            by,
            common,
        } => {
            let by = by.trim();
            if by.is_empty() || by.chars().count() > 64 {
                bail!(
                    "--by must name who is coming (1 to 64 characters), e.g. --by \"3号窗口 王\""
                );
            }
            let store = common.acting(Action::HelpAck).await?;
            let done = match (id, hall, event) {
                (Some(id), _, _) => store.acknowledge_help(id, by).await?,
                (None, Some(hall), Some(event)) => {
                    store.acknowledge_help_event(&hall, &event, by).await?
                }
                _ => bail!("give a help request id, or --hall and --event"),
            };
            let Some(request) = done else {
                bail!("no such help request; see `central help list --open`");
            };
            if common.json {
                json(&serde_json::json!({
                    "acknowledged": request.id,
                    "event_id": request.event_id,
                    "acknowledged_by": request.acknowledged_by,
                    "acknowledged_at": request.acknowledged_at,
                }))
            } else {
                println!(
                    "help request {} ({} at {}) acknowledged by {}",
                    request.id,
                    request.page,
                    request.hostname,
                    request.acknowledged_by.as_deref().unwrap_or(by)
                );
                Ok(())
            }
        }
        HelpCommand::List { open: only, common } => {
            let list = open(&common.db).await?.help_requests(only).await?;
            if common.json {
                return json(&list);
            }
            for h in &list {
                println!(
                    "{:>5}  {}  {:<20} kiosk {:>2} {:<16} page {:<16} {}  event {}",
                    h.id,
                    h.requested_at
                        .with_timezone(&kiosk_api::citizen::hall_offset())
                        .format("%m-%d %H:%M:%S"),
                    h.hall_id,
                    h.kiosk_no
                        .map_or_else(|| "-".to_owned(), |n| format!("{n:02}")),
                    h.hostname,
                    h.page,
                    match &h.acknowledged_by {
                        Some(by) if h.acknowledged_at.is_some() => format!("acknowledged by {by}"),
                        _ if h.acknowledged_at.is_some() => "acknowledged".to_owned(),
                        _ => "OPEN".to_owned(),
                    },
                    h.event_id
                );
            }
            Ok(())
        }
    }
}

/// `central ratings …`.
pub(crate) async fn ratings(command: RatingsCommand) -> anyhow::Result<()> {
    match command {
        RatingsCommand::Summary { hall, common } => {
            let store = open(&common.db).await?;
            let distribution = store.rating_distribution(&hall).await?;
            let bad = store.bad_reviews(&hall).await?;
            if common.json {
                return json(&serde_json::json!({
                    "distribution": distribution,
                    "bad_reviews": bad,
                }));
            }
            println!("hall {hall}: {} ratings", distribution.total);
            for l in &distribution.levels {
                println!("  level {}: {}", l.level, l.count);
            }
            println!("bad reviews to follow up: {}", bad.len());
            for b in &bad {
                println!(
                    "{:>5}  level {}  {:<32} {:<14} due {}  {}",
                    b.id,
                    b.level,
                    b.subject,
                    b.follow_up_kind.map_or("-", |k| k.as_str()),
                    b.follow_up_due
                        .map_or_else(|| "-".to_owned(), |d| d.to_rfc3339()),
                    b.reasons.join(",")
                );
            }
            Ok(())
        }
        RatingsCommand::Deadline { kind, days, common } => {
            common
                .acting(Action::RatingFollowUp)
                .await?
                .set_follow_up_days(kind, days)
                .await?;
            if common.json {
                return json(&serde_json::json!({"kind": kind, "days": days}));
            }
            println!("{kind} follow-ups opened from now on are due in {days} days");
            Ok(())
        }
        RatingsCommand::FollowUp { id, note, common } => {
            let Some(review) = common
                .acting(Action::RatingFollowUp)
                .await?
                .follow_up_review(id, &note)
                .await?
            else {
                bail!("no rating {id}; see `central ratings summary --hall H`");
            };
            if common.json {
                json(&review)
            } else {
                println!("rating {id} ({}) followed up", review.subject);
                Ok(())
            }
        }
    }
}
