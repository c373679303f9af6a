//! 自助申报: tap the card, choose a matter, fill the form generated from the matter's field
//! definitions (choices and digit keypads only; validated as it is filled), scan each material
//! with page checks and retakes, review, submit; the receipt (受理回执) is printed. A missing
//! required material prints the 一次性告知 list instead of submitting.

use std::collections::BTreeMap;

use kiosk_api::ApplicationNo;
use kiosk_api::catalog::{self as cat, Matter};
use zeroize::Zeroizing;

use super::rating::type_key;
use super::{ApplicationOrder, Cx, Effect, Input, Journey, Notice, Outcome, ScannedMaterial};
use crate::holder::Holder;
use crate::model::{
    Choice, Command, FieldInput, FormField, JourneyKind, KeypadKey, MaterialLine, Page,
    PageCheckView, Text,
};

/// Where an application stands.
#[derive(Debug)]
enum State {
    TapCard,
    ChooseMatter,
    Form {
        show_all_errors: bool,
    },
    Scan {
        index: usize,
        pages: Vec<PageCheckView>,
        error: Option<Text>,
        scanning: bool,
    },
    PrintingMissing,
    Missing {
        printed: bool,
    },
    Review,
    Submitting,
    Receipt {
        application_no: ApplicationNo,
        printed: bool,
    },
    Failed(Notice),
}

/// The form's answers so far, field key -> value; each value is wiped from memory when it is
/// replaced or the journey is dropped (the answers are the citizen's: a phone number, a bank).
pub type Answers = BTreeMap<String, Zeroizing<String>>;

/// The apply journey. Holds the applicant and the answers until the session ends (then
/// dropped, which wipes the holder's fields and every answer).
#[derive(Debug)]
pub struct Apply {
    state: State,
    holder: Option<Holder>,
    matter: Option<Matter>,
    values: Answers,
    focus: Option<String>,
    scanned: Vec<ScannedMaterial>,
    missing: Vec<MaterialLine>,
}

impl Default for Apply {
    fn default() -> Self {
        Self::new()
    }
}

/// What is wrong with `value` for `field`, if anything (`None` also for an empty optional
/// field).
pub fn field_error(field: &cat::FormField, value: &str) -> Option<Text> {
    if value.is_empty() {
        return field.required.then(|| Text::new("此项必填", "Required"));
    }
    match &field.input {
        cat::FieldInput::Digits { length } => {
            if !value.bytes().all(|b| b.is_ascii_digit()) {
                Some(Text::new("只能输入数字", "Digits only"))
            } else if value.len() != *length as usize {
                Some(Text::new(
                    format!("应为{length}位数字，已输入{}位", value.len()),
                    format!("{length} digits needed, {} typed", value.len()),
                ))
            } else {
                None
            }
        }
        cat::FieldInput::Choice { choices_zh, .. } => match value.parse::<usize>() {
            Ok(i) if i < choices_zh.len() => None,
            _ => Some(Text::new("请选择一项", "Choose one")),
        },
    }
}

/// The materials scanned at the kiosk (those taken on site are not).
fn scannable(matter: &Matter) -> Vec<MaterialLine> {
    crate::catalog::material_lines(matter)
        .into_iter()
        .zip(&matter.materials)
        .filter(|(_, m)| !m.on_site)
        .map(|(line, _)| line)
        .collect()
}

impl Apply {
    /// Waiting for the applicant's card.
    pub fn new() -> Apply {
        Apply {
            state: State::TapCard,
            holder: None,
            matter: None,
            values: BTreeMap::new(),
            focus: None,
            scanned: Vec::new(),
            missing: Vec::new(),
        }
    }

    fn form_valid(&self) -> bool {
        self.matter.as_ref().is_some_and(|m| {
            m.form.iter().all(|f| {
                field_error(f, self.values.get(&f.key).map_or("", |v| v.as_str())).is_none()
            })
        })
    }

