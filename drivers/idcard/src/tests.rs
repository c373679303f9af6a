//! Codec, field decoding and endpoint probing, from byte vectors written out of the spec.

use chrono::NaiveDate;
use proptest::prelude::*;

use crate::card::{
    CardError, CardKind, IdCard, Nation, Sex, Validity, check_character, decode_text, encode_text,
    id_number_is_valid,
};
use crate::frame::{self, Boundary, Command, FrameError};
use crate::status::Status;
use crate::transport::{EndpointInfo, EndpointLayout, ProbeError, TransferKind, probe_layout};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ---- frames -------------------------------------------------------------------------

#[test]
fn requests_are_framed_with_length_and_xor_checksum() {
    let cases: [(Command, [u8; 10]); 4] = [
        // preamble                    LEN     CMD PARA  XOR(00 03 11 FF)
        (
            Command::SamStatus,
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x11, 0xFF, 0xED],
        ),
        (
            Command::FindCard,
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22],
        ),
        (
            Command::SelectCard,
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x02, 0x21],
        ),
        (
            Command::ReadBaseInfo,
            [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x30, 0x01, 0x32],
        ),
    ];
    for (command, bytes) in cases {
        assert_eq!(frame::encode(command), bytes, "{}", command.label());
    }
}

#[test]
fn a_find_card_reply_with_a_card_decodes_to_card_found() {
    let bytes = [
        0xAA, 0xAA, 0xAA, 0x96, 0x69, // preamble
        0x00, 0x08, // LEN: SW1..SW3, 4 data bytes, checksum
        0x00, 0x00, 0x9F, // SW1 SW2 SW3 = card found
        0x00, 0x00, 0x00, 0x00, // data
        0x97, // XOR of 00 08 00 00 9F 00 00 00 00
    ];
    let reply = frame::decode(&bytes).unwrap();
    assert_eq!(reply.status(), Status::CardFound);
    assert_eq!(reply.data, [0, 0, 0, 0]);
}

#[test]
fn a_no_card_reply_decodes_to_no_card() {
    let bytes = [
        0xAA, 0xAA, 0xAA, 0x96, 0x69, // preamble
        0x00, 0x04, // LEN
        0x00, 0x00, 0x80, // SW3 = no card
        0x84, // XOR
    ];
    assert_eq!(frame::decode(&bytes).unwrap().status(), Status::NoCard);
}

#[test]
fn a_flipped_byte_is_a_checksum_error_not_a_reply() {
    let mut bytes = frame::encode_reply(0x90, &[]);
    bytes[9] ^= 0x01; // SW3 90 -> 91
    assert_eq!(
        frame::decode(&bytes),
        Err(FrameError::BadChecksum {
            computed: 0x95,
            carried: 0x94
        })
    );
}

#[test]
fn a_short_frame_is_truncated_and_a_long_one_has_trailing_bytes() {
    let full = frame::encode_reply(0x90, &[1, 2, 3]);
    assert_eq!(
        frame::decode(&full[..full.len() - 2]),
        Err(FrameError::Truncated {
            expected: 7,
            got: 5
        })
    );
    let mut long = full.clone();
    long.push(0);
    assert_eq!(frame::decode(&long), Err(FrameError::TrailingBytes(1)));
    assert_eq!(frame::decode(&[0x55, 0xAA]), Err(FrameError::BadPreamble));
}

#[test]
fn the_framing_rule_skips_noise_and_waits_for_the_whole_frame() {
    let reply = frame::encode_reply(0x90, &[]);
    let mut stream = vec![0x00, 0x13]; // line noise
    stream.extend_from_slice(&reply[..6]);
    assert_eq!(frame::boundary(&stream), Boundary::Garbage(2));
    assert_eq!(frame::boundary(&stream[2..]), Boundary::Incomplete(7));
    stream.extend_from_slice(&reply[6..]);
    assert_eq!(
        frame::boundary(&stream[2..]),
        Boundary::Complete(reply.len())
    );
    // A preamble followed by LEN 0 cannot be a frame.
    let zero_len = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x00];
    assert_eq!(frame::boundary(&zero_len), Boundary::Garbage(1));
}

