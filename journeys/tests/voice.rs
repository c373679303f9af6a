#![allow(clippy::unwrap_used)]
//! What an elder hears: the engine in elder mode speaks each page's key sentence through the
//! real espeak-ng. The program it runs is a wrapper that sends espeak-ng's sound to a file
//! instead of the sound card, so the test hears what a citizen would.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::until;

use kiosk_core::config::Config;
use kiosk_journeys::{Command, Engine, EngineOptions, JourneyKind, Page};

/// A stand-in for `espeak-ng` that runs the real one with `--stdout` into `dir/N.wav` and
/// then writes the arguments it was given to `dir/N.args` (so a `.args` file means its sound
/// is complete).
fn recording_espeak(dir: &Path) -> PathBuf {
    let script = dir.join("espeak-ng");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then exec espeak-ng --version; fi\n\
             n=$(date +%s%N)\n\
             espeak-ng --stdout \"$@\" > '{dir}'/$n.wav && printf '%s\\n' \"$@\" > '{dir}'/$n.args\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The utterances spoken so far: (arguments, WAV bytes), oldest first.
fn spoken(dir: &Path) -> Vec<(Vec<String>, Vec<u8>)> {
    let mut args: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "args"))
        .collect();
    args.sort();
    args.into_iter()
        .map(|a| {
            let words = std::fs::read_to_string(&a)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect();
            (words, std::fs::read(a.with_extension("wav")).unwrap())
        })
        .collect()
}

/// Seconds of sound and its RMS level (0..1) in a 16-bit mono WAV as espeak-ng writes it.
fn measure(wav: &[u8]) -> (f64, f64) {
    assert_eq!(&wav[..4], b"RIFF", "a WAV file");
    assert_eq!(&wav[8..12], b"WAVE");
    let rate = u32::from_le_bytes(wav[24..28].try_into().unwrap());
    let bits = u16::from_le_bytes(wav[34..36].try_into().unwrap());
    assert_eq!(bits, 16);
    // espeak-ng writes to a pipe and cannot seek back to fill in the data size: count the
    // samples after the 44-byte header.
    let samples: Vec<f64> = wav[44..]
        .chunks_exact(2)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect();
    let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    (samples.len() as f64 / f64::from(rate), rms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_elder_mode_the_ticket_page_says_the_number_the_window_and_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let heard = tempfile::tempdir().unwrap();
    let mut config = Config::simulate().unwrap();
    config.kiosk.data_dir = dir.path().to_owned();
    config.ui.elder_mode = true;
    config.voice.program = recording_espeak(heard.path()).display().to_string();
    let engine = Engine::start(
        config,
        EngineOptions {
            simulate: true,
            voice: true,
            ..EngineOptions::default()
        },
    )
    .await
    .unwrap();
    let mut screen = engine.screen();
    assert!(screen.borrow().voice, "elder mode speaks");

    let r = screen.borrow().revision;
    engine.send(Command::Start {
        journey: JourneyKind::TakeNumber,
    });
    engine.send(Command::Choose { id: "A".into() });
    until(&mut screen, r, |p| matches!(p, Page::TapCard { .. })).await;
    let r = screen.borrow().revision;
    engine.send(Command::Skip);
    let Page::Ticket { ticket } = until(&mut screen, r, |p| matches!(p, Page::Ticket { .. })).await
    else {
        unreachable!()
    };

    let deadline = Instant::now() + Duration::from_secs(30);
    let (args, wav) = loop {
        if let Some(found) = spoken(heard.path())
            .into_iter()
            .find(|(args, _)| args.iter().any(|a| a.contains(&ticket.ticket_no)))
        {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the ticket's sentence was never spoken; heard: {:?}",
            spoken(heard.path())
                .iter()
                .map(|(a, _)| a.clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sentence = args.last().unwrap();
    assert!(sentence.starts_with("您的号码是"), "{sentence}");
    assert!(sentence.contains(&ticket.window.zh), "{sentence}");
    assert!(
        sentence.contains(&format!("前面还有 {} 人", ticket.ahead)),
        "{sentence}"
    );
    assert!(
        sentence.contains(&format!("约 {} 分钟", ticket.wait_minutes)),
        "{sentence}"
    );
    assert_eq!(
        args[..4],
        ["-v", "cmn", "-s", "112"],
        "Mandarin, slower for elders"
    );
    let (seconds, rms) = measure(&wav);
    assert!(seconds > 3.0, "a whole sentence is heard: {seconds:.1} s");
    assert!(rms > 0.01, "it is speech, not silence: RMS {rms:.4}");
    drop(engine);
}
