//! Citizen journeys on the wire (contracts A, B, D): the payloads kiosks send as events
//! (tickets, applications, ratings, help) and the bodies of the queue, appointment and
//! progress endpoints central serves to kiosks.
//!
//! Business dates are the hall's local date. Every hall of this deployment is in China
//! (catalog time zone `Asia/Shanghai`, no daylight saving since 1991), so kiosk and central
//! both derive them with [`business_date_at`] from the fixed offset [`HALL_UTC_OFFSET_SECS`]
//! instead of carrying a time-zone database.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::numbers::ApplicationNo;
use crate::wire::Stream;

/// Offset of the halls' local time from UTC (China Standard Time, +08:00).
pub const HALL_UTC_OFFSET_SECS: i32 = 8 * 3600;

/// The hall's business date at `at`.
pub fn business_date_at(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&hall_offset()).date_naive()
}

/// The hall's local time zone as a fixed offset.
pub fn hall_offset() -> FixedOffset {
    FixedOffset::east_opt(HALL_UTC_OFFSET_SECS).expect("invariant: +08:00 is a valid UTC offset")
}

/// Leased numbers are `1..=LEASE_MAX_NUMBER`; `500..=999` are the kiosks' offline bands.
pub const LEASE_MAX_NUMBER: u32 = 499;
/// Most numbers one lease may ask for.
pub const LEASE_MAX_COUNT: u32 = 100;

/// A secret key that makes holder hashes unguessable: with the key, the 10^17 possible ID
/// numbers cannot be enumerated against a stolen table of hashes. Central keeps its keys in a
/// file outside its database (so a database dump holds hashes but no key) and gives them to
/// the kiosks of the platform (`GET /v1/holder-keys`); the first key of [`HolderKeys`] makes
/// new hashes, the others still match old records until ops retire them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, zeroize::ZeroizeOnDrop)]
pub struct HolderKey {
    /// Short name of the key (`2026a`), stored beside nothing: it only tells keys apart.
    #[zeroize(skip)]
    pub id: String,
    /// 32 random bytes, standard base64.
    #[serde(with = "secret_b64")]
    #[schema(value_type = String)]
    pub secret: [u8; 32],
}

impl std::fmt::Debug for HolderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl HolderKey {
    /// A new random key named `id`.
    pub fn generate(id: &str) -> HolderKey {
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        HolderKey {
            id: id.to_owned(),
            secret,
        }
    }

    /// `holder_hash` of contract D: lower-case hex HMAC-SHA256 under this key of the ID
    /// number, trimmed and with a lower-case check letter `x` made upper-case, so a number
    /// typed or read either way hashes the same. The plain number is never sent or logged.
    pub fn hash(&self, id_number: &str) -> String {
        use hmac::Mac as _;
        let normalised = id_number.trim().replace('x', "X");
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.secret)
            .expect("invariant: HMAC takes a key of any length");
        mac.update(b"kiosk-holder:");
        mac.update(normalised.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// `GET /v1/holder-keys`: the platform's holder keys, newest (the one new hashes use) first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HolderKeys {
    /// At least one key; `keys[0]` makes new hashes.
    pub keys: Vec<HolderKey>,
}

impl HolderKeys {
    /// The key new hashes are made with.
    pub fn current(&self) -> Option<&HolderKey> {
        self.keys.first()
    }

    /// The hash of `id_number` under every key, current first: what a lookup by card sends,
    /// so records hashed before a rotation are still found.
    pub fn all_hashes(&self, id_number: &str) -> Vec<String> {
        self.keys.iter().map(|k| k.hash(id_number)).collect()
    }
}

mod secret_b64 {
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(secret))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(d)?);
        let bytes = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(serde::de::Error::custom)?,
        );
        <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::custom("a holder key is 32 bytes"))
    }
}

