//! The view model the UI binds to: plain data, bilingual texts, no Slint types.
//!
//! The engine publishes one [`Screen`] at a time through a `watch` channel; the UI shows its
//! [`Page`] and sends [`Command`]s back. Every word a citizen reads is in the model in both
//! languages ([`Text`]), so the UI never invents wording and the voice prompts say the same.

use serde::{Deserialize, Serialize};

/// A text in Chinese and English. The UI shows the one of the session's language.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Text {
    /// Simplified Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Text {
    /// A text from its two languages.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The same words in both languages (a number, a code).
    pub fn same(text: impl Into<String>) -> Text {
        let text = text.into();
        Text {
            zh: text.clone(),
            en: text,
        }
    }

    /// The text in `language`.
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Zh => &self.zh,
            Language::En => &self.en,
        }
    }
}

/// The session's language: the one [`kiosk_api::citizen::Language`] events carry.
pub use kiosk_api::citizen::Language;

/// The citizen journeys, one tile each on the home page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyKind {
    /// 取号: take a queue number.
    TakeNumber,
    /// 预约签到: appointment check-in.
    CheckIn,
    /// 办事指南: service guide.
    Guide,
    /// 自助申报: apply for a matter.
    Apply,
    /// 进度查询: check progress.
    Progress,
    /// 好差评: rate a service.
    Rate,
    /// 呼叫帮助: call for help.
    Help,
}

impl JourneyKind {
    /// Every journey, in tile order.
    pub const ALL: [JourneyKind; 7] = [
        JourneyKind::TakeNumber,
        JourneyKind::CheckIn,
        JourneyKind::Guide,
        JourneyKind::Apply,
        JourneyKind::Progress,
        JourneyKind::Rate,
        JourneyKind::Help,
    ];

    /// The tile's title.
    pub fn title(self) -> Text {
        match self {
            JourneyKind::TakeNumber => Text::new("取号", "Take a number"),
            JourneyKind::CheckIn => Text::new("预约签到", "Appointment check-in"),
            JourneyKind::Guide => Text::new("办事指南", "Service guide"),
            JourneyKind::Apply => Text::new("自助申报", "Apply"),
            JourneyKind::Progress => Text::new("进度查询", "Check progress"),
            JourneyKind::Rate => Text::new("好差评", "Rate our service"),
            JourneyKind::Help => Text::new("呼叫帮助", "Call for help"),
        }
    }

    /// Machine name, used in help events and logs (`take_number`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JourneyKind::TakeNumber => "take_number",
            JourneyKind::CheckIn => "check_in",
            JourneyKind::Guide => "guide",
            JourneyKind::Apply => "apply",
            JourneyKind::Progress => "progress",
            JourneyKind::Rate => "rate",
            JourneyKind::Help => "help",
        }
    }
}

/// What the citizen (through the UI) or the technician asks of the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// A home tile was touched: start that journey (ends any session under way).
    Start {
        /// Which journey.
        journey: JourneyKind,
    },
    /// One of the page's [`Choice`]s was touched, by its `id`.
    Choose {
        /// [`Choice::id`].
        id: String,
    },
    /// A form field or the number entry got focus (the keypad now types into it).
    Focus {
        /// [`FormField::key`], or `number` on the progress number entry.
        key: String,
    },
    /// A key of the on-screen keypad.
    Key {
        /// The key.
        key: KeypadKey,
    },
    /// The guide's search box changed (Chinese, pinyin initials or English).
    Search {
        /// What is typed so far.
        query: String,
    },
    /// The optional note of a bad rating (typed on the UI's keyboard; may be empty).
    Note {
        /// The note.
        text: String,
    },
    /// The page's main button: continue, confirm, submit, print, scan.
    Confirm,
    /// Skip an optional step (no card for a ticket; a material the citizen does not have).
    Skip,
    /// One step back.
    Back,
    /// The citizen ends the session (the home button): wipes personal data.
    Cancel,
    /// The UI's inactivity prompt ran out: wipes personal data like [`Command::Cancel`].
    Timeout,
    /// "Call for help" from any page.
    CallHelp,
    /// Language switch; voice prompts follow it.
    SetLanguage {
        /// The new language.
        language: Language,
    },
    /// Elder mode switch (voice is on by default in elder mode).
    SetElderMode {
        /// On or off.
        on: bool,
    },
    /// Voice prompts on or off for this session.
    SetVoice {
        /// On or off.
        on: bool,
    },
    /// Technician: print a test ticket on the dispenser (no number is used).
    TestTicket,
}

