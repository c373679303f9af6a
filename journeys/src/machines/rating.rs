//! 好差评: five levels; a level of 2 or less asks for reasons (choices and an optional note).
//! One rating per ticket or application: the store refuses a second.

use kiosk_api::ApplicationNo;
use kiosk_api::citizen::{RatingGiven, rating_subject};

use super::{Cx, Effect, Input, Journey, Notice, Outcome};
use crate::model::{Choice, Command, JourneyKind, KeypadKey, Page, Text};

// One list of levels and reasons for every device that rates (the kiosk, a window's tablet).
pub use kiosk_api::citizen::{RATING_LEVELS as LEVELS, RATING_REASONS as REASONS};

#[derive(Debug)]
enum State {
    /// From the tile: type the ticket or application number.
    EnterSubject {
        value: String,
        error: Option<Text>,
    },
    Level,
    Reasons {
        level: u8,
        reasons: Vec<String>,
        note: String,
    },
    Sending,
    Done,
    Refused(Notice),
}

/// The rating journey.
#[derive(Debug)]
pub struct Rating {
    subject: Option<String>,
    label: Text,
    matter_code: Option<String>,
    state: State,
}

impl Rating {
    /// From its own tile: asks what is rated first.
    pub fn from_tile() -> Rating {
        Rating {
            subject: None,
            label: Text::default(),
            matter_code: None,
            state: State::EnterSubject {
                value: String::new(),
                error: None,
            },
        }
    }

    /// Right after a service: the subject is known.
    pub fn for_subject(subject: String, label: Text, matter_code: Option<String>) -> Rating {
        Rating {
            subject: Some(subject),
            label,
            matter_code,
            state: State::Level,
        }
    }

    fn send(&mut self, level: u8, reasons: Vec<String>, note: Option<String>) -> Vec<Effect> {
        let Some(subject) = self.subject.clone() else {
            return Vec::new();
        };
        self.state = State::Sending;
        vec![Effect::Rate(RatingGiven {
            subject,
            level,
            reasons,
            note: note.filter(|n| !n.trim().is_empty()),
            matter_code: self.matter_code.clone(),
        })]
    }
}

/// The subject for what the citizen typed: a ticket number (`A012`, today) or an
/// application number. `None` if it is neither.
pub fn subject_for(typed: &str, cx: &Cx<'_>) -> Option<(String, Text)> {
    let typed = typed.trim().to_uppercase();
    if let Ok(no) = ApplicationNo::parse(&typed) {
        let grouped = no.grouped();
        return Some((
            rating_subject::application(&no.to_string()),
            Text::new(format!("申请 {grouped}"), format!("application {grouped}")),
        ));
    }
    let letters: String = typed
        .chars()
        .take_while(|c| c.is_ascii_uppercase())
        .collect();
    let digits = &typed[letters.len()..];
    if kiosk_api::citizen::is_category_code(&letters)
        && crate::catalog::category(cx.catalog, &letters).is_some()
        && (1..=3).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        let number: u32 = digits.parse().ok()?;
        let no = kiosk_api::citizen::ticket_no(&letters, number);
        return Some((
            rating_subject::ticket(&no, cx.today()),
            Text::new(format!("{no}号"), format!("ticket {no}")),
        ));
    }
    None
}

/// Applies a keypad key to a typed value (at most `max` characters).
pub fn type_key(value: &mut String, key: KeypadKey, max: usize) {
    match key {
        KeypadKey::Digit(d) if d <= 9 && value.len() < max => value.push(char::from(b'0' + d)),
        KeypadKey::Letter(c) if c.is_ascii_alphabetic() && value.len() < max => {
            value.push(c.to_ascii_uppercase())
        }
        KeypadKey::Backspace => {
            value.pop();
        }
        KeypadKey::Clear => value.clear(),
        _ => {}
    }
}

impl Journey for Rating {
    fn kind(&self) -> JourneyKind {
        JourneyKind::Rate
    }

