//! The engine's actor: one task owning the session, the devices and the store handle.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use kiosk_api::NumberBand;
use kiosk_api::Stream;
use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{
    ApplicationProgress, ApplicationStatus, ApplicationSubmitted, Appointment, CitizenEvent,
    HelpRequested, SubmittedMaterial, TicketIssued, TicketPriority, TicketVoided, TimelineEntry,
    business_date_at, hall_offset,
};
use kiosk_api::fleet::{DeviceReport, DeviceState, HealthReport};
use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kiosk_core::store::{NewEvent, NoNumber, Store, StoreKey, StoreOptions, TicketFate};
use kiosk_core::sync::{Downlink, DownlinkHandle, Timeouts, Uplink, UplinkHandle};
use kiosk_dispenser::Slip;
use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
use kiosk_idcard::ReaderEvent;
use tokio::sync::{Notify, mpsc, watch};
use uuid::Uuid;

use super::devices::{PrinterSlot, ScannerSlot, spawn_reader};
use super::queue::{Keeper, QueueInfo};
use super::{EngineError, EngineHandle, EngineOptions, Stats};
use crate::holder::Holder;
use crate::journeys::{
    self, ApplicationOrder, Cx, Effect, Input, Journey, Notice, Outcome, ProgressQuery,
    ScannedMaterial, TicketOrder,
};
use crate::model::{
    Availability, Command, DeviceStatus, JourneyKind, Language, Page, ProgressView, Screen, Text,
    TicketView, Tile, TimelineLine,
};
use crate::sim::SimDevices;
use crate::voice::Voice;
use kiosk_core::sync::CentralClient;

/// Numbers used when the kiosk was never enrolled (simulate mode without central).
const UNENROLLED_BAND: NumberBand = NumberBand {
    first: 500,
    last: 999,
};

/// How often device health is asked.
const HEALTH_POLL: Duration = Duration::from_secs(10);

struct Session {
    journey: Option<Box<dyn Journey>>,
    language: Language,
    elder: bool,
    voice: bool,
}

struct Actor {
    config: Config,
    catalog: Arc<Catalog>,
    store: Store,
    band: NumberBand,
    // Unused since the 17-digit numbers; the journeys helper's numbering takes its place.
    #[allow(dead_code)]
    kiosk_id: Option<Uuid>,
    client: Option<CentralClient>,
    uplink: Option<UplinkHandle>,
    downlink: Option<DownlinkHandle>,
    queue: Arc<Mutex<QueueInfo>>,
    keeper_wake: Arc<Notify>,
    dispenser: Option<PrinterSlot>,
    receipt: Option<PrinterSlot>,
    scanner: Option<ScannerSlot>,
    reader_health: Option<watch::Receiver<DeviceHealth>>,
    voice: Voice,
    session: Session,
    revision: u64,
    stats: Stats,
    screen_tx: watch::Sender<Screen>,
    availability_tx: watch::Sender<Availability>,
    stats_tx: watch::Sender<Stats>,
    help_window: Text,
    _sim: Option<SimDevices>,
}

