use crate::display::{Call, call_registers, crc16, write_registers_frame};

#[test]
fn the_modbus_crc_matches_the_spec_example() {
    // Read holding registers 0..10 of unit 1: 01 03 0000 000A, CRC C5 CD (low byte first)
    assert_eq!(
        crc16(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x0A]).to_le_bytes(),
        [0xC5, 0xCD]
    );
}

#[test]
fn a_call_becomes_window_and_eight_ascii_characters() {
    let call = Call {
        number: "A042".into(),
        window: 7,
    };
    // window 7, then "A0" "42" "  " "  "
    assert_eq!(
        call_registers(&call),
        [0x0007, 0x4130, 0x3432, 0x2020, 0x2020]
    );
    let frame = write_registers_frame(0x11, 0x0100, &call_registers(&call));
    assert_eq!(
        frame[..7],
        [
            0x11, // unit
            0x10, // write multiple registers
            0x01, 0x00, // from register 0x0100
            0x00, 0x05, // five registers
            0x0A, // ten data bytes
        ]
    );
    assert_eq!(frame.len(), 7 + 10 + 2);
}
