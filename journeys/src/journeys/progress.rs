//! 进度查询: by card tap or application number; the timeline comes from central, or from the
//! cache with "as of <time>" when offline.

use kiosk_api::citizen::is_application_no;

use super::rating::type_key;
use super::{Cx, Effect, Input, Journey, Notice, Outcome, ProgressQuery};
use crate::model::{Command, JourneyKind, Page, ProgressView, Text};

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

    fn on(&mut self, input: Input, _cx: &Cx<'_>) -> Vec<Effect> {
        match (&mut self.state, input) {
            (State::Ask { value, error }, Input::Command(Command::Key { key })) => {
                type_key(value, key, 22);
                *error = None;
                Vec::new()
            }
            (State::Ask { value, error }, Input::Command(Command::Confirm)) => {
                let typed = value.trim().to_uppercase();
                if is_application_no(&typed) {
                    self.fetch(ProgressQuery::Number(typed))
                } else {
                    *error = Some(Text::new(
                        "申请编号格式为 8位-日期-4位，如 0193A1B2-20261126-0007",
                        "An application number looks like 0193A1B2-20261126-0007",
                    ));
                    Vec::new()
                }
            }
            (State::Ask { .. }, Input::CardTapped(holder)) => {
                self.fetch(ProgressQuery::Holder(holder.holder_hash.clone()))
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

    fn can_go_back(&self) -> bool {
        matches!(self.state, State::Shown { .. } | State::Failed(_))
    }

    fn wants_card(&self) -> bool {
        matches!(self.state, State::Ask { .. })
    }
}
