#![allow(clippy::unwrap_used)]
//! The Modbus RTU number display against a small Modbus slave on a real PTY.

use std::io::{Read, Write};
use std::time::Duration;

use kiosk_dispenser::display::crc16;
use kiosk_dispenser::{Call, DisplayError, ModbusDisplay, NumberDisplay};
use kiosk_escpos::Endpoint;
use kiosk_hal::LinkedPty;

/// Reads one write-multiple-registers request and answers it (or with exception `refuse`).
fn slave(mut master: std::fs::File, refuse: Option<u8>) -> Vec<u8> {
    let mut frame = vec![0u8; 7];
    master.read_exact(&mut frame).unwrap();
    let mut rest = vec![0u8; usize::from(frame[6]) + 2];
    master.read_exact(&mut rest).unwrap();
    frame.extend_from_slice(&rest);
    let (body, crc) = frame.split_at(frame.len() - 2);
    assert_eq!(crc16(body).to_le_bytes(), crc, "request CRC");
    let mut answer = match refuse {
        None => body[..6].to_vec(),
        Some(code) => vec![body[0], 0x90, code],
    };
    let crc = crc16(&answer);
    answer.extend_from_slice(&crc.to_le_bytes());
    master.write_all(&answer).unwrap();
    frame
}

#[tokio::test]
async fn calling_a_number_writes_the_window_and_text_registers_over_rs485() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("display");
    let pty = LinkedPty::open_linked(&link).unwrap();
    let endpoint = Endpoint::Serial {
        path: link,
        baud: 9600,
    };
    let port = kiosk_escpos::transport::open(&endpoint, Duration::from_secs(1))
        .await
        .unwrap();
    let mut display = ModbusDisplay::new(port, endpoint.to_string(), 0x11, 0x0000);

    let a042 = Call {
        number: "A042".into(),
        window: 7,
    };
    let a043 = Call {
        number: "A043".into(),
        window: 7,
    };
    let (frame, shown) = tokio::join!(
        tokio::task::spawn_blocking({
            let master = pty.try_clone_master().unwrap();
            move || slave(master, None)
        }),
        display.show(&a042)
    );
    shown.unwrap();
    let frame = frame.unwrap();
    assert_eq!(
        frame[7..17],
        [
            0x00, 0x07, // window 7
            b'A', b'0', b'4', b'2', b' ', b' ', b' ', b' ', // number, space padded
        ]
    );

    let (_, refused) = tokio::join!(
        tokio::task::spawn_blocking({
            let master = pty.try_clone_master().unwrap();
            move || slave(master, Some(0x02))
        }),
        display.show(&a043)
    );
    assert!(matches!(
        refused,
        Err(DisplayError::Exception { code: 0x02, .. })
    ));
}