#[test]
fn sw3_codes_map_to_typed_statuses_and_back() {
    for (sw3, status) in [
        (0x90, Status::Success),
        (0x9F, Status::CardFound),
        (0x80, Status::NoCard),
        (0x81, Status::SelectFailed),
        (0x41, Status::ReadFailed),
        (0x10, Status::ChecksumError),
        (0x11, Status::LengthError),
        (0x60, Status::SelfTestFailed),
        (0x33, Status::VerifyFailed),
        (0x07, Status::Other(0x07)),
    ] {
        assert_eq!(Status::from_sw3(sw3), status);
        assert_eq!(status.sw3(), sw3);
    }
    assert!(
        Status::SelfTestFailed
            .advice()
            .contains("replace the reader")
    );
}

// ---- check characters ---------------------------------------------------------------

#[test]
fn the_gb_11643_examples_have_valid_check_characters() {
    // The worked examples of GB 11643-1999.
    assert_eq!(check_character("11010519491231002"), Some('X'));
    assert_eq!(check_character("44052418800101001"), Some('4'));
    assert!(id_number_is_valid("11010519491231002X"));
    assert!(!id_number_is_valid("110105194912310021"));
    assert!(!id_number_is_valid("1101051949123100"));
}

// ---- text layouts -------------------------------------------------------------------

/// Builds 256 bytes of card text by hand: UCS-2LE values at the byte offsets of the spec,
/// spaces elsewhere. Independent of `encode_text`, so the decoder is checked against the
/// layout tables and not against itself.
fn text_with(fields: &[(usize, &str)]) -> Vec<u8> {
    let mut raw: Vec<u8> = std::iter::repeat_n([0x20, 0x00], 128).flatten().collect();
    for (offset, value) in fields {
        for (i, unit) in value.encode_utf16().enumerate() {
            raw[offset + 2 * i..offset + 2 * i + 2].copy_from_slice(&unit.to_le_bytes());
        }
    }
    raw
}

#[test]
fn a_resident_card_decodes_field_by_field() {
    let raw = text_with(&[
        (0, "张建国"),                                // name, 30 bytes
        (30, "1"),                                    // sex: male
        (32, "01"),                                   // nation: 汉
        (36, "19650315"),                             // birth
        (52, "北京市东城区东华门街道南池子大街12号"), // address, 70 bytes
        (122, "11010119650315025X"),                  // number, 36 bytes
        (158, "北京市公安局东城分局"),                // issuer
        (188, "20150601"),                            // valid from
        (204, "长期"),                                // valid until: long-term
    ]);
    let card = decode_text(&raw).unwrap();
    assert_eq!(card.card_type, CardKind::Resident);
    assert_eq!(card.name, "张建国");
    assert_eq!(card.sex, Sex::Male);
    assert_eq!(card.nation.map(Nation::name), Some("汉"));
    assert_eq!(card.birth_date, date(1965, 3, 15));
    assert_eq!(
        card.address.as_deref(),
        Some("北京市东城区东华门街道南池子大街12号")
    );
    assert_eq!(card.id_number, "11010119650315025X");
    assert_eq!(card.issuer.as_deref(), Some("北京市公安局东城分局"));
    assert_eq!(card.valid_from, date(2015, 6, 1));
    assert_eq!(card.valid_until, Validity::LongTerm);
}

#[test]
fn a_hong_kong_permit_is_recognised_by_its_j_marker() {
    let raw = text_with(&[
        (0, "陈嘉欣"),
        (30, "2"),
        (36, "19920708"),
        (52, "广东省深圳市福田区福华路88号"),
        (122, "810000199207080266"),
        (158, "深圳市公安局福田分局"),
        (188, "20200110"),
        (204, "20250110"),
        (220, "H60123456"), // pass number, 18 bytes
        (238, "02"),        // issue count
        (248, "J"),         // kind marker
    ]);
    let card = decode_text(&raw).unwrap();
    assert_eq!(card.card_type, CardKind::HkMoTwPermit);
    assert_eq!(card.nation, None);
    assert_eq!(card.pass_number.as_deref(), Some("H60123456"));
    assert_eq!(card.issue_count, Some(2));
    assert_eq!(card.valid_until, Validity::Until(date(2025, 1, 10)));
}