/// True for what [`HolderKey::hash`] returns: 64 lower-case hex characters.
pub fn is_holder_hash(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True for the shape of a resident ID-card number: 17 digits and a check digit or `X`/`x`.
/// The check digit itself is not verified (the card reader already read it off the chip).
pub fn is_id_number(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
}

/// True for a queue category code: one to four upper-case ASCII letters (`A`, `B`, …).
pub fn is_category_code(text: &str) -> bool {
    (1..=4).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_uppercase())
}

/// The printed ticket number: category and three digits, e.g. `A012`.
pub fn ticket_no(category: &str, number: u32) -> String {
    format!("{category}{number:03}")
}

/// True for a well-formed application number ([`crate::numbers::ApplicationNo`]): 17 digits
/// whose check digit holds, optionally grouped with spaces or hyphens.
pub fn is_application_no(text: &str) -> bool {
    crate::numbers::ApplicationNo::parse(text).is_ok()
}

/// Rating subjects of [`RatingGiven::subject`]; central keeps one rating per hall and subject.
pub mod rating_subject {
    use chrono::NaiveDate;

    /// `ticket:A012:2026-11-26`: ticket numbers repeat every day, so the date is part of it.
    pub fn ticket(ticket_no: &str, business_date: NaiveDate) -> String {
        format!("ticket:{ticket_no}:{business_date}")
    }

    /// `application:<application_no>`.
    pub fn application(application_no: &str) -> String {
        format!("application:{application_no}")
    }
}

/// The five 好差评 levels, best first: (level, Chinese, English). The kiosk and a window's
/// rating tablet offer the same ones.
pub const RATING_LEVELS: [(u8, &str, &str); 5] = [
    (5, "非常满意", "Very satisfied"),
    (4, "满意", "Satisfied"),
    (3, "基本满意", "Fairly satisfied"),
    (2, "不满意", "Dissatisfied"),
    (1, "非常不满意", "Very dissatisfied"),
];

/// Reasons offered for a bad rating (levels 1 and 2): (code, Chinese, English). The codes are
/// what [`RatingGiven::reasons`] and central's `ratings.reasons` hold.
pub const RATING_REASONS: [(&str, &str, &str); 6] = [
    ("long_wait", "等候时间长", "Long wait"),
    ("attitude", "服务态度差", "Unfriendly service"),
    ("unclear_guidance", "告知不清楚", "Unclear guidance"),
    (
        "repeated_visits",
        "多次跑腿",
        "Had to come back several times",
    ),
    ("kiosk_problem", "设备不好用", "Kiosk hard to use"),
    ("other", "其他", "Other"),
];

/// Event kinds of the citizen journeys (`Event.kind`).
pub mod event_kind {
    /// [`super::TicketIssued`] on stream `tickets`.
    pub const TICKET_ISSUED: &str = "ticket_issued";
    /// [`super::TicketVoided`] on stream `tickets`.
    pub const TICKET_VOIDED: &str = "ticket_voided";
    /// [`super::ApplicationSubmitted`] on stream `records`.
    pub const APPLICATION_SUBMITTED: &str = "application_submitted";
    /// [`super::RatingGiven`] on stream `ratings`.
    pub const RATING_GIVEN: &str = "rating_given";
    /// [`super::HelpRequested`] on stream `help`.
    pub const HELP_REQUESTED: &str = "help_requested";
}

/// A typed event payload: which stream and kind it travels as.
pub trait CitizenEvent: Serialize + serde::de::DeserializeOwned {
    /// Outbox stream.
    const STREAM: Stream;
    /// `Event.kind`.
    const KIND: &'static str;

    /// The payload as the JSON value of `Event.payload`.
    fn to_payload(&self) -> serde_json::Value {
        serde_json::to_value(self)
            .expect("invariant: citizen payloads have string keys and serialise to JSON")
    }

    /// Reads a payload of this kind.
    fn from_payload(payload: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(payload)
    }
}

