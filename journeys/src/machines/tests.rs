//! Journey state machines driven with inputs, no I/O: what each step shows and asks for.

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{Appointment, HolderKey, HolderKeys, TicketPriority};
use kiosk_api::{ApplicationNo, HallCode, KioskNo};

use super::checkin::{Verdict, verdict};
use super::*;
use crate::holder::Holder;
use crate::model::{Command, KeypadKey, Page, ProgressView, TicketView};

fn catalog() -> Catalog {
    crate::catalog::sample()
}

fn no_queue(_: &str) -> Option<u32> {
    Some(4)
}

fn cx<'a>(catalog: &'a Catalog, now: &str) -> Cx<'a> {
    Cx {
        catalog,
        now: now.parse::<DateTime<Utc>>().unwrap(),
        waiting: &no_queue,
        help_window: Text::new("1号综合咨询台", "Information desk 1"),
        checkin_early_minutes: 30,
        checkin_late_minutes: 15,
    }
}

const NOW: &str = "2026-11-26T02:00:00Z"; // 10:00 hall time

fn keys() -> HolderKeys {
    HolderKeys {
        keys: vec![HolderKey {
            id: "test".into(),
            secret: [7; 32],
        }],
    }
}

fn holder(born: (i32, u32, u32)) -> Holder {
    Holder::new(
        "王建国",
        "11010519651127001X",
        NaiveDate::from_ymd_opt(born.0, born.1, born.2).unwrap(),
        Some(&keys()),
    )
}

/// The same card on a kiosk that never got a holder key.
fn keyless_holder() -> Holder {
    Holder::new(
        "王建国",
        "11010519651127001X",
        NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
        None,
    )
}

fn application_no(seq: u16) -> ApplicationNo {
    ApplicationNo::new(
        HallCode::new(12).unwrap(),
        KioskNo::new(3).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        seq,
    )
    .unwrap()
}

fn cmd(c: Command) -> Input {
    Input::Command(c)
}

fn choose(id: &str) -> Input {
    cmd(Command::Choose { id: id.into() })
}

/// A record-query application with its form filled and both materials scanned (two pages
/// each): the review page is next.
fn application_ready_for_review(cx: &Cx<'_>) -> apply::Apply {
    let mut j = apply::Apply::new();
    j.on(Input::CardTapped(holder((1990, 1, 1))), cx);
    j.on(choose("re-record-query"), cx);
    j.on(choose("purpose=2"), cx);
    j.on(cmd(Command::Confirm), cx);
    for id in ["idcard", "query-form"] {
        j.on(cmd(Command::Confirm), cx);
        j.on(
            Input::Outcome(Outcome::Scanned(ScanOutcome {
                pages: Vec::new(),
                accepted: Some(ScannedMaterial {
                    material_id: id.into(),
                    sha256: "cd".repeat(32),
                    pages: 2,
                }),
                error: None,
            })),
            cx,
        );
    }
    j
}

fn ticket_view(no: &str) -> TicketView {
    TicketView {
        ticket_no: no.into(),
        category: Text::same("x"),
        window: Text::same("w"),
        ahead: 0,
        wait_minutes: 0,
        priority: None,
        stale_note: None,
    }
}

#[test]
fn a_senior_tapping_a_card_gets_the_priority_lane_without_being_asked() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = take_number::TakeNumber::new();
    let Page::Choose { choices, .. } = j.page(&cx) else {
        panic!("categories first")
    };
    assert_eq!(choices.len(), catalog.categories.len());
    assert!(choices[0].detail.as_ref().unwrap().en.contains("4 waiting"));
    assert!(j.on(choose("B"), &cx).is_empty());
    assert!(j.wants_card());
    let effects = j.on(Input::CardTapped(holder((1960, 1, 1))), &cx);
    let [Effect::IssueTicket(order)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(order.category, "B");
    assert_eq!(order.priority, TicketPriority::Senior);
    assert!(order.holder.is_some());
    assert!(matches!(j.page(&cx), Page::Working { .. }));
    j.on(
        Input::Outcome(Outcome::Ticket(Ok(ticket_view("B501")))),
        &cx,
    );
    assert!(matches!(j.page(&cx), Page::Ticket { ticket } if ticket.ticket_no == "B501"));
    assert!(j.prompt().zh.contains("B501"));
}