#[test]
fn an_old_foreigner_card_puts_the_english_name_first() {
    let raw = text_with(&[
        (0, "SMITH, JOHN ALEXANDER"), // English name, 120 bytes
        (120, "1"),                   // sex
        (122, "USA110079051521"),     // permit number, 30 bytes
        (152, "USA"),                 // nationality
        (158, "史密斯"),              // Chinese name
        (188, "20180301"),
        (204, "20280301"),
        (220, "19790515"), // birth
        (236, "10"),       // version
        (240, "1100"),     // accepting authority code
        (248, "I"),
    ]);
    let card = decode_text(&raw).unwrap();
    assert_eq!(card.card_type, CardKind::ForeignPermanent);
    assert_eq!(card.english_name.as_deref(), Some("SMITH, JOHN ALEXANDER"));
    assert_eq!(card.id_number, "USA110079051521");
    assert_eq!(card.nationality.as_deref(), Some("USA"));
    assert_eq!(card.name, "史密斯");
    assert_eq!(card.birth_date, date(1979, 5, 15));
    assert_eq!(card.card_version.as_deref(), Some("10"));
    assert_eq!(card.authority_code.as_deref(), Some("1100"));
}

#[test]
fn a_2023_foreigner_card_joins_its_english_name_across_two_slots() {
    // 35 characters in the first slot, the rest at byte 220.
    let english = "MUELLER-SCHMIDT, KATHARINA ELISABET";
    assert_eq!(english.len(), 35);
    let raw = text_with(&[
        (0, "穆凯特"),
        (30, "2"),
        (32, "01"), // re-issue count
        (36, "19860922"),
        (52, english),
        (122, "927601198609220280"),
        (158, "国家移民管理局"),
        (188, "20240105"),
        (204, "20340105"),
        (220, "H MARIA"), // English name continued
        (238, "DEU"),
        (248, "Y"),
    ]);
    let card = decode_text(&raw).unwrap();
    assert_eq!(card.card_type, CardKind::ForeignPermanent2023);
    assert_eq!(
        card.english_name.as_deref(),
        Some("MUELLER-SCHMIDT, KATHARINA ELISABETH MARIA")
    );
    assert_eq!(card.issue_count, Some(1));
    assert_eq!(card.nationality.as_deref(), Some("DEU"));
    assert_eq!(card.issuer.as_deref(), Some("国家移民管理局"));
    // And the encoder writes exactly these bytes back.
    assert_eq!(encode_text(&card).unwrap().to_vec(), raw);
}

#[test]
fn a_wrong_check_character_is_reported_not_accepted() {
    let raw = text_with(&[
        (0, "李"),
        (30, "1"),
        (32, "01"),
        (36, "19650315"),
        (122, "110101196503150251"), // check character should be X
        (188, "20150601"),
        (204, "长期"),
    ]);
    assert_eq!(
        decode_text(&raw),
        Err(CardError::BadCheckCharacter {
            masked: "1101**********0251".into(),
            expected: 'X',
            found: '1'
        })
    );
}

#[test]
fn unknown_sex_and_nation_codes_are_errors() {
    let base = [
        (0, "李"),
        (36, "19650315"),
        (122, "11010119650315025X"),
        (188, "20150601"),
        (204, "长期"),
    ];
    let mut bad_sex = base.to_vec();
    bad_sex.extend([(30, "3"), (32, "01")]);
    assert_eq!(
        decode_text(&text_with(&bad_sex)),
        Err(CardError::BadSex("3".into()))
    );
    let mut bad_nation = base.to_vec();
    bad_nation.extend([(30, "1"), (32, "57")]);
    assert_eq!(
        decode_text(&text_with(&bad_nation)),
        Err(CardError::UnknownNation("57".into()))
    );
}

#[test]
fn the_nation_table_has_the_56_nations_and_the_other_codes() {
    let all: Vec<Nation> = Nation::all().collect();
    assert_eq!(all.len(), 58);
    assert_eq!(all.iter().filter(|n| n.code() <= 56).count(), 56);
    assert_eq!(Nation::from_code(1).map(Nation::name), Some("汉"));
    assert_eq!(Nation::from_code(56).map(Nation::name), Some("基诺"));
    assert_eq!(Nation::from_code(97).map(Nation::name), Some("其他"));
    assert_eq!(
        Nation::from_code(98).map(Nation::name),
        Some("外国血统中国籍人士")
    );
    assert_eq!(Nation::from_name("蒙古族").map(Nation::code), Some(2));
    let mut names: Vec<&str> = all.iter().map(|n| n.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 58, "names are unique");
}

