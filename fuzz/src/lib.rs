//! One harness per parser of outside bytes: what a reader, a printer, a scanner backend,
//! central, a browser, an update artifact, a configuration file or a booking system may send.
//!
//! Each harness takes any bytes and must return without panicking; where a parser has a
//! property beyond "no panic" (progress, a round trip, nothing forged verifies, nothing
//! escapes the release folder), the harness asserts it. `libfuzzer/` runs them under
//! libFuzzer (`scripts/fuzz`); `tests/corpora.rs` replays every kept input on stable.
#![allow(clippy::unwrap_used)] // Only on values the harness itself made, never on fuzz input.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A harness: any bytes in, a panic only for a defect.
pub type Harness = fn(&[u8]);

/// Every harness by name; the name is its libFuzzer target and its corpus folder.
pub const TARGETS: &[(&str, Harness)] = &[
    ("idcard_frames", idcard_frames),
    ("idcard_card", idcard_card),
    ("escpos_status", escpos_status),
    ("escpos_stream", escpos_stream),
    ("sane_frames", sane_frames),
    ("signed_requests", signed_requests),
    ("central_answers", central_answers),
    ("bundles_and_manifests", bundles_and_manifests),
    ("release_tar", release_tar),
    ("config_files", config_files),
    ("http_fields", http_fields),
    ("appointment_import", appointment_import),
];

/// A verifying key no fuzz input holds the private half of.
fn key() -> ed25519_dalek::VerifyingKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key()
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Frames from a reader (or line noise): the framing rule always makes progress, and every
/// frame it cuts decodes to a reply or an error.
pub fn idcard_frames(data: &[u8]) {
    use kiosk_idcard::frame::{self, Boundary};
    let mut at = 0;
    while at < data.len() {
        match frame::boundary(&data[at..]) {
            Boundary::Garbage(n) => {
                assert!(n > 0, "garbage of zero bytes would stall the transport");
                at += n;
            }
            Boundary::Complete(n) => {
                assert!(
                    n > 0 && at + n <= data.len(),
                    "a frame must lie in the input"
                );
                let _ = frame::decode(&data[at..at + n]);
                let _ = frame::decode_request(&data[at..at + n]);
                at += n;
            }
            Boundary::Incomplete(needed) => {
                assert!(needed > data.len() - at);
                break;
            }
        }
    }
    let _ = frame::decode(data);
}

/// A card's data as the reader hands it over: the length-prefixed text, photo and fingerprint
/// of `30 01` / `30 10`, the UCS-2 additional address of `30 03`. A card that decodes
/// encodes back to text that decodes to the same card.
pub fn idcard_card(data: &[u8]) {
    use kiosk_idcard::card::{decode_text, encode_text};
    use kiosk_idcard::reader::{decode_base_info, decode_new_address};
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    match first % 3 {
        0 => {
            if let Ok(card) = decode_base_info(rest, first & 4 != 0) {
                // The card's Debug must not print the person (it reaches logs).
                let shown = format!("{card:?}");
                if card.id_number.len() >= 8 {
                    assert!(
                        !shown.contains(&card.id_number),
                        "Debug printed the ID number"
                    );
                }
            }
        }
        1 => {
            if let Ok(Some(address)) = decode_new_address(rest) {
                assert!(!address.is_empty() && address.trim() == address);
            }
        }
        _ => {
            if let Ok(card) = decode_text(rest) {
                let again = encode_text(&card).map(|raw| decode_text(&raw));
                if let Ok(again) = again {
                    assert_eq!(again.ok().as_ref(), Some(&card), "text round trip");
                }
            }
        }
    }
}