/// Why a ticket has priority (绿色通道) or none.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TicketPriority {
    /// No priority.
    Normal,
    /// Aged 60 or more by the card's birth date.
    Senior,
    /// Declared pregnancy.
    Pregnant,
    /// Declared disability.
    Disabled,
    /// Checked in for a booked appointment.
    Appointment,
}

impl TicketPriority {
    /// The wire name, as stored in databases.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketPriority::Normal => "normal",
            TicketPriority::Senior => "senior",
            TicketPriority::Pregnant => "pregnant",
            TicketPriority::Disabled => "disabled",
            TicketPriority::Appointment => "appointment",
        }
    }
}

/// `tickets` / `ticket_issued`: a ticket was printed (a ticket counts only once printed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TicketIssued {
    /// As printed, e.g. `A012` ([`ticket_no`]).
    pub ticket_no: String,
    /// Queue letter, e.g. `A`.
    pub category: String,
    /// The number, `1..=999`.
    pub number: u32,
    /// Business date the number belongs to.
    pub business_date: NaiveDate,
    /// Priority of the ticket.
    pub priority: TicketPriority,
    /// Where the number came from: `lease:<lease uuid>` or `band` (offline band).
    pub source: String,
    /// When it was printed.
    pub issued_at: DateTime<Utc>,
    /// [`HolderKey::hash`] of the card tapped, if one was.
    #[serde(default)]
    pub holder_hash: Option<String>,
    /// The appointment checked in, if any.
    #[serde(default)]
    pub appointment_id: Option<String>,
    /// The kiosk restarted between printing and recording this ticket, so it cannot tell
    /// whether the citizen holds it: the number stays callable, marked for staff to check.
    #[serde(default)]
    pub unconfirmed: bool,
    /// The token of the ticket's public live page ([`is_live_token`]), which the kiosk made
    /// at random and printed in the QR code as [`QueueSnapshot::live_url_prefix`] followed by
    /// it: known before central sees the ticket, so offline tickets carry it too. Absent
    /// (older kiosks), central makes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_token: Option<String>,
}

/// Whether `token` is a live-page token: 32 lower-case hex digits (128 random bits).
pub fn is_live_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl CitizenEvent for TicketIssued {
    const STREAM: Stream = Stream::Tickets;
    const KIND: &'static str = event_kind::TICKET_ISSUED;
}

/// `tickets` / `ticket_voided`: a number was given up (print failure, …); it is not waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TicketVoided {
    /// E.g. `A012`.
    pub ticket_no: String,
    /// Queue letter.
    pub category: String,
    /// The number.
    pub number: u32,
    /// Business date the number belongs to.
    pub business_date: NaiveDate,
    /// Why.
    pub reason: VoidReason,
}

/// Why a ticket did not print cleanly, and `ticket_voided.reason` when its number is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoidReason {
    /// The printer had no paper.
    PaperOut,
    /// Its cover was open.
    CoverOpen,
    /// Its cutter failed.
    CutterError,
    /// It reported an error it cannot recover from.
    UnrecoverableError,
    /// It reported an error it may recover from.
    RecoverableError,
    /// It was offline for no reason it gave.
    Offline,
    /// Talking to it failed.
    PrinterError,
    /// The ticket could not be laid out.
    LayoutError,
    /// It could not be opened.
    PrinterUnavailable,
    /// The kiosk has no dispenser.
    NoDispenser,
    /// The kiosk stopped before the ticket went to the printer.
    Interrupted,
}

impl VoidReason {
    /// The code on the wire (what serde writes), as kept in central's tables.
    pub fn code(self) -> &'static str {
        match self {
            VoidReason::PaperOut => "paper_out",
            VoidReason::CoverOpen => "cover_open",
            VoidReason::CutterError => "cutter_error",
            VoidReason::UnrecoverableError => "unrecoverable_error",
            VoidReason::RecoverableError => "recoverable_error",
            VoidReason::Offline => "offline",
            VoidReason::PrinterError => "printer_error",
            VoidReason::LayoutError => "layout_error",
            VoidReason::PrinterUnavailable => "printer_unavailable",
            VoidReason::NoDispenser => "no_dispenser",
            VoidReason::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for VoidReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.code())
    }
}