fn sample_resident() -> IdCard {
    decode_text(&text_with(&[
        (0, "张建国"),
        (30, "1"),
        (32, "01"),
        (36, "19650315"),
        (52, "北京市东城区南池子大街12号"),
        (122, "11010119650315025X"),
        (158, "北京市公安局东城分局"),
        (188, "20150601"),
        (204, "长期"),
    ]))
    .unwrap()
}

#[test]
fn debug_and_display_never_show_the_name_number_or_address() {
    let card = sample_resident();
    for shown in [format!("{card:?}"), format!("{card}")] {
        assert!(!shown.contains("张建国"), "{shown}");
        assert!(!shown.contains("11010119650315025X"), "{shown}");
        assert!(!shown.contains("南池子"), "{shown}");
        assert!(!shown.contains("1965"), "{shown}");
        assert!(shown.contains("1101**********025X"), "{shown}");
    }
}

#[test]
fn the_json_form_uses_the_technician_field_names() {
    let json = serde_json::to_value(sample_resident()).unwrap();
    assert_eq!(json["card_type"], "resident");
    assert_eq!(json["sex"], "男");
    assert_eq!(json["nation"], "汉");
    assert_eq!(json["birth_date"], "1965-03-15");
    assert_eq!(json["valid_until"], "long-term");
    assert!(json.get("english_name").is_none());
    let back: IdCard = serde_json::from_value(json).unwrap();
    assert_eq!(back, sample_resident());
}

// ---- USB endpoint probing -----------------------------------------------------------

fn bulk(interface: u8, address: u8, max_packet: u16) -> EndpointInfo {
    EndpointInfo {
        interface,
        address,
        kind: TransferKind::Bulk,
        max_packet,
    }
}

#[test]
fn a_reader_with_one_bulk_pair_moves_whole_frames_over_it() {
    let endpoints = [
        EndpointInfo {
            interface: 0,
            address: 0x83,
            kind: TransferKind::Other, // interrupt endpoint, ignored
            max_packet: 8,
        },
        bulk(0, 0x01, 64),
        bulk(0, 0x82, 64),
    ];
    assert_eq!(
        probe_layout(&endpoints),
        Ok(EndpointLayout::Single {
            interface: 0,
            out: 0x01,
            input: 0x82
        })
    );
}

#[test]
fn a_reader_with_two_bulk_pairs_splits_header_and_body() {
    let endpoints = [
        bulk(0, 0x02, 512), // body out
        bulk(0, 0x81, 64),  // header in
        bulk(0, 0x01, 64),  // header out
        bulk(0, 0x82, 512), // body in
    ];
    assert_eq!(
        probe_layout(&endpoints),
        Ok(EndpointLayout::Split {
            interface: 0,
            header_out: 0x01,
            header_in: 0x81,
            body_out: 0x02,
            body_in: 0x82
        })
    );
}

#[test]
fn a_device_without_a_bulk_pair_is_not_a_reader() {
    let hid_only = [EndpointInfo {
        interface: 0,
        address: 0x81,
        kind: TransferKind::Other,
        max_packet: 8,
    }];
    assert_eq!(probe_layout(&hid_only), Err(ProbeError::NoBulkPair));
    // A bulk IN alone on interface 0, and the pair on interface 1: interface 1 wins.
    let endpoints = [bulk(0, 0x81, 64), bulk(1, 0x03, 64), bulk(1, 0x84, 64)];
    assert_eq!(
        probe_layout(&endpoints),
        Ok(EndpointLayout::Single {
            interface: 1,
            out: 0x03,
            input: 0x84
        })
    );
}

// ---- properties ---------------------------------------------------------------------

