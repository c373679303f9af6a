//! The ID-card driver against the simulated SAM reader, over real pseudo-terminals.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kiosk_idcard::frame::Command;
use kiosk_idcard::transport::AUTO_BAUD_RATES;
use kiosk_idcard::{
    CardError, CardKind, FrameError, IdCard, ReadOptions, Reader, ReaderError, SerialTransport,
    Status, Transport, TransportError,
};
use kiosk_sim::idcard::{Faults, SimConfig, SimulatedReader, load_card};

fn card(kind: &str) -> IdCard {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("cards/{kind}.json"));
    load_card(&path).unwrap()
}

fn link(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("idcard")
}

fn sim_with(dir: &tempfile::TempDir, config: SimConfig) -> SimulatedReader {
    SimulatedReader::start(link(dir), config).unwrap()
}

fn sim(dir: &tempfile::TempDir, card: Option<IdCard>, faults: Faults) -> SimulatedReader {
    sim_with(
        dir,
        SimConfig {
            card,
            faults,
            ..SimConfig::default()
        },
    )
}

fn open(dir: &tempfile::TempDir) -> Reader<kiosk_idcard::SerialTransport> {
    Reader::open_serial(link(dir).to_str().unwrap(), 115_200).unwrap()
}

#[test]
fn every_card_kind_reads_back_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(&dir, None, Faults::default());
    let mut reader = open(&dir);
    for kind in [
        "resident",
        "hk_mo_tw_permit",
        "foreign_permanent",
        "foreign_permanent_2023",
    ] {
        let expected = card(kind);
        sim.set_card(Some(&expected)).unwrap();
        let options = ReadOptions {
            fingerprint: false,
            new_address: true,
        };
        let mut read = reader.read_card(options).unwrap().unwrap();
        assert_eq!(
            read.photo.wlt().len(),
            1024,
            "{kind}: photo kept as 1024 WLT bytes"
        );
        read.photo = Default::default();
        assert_eq!(read, expected, "{kind}");
    }
}

#[test]
fn an_empty_reader_reads_as_no_card() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = sim(&dir, None, Faults::default());
    assert_eq!(open(&dir).read_card(ReadOptions::default()).unwrap(), None);
}

#[test]
fn the_fingerprint_block_comes_with_30_10() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = sim(&dir, Some(card("resident")), Faults::default());
    let options = ReadOptions {
        fingerprint: true,
        new_address: false,
    };
    let read = open(&dir).read_card(options).unwrap().unwrap();
    assert_eq!(read.fingerprint.as_ref().map(|f| f.len()), Some(1024));
    assert_eq!(read.new_address, None, "not asked for");
}

#[test]
fn a_failed_select_is_a_typed_status_error() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults {
        select_fails: true,
        ..Faults::default()
    };
    let _sim = sim(&dir, Some(card("resident")), faults);
    let err = open(&dir).read_card(ReadOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ReaderError::Status {
                command: Command::SelectCard,
                status: Status::SelectFailed,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("keep the card still"), "{err}");
}

#[test]
fn a_bad_checksum_names_the_port_what_was_sent_and_what_came_back() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults {
        bad_checksum: true,
        ..Faults::default()
    };
    let _sim = sim(&dir, Some(card("resident")), faults);
    let err = open(&dir).read_card(ReadOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ReaderError::Frame {
                source: FrameError::BadChecksum { .. },
                ..
            }
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains(link(&dir).to_str().unwrap()), "{message}");
    assert!(message.contains("read base info (30 01)"), "{message}");
    // sent: preamble, LEN 00 03, 30 01, checksum 32
    assert!(
        message.contains("AA AA AA 96 69 00 03 30 01 32"),
        "{message}"
    );
    // got: preamble, LEN 05 08, SW 00 00 90 and no card data
    assert!(
        message.contains("AA AA AA 96 69 05 08 00 00 90 …"),
        "{message}"
    );
    assert!(!message.contains("刘"), "{message}");
}

