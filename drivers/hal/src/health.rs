//! Health reports: every driver can say whether its device is ready, and if not, what a
//! technician (or the citizen's screen) should be told.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The kinds of device a kiosk drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// GA 467 SAM second-generation ID-card reader.
    IdCardReader,
    /// ESC/POS receipt printer.
    Printer,
    /// Queue-ticket dispenser (a printer plus a ticket-taken sensor).
    Dispenser,
    /// SANE document scanner.
    Scanner,
    /// Optional queue-number display.
    NumberDisplay,
}

impl DeviceKind {
    /// Every kind.
    pub const ALL: [DeviceKind; 5] = [
        Self::IdCardReader,
        Self::Printer,
        Self::Dispenser,
        Self::Scanner,
        Self::NumberDisplay,
    ];

    /// The name on the wire and in files (what serde writes: `id_card_reader`, ...), for
    /// fields that carry a kind as a string.
    pub fn name(self) -> &'static str {
        match self {
            Self::IdCardReader => "id_card_reader",
            Self::Printer => "printer",
            Self::Dispenser => "dispenser",
            Self::Scanner => "scanner",
            Self::NumberDisplay => "number_display",
        }
    }

    /// A short English name for logs and technician output.
    pub fn label(self) -> &'static str {
        match self {
            Self::IdCardReader => "ID-card reader",
            Self::Printer => "printer",
            Self::Dispenser => "ticket dispenser",
            Self::Scanner => "scanner",
            Self::NumberDisplay => "number display",
        }
    }
}

/// How usable a device is right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum HealthState {
    /// Working.
    Ready,
    /// Working, but needs attention soon (paper near end, slow answers).
    Degraded(String),
    /// Not usable: journeys that need it must be greyed out.
    Fault(String),
    /// Not found where configured (unplugged, never installed).
    Absent,
}

impl HealthState {
    /// Whether journeys that need this device may run.
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Ready | Self::Degraded(_))
    }
}

/// One device's health at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHealth {
    /// What kind of device this is.
    pub kind: DeviceKind,
    /// Where it is attached (`/dev/kiosk/printer`, `tcp://10.0.0.5:9100`, a SANE name).
    pub location: String,
    /// Its state.
    pub state: HealthState,
    /// When this was observed.
    pub observed_at: SystemTime,
}

impl DeviceHealth {
    /// A report observed now.
    pub fn now(kind: DeviceKind, location: impl Into<String>, state: HealthState) -> Self {
        Self {
            kind,
            location: location.into(),
            state,
            observed_at: SystemTime::now(),
        }
    }
}
