//! 预约签到: a card tap is matched against today's appointments (synced from central, cached
//! for offline use) and gives a priority ticket; no appointment, too early and too late are
//! said plainly.

use chrono::Duration;
use kiosk_api::citizen::{Appointment, TicketPriority, hall_offset};

use super::{Cx, Effect, Input, Journey, Notice, Outcome, TicketOrder};
use crate::holder::Holder;
use crate::model::{JourneyKind, Page, Text, TicketView};

#[derive(Debug)]
enum State {
    TapCard { error: Option<Text> },
    Looking { holder: Holder },
    Printing,
    Printed(TicketView),
    Refused(Notice),
}

/// The check-in journey.
#[derive(Debug)]
pub struct CheckIn {
    state: State,
}

impl Default for CheckIn {
    fn default() -> Self {
        Self::new()
    }
}

/// How an appointment list answers a check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Check in to this one.
    Welcome(Appointment),
    /// None booked today.
    NoAppointment,
    /// The earliest slot still ahead opens for check-in at this local time.
    TooEarly(String),
    /// Every slot today is past its check-in limit (the last started at this local time).
    TooLate(String),
}

/// Decides a check-in for `appointments` (already the holder's) at `cx.now`.
pub fn verdict(appointments: &[Appointment], cx: &Cx<'_>) -> Verdict {
    let early = Duration::minutes(cx.checkin_early_minutes.into());
    let late = Duration::minutes(cx.checkin_late_minutes.into());
    let today = cx.today();
    let mut todays: Vec<&Appointment> = appointments
        .iter()
        .filter(|a| a.slot_start.with_timezone(&hall_offset()).date_naive() == today)
        .collect();
    todays.sort_by_key(|a| a.slot_start);
    if todays.is_empty() {
        return Verdict::NoAppointment;
    }
    let now = cx.now.with_timezone(&hall_offset());
    if let Some(a) = todays
        .iter()
        .find(|a| now >= a.slot_start - early && now <= a.slot_start + late)
    {
        return Verdict::Welcome((*a).clone());
    }
    let hhmm = |t: chrono::DateTime<chrono::FixedOffset>| {
        t.with_timezone(&hall_offset()).format("%H:%M").to_string()
    };
    match todays.iter().find(|a| now < a.slot_start - early) {
        Some(next) => Verdict::TooEarly(hhmm(next.slot_start - early)),
        None => Verdict::TooLate(
            todays
                .last()
                .map(|a| hhmm(a.slot_start))
                .unwrap_or_default(),
        ),
    }
}

impl CheckIn {
    /// Waiting for a card.
    pub fn new() -> CheckIn {
        CheckIn {
            state: State::TapCard { error: None },
        }
    }
}

impl Journey for CheckIn {
    fn kind(&self) -> JourneyKind {
        JourneyKind::CheckIn
    }

