//! Device simulators that speak the real protocols over pseudo-terminals and TCP, so that
//! drivers, the technician tool and the kiosk are tested against the bytes real devices send.

pub mod idcard;
pub mod printer;