    fn start_scanning(&mut self) -> Vec<Effect> {
        self.state = State::Scan {
            index: 0,
            pages: Vec::new(),
            error: None,
            scanning: false,
        };
        self.after_material(0)
    }

    /// Moves to material `index`, or past the last one.
    fn after_material(&mut self, index: usize) -> Vec<Effect> {
        let total = self.matter.as_ref().map_or(0, |m| scannable(m).len());
        if index < total {
            self.state = State::Scan {
                index,
                pages: Vec::new(),
                error: None,
                scanning: false,
            };
            return Vec::new();
        }
        if self.missing.is_empty() {
            self.state = State::Review;
            Vec::new()
        } else {
            self.state = State::PrintingMissing;
            vec![Effect::PrintMissing {
                matter_id: self
                    .matter
                    .as_ref()
                    .map(|m| m.id.clone())
                    .unwrap_or_default(),
                missing: self.missing.clone(),
            }]
        }
    }

    fn form_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut form = serde_json::Map::new();
        let Some(matter) = &self.matter else {
            return form;
        };
        for field in &matter.form {
            let Some(value) = self.values.get(&field.key).filter(|v| !v.is_empty()) else {
                continue;
            };
            let shown = match &field.input {
                cat::FieldInput::Digits { .. } => value.to_string(),
                cat::FieldInput::Choice { choices_zh, .. } => value
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| choices_zh.get(i).cloned())
                    .unwrap_or_default(),
            };
            form.insert(field.key.clone(), serde_json::Value::String(shown));
        }
        form
    }

    fn on_form(&mut self, command: Command) -> Vec<Effect> {
        let Some(matter) = self.matter.clone() else {
            return Vec::new();
        };
        match command {
            Command::Focus { key } if matter.form.iter().any(|f| f.key == key) => {
                self.focus = Some(key);
            }
            Command::Key { key } => {
                let Some(focus) = self.focus.clone() else {
                    return Vec::new();
                };
                let Some(field) = matter.form.iter().find(|f| f.key == focus) else {
                    return Vec::new();
                };
                if let cat::FieldInput::Digits { length } = field.input {
                    let value = self.values.entry(focus).or_default();
                    if matches!(
                        key,
                        KeypadKey::Digit(_) | KeypadKey::Backspace | KeypadKey::Clear
                    ) {
                        type_key(&mut *value, key, length as usize);
                    }
                }
            }
            Command::Choose { id } => {
                // `<field key>=<choice index>`
                if let Some((key, index)) = id.split_once('=')
                    && let Some(field) = matter.form.iter().find(|f| f.key == key)
                    && let cat::FieldInput::Choice { choices_zh, .. } = &field.input
                    && index.parse::<usize>().is_ok_and(|i| i < choices_zh.len())
                {
                    self.values
                        .insert(key.to_owned(), Zeroizing::new(index.to_owned()));
                }
            }
            Command::Confirm => {
                if self.form_valid() {
                    return self.start_scanning();
                }
                self.state = State::Form {
                    show_all_errors: true,
                };
            }
            Command::Back => {
                self.values.clear();
                self.focus = None;
                self.matter = None;
                self.state = State::ChooseMatter;
            }
            _ => {}
        }
        Vec::new()
    }
}

impl Journey for Apply {
    fn kind(&self) -> JourneyKind {
        JourneyKind::Apply
    }

