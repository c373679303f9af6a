//! The citizen journeys on screen: the engine's [`Screen`] copied into `JourneyAdapter` in the
//! citizen's language, and the adapter's callbacks turned into engine [`Command`]s.
//!
//! The engine's watch channels are awaited on the UI thread itself (`slint::spawn_local`):
//! tokio's channels need no tokio runtime to be awaited, and the UI thread never waits —
//! it only wakes when a new screen has been published.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use kiosk_journeys::model::{
    Choice, FieldInput, FormField, MaterialLine, PageCheckView, ProgressView, Tile,
};
use kiosk_journeys::{Availability, Command, JourneyKind, KeypadKey, Language, Page, Screen, Text};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::{
    AppWindow, JChoice, JField, JGuide, JMaterial, JPage, JPageCheck, JPair, JProgressRow, JTicket,
    JourneyAdapter, ProgressRowKind,
};

/// Sends a command to the engine (never blocks).
pub type CommandSink = Rc<dyn Fn(Command)>;

/// The journeys' binding. Lives on the UI thread.
pub struct JourneyBridge {
    window: slint::Weak<AppWindow>,
    send: CommandSink,
    screen: RefCell<Screen>,
    availability: RefCell<Availability>,
    language: std::cell::Cell<Language>,
    // The search text as typed: keys come faster than the engine echoes the query back.
    query: RefCell<String>,
    // Says the page's prompt again (再听一遍); the engine says it once when the page comes.
    voice: RefCell<Option<Rc<kiosk_journeys::voice::Voice>>>,
}

impl JourneyBridge {
    /// Binds the adapter's callbacks to `send`.
    pub fn setup(window: &AppWindow, send: CommandSink, language: Language) -> Rc<Self> {
        let this = Rc::new(Self {
            window: window.as_weak(),
            send,
            screen: RefCell::new(Screen::default()),
            availability: RefCell::new(Availability::default()),
            language: std::cell::Cell::new(language),
            query: RefCell::new(String::new()),
            voice: RefCell::new(None),
        });
        let adapter = window.global::<JourneyAdapter>();
        adapter.set_engine(true);

        let w = Rc::downgrade(&this);
        adapter.on_choose(move |id| with(&w, |b| b.send(Command::Choose { id: id.into() })));
        let w = Rc::downgrade(&this);
        adapter.on_focus(move |key| with(&w, |b| b.send(Command::Focus { key: key.into() })));
        let w = Rc::downgrade(&this);
        adapter.on_key(move |k| {
            with(&w, |b| {
                if let Some(key) = keypad_key(&k) {
                    b.send(Command::Key { key });
                }
            })
        });
        let w = Rc::downgrade(&this);
        adapter.on_backspace(move || {
            with(&w, |b| {
                b.send(Command::Key {
                    key: KeypadKey::Backspace,
                })
            })
        });
        let w = Rc::downgrade(&this);
        adapter.on_clear(move || {
            with(&w, |b| {
                b.send(Command::Key {
                    key: KeypadKey::Clear,
                })
            })
        });
        let w = Rc::downgrade(&this);
        adapter.on_search_key(move |k| {
            with(&w, |b| b.search(|q| q.push_str(&k.to_lowercase())));
        });
        let w = Rc::downgrade(&this);
        adapter.on_search_backspace(move || {
            with(&w, |b| {
                b.search(|q| {
                    q.pop();
                })
            })
        });
        let w = Rc::downgrade(&this);
        adapter.on_search_clear(move || with(&w, |b| b.search(String::clear)));
        let w = Rc::downgrade(&this);
        adapter.on_confirm(move || with(&w, |b| b.send(Command::Confirm)));
        let w = Rc::downgrade(&this);
        adapter.on_skip(move || with(&w, |b| b.send(Command::Skip)));
        let w = Rc::downgrade(&this);
        adapter.on_back(move || with(&w, |b| b.send(Command::Back)));
        let w = Rc::downgrade(&this);
        adapter.on_say_again(move || with(&w, |b| b.say_again()));
        this
    }