/// Status bytes from a printer: what decodes re-encodes to answers that decode the same, and
/// sorting a stream into answers and automatic blocks loses and invents no byte.
pub fn escpos_status(data: &[u8]) {
    use kiosk_escpos::status::{Inbound, Incoming, PrinterStatus, StatusQuery, ticket_waiting};
    let mut inbound = Inbound::default();
    let mut sorted = Vec::with_capacity(data.len());
    for &byte in data {
        for incoming in inbound.push(byte) {
            match incoming {
                Incoming::Byte(b) => sorted.push(b),
                Incoming::Automatic(block) => {
                    assert!(PrinterStatus::from_automatic(block).is_ok(), "{block:02X?}");
                    sorted.extend_from_slice(&block);
                }
            }
        }
    }
    assert_eq!(
        &data[..sorted.len()],
        sorted.as_slice(),
        "bytes kept in order"
    );
    assert!(
        data.len() - sorted.len() < 4,
        "at most a block's start is held"
    );
    for chunk in data.chunks(4) {
        if let Ok(block) = <[u8; 4]>::try_from(chunk) {
            if let Ok(status) = PrinterStatus::from_replies(block) {
                assert_eq!(PrinterStatus::from_replies(status.replies()), Ok(status));
            }
            if let Ok(status) = PrinterStatus::from_automatic(block) {
                assert_eq!(
                    PrinterStatus::from_automatic(status.automatic()),
                    Ok(status)
                );
            }
        }
        let mut status = PrinterStatus::default();
        for (&byte, query) in chunk.iter().zip(StatusQuery::STANDARD) {
            let _ = status.apply(query, byte);
            let _ = ticket_waiting(byte);
        }
        let _ = status.problem();
    }
}

/// The printer emulator's stream parser: always consumes 1..=len bytes per command.
pub fn escpos_stream(data: &[u8]) {
    use kiosk_escpos::stream::{Parsed, next_command};
    let mut rest = data;
    while !rest.is_empty() {
        match next_command(rest) {
            Parsed::Command(_, used) => {
                assert!(
                    used >= 1 && used <= rest.len(),
                    "parser must consume 1..=len bytes"
                );
                rest = &rest[used..];
            }
            Parsed::Incomplete => break,
        }
    }
}

/// SANE frame parameters and bytes from a backend we do not control: a page whose pixel
/// count matches its size, or an error; never an allocation the parameters alone ask for.
pub fn sane_frames(data: &[u8]) {
    use kiosk_scanner::{FrameFormat, FrameParameters, decode_page};
    // Header: format, last_frame, depth, then u16 pixels per line, bytes per line, lines.
    let Some((header, body)) = data.split_at_checked(9) else {
        return;
    };
    let Some(format) = FrameFormat::from_raw(i32::from(header[0] % 6)) else {
        return;
    };
    let word = |i: usize| usize::from(u16::from_le_bytes([header[i], header[i + 1]]));
    let lines = word(7);
    let params = FrameParameters {
        format,
        last_frame: header[1] & 1 == 1,
        depth: header[2],
        pixels_per_line: word(3),
        bytes_per_line: word(5),
        lines: (lines != 0xFFFF).then_some(lines),
    };
    if let Ok(page) = decode_page(&[(params, body.to_vec())], 300.0) {
        assert_eq!(
            page.data.len(),
            page.width as usize * page.height as usize * page.layout.channels()
        );
    }
}

/// What central reads of a kiosk's request before it trusts it: the four signature headers,
/// the event batch and the enrolment. Nothing fuzzed verifies; a batch central's checks pass
/// is one it can store.
pub fn signed_requests(data: &[u8]) {
    use kiosk_api::auth::{HEADER_KIOSK_ID, HEADER_NONCE, HEADER_TIMESTAMP};
    if let Ok(batch) = serde_json::from_slice::<kiosk_api::EventBatch>(data) {
        let _ = central::store::check_batch(&batch);
    }
    let _ = serde_json::from_slice::<kiosk_api::EnrolRequest>(data);
    // Four header values separated by newlines, then the path and query, then the body.
    let text = text(data);
    let mut parts = text.splitn(6, '\n');
    let values: Vec<&str> = (0..5).map(|_| parts.next().unwrap_or("")).collect();
    let body = parts.next().unwrap_or("");
    let lookup = |name: &str| match name {
        HEADER_KIOSK_ID => Some(values[0]),
        HEADER_TIMESTAMP => Some(values[1]),
        HEADER_NONCE => Some(values[2]),
        _ => Some(values[3]),
    };
    if let Ok(headers) = kiosk_api::SignedHeaders::from_lookup(lookup) {
        let verdict = kiosk_api::verify_request(
            &key(),
            &headers,
            "POST",
            values[4],
            body.as_bytes(),
            1_795_000_000,
        );
        assert!(verdict.is_err(), "a fuzzed request verified");
    }
}