#[test]
fn a_truncated_reply_is_reported_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults {
        truncated: true,
        ..Faults::default()
    };
    let _sim = sim(&dir, Some(card("resident")), faults);
    let mut reader = open(&dir).with_timeout(Duration::from_millis(500));
    let err = reader.read_card(ReadOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ReaderError::Frame {
                source: FrameError::Truncated {
                    expected: 1288,
                    got: 640
                },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn slow_answers_are_read_within_the_timeout_and_reported_beyond_it() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults {
        slow: Some(Duration::from_millis(200)),
        ..Faults::default()
    };
    let _sim = sim(&dir, Some(card("hk_mo_tw_permit")), faults);
    let mut reader = open(&dir);
    let started = Instant::now();
    let read = reader.read_card(ReadOptions::default()).unwrap().unwrap();
    assert_eq!(read.card_type, CardKind::HkMoTwPermit);
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "four slow answers"
    );

    let mut impatient = reader.with_timeout(Duration::from_millis(100));
    let err = impatient.find_card().unwrap_err();
    assert!(
        matches!(
            err,
            ReaderError::Transport {
                source: TransportError::Timeout { got: 0, .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("no complete reply within 100ms"),
        "{err}"
    );
}

#[test]
fn a_failed_sam_self_test_stops_the_reader_from_opening() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults {
        sam_self_test_fails: true,
        ..Faults::default()
    };
    let _sim = sim(&dir, Some(card("resident")), faults);
    let err = Reader::open_serial(link(&dir).to_str().unwrap(), 115_200)
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ReaderError::Status {
                status: Status::SelfTestFailed,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("replace the reader"), "{err}");
}

#[test]
fn a_card_with_a_wrong_check_character_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut forged = card("resident");
    forged.id_number = "440306198804210201".into(); // the digits call for X
    let _sim = sim(&dir, Some(forged), Faults::default());
    let err = open(&dir).read_card(ReadOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ReaderError::Card {
                source: CardError::BadCheckCharacter {
                    expected: 'X',
                    found: '1',
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !err.to_string().contains("440306198804210201"),
        "masked: {err}"
    );
}

#[test]
fn auto_detection_finds_a_reader_set_to_9600_baud() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_with(
        &dir,
        SimConfig {
            card: Some(card("foreign_permanent")),
            baud: 9600,
            ..SimConfig::default()
        },
    );
    let mut reader =
        Reader::open_serial_auto(link(&dir).to_str().unwrap(), &AUTO_BAUD_RATES).unwrap();
    assert_eq!(reader.transport().baud(), 9600);
    let seen = sim.seen();
    let unanswered = seen.iter().filter(|s| !s.answered).count();
    assert_eq!(
        unanswered, 4,
        "115200, 57600, 38400 and 19200 went unanswered"
    );
    assert!(seen.iter().all(|s| s.command == Some(Command::SamStatus)));
    let read = reader.read_card(ReadOptions::default()).unwrap().unwrap();
    assert_eq!(read.card_type, CardKind::ForeignPermanent);
}

#[test]
fn a_reader_at_another_speed_than_the_one_configured_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = sim_with(
        &dir,
        SimConfig {
            baud: 9600,
            ..SimConfig::default()
        },
    );
    let transport = SerialTransport::open(link(&dir).to_str().unwrap(), 115_200).unwrap();
    let mut reader = Reader::new(transport).with_timeout(Duration::from_millis(300));
    let err = reader.sam_status().unwrap_err();
    assert!(
        matches!(
            err,
            ReaderError::Transport {
                source: TransportError::Timeout { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn garbage_and_unknown_commands_get_the_readers_own_error_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = sim_with(
        &dir,
        SimConfig {
            pace: false,
            ..SimConfig::default()
        },
    );
    // Raw frames, to send what the driver never would.
    let mut port = SerialTransport::open(link(&dir).to_str().unwrap(), 115_200).unwrap();
    let mut exchange = |request: &[u8]| {
        port.send(request).unwrap();
        let reply = port.receive(Duration::from_secs(2)).unwrap();
        kiosk_idcard::frame::decode(&reply).unwrap().status()
    };
    // preamble, LEN 00 03, 11 FF, checksum EE instead of ED
    assert_eq!(
        exchange(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x11, 0xFF, 0xEE]),
        Status::ChecksumError
    );
    // preamble, LEN 00 03, 99 99 (no such command), checksum 03
    assert_eq!(
        exchange(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x99, 0x99, 0x03]),
        Status::CommandError
    );
}