    fn on(&mut self, input: Input, cx: &Cx<'_>) -> Vec<Effect> {
        match (&mut self.state, input) {
            (State::EnterSubject { value, error }, Input::Command(Command::Key { key })) => {
                type_key(value, key, 22);
                *error = None;
                Vec::new()
            }
            (State::EnterSubject { value, error }, Input::Command(Command::Confirm)) => {
                match subject_for(value, cx) {
                    Some((subject, label)) => {
                        self.subject = Some(subject);
                        self.label = label;
                        self.state = State::Level;
                    }
                    None => {
                        *error = Some(Text::new(
                            "请输入号票上的号码（如A012）或回执上的17位申请编号",
                            "Type the number on your ticket (e.g. A012) or the 17-digit number on your receipt",
                        ))
                    }
                }
                Vec::new()
            }
            (State::Level, Input::Command(Command::Choose { id })) => {
                let Some(level) = id.parse::<u8>().ok().filter(|l| (1..=5).contains(l)) else {
                    return Vec::new();
                };
                if level <= 2 {
                    self.state = State::Reasons {
                        level,
                        reasons: Vec::new(),
                        note: String::new(),
                    };
                    Vec::new()
                } else {
                    self.send(level, Vec::new(), None)
                }
            }
            (State::Reasons { reasons, .. }, Input::Command(Command::Choose { id })) => {
                if REASONS.iter().any(|(code, _, _)| *code == id) {
                    if let Some(i) = reasons.iter().position(|r| *r == id) {
                        reasons.remove(i);
                    } else {
                        reasons.push(id);
                    }
                }
                Vec::new()
            }
            (State::Reasons { note, .. }, Input::Command(Command::Note { text })) => {
                *note = text.chars().take(200).collect();
                Vec::new()
            }
            (
                State::Reasons {
                    level,
                    reasons,
                    note,
                },
                Input::Command(Command::Confirm),
            ) => {
                if reasons.is_empty() {
                    return Vec::new();
                }
                let (level, reasons, note) = (*level, reasons.clone(), note.clone());
                self.send(level, reasons, Some(note))
            }
            (State::Reasons { .. }, Input::Command(Command::Back)) => {
                self.state = State::Level;
                Vec::new()
            }
            (State::Sending, Input::Outcome(Outcome::Rated(result))) => {
                self.state = match result {
                    Ok(()) => State::Done,
                    Err(notice) => State::Refused(notice),
                };
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn page(&self, _cx: &Cx<'_>) -> Page {
        match &self.state {
            State::EnterSubject { value, error } => Page::EnterNumber {
                value: value.clone(),
                error: error.clone(),
                letters: true,
            },
            State::Level => Page::Choose {
                title: Text::new(
                    format!("请对本次服务评价：{}", self.label.zh),
                    format!("How was our service? {}", self.label.en),
                ),
                choices: LEVELS
                    .iter()
                    .map(|(l, zh, en)| Choice::new(l.to_string(), Text::new(*zh, *en)))
                    .collect(),
            },
            State::Reasons {
                level,
                reasons,
                note,
            } => Page::RatingReasons {
                level: *level,
                reasons: REASONS
                    .iter()
                    .map(|(code, zh, en)| Choice {
                        selected: reasons.iter().any(|r| r == code),
                        ..Choice::new(*code, Text::new(*zh, *en))
                    })
                    .collect(),
                note: note.clone(),
            },
            State::Sending => Page::Working {
                what: Text::new("正在提交评价", "Sending your rating"),
            },
            State::Done => Page::Thanks {
                subject: self.label.clone(),
            },
            State::Refused(notice) => notice.page(false),
        }
    }

    fn prompt(&self) -> Text {
        match self.state {
            State::EnterSubject { .. } => Text::new(
                "请输入号票号码或申请编号",
                "Type your ticket or application number",
            ),
            State::Level => Text::new("请对本次服务作出评价", "Please rate our service"),
            State::Reasons { .. } => {
                Text::new("请选择不满意的原因", "Please tell us what went wrong")
            }
            State::Sending => Text::default(),
            State::Done => Text::new("感谢您的评价", "Thank you for your rating"),
            State::Refused(_) => Text::new("该服务已评价过", "This service was already rated"),
        }
    }

    fn can_go_back(&self) -> bool {
        matches!(self.state, State::Reasons { .. })
    }
}