#[test]
fn the_voice_says_each_result_pages_key_sentence_and_never_the_application_number() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = take_number::TakeNumber::new();
    j.on(choose("B"), &cx);
    j.on(cmd(Command::Skip), &cx);
    let ticket = TicketView {
        window: Text::new("5–7号窗口", "Windows 5–7"),
        ahead: 11,
        wait_minutes: 35,
        ..ticket_view("B012")
    };
    j.on(Input::Outcome(Outcome::Ticket(Ok(ticket))), &cx);
    let said = j.spoken(&cx);
    assert_eq!(
        said.zh,
        "您的号码是 B012，请到5–7号窗口办理，前面还有 11 人，预计等候约 35 分钟，请取走号票"
    );
    assert!(
        said.en.contains("B012")
            && said.en.contains("11 people ahead")
            && said.en.contains("35 minutes"),
        "{said:?}"
    );
    // The title row keeps its short prompt; only the voice says the whole sentence.
    assert!(j.prompt().zh.len() < said.zh.len());

    let mut j = application_ready_for_review(&cx);
    j.on(cmd(Command::Confirm), &cx);
    j.on(
        Input::Outcome(Outcome::Submitted(Ok((application_no(7), true)))),
        &cx,
    );
    let Page::Receipt { promised, .. } = j.page(&cx) else {
        panic!()
    };
    let said = j.spoken(&cx);
    assert!(said.zh.contains(&promised.zh), "{said:?}");
    assert!(said.en.contains(&promised.en), "{said:?}");
    let digits = application_no(7).to_string();
    for text in [&said.zh, &said.en] {
        let spoken_digits: String = text.chars().filter(char::is_ascii_digit).collect();
        assert!(!spoken_digits.contains(&digits[..8]), "number said: {text}");
    }

    let mut j = progress::Progress::new();
    type_digits(&mut j, &application_no(1).to_string(), &cx);
    j.on(cmd(Command::Confirm), &cx);
    let shown = ProgressView {
        application_no: application_no(1).grouped(),
        matter: Text::new("不动产登记", "Real estate registration"),
        status: Text::new("已受理", "Accepted"),
        timeline: Vec::new(),
    };
    j.on(
        Input::Outcome(Outcome::Progress(Ok((vec![shown], None)))),
        &cx,
    );
    let said = j.spoken(&cx);
    assert_eq!(said.zh, "您申请的不动产登记，当前状态：已受理");
    assert!(!said.en.contains("0012"), "{said:?}");
}

#[test]
fn a_younger_holder_is_asked_and_may_declare_pregnancy() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = take_number::TakeNumber::new();
    j.on(choose("A"), &cx);
    assert!(
        j.on(Input::CardTapped(holder((1990, 5, 5))), &cx)
            .is_empty()
    );
    assert!(matches!(j.page(&cx), Page::Choose { choices, .. } if choices.len() == 3));
    assert!(j.on(choose("nonsense"), &cx).is_empty());
    let effects = j.on(choose("pregnant"), &cx);
    assert!(
        matches!(effects.as_slice(), [Effect::IssueTicket(o)] if o.priority == TicketPriority::Pregnant)
    );
}

