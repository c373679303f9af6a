//! 取号: choose a category, optionally tap a card (priority lane, one ticket per person,
//! category and day), print the ticket.

use kiosk_api::citizen::TicketPriority;

use super::{Cx, Effect, Input, Journey, Notice, Outcome, TicketOrder};
use crate::holder::Holder;
use crate::model::{Choice, Command, JourneyKind, Page, Text, TicketView};

/// Age from which the card alone gives the priority lane.
pub const SENIOR_AGE: u32 = 60;

#[derive(Debug)]
enum State {
    ChooseCategory,
    TapCard { category: String },
    Declare { category: String, holder: Holder },
    Printing,
    Printed(TicketView),
    Failed(Notice),
}

/// The take-number journey.
#[derive(Debug)]
pub struct TakeNumber {
    state: State,
}

impl Default for TakeNumber {
    fn default() -> Self {
        Self::new()
    }
}

impl TakeNumber {
    /// At the category list.
    pub fn new() -> TakeNumber {
        TakeNumber {
            state: State::ChooseCategory,
        }
    }

    fn print(
        &mut self,
        category: String,
        priority: TicketPriority,
        holder: Option<Holder>,
    ) -> Vec<Effect> {
        self.state = State::Printing;
        vec![Effect::IssueTicket(TicketOrder {
            category,
            priority,
            holder,
            appointment_id: None,
        })]
    }
}

/// The priority lane's label on screen.
pub fn priority_label(priority: TicketPriority) -> Option<Text> {
    match priority {
        TicketPriority::Normal => None,
        TicketPriority::Senior => Some(Text::new(
            "绿色通道（60周岁以上）",
            "Priority lane (aged 60+)",
        )),
        TicketPriority::Pregnant => {
            Some(Text::new("绿色通道（孕妇）", "Priority lane (pregnancy)"))
        }
        TicketPriority::Disabled => Some(Text::new(
            "绿色通道（残疾人）",
            "Priority lane (disability)",
        )),
        TicketPriority::Appointment => Some(Text::new("预约优先", "Appointment")),
    }
}

impl Journey for TakeNumber {
    fn kind(&self) -> JourneyKind {
        JourneyKind::TakeNumber
    }

    fn on(&mut self, input: Input, cx: &Cx<'_>) -> Vec<Effect> {
        let state = std::mem::replace(&mut self.state, State::Printing);
        match (state, input) {
            (State::ChooseCategory, Input::Command(Command::Choose { id }))
                if crate::catalog::category(cx.catalog, &id).is_some() =>
            {
                self.state = State::TapCard { category: id };
                Vec::new()
            }
            (State::TapCard { category }, Input::Command(Command::Skip)) => {
                self.print(category, TicketPriority::Normal, None)
            }
            (State::TapCard { category }, Input::CardTapped(holder)) => {
                if holder.age_on(cx.today()) >= SENIOR_AGE {
                    self.print(category, TicketPriority::Senior, Some(holder))
                } else {
                    self.state = State::Declare { category, holder };
                    Vec::new()
                }
            }
            (State::TapCard { .. }, Input::Command(Command::Back)) => {
                self.state = State::ChooseCategory;
                Vec::new()
            }
            (State::Declare { category, holder }, Input::Command(Command::Choose { id })) => {
                let priority = match id.as_str() {
                    "pregnant" => TicketPriority::Pregnant,
                    "disabled" => TicketPriority::Disabled,
                    "none" => TicketPriority::Normal,
                    _ => {
                        self.state = State::Declare { category, holder };
                        return Vec::new();
                    }
                };
                self.print(category, priority, Some(holder))
            }
            (State::Declare { category, .. }, Input::Command(Command::Back)) => {
                self.state = State::TapCard { category };
                Vec::new()
            }
            (State::Printing, Input::Outcome(Outcome::Ticket(result))) => {
                self.state = match result {
                    Ok(ticket) => State::Printed(ticket),
                    Err(notice) => State::Failed(notice),
                };
                Vec::new()
            }
            (state, _) => {
                self.state = state;
                Vec::new()
            }
        }
    }

    fn page(&self, cx: &Cx<'_>) -> Page {
        match &self.state {
            State::ChooseCategory => Page::Choose {
                title: Text::new("请选择业务类别", "Choose a service"),
                choices: cx
                    .catalog
                    .categories
                    .iter()
                    .map(|c| {
                        let waiting = (cx.waiting)(&c.code);
                        let detail = match waiting {
                            Some(n) => Text::new(
                                format!("{} · 等候{}人", c.windows, n),
                                format!("{} · {} waiting", c.windows, n),
                            ),
                            None => Text::same(c.windows.clone()),
                        };
                        Choice::new(c.code.clone(), Text::new(&c.name_zh, &c.name_en))
                            .with_detail(detail)
                    })
                    .collect(),
            },
            State::TapCard { .. } => Page::TapCard {
                purpose: Text::new(
                    "刷身份证可享绿色通道（60周岁以上、孕妇、残疾人）；不刷卡请点“跳过”",
                    "Tap your ID card for the priority lane (60+, pregnancy, disability), or skip",
                ),
                optional: true,
                error: None,
            },
            State::Declare { .. } => Page::Choose {
                title: Text::new("是否需要绿色通道？", "Do you need the priority lane?"),
                choices: vec![
                    Choice::new("none", Text::new("不需要", "No")),
                    Choice::new("pregnant", Text::new("孕妇", "Pregnant")),
                    Choice::new("disabled", Text::new("残疾人", "Person with a disability")),
                ],
            },
            State::Printing => Page::Working {
                what: Text::new("正在出票，请稍候", "Printing your ticket"),
            },
            State::Printed(ticket) => Page::Ticket {
                ticket: ticket.clone(),
            },
            State::Failed(notice) => notice.page(true),
        }
    }

    fn prompt(&self) -> Text {
        match &self.state {
            State::ChooseCategory => Text::new("请选择业务类别", "Please choose a service"),
            State::TapCard { .. } => Text::new("请刷身份证，或点跳过", "Tap your ID card, or skip"),
            State::Declare { .. } => Text::new("是否需要绿色通道", "Do you need the priority lane"),
            State::Printing => Text::new("正在出票", "Printing"),
            State::Printed(t) => Text::new(
                format!("请取走您的号票，{}号", t.ticket_no),
                format!("Please take your ticket, number {}", t.ticket_no),
            ),
            State::Failed(n) => n.message.clone(),
        }
    }

    fn spoken(&self, _cx: &Cx<'_>) -> Text {
        match &self.state {
            // What the citizen came for, in one sentence: an elder who cannot read the screen
            // still leaves knowing the number, the window and the wait.
            State::Printed(t) => Text::new(
                format!(
                    "您的号码是 {}，请到{}办理，前面还有 {} 人，预计等候约 {} 分钟，请取走号票",
                    t.ticket_no, t.window.zh, t.ahead, t.wait_minutes
                ),
                format!(
                    "Your number is {}, at {}. {} people ahead of you, about {} minutes. Please take your ticket.",
                    t.ticket_no, t.window.en, t.ahead, t.wait_minutes
                ),
            ),
            _ => self.prompt(),
        }
    }

    fn can_go_back(&self) -> bool {
        matches!(self.state, State::TapCard { .. } | State::Declare { .. })
    }

    fn wants_card(&self) -> bool {
        matches!(self.state, State::TapCard { .. })
    }
}
