use proptest::prelude::*;

use crate::status::{
    Inbound, Incoming, PaperLevel, PrinterStatus, Problem, StatusError, StatusQuery, ticket_waiting,
};
use crate::{Align, Bitmap, Job, QrLevel, QrStyle, raster};

#[test]
fn an_idle_printer_answers_0x12_to_every_question_and_can_print() {
    // DLE EOT 1..4 all 0x12: online, cover closed, no error, paper adequate
    let status = PrinterStatus::from_replies([0x12, 0x12, 0x12, 0x12]).unwrap();
    assert!(status.online);
    assert_eq!(status.paper, PaperLevel::Ok);
    assert!(status.can_print());
}

#[test]
fn paper_out_is_read_from_the_offline_cause_and_the_paper_sensor() {
    let status = PrinterStatus::from_replies([
        0x1A, // DLE EOT 1: bit 3 offline
        0x32, // DLE EOT 2: bit 5 stopped by paper end
        0x12, // DLE EOT 3: no error
        0x7E, // DLE EOT 4: bits 2-3 near end, bits 5-6 paper end
    ])
    .unwrap();
    assert!(!status.online);
    assert_eq!(status.paper, PaperLevel::Out);
    assert_eq!(status.problem(), Some(crate::Problem::PaperOut));
}

#[test]
fn paper_near_end_still_prints() {
    let status = PrinterStatus::from_replies([
        0x12, // online
        0x12, // no offline cause
        0x12, // no error
        0x1E, // DLE EOT 4: bits 2-3 near end
    ])
    .unwrap();
    assert_eq!(status.paper, PaperLevel::NearEnd);
    assert!(status.can_print());
}

#[test]
fn an_open_cover_and_a_cutter_jam_are_told_apart() {
    let cover = PrinterStatus::from_replies([0x1A, 0x16, 0x12, 0x12]).unwrap(); // 2: bit 2 cover
    assert_eq!(cover.problem(), Some(crate::Problem::CoverOpen));
    let cutter = PrinterStatus::from_replies([0x1A, 0x52, 0x1A, 0x12]).unwrap(); // 3: bit 3 cutter
    assert_eq!(cutter.problem(), Some(crate::Problem::CutterError));
    let fatal = PrinterStatus::from_replies([0x1A, 0x52, 0x32, 0x12]).unwrap(); // 3: bit 5
    assert_eq!(fatal.problem(), Some(crate::Problem::UnrecoverableError));
}

#[test]
fn a_byte_without_the_status_pattern_is_refused_not_guessed() {
    // 0x00: bit 1 and bit 4 must be set in every DLE EOT answer
    assert_eq!(
        PrinterStatus::from_replies([0x00, 0x12, 0x12, 0x12]),
        Err(StatusError::BadPattern {
            query: StatusQuery::Printer,
            byte: 0x00
        })
    );
}

#[test]
fn the_automatic_status_block_decodes_cover_and_paper() {
    let status = PrinterStatus::from_automatic([
        0x38, // byte 1: 0xx1xx00, bit 3 offline, bit 5 cover open
        0x08, // byte 2: bit 3 autocutter error
        0x0F, // byte 3: near end (bits 0-1) and paper end (bits 2-3)
        0x00, // byte 4: nothing
    ])
    .unwrap();
    assert!(!status.online && status.cover_open && status.cutter_error);
    assert!(!status.recoverable_error);
    assert_eq!(status.paper, PaperLevel::Out);
    assert_eq!(status.problem(), Some(Problem::PaperOut));
    assert!(PrinterStatus::from_automatic([0x12, 0, 0, 0]).is_err());
}