#[test]
fn skipping_the_card_prints_a_normal_ticket_and_a_print_failure_names_the_window() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = take_number::TakeNumber::new();
    j.on(choose("Z"), &cx);
    assert!(
        matches!(j.page(&cx), Page::Choose { .. }),
        "unknown category ignored"
    );
    j.on(choose("A"), &cx);
    j.on(cmd(Command::Back), &cx);
    assert!(matches!(j.page(&cx), Page::Choose { .. }));
    j.on(choose("A"), &cx);
    let effects = j.on(cmd(Command::Skip), &cx);
    assert!(
        matches!(effects.as_slice(), [Effect::IssueTicket(o)] if o.priority == TicketPriority::Normal && o.holder.is_none())
    );
    let notice = go_to_window(&cx, Text::same("void"), Text::same("paper"));
    j.on(Input::Outcome(Outcome::Ticket(Err(notice))), &cx);
    let Page::Notice {
        window, failure, ..
    } = j.page(&cx)
    else {
        panic!()
    };
    assert!(failure);
    assert_eq!(window.unwrap().zh, "1号综合咨询台");
}

fn appointment(start: &str) -> Appointment {
    let start: DateTime<chrono::FixedOffset> = start.parse().unwrap();
    Appointment {
        appointment_id: "ap-1".into(),
        holder_hash: holder((1965, 11, 27)).holder_hash().unwrap().to_owned(),
        matter_code: "re-transfer".into(),
        category: "C".into(),
        slot_start: start,
        slot_end: start + chrono::Duration::minutes(30),
    }
}

#[test]
fn check_in_says_no_appointment_too_early_or_too_late() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW); // 10:00 +08:00
    assert_eq!(verdict(&[], &cx), Verdict::NoAppointment);
    let on_time = appointment("2026-11-26T10:10:00+08:00");
    assert!(matches!(
        verdict(std::slice::from_ref(&on_time), &cx),
        Verdict::Welcome(_)
    ));
    assert_eq!(
        verdict(&[appointment("2026-11-26T11:00:00+08:00")], &cx),
        Verdict::TooEarly("10:30".into())
    );
    assert_eq!(
        verdict(&[appointment("2026-11-26T09:30:00+08:00")], &cx),
        Verdict::TooLate("09:30".into())
    );
    assert_eq!(
        verdict(&[appointment("2026-11-27T10:00:00+08:00")], &cx),
        Verdict::NoAppointment,
        "tomorrow's slot is not today's"
    );

    let mut j = checkin::CheckIn::new();
    let effects = j.on(Input::CardTapped(holder((1965, 11, 27))), &cx);
    assert!(matches!(
        effects.as_slice(),
        [Effect::FindAppointments { .. }]
    ));
    let mut someone_else = on_time.clone();
    someone_else.holder_hash = "0".repeat(64);
    let effects = j.on(
        Input::Outcome(Outcome::Appointments {
            list: vec![someone_else, on_time],
            confirmed: true,
        }),
        &cx,
    );
    let [Effect::IssueTicket(order)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(order.priority, TicketPriority::Appointment);
    assert_eq!(order.appointment_id.as_deref(), Some("ap-1"));
    assert_eq!(order.category, "C");
}

#[test]
fn offline_a_slot_missing_from_the_cached_list_is_not_called_no_appointment() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let looked_up = |list: Vec<Appointment>, confirmed: bool| {
        let mut j = checkin::CheckIn::new();
        j.on(Input::CardTapped(holder((1965, 11, 27))), &cx);
        let effects = j.on(
            Input::Outcome(Outcome::Appointments { list, confirmed }),
            &cx,
        );
        (j.page(&cx), effects)
    };

    // Central said there is none: the citizen may take a number instead.
    let (page, _) = looked_up(Vec::new(), true);
    let Page::Notice { title, window, .. } = page else {
        panic!("{page:?}")
    };
    assert_eq!(title.en, "No appointment today");
    assert_eq!(window, None);

    // Only yesterday's copy, and the slot is not in it: sent to the desk, not turned away.
    let (page, effects) = looked_up(Vec::new(), false);
    let Page::Notice {
        title,
        message,
        window,
        failure,
    } = page
    else {
        panic!("{page:?}")
    };
    assert!(effects.is_empty());
    assert!(failure);
    assert_eq!(title.zh, "暂时无法查询您的预约");
    assert!(message.zh.contains("1号综合咨询台"), "{message:?}");
    assert!(message.en.contains("Information desk 1"), "{message:?}");
    assert_eq!(window.unwrap().zh, "1号综合咨询台");

    // The copy holds the slot: checked in offline all the same.
    let (_, effects) = looked_up(vec![appointment("2026-11-26T10:10:00+08:00")], false);
    assert!(
        matches!(effects.as_slice(), [Effect::IssueTicket(o)] if o.appointment_id.as_deref() == Some("ap-1")),
        "{effects:?}"
    );
}