/// A key of the on-screen keypad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "key", content = "value")]
pub enum KeypadKey {
    /// `0`..`9`.
    Digit(u8),
    /// An upper-case letter `A`..`Z` (the category letter of a ticket number, `A012`).
    Letter(char),
    /// A `-`; application numbers no longer have one, so it is ignored (kept so that an
    /// older UI's keypad still maps).
    Dash,
    /// Delete the last character.
    Backspace,
    /// Clear the field.
    Clear,
}

/// What the UI shows now. Published whole on every change.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Screen {
    /// Increases with every publication, so the UI can tell a re-render from a new page.
    pub revision: u64,
    /// The journey under way, `None` on the home page.
    pub journey: Option<JourneyKind>,
    /// The page.
    pub page: Page,
    /// The session's language.
    pub language: Language,
    /// Elder mode: larger targets, voice on by default.
    pub elder_mode: bool,
    /// Whether voice prompts are spoken.
    pub voice: bool,
    /// A short prompt for this page, shown in its title row (never personal data).
    pub prompt: Text,
    /// The page's key sentence, which the voice says when the page comes and again on
    /// 再听一遍: the prompt, or on a result page what the citizen came for ("您的号码是 B012，
    /// 前面还有 11 人…"). Never personal data: a ticket number is said, a name or an
    /// application number never.
    #[serde(default)]
    pub spoken: Text,
    /// Whether "back" makes sense on this page.
    pub can_go_back: bool,
    /// A banner under the header: offline, paper low, a help request sent.
    pub banner: Option<Text>,
}

/// A touchable option: a category, a matter, an answer, a rating level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Sent back in [`Command::Choose`].
    pub id: String,
    /// The main label.
    pub label: Text,
    /// A second line (windows, waiting people, department).
    pub detail: Option<Text>,
    /// Whether it can be touched; greyed out otherwise.
    pub enabled: bool,
    /// Shown as selected (multi-choice reasons, the chosen form answer).
    pub selected: bool,
}

impl Choice {
    /// An enabled, unselected choice.
    pub fn new(id: impl Into<String>, label: Text) -> Choice {
        Choice {
            id: id.into(),
            label,
            detail: None,
            enabled: true,
            selected: false,
        }
    }

    /// With a second line.
    pub fn with_detail(mut self, detail: Text) -> Choice {
        self.detail = Some(detail);
        self
    }
}

/// A home tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tile {
    /// The journey it starts.
    pub journey: JourneyKind,
    /// Its title.
    pub title: Text,
    /// Whether it can be started.
    pub enabled: bool,
    /// Why not, in plain words with the window to go to.
    pub reason: Option<Text>,
}

/// Which journeys can run now, and why the others cannot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Availability {
    /// One tile per journey.
    pub tiles: Vec<Tile>,
    /// The kiosk's devices as last seen, for the status strip and the technician.
    pub devices: Vec<DeviceStatus>,
    /// Whether central answered lately.
    pub online: bool,
    /// Whether the disk budget still admits new records.
    pub accepting_records: bool,
}

impl Availability {
    /// Whether `journey` can be started.
    pub fn allows(&self, journey: JourneyKind) -> bool {
        self.tiles
            .iter()
            .find(|t| t.journey == journey)
            .is_none_or(|t| t.enabled)
    }
}

/// One device as the status strip shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// Which device (`id_card_reader`, `printer`, `dispenser`, `scanner` on the wire).
    pub kind: kiosk_hal::DeviceKind,
    /// Usable (ready or degraded).
    pub usable: bool,
    /// The technician's detail (no personal data).
    pub detail: String,
    /// Where the device is attached, as its driver names it: `usb 0400:c35a`,
    /// `/dev/kiosk/printer (9600 baud)`, `tcp://10.1.2.3:9100`, a SANE name.
    #[serde(default)]
    pub location: String,
}

