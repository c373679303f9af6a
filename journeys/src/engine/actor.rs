//! The engine's actor: one task owning the session, the devices and the store handle.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_api::Stream;
use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{
    ApplicationProgress, ApplicationStatus, ApplicationSubmitted, Appointment, CitizenEvent,
    HelpRequested, HolderKey, HolderKeys, SubmittedMaterial, TicketIssued, TicketPriority,
    TicketVoided, TimelineEntry, business_date_at, hall_offset,
};
use kiosk_api::fleet::{DeviceReport, DeviceState, HealthReport};
use kiosk_api::{ApplicationNo, HallCode, KioskNo, NumberBand};
use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kiosk_core::store::{
    NewEvent, NoNumber, Store, StoreError, StoreKey, StoreOptions, TicketAllocation, TicketFate,
};
use kiosk_core::sync::{Downlink, DownlinkHandle, Timeouts, Uplink, UplinkHandle};
use kiosk_dispenser::Slip;
use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};
use kiosk_idcard::ReaderEvent;
use tokio::sync::{Notify, mpsc, watch};
use uuid::Uuid;

use super::devices::{PrintFailure, PrinterSlot, ScannerSlot, spawn_reader};
use super::queue::{Keeper, QueueInfo};
use super::{EngineError, EngineHandle, EngineOptions, Stats};
use crate::clock::Clock;
use crate::holder::Holder;
use crate::journeys::{
    self, ApplicationOrder, Cx, Effect, HelpProgress, Input, Journey, Notice, Outcome,
    ProgressQuery, ScannedMaterial, TicketOrder,
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

/// How often device health is asked (and tickets whose record failed are recorded again).
const HEALTH_POLL: Duration = Duration::from_secs(10);

/// How often central is asked about a help request while the help page is shown.
const HELP_POLL: Duration = Duration::from_secs(2);

/// The digits that make this kiosk's application numbers its own: the hall's code and the
/// kiosk's number in the hall, from the enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Numbering {
    hall: HallCode,
    kiosk: KioskNo,
}

impl Numbering {
    /// An enrolled kiosk's, from its identity.
    fn of(identity: &Identity) -> Numbering {
        Numbering {
            hall: identity.hall_code,
            kiosk: identity.kiosk_no,
        }
    }