/// Every answer a kiosk parses from central: desired state (and the key statements in it,
/// walked from the kiosk's anchors), acknowledgements, enrolment, leases, queue and help
/// states, application progress, upload status and errors. A statement nobody signed
/// never moves the anchors.
pub fn central_answers(data: &[u8]) {
    use kiosk_api::citizen::{ApplicationProgress, HelpStatus, Lease, QueueSnapshot};
    use kiosk_api::rotation::{KeyAnchors, follow};
    if let Ok(state) = serde_json::from_slice::<kiosk_api::DesiredState>(data) {
        let anchors = KeyAnchors::single(key());
        let (after, _) = follow(&anchors, &state.key_statements);
        assert_eq!(
            after.catalog, anchors.catalog,
            "an unsigned statement moved a key"
        );
        assert_eq!(
            after.release, anchors.release,
            "an unsigned statement moved a key"
        );
    }
    let _ = serde_json::from_slice::<kiosk_api::BatchAck>(data);
    let _ = serde_json::from_slice::<kiosk_api::Enrolment>(data);
    let _ = serde_json::from_slice::<kiosk_api::UploadStatus>(data);
    let _ = serde_json::from_slice::<kiosk_api::ApiError>(data);
    let _ = serde_json::from_slice::<Lease>(data);
    let _ = serde_json::from_slice::<QueueSnapshot>(data);
    let _ = serde_json::from_slice::<HelpStatus>(data);
    let _ = serde_json::from_slice::<ApplicationProgress>(data);
    if let Ok(number) = kiosk_api::ApplicationNo::parse(&text(data)) {
        // A number that parses prints back to itself, grouped or not.
        assert_eq!(
            kiosk_api::ApplicationNo::parse(&number.to_string()).ok(),
            Some(number)
        );
        assert_eq!(
            kiosk_api::ApplicationNo::parse(&number.grouped()).ok(),
            Some(number)
        );
    }
}

/// Signed bundles and release manifests, and the catalog inside a bundle: nothing fuzzed
/// verifies, and version ordering is a total order on whatever versions arrive.
pub fn bundles_and_manifests(data: &[u8]) {
    if let Ok(bundle) = serde_json::from_slice::<kiosk_api::SignedBundle>(data) {
        assert!(
            kiosk_api::verify_bundle(&key(), &bundle).is_err(),
            "a fuzzed bundle verified"
        );
    }
    if let Ok(release) = serde_json::from_slice::<kiosk_api::SignedRelease>(data) {
        assert!(
            kiosk_api::verify_release(&key(), &release).is_err(),
            "a fuzzed release verified"
        );
    }
    let _ = kiosk_api::Catalog::from_json(data);
    let text = text(data);
    if let Some((a, b)) = text.split_once('\n') {
        let (ab, ba) = (kiosk_api::version_cmp(a, b), kiosk_api::version_cmp(b, a));
        assert_eq!(
            ab,
            ba.reverse(),
            "version_cmp is not antisymmetric for {a:?} {b:?}"
        );
    }
}

/// A scratch folder for staging, on tmpfs where there is one; one per process, since
/// libFuzzer's workers are processes.
static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

fn scratch() -> &'static Path {
    SCRATCH.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("kiosk-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        dir
    })
}

