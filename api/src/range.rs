//! HTTP byte ranges for resumable release downloads: the `Range` header central reads and the
//! `Content-Range` header the kiosk checks. Both sides parse with this one module, so what
//! central means by a range is what the kiosk understands of it.

/// A byte range asked for, or the whole artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// No (usable) Range header: everything, 200.
    All,
    /// Bytes `first..=last`, 206.
    Range(u64, u64),
    /// Starts at or past the end: 416.
    Unsatisfiable,
}

/// Reads a `Range` header against an artifact of `size` bytes. Forms other than one
/// `bytes=N-` or `bytes=N-M` are ignored (RFC 9110 lets a server send the whole body).
pub fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Wanted::All;
    };
    let Ok(first) = first.trim().parse::<u64>() else {
        return Wanted::All;
    };
    let last = match last.trim() {
        "" => size.saturating_sub(1),
        l => match l.parse::<u64>() {
            Ok(l) if l >= first => l.min(size.saturating_sub(1)),
            _ => return Wanted::All,
        },
    };
    if first >= size {
        return Wanted::Unsatisfiable;
    }
    Wanted::Range(first, last)
}

/// A `Content-Range: bytes A-B/N` (or `bytes A-B/*`) header as a kiosk receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte sent.
    pub first: u64,
    /// Last byte sent (inclusive).
    pub last: u64,
    /// The whole artifact's length, when the server said it.
    pub complete: Option<u64>,
}

/// Parses a `Content-Range` value. Anything but a well-formed satisfied byte range
/// (`first <= last`, and `last < complete` when the length is given) is `None`: a kiosk
/// that cannot tell where the bytes go must not append them to a partial download.
pub fn content_range(value: &str) -> Option<ContentRange> {
    let spec = value.trim().strip_prefix("bytes ")?;
    let (span, complete) = spec.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let last: u64 = last.trim().parse().ok()?;
    let complete = match complete.trim() {
        "*" => None,
        n => Some(n.parse::<u64>().ok()?),
    };
    if first > last || complete.is_some_and(|n| last >= n) {
        return None;
    }
    Some(ContentRange {
        first,
        last,
        complete,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_range_header_gives_bytes_inside_the_artifact_or_none(header in "(bytes=)?[0-9 ,-]{0,24}", size in 0u64..10_000) {
            match wanted(Some(&header), size) {
                Wanted::Range(first, last) => prop_assert!(first <= last && last < size),
                Wanted::All | Wanted::Unsatisfiable => {}
            }
        }

        #[test]
        fn a_resume_from_any_offset_gets_the_rest(first in 0u64..20_000, size in 1u64..10_000) {
            let expected = if first < size { Wanted::Range(first, size - 1) } else { Wanted::Unsatisfiable };
            prop_assert_eq!(wanted(Some(&format!("bytes={first}-")), size), expected);
        }

        #[test]
        fn what_central_sends_for_a_range_the_kiosk_reads_back(first in 0u64..20_000, size in 1u64..10_000) {
            if let Wanted::Range(a, b) = wanted(Some(&format!("bytes={first}-")), size) {
                let sent = format!("bytes {a}-{b}/{size}");
                prop_assert_eq!(content_range(&sent), Some(ContentRange { first: a, last: b, complete: Some(size) }));
            }
        }
    }

    #[test]
    fn range_headers_are_read_like_rfc_9110_says() {
        assert_eq!(wanted(None, 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=10-"), 100), Wanted::Range(10, 99));
        assert_eq!(wanted(Some("bytes=10-19"), 100), Wanted::Range(10, 19));
        assert_eq!(wanted(Some("bytes=10-500"), 100), Wanted::Range(10, 99));
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,5-6"), 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=-5"), 100), Wanted::All);
        assert_eq!(wanted(Some("items=1-"), 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=9-3"), 100), Wanted::All);
    }

    #[test]
    fn content_ranges_are_read_and_garbage_is_not() {
        let read = |v| content_range(v).map(|r| (r.first, r.last, r.complete));
        assert_eq!(read("bytes 1024-4095/4096"), Some((1024, 4095, Some(4096))));
        assert_eq!(read("bytes 0-9/*"), Some((0, 9, None)));
        assert_eq!(read("items 1-2/3"), None);
        assert_eq!(read("bytes */4096"), None);
        assert_eq!(read("bytes 10-5/100"), None);
        assert_eq!(read("bytes 0-100/100"), None);
        assert_eq!(read("bytes 1024-"), None);
    }
}