pub(super) async fn start(
    config: Config,
    options: EngineOptions,
) -> Result<EngineHandle, EngineError> {
    let data_dir = config.kiosk.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|source| {
        EngineError::Store(kiosk_core::store::StoreError::Io {
            path: data_dir.clone(),
            source,
        })
    })?;
    let sim = if options.simulate {
        Some(SimDevices::start(&data_dir)?)
    } else {
        None
    };
    let store = {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let key = StoreKey::load_or_create(&dir.join("store.key"))?;
            Store::open(&dir, key, StoreOptions::default())
        })
        .await
        .map_err(|e| {
            EngineError::Store(kiosk_core::store::StoreError::Io {
                path: data_dir.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        })??
    };
    let identity = Identity::load(&data_dir)?;
    let (client, uplink, downlink) = match &identity {
        Some(identity) => {
            // Short timeouts for the citizen's calls: someone is waiting, and every answer
            // has an offline fallback.
            let citizen = identity.client(
                &data_dir,
                Timeouts {
                    connect: Duration::from_secs(2),
                    request: Duration::from_secs(4),
                },
            )?;
            let sync_client = identity.client(&data_dir, Timeouts::default())?;
            let uplink = Uplink::builder(store.clone(), sync_client.clone()).spawn();
            let downlink = Downlink::new(store.clone(), sync_client, identity.ops_key()?)
                .spawn(Duration::from_secs(60));
            (Some(citizen), Some(uplink), Some(downlink))
        }
        None => {
            tracing::info!("kiosk not enrolled: journeys run offline on the band 500-999");
            (None, None, None)
        }
    };
    let catalog = Arc::new(
        options
            .catalog
            .clone()
            .or_else(|| crate::catalog::applied(&data_dir))
            .unwrap_or_else(crate::catalog::sample),
    );

    // Devices: the simulators' endpoints in simulate mode, else the configuration's.
    let devices = &config.devices;
    let take = options
        .ticket_take_timeout
        .or(sim.as_ref().map(|_| Duration::ZERO));
    let (reader_port, dispenser_ep, receipt_ep, scanner_dev) = match &sim {
        Some(sim) => (
            Some((sim.idcard_link.display().to_string(), None)),
            Some(kiosk_escpos::Endpoint::Tcp(sim.dispenser_addr.clone())),
            Some(kiosk_escpos::Endpoint::Tcp(sim.receipt_addr.clone())),
            Some(sim.scanner_device.clone()),
        ),
        None => (
            devices
                .idcard
                .as_ref()
                .map(|d| (d.port.display().to_string(), d.baud)),
            devices.dispenser.as_ref().and_then(super::printer_endpoint),
            devices.printer.as_ref().and_then(super::printer_endpoint),
            devices.scanner.as_ref().map(|s| s.device.clone()),
        ),
    };
    let (reader_events, reader_health) = match reader_port {
        Some((port, baud)) => {
            let (events, health) = spawn_reader(port, baud);
            (Some(events), Some(health))
        }
        None => (None, None),
    };
    let mut dispenser = dispenser_ep.map(|ep| PrinterSlot::new(DeviceKind::Dispenser, ep, take));
    let mut receipt = receipt_ep.map(|ep| PrinterSlot::new(DeviceKind::Printer, ep, None));
    if let Some(d) = &mut dispenser {
        d.refresh().await;
    }
    if let Some(r) = &mut receipt {
        r.refresh().await;
    }
    let scanner = match scanner_dev {
        Some(dev) => Some(ScannerSlot::start(dev, sim.as_ref().map(SimDevices::controls)).await),
        None => None,
    };

    let queue = Arc::new(Mutex::new(QueueInfo::default()));
    let keeper_wake = Arc::new(Notify::new());
    let reconnected = Arc::new(Notify::new());
    tokio::spawn(
        Keeper {
            store: store.clone(),
            client: client.clone(),
            info: queue.clone(),
            categories: catalog.categories.iter().map(|c| c.code.clone()).collect(),
            lease_size: config.queue.lease_size,
            low_water: config.queue.low_water,
            refresh: Duration::from_secs(config.queue.state_refresh_secs.max(1)),
            wake: keeper_wake.clone(),
            reconnected: reconnected.clone(),
        }
        .run(),
    );

    let session = Session {
        journey: None,
        language: match config.ui.language {
            kiosk_core::config::Language::ZhCn => Language::Zh,
            kiosk_core::config::Language::En => Language::En,
        },
        elder: config.ui.elder_mode,
        voice: config.ui.elder_mode || config.voice.always,
    };
    let voice = if options.voice {
        Voice::new(&config.voice)
    } else {
        Voice::silent()
    };
    let help_window = Text::new(&config.hall.help_window_zh, &config.hall.help_window_en);
    let (screen_tx, screen) = watch::channel(Screen::default());
    let (availability_tx, availability) = watch::channel(Availability::default());
    let (stats_tx, stats) = watch::channel(Stats::default());
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let stop = Arc::new(Notify::new());
    let sim_controls = sim.as_ref().map(SimDevices::controls);
    let store_for_handle = store.clone();
    let mut actor = Actor {
        band: identity.as_ref().map_or(UNENROLLED_BAND, |i| i.number_band),
        kiosk_id: identity.as_ref().map(|i| i.kiosk_id),
        config,
        catalog,
        store,
        client,
        uplink,
        downlink,
        queue,
        keeper_wake,
        dispenser,
        receipt,
        scanner,
        reader_health,
        voice,
        session,
        revision: 0,
        stats: Stats::default(),
        screen_tx,
        availability_tx,
        stats_tx,
        help_window,
        _sim: sim,
    };
    actor.settle_interrupted().await;
    actor.publish_availability();
    actor.publish();
    let task = tokio::spawn(actor.run(commands_rx, reader_events, stop.clone(), reconnected));
    Ok(EngineHandle {
        commands,
        screen,
        availability,
        stats,
        sim: sim_controls,
        store: store_for_handle,
        stop,
        stopped: Arc::new(tokio::sync::Mutex::new(Some(task))),
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, kiosk_core::store::StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

async fn next_card(events: &mut Option<mpsc::Receiver<ReaderEvent>>) -> Option<ReaderEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn hall_time(at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&hall_offset()).format("%H:%M").to_string()
}

impl Actor {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut cards: Option<mpsc::Receiver<ReaderEvent>>,
        stop: Arc<Notify>,
        reconnected: Arc<Notify>,
    ) {
        let mut health = tokio::time::interval(HEALTH_POLL);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut report = tokio::time::interval(Duration::from_secs(
            self.config.journeys.health_interval_secs.max(10),
        ));
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.notified() => break,
                command = commands.recv() => match command {
                    Some(command) => self.command(command).await,
                    None => break,
                },
                Some(event) = next_card(&mut cards) => self.card(event).await,
                // Central answers again: send what piled up now, not after the backoff.
                () = reconnected.notified() => {
                    if let Some(uplink) = &self.uplink {
                        uplink.nudge();
                    }
                    self.publish();
                }
                _ = health.tick() => self.refresh_health().await,
                _ = report.tick() => self.report_health().await,
            }
        }
        self.end_session();
        if let Some(uplink) = self.uplink.take() {
            uplink.stop().await;
        }
        if let Some(downlink) = self.downlink.take() {
            downlink.stop().await;
        }
    }

    fn cx_parts(&self) -> (Arc<Catalog>, Arc<Mutex<QueueInfo>>) {
        (self.catalog.clone(), self.queue.clone())
    }

    /// Feeds `input` to the journey and carries out its effects until none are left.
    async fn step(&mut self, input: Input) {
        let (catalog, queue) = self.cx_parts();
        let waiting = move |c: &str| queue.lock().ok().and_then(|q| q.waiting(c));
        let mut pending: VecDeque<Effect> = {
            let cx = self.cx(&catalog, &waiting);
            match self.session.journey.as_mut() {
                Some(journey) => journey.on(input, &cx).into(),
                None => VecDeque::new(),
            }
        };
        self.publish();
        while let Some(effect) = pending.pop_front() {
            let Some(outcome) = self.effect(effect).await else {
                self.publish();
                continue;
            };
            let cx = self.cx(&catalog, &waiting);
            if let Some(journey) = self.session.journey.as_mut() {
                pending.extend(journey.on(Input::Outcome(outcome), &cx));
            }
            self.publish();
        }
    }

    fn cx<'a>(&self, catalog: &'a Catalog, waiting: &'a dyn Fn(&str) -> Option<u32>) -> Cx<'a> {
        Cx {
            catalog,
            now: Utc::now(),
            waiting,
            help_window: self.help_window.clone(),
            checkin_early_minutes: self.config.journeys.checkin_early_minutes,
            checkin_late_minutes: self.config.journeys.checkin_late_minutes,
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Start { journey } => {
                self.end_session();
                if !self.availability_tx.borrow().allows(journey) {
                    // The fault may be over (paper loaded, cover closed): ask again now
                    // rather than at the next poll.
                    self.refresh_health().await;
                }
                if !self.availability_tx.borrow().allows(journey) {
                    tracing::info!(journey = journey.as_str(), "journey not available");
                    self.publish();
                    return;
                }
                let (catalog, queue) = self.cx_parts();
                let waiting = move |c: &str| queue.lock().ok().and_then(|q| q.waiting(c));
                let (machine, effects) = {
                    let cx = self.cx(&catalog, &waiting);
                    journeys::start(journey, &cx)
                };
                self.session.journey = Some(machine);
                self.publish();
                for effect in effects {
                    if let Some(outcome) = self.effect(effect).await {
                        self.step(Input::Outcome(outcome)).await;
                    }
                }
                self.publish();
            }
            Command::Cancel => {
                self.end_session();
                self.publish();
            }
            Command::Timeout => {
                if self.session.journey.is_some() {
                    self.stats.timeouts += 1;
                    let _ = self.stats_tx.send(self.stats);
                }
                self.end_session();
                self.publish();
            }
            Command::CallHelp => {
                let page = self
                    .session
                    .journey
                    .as_ref()
                    .map_or("home", |j| j.kind().as_str())
                    .to_owned();
                self.end_session();
                let mut help = journeys::help::Help::from_page(&page);
                let (catalog, queue) = self.cx_parts();
                let waiting = move |c: &str| queue.lock().ok().and_then(|q| q.waiting(c));
                let effects = {
                    let cx = self.cx(&catalog, &waiting);
                    help.on(Input::Command(Command::CallHelp), &cx)
                };
                self.session.journey = Some(Box::new(help));
                self.publish();
                for effect in effects {
                    if let Some(outcome) = self.effect(effect).await {
                        self.step(Input::Outcome(outcome)).await;
                    }
                }
            }
            Command::SetLanguage { language } => {
                self.session.language = language;
                self.publish();
            }
            Command::SetElderMode { on } => {
                self.session.elder = on;
                self.session.voice = on || self.config.voice.always;
                self.publish();
            }
            Command::SetVoice { on } => {
                self.session.voice = on;
                self.publish();
            }
            Command::TestTicket => self.test_ticket().await,
            other => self.step(Input::Command(other)).await,
        }
    }

    async fn card(&mut self, event: ReaderEvent) {
        let wants = self
            .session
            .journey
            .as_ref()
            .is_some_and(|j| j.wants_card());
        match event {
            ReaderEvent::CardPresented(card) if wants => {
                let holder = Holder::from_card(&card);
                drop(card);
                tracing::info!(holder = %holder.masked_name, "card read");
                self.step(Input::CardTapped(holder)).await;
            }
            ReaderEvent::Fault(fault) if wants => {
                tracing::info!(kind = ?fault.kind, "card not read");
                self.step(Input::CardUnreadable).await;
            }
            _ => {}
        }
    }

    /// Ends the session: the journey (and the holder and answers in it) is dropped, which
    /// zeroizes the card fields.
    fn end_session(&mut self) {
        self.session.journey = None;
        self.session.elder = self.config.ui.elder_mode;
        self.session.voice = self.config.ui.elder_mode || self.config.voice.always;
    }

    fn publish(&mut self) {
        let (catalog, queue) = self.cx_parts();
        let waiting = move |c: &str| queue.lock().ok().and_then(|q| q.waiting(c));
        let cx = self.cx(&catalog, &waiting);
        let (journey, page, prompt, back) = match &self.session.journey {
            Some(j) => (Some(j.kind()), j.page(&cx), j.prompt(), j.can_go_back()),
            None => (
                None,
                Page::Home,
                Text::new("欢迎使用政务服务自助终端", "Welcome"),
                false,
            ),
        };
        let online = self.queue.lock().map(|q| q.online).unwrap_or(false);
        let banner = (!online && self.client.is_some()).then(|| {
            Text::new(
                "网络中断：可正常取号，排队信息可能不是最新",
                "Offline: tickets still work; queue figures may be out of date",
            )
        });
        self.revision += 1;
        let screen = Screen {
            revision: self.revision,
            journey,
            page,
            language: self.session.language,
            elder_mode: self.session.elder,
            voice: self.session.voice && self.voice.available(),
            prompt,
            can_go_back: back,
            banner,
        };
        let spoken_changed = {
            let old = self.screen_tx.borrow();
            old.prompt != screen.prompt || old.journey != screen.journey
        };
        if self.session.voice && spoken_changed {
            self.voice
                .say(&screen.prompt, self.session.language, self.session.elder);
        }
        // Counters first: whoever sees the new page sees the counts that go with it.
        let _ = self.stats_tx.send(self.stats);
        let _ = self.screen_tx.send(screen);
    }

    // ---- effects ----------------------------------------------------------------------

    async fn effect(&mut self, effect: Effect) -> Option<Outcome> {
        match effect {
            Effect::IssueTicket(order) => Some(Outcome::Ticket(self.issue(order).await)),
            Effect::FindAppointments { holder_hash } => {
                let (list, confirmed) = self.appointments(&holder_hash).await;
                Some(Outcome::Appointments { list, confirmed })
            }
            Effect::PrintGuide { matter_id } => {
                Some(Outcome::Printed(self.print_guide(&matter_id).await))
            }
            Effect::Scan { material_id } => Some(Outcome::Scanned(self.scan(&material_id).await)),
            Effect::Submit(order) => Some(Outcome::Submitted(self.submit(*order).await)),
            Effect::PrintMissing { matter_id, missing } => {
                let printed = self.print_missing(&matter_id, &missing).await;
                self.stats.missing_lists += 1;
                Some(Outcome::Printed(printed))
            }
            Effect::FetchProgress(query) => Some(Outcome::Progress(self.progress(query).await)),
            Effect::Rate(rating) => Some(Outcome::Rated(self.rate(rating).await)),
            Effect::CallHelp { page } => {
                self.help(&page).await;
                Some(Outcome::HelpSent)
            }
            Effect::OfferRating {
                subject,
                label,
                matter_code,
            } => {
                self.session.journey = Some(Box::new(journeys::rating::Rating::for_subject(
                    subject,
                    label,
                    matter_code,
                )));
                None
            }
        }
    }

    fn notice(&self, title: Text, message: Text, window: Option<Text>) -> Notice {
        Notice {
            title,
            message,
            window: window.or_else(|| Some(self.help_window.clone())),
        }
    }

    async fn issue(&mut self, order: TicketOrder) -> Result<TicketView, Notice> {
        let now = Utc::now();
        let today = business_date_at(now);
        let category = crate::catalog::category(&self.catalog, &order.category).cloned();
        let Some(category) = category else {
            return Err(self.notice(
                Text::new("无此业务类别", "Unknown service"),
                Text::new("请到咨询台咨询", "Please ask at the information desk"),
                None,
            ));
        };
        let window = Text::same(category.windows.clone());
        let store = self.store.clone();
        let (code, hash, band) = (
            category.code.clone(),
            order.holder.as_ref().map(|h| h.holder_hash.clone()),
            self.band,
        );
        let allocation =
            blocking(move || store.allocate_ticket(&code, today, hash.as_deref(), band)).await;
        let allocation = match allocation {
            Ok(Ok(a)) => a,
            Ok(Err(NoNumber::Duplicate { ticket_no })) => {
                self.stats.duplicates_refused += 1;
                return Err(Notice {
                    title: Text::new(
                        "您今天已取过该类号",
                        "You already have a ticket for this service",
                    ),
                    message: Text::new(
                        format!("您的号码是 {ticket_no}，请留意叫号，无需重复取号"),
                        format!("Your number is {ticket_no}; please wait to be called"),
                    ),
                    window: Some(window),
                });
            }
            Ok(Err(NoNumber::Exhausted)) => {
                return Err(self.notice(
                    Text::new("今日号源已发完", "No numbers left today"),
                    Text::new(
                        "本终端今日号码已用完，请到咨询台",
                        "This kiosk has no numbers left today; please ask at the desk",
                    ),
                    None,
                ));
            }
            Err(err) => {
                tracing::error!(%err, "ticket number not taken");
                return Err(self.notice(
                    Text::new("暂时无法取号", "Tickets are not available right now"),
                    Text::new(
                        "请到咨询台取号",
                        "Please get a ticket at the information desk",
                    ),
                    None,
                ));
            }
        };
        self.keeper_wake.notify_one();

        let refresh = Duration::from_secs(self.config.queue.state_refresh_secs.max(1));
        let (ahead, per_ticket, stale_at) = {
            let info = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let ahead = info.waiting(&category.code).unwrap_or(0);
            let per = info
                .avg_service_secs(&category.code)
                .unwrap_or(category.avg_service_minutes * 60);
            let stale = info.stale(now, refresh).then(|| {
                info.fetched_at
                    .map(hall_time)
                    .unwrap_or_else(|| "--:--".into())
            });
            (ahead, per, stale)
        };
        let wait = Duration::from_secs(u64::from(ahead) * u64::from(per_ticket));
        let mut category_line = category.name_zh.clone();
        if let Some(at) = &stale_at {
            // The dispenser's ticket has no line of its own for this: it goes with the
            // category, which is printed under the hall's name.
            category_line.push_str(&format!("（离线，排队信息截至{at}）"));
        }
        let ticket = kiosk_dispenser::Ticket {
            hall: self.catalog.hall.name_zh.clone(),
            category: category_line,
            number: allocation.ticket_no.clone(),
            ahead,
            estimated_wait: wait,
            issued_at: now.with_timezone(&hall_offset()).naive_local(),
            link: format!(
                "{}{}/{}",
                self.config.journeys.queue_url, allocation.business_date, allocation.ticket_no
            ),
            // Only the masked form ever leaves the holder; the dispenser masks it again.
            holder_name: order.holder.as_ref().map(|h| h.masked_name.clone()),
            priority: order.priority != TicketPriority::Normal,
        };
        let printed = match self.dispenser.as_mut() {
            Some(d) => d.issue(&ticket).await,
            None => Err("no_dispenser".into()),
        };
        match printed {
            Ok(_) => {
                let payload = TicketIssued {
                    ticket_no: allocation.ticket_no.clone(),
                    category: allocation.category.clone(),
                    number: allocation.number,
                    business_date: allocation.business_date,
                    priority: order.priority,
                    source: allocation.source.clone(),
                    issued_at: now,
                    holder_hash: allocation.holder_hash.clone(),
                    appointment_id: order.appointment_id.clone(),
                    unconfirmed: false,
                }
                .to_payload();
                let store = self.store.clone();
                let a = allocation.clone();
                if let Err(err) = blocking(move || {
                    store.settle_ticket_with_event(
                        &a,
                        TicketFate::Issued,
                        TicketIssued::KIND,
                        &payload,
                    )
                })
                .await
                {
                    // Printed, so it counts; the number stays allocated and is settled
                    // (voided, the conservative choice) at the next start.
                    tracing::error!(%err, ticket = %allocation.ticket_no, "printed ticket not recorded");
                }
                if let Ok(mut info) = self.queue.lock() {
                    *info.issued_since.entry(category.code.clone()).or_default() += 1;
                }
                self.stats.tickets_printed += 1;
                if order.appointment_id.is_some() {
                    self.stats.checkins += 1;
                }
                tracing::info!(ticket = %allocation.ticket_no, source = %allocation.source, "ticket issued");
                Ok(TicketView {
                    ticket_no: allocation.ticket_no,
                    category: Text::new(&category.name_zh, &category.name_en),
                    window,
                    ahead,
                    wait_minutes: wait.as_secs().div_ceil(60) as u32,
                    priority: journeys::take_number::priority_label(order.priority),
                    stale_note: stale_at.map(|at| {
                        Text::new(
                            format!("网络中断，排队信息截至 {at}"),
                            format!("Offline: queue figures as of {at}"),
                        )
                    }),
                })
            }
            Err(reason) => {
                let payload = TicketVoided {
                    ticket_no: allocation.ticket_no.clone(),
                    category: allocation.category.clone(),
                    number: allocation.number,
                    business_date: allocation.business_date,
                    reason: reason.clone(),
                }
                .to_payload();
                let store = self.store.clone();
                let a = allocation.clone();
                if let Err(err) = blocking(move || {
                    store.settle_ticket_with_event(
                        &a,
                        TicketFate::Voided,
                        TicketVoided::KIND,
                        &payload,
                    )
                })
                .await
                {
                    tracing::error!(%err, "voided ticket not recorded");
                }
                self.stats.tickets_voided += 1;
                self.publish_availability();
                tracing::warn!(ticket = %allocation.ticket_no, %reason, "ticket voided");
                Err(Notice {
                    title: Text::new(
                        "出票失败，本号已作废",
                        "The ticket did not print; the number is void",
                    ),
                    message: if reason == "paper_out" {
                        Text::new(
                            "取号机缺纸，请到咨询台取号",
                            "The ticket machine is out of paper; please get a ticket at the information desk",
                        )
                    } else {
                        Text::new(
                            "取号机暂时无法出票，请到咨询台取号",
                            "The ticket machine cannot print right now; please get a ticket at the information desk",
                        )
                    },
                    window: Some(self.help_window.clone()),
                })
            }
        }
    }

    /// Numbers taken before a crash whose print was never recorded: voided, since nobody
    /// can say whether the paper came out and no citizen was told the ticket counts.
    async fn settle_interrupted(&mut self) {
        let store = self.store.clone();
        let Ok(unsettled) = blocking(move || store.unsettled_tickets()).await else {
            return;
        };
        for a in unsettled {
            let payload = TicketVoided {
                ticket_no: a.ticket_no.clone(),
                category: a.category.clone(),
                number: a.number,
                business_date: a.business_date,
                reason: "interrupted".into(),
            }
            .to_payload();
            let store = self.store.clone();
            let ticket = a.ticket_no.clone();
            match blocking(move || {
                store.settle_ticket_with_event(&a, TicketFate::Voided, TicketVoided::KIND, &payload)
            })
            .await
            {
                Ok(_) => tracing::warn!(%ticket, "number taken before a restart voided"),
                Err(err) => tracing::error!(%err, %ticket, "interrupted number not settled"),
            }
        }
    }

    async fn test_ticket(&mut self) {
        let ticket = kiosk_dispenser::Ticket {
            hall: self.catalog.hall.name_zh.clone(),
            category: "测试票 TEST".into(),
            number: "T000".into(),
            ahead: 0,
            estimated_wait: Duration::ZERO,
            issued_at: Utc::now().with_timezone(&hall_offset()).naive_local(),
            link: self.config.journeys.queue_url.clone(),
            holder_name: None,
            priority: false,
        };
        if let Some(d) = self.dispenser.as_mut() {
            let result = d.issue(&ticket).await;
            tracing::info!(ok = result.is_ok(), "technician test ticket");
        }
        self.publish_availability();
    }

    /// The holder's appointments today and whether central gave them just now.
    async fn appointments(&mut self, holder_hash: &str) -> (Vec<Appointment>, bool) {
        let today = business_date_at(Utc::now());
        let key = format!("appointments:{today}");
        if let Some(client) = &self.client
            && let Ok(list) = client.appointments(today).await
        {
            let store = self.store.clone();
            let value = serde_json::to_value(&list).unwrap_or_default();
            let k = key.clone();
            let _ = blocking(move || store.cache_put(&k, &value)).await;
            let mine = list
                .into_iter()
                .filter(|a| a.holder_hash == holder_hash)
                .collect();
            return (mine, true);
        }
        let store = self.store.clone();
        let mine = match blocking(move || store.cache_get(&key)).await {
            Ok(Some((value, _))) => serde_json::from_value::<Vec<Appointment>>(value)
                .unwrap_or_default()
                .into_iter()
                .filter(|a| a.holder_hash == holder_hash)
                .collect(),
            _ => Vec::new(),
        };
        (mine, false)
    }

    async fn print_slip(&mut self, slip: &Slip) -> bool {
        let ok = match self.receipt.as_mut() {
            Some(r) => r.slip(slip).await,
            None => false,
        };
        if !ok {
            self.publish_availability();
        }
        ok
    }

    async fn print_guide(&mut self, matter_id: &str) -> bool {
        let Some(matter) = crate::catalog::matter(&self.catalog, matter_id) else {
            return false;
        };
        let guide = crate::catalog::guide(&self.catalog, matter);
        let mut body = vec!["【申请条件】".to_owned()];
        body.extend(guide.conditions.iter().map(|c| format!("· {}", c.zh)));
        body.push("【申请材料】".into());
        body.extend(
            guide
                .materials
                .iter()
                .map(|m| format!("· {}", crate::catalog::material_print_line(m))),
        );
        body.push("【设定依据】".into());
        body.extend(guide.basis.iter().map(|b| format!("· {}", b.zh)));
        let slip = Slip {
            title: "办事指南".into(),
            subtitle: Some(guide.name.zh.clone()),
            fields: vec![
                ("承办部门".into(), guide.department.zh.clone()),
                ("法定时限".into(), guide.statutory_limit.zh.clone()),
                ("承诺时限".into(), guide.promised_limit.zh.clone()),
                ("收费标准".into(), guide.fee.zh.clone()),
                ("办理窗口".into(), guide.window.zh.clone()),
            ],
            body,
            qr: Some((
                format!("{}{}", self.config.journeys.guide_url, matter.id),
                "扫码查看完整办事指南".into(),
            )),
            footer: vec![self.catalog.hall.name_zh.clone()],
        };
        let ok = self.print_slip(&slip).await;
        if ok {
            self.stats.guide_slips += 1;
        }
        ok
    }

    async fn print_missing(
        &mut self,
        matter_id: &str,
        missing: &[crate::model::MaterialLine],
    ) -> bool {
        let name = crate::catalog::matter(&self.catalog, matter_id)
            .map(|m| m.name_zh.clone())
            .unwrap_or_default();
        let window = crate::catalog::matter(&self.catalog, matter_id)
            .map(|m| crate::catalog::windows(&self.catalog, &m.category).zh)
            .unwrap_or_default();
        let now = Utc::now().with_timezone(&hall_offset());
        let mut body = vec!["您申请的事项尚缺以下材料，请一次性补齐后再来办理：".to_owned()];
        body.extend(
            missing
                .iter()
                .enumerate()
                .map(|(i, m)| format!("{}. {}", i + 1, crate::catalog::material_print_line(m))),
        );
        let slip = Slip {
            title: "一次性告知书".into(),
            subtitle: Some(self.catalog.hall.name_zh.clone()),
            fields: vec![
                ("申请事项".into(), name),
                ("告知日期".into(), now.format("%Y-%m-%d %H:%M").to_string()),
                ("办理窗口".into(), window),
            ],
            body,
            qr: Some((
                format!("{}{}", self.config.journeys.guide_url, matter_id),
                "扫码查看完整办事指南".into(),
            )),
            footer: vec!["材料补齐后可在自助终端或窗口办理".into()],
        };
        self.print_slip(&slip).await
    }

    async fn scan(&mut self, material_id: &str) -> crate::journeys::ScanOutcome {
        let Some(scanner) = self.scanner.as_mut() else {
            return super::devices::scan_outcome(
                Vec::new(),
                None,
                Some(Text::new("扫描仪不可用", "The scanner is not available")),
            );
        };
        match scanner.scan().await {
            Ok((pages, Some((pdf, count)))) => {
                let store = self.store.clone();
                match blocking(move || store.spool_attachment(&pdf)).await {
                    Ok(id) => super::devices::scan_outcome(
                        pages,
                        Some(ScannedMaterial {
                            material_id: material_id.to_owned(),
                            sha256: id.as_str().to_owned(),
                            pages: count,
                        }),
                        None,
                    ),
                    Err(err) => {
                        tracing::error!(%err, "scan not kept");
                        super::devices::scan_outcome(
                            pages,
                            None,
                            Some(Text::new(
                                "扫描件保存失败，请重试",
                                "The scan could not be kept; try again",
                            )),
                        )
                    }
                }
            }
            Ok((pages, None)) => {
                self.stats.pages_retaken += pages.iter().filter(|p| !p.accepted).count() as u32;
                let error = Some(Text::new(
                    "有页面未通过检查，请调整后重扫",
                    "Some pages did not pass the checks; adjust and rescan",
                ));
                super::devices::scan_outcome(pages, None, error)
            }
            Err(error) => {
                self.publish_availability();
                super::devices::scan_outcome(Vec::new(), None, Some(error))
            }
        }
    }

    async fn submit(&mut self, order: ApplicationOrder) -> Result<(String, bool), Notice> {
        let now = Utc::now();
        let today = business_date_at(now);
        let store = self.store.clone();
        let counter = blocking(move || store.next_application_counter(today))
            .await
            .map_err(|err| {
                tracing::error!(%err, "application counter");
                self.notice(
                    Text::new("提交失败", "Submission failed"),
                    Text::new("请到窗口办理", "Please apply at the window"),
                    None,
                )
            })?;
        // Minimal compile fix for the 17-digit contract (helper "ui"); the journeys helper
        // owns the real numbering from the enrolment's hall code and kiosk number.
        let no = kiosk_api::numbers::HallCode::new(1)
            .and_then(|hall| Ok((hall, kiosk_api::numbers::KioskNo::new(1)?)))
            .and_then(|(hall, kiosk)| {
                kiosk_api::numbers::ApplicationNo::new(
                    hall,
                    kiosk,
                    today,
                    (counter % 9_999) as u16 + 1,
                )
            })
            .map_err(|err| {
                tracing::error!(%err, "application number");
                self.notice(
                    Text::new("提交失败", "Submission failed"),
                    Text::new("请到窗口办理", "Please apply at the window"),
                    None,
                )
            })?;
        let payload = ApplicationSubmitted {
            application_no: no,
            matter_code: order.matter_id.clone(),
            holder_hash: order.holder.holder_hash.clone(),
            holder_name_masked: order.holder.masked_name.clone(),
            form: order.form.clone(),
            materials: order
                .materials
                .iter()
                .map(|m| SubmittedMaterial {
                    material_code: m.material_id.clone(),
                    attachment_sha256: m.sha256.clone(),
                    pages: m.pages,
                })
                .collect(),
            submitted_at: now,
        };
        let attachments = order
            .materials
            .iter()
            .filter_map(|m| kiosk_core::store::AttachmentId::parse(&m.sha256))
            .collect();
        let event = NewEvent {
            stream: Stream::Records,
            kind: ApplicationSubmitted::KIND.into(),
            payload: payload.to_payload(),
            personal: true,
            attachments,
        };
        let store = self.store.clone();
        if let Err(err) = blocking(move || store.enqueue(event)).await {
            tracing::error!(%err, "application not stored");
            return Err(self.notice(
                Text::new("提交失败", "Submission failed"),
                Text::new(
                    "申请未保存，请到窗口办理",
                    "The application was not saved; please apply at the window",
                ),
                None,
            ));
        }
        self.stats.applications += 1;
        // What "where is my case" shows offline until central answers.
        let progress = ApplicationProgress {
            application_no: no,
            matter_code: order.matter_id.clone(),
            status: ApplicationStatus::Submitted,
            timeline: vec![TimelineEntry {
                at: now,
                status: ApplicationStatus::Submitted,
                note_zh: Some("已在自助终端提交".into()),
                note_en: Some("Submitted at the kiosk".into()),
            }],
        };
        self.cache_progress(Some(&order.holder.holder_hash), &[progress])
            .await;

        let matter = crate::catalog::matter(&self.catalog, &order.matter_id).cloned();
        let (name, promised, window) = match &matter {
            Some(m) => (
                m.name_zh.clone(),
                crate::catalog::guide(&self.catalog, m).promised_limit.zh,
                crate::catalog::windows(&self.catalog, &m.category).zh,
            ),
            None => Default::default(),
        };
        let slip = Slip {
            title: "受理回执".into(),
            subtitle: Some(self.catalog.hall.name_zh.clone()),
            fields: vec![
                ("申请编号".into(), no.grouped()),
                ("申请事项".into(), name),
                ("申请人".into(), order.holder.masked_name.clone()),
                (
                    "提交时间".into(),
                    now.with_timezone(&hall_offset())
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                ),
                ("承诺时限".into(), promised),
                ("咨询窗口".into(), window),
            ],
            body: order
                .materials
                .iter()
                .map(|m| format!("已扫描材料：{} {}页", m.material_id, m.pages))
                .collect(),
            qr: Some((
                format!("{}{}", self.config.journeys.progress_url, no),
                "扫码查询办理进度".into(),
            )),
            footer: vec!["请妥善保管本回执".into()],
        };
        let printed = self.print_slip(&slip).await;
        Ok((no.to_string(), printed))
    }

    async fn cache_progress(&mut self, holder: Option<&str>, list: &[ApplicationProgress]) {
        let store = self.store.clone();
        let entries: Vec<(String, serde_json::Value)> = list
            .iter()
            .map(|p| {
                (
                    format!("progress:{}", p.application_no),
                    serde_json::to_value(p).unwrap_or_default(),
                )
            })
            .collect();
        let holder_key = holder.map(|h| format!("progress_of:{h}"));
        let list = list.to_vec();
        let _ = blocking(move || {
            for (k, v) in &entries {
                store.cache_put(k, v)?;
            }
            if let Some(key) = holder_key {
                let mut known: Vec<ApplicationProgress> = store
                    .cache_get(&key)?
                    .and_then(|(v, _)| serde_json::from_value(v).ok())
                    .unwrap_or_default();
                for p in list {
                    known.retain(|k| k.application_no != p.application_no);
                    known.push(p);
                }
                store.cache_put(&key, &serde_json::to_value(&known).unwrap_or_default())?;
            }
            Ok(())
        })
        .await;
    }

    fn progress_views(&self, list: &[ApplicationProgress]) -> Vec<ProgressView> {
        let mut views: Vec<ProgressView> = list
            .iter()
            .map(|p| ProgressView {
                application_no: p.application_no.to_string(),
                matter: crate::catalog::matter(&self.catalog, &p.matter_code)
                    .map(|m| Text::new(&m.name_zh, &m.name_en))
                    .unwrap_or_else(|| Text::same(p.matter_code.clone())),
                status: Text::new(p.status.label_zh(), p.status.label_en()),
                timeline: p
                    .timeline
                    .iter()
                    .map(|t| TimelineLine {
                        at: t
                            .at
                            .with_timezone(&hall_offset())
                            .format("%Y-%m-%d %H:%M")
                            .to_string(),
                        status: Text::new(t.status.label_zh(), t.status.label_en()),
                        note: Text::new(
                            t.note_zh.clone().unwrap_or_default(),
                            t.note_en.clone().unwrap_or_default(),
                        ),
                    })
                    .collect(),
            })
            .collect();
        views.sort_by(|a, b| b.application_no.cmp(&a.application_no));
        views
    }

    async fn progress(
        &mut self,
        query: ProgressQuery,
    ) -> Result<(Vec<ProgressView>, Option<Text>), Notice> {
        let missing = Notice {
            title: Text::new("未查到办理记录", "No application found"),
            message: Text::new(
                "请核对申请编号；在窗口办理的业务请到窗口查询",
                "Check the number; applications made at a window are answered there",
            ),
            window: Some(self.help_window.clone()),
        };
        if let Some(client) = self.client.clone() {
            let answer = match &query {
                // `None`: central does not know it; a kiosk submission not yet sent is in
                // the cache.
                ProgressQuery::Number(no) => client
                    .application_progress(no)
                    .await
                    .map(|p| p.into_iter().collect::<Vec<_>>()),
                ProgressQuery::Holder(hash) => client.applications_by_holder(hash).await,
            };
            match answer {
                Ok(list) if !list.is_empty() => {
                    let holder = match &query {
                        ProgressQuery::Holder(h) => Some(h.clone()),
                        ProgressQuery::Number(_) => None,
                    };
                    self.cache_progress(holder.as_deref(), &list).await;
                    self.stats.progress_lookups += 1;
                    return Ok((self.progress_views(&list), None));
                }
                // Central does not know it; a kiosk submission not yet sent is in the cache.
                Ok(_) => tracing::debug!("progress not on central"),
                Err(err) => tracing::debug!(%err, "progress from the cache"),
            }
        }
        let key = match &query {
            ProgressQuery::Number(no) => format!("progress:{no}"),
            ProgressQuery::Holder(h) => format!("progress_of:{h}"),
        };
        let store = self.store.clone();
        let cached = blocking(move || store.cache_get(&key)).await.ok().flatten();
        let Some((value, at)) = cached else {
            return Err(missing.clone());
        };
        let list: Vec<ApplicationProgress> = match &query {
            ProgressQuery::Number(_) => serde_json::from_value(value)
                .map(|p| vec![p])
                .unwrap_or_default(),
            ProgressQuery::Holder(_) => serde_json::from_value(value).unwrap_or_default(),
        };
        if list.is_empty() {
            return Err(missing.clone());
        }
        self.stats.progress_lookups += 1;
        let at = chrono::DateTime::from_timestamp_millis(at)
            .map(|t| {
                t.with_timezone(&hall_offset())
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default();
        Ok((
            self.progress_views(&list),
            Some(Text::new(
                format!("截至 {at} 的信息（网络中断）"),
                format!("As of {at} (offline)"),
            )),
        ))
    }

    async fn rate(&mut self, rating: kiosk_api::citizen::RatingGiven) -> Result<(), Notice> {
        let store = self.store.clone();
        let subject = rating.subject.clone();
        let payload = rating.to_payload();
        match blocking(move || {
            store.record_rating(&subject, kiosk_api::citizen::RatingGiven::KIND, &payload)
        })
        .await
        {
            Ok(true) => {
                self.stats.ratings += 1;
                Ok(())
            }
            Ok(false) => Err(Notice {
                title: Text::new("该服务已评价过", "Already rated"),
                message: Text::new(
                    "每项服务只能评价一次，感谢您的参与",
                    "Each service can be rated once; thank you",
                ),
                window: None,
            }),
            Err(err) => {
                tracing::error!(%err, "rating not stored");
                Err(self.notice(
                    Text::new("评价未能保存", "The rating was not saved"),
                    Text::new("请稍后再试", "Please try again later"),
                    None,
                ))
            }
        }
    }

    async fn help(&mut self, page: &str) {
        let payload = HelpRequested {
            page: page.to_owned(),
            language: match self.session.language {
                Language::Zh => "zh".into(),
                Language::En => "en".into(),
            },
            at: Utc::now(),
        }
        .to_payload();
        let store = self.store.clone();
        let event = NewEvent {
            stream: Stream::Help,
            kind: HelpRequested::KIND.into(),
            payload,
            personal: false,
            attachments: Vec::new(),
        };
        match blocking(move || store.enqueue(event)).await {
            Ok(_) => {
                self.stats.help_requests += 1;
                if let Some(u) = &self.uplink {
                    u.nudge();
                }
            }
            Err(err) => tracing::error!(%err, "help request not queued"),
        }
    }

    // ---- health and availability ------------------------------------------------------

    async fn refresh_health(&mut self) {
        // A session in progress owns the printers; ask them between sessions.
        if self.session.journey.is_none() {
            if let Some(d) = self.dispenser.as_mut() {
                d.refresh().await;
            }
            if let Some(r) = self.receipt.as_mut() {
                r.refresh().await;
            }
            if let Some(s) = self.scanner.as_mut() {
                s.refresh().await;
            }
        }
        self.publish_availability();
    }

    fn healths(&self) -> Vec<DeviceHealth> {
        let mut all = Vec::new();
        if let Some(r) = &self.reader_health {
            all.push(r.borrow().clone());
        }
        if let Some(d) = &self.dispenser {
            all.push(d.health.clone());
        }
        if let Some(r) = &self.receipt {
            all.push(r.health.clone());
        }
        if let Some(s) = &self.scanner {
            all.push(s.health.clone());
        }
        all
    }

    fn usable(&self, kind: DeviceKind) -> bool {
        self.healths()
            .iter()
            .any(|h| h.kind == kind && h.state.is_usable())
    }

    fn publish_availability(&mut self) {
        let store = self.store.clone();
        let accepting = store
            .capacity()
            .map(|c| c.accepting_records)
            .unwrap_or(true);
        let availability = availability(
            &self.healths(),
            accepting,
            self.queue.lock().map(|q| q.online).unwrap_or(false),
            &self.help_window,
        );
        let _ = self.usable(DeviceKind::Dispenser);
        self.availability_tx.send_if_modified(|old| {
            if *old != availability {
                *old = availability;
                true
            } else {
                false
            }
        });
    }

    async fn report_health(&mut self) {
        let devices = self
            .healths()
            .into_iter()
            .map(|h| {
                let (state, detail) = match &h.state {
                    HealthState::Ready => (DeviceState::Ready, String::new()),
                    HealthState::Degraded(d) => (DeviceState::Degraded, d.clone()),
                    HealthState::Fault(d) => (DeviceState::Fault, d.clone()),
                    HealthState::Absent => (DeviceState::Absent, h.location.clone()),
                };
                DeviceReport {
                    kind: serde_json::to_value(h.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    state,
                    detail,
                }
            })
            .collect();
        let store = self.store.clone();
        let dir: PathBuf = self.config.kiosk.data_dir.clone();
        let session_active = self.session.journey.is_some();
        let result = blocking(move || {
            let report = HealthReport {
                version: env!("CARGO_PKG_VERSION").into(),
                devices,
                backlog: store.backlog()?,
                disk_free_bytes: disk_free(&dir),
                session_active,
                quarantined: 0,
                quarantine: Vec::new(),
            };
            store.enqueue(NewEvent {
                stream: Stream::Health,
                kind: kiosk_api::fleet::KIND_HEALTH_REPORT.into(),
                payload: serde_json::to_value(&report)?,
                personal: false,
                attachments: Vec::new(),
            })
        })
        .await;
        if let Err(err) = result {
            tracing::warn!(%err, "health report not queued");
        }
    }
}

fn disk_free(dir: &Path) -> u64 {
    nix::sys::statvfs::statvfs(dir)
        .map(|s| s.blocks_available() * s.fragment_size())
        .unwrap_or(0)
}

/// Which journeys can run with these devices and this disk, and what a citizen is told
/// about the others.
pub fn availability(
    healths: &[DeviceHealth],
    accepting_records: bool,
    online: bool,
    help_window: &Text,
) -> Availability {
    let usable = |kind: DeviceKind| {
        healths
            .iter()
            .any(|h| h.kind == kind && h.state.is_usable())
    };
    let tiles = JourneyKind::ALL
        .into_iter()
        .map(|journey| {
            let (needs, records): (&[DeviceKind], bool) = match journey {
                JourneyKind::TakeNumber => (&[DeviceKind::Dispenser], true),
                JourneyKind::CheckIn => (&[DeviceKind::IdCardReader, DeviceKind::Dispenser], true),
                JourneyKind::Guide => (&[], false),
                JourneyKind::Apply => (
                    &[
                        DeviceKind::IdCardReader,
                        DeviceKind::Scanner,
                        DeviceKind::Printer,
                    ],
                    true,
                ),
                JourneyKind::Progress => (&[], false),
                JourneyKind::Rate => (&[], true),
                JourneyKind::Help => (&[], false),
            };
            let missing = needs.iter().find(|k| !usable(**k));
            let reason = match (missing, records && !accepting_records) {
                (Some(kind), _) => Some(device_reason(*kind, help_window)),
                (None, true) => Some(Text::new(
                    format!("本终端存储空间不足，暂停此项服务，请到{}", help_window.zh),
                    format!(
                        "This kiosk is short of storage; please go to {}",
                        help_window.en
                    ),
                )),
                (None, false) => None,
            };
            Tile {
                journey,
                title: journey.title(),
                enabled: reason.is_none(),
                reason,
            }
        })
        .collect();
    Availability {
        tiles,
        devices: healths
            .iter()
            .map(|h| DeviceStatus {
                kind: serde_json::to_value(h.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                usable: h.state.is_usable(),
                detail: match &h.state {
                    HealthState::Ready => String::new(),
                    HealthState::Degraded(d) | HealthState::Fault(d) => d.clone(),
                    HealthState::Absent => format!("absent: {}", h.location),
                },
            })
            .collect(),
        online,
        accepting_records,
    }
}

fn device_reason(kind: DeviceKind, window: &Text) -> Text {
    let (zh, en) = match kind {
        DeviceKind::IdCardReader => ("身份证阅读器故障", "The ID-card reader is out of order"),
        DeviceKind::Dispenser => ("取号机暂停出票", "The ticket printer is out of order"),
        DeviceKind::Printer => ("打印机故障", "The printer is out of order"),
        DeviceKind::Scanner => ("扫描仪故障", "The scanner is out of order"),
        DeviceKind::NumberDisplay => ("显示屏故障", "The display is out of order"),
    };
    Text::new(
        format!("{zh}，请到{}办理", window.zh),
        format!("{en}; please go to {}", window.en),
    )
}