#[test]
fn a_bad_rating_needs_a_reason_and_a_ticket_number_names_the_subject() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = rating::Rating::from_tile();
    for key in [
        KeypadKey::Letter('a'),
        KeypadKey::Digit(1),
        KeypadKey::Digit(2),
    ] {
        j.on(cmd(Command::Key { key }), &cx);
    }
    j.on(cmd(Command::Confirm), &cx);
    assert!(matches!(j.page(&cx), Page::Choose { choices, .. } if choices.len() == 5));
    assert!(j.on(choose("2"), &cx).is_empty());
    assert!(
        j.on(cmd(Command::Confirm), &cx).is_empty(),
        "no reason chosen yet"
    );
    j.on(choose("long_wait"), &cx);
    j.on(choose("attitude"), &cx);
    j.on(choose("attitude"), &cx);
    j.on(
        cmd(Command::Note {
            text: "排队太久".into(),
        }),
        &cx,
    );
    let effects = j.on(cmd(Command::Confirm), &cx);
    let [Effect::Rate(r)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(r.subject, "ticket:A012:2026-11-26");
    assert_eq!(r.level, 2);
    assert_eq!(r.reasons, ["long_wait"]);
    assert_eq!(r.note.as_deref(), Some("排队太久"));

    let mut j = rating::Rating::from_tile();
    for key in [KeypadKey::Letter('Q'), KeypadKey::Digit(1)] {
        j.on(cmd(Command::Key { key }), &cx);
    }
    j.on(cmd(Command::Confirm), &cx);
    assert!(
        matches!(j.page(&cx), Page::EnterNumber { error: Some(_), .. }),
        "no category Q"
    );
}

#[test]
fn the_form_is_validated_as_filled_and_a_missing_material_prints_the_list() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = apply::Apply::new();
    j.on(Input::CardTapped(holder((1990, 1, 1))), &cx);
    j.on(choose("ps-idcard-renew"), &cx);
    assert!(
        matches!(j.page(&cx), Page::Choose { .. }),
        "not a self-apply matter"
    );
    j.on(choose("hr-sscard-apply"), &cx);
    for d in [1, 3, 8] {
        j.on(
            cmd(Command::Key {
                key: KeypadKey::Digit(d),
            }),
            &cx,
        );
    }
    let Page::Form { fields, .. } = j.page(&cx) else {
        panic!()
    };
    assert_eq!(fields[0].value, "138");
    assert!(fields[0].focused);
    assert!(fields[0].error.as_ref().unwrap().zh.contains("11位"));
    assert!(
        fields[1].error.is_none(),
        "untouched fields are quiet until confirm"
    );
    j.on(cmd(Command::Confirm), &cx);
    let Page::Form { fields, .. } = j.page(&cx) else {
        panic!("an invalid form does not go on")
    };
    assert!(fields.iter().all(|f| f.error.is_some()));
    for d in [0, 0, 1, 3, 8, 0, 0, 0] {
        j.on(
            cmd(Command::Key {
                key: KeypadKey::Digit(d),
            }),
            &cx,
        );
    }
    j.on(choose("bank=9"), &cx);
    j.on(choose("bank=1"), &cx);
    j.on(choose("delivery=0"), &cx);
    j.on(cmd(Command::Confirm), &cx);
    assert!(matches!(
        j.page(&cx),
        Page::Scan {
            index: 1,
            total: 2,
            ..
        }
    ));
    let effects = j.on(cmd(Command::Confirm), &cx);
    assert!(
        matches!(effects.as_slice(), [Effect::Scan { material_id }] if material_id == "idcard")
    );
    // A blank page: checks failed, same material again.
    j.on(
        Input::Outcome(Outcome::Scanned(ScanOutcome {
            pages: vec![crate::model::PageCheckView {
                page: 1,
                accepted: false,
                problems: vec![Text::same("blank")],
            }],
            accepted: None,
            error: Some(Text::same("retake")),
        })),
        &cx,
    );
    assert!(matches!(
        j.page(&cx),
        Page::Scan {
            index: 1,
            error: Some(_),
            ..
        }
    ));
    j.on(cmd(Command::Confirm), &cx);
    j.on(
        Input::Outcome(Outcome::Scanned(ScanOutcome {
            pages: Vec::new(),
            accepted: Some(ScannedMaterial {
                material_id: "idcard".into(),
                sha256: "ab".repeat(32),
                pages: 1,
            }),
            error: None,
        })),
        &cx,
    );
    assert!(matches!(j.page(&cx), Page::Scan { index: 2, .. }));
    let effects = j.on(cmd(Command::Skip), &cx);
    let [Effect::PrintMissing { missing, .. }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(missing[0].id, "photo-1in");
    j.on(Input::Outcome(Outcome::Printed(true)), &cx);
    assert!(matches!(
        j.page(&cx),
        Page::MissingMaterials { printed: true, .. }
    ));
}