/// Blocks as Epson's reference for `GS a` defines them, bit by bit, not as our emulator
/// happens to write them.
#[test]
fn automatic_status_blocks_decode_as_the_epson_reference_defines_them() {
    // A healthy TM-T88: fixed bit 4, drawer pin 3 high (bit 2); byte 4's low bits are
    // undefined and some firmware sets them (0x0F).
    let healthy = PrinterStatus::from_automatic([0x14, 0x00, 0x00, 0x0F]).unwrap();
    assert!(healthy.can_print());
    assert_eq!(healthy.problem(), None);
    assert_eq!(healthy.paper, PaperLevel::Ok);

    // Byte 2 bit 2 is the recoverable (mechanical) error, bit 3 the autocutter.
    let mechanical = PrinterStatus::from_automatic([0x18, 0x04, 0x00, 0x00]).unwrap();
    assert!(mechanical.recoverable_error && !mechanical.cutter_error);
    let cutter = PrinterStatus::from_automatic([0x18, 0x08, 0x00, 0x00]).unwrap();
    assert!(cutter.cutter_error && !cutter.recoverable_error);
    assert_eq!(cutter.problem(), Some(Problem::CutterError));
    let fatal = PrinterStatus::from_automatic([0x18, 0x20, 0x00, 0x00]).unwrap();
    assert_eq!(fatal.problem(), Some(Problem::UnrecoverableError));
    let hot = PrinterStatus::from_automatic([0x18, 0x40, 0x00, 0x00]).unwrap();
    assert!(hot.auto_recoverable_error);

    // Byte 3: near end alone (bits 0-1) still prints.
    let near = PrinterStatus::from_automatic([0x10, 0x00, 0x03, 0x00]).unwrap();
    assert_eq!(near.paper, PaperLevel::NearEnd);
    assert!(near.can_print());

    // Cover open (byte 1 bit 5) while offline (bit 3); feed button (bit 6).
    let open = PrinterStatus::from_automatic([0x38, 0x00, 0x00, 0x00]).unwrap();
    assert_eq!(open.problem(), Some(Problem::CoverOpen));
    assert!(
        PrinterStatus::from_automatic([0x50, 0x00, 0x00, 0x00])
            .unwrap()
            .feed_button
    );

    // Fixed bits broken: bit 1 of byte 1 (a DLE EOT answer), bit 4 or 7 of the others.
    for bad in [
        [0x12, 0x00, 0x00, 0x00],
        [0x90, 0x00, 0x00, 0x00],
        [0x10, 0x10, 0x00, 0x00],
        [0x10, 0x00, 0x80, 0x00],
        [0x10, 0x00, 0x00, 0x10],
    ] {
        assert!(PrinterStatus::from_automatic(bad).is_err(), "{bad:02X?}");
    }
}

#[test]
fn the_emulators_blocks_are_the_inverse_of_decoding() {
    let states = [
        PrinterStatus {
            online: true,
            ..PrinterStatus::default()
        },
        PrinterStatus {
            online: false,
            cover_open: true,
            paper: PaperLevel::Out,
            cutter_error: true,
            ..PrinterStatus::default()
        },
        PrinterStatus {
            online: true,
            paper: PaperLevel::NearEnd,
            auto_recoverable_error: true,
            ..PrinterStatus::default()
        },
    ];
    for state in states {
        let block = state.automatic();
        assert_eq!(
            PrinterStatus::from_automatic(block).unwrap(),
            state,
            "{block:02X?}"
        );
    }
}

#[test]
fn automatic_blocks_are_sorted_out_of_a_stream_of_answers() {
    let mut inbound = Inbound::default();
    let stream = [
        0x12, // DLE EOT 1 answer: online
        0x10, 0x00, 0x0F, 0x00, // ASB: paper out
        0x00, // GS r 1 answer: paper present
        0x1A, // DLE EOT answer with offline bit
    ];
    let got: Vec<Incoming> = stream.iter().flat_map(|b| inbound.push(*b)).collect();
    assert_eq!(
        got,
        [
            Incoming::Byte(0x12),
            Incoming::Automatic([0x10, 0x00, 0x0F, 0x00]),
            Incoming::Byte(0x00),
            Incoming::Byte(0x1A),
        ]
    );
    // A block start followed by a byte that cannot continue it gives the bytes back.
    let mut inbound = Inbound::default();
    assert!(inbound.push(0x14).is_empty());
    assert!(inbound.is_mid_block());
    assert_eq!(
        inbound.push(0x12),
        [Incoming::Byte(0x14), Incoming::Byte(0x12)]
    );
    assert!(!inbound.is_mid_block());
}

#[test]
fn the_presenter_answer_says_whether_a_ticket_waits() {
    assert_eq!(ticket_waiting(0x16), Ok(true)); // bit 2: waiting for removal
    assert_eq!(ticket_waiting(0x12), Ok(false));
    assert!(ticket_waiting(0xFF).is_err());
}

#[test]
fn status_requests_are_three_bytes_not_four() {
    // The escpos crate appends a 0x00 to DLE EOT 1..4; a real printer would take it as NUL.
    assert_eq!(StatusQuery::PaperSensor.request(), [0x10, 0x04, 0x04]);
    assert_eq!(StatusQuery::Presenter.request(), [0x10, 0x04, 0x08, 0x03]);
}

#[test]
fn a_job_starts_in_chinese_mode_and_encodes_gb18030() {
    let mut job = Job::new().unwrap();
    job.align(Align::Center).unwrap().line("取号A").unwrap();
    let bytes = job.finish().unwrap();
    assert_eq!(
        bytes,
        [
            0x1B, 0x40, // ESC @: initialise
            0x1C, 0x26, // FS &: Chinese mode
            0x1B, 0x61, 0x01, // ESC a 1: centre
            0xC8, 0xA1, 0xBA, 0xC5, 0x41, // 取 号 A in GB18030
            0x0A, // LF
        ]
    );
}