/// A field of an application form, as the form page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// The catalog's field key.
    pub key: String,
    /// Label.
    pub label: Text,
    /// Must be filled.
    pub required: bool,
    /// How it is entered.
    pub input: FieldInput,
    /// What is entered so far (digits) or the chosen choice id.
    pub value: String,
    /// Whether it is the field the keypad types into.
    pub focused: bool,
    /// What is wrong with the value, shown under the field.
    pub error: Option<Text>,
}

/// How a form field is entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FieldInput {
    /// Digit keypad, exactly `length` digits.
    Digits {
        /// Number of digits.
        length: u32,
    },
    /// One of these (ids are `"0"`, `"1"`, ...; [`Command::Choose`] with `<key>=<id>`).
    Choice {
        /// The choices.
        choices: Vec<Choice>,
    },
}

/// One line of a matter's materials list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialLine {
    /// Material id in the catalog.
    pub id: String,
    /// Its name.
    pub name: Text,
    /// Originals to show.
    pub originals: u32,
    /// Copies to hand in.
    pub copies: u32,
    /// Required.
    pub required: bool,
    /// Note (e.g. can be taken on site).
    pub note: Option<Text>,
}

/// Everything the guide shows about a matter (办事指南).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatterGuide {
    /// Matter id.
    pub id: String,
    /// Name.
    pub name: Text,
    /// Kind (行政许可, 公共服务, ...).
    pub kind: Text,
    /// Responsible department.
    pub department: Text,
    /// Conditions (申请条件).
    pub conditions: Vec<Text>,
    /// Materials with originals and copies (申请材料).
    pub materials: Vec<MaterialLine>,
    /// Legal basis (设定依据), Chinese only in the catalog.
    pub basis: Vec<Text>,
    /// Statutory time limit (法定时限).
    pub statutory_limit: Text,
    /// Promised time limit (承诺时限).
    pub promised_limit: Text,
    /// Fees (收费标准).
    pub fee: Text,
    /// Where to go (办理窗口).
    pub window: Text,
    /// Whether it can be applied for at this kiosk.
    pub self_apply: bool,
    /// Whether it needs an appointment.
    pub appointment: bool,
}

/// How a scanned page fared in the page checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageCheckView {
    /// 1-based page of this material.
    pub page: u32,
    /// Accepted.
    pub accepted: bool,
    /// What failed, in plain words (blank, too dark, too light, skewed by N°).
    pub problems: Vec<Text>,
}

/// One entry of an application's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineLine {
    /// When (hall local time, `YYYY-MM-DD HH:MM`).
    pub at: String,
    /// Status label.
    pub status: Text,
    /// Note from the department.
    pub note: Text,
}

/// One application's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressView {
    /// Application number, grouped as on the receipt (`0012 03 261201 0007 5`).
    pub application_no: String,
    /// Matter name.
    pub matter: Text,
    /// Current status.
    pub status: Text,
    /// Oldest first.
    pub timeline: Vec<TimelineLine>,
}

/// A printed ticket, as the result page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketView {
    /// `A012`.
    pub ticket_no: String,
    /// Category name.
    pub category: Text,
    /// Windows serving it.
    pub window: Text,
    /// People ahead.
    pub ahead: u32,
    /// Estimated wait in minutes.
    pub wait_minutes: u32,
    /// Priority lane (绿色通道) and why, if any.
    pub priority: Option<Text>,
    /// Set when the queue figures are the last known ones (offline): "as of 10:42", with
    /// the date when they are not today's; or, with no figures for today at all, that the
    /// count covers only this kiosk's tickets.
    pub stale_note: Option<Text>,
}