    fn on(&mut self, input: Input, cx: &Cx<'_>) -> Vec<Effect> {
        match (&mut self.state, input) {
            (State::TapCard, Input::CardTapped(holder)) => {
                if holder.holder_hash().is_none() {
                    // Without a holder key the application could never be found by card,
                    // nor matched to its applicant at central.
                    self.state = State::Failed(super::go_to_window(
                        cx,
                        Text::new(
                            "暂时无法自助申报",
                            "Applications cannot be made here right now",
                        ),
                        Text::new(
                            format!("本终端暂时无法核验身份证，请到{}办理", cx.help_window.zh),
                            format!(
                                "This kiosk cannot check ID cards right now; please apply at {}",
                                cx.help_window.en
                            ),
                        ),
                    ));
                    return Vec::new();
                }
                self.holder = Some(holder);
                self.state = State::ChooseMatter;
                Vec::new()
            }
            (State::ChooseMatter, Input::Command(Command::Choose { id })) => {
                if let Some(m) = crate::catalog::matter(cx.catalog, &id).filter(|m| m.self_apply) {
                    self.matter = Some(m.clone());
                    self.focus = m
                        .form
                        .iter()
                        .find(|f| matches!(f.input, cat::FieldInput::Digits { .. }))
                        .map(|f| f.key.clone());
                    self.state = State::Form {
                        show_all_errors: false,
                    };
                }
                Vec::new()
            }
            (State::Form { .. }, Input::Command(command)) => self.on_form(command),
            (
                State::Scan {
                    index,
                    scanning: false,
                    ..
                },
                Input::Command(Command::Confirm),
            ) => {
                let index = *index;
                let Some(line) = self
                    .matter
                    .as_ref()
                    .and_then(|m| scannable(m).get(index).cloned())
                else {
                    return Vec::new();
                };
                if let State::Scan {
                    scanning, error, ..
                } = &mut self.state
                {
                    *scanning = true;
                    *error = None;
                }
                vec![Effect::Scan {
                    material_id: line.id,
                }]
            }
            (
                State::Scan {
                    index,
                    scanning: false,
                    ..
                },
                Input::Command(Command::Skip),
            ) => {
                let index = *index;
                if let Some(line) = self
                    .matter
                    .as_ref()
                    .and_then(|m| scannable(m).get(index).cloned())
                    && line.required
                {
                    self.missing.push(line);
                }
                self.after_material(index + 1)
            }
            (
                State::Scan {
                    index,
                    pages,
                    error,
                    scanning,
                },
                Input::Outcome(Outcome::Scanned(result)),
            ) => {
                *scanning = false;
                *pages = result.pages;
                *error = result.error;
                if let Some(material) = result.accepted {
                    let next = *index + 1;
                    self.scanned
                        .retain(|m| m.material_id != material.material_id);
                    self.scanned.push(material);
                    return self.after_material(next);
                }
                Vec::new()
            }
            (
                State::Scan {
                    index,
                    scanning: false,
                    ..
                },
                Input::Command(Command::Back),
            ) => {
                let index = *index;
                if index == 0 {
                    self.state = State::Form {
                        show_all_errors: false,
                    };
                } else {
                    self.state = State::Scan {
                        index: index - 1,
                        pages: Vec::new(),
                        error: None,
                        scanning: false,
                    };
                }
                Vec::new()
            }
            (State::PrintingMissing, Input::Outcome(Outcome::Printed(printed))) => {
                self.state = State::Missing { printed };
                Vec::new()
            }
            (State::Review, Input::Command(Command::Confirm)) => {
                let (Some(holder), Some(matter)) = (self.holder.clone(), self.matter.as_ref())
                else {
                    return Vec::new();
                };
                let order = ApplicationOrder {
                    matter_id: matter.id.clone(),
                    holder,
                    form: self.form_json(),
                    materials: self.scanned.clone(),
                };
                self.state = State::Submitting;
                vec![Effect::Submit(Box::new(order))]
            }
            (State::Review, Input::Command(Command::Back)) => {
                self.scanned.clear();
                self.start_scanning()
            }
            (State::Submitting, Input::Outcome(Outcome::Submitted(result))) => {
                self.state = match result {
                    Ok((application_no, printed)) => State::Receipt {
                        application_no,
                        printed,
                    },
                    Err(notice) => State::Failed(notice),
                };
                Vec::new()
            }
            (State::Receipt { application_no, .. }, Input::Command(Command::Confirm)) => {
                vec![Effect::OfferRating {
                    subject: kiosk_api::citizen::rating_subject::application(
                        &application_no.to_string(),
                    ),
                    label: self
                        .matter
                        .as_ref()
                        .map(|m| Text::new(&m.name_zh, &m.name_en))
                        .unwrap_or_default(),
                    matter_code: self.matter.as_ref().map(|m| m.id.clone()),
                }]
            }
            _ => Vec::new(),
        }
    }