    fn on(&mut self, input: Input, cx: &Cx<'_>) -> Vec<Effect> {
        let state = std::mem::replace(&mut self.state, State::Printing);
        match (state, input) {
            (State::TapCard { .. }, Input::CardTapped(holder)) => {
                if holder.lookup_hashes().is_empty() {
                    let window = cx.help_window.clone();
                    self.state = State::Refused(Notice {
                        title: Text::new(
                            "暂时无法按身份证签到",
                            "Check-in by ID card is not available right now",
                        ),
                        message: super::no_card_lookup(cx, "到窗口签到", "check in at a window"),
                        window: Some(window),
                    });
                    return Vec::new();
                }
                let hashes = holder.lookup_hashes().to_vec();
                self.state = State::Looking { holder };
                vec![Effect::FindAppointments {
                    holder_hashes: hashes,
                }]
            }
            (State::TapCard { .. }, Input::CardUnreadable) => {
                self.state = State::TapCard {
                    error: Some(Text::new(
                        "未能读取证件，请重新放置",
                        "The card could not be read; place it again",
                    )),
                };
                Vec::new()
            }
            (
                State::Looking { holder },
                Input::Outcome(Outcome::Appointments { list, confirmed }),
            ) => {
                let mine: Vec<Appointment> = list
                    .into_iter()
                    .filter(|a| holder.matches(&a.holder_hash))
                    .collect();
                match verdict(&mine, cx) {
                    // Offline, a slot missing from the cached list may have been booked
                    // since: the citizen is not told there is none.
                    Verdict::NoAppointment if !confirmed => {
                        let window = cx.help_window.clone();
                        self.state = State::Refused(Notice {
                            title: Text::new(
                                "暂时无法查询您的预约",
                                "Your appointment cannot be looked up right now",
                            ),
                            message: Text::new(
                                format!("网络中断，本终端无法确认预约，请到{}签到", window.zh),
                                format!(
                                    "The kiosk cannot reach the booking system; please check in at {}",
                                    window.en
                                ),
                            ),
                            window: Some(window),
                        });
                        Vec::new()
                    }
                    Verdict::Welcome(a) => {
                        self.state = State::Printing;
                        vec![Effect::IssueTicket(TicketOrder {
                            category: a.category.clone(),
                            priority: TicketPriority::Appointment,
                            holder: Some(holder),
                            appointment_id: Some(a.appointment_id),
                        })]
                    }
                    Verdict::NoAppointment => {
                        self.state = State::Refused(Notice {
                            title: Text::new("未查到您今天的预约", "No appointment today"),
                            message: Text::new(
                                "您今天没有预约，可直接取号办理",
                                "You have no appointment today; you can take a number instead",
                            ),
                            window: None,
                        });
                        Vec::new()
                    }
                    Verdict::TooEarly(from) => {
                        self.state = State::Refused(Notice {
                            title: Text::new("签到时间未到", "Too early to check in"),
                            message: Text::new(
                                format!("请于 {from} 后再来签到"),
                                format!("Please check in from {from}"),
                            ),
                            window: None,
                        });
                        Vec::new()
                    }
                    Verdict::TooLate(slot) => {
                        self.state = State::Refused(Notice {
                            title: Text::new("已超过签到时间", "Too late to check in"),
                            message: Text::new(
                                format!("您预约的 {slot} 时段已过签到时间，请取号办理或到咨询台"),
                                format!(
                                    "Check-in for your {slot} slot has closed; take a number or ask at the desk"
                                ),
                            ),
                            window: Some(cx.help_window.clone()),
                        });
                        Vec::new()
                    }
                }
            }
            (State::Printing, Input::Outcome(Outcome::Ticket(result))) => {
                self.state = match result {
                    Ok(ticket) => State::Printed(ticket),
                    Err(notice) => State::Refused(notice),
                };
                Vec::new()
            }
            (state, _) => {
                self.state = state;
                Vec::new()
            }
        }
    }

    fn page(&self, _cx: &Cx<'_>) -> Page {
        match &self.state {
            State::TapCard { error } => Page::TapCard {
                purpose: Text::new("请刷身份证签到", "Tap your ID card to check in"),
                optional: false,
                error: error.clone(),
            },
            State::Looking { .. } => Page::Working {
                what: Text::new("正在查询预约", "Looking up your appointment"),
            },
            State::Printing => Page::Working {
                what: Text::new("正在出票", "Printing your ticket"),
            },
            State::Printed(ticket) => Page::Ticket {
                ticket: ticket.clone(),
            },
            State::Refused(notice) => notice.page(true),
        }
    }

    fn prompt(&self) -> Text {
        match &self.state {
            State::TapCard { .. } => Text::new("请刷身份证签到", "Tap your ID card to check in"),
            State::Looking { .. } | State::Printing => Text::default(),
            State::Printed(t) => Text::new(
                format!("签到成功，请取走{}号票", t.ticket_no),
                format!("Checked in; please take ticket {}", t.ticket_no),
            ),
            State::Refused(n) => n.title.clone(),
        }
    }

    fn can_go_back(&self) -> bool {
        false
    }

    fn wants_card(&self) -> bool {
        matches!(self.state, State::TapCard { .. })
    }
}