/// The page being shown. One variant per kind of screen; H4 binds one Slint page to each.
// Published whole a few times per touch; boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "page")]
pub enum Page {
    /// Home: the journey tiles (from [`Availability`]).
    #[default]
    Home,
    /// "Place your ID card on the reader". `optional`: the page offers [`Command::Skip`].
    TapCard {
        /// Why the card is asked for.
        purpose: Text,
        /// Whether the journey can go on without a card.
        optional: bool,
        /// A failed read, wrong card kind, ...
        error: Option<Text>,
    },
    /// Pick one of `choices` ([`Command::Choose`]); used for categories, matters, declared
    /// priority, rating levels.
    Choose {
        /// The question.
        title: Text,
        /// The options.
        choices: Vec<Choice>,
    },
    /// Something is under way (printing, reading, sending); no input expected.
    Working {
        /// What.
        what: Text,
    },
    /// A ticket was printed.
    Ticket {
        /// The ticket.
        ticket: TicketView,
    },
    /// A plain message ending a journey or a step: no appointment, too early, a print
    /// failure (with the window to go to), already rated, help is coming.
    Notice {
        /// Headline.
        title: Text,
        /// The explanation.
        message: Text,
        /// Where to go, if the citizen needs a person.
        window: Option<Text>,
        /// Whether it is a failure (red) or information.
        failure: bool,
    },
    /// The guide: categories, search box and matching matters.
    GuideBrowse {
        /// Category filters; the selected one is marked.
        categories: Vec<Choice>,
        /// The search text.
        query: String,
        /// Matching matters (`Choose` opens one).
        matters: Vec<Choice>,
    },
    /// One matter's guide; [`Command::Confirm`] prints the slip.
    GuideMatter {
        /// The guide.
        guide: MatterGuide,
    },
    /// An application form. [`Command::Confirm`] goes on when every field is valid.
    Form {
        /// The matter.
        matter: Text,
        /// Fields, in the catalog's order.
        fields: Vec<FormField>,
        /// Fields that would need Chinese free text: not asked at the kiosk, filled at the
        /// window (the catalog may define none).
        window_only: Vec<Text>,
    },
    /// Scanning one material. [`Command::Confirm`] scans (again); [`Command::Skip`] says the
    /// citizen does not have it.
    Scan {
        /// The material.
        material: MaterialLine,
        /// Which of how many materials.
        index: u32,
        /// Of how many.
        total: u32,
        /// Bytes read of the current page, if scanning.
        progress: Option<u32>,
        /// Pages checked so far for this material.
        pages: Vec<PageCheckView>,
        /// A scanner error, in plain words.
        error: Option<Text>,
    },
    /// Review before submitting.
    Review {
        /// Matter.
        matter: Text,
        /// Masked applicant name.
        applicant: String,
        /// Label and value of every field.
        answers: Vec<(Text, Text)>,
        /// Materials and their page counts.
        materials: Vec<(Text, u32)>,
    },
    /// Submitted and the receipt printed.
    Receipt {
        /// The application number, grouped for reading aloud and copying by hand
        /// (`0012 03 261201 0007 5`, [`kiosk_api::ApplicationNo::grouped`]).
        application_no: String,
        /// Matter.
        matter: Text,
        /// Promised time limit.
        promised: Text,
        /// Whether the printer printed the receipt; if not, the number is on screen only.
        printed: bool,
    },
    /// Materials missing: the 一次性告知 list was printed instead of submitting.
    MissingMaterials {
        /// Matter.
        matter: Text,
        /// Everything still needed.
        missing: Vec<MaterialLine>,
        /// Whether the list was printed.
        printed: bool,
    },
    /// Entering an application number on the keypad (or tap a card instead).
    EnterNumber {
        /// What is typed so far.
        value: String,
        /// Why it was refused.
        error: Option<Text>,
        /// Whether the keypad offers letter keys: true for the rating tile (ticket numbers
        /// such as `A012`), false for progress (application numbers are 17 digits only).
        letters: bool,
    },
    /// Progress of one or more applications.
    Progress {
        /// Applications, newest first.
        applications: Vec<ProgressView>,
        /// Set when offline: "as of <time>".
        as_of: Option<Text>,
    },
    /// Reasons for a bad rating (multi-select) and the optional note.
    RatingReasons {
        /// Level given (1 or 2).
        level: u8,
        /// Reason choices; touched ones are `selected`.
        reasons: Vec<Choice>,
        /// The note so far.
        note: String,
    },
    /// Thanks for rating.
    Thanks {
        /// What was rated.
        subject: Text,
    },
}