/// Removes this process's scratch folder (a test calls it when done; libFuzzer workers leave
/// theirs under /dev/shm, named by pid).
pub fn remove_scratch() {
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A release artifact's tar (gzipped here, so the fuzzer mutates the tar itself), staged by
/// the update agent's own code: refused, or staged with nothing outside the release, no
/// setuid or setgid file and no link that resolves outside it.
pub fn release_tar(data: &[u8]) {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch();
    let artifact = dir.join("artifact.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&artifact).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(data).unwrap();
    gz.finish().unwrap();
    let root = dir.join("root");
    let layout = kiosk_update::Layout::new(&root);
    let staged = kiosk_update::stage::stage(&layout, "1.0.0", &artifact);
    let outside: Vec<_> = std::fs::read_dir(dir.join("outside")).unwrap().collect();
    assert!(outside.is_empty(), "staging wrote outside the release");
    if staged.is_ok() {
        let release = std::fs::canonicalize(layout.release("1.0.0")).unwrap();
        let mut stack = vec![release.clone()];
        while let Some(folder) = stack.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                assert_eq!(meta.permissions().mode() & 0o6000, 0, "setuid staged");
                if meta.is_symlink() {
                    if let Ok(resolved) = std::fs::canonicalize(&path) {
                        assert!(
                            resolved.starts_with(&release),
                            "{path:?} leaves the release"
                        );
                    }
                } else if meta.is_dir() {
                    stack.push(path);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
}

/// Configuration text: kiosk.toml as a technician writes it (errors name a line and column
/// inside the text), central's overlay on the built-in profile, and the trust and identity
/// files as JSON.
pub fn config_files(data: &[u8]) {
    use kiosk_core::config::{Config, ConfigError};
    let text = text(data);
    match Config::parse(&text, "fuzz") {
        Ok(_) => {}
        Err(ConfigError::Invalid { line, column, .. }) => {
            assert!(line >= 1 && column >= 1, "positions count from 1");
            assert!(line <= text.lines().count().max(1) + 1, "line past the end");
        }
        Err(_) => {}
    }
    static BASE: OnceLock<Option<Config>> = OnceLock::new();
    if let Some(base) = BASE.get_or_init(|| Config::simulate().ok()) {
        let _ = base.with_central(data);
    }
    if let Ok(trust) = serde_json::from_slice::<kiosk_core::trust::Trust>(data) {
        let _ = trust.anchors();
    }
    if let Ok(identity) = serde_json::from_slice::<kiosk_core::identity::Identity>(data) {
        let _ = identity.anchors();
    }
}

/// What a browser or a download sends in headers and URLs: `Range` read by central against
/// an artifact's size, `Content-Range` read by the kiosk, console cookies, query strings and
/// form bodies. A range is always inside the artifact; a ticket acknowledgement never
/// redirects off the console.
pub fn http_fields(data: &[u8]) {
    use axum::extract::Query;
    use axum::http::{HeaderMap, HeaderValue, Uri, header};
    use central::console::input;
    use kiosk_api::range::{Wanted, content_range, wanted};
    let text = text(data);
    let size = data.len() as u64 * 37;
    if let Wanted::Range(first, last) = wanted(Some(&text), size) {
        assert!(first <= last && last < size, "range outside the artifact");
    }
    if let Some(range) = content_range(&text) {
        assert!(range.first <= range.last);
        assert!(range.complete.is_none_or(|n| range.last < n));
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, value);
        let _ = input::cookie(&headers, "kiosk_console");
    }
    if let Ok(uri) = format!("/console/x?{text}").parse::<Uri>() {
        if let Ok(Query(q)) = Query::<input::AuditQuery>::try_from_uri(&uri) {
            let (page, offset) = q.page_and_offset(50);
            assert!(page >= 0 && offset >= 0);
        }
        if let Ok(Query(q)) = Query::<input::HallQuery>::try_from_uri(&uri) {
            let _ = q.date();
        }
    }
    if let Ok(form) = serde_urlencoded::from_bytes::<input::AckForm>(data) {
        let back = form.back_to("hall-1", "kiosk-1");
        assert!(
            back.starts_with("/console/") && !back.contains("//"),
            "{back}"
        );
    }
    let _ = serde_urlencoded::from_bytes::<input::LoginForm>(data);
    let _ = serde_urlencoded::from_bytes::<input::RevokeForm>(data);
    let _ = serde_urlencoded::from_bytes::<input::AddUserForm>(data);
    let _ = serde_urlencoded::from_bytes::<input::PasswordForm>(data);
    if let Ok(form) = serde_urlencoded::from_bytes::<input::FollowUpForm>(data) {
        let _ = form.kind.parse::<central::store::FollowUpKind>();
    }
    // A rating tablet's URL segment: only 64 lower-case hex digits are ever looked up.
    if central::store::is_tablet_secret(&text) {
        assert!(text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

/// A booking system's appointment file: each entry is checked and hashed, or refused with a
/// reason that never repeats the ID number it was given.
pub fn appointment_import(data: &[u8]) {
    use central::store::AppointmentImport;
    let Ok(list) = serde_json::from_slice::<Vec<AppointmentImport>>(data) else {
        return;
    };
    static KEY: OnceLock<kiosk_api::citizen::HolderKey> = OnceLock::new();
    let key = KEY.get_or_init(|| kiosk_api::citizen::HolderKey::generate("fuzz"));
    for entry in &list {
        match entry.check(key) {
            Ok((hash, _)) => assert!(kiosk_api::citizen::is_holder_hash(&hash)),
            Err(why) => {
                // Only what could be (part of) a number: a "number" made of the refusal's
                // own words is no leak.
                if let Some(number) = entry.id_number.as_deref().map(str::trim)
                    && number.len() >= 6
                    && number
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == 'X' || c == 'x')
                {
                    assert!(!why.contains(number), "the refusal repeats the ID number");
                }
            }
        }
    }
}
