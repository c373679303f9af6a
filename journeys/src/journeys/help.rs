//! 呼叫帮助: sends a help request (stream `help`, priority 0) that hall staff see at once.

use super::{Cx, Effect, Input, Journey, Outcome};
use crate::model::{Command, JourneyKind, Page, Text};

/// The call-for-help journey: it sends at once and then says where help comes from.
#[derive(Debug)]
pub struct Help {
    sent: Option<bool>,
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
            sent: None,
            page: page.to_owned(),
        }
    }
}

impl Journey for Help {
    fn kind(&self) -> JourneyKind {
        JourneyKind::Help
    }

    fn on(&mut self, input: Input, _cx: &Cx<'_>) -> Vec<Effect> {
        match (&self.sent, input) {
            (None, Input::Command(Command::Confirm | Command::CallHelp)) => {
                self.sent = Some(false);
                vec![Effect::CallHelp {
                    page: self.page.clone(),
                }]
            }
            (Some(false), Input::Outcome(Outcome::HelpSent)) => {
                self.sent = Some(true);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn page(&self, cx: &Cx<'_>) -> Page {
        match self.sent {
            Some(true) => Page::Notice {
                title: Text::new("已通知工作人员", "Staff have been called"),
                message: Text::new(
                    "工作人员马上过来，请在此稍候；也可前往咨询台",
                    "Someone is on the way; please wait here, or go to the information desk",
                ),
                window: Some(cx.help_window.clone()),
                failure: false,
            },
            _ => Page::Working {
                what: Text::new("正在呼叫工作人员", "Calling staff"),
            },
        }
    }

    fn prompt(&self) -> Text {
        Text::new(
            "已通知工作人员，请稍候",
            "Staff have been called, please wait",
        )
    }

    fn can_go_back(&self) -> bool {
        false
    }
}