#[test]
fn a_complete_application_is_submitted_with_choice_labels_and_offers_a_rating() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = application_ready_for_review(&cx);
    let Page::Review {
        answers,
        materials,
        applicant,
        ..
    } = j.page(&cx)
    else {
        panic!()
    };
    assert_eq!(applicant, "王**");
    assert_eq!(answers[0].1.zh, "出国签证");
    assert_eq!(materials.len(), 2);
    let effects = j.on(cmd(Command::Confirm), &cx);
    let [Effect::Submit(order)] = effects.as_slice() else {
        panic!()
    };
    assert_eq!(order.form["purpose"], "出国签证");
    assert_eq!(order.materials.len(), 2);
    j.on(
        Input::Outcome(Outcome::Submitted(Ok((application_no(1), true)))),
        &cx,
    );
    let Page::Receipt { application_no, .. } = j.page(&cx) else {
        panic!()
    };
    assert_eq!(
        application_no, "0012 03 261126 0001 7",
        "shown grouped for reading aloud"
    );
    let effects = j.on(cmd(Command::Confirm), &cx);
    assert!(
        matches!(effects.as_slice(), [Effect::OfferRating { subject, .. }] if subject == "application:00120326112600017")
    );
}

#[test]
fn without_a_holder_key_a_card_cannot_start_an_application_or_a_check_in() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = apply::Apply::new();
    assert!(j.on(Input::CardTapped(keyless_holder()), &cx).is_empty());
    let Page::Notice {
        message, window, ..
    } = j.page(&cx)
    else {
        panic!("{:?}", j.page(&cx))
    };
    assert!(message.zh.contains("1号综合咨询台"), "{message:?}");
    assert!(window.is_some());

    let mut j = checkin::CheckIn::new();
    assert!(j.on(Input::CardTapped(keyless_holder()), &cx).is_empty());
    let Page::Notice { message, .. } = j.page(&cx) else {
        panic!()
    };
    assert!(
        message.en.contains("cannot look things up by ID card"),
        "{message:?}"
    );
}

#[test]
fn the_guide_filters_by_category_and_searches_pinyin_initials() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = guide::Guide::new();
    j.on(choose("category:B"), &cx);
    assert!(j.matching(&cx).iter().all(|m| m.category == "B"));
    j.on(choose("category:B"), &cx);
    assert_eq!(j.matching(&cx).len(), catalog.matters.len());
    j.on(
        cmd(Command::Search {
            query: "gjj".into(),
        }),
        &cx,
    );
    let found: Vec<&str> = j.matching(&cx).iter().map(|m| m.id.as_str()).collect();
    assert_eq!(found, ["hf-withdraw-purchase"]);
    j.on(choose("hf-withdraw-purchase"), &cx);
    let Page::GuideMatter { guide } = j.page(&cx) else {
        panic!()
    };
    assert_eq!(guide.materials.len(), 3);
    let effects = j.on(cmd(Command::Confirm), &cx);
    assert!(matches!(effects.as_slice(), [Effect::PrintGuide { .. }]));
}

