//! 办事指南: browse by category or search (Chinese, pinyin initials, English); a matter shows
//! conditions, materials, basis, limits, fees and the window; a short slip can be printed.

use super::{Cx, Effect, Input, Journey, Outcome};
use crate::model::{Choice, Command, JourneyKind, Page, Text};

#[derive(Debug)]
enum State {
    Browse,
    Matter(String),
    Printing(String),
    Printed { matter: String, ok: bool },
}

/// The guide journey.
#[derive(Debug)]
pub struct Guide {
    category: Option<String>,
    query: String,
    state: State,
}

impl Default for Guide {
    fn default() -> Self {
        Self::new()
    }
}

impl Guide {
    /// At the browse page, every matter listed.
    pub fn new() -> Guide {
        Guide {
            category: None,
            query: String::new(),
            state: State::Browse,
        }
    }

    /// Matter ids matching the category filter and the search.
    pub fn matching<'c>(&self, cx: &'c Cx<'_>) -> Vec<&'c kiosk_api::catalog::Matter> {
        cx.catalog
            .matters
            .iter()
            .filter(|m| self.category.as_ref().is_none_or(|c| *c == m.category))
            .filter(|m| crate::pinyin::matches(&self.query, &m.name_zh, &m.name_en))
            .collect()
    }
}

const CATEGORY_PREFIX: &str = "category:";

impl Journey for Guide {
    fn kind(&self) -> JourneyKind {
        JourneyKind::Guide
    }

    fn on(&mut self, input: Input, cx: &Cx<'_>) -> Vec<Effect> {
        match (&self.state, input) {
            (State::Browse, Input::Command(Command::Search { query })) => {
                self.query = query.chars().take(40).collect();
                Vec::new()
            }
            (State::Browse, Input::Command(Command::Choose { id })) => {
                if let Some(code) = id.strip_prefix(CATEGORY_PREFIX) {
                    self.category = if self.category.as_deref() == Some(code) || code.is_empty() {
                        None
                    } else {
                        Some(code.to_owned())
                    };
                } else if crate::catalog::matter(cx.catalog, &id).is_some() {
                    self.state = State::Matter(id);
                }
                Vec::new()
            }
            (State::Matter(id), Input::Command(Command::Confirm)) => {
                let id = id.clone();
                self.state = State::Printing(id.clone());
                vec![Effect::PrintGuide { matter_id: id }]
            }
            (State::Matter(_), Input::Command(Command::Back)) => {
                self.state = State::Browse;
                Vec::new()
            }
            (State::Printing(id), Input::Outcome(Outcome::Printed(ok))) => {
                self.state = State::Printed {
                    matter: id.clone(),
                    ok,
                };
                Vec::new()
            }
            (State::Printed { matter, .. }, Input::Command(Command::Back)) => {
                self.state = State::Matter(matter.clone());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn page(&self, cx: &Cx<'_>) -> Page {
        match &self.state {
            State::Browse => {
                let mut categories = vec![Choice {
                    selected: self.category.is_none(),
                    ..Choice::new(CATEGORY_PREFIX, Text::new("全部", "All"))
                }];
                categories.extend(cx.catalog.categories.iter().map(|c| Choice {
                    selected: self.category.as_deref() == Some(&c.code),
                    ..Choice::new(
                        format!("{CATEGORY_PREFIX}{}", c.code),
                        Text::new(&c.name_zh, &c.name_en),
                    )
                }));
                Page::GuideBrowse {
                    categories,
                    query: self.query.clone(),
                    matters: self
                        .matching(cx)
                        .into_iter()
                        .map(|m| {
                            Choice::new(m.id.clone(), Text::new(&m.name_zh, &m.name_en))
                                .with_detail(Text::new(&m.department_zh, &m.department_en))
                        })
                        .collect(),
                }
            }
            State::Matter(id) | State::Printing(id) => {
                match crate::catalog::matter(cx.catalog, id) {
                    Some(m) if matches!(self.state, State::Matter(_)) => Page::GuideMatter {
                        guide: crate::catalog::guide(cx.catalog, m),
                    },
                    Some(_) => Page::Working {
                        what: Text::new("正在打印办事指南", "Printing the guide"),
                    },
                    None => Page::Home,
                }
            }
            State::Printed { ok, .. } => Page::Notice {
                title: if *ok {
                    Text::new("请取走办事指南", "Please take your guide slip")
                } else {
                    Text::new("打印失败", "Printing failed")
                },
                message: if *ok {
                    Text::new(
                        "扫描小票上的二维码可查看完整指南",
                        "Scan the QR code on the slip for the full guide",
                    )
                } else {
                    Text::new(
                        "打印机暂不可用，可扫描屏幕信息或到咨询台领取",
                        "The printer is not available; ask at the information desk",
                    )
                },
                window: (!ok).then(|| cx.help_window.clone()),
                failure: !ok,
            },
        }
    }

    fn prompt(&self) -> Text {
        match self.state {
            State::Browse => Text::new("请选择或搜索要办理的事项", "Choose or search for a matter"),
            State::Matter(_) => Text::new(
                "以下是办事指南，可点击打印",
                "Here is the guide; you can print it",
            ),
            State::Printing(_) => Text::default(),
            State::Printed { ok: true, .. } => {
                Text::new("请取走办事指南", "Please take your guide slip")
            }
            State::Printed { ok: false, .. } => Text::new("打印失败", "Printing failed"),
        }
    }

    fn can_go_back(&self) -> bool {
        !matches!(self.state, State::Browse | State::Printing(_))
    }
}
