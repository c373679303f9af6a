//! The journeys as plain state machines: an [`Input`] (a citizen's command, a card tap, the
//! outcome of an effect) changes the state and yields [`Effect`]s for the engine to carry
//! out; [`Journey::page`] renders the state as the view model. No I/O, no clock, no devices
//! here: the engine passes the time and the catalog in a [`Cx`], so every step is unit-tested.

pub mod apply;
pub mod checkin;
pub mod guide;
pub mod help;
pub mod progress;
pub mod rating;
pub mod take_number;

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_api::ApplicationNo;
use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{Appointment, RatingGiven, TicketPriority};
use uuid::Uuid;

use kiosk_hal::DeviceKind;

use crate::holder::Holder;
use crate::model::{
    Command, JourneyKind, MaterialLine, Page, PageCheckView, ProgressView, Text, TicketView,
};

/// What a journey sees of the world at a step.
pub struct Cx<'a> {
    /// The hall's catalog.
    pub catalog: &'a Catalog,
    /// Now.
    pub now: DateTime<Utc>,
    /// Waiting people per category, last known (for the category list).
    pub waiting: &'a dyn Fn(&str) -> Option<u32>,
    /// Where to go when the kiosk cannot help.
    pub help_window: Text,
    /// Minutes before a slot that check-in opens.
    pub checkin_early_minutes: u32,
    /// Minutes after a slot's start that check-in is still accepted.
    pub checkin_late_minutes: u32,
}

impl Cx<'_> {
    /// The hall's business date now.
    pub fn today(&self) -> NaiveDate {
        kiosk_api::citizen::business_date_at(self.now)
    }
}

/// What happens to a journey.
#[derive(Debug, Clone)]
pub enum Input {
    /// The citizen (through the UI).
    Command(Command),
    /// A card was read on the reader.
    CardTapped(Holder),
    /// The reader saw a card it could not read.
    CardUnreadable,
    /// An effect finished.
    Outcome(Outcome),
}

/// A ticket to print.
#[derive(Debug, Clone)]
pub struct TicketOrder {
    /// Queue letter.
    pub category: String,
    /// Priority lane.
    pub priority: TicketPriority,
    /// The holder, if a card was tapped (duplicate blocking, masked name on the ticket).
    pub holder: Option<Holder>,
    /// The appointment checked in.
    pub appointment_id: Option<String>,
}

/// An application to submit.
#[derive(Debug, Clone)]
pub struct ApplicationOrder {
    /// Matter id.
    pub matter_id: String,
    /// The applicant.
    pub holder: Holder,
    /// Field key -> value (choices as their Chinese label, as the department reads them).
    pub form: serde_json::Map<String, serde_json::Value>,
    /// Material id -> its scan's spool handle (sha256) and pages.
    pub materials: Vec<ScannedMaterial>,
}

impl Drop for ApplicationOrder {
    /// The form's answers are the citizen's (a phone number, a bank account): overwritten
    /// when the order goes, whether it was submitted or not.
    fn drop(&mut self) {
        for value in self.form.values_mut() {
            kiosk_core::store::wipe_json(value);
        }
    }
}

/// A material scanned and kept in the engine's spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedMaterial {
    /// Material id.
    pub material_id: String,
    /// sha256 of the PDF in the spool.
    pub sha256: String,
    /// Pages.
    pub pages: u32,
}

/// Something a journey asks the engine to do; the result comes back as an [`Outcome`].
#[derive(Debug, Clone)]
pub enum Effect {
    /// Take a number and print the ticket → [`Outcome::Ticket`].
    IssueTicket(TicketOrder),
    /// Find today's appointments of a holder → [`Outcome::Appointments`].
    FindAppointments {
        /// The holder's hashes under every holder key (current first).
        holder_hashes: Vec<String>,
    },
    /// Print a guide slip with a QR to the full guide → [`Outcome::Printed`].
    PrintGuide {
        /// Matter id.
        matter_id: String,
    },
    /// Scan one material → [`Outcome::Scanned`].
    Scan {
        /// Material id.
        material_id: String,
    },
    /// Store and queue the application, print the receipt → [`Outcome::Submitted`].
    Submit(Box<ApplicationOrder>),
    /// Print the 一次性告知 list → [`Outcome::Printed`].
    PrintMissing {
        /// Matter id.
        matter_id: String,
        /// What is still needed.
        missing: Vec<MaterialLine>,
    },
    /// Ask central (or the cache) for progress → [`Outcome::Progress`].
    FetchProgress(ProgressQuery),
    /// Store and forward a rating → [`Outcome::Rated`].
    Rate(RatingGiven),
    /// Send a help request (priority 0) → [`Outcome::HelpSent`].
    CallHelp {
        /// Page the citizen was on.
        page: String,
    },
    /// Go on with a rating of what was just completed (replaces the journey).
    OfferRating {
        /// Rating subject.
        subject: String,
        /// What it is, for the page.
        label: Text,
        /// The matter, when known.
        matter_code: Option<String>,
    },
}