#[test]
fn a_qr_code_is_sent_as_gs_paren_k_with_its_module_size_and_level() {
    let mut job = Job::new().unwrap();
    job.qr(
        "ab",
        QrStyle {
            module: 5,
            level: QrLevel::Q,
        },
    )
    .unwrap();
    let bytes = job.finish().unwrap();
    assert_eq!(
        &bytes[4..],
        [
            0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00, // model 2
            0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x05, // module 5 dots
            0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x32, // level Q
            0x1D, 0x28, 0x6B, 0x05, 0x00, 0x31, 0x50, 0x30, 0x61, 0x62, // store "ab"
            0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30, // print
        ]
    );
}

#[test]
fn a_raster_image_packs_eight_dots_per_byte_msb_first() {
    let mut bitmap = Bitmap::new(10, 2);
    bitmap.set(0, 0, true);
    bitmap.set(9, 1, true);
    assert_eq!(
        raster(&bitmap).unwrap(),
        [
            0x1D, 0x76, 0x30, 0x00, // GS v 0, normal density
            0x02, 0x00, 0x02, 0x00, // 2 bytes per row, 2 rows
            0x80, 0x00, // row 0: dot 0
            0x00, 0x40, // row 1: dot 9
        ]
    );
}

proptest! {
    #[test]
    fn decoding_any_bytes_never_panics(replies in any::<[u8; 4]>(), byte in any::<u8>()) {
        let _ = PrinterStatus::from_replies(replies);
        let _ = PrinterStatus::from_automatic(replies);
        let _ = ticket_waiting(byte);
    }

    #[test]
    fn replies_of_a_status_decode_back_to_it(
        online in any::<bool>(), cover_open in any::<bool>(), paper in 0u8..3,
        cutter_error in any::<bool>(), unrecoverable_error in any::<bool>(),
        auto_recoverable_error in any::<bool>(), recoverable_error in any::<bool>(),
        feed_button in any::<bool>(),
    ) {
        let paper = [PaperLevel::Ok, PaperLevel::NearEnd, PaperLevel::Out][paper as usize];
        let status = PrinterStatus { online, cover_open, paper, cutter_error, unrecoverable_error,
            auto_recoverable_error, recoverable_error, feed_button };
        prop_assert_eq!(PrinterStatus::from_replies(status.replies()), Ok(status));
    }
}

mod stream {
    use proptest::prelude::*;

    use crate::stream::{Command, Parsed, next_command, parse_all};
    use crate::{Job, QrStyle};

    #[test]
    fn a_built_job_reads_back_as_the_commands_it_was_built_from() {
        let mut job = Job::new().unwrap();
        job.size(2, 3).unwrap().line("A1").unwrap();
        job.qr("https://q.example/1", QrStyle::default())
            .unwrap()
            .cut()
            .unwrap();
        let bytes = job.finish().unwrap();
        let (commands, rest) = parse_all(&bytes);
        assert!(rest.is_empty());
        assert_eq!(
            commands,
            [
                Command::Init,
                Command::Chinese(true),
                Command::Size(0x12),
                Command::Text(b"A1".to_vec()),
                Command::LineFeed,
                Command::QrModel(50),
                Command::QrModule(6),
                Command::QrLevel(49),
                Command::QrStore(b"https://q.example/1".to_vec()),
                Command::QrPrint,
                Command::Cut {
                    feed: 96,
                    partial: true
                },
            ]
        );
    }

    #[test]
    fn a_command_split_across_reads_waits_for_its_tail() {
        // GS v 0, 1 byte x 2 rows, but only one data byte so far
        assert_eq!(
            next_command(&[0x1D, 0x76, 0x30, 0x00, 0x01, 0x00, 0x02, 0x00, 0xFF]),
            Parsed::Incomplete
        );
        // DLE EOT with no n yet
        assert_eq!(next_command(&[0x10, 0x04]), Parsed::Incomplete);
    }

    #[test]
    fn an_unknown_escape_is_skipped_by_its_prefix() {
        // ESC 0x99 is no command; the text after it must survive
        let (commands, _) = parse_all(&[0x1B, 0x99, b'O', b'K']);
        assert_eq!(
            commands,
            [
                Command::Skipped(vec![0x1B, 0x99]),
                Command::Text(b"OK".to_vec())
            ]
        );
    }

    #[test]
    fn a_raster_declaring_gigabytes_is_junk_not_a_wait() {
        // GS v 0 with 65535 x 65535 bytes declared
        let parsed = next_command(&[0x1D, 0x76, 0x30, 0x00, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(parsed, Parsed::Command(Command::Skipped(_), 8)));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic_and_always_progress(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                match next_command(rest) {
                    Parsed::Command(_, used) => {
                        prop_assert!(used >= 1 && used <= rest.len());
                        rest = &rest[used..];
                    }
                    Parsed::Incomplete => break,
                }
            }
        }
    }
}