    /// The voice 再听一遍 speaks with (the kiosk's espeak-ng; none in screenshots and tests).
    pub fn set_voice(&self, voice: kiosk_journeys::voice::Voice) {
        *self.voice.borrow_mut() = Some(Rc::new(voice));
    }

    fn say_again(&self) {
        let Some(voice) = self.voice.borrow().clone() else {
            return;
        };
        let elder = self
            .window
            .upgrade()
            .is_some_and(|w| w.global::<super::Theme>().get_elder_mode());
        let prompt = self.screen.borrow().spoken.clone();
        voice.say(&prompt, self.language.get(), elder);
    }

    /// Sends a command to the engine.
    pub fn send(&self, command: Command) {
        tracing::debug!(?command, "to engine");
        (self.send)(command);
    }

    fn search(&self, edit: impl FnOnce(&mut String)) {
        if !matches!(self.screen.borrow().page, Page::GuideBrowse { .. }) {
            return;
        }
        let query = {
            let mut typed = self.query.borrow_mut();
            edit(&mut typed);
            typed.clone()
        };
        self.send(Command::Search { query });
    }

    /// The journey under way according to the last screen.
    pub fn journey(&self) -> Option<JourneyKind> {
        self.screen.borrow().journey
    }

    /// Shows a screen the engine published.
    pub fn show_screen(&self, screen: Screen) {
        let was_browsing = matches!(self.screen.borrow().page, Page::GuideBrowse { .. });
        if let Page::GuideBrowse { query, .. } = &screen.page
            && !was_browsing
        {
            *self.query.borrow_mut() = query.clone();
        }
        let new_step = {
            let old = self.screen.borrow();
            old.journey != screen.journey
                || old.prompt != screen.prompt
                || std::mem::discriminant(&old.page) != std::mem::discriminant(&screen.page)
        };
        *self.screen.borrow_mut() = screen;
        if new_step {
            self.next_step();
        }
        self.render();
    }

    /// A new step of the journey: its paged regions start on their first page.
    pub fn next_step(&self) {
        if let Some(w) = self.window.upgrade() {
            let paging = w.global::<super::Paging>();
            paging.set_step(paging.get_step().wrapping_add(1));
        }
    }

    /// Shows which journeys can run.
    pub fn show_availability(&self, availability: Availability) {
        *self.availability.borrow_mut() = availability;
        self.render_tiles();
    }

    /// The citizen switched language: the same screen, in the other language.
    pub fn set_language(&self, language: Language) {
        self.language.set(language);
        self.render();
        self.render_tiles();
    }

    /// Clears every journey property, so nothing of the last citizen stays on screen while
    /// the engine wipes its side.
    pub fn wipe(&self) {
        *self.screen.borrow_mut() = Screen::default();
        self.ui(|a| {
            a.set_page(JPage::Home);
            a.set_prompt("".into());
            a.set_banner("".into());
            a.set_heading("".into());
            a.set_message("".into());
            a.set_window("".into());
            a.set_error("".into());
            a.set_matter("".into());
            a.set_choices(ModelRc::default());
            a.set_categories(ModelRc::default());
            a.set_query("".into());
            a.set_ticket(JTicket::default());
            a.set_guide(JGuide::default());
            a.set_fields(ModelRc::default());
            a.set_window_only(ModelRc::default());
            a.set_material(JMaterial::default());
            a.set_pages(ModelRc::default());
            a.set_applicant("".into());
            a.set_answers(ModelRc::default());
            a.set_scanned(ModelRc::default());
            a.set_number("".into());
            a.set_promised("".into());
            a.set_qr(slint::Image::default());
            a.set_missing(ModelRc::default());
            a.set_progress_rows(ModelRc::default());
            a.set_as_of("".into());
        });
    }