    /// A simulated kiosk that was never enrolled has no hall code from central. It numbers
    /// in hall 9999 (central hands out hall codes from 1 up, one per hall) as the kiosk
    /// number the simulate profile's `kiosk.id` ends in (`SIM-0001` is 1). Such a kiosk has no
    /// uplink; should its data folder ever be enrolled, central refuses these numbers as
    /// not the kiosk's (`number_not_yours`) and the kiosk quarantines them, visibly.
    fn simulated(config: &Config) -> Option<Numbering> {
        let digits: String = config
            .kiosk
            .id
            .as_deref()
            .unwrap_or_default()
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let no = digits.parse::<u32>().unwrap_or(1) % 100;
        Some(Numbering {
            hall: HallCode::new(HallCode::MAX).ok()?,
            kiosk: KioskNo::new(no.max(1) as u8).ok()?,
        })
    }
}

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
    /// `None`: an unenrolled kiosk outside simulate mode cannot number applications.
    numbering: Option<Numbering>,
    clock: Arc<dyn Clock>,
    /// The holder keys cards are hashed with (`None`: never fetched; nothing can be looked
    /// up by card). The queue keeper refreshes them.
    keys: Arc<Mutex<Option<HolderKeys>>>,
    /// Polls central for the help request on screen; aborted when the page goes.
    help_poll: Option<(Uuid, tokio::task::JoinHandle<()>)>,
    help_tx: mpsc::UnboundedSender<(Uuid, HelpProgress)>,
    /// Printed tickets whose record could not be written (disk full): written again at
    /// every health poll until it works (their print intent covers a restart meanwhile).
    unrecorded: Vec<(TicketAllocation, serde_json::Value)>,
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
        let store_options = StoreOptions {
            budget: config.kiosk.disk_budget.budget(),
            ..StoreOptions::default()
        };
        tokio::task::spawn_blocking(move || {
            let key = StoreKey::load_or_create(&dir.join("store.key"))?;
            Store::open(&dir, key, store_options)
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

    let clock = options.clock.clone();
    let keys = Arc::new(Mutex::new(
        load_holder_keys(&store, identity.is_none() && options.simulate).await,
    ));
    let numbering = match &identity {
        Some(identity) => Some(Numbering::of(identity)),
        None if options.simulate => Numbering::simulated(&config),
        None => None,
    };
    let queue = Arc::new(Mutex::new(QueueInfo::default()));
    let keeper_wake = Arc::new(Notify::new());
    let reconnected = Arc::new(Notify::new());
    tokio::spawn(
        Keeper {
            store: store.clone(),
            client: client.clone(),
            clock: clock.clone(),
            keys: keys.clone(),
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
    let (help_tx, help_rx) = mpsc::unbounded_channel();
    let mut actor = Actor {
        band: identity.as_ref().map_or(UNENROLLED_BAND, |i| i.number_band),
        numbering,
        clock,
        keys,
        help_poll: None,
        help_tx,
        unrecorded: Vec::new(),
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
    let task = tokio::spawn(actor.run(
        commands_rx,
        reader_events,
        help_rx,
        stop.clone(),
        reconnected,
    ));
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

/// The holder keys kept in the store. A simulated kiosk that was never enrolled has no
/// central to give it keys: it makes one of its own (random, kept sealed like central's),
/// which a later enrolment replaces with central's at the first fetch.
async fn load_holder_keys(store: &Store, local_key: bool) -> Option<HolderKeys> {
    let s = store.clone();
    let kept = match tokio::task::spawn_blocking(move || s.holder_keys()).await {
        Ok(Ok(keys)) => keys.filter(|k| !k.keys.is_empty()),
        Ok(Err(err)) => {
            tracing::warn!(%err, "holder keys unreadable; lookups by card are off until central gives them again");
            None
        }
        Err(_) => None,
    };
    if kept.is_some() || !local_key {
        return kept;
    }
    let keys = HolderKeys {
        keys: vec![HolderKey::generate("local-simulated")],
    };
    let s = store.clone();
    let saved = keys.clone();
    if let Ok(Err(err)) = tokio::task::spawn_blocking(move || s.save_holder_keys(&saved)).await {
        tracing::warn!(%err, "simulated holder key not kept; it lasts until restart");
    }
    Some(keys)
}

/// Why a store call failed, kept typed so that a full disk is told apart.
#[derive(Debug)]
enum Failed {
    /// The store said no.
    Store(StoreError),
    /// The blocking task did not finish (the runtime is stopping).
    Task(String),
}

impl Failed {
    fn disk_full(&self) -> bool {
        match self {
            Failed::Store(e) => e.is_disk_full(),
            Failed::Task(_) => false,
        }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Store(e) => e.fmt(f),
            Failed::Task(e) => f.write_str(e),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Failed> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failed::Store(e)),
        Err(e) => Err(Failed::Task(e.to_string())),
    }
}

/// "as of" for a time shown beside figures of `today`: the time alone on the same business
/// day, with the date otherwise, so yesterday's 16:40 never reads as today's.
pub(super) fn as_of(at: DateTime<Utc>, today: NaiveDate) -> (String, String) {
    let local = at.with_timezone(&hall_offset());
    if business_date_at(at) == today {
        let t = local.format("%H:%M").to_string();
        (t.clone(), t)
    } else {
        (
            local.format("%Y年%-m月%-d日 %H:%M").to_string(),
            local.format("%Y-%m-%d %H:%M").to_string(),
        )
    }
}

async fn next_card(events: &mut Option<mpsc::Receiver<ReaderEvent>>) -> Option<ReaderEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Actor {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut cards: Option<mpsc::Receiver<ReaderEvent>>,
        mut help_updates: mpsc::UnboundedReceiver<(Uuid, HelpProgress)>,
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
                Some((event_id, progress)) = help_updates.recv() => {
                    self.step(Input::Outcome(Outcome::Help { event_id, progress })).await;
                }
                // Central answers again: send what piled up now, not after the backoff.
                () = reconnected.notified() => {
                    if let Some(uplink) = &self.uplink {
                        uplink.nudge();
                    }
                    self.publish();
                }
                _ = health.tick() => {
                    self.record_unrecorded().await;
                    self.refresh_health().await;
                }
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

    /// The catalog and a "people waiting" lookup for today, for a [`Cx`].
    fn cx_parts(&self) -> (Arc<Catalog>, impl Fn(&str) -> Option<u32> + use<>) {
        let queue = self.queue.clone();
        let today = business_date_at(self.clock.now());
        let waiting = move |c: &str| queue.lock().ok().and_then(|q| q.waiting(c, today));
        (self.catalog.clone(), waiting)
    }

    /// Feeds `input` to the journey and carries out its effects until none are left.
    async fn step(&mut self, input: Input) {
        let (catalog, waiting) = self.cx_parts();
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
            now: self.clock.now(),
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
                if records(journey) {
                    // The disk may have filled since the last poll: a journey that would
                    // create a record is closed before it starts, not in its last step.
                    self.publish_availability();
                }
                if !self.availability_tx.borrow().allows(journey) {
                    tracing::info!(journey = journey.as_str(), "journey not available");
                    let reason = self
                        .availability_tx
                        .borrow()
                        .tiles
                        .iter()
                        .find(|t| t.journey == journey)
                        .and_then(|t| t.reason.clone())
                        .unwrap_or_else(|| {
                            Text::new(
                                format!("此项服务暂停，请到{}", self.help_window.zh),
                                format!(
                                    "This service is paused; please go to {}",
                                    self.help_window.en
                                ),
                            )
                        });
                    self.session.journey = Some(Box::new(journeys::Unavailable::new(
                        journey,
                        Notice {
                            title: Text::new("此项服务暂停", "This service is paused"),
                            message: reason,
                            window: Some(self.help_window.clone()),
                        },
                    )));
                    self.publish();
                    return;
                }
                let (catalog, waiting) = self.cx_parts();
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
                let (catalog, waiting) = self.cx_parts();
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
                let holder = {
                    let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
                    Holder::from_card(&card, keys.as_ref())
                };
                // The card's fields are wiped as it is dropped (`IdCard` is ZeroizeOnDrop).
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
    /// zeroizes the card fields and the form's answers.
    fn end_session(&mut self) {
        self.session.journey = None;
        self.follow_help();
        self.session.elder = self.config.ui.elder_mode;
        self.session.voice = self.config.ui.elder_mode || self.config.voice.always;
    }

    /// Polls central for the help request the journey on screen follows, and stops polling
    /// when there is none (another page, the session ended, staff acknowledged).
    fn follow_help(&mut self) {
        let wanted = self
            .session
            .journey
            .as_ref()
            .and_then(|j| j.followed_help());
        if self.help_poll.as_ref().map(|(id, _)| *id) == wanted {
            return;
        }
        if let Some((_, task)) = self.help_poll.take() {
            task.abort();
        }
        let Some(event_id) = wanted else {
            return;
        };
        let client = self.client.clone();
        let updates = self.help_tx.clone();
        let task = tokio::spawn(async move {
            let Some(client) = client else {
                // Never enrolled: nobody can receive it, and the page already says so.
                return;
            };
            loop {
                let progress = match client.help_status(event_id).await {
                    Ok(Some(status)) if status.acknowledged_at.is_some() => {
                        HelpProgress::OnTheWay {
                            by: status.acknowledged_by,
                        }
                    }
                    Ok(Some(_)) => HelpProgress::Received,
                    Ok(None) => HelpProgress::Queued,
                    Err(err) => {
                        tracing::debug!(%err, "help status not fetched");
                        HelpProgress::Queued
                    }
                };
                let done = matches!(progress, HelpProgress::OnTheWay { .. });
                if updates.send((event_id, progress)).is_err() || done {
                    return;
                }
                tokio::time::sleep(HELP_POLL).await;
            }
        });
        self.help_poll = Some((event_id, task));
    }

    fn publish(&mut self) {
        self.follow_help();
        let (catalog, waiting) = self.cx_parts();
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
            Effect::FindAppointments { holder_hashes } => {
                let (list, confirmed) = self.appointments(&holder_hashes).await;
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
            Effect::CallHelp { page } => Some(Outcome::HelpSent(self.help(&page).await)),
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
        let now = self.clock.now();
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
        let (code, hashes, band) = (
            category.code.clone(),
            order
                .holder
                .as_ref()
                .map(|h| h.lookup_hashes().to_vec())
                .unwrap_or_default(),
            self.band,
        );
        let allocation = blocking(move || store.allocate_ticket(&code, today, &hashes, band)).await;
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
                return Err(self.store_failed(
                    &err,
                    Text::new("暂时无法取号", "Tickets are not available right now"),
                    Text::new("取号", "get a ticket"),
                ));
            }
        };
        self.keeper_wake.notify_one();

        let refresh = Duration::from_secs(self.config.queue.state_refresh_secs.max(1));
        let (ahead, per_ticket, stale) = {
            let info = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let figures = info.has_figures(today);
            let ahead = info
                .waiting(&category.code, today)
                .unwrap_or_else(|| info.own_since(&category.code, today));
            let per = info
                .avg_service_secs(&category.code, today)
                .unwrap_or(category.avg_service_minutes * 60);
            let stale = if !figures {
                Some(None)
            } else if info.stale(now, refresh) {
                Some(info.fetched_at.map(|at| as_of(at, today)))
            } else {
                None
            };
            (ahead, per, stale)
        };
        let wait = Duration::from_secs(u64::from(ahead) * u64::from(per_ticket));
        let stale_note = stale.as_ref().map(|at| match at {
            Some((zh, en)) => Text::new(
                format!("网络中断，排队信息截至 {zh}"),
                format!("Offline: queue figures as of {en}"),
            ),
            None => Text::new(
                "暂无今日排队信息，等候人数仅含本机所出号票",
                "No queue figures for today yet: the count covers this kiosk's tickets only",
            ),
        });
        let mut category_line = category.name_zh.clone();
        if let Some(at) = &stale {
            // The dispenser's ticket has no line of its own for this: it goes with the
            // category, which is printed under the hall's name.
            match at {
                Some((zh, _)) => category_line.push_str(&format!("（离线，排队信息截至{zh}）")),
                None => category_line.push_str("（暂无今日排队信息，人数仅含本机）"),
            }
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
        let issued = TicketIssued {
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
        };
        // Written down before the printer gets the ticket: a crash from here on leaves a
        // number that may be in the citizen's hand, and the next start keeps it callable.
        let store = self.store.clone();
        let (a, intent) = (allocation.clone(), issued.to_payload());
        if let Err(err) = blocking(move || store.record_print_intent(&a, &intent)).await {
            tracing::error!(%err, ticket = %allocation.ticket_no, "print intent not recorded; not printing");
            // The number stays taken and unprinted: voided at the next health poll or start.
            self.publish_availability();
            return Err(self.store_failed(
                &err,
                Text::new("暂时无法取号", "Tickets are not available right now"),
                Text::new("取号", "get a ticket"),
            ));
        }
        let printed = match self.dispenser.as_mut() {
            Some(d) => d.issue(&ticket).await,
            None => Err(PrintFailure {
                reason: "no_dispenser".into(),
                maybe_printed: false,
            }),
        };
        let view = TicketView {
            ticket_no: allocation.ticket_no.clone(),
            category: Text::new(&category.name_zh, &category.name_en),
            window: window.clone(),
            ahead,
            wait_minutes: wait.as_secs().div_ceil(60) as u32,
            priority: journeys::take_number::priority_label(order.priority),
            stale_note,
        };
        match printed {
            Ok(_) => {
                self.record_issued(&allocation, issued.to_payload()).await;
                if let Ok(mut info) = self.queue.lock() {
                    info.count_issued(&category.code, allocation.business_date);
                }
                self.stats.tickets_printed += 1;
                if order.appointment_id.is_some() {
                    self.stats.checkins += 1;
                }
                tracing::info!(ticket = %allocation.ticket_no, source = %allocation.source, "ticket issued");
                Ok(view)
            }
            Err(PrintFailure {
                reason,
                maybe_printed: true,
            }) => {
                // The ticket went to the printer and something failed on the way out: a
                // ticket may be in the citizen's hand, so the number stays callable and
                // staff see it marked.
                let payload = TicketIssued {
                    unconfirmed: true,
                    ..issued
                }
                .to_payload();
                self.record_issued(&allocation, payload).await;
                if let Ok(mut info) = self.queue.lock() {
                    info.count_issued(&category.code, allocation.business_date);
                }
                self.stats.tickets_unconfirmed += 1;
                self.publish_availability();
                tracing::warn!(ticket = %allocation.ticket_no, %reason, "ticket may not have printed whole; kept callable, unconfirmed");
                let no = &allocation.ticket_no;
                Err(Notice {
                    title: Text::new("出票可能不完整", "The ticket may not have printed properly"),
                    message: Text::new(
                        format!(
                            "如已出票，请保留，{no}号有效，请留意叫号；如未出票，请到{}",
                            self.help_window.zh
                        ),
                        format!(
                            "If a ticket came out, keep it: number {no} will be called. If not, please go to {}",
                            self.help_window.en
                        ),
                    ),
                    window: Some(self.help_window.clone()),
                })
            }
            Err(PrintFailure { reason, .. }) => {
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
                    // Still allocated with its intent: the next start keeps it callable,
                    // unconfirmed, which costs staff one call of an absent number at most.
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

    /// Records a printed ticket and its `ticket_issued` event (one transaction, removing its
    /// print intent). If the store refuses (disk full), the ticket is in the citizen's hand
    /// all the same: it is recorded again at every health poll, and its intent covers a
    /// restart meanwhile.
    async fn record_issued(&mut self, allocation: &TicketAllocation, payload: serde_json::Value) {
        let store = self.store.clone();
        let (a, p) = (allocation.clone(), payload.clone());
        if let Err(err) = blocking(move || {
            store.settle_ticket_with_event(&a, TicketFate::Issued, TicketIssued::KIND, &p)
        })
        .await
        {
            tracing::error!(%err, ticket = %allocation.ticket_no, "printed ticket not recorded yet; retrying");
            self.unrecorded.push((allocation.clone(), payload));
        }
    }

    /// Retries the records of printed tickets the store refused, and settles numbers taken
    /// whose print never started (their intent could not be written).
    async fn record_unrecorded(&mut self) {
        for (allocation, payload) in std::mem::take(&mut self.unrecorded) {
            self.record_issued(&allocation, payload).await;
        }
        if self.session.journey.is_none() {
            self.settle_interrupted().await;
        }
    }

    /// A store failure in the middle of a step, for the citizen: nothing of the step was
    /// written, and where to go instead (`to_do` is what they came for, "取号").
    fn store_failed(&mut self, err: &Failed, title: Text, to_do: Text) -> Notice {
        let window = self.help_window.clone();
        if err.disk_full() {
            self.publish_availability();
            Notice {
                title,
                message: Text::new(
                    format!(
                        "本终端存储空间已满，未能保存，请到{}{}",
                        window.zh, to_do.zh
                    ),
                    format!(
                        "This kiosk's storage is full and nothing was saved; please go to {} to {}",
                        window.en, to_do.en
                    ),
                ),
                window: Some(window),
            }
        } else {
            Notice {
                title,
                message: Text::new(
                    format!("请到{}{}", window.zh, to_do.zh),
                    format!("Please go to {} to {}", window.en, to_do.en),
                ),
                window: Some(window),
            }
        }
    }

    /// Numbers taken before a crash (or a refused write) whose fate was never recorded. One
    /// whose print was started (it has a print intent) may be in a citizen's hand: it is
    /// recorded as issued and `unconfirmed`, so it stays callable and staff see it marked.
    /// One that never reached the printer is voided (`interrupted`).
    async fn settle_interrupted(&mut self) {
        let store = self.store.clone();
        let Ok(unsettled) = blocking(move || store.unsettled_tickets()).await else {
            return;
        };
        for a in unsettled {
            if self
                .unrecorded
                .iter()
                .any(|(u, _)| u.business_date == a.business_date && u.ticket_no == a.ticket_no)
            {
                continue;
            }
            let store = self.store.clone();
            let lookup = a.clone();
            let intent = blocking(move || store.print_intent(&lookup))
                .await
                .ok()
                .flatten();
            let unconfirmed = intent.and_then(|v| {
                let mut issued: TicketIssued = serde_json::from_value(v).ok()?;
                issued.unconfirmed = true;
                Some(issued)
            });
            let ticket = a.ticket_no.clone();
            let store = self.store.clone();
            let result = match unconfirmed {
                Some(issued) => {
                    let payload = issued.to_payload();
                    blocking(move || {
                        store.settle_ticket_with_event(
                            &a,
                            TicketFate::Issued,
                            TicketIssued::KIND,
                            &payload,
                        )
                    })
                    .await
                    .map(|_| true)
                }
                None => {
                    let payload = TicketVoided {
                        ticket_no: a.ticket_no.clone(),
                        category: a.category.clone(),
                        number: a.number,
                        business_date: a.business_date,
                        reason: "interrupted".into(),
                    }
                    .to_payload();
                    blocking(move || {
                        store.settle_ticket_with_event(
                            &a,
                            TicketFate::Voided,
                            TicketVoided::KIND,
                            &payload,
                        )
                    })
                    .await
                    .map(|_| false)
                }
            };
            match result {
                Ok(true) => {
                    self.stats.tickets_unconfirmed += 1;
                    tracing::warn!(%ticket, "ticket printing when the kiosk stopped: kept callable, marked unconfirmed");
                }
                Ok(false) => tracing::warn!(%ticket, "number taken but never printed: voided"),
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
            issued_at: self.clock.now().with_timezone(&hall_offset()).naive_local(),
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
    async fn appointments(&mut self, holder_hashes: &[String]) -> (Vec<Appointment>, bool) {
        let today = business_date_at(self.clock.now());
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
                .filter(|a| holder_hashes.contains(&a.holder_hash))
                .collect();
            return (mine, true);
        }
        let store = self.store.clone();
        let mine = match blocking(move || store.cache_get(&key)).await {
            Ok(Some((value, _))) => serde_json::from_value::<Vec<Appointment>>(value)
                .unwrap_or_default()
                .into_iter()
                .filter(|a| holder_hashes.contains(&a.holder_hash))
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
        let now = self.clock.now().with_timezone(&hall_offset());
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
                        let error = if err.disk_full() {
                            self.publish_availability();
                            Text::new(
                                format!(
                                    "本终端存储空间已满，无法保存扫描件，请到{}办理",
                                    self.help_window.zh
                                ),
                                format!(
                                    "This kiosk's storage is full and the scan could not be kept; please go to {}",
                                    self.help_window.en
                                ),
                            )
                        } else {
                            Text::new(
                                "扫描件保存失败，请重试",
                                "The scan could not be kept; try again",
                            )
                        };
                        super::devices::scan_outcome(pages, None, Some(error))
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

    async fn submit(
        &mut self,
        mut order: ApplicationOrder,
    ) -> Result<(ApplicationNo, bool), Notice> {
        let now = self.clock.now();
        let today = business_date_at(now);
        let failed = |this: &mut Self, err: Option<&Failed>| match err {
            Some(err) => this.store_failed(
                err,
                Text::new("提交失败", "Submission failed"),
                Text::new("办理", "apply"),
            ),
            None => this.notice(
                Text::new("提交失败", "Submission failed"),
                Text::new(
                    "本终端暂时无法受理申报，请到窗口办理",
                    "This kiosk cannot take applications right now; please apply at the window",
                ),
                None,
            ),
        };
        let (Some(numbering), Some(holder_hash)) = (
            self.numbering,
            order.holder.holder_hash().map(str::to_owned),
        ) else {
            tracing::error!("application refused: no hall code or no holder key");
            return Err(failed(self, None));
        };
        let store = self.store.clone();
        let counter = match blocking(move || store.next_application_counter(today)).await {
            Ok(counter) => counter,
            Err(err) => {
                tracing::error!(%err, "application counter");
                return Err(failed(self, Some(&err)));
            }
        };
        // Never wrap the daily sequence: a number given twice is the one defect this
        // numbering exists to rule out.
        let no = match u16::try_from(counter)
            .ok()
            .and_then(|seq| ApplicationNo::new(numbering.hall, numbering.kiosk, today, seq).ok())
        {
            Some(no) => no,
            None => {
                tracing::error!(counter, "the day's application numbers are used up");
                return Err(self.notice(
                    Text::new("今日自助申报已满", "No more applications here today"),
                    Text::new(
                        "本终端今日申报编号已用完，请到窗口办理",
                        "This kiosk has used all of today's application numbers; please apply at the window",
                    ),
                    None,
                ));
            }
        };
        let payload = ApplicationSubmitted {
            application_no: no,
            matter_code: order.matter_id.clone(),
            holder_hash: holder_hash.clone(),
            holder_name_masked: order.holder.masked_name.clone(),
            // Taken, not copied: the event is the one copy, wiped once it is sealed.
            form: std::mem::take(&mut order.form),
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
            // One transaction: nothing of the application was written.
            tracing::error!(%err, "application not stored");
            return Err(failed(self, Some(&err)));
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
        self.cache_progress(Some(&holder_hash), &[progress]).await;

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
        Ok((no, printed))
    }

    async fn cache_progress(&mut self, holder: Option<&str>, list: &[ApplicationProgress]) {
        let fetched_ms = self.clock.now().timestamp_millis();
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
                store.cache_put_at(k, v, fetched_ms)?;
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
                store.cache_put_at(
                    &key,
                    &serde_json::to_value(&known).unwrap_or_default(),
                    fetched_ms,
                )?;
            }
            Ok(())
        })
        .await;
    }

    fn progress_views(&self, list: &[ApplicationProgress]) -> Vec<ProgressView> {
        let mut list = list.to_vec();
        // Newest first: by the date and the day's sequence in the number.
        list.sort_by_key(|p| std::cmp::Reverse((p.application_no.date(), p.application_no.seq())));
        list.dedup_by_key(|p| p.application_no);
        list.iter()
            .map(|p| ProgressView {
                application_no: p.application_no.grouped(),
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
            .collect()
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
                // Records made before a key rotation carry an older key's hash: ask for
                // every one.
                ProgressQuery::Holder(hashes) => {
                    let mut all = Vec::new();
                    let mut failed = None;
                    for hash in hashes {
                        match client.applications_by_holder(hash).await {
                            Ok(list) => all.extend(list),
                            Err(err) => {
                                failed = Some(err);
                                break;
                            }
                        }
                    }
                    match failed {
                        Some(err) => Err(err),
                        None => Ok(all),
                    }
                }
            };
            match answer {
                Ok(list) if !list.is_empty() => {
                    let holder = match &query {
                        ProgressQuery::Holder(h) => h.first().cloned(),
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
        let keys: Vec<String> = match &query {
            ProgressQuery::Number(no) => vec![format!("progress:{no}")],
            ProgressQuery::Holder(hashes) => {
                hashes.iter().map(|h| format!("progress_of:{h}")).collect()
            }
        };
        let store = self.store.clone();
        let cached = blocking(move || {
            let mut found = Vec::new();
            for key in &keys {
                if let Some(entry) = store.cache_get(key)? {
                    found.push(entry);
                }
            }
            Ok(found)
        })
        .await
        .unwrap_or_default();
        let mut list: Vec<ApplicationProgress> = Vec::new();
        let mut oldest: Option<i64> = None;
        for (value, at) in cached {
            let entries: Vec<ApplicationProgress> = match &query {
                ProgressQuery::Number(_) => serde_json::from_value(value)
                    .map(|p| vec![p])
                    .unwrap_or_default(),
                ProgressQuery::Holder(_) => serde_json::from_value(value).unwrap_or_default(),
            };
            if !entries.is_empty() {
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
                list.extend(entries);
            }
        }
        let Some(at) = oldest else {
            return Err(missing);
        };
        self.stats.progress_lookups += 1;
        let today = business_date_at(self.clock.now());
        let (zh, en) = chrono::DateTime::from_timestamp_millis(at)
            .map(|t| as_of(t, today))
            .unwrap_or_default();
        Ok((
            self.progress_views(&list),
            Some(Text::new(
                format!("截至 {zh} 的信息（网络中断）"),
                format!("As of {en} (offline)"),
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
            Err(err) if err.disk_full() => {
                tracing::error!(%err, "rating not stored");
                Err(self.store_failed(
                    &err,
                    Text::new("评价未能保存", "The rating was not saved"),
                    Text::new("评价", "rate our service"),
                ))
            }
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

    /// Queues a help request; its event id, or why it could not be written down (then the
    /// page sends the citizen to the help desk at once).
    async fn help(&mut self, page: &str) -> Result<Uuid, Notice> {
        let payload = HelpRequested {
            page: page.to_owned(),
            language: match self.session.language {
                Language::Zh => "zh".into(),
                Language::En => "en".into(),
            },
            at: self.clock.now(),
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
        let desk = self.help_window.clone();
        let not_sent = Notice {
            title: Text::new("呼叫未能发出", "Your call could not be sent"),
            message: Text::new(
                format!("请您现在直接前往{}", desk.zh),
                format!("Please go to {} now", desk.en),
            ),
            window: Some(desk),
        };
        match blocking(move || store.enqueue(event)).await {
            Ok(Some(committed)) => {
                self.stats.help_requests += 1;
                if let Some(u) = &self.uplink {
                    u.nudge();
                }
                Ok(committed.event_id)
            }
            Ok(None) => {
                tracing::error!("help request dropped by the store");
                Err(not_sent)
            }
            Err(err) => {
                tracing::error!(%err, "help request not queued");
                self.publish_availability();
                Err(not_sent)
            }
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

    fn publish_availability(&mut self) {
        let store = self.store.clone();
        let accepting = store
            .capacity()
            .map(|c| c.accepting_records)
            .unwrap_or_else(|e| !e.is_disk_full());
        let card_lookup = self
            .keys
            .lock()
            .map(|k| k.as_ref().is_some_and(|k| !k.keys.is_empty()))
            .unwrap_or(false);
        let availability = availability(
            &self.healths(),
            Conditions {
                accepting_records: accepting,
                card_lookup,
                numbering: self.numbering.is_some(),
                online: self.queue.lock().map(|q| q.online).unwrap_or(false),
            },
            &self.help_window,
        );
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
                disk_free_bytes: kiosk_core::store::free_bytes(&dir).unwrap_or(0),
                session_active,
                quarantined: store.quarantined()?,
                quarantine: store.quarantine_summary()?,
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

/// Whether `journey` creates a record (a ticket, an application, a rating): such journeys
/// are closed while the disk budget no longer admits records. Help stays open: its request
/// is tiny and the headroom above the line is kept for it and for journeys under way.
fn records(journey: JourneyKind) -> bool {
    matches!(
        journey,
        JourneyKind::TakeNumber | JourneyKind::CheckIn | JourneyKind::Apply | JourneyKind::Rate
    )
}

/// What besides the devices decides which journeys run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Conditions {
    /// The disk budget still admits records.
    pub accepting_records: bool,
    /// The kiosk has holder keys (cards can be hashed and looked up).
    pub card_lookup: bool,
    /// The kiosk can number applications (enrolled, or simulated).
    pub numbering: bool,
    /// Central answered lately.
    pub online: bool,
}

/// Which journeys can run with these devices, disk and keys, and what a citizen is told
/// about the others.
pub(super) fn availability(
    healths: &[DeviceHealth],
    conditions: Conditions,
    help_window: &Text,
) -> Availability {
    let Conditions {
        accepting_records,
        card_lookup,
        numbering,
        online,
    } = conditions;
    let usable = |kind: DeviceKind| {
        healths
            .iter()
            .any(|h| h.kind == kind && h.state.is_usable())
    };
    let tiles = JourneyKind::ALL
        .into_iter()
        .map(|journey| {
            let needs: &[DeviceKind] = match journey {
                JourneyKind::TakeNumber => &[DeviceKind::Dispenser],
                JourneyKind::CheckIn => &[DeviceKind::IdCardReader, DeviceKind::Dispenser],
                JourneyKind::Guide | JourneyKind::Progress | JourneyKind::Rate => &[],
                JourneyKind::Apply => &[
                    DeviceKind::IdCardReader,
                    DeviceKind::Scanner,
                    DeviceKind::Printer,
                ],
                JourneyKind::Help => &[],
            };
            let records = records(journey);
            let missing = needs.iter().find(|k| !usable(**k));
            // Check-in and applying match the card to records at central: without a holder
            // key (never fetched) the kiosk cannot, and says so on the tile.
            let needs_key = matches!(journey, JourneyKind::CheckIn | JourneyKind::Apply);
            let reason = if let Some(kind) = missing {
                Some(device_reason(*kind, help_window))
            } else if records && !accepting_records {
                Some(Text::new(
                    format!("本终端存储空间不足，暂停此项服务，请到{}", help_window.zh),
                    format!(
                        "This kiosk is short of storage; please go to {}",
                        help_window.en
                    ),
                ))
            } else if needs_key && !card_lookup {
                Some(Text::new(
                    format!("本终端暂时无法核验身份证，请到{}办理", help_window.zh),
                    format!(
                        "This kiosk cannot check ID cards right now; please go to {}",
                        help_window.en
                    ),
                ))
            } else if journey == JourneyKind::Apply && !numbering {
                Some(Text::new(
                    format!("本终端尚未开通自助申报，请到{}办理", help_window.zh),
                    format!(
                        "Applications are not set up on this kiosk yet; please go to {}",
                        help_window.en
                    ),
                ))
            } else {
                None
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(kind: DeviceKind) -> DeviceHealth {
        DeviceHealth::now(kind, "test".to_owned(), HealthState::Ready)
    }

    fn all_ready() -> Vec<DeviceHealth> {
        [
            DeviceKind::IdCardReader,
            DeviceKind::Dispenser,
            DeviceKind::Printer,
            DeviceKind::Scanner,
        ]
        .into_iter()
        .map(ready)
        .collect()
    }

    fn tile(a: &Availability, journey: JourneyKind) -> &Tile {
        a.tiles.iter().find(|t| t.journey == journey).unwrap()
    }

    const FINE: Conditions = Conditions {
        accepting_records: true,
        card_lookup: true,
        numbering: true,
        online: true,
    };

    #[test]
    fn near_a_full_disk_every_journey_that_creates_a_record_is_closed_and_says_why() {
        let desk = Text::new("1号综合咨询台", "Information desk 1");
        let a = availability(
            &all_ready(),
            Conditions {
                accepting_records: false,
                ..FINE
            },
            &desk,
        );
        for journey in JourneyKind::ALL {
            let t = tile(&a, journey);
            assert_eq!(t.enabled, !records(journey), "{journey:?}");
            if records(journey) {
                let reason = t.reason.as_ref().unwrap();
                assert!(reason.zh.contains("存储空间不足"), "{reason:?}");
                assert!(reason.en.contains("Information desk 1"), "{reason:?}");
            }
        }
        assert!(
            tile(&a, JourneyKind::Help).enabled,
            "help always stays open"
        );
        assert!(
            availability(&all_ready(), FINE, &desk)
                .tiles
                .iter()
                .all(|t| t.enabled)
        );
    }

    #[test]
    fn without_holder_keys_check_in_and_apply_are_closed_with_the_reason() {
        let desk = Text::new("1号综合咨询台", "Information desk 1");
        let a = availability(
            &all_ready(),
            Conditions {
                card_lookup: false,
                ..FINE
            },
            &desk,
        );
        for journey in [JourneyKind::CheckIn, JourneyKind::Apply] {
            let t = tile(&a, journey);
            assert!(!t.enabled);
            assert!(
                t.reason
                    .as_ref()
                    .unwrap()
                    .en
                    .contains("cannot check ID cards")
            );
        }
        assert!(tile(&a, JourneyKind::TakeNumber).enabled);
        assert!(
            tile(&a, JourneyKind::Progress).enabled,
            "the number keypad still works"
        );
        let a = availability(
            &all_ready(),
            Conditions {
                numbering: false,
                ..FINE
            },
            &desk,
        );
        assert!(!tile(&a, JourneyKind::Apply).enabled);
    }

    #[test]
    fn as_of_gives_the_date_only_when_it_is_not_today() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let this_morning: DateTime<Utc> = "2026-12-02T01:15:00Z".parse().unwrap();
        assert_eq!(as_of(this_morning, today), ("09:15".into(), "09:15".into()));
        let yesterday: DateTime<Utc> = "2026-12-01T08:40:00Z".parse().unwrap();
        assert_eq!(
            as_of(yesterday, today),
            ("2026年12月1日 16:40".into(), "2026-12-01 16:40".into())
        );
    }

    #[test]
    fn an_unenrolled_simulated_kiosk_numbers_in_hall_9999_as_its_configured_kiosk() {
        let mut config = Config::simulate().unwrap();
        let numbering = Numbering::simulated(&config).unwrap();
        assert_eq!((numbering.hall.get(), numbering.kiosk.get()), (9999, 1));
        config.kiosk.id = Some("SIM-0042".into());
        assert_eq!(Numbering::simulated(&config).unwrap().kiosk.get(), 42);
        config.kiosk.id = None;
        assert_eq!(Numbering::simulated(&config).unwrap().kiosk.get(), 1);
    }
}
