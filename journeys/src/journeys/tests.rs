//! Journey state machines driven with inputs, no I/O: what each step shows and asks for.

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{Appointment, TicketPriority};

use super::checkin::{Verdict, verdict};
use super::*;
use crate::holder::Holder;
use crate::model::{Command, KeypadKey, Page, TicketView};

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

fn holder(born: (i32, u32, u32)) -> Holder {
    Holder::new(
        "王建国",
        "11010519651127001X",
        NaiveDate::from_ymd_opt(born.0, born.1, born.2).unwrap(),
    )
}

fn cmd(c: Command) -> Input {
    Input::Command(c)
}

fn choose(id: &str) -> Input {
    cmd(Command::Choose { id: id.into() })
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
        holder_hash: holder((1965, 11, 27)).holder_hash,
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
    let mut j = apply::Apply::new();
    j.on(Input::CardTapped(holder((1990, 1, 1))), &cx);
    j.on(choose("re-record-query"), &cx);
    j.on(choose("purpose=2"), &cx);
    j.on(cmd(Command::Confirm), &cx);
    for id in ["idcard", "query-form"] {
        j.on(cmd(Command::Confirm), &cx);
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
            &cx,
        );
    }
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
        Input::Outcome(Outcome::Submitted(Ok((
            "0193A1B2-20261126-0001".into(),
            true,
        )))),
        &cx,
    );
    let effects = j.on(cmd(Command::Confirm), &cx);
    assert!(
        matches!(effects.as_slice(), [Effect::OfferRating { subject, .. }] if subject == "application:0193A1B2-20261126-0001")
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

#[test]
fn progress_takes_a_well_formed_number_or_a_card() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let mut j = progress::Progress::new();
    for c in "0193A1B2-2026".chars() {
        let key = match c {
            '-' => KeypadKey::Dash,
            d if d.is_ascii_digit() => KeypadKey::Digit(d as u8 - b'0'),
            l => KeypadKey::Letter(l),
        };
        j.on(cmd(Command::Key { key }), &cx);
    }
    assert!(j.on(cmd(Command::Confirm), &cx).is_empty());
    assert!(matches!(
        j.page(&cx),
        Page::EnterNumber { error: Some(_), .. }
    ));
    let effects = j.on(Input::CardTapped(holder((1990, 1, 1))), &cx);
    assert!(matches!(
        effects.as_slice(),
        [Effect::FetchProgress(ProgressQuery::Holder(_))]
    ));
}

#[test]
fn help_sends_at_once_and_then_names_the_desk() {
    let catalog = catalog();
    let cx = cx(&catalog, NOW);
    let (mut j, effects) = start(JourneyKind::Help, &cx);
    assert!(matches!(effects.as_slice(), [Effect::CallHelp { page }] if page == "home"));
    j.on(Input::Outcome(Outcome::HelpSent), &cx);
    assert!(matches!(
        j.page(&cx),
        Page::Notice {
            window: Some(_),
            failure: false,
            ..
        }
    ));
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