fn type_digits(j: &mut dyn Journey, text: &str, cx: &Cx<'_>) {
    for c in text.chars() {
        let key = match c {
            '-' => KeypadKey::Dash,
            d if d.is_ascii_digit() => KeypadKey::Digit(d as u8 - b'0'),
            l => KeypadKey::Letter(l),
        };
        j.on(cmd(Command::Key { key }), cx);
    }
}

#[test]
fn progress_takes_a_17_digit_number_with_its_check_digit_or_a_card() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = progress::Progress::new();
    assert!(
        matches!(j.page(&cx), Page::EnterNumber { letters: false, .. }),
        "the progress keypad has no letter keys"
    );
    // Letters and dashes of the old numbers do not type at all.
    type_digits(&mut j, "0193A1B2-2026", &cx);
    let Page::EnterNumber { value, .. } = j.page(&cx) else {
        panic!()
    };
    assert_eq!(value, "0193122026");
    assert!(j.on(cmd(Command::Confirm), &cx).is_empty());
    let Page::EnterNumber {
        error: Some(short), ..
    } = j.page(&cx)
    else {
        panic!()
    };
    assert!(short.en.contains("17 digits"), "{short:?}");

    // One digit wrong: the check digit catches it.
    let mut j = progress::Progress::new();
    type_digits(&mut j, "00120326112600016", &cx);
    assert!(j.on(cmd(Command::Confirm), &cx).is_empty());
    let Page::EnterNumber {
        error: Some(wrong), ..
    } = j.page(&cx)
    else {
        panic!()
    };
    assert!(wrong.en.contains("swapped"), "{wrong:?}");

    let mut j = progress::Progress::new();
    type_digits(&mut j, &application_no(1).to_string(), &cx);
    let effects = j.on(cmd(Command::Confirm), &cx);
    assert!(
        matches!(effects.as_slice(), [Effect::FetchProgress(ProgressQuery::Number(no))] if *no == application_no(1)),
        "{effects:?}"
    );

    let mut j = progress::Progress::new();
    let effects = j.on(Input::CardTapped(holder((1990, 1, 1))), &cx);
    assert!(matches!(
        effects.as_slice(),
        [Effect::FetchProgress(ProgressQuery::Holder(hashes))] if hashes.len() == 1
    ));
}

#[test]
fn without_a_holder_key_progress_by_card_says_so_and_offers_the_keypad() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = progress::Progress::new();
    assert!(j.on(Input::CardTapped(keyless_holder()), &cx).is_empty());
    let Page::EnterNumber {
        error: Some(error), ..
    } = j.page(&cx)
    else {
        panic!("{:?}", j.page(&cx))
    };
    assert!(error.zh.contains("无法按身份证查询"), "{error:?}");
    assert!(
        error.en.contains("type the number on your receipt"),
        "{error:?}"
    );
    assert!(j.wants_card(), "still on the keypad page");
}

#[test]
fn a_rating_takes_an_application_number_in_digits() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = rating::Rating::from_tile();
    assert!(matches!(
        j.page(&cx),
        Page::EnterNumber { letters: true, .. }
    ));
    type_digits(&mut j, &application_no(1).grouped().replace(' ', ""), &cx);
    j.on(cmd(Command::Confirm), &cx);
    let effects = j.on(choose("5"), &cx);
    let [Effect::Rate(r)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(r.subject, "application:00120326112600017");
}

