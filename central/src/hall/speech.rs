//! The display's announcements, made on central, offline: espeak-ng reads the call in
//! Mandarin and in English into WAV, and a two-tone chime is synthesised here. The display
//! only plays what it is given, so a hall TV needs no voice of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Announcements kept in memory; a hall calls a few hundred tickets a day.
const CACHE_ENTRIES: usize = 512;
/// The most espeak-ng may take for one sentence.
const SPEAK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an announcement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// espeak-ng is missing or failed.
    #[error("espeak-ng could not speak: {0}")]
    Espeak(String),
}

/// The language of an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Mandarin (`espeak-ng -v cmn`).
    Zh,
    /// English.
    En,
}

impl Language {
    /// From the path segment `zh` or `en`.
    pub fn parse(text: &str) -> Option<Language> {
        match text {
            "zh" => Some(Language::Zh),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// What is said for a call of `ticket_no` to `window`: the number, never a name.
pub fn sentence(ticket_no: &str, window: u32, language: Language) -> String {
    match language {
        Language::Zh => format!("请 {ticket_no} 号到 {window} 号窗口办理"),
        Language::En => format!("Number {ticket_no}, please go to window {window}."),
    }
}

/// Synthesised WAV files by sentence and language.
type Cache = HashMap<(String, Language), Arc<Vec<u8>>>;

/// espeak-ng behind a cache: the same sentence is synthesised once.
#[derive(Debug, Clone)]
pub struct Voice {
    program: String,
    cache: Arc<Mutex<Cache>>,
}

impl Default for Voice {
    fn default() -> Voice {
        Voice::new("espeak-ng")
    }
}

impl Voice {
    /// A voice run by `program` (espeak-ng).
    pub fn new(program: &str) -> Voice {
        Voice {
            program: program.to_owned(),
            cache: Arc::default(),
        }
    }

    /// `text` spoken in `language`, as a WAV file.
    pub async fn speak(&self, text: &str, language: Language) -> Result<Arc<Vec<u8>>, SpeechError> {
        let key = (text.to_owned(), language);
        if let Some(wav) = self.cached(&key) {
            return Ok(wav);
        }
        let voice = match language {
            Language::Zh => "cmn",
            Language::En => "en",
        };
        let run = tokio::process::Command::new(&self.program)
            .args(["-v", voice, "-s", "150", "--stdout", "--", text])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(SPEAK_TIMEOUT, run)
            .await
            .map_err(|_| SpeechError::Espeak("timed out".into()))?
            .map_err(|e| SpeechError::Espeak(e.to_string()))?;
        if !out.status.success() || out.stdout.len() < 44 {
            return Err(SpeechError::Espeak(format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let wav = Arc::new(out.stdout);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, wav.clone());
        Ok(wav)
    }

    fn cached(&self, key: &(String, Language)) -> Option<Arc<Vec<u8>>> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }
}

/// The chime before each call: two falling sine tones (E6, C6) with a soft decay, 16-bit
/// mono WAV.
pub fn chime() -> Vec<u8> {
    const RATE: u32 = 22_050;
    let mut samples: Vec<i16> = Vec::new();
    for freq in [1318.5_f64, 1046.5] {
        let n = RATE as usize * 45 / 100;
        for i in 0..n {
            let t = i as f64 / f64::from(RATE);
            let envelope = (-t * 6.0).exp();
            let v = (2.0 * std::f64::consts::PI * freq * t).sin() * envelope * 0.5;
            samples.push((v * f64::from(i16::MAX)) as i16);
        }
    }
    wav(&samples, RATE)
}

fn wav(samples: &[i16], rate: u32) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chime_is_a_wav_of_nine_tenths_of_a_second() {
        let c = chime();
        assert_eq!(&c[..4], b"RIFF");
        assert_eq!(c.len(), 44 + 2 * 2 * (22_050 * 45 / 100));
    }

    #[test]
    fn sentences_name_the_number_and_window_only() {
        assert_eq!(
            sentence("A012", 5, Language::Zh),
            "请 A012 号到 5 号窗口办理"
        );
        assert_eq!(
            sentence("A012", 5, Language::En),
            "Number A012, please go to window 5."
        );
    }
}