impl CitizenEvent for TicketVoided {
    const STREAM: Stream = Stream::Tickets;
    const KIND: &'static str = event_kind::TICKET_VOIDED;
}

/// One scanned material of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubmittedMaterial {
    /// Material code from the catalog.
    pub material_code: String,
    /// sha256 (lower-case hex) of the PDF, also listed in `Event.attachments`.
    pub attachment_sha256: String,
    /// Pages scanned.
    pub pages: u32,
}

/// `records` / `application_submitted`: an application made at the kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationSubmitted {
    /// Made by the sending kiosk: central refuses a number of another hall or kiosk.
    #[schema(value_type = String, example = "00120326120100075")]
    pub application_no: ApplicationNo,
    /// Matter id from the catalog.
    pub matter_code: String,
    /// [`HolderKey::hash`] of the applicant's ID number.
    pub holder_hash: String,
    /// Masked name, e.g. `张*` (`kiosk_hal::mask::mask_name`).
    pub holder_name_masked: String,
    /// Form field -> value.
    #[schema(value_type = Object)]
    pub form: serde_json::Map<String, serde_json::Value>,
    /// Scanned materials.
    pub materials: Vec<SubmittedMaterial>,
    /// When the applicant submitted.
    pub submitted_at: DateTime<Utc>,
    /// The token of the application's public progress page ([`is_live_token`]), made by the
    /// kiosk and printed in the receipt's QR code after [`QueueSnapshot::live_url_prefix`],
    /// like a ticket's. Absent (older kiosks), the application has no public page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_token: Option<String>,
}

impl CitizenEvent for ApplicationSubmitted {
    const STREAM: Stream = Stream::Records;
    const KIND: &'static str = event_kind::APPLICATION_SUBMITTED;
}

/// `ratings` / `rating_given`: a 好差评 rating. Central keeps the first per hall and subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RatingGiven {
    /// [`rating_subject::ticket`] or [`rating_subject::application`].
    pub subject: String,
    /// 1..=5: 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意.
    pub level: u8,
    /// Reason codes (asked for levels 1 and 2).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Optional free text.
    #[serde(default)]
    pub note: Option<String>,
    /// The matter rated, when known.
    #[serde(default)]
    pub matter_code: Option<String>,
}

impl CitizenEvent for RatingGiven {
    const STREAM: Stream = Stream::Ratings;
    const KIND: &'static str = event_kind::RATING_GIVEN;
}

/// A citizen's language on the kiosk, as events carry it (`zh`, `en`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Simplified Chinese.
    #[default]
    Zh,
    /// English.
    En,
}

impl Language {
    /// The code on the wire and in central's tables: `zh` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Language::Zh => "zh",
            Language::En => "en",
        }
    }
}

/// `help` / `help_requested`: a citizen pressed "call for help"; staff see it at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HelpRequested {
    /// Page the citizen was on.
    pub page: String,
    /// The citizen's language.
    pub language: Language,
    /// When it was pressed.
    pub at: DateTime<Utc>,
}

impl CitizenEvent for HelpRequested {
    const STREAM: Stream = Stream::Help;
    const KIND: &'static str = event_kind::HELP_REQUESTED;
}

/// `GET /v1/help/{event_id}`: where a help request stands, for the kiosk that asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HelpStatus {
    /// The `help_requested` event's id.
    pub event_id: Uuid,
    /// When central received it.
    pub received_at: DateTime<Utc>,
    /// When staff said they are coming, if they have.
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who is coming (a staff display name or window, never a citizen's data).
    #[serde(default)]
    pub acknowledged_by: Option<String>,
}

