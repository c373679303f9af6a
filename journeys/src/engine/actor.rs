//! The engine's actor: one task owning the session, the devices and the store handle. It
//! turns commands and card taps into journey inputs and dispatches the journeys' effects to
//! the modules that carry them out (tickets, applications, progress, ratings, help); device
//! work goes out as tasks ([`super::jobs`]) so that the actor always answers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_api::NumberBand;
use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{HolderKeys, business_date_at};
use kiosk_core::config::Config;
use kiosk_core::store::Store;
use kiosk_core::sync::{CentralClient, DownlinkHandle, UplinkHandle};
use kiosk_hal::DeviceHealth;
use kiosk_idcard::ReaderEvent;
use tokio::sync::{Notify, mpsc, watch};
use uuid::Uuid;

use super::availability::records;
use super::devices::{PrinterSlot, ScannerSlot};
use super::jobs::{Bay, Done};
use super::queue::QueueInfo;
use super::tickets::Unsettled;
use super::wiring::Numbering;
use super::{Stats, health, help};
use crate::clock::Clock;
use crate::holder::Holder;
use crate::machines::{self, Cx, Effect, HelpProgress, Input, Journey, Notice, Outcome};
use crate::model::{Availability, Command, JourneyKind, Language, Page, Screen, Text};
use crate::sim::SimDevices;
use crate::voice::Voice;

/// How often device health is asked (and tickets whose record failed are recorded again).
const HEALTH_POLL: Duration = Duration::from_secs(10);

/// How long a stopping engine waits for device work still out: a ticket printing now is
/// recorded if it finishes within this; otherwise its print intent covers it at the next
/// start.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The citizen's settings and journey.
pub(super) struct Session {
    pub(super) journey: Option<Box<dyn Journey>>,
    pub(super) language: Language,
    elder: bool,
    voice: bool,
}

impl Session {
    /// The configured defaults, no journey.
    pub(super) fn new(config: &Config) -> Session {
        Session {
            journey: None,
            language: config.ui.language.into(),
            elder: config.ui.elder_mode,
            voice: config.ui.elder_mode || config.voice.always,
        }
    }
}

/// The work of the journey on screen: its effects not yet carried out, and the inputs that
/// came while one of its effects was out with a device. Replaced when the session ends,
/// which drops both (and with them any holder in a deferred card tap).
#[derive(Default)]
pub(super) struct Run {
    /// Which session: device work reports it, and a report for a session that has ended is
    /// recorded but not fed to the journey now on screen.
    pub(super) id: u64,
    /// Effects to carry out, in order.
    pending: VecDeque<Effect>,
    /// Inputs that came while an effect was out; fed after its outcome, in order.
    deferred: VecDeque<Input>,
    /// One of this session's effects is out with a device.
    pub(super) waiting: bool,
}

/// How an effect went: done (with the outcome for the journey, if any), or out with a
/// device, its outcome to come as a [`Done`].
#[allow(
    clippy::large_enum_variant,
    reason = "one lives at a time, on the stack, and is matched at once: a box would buy nothing"
)]
pub(super) enum Step {
    /// Done, with the journey's outcome if it has one.
    Done(Option<Outcome>),
    /// Out with a device.
    Out,
}

/// What the actor listens to.
pub(super) struct Channels {
    /// The UI's commands.
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    /// Card taps, when there is a reader.
    pub(super) cards: Option<mpsc::Receiver<ReaderEvent>>,
    /// Central's answers about the help request on screen.
    pub(super) help_updates: mpsc::UnboundedReceiver<(Uuid, HelpProgress)>,
    /// Device tasks' reports.
    pub(super) jobs: mpsc::UnboundedReceiver<Done>,
    /// Shutdown.
    pub(super) stop: Arc<Notify>,
    /// Central answers again after a silence.
    pub(super) reconnected: Arc<Notify>,
}

/// The actor's state; built by [`super::wiring`].
pub(super) struct Actor {
    pub(super) config: Config,
    pub(super) catalog: Arc<Catalog>,
    pub(super) store: Store,
    pub(super) band: NumberBand,
    /// `None`: an unenrolled kiosk outside simulate mode cannot number applications.
    pub(super) numbering: Option<Numbering>,
    pub(super) clock: Arc<dyn Clock>,
    /// The holder keys cards are hashed with (`None`: never fetched; nothing can be looked
    /// up by card). The queue keeper refreshes them.
    pub(super) keys: Arc<Mutex<Option<HolderKeys>>>,
    /// Polls central for the help request on screen; aborted when the page goes.
    pub(super) help_poll: Option<(Uuid, tokio::task::JoinHandle<()>)>,
    pub(super) help_tx: mpsc::UnboundedSender<(Uuid, HelpProgress)>,
    /// Numbers whose fate is still to be written.
    pub(super) unsettled: Unsettled,
    pub(super) client: Option<CentralClient>,
    pub(super) uplink: Option<UplinkHandle>,
    pub(super) downlink: Option<DownlinkHandle>,
    pub(super) queue: Arc<Mutex<QueueInfo>>,
    pub(super) keeper_wake: Arc<Notify>,
    pub(super) dispenser: Bay<PrinterSlot>,
    pub(super) receipt: Bay<PrinterSlot>,
    pub(super) scanner: Bay<ScannerSlot>,
    /// Where device tasks report.
    pub(super) jobs_tx: mpsc::UnboundedSender<Done>,
    /// Device tasks not yet reported.
    pub(super) jobs_out: usize,
    pub(super) reader_health: Option<watch::Receiver<DeviceHealth>>,
    pub(super) voice: Voice,
    pub(super) session: Session,
    pub(super) run: Run,
    pub(super) revision: u64,
    pub(super) stats: Stats,
    pub(super) screen_tx: watch::Sender<Screen>,
    pub(super) availability_tx: watch::Sender<Availability>,
    pub(super) stats_tx: watch::Sender<Stats>,
    pub(super) help_window: Text,
    pub(super) _sim: Option<SimDevices>,
}

