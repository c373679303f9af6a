//! 进度查询: by card tap or application number; the timeline comes from central, or from the
//! cache with "as of <time>" when offline. Application numbers are digits only, so the
//! keypad has no letters; a mistyped digit is caught by the number's check digit.

use kiosk_api::ApplicationNo;
use kiosk_api::numbers::NumberError;

use super::{Cx, Effect, Input, Journey, Notice, Outcome, ProgressQuery, no_card_lookup};
use crate::model::{Command, JourneyKind, KeypadKey, Page, ProgressView, Text};

#[derive(Debug)]
enum State {
    Ask {
        value: String,
        error: Option<Text>,
    },
    Fetching,
    Shown {
        applications: Vec<ProgressView>,
        as_of: Option<Text>,
    },
    Failed(Notice),
}

/// The progress journey.
#[derive(Debug)]
pub struct Progress {
    state: State,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

/// Applies a key of the digit keypad (letters and dashes are not part of an application
/// number and are ignored).
pub fn type_digit(value: &mut String, key: KeypadKey, max: usize) {
    match key {
        KeypadKey::Digit(d) if d <= 9 && value.len() < max => value.push(char::from(b'0' + d)),
        KeypadKey::Backspace => {
            value.pop();
        }
        KeypadKey::Clear => value.clear(),
        _ => {}
    }
}

/// Why a typed application number is refused, in plain words.
pub fn number_error(error: &NumberError) -> Text {
    match error {
        NumberError::Shape => Text::new(
            "申请编号为17位数字，见受理回执",
            "An application number is the 17 digits on your receipt",
        ),
        NumberError::CheckDigit => Text::new(
            "申请编号有误（某位数字输错或顺序颠倒），请核对回执",
            "That number is not right (a digit is wrong or two are swapped); check your receipt",
        ),
        _ => Text::new(
            "这不是有效的申请编号，请核对回执",
            "That is not a valid application number; check your receipt",
        ),
    }
}

impl Progress {
    /// Asking for a number or a card.
    pub fn new() -> Progress {
        Progress {
            state: State::Ask {
                value: String::new(),
                error: None,
            },
        }
    }

    fn fetch(&mut self, query: ProgressQuery) -> Vec<Effect> {
        self.state = State::Fetching;
        vec![Effect::FetchProgress(query)]
    }
}

impl Journey for Progress {
    fn kind(&self) -> JourneyKind {
        JourneyKind::Progress
    }

    fn on(&mut self, input: Input, cx: &Cx<'_>) -> Vec<Effect> {
        match (&mut self.state, input) {
            (State::Ask { value, error }, Input::Command(Command::Key { key })) => {
                type_digit(value, key, ApplicationNo::DIGITS);
                *error = None;
                Vec::new()
            }
            (State::Ask { value, error }, Input::Command(Command::Confirm)) => {
                match ApplicationNo::parse(value) {
                    Ok(no) => self.fetch(ProgressQuery::Number(no)),
                    Err(e) => {
                        *error = Some(number_error(&e));
                        Vec::new()
                    }
                }
            }
            (State::Ask { error, .. }, Input::CardTapped(holder)) => {
                if holder.lookup_hashes().is_empty() {
                    *error = Some(no_card_lookup(
                        cx,
                        "输入回执上的申请编号",
                        "type the number on your receipt",
                    ));
                    return Vec::new();
                }
                let hashes = holder.lookup_hashes().to_vec();
                self.fetch(ProgressQuery::Holder(hashes))
            }
            (State::Fetching, Input::Outcome(Outcome::Progress(result))) => {
                self.state = match result {
                    Ok((applications, as_of)) => State::Shown {
                        applications,
                        as_of,
                    },
                    Err(notice) => State::Failed(notice),
                };
                Vec::new()
            }
            (State::Shown { .. } | State::Failed(_), Input::Command(Command::Back)) => {
                self.state = State::Ask {
                    value: String::new(),
                    error: None,
                };
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn page(&self, _cx: &Cx<'_>) -> Page {
        match &self.state {
            State::Ask { value, error } => Page::EnterNumber {
                value: value.clone(),
                error: error.clone(),
                letters: false,
            },
            State::Fetching => Page::Working {
                what: Text::new("正在查询", "Looking it up"),
            },
            State::Shown {
                applications,
                as_of,
            } => Page::Progress {
                applications: applications.clone(),
                as_of: as_of.clone(),
            },
            State::Failed(notice) => notice.page(false),
        }
    }

    fn prompt(&self) -> Text {
        match self.state {
            State::Ask { .. } => Text::new(
                "请输入申请编号，或刷身份证查询",
                "Type your application number, or tap your ID card",
            ),
            State::Fetching => Text::default(),
            State::Shown { .. } => Text::new("以下是办理进度", "Here is the progress"),
            State::Failed(_) => Text::new("未查到办理记录", "No application found"),
        }
    }

    fn spoken(&self, _cx: &Cx<'_>) -> Text {
        match &self.state {
            // The newest application's status is what the citizen asked; its number is
            // personal and is not said.
            State::Shown { applications, .. } => match applications.first() {
                Some(a) if applications.len() == 1 => Text::new(
                    format!("您申请的{}，当前状态：{}", a.matter.zh, a.status.zh),
                    format!("Your application for {}: {}.", a.matter.en, a.status.en),
                ),
                Some(a) => Text::new(
                    format!(
                        "查到 {} 件申请。最新一件是{}，当前状态：{}",
                        applications.len(),
                        a.matter.zh,
                        a.status.zh
                    ),
                    format!(
                        "{} applications found. The newest, for {}: {}.",
                        applications.len(),
                        a.matter.en,
                        a.status.en
                    ),
                ),
                None => self.prompt(),
            },
            _ => self.prompt(),
        }
    }

    fn can_go_back(&self) -> bool {
        matches!(self.state, State::Shown { .. } | State::Failed(_))
    }

    fn wants_card(&self) -> bool {
        matches!(self.state, State::Ask { .. })
    }
}