fn any_card() -> impl Strategy<Value = IdCard> {
    let chinese = "[\u{4e00}-\u{9fa5}]{1,15}";
    let english = "[A-Z][A-Z ,.-]{0,42}[A-Z]";
    (
        0..4u8,
        chinese,
        english,
        prop::sample::select(vec![Sex::Male, Sex::Female, Sex::Unknown, Sex::Unstated]),
        prop::sample::select(Nation::all().collect::<Vec<_>>()),
        (1900..2030i32, 1..13u32, 1..29u32),
        "[0-9]{17}",
        prop::option::of("[\u{4e00}-\u{9fa5}0-9]{1,35}"),
        prop::bool::ANY,
        0..100u8,
    )
        .prop_map(
            |(kind, name, english, sex, nation, (y, m, d), digits, address, long, count)| {
                let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
                let id = format!("{digits}{}", check_character(&digits).unwrap());
                let kind = [
                    CardKind::Resident,
                    CardKind::HkMoTwPermit,
                    CardKind::ForeignPermanent,
                    CardKind::ForeignPermanent2023,
                ][usize::from(kind)];
                let foreign = matches!(
                    kind,
                    CardKind::ForeignPermanent | CardKind::ForeignPermanent2023
                );
                IdCard {
                    card_type: kind,
                    name,
                    english_name: foreign.then_some(english),
                    sex,
                    nation: (kind == CardKind::Resident).then_some(nation),
                    nationality: foreign.then(|| "CAN".to_string()),
                    birth_date: day,
                    address: if foreign { None } else { address },
                    id_number: if kind == CardKind::ForeignPermanent {
                        format!("CAN{}", &digits[..12])
                    } else {
                        id
                    },
                    issuer: (kind != CardKind::ForeignPermanent).then(|| "国家移民管理局".into()),
                    valid_from: day,
                    valid_until: if long {
                        Validity::LongTerm
                    } else {
                        Validity::Until(day)
                    },
                    pass_number: (kind == CardKind::HkMoTwPermit).then(|| "H01234567".into()),
                    issue_count: matches!(
                        kind,
                        CardKind::HkMoTwPermit | CardKind::ForeignPermanent2023
                    )
                    .then_some(count),
                    card_version: (kind == CardKind::ForeignPermanent).then(|| "10".into()),
                    authority_code: (kind == CardKind::ForeignPermanent).then(|| "3100".into()),
                    previous_card_link: None,
                    new_address: None,
                    photo: Default::default(),
                    fingerprint: None,
                }
            },
        )
}

proptest! {
    #[test]
    fn any_bytes_decode_to_a_reply_or_an_error_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = frame::decode(&bytes);
        let _ = frame::decode_request(&bytes);
        let _ = frame::boundary(&bytes);
    }

    #[test]
    fn any_reply_survives_encoding_and_decoding(sw3 in any::<u8>(), data in prop::collection::vec(any::<u8>(), 0..2400)) {
        let bytes = frame::encode_reply(sw3, &data);
        prop_assert_eq!(frame::boundary(&bytes), Boundary::Complete(bytes.len()));
        let reply = frame::decode(&bytes).unwrap();
        prop_assert_eq!(reply.sw, [0, 0, sw3]);
        prop_assert_eq!(&reply.data, &data);
    }

    #[test]
    fn any_single_byte_corruption_is_caught(data in prop::collection::vec(any::<u8>(), 0..300), at in any::<prop::sample::Index>(), flip in 1..=255u8) {
        let mut bytes = frame::encode_reply(0x90, &data);
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        prop_assert!(frame::decode(&bytes).is_err());
    }

    #[test]
    fn the_framing_rule_finds_a_frame_after_any_noise(noise in prop::collection::vec(0u8..0xAA, 0..40), data in prop::collection::vec(any::<u8>(), 0..64)) {
        let reply = frame::encode_reply(0x90, &data);
        let mut stream = noise.clone();
        stream.extend_from_slice(&reply);
        let mut at = 0;
        loop {
            match frame::boundary(&stream[at..]) {
                Boundary::Garbage(n) => at += n,
                Boundary::Complete(n) => {
                    prop_assert_eq!(&stream[at..at + n], &reply[..]);
                    break;
                }
                Boundary::Incomplete(_) => prop_assert!(false, "stalled at {}", at),
            }
        }
    }

    #[test]
    fn any_text_decodes_to_a_card_or_an_error_without_panicking(raw in prop::collection::vec(any::<u8>(), 256)) {
        let _ = decode_text(&raw);
    }

    #[test]
    fn any_card_survives_encoding_and_decoding(card in any_card()) {
        let raw = encode_text(&card).unwrap();
        prop_assert_eq!(decode_text(&raw).unwrap(), card);
    }
}