async fn next_card(events: &mut Option<mpsc::Receiver<ReaderEvent>>) -> Option<ReaderEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Actor {
    pub(super) async fn run(mut self, mut ch: Channels) {
        let mut health = tokio::time::interval(HEALTH_POLL);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut report = tokio::time::interval(Duration::from_secs(
            self.config.journeys.health_interval_secs.max(10),
        ));
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = ch.stop.notified() => break,
                command = ch.commands.recv() => match command {
                    Some(command) => self.command(command).await,
                    None => break,
                },
                Some(event) = next_card(&mut ch.cards) => self.card(event).await,
                Some(done) = ch.jobs.recv() => self.done(done).await,
                Some((event_id, progress)) = ch.help_updates.recv() => {
                    self.step(Input::Outcome(Outcome::Help { event_id, progress })).await;
                }
                // Central answers again: send what piled up now, not after the backoff.
                () = ch.reconnected.notified() => {
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
        // Device work still out: a ticket's record is worth a short wait.
        let grace = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.jobs_out > 0 {
            match tokio::time::timeout_at(grace, ch.jobs.recv()).await {
                Ok(Some(done)) => {
                    self.jobs_out -= 1;
                    let _ = self.finish(done.work).await;
                }
                Ok(None) | Err(_) => break,
            }
        }
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

    // ---- the journey's inputs and effects ----------------------------------------------

    /// Feeds `input` to the journey and carries out its effects until none are left, or one
    /// is out with a device (the rest waits for its report).
    async fn step(&mut self, input: Input) {
        if self.run.waiting {
            // The journey hears of things in the order they happened: after the outcome it
            // is waiting for.
            self.run.deferred.push_back(input);
            return;
        }
        self.feed(input);
        self.publish();
        self.drive().await;
    }

    /// Gives the journey an input; its effects join the pending ones.
    fn feed(&mut self, input: Input) {
        let (catalog, waiting) = self.cx_parts();
        let cx = self.cx(&catalog, &waiting);
        if let Some(journey) = self.session.journey.as_mut() {
            let effects = journey.on(input, &cx);
            self.run.pending.extend(effects);
        }
    }

    /// Carries out the pending effects, then the deferred inputs, until none are left or an
    /// effect is out with a device.
    pub(super) async fn drive(&mut self) {
        while !self.run.waiting {
            let Some(effect) = self.run.pending.pop_front() else {
                let Some(input) = self.run.deferred.pop_front() else {
                    return;
                };
                self.feed(input);
                self.publish();
                continue;
            };
            if self.device_out(&effect) {
                // Still out for a session that has ended: this effect waits for its report.
                self.run.pending.push_front(effect);
                return;
            }
            match self.effect(effect).await {
                Step::Done(Some(outcome)) => self.outcome(outcome),
                Step::Done(None) => {}
                Step::Out => self.run.waiting = true,
            }
            self.publish();
        }
    }

    /// Gives the journey an effect's outcome. A failure may come of a device fault or a full
    /// disk: availability is checked again first, so the home page the citizen returns to
    /// already says so.
    pub(super) fn outcome(&mut self, outcome: Outcome) {
        let failed = match &outcome {
            Outcome::Ticket(r) => r.is_err(),
            Outcome::Printed(ok) => !ok,
            Outcome::Scanned(scan) => scan.error.is_some(),
            Outcome::Submitted(r) => !matches!(r, Ok((_, true))),
            Outcome::Rated(r) => r.is_err(),
            Outcome::HelpSent(r) => r.is_err(),
            Outcome::Appointments { .. } | Outcome::Progress(_) | Outcome::Help { .. } => false,
        };
        if failed {
            self.publish_availability();
        }
        self.feed(Input::Outcome(outcome));
    }

    // ---- commands and cards -----------------------------------------------------------

    async fn command(&mut self, command: Command) {
        match command {
            Command::Start { journey } => self.start_journey(journey).await,
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
            Command::CallHelp => self.call_help().await,
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
            Command::TestTicket => self.test_ticket(),
            other => self.step(Input::Command(other)).await,
        }
    }

    /// A new session with `journey`, or the notice that it cannot run now.
    async fn start_journey(&mut self, journey: JourneyKind) {
        self.end_session();
        if !self.availability_tx.borrow().allows(journey) {
            // The fault may be over (paper loaded, cover closed): ask again now rather than
            // at the next poll.
            self.refresh_health().await;
        }
        if records(journey) {
            // The disk may have filled since the last poll: a journey that would create a
            // record is closed before it starts, not in its last step.
            self.publish_availability();
        }
        if !self.availability_tx.borrow().allows(journey) {
            tracing::info!(journey = journey.as_str(), "journey not available");
            self.session.journey = Some(Box::new(self.unavailable(journey)));
            self.publish();
            return;
        }
        let (catalog, waiting) = self.cx_parts();
        let (machine, effects) = {
            let cx = self.cx(&catalog, &waiting);
            machines::start(journey, &cx)
        };
        self.session.journey = Some(machine);
        self.publish();
        self.run.pending.extend(effects);
        self.drive().await;
        self.publish();
    }

    /// The page of a journey that cannot start: the tile's reason and where to go.
    fn unavailable(&self, journey: JourneyKind) -> machines::Unavailable {
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
        machines::Unavailable::new(
            journey,
            Notice {
                title: Text::new("此项服务暂停", "This service is paused"),
                message: reason,
                window: Some(self.help_window.clone()),
            },
        )
    }

    /// Help from any page: the session ends and the help journey calls, naming the page.
    async fn call_help(&mut self) {
        let page = self
            .session
            .journey
            .as_ref()
            .map_or("home", |j| j.kind().as_str())
            .to_owned();
        self.end_session();
        let mut help = machines::help::Help::from_page(&page);
        let (catalog, waiting) = self.cx_parts();
        let effects = {
            let cx = self.cx(&catalog, &waiting);
            help.on(Input::Command(Command::CallHelp), &cx)
        };
        self.session.journey = Some(Box::new(help));
        self.publish();
        self.run.pending.extend(effects);
        self.drive().await;
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
    /// zeroizes the card fields and the form's answers; device work it started still
    /// reports and is recorded.
    fn end_session(&mut self) {
        self.session.journey = None;
        self.run = Run {
            id: self.run.id.wrapping_add(1),
            ..Run::default()
        };
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
        if let Some(event_id) = wanted {
            let task = help::follow(self.client.clone(), self.help_tx.clone(), event_id);
            self.help_poll = Some((event_id, task));
        }
    }

    // ---- what the UI sees ---------------------------------------------------------------

    pub(super) fn publish(&mut self) {
        self.follow_help();
        let (catalog, waiting) = self.cx_parts();
        let cx = self.cx(&catalog, &waiting);
        let (journey, page, prompt, spoken, back) = match &self.session.journey {
            Some(j) => (
                Some(j.kind()),
                j.page(&cx),
                j.prompt(),
                j.spoken(&cx),
                j.can_go_back(),
            ),
            None => {
                let welcome = Text::new("欢迎使用政务服务自助终端", "Welcome");
                (None, Page::Home, welcome.clone(), welcome, false)
            }
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
            spoken,
            can_go_back: back,
            banner,
        };
        let spoken_changed = {
            let old = self.screen_tx.borrow();
            old.spoken != screen.spoken || old.journey != screen.journey
        };
        if self.session.voice && spoken_changed {
            self.voice
                .say(&screen.spoken, self.session.language, self.session.elder);
        }
        // Counters first: whoever sees the new page sees the counts that go with it.
        let _ = self.stats_tx.send(self.stats);
        let _ = self.screen_tx.send(screen);
    }

    // ---- health -------------------------------------------------------------------------

    async fn refresh_health(&mut self) {
        // A session in progress owns the printers; ask them between sessions. A device out
        // with a task keeps the health it had when it left.
        if self.session.journey.is_none() {
            if let Some(d) = self.dispenser.idle_mut() {
                d.refresh().await;
            }
            if let Some(r) = self.receipt.idle_mut() {
                r.refresh().await;
            }
            if let Some(s) = self.scanner.idle_mut() {
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
        all.extend(self.dispenser.health());
        all.extend(self.receipt.health());
        all.extend(self.scanner.health());
        all
    }

    pub(super) fn publish_availability(&mut self) {
        let facts = health::Facts {
            store: &self.store,
            keys: &self.keys,
            numbering: self.numbering.is_some(),
            online: self.queue.lock().map(|q| q.online).unwrap_or(false),
            desk: &self.help_window,
        };
        let availability = health::current(&self.healths(), facts);
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
        let dir = self.config.kiosk.data_dir.clone();
        let active = self.session.journey.is_some();
        health::report(&self.store, dir, self.healths(), active).await;
    }
}
