//! `[technician]`: how a field technician opens the kiosk's technician mode on its screen.

use serde::{Deserialize, Serialize};

/// `[technician]`: the PIN that opens technician mode, stored only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TechnicianSection {
    /// The PIN as an argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), written by
    /// `kioskctl technician set-pin`. Absent: technician mode cannot be opened on the screen.
    pub pin_hash: Option<String>,
    /// Wrong PINs in a row that lock the keypad (1–10).
    pub max_attempts: u32,
    /// Seconds the keypad stays locked after too many wrong PINs (30–3600).
    pub lockout_secs: u64,
}

impl Default for TechnicianSection {
    fn default() -> Self {
        Self {
            pin_hash: None,
            max_attempts: 5,
            lockout_secs: 300,
        }
    }
}

impl TechnicianSection {
    /// Checks what types cannot: the hash has the shape of an argon2id PHC string (a plain PIN
    /// pasted here by mistake must be refused, not compared).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if let Some(hash) = &self.pin_hash {
            let fields: Vec<&str> = hash.split('$').collect();
            let shaped = fields.len() == 6
                && fields[0].is_empty()
                && fields[1] == "argon2id"
                && fields[2].starts_with("v=")
                && fields[3].contains("m=")
                && fields[4..].iter().all(|f| !f.is_empty());
            if !shaped {
                return Err((
                    "technician.pin_hash".into(),
                    "is not an argon2id PHC string ($argon2id$v=19$m=…$salt$hash): set the PIN \
                     with `kioskctl technician set-pin` rather than writing it here"
                        .into(),
                ));
            }
        }
        let range = |key: &str, value: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err((
                    key.to_string(),
                    format!("{value} is out of range: use {lo} to {hi}"),
                ))
            }
        };
        range(
            "technician.max_attempts",
            u64::from(self.max_attempts),
            1,
            10,
        )?;
        range("technician.lockout_secs", self.lockout_secs, 30, 3600)
    }
}