/// Body of `POST /v1/queue/leases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeaseRequest {
    /// Queue letter.
    pub category: String,
    /// Today or tomorrow in hall time; other dates are refused (422).
    pub business_date: NaiveDate,
    /// How many numbers, `1..=LEASE_MAX_COUNT`.
    pub count: u32,
    /// The kiosk's id for this request, the same on every retry of it: central answers a
    /// retry with the block it gave the first time, so an answer lost on the way leaks no
    /// block. The same id with another category or date is 422. Without it each request
    /// is a new block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
}

/// A block of numbers `first..=last` leased to the asking kiosk (201). Fewer than asked when
/// the numbers below 500 run out; none left is 409 `numbers_exhausted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lease {
    /// Id to put in `TicketIssued.source` as `lease:<lease_id>`.
    pub lease_id: Uuid,
    /// Queue letter.
    pub category: String,
    /// Business date.
    pub business_date: NaiveDate,
    /// First number of the block.
    pub first: u32,
    /// Last number of the block (inclusive, at most [`LEASE_MAX_NUMBER`]).
    pub last: u32,
}

/// `GET /v1/queue/state`: the queues of the kiosk's hall today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueSnapshot {
    /// Business date (hall time).
    pub business_date: NaiveDate,
    /// When central computed it.
    pub as_of: DateTime<Utc>,
    /// Categories with at least one ticket today, by code.
    pub categories: Vec<CategoryQueue>,
    /// Where tickets' live pages are (`central serve --public-url` and `/t/`): a kiosk prints
    /// this followed by the ticket's [`TicketIssued::live_token`] in its QR code. Absent when
    /// central has no public address; the kiosk then prints its configured queue URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_url_prefix: Option<String>,
}

/// One category in a [`QueueSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CategoryQueue {
    /// Queue letter.
    pub category: String,
    /// Issued − called − voided.
    pub waiting: u32,
    /// What each ticket ahead adds to the wait, all windows together, in seconds: the mean
    /// service time (call to served) of the category's last twenty tickets served today,
    /// divided by the windows serving it; before one was served, the mean gap between its
    /// last ten calls. `null` before either; use the catalog's `avg_service_minutes` then.
    pub avg_service_secs: Option<u32>,
    /// The ticket called last, e.g. `A007`.
    pub now_serving: Option<String>,
}

/// `GET /v1/appointments?date=`: one booked slot of the kiosk's hall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Appointment {
    /// Id from the booking system.
    pub appointment_id: String,
    /// [`HolderKey::hash`] of who booked: all a check-in by card needs to match. Names and
    /// contact details stay on central.
    pub holder_hash: String,
    /// Matter id from the catalog.
    pub matter_code: String,
    /// Queue letter its ticket goes to.
    pub category: String,
    /// Slot start (RFC 3339, hall offset as imported).
    pub slot_start: DateTime<FixedOffset>,
    /// Slot end.
    pub slot_end: DateTime<FixedOffset>,
}

/// Where an application stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// Submitted at the kiosk (已提交).
    Submitted,
    /// Accepted by the department (已受理).
    Accepted,
    /// Under review (审核中).
    InReview,
    /// Materials must be supplemented (需补正材料).
    SupplementRequired,
    /// Approved (审核通过).
    Approved,
    /// Refused (不予受理/不予许可).
    Rejected,
    /// Result ready for pickup (待领取).
    ReadyForPickup,
    /// Done (已办结).
    Completed,
}

impl ApplicationStatus {
    /// Every status, in the usual order of a case.
    pub const ALL: [ApplicationStatus; 8] = [
        ApplicationStatus::Submitted,
        ApplicationStatus::Accepted,
        ApplicationStatus::InReview,
        ApplicationStatus::SupplementRequired,
        ApplicationStatus::Approved,
        ApplicationStatus::Rejected,
        ApplicationStatus::ReadyForPickup,
        ApplicationStatus::Completed,
    ];

