//! `[queue]`, `[voice]` and `[journeys]`: settings of the citizen journeys (kiosk-journeys).

use serde::{Deserialize, Serialize};

/// `[queue]`: queue numbering: central's leased blocks and the kiosk's offline band.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSection {
    /// Numbers asked for in one lease from central (1–100).
    pub lease_size: u32,
    /// A new lease is asked for when fewer numbers than this are left in hand (0–100).
    pub low_water: u32,
    /// Seconds between refreshes of central's queue state (people ahead, waiting time).
    pub state_refresh_secs: u64,
}

impl Default for QueueSection {
    fn default() -> Self {
        Self {
            lease_size: 20,
            low_water: 5,
            state_refresh_secs: 15,
        }
    }
}

/// `[voice]`: spoken prompts through espeak-ng.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceSection {
    /// Whether voice prompts exist at all on this kiosk (they start on in elder mode).
    pub enabled: bool,
    /// Also speak when not in elder mode.
    pub always: bool,
    /// The espeak-ng program.
    pub program: String,
    /// Words per minute (80–300); elders hear a slower voice.
    pub words_per_minute: u32,
}

impl Default for VoiceSection {
    fn default() -> Self {
        Self {
            enabled: true,
            always: false,
            program: "espeak-ng".into(),
            words_per_minute: 140,
        }
    }
}

/// `[journeys]`: links printed as QR codes and the engine's periodic work.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JourneysSection {
    /// Base of the live queue link on tickets; the ticket number and date are appended.
    pub queue_url: String,
    /// Base of the progress link on receipts; the application number is appended.
    pub progress_url: String,
    /// Base of the full guide link on guide slips; the matter id is appended.
    pub guide_url: String,
    /// Seconds between `health_report` events (10–3600).
    pub health_interval_secs: u64,
    /// Minutes before an appointment's slot that check-in opens (0–240).
    pub checkin_early_minutes: u32,
    /// Minutes after a slot's start that check-in is still accepted (0–240).
    pub checkin_late_minutes: u32,
}

impl Default for JourneysSection {
    fn default() -> Self {
        Self {
            queue_url: "https://zwfw.example.gov.cn/q/".into(),
            progress_url: "https://zwfw.example.gov.cn/p/".into(),
            guide_url: "https://zwfw.example.gov.cn/g/".into(),
            health_interval_secs: 60,
            checkin_early_minutes: 30,
            checkin_late_minutes: 15,
        }
    }
}