    fn ui(&self, f: impl FnOnce(JourneyAdapter<'_>)) {
        if let Some(w) = self.window.upgrade() {
            f(w.global::<JourneyAdapter>());
        }
    }

    fn render_tiles(&self) {
        let l = self.language.get();
        let availability = self.availability.borrow();
        let tile = |kind: JourneyKind| -> Option<&Tile> {
            availability.tiles.iter().find(|t| t.journey == kind)
        };
        let order = [
            JourneyKind::TakeNumber,
            JourneyKind::CheckIn,
            JourneyKind::Guide,
            JourneyKind::Apply,
            JourneyKind::Progress,
            JourneyKind::Rate,
        ];
        let enabled: Vec<bool> = order
            .iter()
            .map(|k| tile(*k).is_none_or(|t| t.enabled))
            .collect();
        let closed_note = closed_note(&availability.tiles, &order, l);
        let mut open = 0;
        let slots: Vec<i32> = enabled
            .iter()
            .map(|&on| {
                if on {
                    open += 1;
                    open - 1
                } else {
                    -1
                }
            })
            .collect();
        self.ui(|a| {
            a.set_tile_slot(ModelRc::new(VecModel::from(slots)));
            a.set_open_tiles(open);
            a.set_tile_enabled(ModelRc::new(VecModel::from(enabled)));
            a.set_closed_note(closed_note.into());
        });
    }

    fn render(&self) {
        let l = self.language.get();
        let screen = self.screen.borrow();
        let Some(window) = self.window.upgrade() else {
            return;
        };
        let a = window.global::<JourneyAdapter>();
        a.set_prompt(tr(&screen.prompt, l));
        a.set_banner(
            screen
                .banner
                .as_ref()
                .map_or_else(SharedString::new, |b| tr(b, l)),
        );
        a.set_can_go_back(screen.can_go_back);
        bind_page(&a, &screen.page, l);
    }
}

/// Copies one page into the adapter.
fn bind_page(a: &JourneyAdapter<'_>, page: &Page, l: Language) {
    let opt = |t: &Option<Text>| t.as_ref().map_or_else(SharedString::new, |t| tr(t, l));
    let page_kind = match page {
        Page::Home => JPage::Home,
        Page::TapCard {
            purpose,
            optional,
            error,
        } => {
            a.set_message(tr(purpose, l));
            a.set_optional(*optional);
            a.set_error(opt(error));
            JPage::TapCard
        }
        Page::Choose { title, choices } => {
            a.set_heading(tr(title, l));
            a.set_choices(choice_model(choices, l));
            JPage::Choose
        }
        Page::Working { what } => {
            a.set_message(tr(what, l));
            JPage::Working
        }
        Page::Ticket { ticket } => {
            a.set_ticket(JTicket {
                number: ticket.ticket_no.as_str().into(),
                category: tr(&ticket.category, l),
                window: tr(&ticket.window, l),
                ahead: int(ticket.ahead),
                wait_minutes: int(ticket.wait_minutes),
                priority: opt(&ticket.priority),
                stale_note: opt(&ticket.stale_note),
            });
            JPage::Ticket
        }
        Page::Notice {
            title,
            message,
            window,
            failure,
        } => {
            a.set_heading(tr(title, l));
            a.set_message(tr(message, l));
            a.set_window(opt(window));
            a.set_failure(*failure);
            JPage::Notice
        }
        Page::GuideBrowse {
            categories,
            query,
            matters,
        } => {
            a.set_categories(choice_model(categories, l));
            a.set_query(query.as_str().into());
            a.set_choices(choice_model(matters, l));
            JPage::GuideBrowse
        }
        Page::GuideMatter { guide } => {
            let texts = |v: &[Text]| strings(v.iter().map(|t| tr(t, l)));
            a.set_guide(JGuide {
                name: tr(&guide.name, l),
                kind: tr(&guide.kind, l),
                department: tr(&guide.department, l),
                conditions: texts(&guide.conditions),
                materials: material_model(&guide.materials, l),
                basis: texts(&guide.basis),
                statutory: tr(&guide.statutory_limit, l),
                promised: tr(&guide.promised_limit, l),
                fee: tr(&guide.fee, l),
                window: tr(&guide.window, l),
                self_apply: guide.self_apply,
                appointment: guide.appointment,
            });
            JPage::GuideMatter
        }
        Page::Form {
            matter,
            fields,
            window_only,
        } => {
            a.set_matter(tr(matter, l));
            let fields: Vec<JField> = fields.iter().map(|f| field(f, l)).collect();
            a.set_fields(ModelRc::new(VecModel::from(fields)));
            a.set_window_only(strings(window_only.iter().map(|t| tr(t, l))));
            JPage::Form
        }
        Page::Scan {
            material,
            index,
            total,
            progress,
            pages,
            error,
        } => {
            a.set_material(material_line(material, l));
            a.set_index(int(*index));
            a.set_total(int(*total));
            a.set_progress(progress.map_or(-1, int));
            let pages: Vec<JPageCheck> = pages.iter().map(|p| page_check(p, l)).collect();
            a.set_pages(ModelRc::new(VecModel::from(pages)));
            a.set_error(opt(error));
            JPage::Scan
        }
        Page::Review {
            matter,
            applicant,
            answers,
            materials,
        } => {
            a.set_matter(tr(matter, l));
            a.set_applicant(applicant.as_str().into());
            let answers: Vec<JPair> = answers
                .iter()
                .map(|(k, v)| JPair {
                    label: tr(k, l),
                    value: tr(v, l),
                })
                .collect();
            a.set_answers(ModelRc::new(VecModel::from(answers)));
            let scanned: Vec<JPair> = materials
                .iter()
                .map(|(name, pages)| JPair {
                    label: tr(name, l),
                    value: pages.to_string().into(),
                })
                .collect();
            a.set_scanned(ModelRc::new(VecModel::from(scanned)));
            JPage::Review
        }
        Page::Receipt {
            application_no,
            matter,
            promised,
            printed,
        } => {
            a.set_number(grouped(application_no).into());
            a.set_qr(qr_image(&application_no.replace(' ', "")));
            a.set_matter(tr(matter, l));
            a.set_promised(tr(promised, l));
            a.set_printed(*printed);
            JPage::Receipt
        }
        Page::MissingMaterials {
            matter,
            missing,
            printed,
        } => {
            a.set_matter(tr(matter, l));
            a.set_missing(material_model(missing, l));
            a.set_printed(*printed);
            JPage::Missing
        }
        Page::EnterNumber { value, error, .. } => {
            a.set_number(grouped(value).into());
            a.set_error(opt(error));
            JPage::EnterNumber
        }
        Page::Progress {
            applications,
            as_of,
        } => {
            let rows: Vec<JProgressRow> = applications
                .iter()
                .flat_map(|p| progress_rows(p, l))
                .collect();
            a.set_progress_rows(ModelRc::new(VecModel::from(rows)));
            a.set_as_of(opt(as_of));
            JPage::Progress
        }
        Page::RatingReasons {
            level,
            reasons,
            note: _,
        } => {
            a.set_level(i32::from(*level));
            a.set_choices(choice_model(reasons, l));
            JPage::RatingReasons
        }
        Page::Thanks { subject } => {
            a.set_message(tr(subject, l));
            JPage::Thanks
        }
    };
    a.set_page(page_kind);
}

/// Digits in the groups of an application number as the receipt prints them
/// (`0012 03 261201 0007 5`), also while they are being typed; anything else as it is.
fn grouped(number: &str) -> String {
    let number = number.trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return number.to_string();
    }
    let mut out = String::with_capacity(number.len() + 4);
    for (i, c) in number.chars().enumerate() {
        if matches!(i, 4 | 6 | 12 | 16) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The receipt's QR code on screen: the application number, as on the printed receipt, one
/// pixel a module with a quiet zone (the UI scales it without smoothing).
fn qr_image(number: &str) -> slint::Image {
    const QUIET: usize = 4;
    let Ok(code) = qrcode::QrCode::new(number.trim().as_bytes()) else {
        return slint::Image::default();
    };
    let modules = code.width();
    let side = modules + 2 * QUIET;
    let Ok(side_px) = u32::try_from(side) else {
        return slint::Image::default();
    };
    let colors = code.to_colors();
    let mut buffer = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::new(side_px, side_px);
    for (i, pixel) in buffer.make_mut_slice().iter_mut().enumerate() {
        let (x, y) = (i % side, i / side);
        let dark = x >= QUIET
            && y >= QUIET
            && x < QUIET + modules
            && y < QUIET + modules
            && colors[(y - QUIET) * modules + (x - QUIET)] == qrcode::Color::Dark;
        let v = if dark { 0 } else { 255 };
        *pixel = slint::Rgb8Pixel { r: v, g: v, b: v };
    }
    slint::Image::from_rgb8(buffer)
}

fn tr(text: &Text, l: Language) -> SharedString {
    text.get(l).into()
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn strings(items: impl Iterator<Item = SharedString>) -> ModelRc<SharedString> {
    ModelRc::new(VecModel::from(items.collect::<Vec<_>>()))
}

fn choice(c: &Choice, l: Language) -> JChoice {
    JChoice {
        id: c.id.as_str().into(),
        label: tr(&c.label, l),
        detail: c
            .detail
            .as_ref()
            .map_or_else(SharedString::new, |d| tr(d, l)),
        enabled: c.enabled,
        selected: c.selected,
    }
}

fn choice_model(choices: &[Choice], l: Language) -> ModelRc<JChoice> {
    ModelRc::new(VecModel::from(
        choices.iter().map(|c| choice(c, l)).collect::<Vec<_>>(),
    ))
}

fn material_line(m: &MaterialLine, l: Language) -> JMaterial {
    JMaterial {
        name: tr(&m.name, l),
        originals: int(m.originals),
        copies: int(m.copies),
        required: m.required,
        note: m.note.as_ref().map_or_else(SharedString::new, |n| tr(n, l)),
    }
}

fn material_model(materials: &[MaterialLine], l: Language) -> ModelRc<JMaterial> {
    ModelRc::new(VecModel::from(
        materials
            .iter()
            .map(|m| material_line(m, l))
            .collect::<Vec<_>>(),
    ))
}

fn field(f: &FormField, l: Language) -> JField {
    let (digits, length, choices) = match &f.input {
        FieldInput::Digits { length } => (true, int(*length), ModelRc::default()),
        FieldInput::Choice { choices } => {
            // `Choose` takes `<field key>=<choice>`; the engine may already give ids that way.
            let qualified: Vec<Choice> = choices
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if !c.id.contains('=') {
                        c.id = format!("{}={}", f.key, c.id);
                    }
                    c
                })
                .collect();
            (false, 0, choice_model(&qualified, l))
        }
    };
    JField {
        key: f.key.as_str().into(),
        label: tr(&f.label, l),
        required: f.required,
        digits,
        length,
        value: f.value.as_str().into(),
        focused: f.focused,
        error: f
            .error
            .as_ref()
            .map_or_else(SharedString::new, |e| tr(e, l)),
        choices,
    }
}

fn page_check(p: &PageCheckView, l: Language) -> JPageCheck {
    let problems: Vec<&str> = p.problems.iter().map(|t| t.get(l)).collect();
    let separator = match l {
        Language::Zh => "；",
        Language::En => "; ",
    };
    JPageCheck {
        page: int(p.page),
        accepted: p.accepted,
        problems: problems.join(separator).into(),
    }
}

fn progress_rows(p: &ProgressView, l: Language) -> Vec<JProgressRow> {
    let row = |kind, at: &str, text: SharedString| JProgressRow {
        kind,
        at: at.into(),
        text,
    };
    let mut rows = vec![
        row(
            ProgressRowKind::Application,
            "",
            format!("{} · {}", p.matter.get(l), p.application_no).into(),
        ),
        row(ProgressRowKind::Status, "", tr(&p.status, l)),
    ];
    rows.extend(p.timeline.iter().map(|t| {
        let note = t.note.get(l);
        let text = if note.is_empty() {
            t.status.get(l).to_owned()
        } else {
            format!("{} — {note}", t.status.get(l))
        };
        row(ProgressRowKind::Event, &t.at, text.into())
    }));
    rows
}

/// A key of the on-screen keypads, as the engine knows it.
fn keypad_key(key: &str) -> Option<KeypadKey> {
    let mut chars = key.chars();
    let (c, None) = (chars.next()?, chars.next()) else {
        return None;
    };
    match c {
        '0'..='9' => c.to_digit(10).map(|d| KeypadKey::Digit(d as u8)),
        'A'..='Z' => Some(KeypadKey::Letter(c)),
        '-' => Some(KeypadKey::Dash),
        _ => None,
    }
}

fn with(weak: &Weak<JourneyBridge>, f: impl FnOnce(&Rc<JourneyBridge>)) {
    if let Some(b) = weak.upgrade() {
        f(&b);
    }
}

/// The closed tiles' reasons, each said once with the journeys it closes, in home order:
/// "取号、预约签到：取号机暂停出票，请到1号综合咨询台办理".
fn closed_note(tiles: &[Tile], order: &[JourneyKind], l: Language) -> String {
    let mut groups: Vec<(&Text, Vec<&Text>)> = Vec::new();
    for kind in order {
        let Some(tile) = tiles.iter().find(|t| t.journey == *kind && !t.enabled) else {
            continue;
        };
        let Some(reason) = tile.reason.as_ref() else {
            continue;
        };
        match groups.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, titles)) => titles.push(&tile.title),
            None => groups.push((reason, vec![&tile.title])),
        }
    }
    let (list, colon, sep) = match l {
        Language::Zh => ("、", "：", "\n"),
        Language::En => (", ", ": ", "\n"),
    };
    groups
        .iter()
        .map(|(reason, titles)| {
            let names: Vec<&str> = titles.iter().map(|t| t.get(l)).collect();
            format!("{}{colon}{}", names.join(list), reason.get(l))
        })
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypad_labels_become_engine_keys() {
        assert_eq!(keypad_key("7"), Some(KeypadKey::Digit(7)));
        assert_eq!(keypad_key("B"), Some(KeypadKey::Letter('B')));
        assert_eq!(keypad_key("-"), Some(KeypadKey::Dash));
        assert_eq!(keypad_key("删除"), None);
        assert_eq!(keypad_key("12"), None);
    }

    #[test]
    fn closed_tiles_are_named_once_per_reason_in_home_order() {
        let paper = Text::new(
            "取号机暂停出票，请到1号台",
            "The ticket printer is out; go to desk 1",
        );
        let disk = Text::new("存储空间不足，请到1号台", "Short of storage; go to desk 1");
        let tile = |journey: JourneyKind, reason: Option<&Text>| Tile {
            journey,
            title: journey.title(),
            enabled: reason.is_none(),
            reason: reason.cloned(),
        };
        let tiles = [
            tile(JourneyKind::Apply, Some(&disk)),
            tile(JourneyKind::CheckIn, Some(&paper)),
            tile(JourneyKind::TakeNumber, Some(&paper)),
            tile(JourneyKind::Guide, None),
        ];
        let order = [
            JourneyKind::TakeNumber,
            JourneyKind::CheckIn,
            JourneyKind::Guide,
            JourneyKind::Apply,
        ];
        let zh = closed_note(&tiles, &order, Language::Zh);
        let take = JourneyKind::TakeNumber.title();
        let check_in = JourneyKind::CheckIn.title();
        let apply = JourneyKind::Apply.title();
        assert_eq!(
            zh,
            format!(
                "{}、{}：{}\n{}：{}",
                take.zh, check_in.zh, paper.zh, apply.zh, disk.zh
            )
        );
        let en = closed_note(&tiles, &order, Language::En);
        assert!(
            en.starts_with(&format!("{}, {}: ", take.en, check_in.en)),
            "{en}"
        );
        assert_eq!(closed_note(&tiles[3..], &order, Language::Zh), "");
    }
}