    /// The wire name, as stored in databases.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::Accepted => "accepted",
            ApplicationStatus::InReview => "in_review",
            ApplicationStatus::SupplementRequired => "supplement_required",
            ApplicationStatus::Approved => "approved",
            ApplicationStatus::Rejected => "rejected",
            ApplicationStatus::ReadyForPickup => "ready_for_pickup",
            ApplicationStatus::Completed => "completed",
        }
    }

    /// The status with this wire name.
    pub fn from_name(name: &str) -> Option<ApplicationStatus> {
        ApplicationStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    /// Chinese label for screens and slips.
    pub fn label_zh(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "已提交",
            ApplicationStatus::Accepted => "已受理",
            ApplicationStatus::InReview => "审核中",
            ApplicationStatus::SupplementRequired => "需补正材料",
            ApplicationStatus::Approved => "审核通过",
            ApplicationStatus::Rejected => "不予受理",
            ApplicationStatus::ReadyForPickup => "待领取",
            ApplicationStatus::Completed => "已办结",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            ApplicationStatus::Submitted => "Submitted",
            ApplicationStatus::Accepted => "Accepted",
            ApplicationStatus::InReview => "Under review",
            ApplicationStatus::SupplementRequired => "Materials to supplement",
            ApplicationStatus::Approved => "Approved",
            ApplicationStatus::Rejected => "Refused",
            ApplicationStatus::ReadyForPickup => "Ready for pickup",
            ApplicationStatus::Completed => "Completed",
        }
    }
}

impl std::fmt::Display for ApplicationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApplicationStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApplicationStatus::from_name(s).ok_or_else(|| {
            let names: Vec<&str> = ApplicationStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown status {s:?}; one of {}", names.join(", "))
        })
    }
}

/// One step of an application's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// When the status was set.
    pub at: DateTime<Utc>,
    /// The status from then on.
    pub status: ApplicationStatus,
    /// Note for the citizen, Chinese.
    pub note_zh: Option<String>,
    /// Note for the citizen, English.
    pub note_en: Option<String>,
}

/// `GET /v1/applications/{application_no}` (and each entry of `?holder=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationProgress {
    /// The application number.
    #[schema(value_type = String)]
    pub application_no: ApplicationNo,
    /// Matter id from the catalog.
    pub matter_code: String,
    /// Current status (the last timeline entry's).
    pub status: ApplicationStatus,
    /// Oldest first; the first entry is the kiosk submission.
    pub timeline: Vec<TimelineEntry>,
}

/// Codes in [`crate::ApiError::error`] for the citizen endpoints, besides the common ones.
pub mod citizen_error {
    /// Every number below 500 of this category and date is leased (409): use the band.
    pub const NUMBERS_EXHAUSTED: &str = "numbers_exhausted";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> HolderKey {
        HolderKey {
            id: format!("k{byte}"),
            secret: [byte; 32],
        }
    }

    #[test]
    fn the_holder_hash_is_an_hmac_of_the_prefixed_number_with_an_upper_case_x() {
        // printf 'kiosk-holder:11010519491231002X' |
        //   openssl dgst -sha256 -mac HMAC -macopt hexkey:0101…01 (32 bytes of 0x01)
        let expected = "a3a87af1af9b43b220ea343f0f6c7959c6fb3bb1af86e80208bb26dd232b6d41";
        let got = key(1).hash("11010519491231002X");
        assert!(is_holder_hash(&got));
        assert_eq!(got, expected);
        assert_eq!(key(1).hash(" 11010519491231002x\n"), got);
        assert_ne!(key(1).hash("110105194912310021"), got);
        // Without the key the hash cannot be recomputed: another key gives another hash.
        assert_ne!(key(2).hash("11010519491231002X"), got);
    }

