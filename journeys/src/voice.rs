//! Spoken prompts through espeak-ng, offline, in Mandarin (`-v cmn`) and English.
//!
//! Only the page prompts of [`crate::machines::Journey::prompt`] are spoken: they never hold
//! personal data (a ticket number is said, a name never). A kiosk without espeak-ng runs
//! silent after one log line; speaking never blocks a journey and never fails one.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use kiosk_core::config::VoiceSection;

use crate::model::{Language, Text};

/// The voice of the kiosk.
#[derive(Debug)]
pub struct Voice {
    program: Option<String>,
    words_per_minute: u32,
    speaking: Mutex<Option<Child>>,
}

impl Voice {
    /// A voice per the configuration; probes the program once.
    pub fn new(config: &VoiceSection) -> Voice {
        let program = if !config.enabled {
            None
        } else {
            match Command::new(&config.program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
            {
                Ok(status) if status.success() => Some(config.program.clone()),
                Ok(status) => {
                    tracing::warn!(program = %config.program, %status, "voice prompts off: espeak-ng did not run");
                    None
                }
                Err(err) => {
                    tracing::warn!(program = %config.program, %err, "voice prompts off: espeak-ng not found (install espeak-ng)");
                    None
                }
            }
        };
        Voice {
            program,
            words_per_minute: config.words_per_minute,
            speaking: Mutex::new(None),
        }
    }

    /// A voice that never speaks (headless runs, tests).
    pub fn silent() -> Voice {
        Voice {
            program: None,
            words_per_minute: 140,
            speaking: Mutex::new(None),
        }
    }

    /// Whether prompts can be spoken at all.
    pub fn available(&self) -> bool {
        self.program.is_some()
    }

    /// The espeak-ng arguments for `text` in `language` (slower for elders).
    pub fn arguments(&self, text: &Text, language: Language, elder: bool) -> Vec<String> {
        let voice = match language {
            Language::Zh => "cmn",
            Language::En => "en",
        };
        let wpm = if elder {
            self.words_per_minute * 4 / 5
        } else {
            self.words_per_minute
        };
        vec![
            "-v".into(),
            voice.into(),
            "-s".into(),
            wpm.to_string(),
            "--".into(),
            text.get(language).to_owned(),
        ]
    }

    /// Says `text`, cutting off what was being said. Returns at once.
    pub fn say(&self, text: &Text, language: Language, elder: bool) {
        let Some(program) = &self.program else {
            return;
        };
        if text.get(language).trim().is_empty() {
            return;
        }
        let Ok(mut speaking) = self.speaking.lock() else {
            return;
        };
        if let Some(mut previous) = speaking.take() {
            let _ = previous.kill();
            let _ = previous.wait();
        }
        match Command::new(program)
            .args(self.arguments(text, language, elder))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => *speaking = Some(child),
            Err(err) => tracing::debug!(%err, "voice prompt not spoken"),
        }
    }
}

impl Drop for Voice {
    fn drop(&mut self) {
        if let Ok(mut speaking) = self.speaking.lock()
            && let Some(mut child) = speaking.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_espeak_turns_voice_off_without_failing() {
        let voice = Voice::new(&VoiceSection {
            program: "/nonexistent/espeak-ng".into(),
            ..VoiceSection::default()
        });
        assert!(!voice.available());
        voice.say(&Text::new("请取号", "Take a number"), Language::Zh, true);
    }

    #[test]
    fn mandarin_and_english_use_their_voices_and_elders_hear_it_slower() {
        let voice = Voice::silent();
        let text = Text::new("请取号", "Take a number");
        let zh = voice.arguments(&text, Language::Zh, true);
        assert_eq!(zh[..4], ["-v", "cmn", "-s", "112"]);
        assert_eq!(zh.last().map(String::as_str), Some("请取号"));
        let en = voice.arguments(&text, Language::En, false);
        assert_eq!(en[1], "en");
        assert_eq!(en.last().map(String::as_str), Some("Take a number"));
    }
}