#[test]
fn help_that_is_only_queued_sends_the_citizen_to_the_desk_and_says_who_is_coming_once_acknowledged()
{
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let (mut j, effects) = start(JourneyKind::Help, &cx);
    assert!(matches!(effects.as_slice(), [Effect::CallHelp { page }] if page == "home"));
    let id = uuid::Uuid::now_v7();
    j.on(Input::Outcome(Outcome::HelpSent(Ok(id))), &cx);
    assert_eq!(
        j.followed_help(),
        Some(id),
        "the engine polls central for it"
    );
    let Page::Notice {
        title,
        message,
        window,
        failure,
    } = j.page(&cx)
    else {
        panic!()
    };
    assert!(failure, "only queued: nobody knows yet");
    assert!(title.zh.contains("尚未送达"), "{title:?}");
    assert!(
        message.zh.contains("请您现在直接前往1号综合咨询台"),
        "{message:?}"
    );
    assert!(
        message.en.contains("go to Information desk 1 now"),
        "{message:?}"
    );
    assert!(window.is_some());

    // Another request's answer changes nothing.
    j.on(
        Input::Outcome(Outcome::Help {
            event_id: uuid::Uuid::now_v7(),
            progress: HelpProgress::Received,
        }),
        &cx,
    );
    assert!(matches!(j.page(&cx), Page::Notice { failure: true, .. }));

    j.on(
        Input::Outcome(Outcome::Help {
            event_id: id,
            progress: HelpProgress::Received,
        }),
        &cx,
    );
    let Page::Notice { title, failure, .. } = j.page(&cx) else {
        panic!()
    };
    assert!(!failure);
    assert_eq!(title.en, "Staff have been called");
    // Central unreachable again: what staff already see is not taken back.
    j.on(
        Input::Outcome(Outcome::Help {
            event_id: id,
            progress: HelpProgress::Queued,
        }),
        &cx,
    );
    assert!(matches!(j.page(&cx), Page::Notice { failure: false, .. }));

    j.on(
        Input::Outcome(Outcome::Help {
            event_id: id,
            progress: HelpProgress::OnTheWay {
                by: Some("3号窗口 李**".into()),
            },
        }),
        &cx,
    );
    let Page::Notice { title, message, .. } = j.page(&cx) else {
        panic!()
    };
    assert_eq!(title.zh, "工作人员已收到，正在赶来");
    assert_eq!(title.en, "Staff are on their way");
    assert!(message.zh.contains("3号窗口 李**"), "{message:?}");
    assert_eq!(j.followed_help(), None, "acknowledged: polling stops");
}

#[test]
fn help_that_could_not_be_written_down_sends_the_citizen_to_the_desk() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let (mut j, _) = start(JourneyKind::Help, &cx);
    let notice = go_to_window(&cx, Text::same("x"), Text::same("y"));
    j.on(Input::Outcome(Outcome::HelpSent(Err(notice))), &cx);
    assert!(matches!(
        j.page(&cx),
        Page::Notice {
            failure: true,
            window: Some(_),
            ..
        }
    ));
    assert_eq!(j.followed_help(), None);
}

#[test]
fn the_form_answers_are_wiped_when_the_journey_is_dropped() {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    // Each answer is a Zeroizing<String>; the holder is ZeroizeOnDrop itself.
    wiped_on_drop::<zeroize::Zeroizing<String>>();
    wiped_on_drop::<Holder>();
    let _: fn(apply::Answers) = |answers| {
        let _: Option<&zeroize::Zeroizing<String>> = answers.values().next();
    };
}

proptest::proptest! {
    #[test]
    fn typed_keys_never_exceed_the_limit_and_never_panic(keys in proptest::collection::vec(0u8..40, 0..60)) {
        let mut value = String::new();
        for k in keys {
            let key = match k {
                0..=9 => KeypadKey::Digit(k),
                10..=35 => KeypadKey::Letter(char::from(b'A' + (k - 10))),
                36 => KeypadKey::Dash,
                37 => KeypadKey::Backspace,
                38 => KeypadKey::Clear,
                _ => KeypadKey::Digit(200),
            };
            rating::type_key(&mut value, key, 22);
            proptest::prop_assert!(value.len() <= 22);
        }
    }
}