/// Which applications to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressQuery {
    /// One application number.
    Number(ApplicationNo),
    /// Every application of a holder: the card's hashes under every holder key.
    Holder(Vec<String>),
}

/// Why a ticket was not printed, or a service cannot go on: a plain message and the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Headline.
    pub title: Text,
    /// Explanation.
    pub message: Text,
    /// Where to go.
    pub window: Option<Text>,
}

impl Notice {
    /// As a page.
    pub fn page(&self, failure: bool) -> Page {
        Page::Notice {
            title: self.title.clone(),
            message: self.message.clone(),
            window: self.window.clone(),
            failure,
        }
    }
}

/// The result of one scan run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    /// Each page's checks.
    pub pages: Vec<PageCheckView>,
    /// The material's PDF, when every page passed.
    pub accepted: Option<ScannedMaterial>,
    /// A scanner error in plain words.
    pub error: Option<Text>,
}

/// What an effect came back with.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The ticket printed, or why not.
    Ticket(Result<TicketView, Notice>),
    /// The holder's appointments today, from central (`confirmed`) or, when central does not
    /// answer, from the copy cached at the last answer: a copy can show an appointment but
    /// cannot prove there is none (it may have been booked since).
    Appointments {
        /// Today's appointments.
        list: Vec<Appointment>,
        /// Whether central answered just now.
        confirmed: bool,
    },
    /// A slip printed (true) or not.
    Printed(bool),
    /// A scan finished.
    Scanned(ScanOutcome),
    /// Submitted with this number; `printed` says whether the receipt came out.
    Submitted(Result<(ApplicationNo, bool), Notice>),
    /// Progress, and "as of" when it came from the cache.
    Progress(Result<(Vec<ProgressView>, Option<Text>), Notice>),
    /// Rated, or already rated.
    Rated(Result<(), Notice>),
    /// The help request is in the outbox (its event id, which [`Outcome::Help`] answers
    /// name), or it could not even be written down.
    HelpSent(Result<Uuid, Notice>),
    /// Where a help request stands, from central (polled while the help page is shown).
    Help {
        /// The `help_requested` event.
        event_id: Uuid,
        /// What central says.
        progress: HelpProgress,
    },
}

/// Where a help request stands for the citizen who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpProgress {
    /// Only in this kiosk's outbox: central is unreachable or has not received it yet, so no
    /// member of staff knows.
    Queued,
    /// Central has it: the staff's screens show it.
    Received,
    /// A member of staff said they are coming.
    OnTheWay {
        /// Who (a staff display name or window, as central gave it).
        by: Option<String>,
    },
}

