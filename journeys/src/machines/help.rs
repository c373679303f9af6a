//! 呼叫帮助: sends a help request (stream `help`, priority 0) that hall staff see at once,
//! and says honestly how far it got: only queued in this kiosk (central unreachable, or not
//! sent yet), received by central, or acknowledged by a member of staff who is coming. While
//! it is only queued, nobody knows the citizen is waiting, so the page sends them to the
//! help desk now.

use uuid::Uuid;

use super::{Cx, Effect, HelpProgress, Input, Journey, Notice, Outcome};
use crate::model::{Command, JourneyKind, Page, Text};

#[derive(Debug)]
enum State {
    /// Nothing sent yet.
    Ready,
    /// Writing the request into the outbox.
    Sending,
    /// In the outbox; how far it got.
    Sent {
        event_id: Uuid,
        progress: HelpProgress,
    },
    /// Not even written down.
    Failed(Notice),
}

/// The call-for-help journey: it sends at once and then says where help comes from.
#[derive(Debug)]
pub struct Help {
    state: State,
    page: String,
}

impl Default for Help {
    fn default() -> Self {
        Self::new()
    }
}

impl Help {
    /// Not sent yet; called from the home tile.
    pub fn new() -> Help {
        Help::from_page("home")
    }

    /// Called from `page` (the page the citizen was on).
    pub fn from_page(page: &str) -> Help {
        Help {
            state: State::Ready,
            page: page.to_owned(),
        }
    }

    /// The request being followed, once it is in the outbox (the engine polls central for it
    /// while this journey is on screen).
    pub fn event_id(&self) -> Option<Uuid> {
        match &self.state {
            State::Sent { event_id, .. } => Some(*event_id),
            _ => None,
        }
    }

    /// Whether a member of staff has said they are coming (polling can stop).
    pub fn acknowledged(&self) -> bool {
        matches!(
            self.state,
            State::Sent {
                progress: HelpProgress::OnTheWay { .. },
                ..
            }
        )
    }
}

impl Journey for Help {
    fn kind(&self) -> JourneyKind {
        JourneyKind::Help
    }

    fn on(&mut self, input: Input, _cx: &Cx<'_>) -> Vec<Effect> {
        match (&mut self.state, input) {
            (State::Ready, Input::Command(Command::Confirm | Command::CallHelp)) => {
                self.state = State::Sending;
                vec![Effect::CallHelp {
                    page: self.page.clone(),
                }]
            }
            (State::Sending, Input::Outcome(Outcome::HelpSent(result))) => {
                self.state = match result {
                    Ok(event_id) => State::Sent {
                        event_id,
                        progress: HelpProgress::Queued,
                    },
                    Err(notice) => State::Failed(notice),
                };
                Vec::new()
            }
            (
                State::Sent { event_id, progress },
                Input::Outcome(Outcome::Help {
                    event_id: answered,
                    progress: now,
                }),
            ) if *event_id == answered => {
                // Once central has it, a failed poll (central unreachable again) does not
                // take back what staff already see.
                let keep = matches!(now, HelpProgress::Queued)
                    && !matches!(progress, HelpProgress::Queued);
                if !keep {
                    *progress = now;
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn page(&self, cx: &Cx<'_>) -> Page {
        let desk = &cx.help_window;
        match &self.state {
            State::Ready | State::Sending => Page::Working {
                what: Text::new("正在呼叫工作人员", "Calling staff"),
            },
            State::Sent {
                progress: HelpProgress::Queued,
                ..
            } => Page::Notice {
                title: Text::new(
                    "呼叫尚未送达工作人员",
                    "Your call has not reached the staff yet",
                ),
                message: Text::new(
                    format!(
                        "本终端暂时联系不上工作人员，呼叫已记录，恢复联网后会发出。请您现在直接前往{}",
                        desk.zh
                    ),
                    format!(
                        "The kiosk cannot reach the staff right now; your call is kept and goes out as soon as it can. Please go to {} now",
                        desk.en
                    ),
                ),
                window: Some(desk.clone()),
                failure: true,
            },
            State::Sent {
                progress: HelpProgress::Received,
                ..
            } => Page::Notice {
                title: Text::new("已通知工作人员", "Staff have been called"),
                message: Text::new(
                    format!("工作人员已收到呼叫，请在此稍候；也可前往{}", desk.zh),
                    format!(
                        "The staff have your call; please wait here, or go to {}",
                        desk.en
                    ),
                ),
                window: Some(desk.clone()),
                failure: false,
            },
            State::Sent {
                progress: HelpProgress::OnTheWay { by },
                ..
            } => {
                let (zh, en) = match by.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
                    Some(by) => (
                        format!("{by} 正在赶来，请在此稍候"),
                        format!("{by} is coming to you; please wait here"),
                    ),
                    None => ("请在此稍候".to_owned(), "Please wait here".to_owned()),
                };
                Page::Notice {
                    title: Text::new("工作人员已收到，正在赶来", "Staff are on their way"),
                    message: Text::new(zh, en),
                    window: None,
                    failure: false,
                }
            }
            State::Failed(notice) => notice.page(true),
        }
    }

    fn prompt(&self) -> Text {
        match &self.state {
            State::Ready | State::Sending => Text::default(),
            State::Sent {
                progress: HelpProgress::Queued,
                ..
            } => Text::new(
                "呼叫尚未送达，请直接前往咨询台",
                "Your call has not reached the staff; please go to the help desk",
            ),
            State::Sent {
                progress: HelpProgress::Received,
                ..
            } => Text::new(
                "已通知工作人员，请稍候",
                "Staff have been called, please wait",
            ),
            State::Sent {
                progress: HelpProgress::OnTheWay { .. },
                ..
            } => Text::new("工作人员正在赶来", "Staff are on their way"),
            State::Failed(notice) => notice.title.clone(),
        }
    }

    fn can_go_back(&self) -> bool {
        false
    }

    fn followed_help(&self) -> Option<Uuid> {
        self.event_id().filter(|_| !self.acknowledged())
    }
}