    #[test]
    fn a_lookup_by_card_hashes_under_every_key_current_first() {
        let keys = HolderKeys {
            keys: vec![key(2), key(1)],
        };
        let hashes = keys.all_hashes("11010519491231002X");
        assert_eq!(
            hashes,
            vec![
                key(2).hash("11010519491231002X"),
                key(1).hash("11010519491231002X")
            ]
        );
        assert_eq!(keys.current().map(|k| k.id.as_str()), Some("k2"));
        let json = serde_json::to_string(&keys).unwrap();
        let back: HolderKeys = serde_json::from_str(&json).unwrap();
        assert_eq!(back, keys);
        assert!(
            !format!("{keys:?}").contains("AQEB"),
            "Debug must not print the secret"
        );
        assert!(serde_json::from_str::<HolderKey>(r#"{"id":"x","secret":"AQID"}"#).is_err());
    }

    proptest::proptest! {
        #[test]
        fn shape_checks_never_panic_and_accept_only_ascii(text in "\\PC{0,40}") {
            if is_id_number(&text) || is_application_no(&text) || is_holder_hash(&text) {
                proptest::prop_assert!(text.is_ascii());
            }
            let _ = is_category_code(&text);
        }

        #[test]
        fn every_well_formed_id_number_hashes_to_a_holder_hash(digits in "[0-9]{17}[0-9Xx]") {
            proptest::prop_assert!(is_id_number(&digits));
            proptest::prop_assert!(is_holder_hash(&key(7).hash(&digits)));
        }
    }

    #[test]
    fn id_numbers_are_seventeen_digits_and_a_check_character() {
        assert!(is_id_number("11010519491231002X"));
        assert!(is_id_number("110105194912310021"));
        // 16 digits and a two-byte character: 18 bytes, but not an ID number.
        assert!(!is_id_number("1101051949123100é"));
        assert!(!is_id_number("11010519491231002Y"));
        assert!(!is_id_number("1101051949123100"));
    }

    #[test]
    fn business_dates_roll_over_at_midnight_hall_time_not_utc() {
        let before: DateTime<Utc> = "2026-11-26T15:59:59Z".parse().unwrap();
        let after: DateTime<Utc> = "2026-11-26T16:00:00Z".parse().unwrap();
        assert_eq!(before.date_naive(), after.date_naive());
        assert_eq!(business_date_at(before).to_string(), "2026-11-26");
        assert_eq!(business_date_at(after).to_string(), "2026-11-27");
    }

    #[test]
    fn payloads_round_trip_as_the_contract_spells_them() {
        let issued = TicketIssued {
            ticket_no: ticket_no("A", 12),
            category: "A".into(),
            number: 12,
            business_date: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            priority: TicketPriority::Senior,
            source: format!("lease:{}", Uuid::nil()),
            issued_at: "2026-11-26T01:02:03Z".parse().unwrap(),
            holder_hash: None,
            appointment_id: None,
            unconfirmed: false,
            live_token: None,
        };
        let json = issued.to_payload();
        assert_eq!(json["ticket_no"], "A012");
        assert_eq!(json["priority"], "senior");
        assert_eq!(json["business_date"], "2026-11-26");
        assert_eq!(TicketIssued::from_payload(&json).unwrap(), issued);
        // An older kiosk's ticket has no live token and a newer one's is sent as made.
        assert!(json.get("live_token").is_none());
        let with_token = TicketIssued {
            live_token: Some("0123456789abcdef0123456789abcdef".into()),
            ..issued.clone()
        };
        assert_eq!(
            TicketIssued::from_payload(&with_token.to_payload()).unwrap(),
            with_token
        );
        assert!(is_live_token("0123456789abcdef0123456789abcdef"));
        assert!(!is_live_token("0123456789ABCDEF0123456789abcdef"));
        assert!(!is_live_token("../../etc/passwd"));
        assert_eq!(
            rating_subject::ticket("A012", issued.business_date),
            "ticket:A012:2026-11-26"
        );
        let status: ApplicationStatus = "ready_for_pickup".parse().unwrap();
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            serde_json::json!("ready_for_pickup")
        );
        assert!("lost".parse::<ApplicationStatus>().is_err());
        assert!(is_category_code("A") && !is_category_code("a") && !is_category_code(""));
    }
}