/// One journey's state machine.
pub trait Journey: Send {
    /// Which journey.
    fn kind(&self) -> JourneyKind;
    /// Handles an input; returns what the engine must do.
    fn on(&mut self, input: Input, cx: &Cx<'_>) -> Vec<Effect>;
    /// The page for the current state.
    fn page(&self, cx: &Cx<'_>) -> Page;
    /// The short prompt shown in the page's title row (never personal data).
    fn prompt(&self) -> Text;
    /// What the voice says on this page: its key sentence, the prompt unless the page has a
    /// result the citizen must hear (never personal data).
    fn spoken(&self, _cx: &Cx<'_>) -> Text {
        self.prompt()
    }
    /// Whether [`Command::Back`] does something.
    fn can_go_back(&self) -> bool;
    /// Whether the reader should be listened to now.
    fn wants_card(&self) -> bool {
        false
    }
    /// The help request whose progress the engine should poll central for while this
    /// journey is on screen (until staff acknowledge it).
    fn followed_help(&self) -> Option<Uuid> {
        None
    }
}

/// What a lookup by card says when the kiosk has no holder key (never fetched from central):
/// it cannot match the card to any record, and says so instead of "nothing found".
pub fn no_card_lookup(cx: &Cx<'_>, instead_zh: &str, instead_en: &str) -> Text {
    Text::new(
        format!(
            "本终端暂时无法按身份证查询，请{instead_zh}，或到{}",
            cx.help_window.zh
        ),
        format!(
            "This kiosk cannot look things up by ID card right now; please {instead_en}, or go to {}",
            cx.help_window.en
        ),
    )
}

/// What each journey needs of the kiosk, declared beside the journeys: the engine closes a
/// journey's tile while any of it is missing.
impl JourneyKind {
    /// The devices it cannot run without.
    pub fn needs(self) -> &'static [DeviceKind] {
        match self {
            JourneyKind::TakeNumber => &[DeviceKind::Dispenser],
            JourneyKind::CheckIn => &[DeviceKind::IdCardReader, DeviceKind::Dispenser],
            JourneyKind::Guide | JourneyKind::Progress | JourneyKind::Rate => &[],
            JourneyKind::Apply => &[
                DeviceKind::IdCardReader,
                DeviceKind::Scanner,
                DeviceKind::Printer,
            ],
            JourneyKind::Help => &[],
        }
    }

    /// Whether it creates a record (a ticket, an application, a rating): such journeys are
    /// closed while the disk budget no longer admits records. Help stays open: its request
    /// is tiny and the headroom above the line is kept for it and for journeys under way.
    pub fn records(self) -> bool {
        matches!(
            self,
            JourneyKind::TakeNumber | JourneyKind::CheckIn | JourneyKind::Apply | JourneyKind::Rate
        )
    }

    /// Whether it matches a card to records at central, which takes a holder key.
    pub fn matches_cards(self) -> bool {
        matches!(self, JourneyKind::CheckIn | JourneyKind::Apply)
    }
}

/// Starts `kind` in its first state.
pub fn start(kind: JourneyKind, cx: &Cx<'_>) -> (Box<dyn Journey>, Vec<Effect>) {
    match kind {
        JourneyKind::TakeNumber => (Box::new(take_number::TakeNumber::new()), Vec::new()),
        JourneyKind::CheckIn => (Box::new(checkin::CheckIn::new()), Vec::new()),
        JourneyKind::Guide => (Box::new(guide::Guide::new()), Vec::new()),
        JourneyKind::Apply => (Box::new(apply::Apply::new()), Vec::new()),
        JourneyKind::Progress => (Box::new(progress::Progress::new()), Vec::new()),
        JourneyKind::Rate => (Box::new(rating::Rating::from_tile()), Vec::new()),
        JourneyKind::Help => {
            let mut help = help::Help::new();
            let effects = help.on(Input::Command(Command::Confirm), cx);
            (Box::new(help), effects)
        }
    }
}

/// A journey that cannot start now (a device fault, the disk nearly full): the page says
/// why and where to go instead, in place of the journey's first page.
#[derive(Debug)]
pub struct Unavailable {
    kind: JourneyKind,
    notice: Notice,
}

impl Unavailable {
    /// `kind` cannot start, for the reason `notice` gives.
    pub fn new(kind: JourneyKind, notice: Notice) -> Unavailable {
        Unavailable { kind, notice }
    }
}

impl Journey for Unavailable {
    fn kind(&self) -> JourneyKind {
        self.kind
    }

    fn on(&mut self, _input: Input, _cx: &Cx<'_>) -> Vec<Effect> {
        Vec::new()
    }

    fn page(&self, _cx: &Cx<'_>) -> Page {
        self.notice.page(true)
    }

    fn prompt(&self) -> Text {
        self.notice.title.clone()
    }

    fn can_go_back(&self) -> bool {
        false
    }
}

/// "Something went wrong, please go to the window" for a step that cannot go on.
pub fn go_to_window(cx: &Cx<'_>, title: Text, message: Text) -> Notice {
    Notice {
        title,
        message,
        window: Some(cx.help_window.clone()),
    }
}