    fn page(&self, cx: &Cx<'_>) -> Page {
        let matter_name = self
            .matter
            .as_ref()
            .map(|m| Text::new(&m.name_zh, &m.name_en))
            .unwrap_or_default();
        match &self.state {
            State::TapCard => Page::TapCard {
                purpose: Text::new(
                    "请刷身份证开始申报",
                    "Tap your ID card to start your application",
                ),
                optional: false,
                error: None,
            },
            State::ChooseMatter => Page::Choose {
                title: Text::new("请选择申报事项", "Choose what to apply for"),
                choices: cx
                    .catalog
                    .matters
                    .iter()
                    .filter(|m| m.self_apply)
                    .map(|m| {
                        Choice::new(m.id.clone(), Text::new(&m.name_zh, &m.name_en))
                            .with_detail(Text::new(&m.department_zh, &m.department_en))
                    })
                    .collect(),
            },
            State::Form { show_all_errors } => Page::Form {
                matter: matter_name,
                fields: self
                    .matter
                    .iter()
                    .flat_map(|m| &m.form)
                    .map(|f| {
                        let value = self
                            .values
                            .get(&f.key)
                            .map(|v| v.to_string())
                            .unwrap_or_default();
                        let error = if value.is_empty() && !show_all_errors {
                            None
                        } else {
                            field_error(f, &value)
                        };
                        FormField {
                            key: f.key.clone(),
                            label: Text::new(&f.label_zh, &f.label_en),
                            required: f.required,
                            input: match &f.input {
                                cat::FieldInput::Digits { length } => {
                                    FieldInput::Digits { length: *length }
                                }
                                cat::FieldInput::Choice {
                                    choices_zh,
                                    choices_en,
                                } => FieldInput::Choice {
                                    choices: choices_zh
                                        .iter()
                                        .zip(choices_en)
                                        .enumerate()
                                        .map(|(i, (zh, en))| Choice {
                                            selected: value == i.to_string(),
                                            ..Choice::new(
                                                format!("{}={i}", f.key),
                                                Text::new(zh, en),
                                            )
                                        })
                                        .collect(),
                                },
                            },
                            focused: self.focus.as_deref() == Some(&f.key),
                            value,
                            error,
                        }
                    })
                    .collect(),
                // The catalog's field types are choices and digits only; a matter needing
                // Chinese free text (addresses, reasons) is not self_apply.
                window_only: Vec::new(),
            },
            State::Scan {
                index,
                pages,
                error,
                scanning,
            } => {
                let lines = self.matter.as_ref().map(scannable).unwrap_or_default();
                match lines.get(*index) {
                    Some(line) if *scanning => Page::Working {
                        what: Text::new(
                            format!("正在扫描：{}", line.name.zh),
                            format!("Scanning: {}", line.name.en),
                        ),
                    },
                    Some(line) => Page::Scan {
                        material: line.clone(),
                        index: *index as u32 + 1,
                        total: lines.len() as u32,
                        progress: None,
                        pages: pages.clone(),
                        error: error.clone(),
                    },
                    None => Page::Working {
                        what: Text::default(),
                    },
                }
            }
            State::PrintingMissing => Page::Working {
                what: Text::new(
                    "正在打印一次性告知书",
                    "Printing the list of what is missing",
                ),
            },
            State::Missing { printed } => Page::MissingMaterials {
                matter: matter_name,
                missing: self.missing.clone(),
                printed: *printed,
            },
            State::Review => Page::Review {
                matter: matter_name,
                applicant: self
                    .holder
                    .as_ref()
                    .map(|h| h.masked_name.clone())
                    .unwrap_or_default(),
                answers: self
                    .matter
                    .iter()
                    .flat_map(|m| &m.form)
                    .filter_map(|f| {
                        let value = self.values.get(&f.key)?;
                        let shown = match &f.input {
                            cat::FieldInput::Digits { .. } => Text::same(value.to_string()),
                            cat::FieldInput::Choice {
                                choices_zh,
                                choices_en,
                            } => {
                                let i: usize = value.parse().ok()?;
                                Text::new(choices_zh.get(i)?, choices_en.get(i)?)
                            }
                        };
                        Some((Text::new(&f.label_zh, &f.label_en), shown))
                    })
                    .collect(),
                materials: self
                    .matter
                    .as_ref()
                    .map(scannable)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|line| {
                        let pages = self
                            .scanned
                            .iter()
                            .find(|s| s.material_id == line.id)?
                            .pages;
                        Some((line.name, pages))
                    })
                    .collect(),
            },
            State::Submitting => Page::Working {
                what: Text::new("正在提交", "Submitting"),
            },
            State::Receipt {
                application_no,
                printed,
            } => Page::Receipt {
                application_no: application_no.grouped(),
                matter: matter_name,
                promised: self
                    .matter
                    .as_ref()
                    .map(|m| crate::catalog::guide(cx.catalog, m).promised_limit)
                    .unwrap_or_default(),
                printed: *printed,
            },
            State::Failed(notice) => notice.page(true),
        }
    }

    fn spoken(&self, cx: &Cx<'_>) -> Text {
        match &self.state {
            // The promised limit is what the citizen must remember; the 17-digit number is on
            // the receipt and is personal, so it is not said aloud.
            State::Receipt { printed, .. } => {
                let limit = self
                    .matter
                    .as_ref()
                    .map(|m| crate::catalog::guide(cx.catalog, m).promised_limit)
                    .unwrap_or_default();
                let (zh_take, en_take) = if *printed {
                    ("请取走受理回执", "Please take your receipt.")
                } else {
                    (
                        "回执未能打印，请记下屏幕上的申请编号",
                        "The receipt could not be printed; please note the number on the screen.",
                    )
                };
                Text::new(
                    format!("提交成功，办理时限：{}，{zh_take}", limit.zh),
                    format!(
                        "Your application has been received. Promised time limit: {}. {en_take}",
                        limit.en
                    ),
                )
            }
            _ => self.prompt(),
        }
    }

    fn prompt(&self) -> Text {
        match &self.state {
            State::TapCard => Text::new("请刷身份证", "Please tap your ID card"),
            State::ChooseMatter => Text::new("请选择申报事项", "Choose what to apply for"),
            State::Form { .. } => Text::new("请填写申请信息", "Please fill in the form"),
            State::Scan { error: Some(_), .. } => Text::new(
                "扫描未通过，请重新放置后重扫",
                "The scan did not pass; place it again and rescan",
            ),
            State::Scan { .. } => Text::new(
                "请将材料放入扫描仪，点击扫描",
                "Place the material in the scanner and press scan",
            ),
            State::PrintingMissing | State::Submitting => Text::default(),
            State::Missing { .. } => Text::new(
                "材料不齐，请取走一次性告知书",
                "Materials are missing; please take the list",
            ),
            State::Review => Text::new("请核对后提交", "Please check and submit"),
            State::Receipt { .. } => Text::new(
                "提交成功，请取走受理回执",
                "Submitted; please take your receipt",
            ),
            State::Failed(n) => n.title.clone(),
        }
    }

    fn can_go_back(&self) -> bool {
        matches!(
            self.state,
            State::Form { .. }
                | State::Scan {
                    scanning: false,
                    ..
                }
                | State::Review
        )
    }

    fn wants_card(&self) -> bool {
        matches!(self.state, State::TapCard)
    }
}
