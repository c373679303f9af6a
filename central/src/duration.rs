//! Durations on the command line: `90s`, `30m`, `24h`, `7d`.

/// Parses `N` followed by `s`, `m`, `h` or `d`.
pub fn parse(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 30m, 24h or 7d"))?;
    if n <= 0 {
        return Err(format!("duration {text:?} must be positive"));
    }
    let d = match unit {
        "s" => chrono::Duration::try_seconds(n),
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        _ => None,
    };
    d.ok_or_else(|| format!("{text:?} is not a duration like 90s, 30m, 24h or 7d"))
}

/// [`parse`], as a std duration (for timeouts).
pub fn parse_std(text: &str) -> Result<std::time::Duration, String> {
    parse(text)?
        .to_std()
        .map_err(|_| format!("duration {text:?} must be positive"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(super::parse("24h"), Ok(chrono::Duration::hours(24)));
        assert_eq!(super::parse("90s"), Ok(chrono::Duration::seconds(90)));
        assert_eq!(super::parse("7d"), Ok(chrono::Duration::days(7)));
        assert_eq!(
            super::parse_std("10s"),
            Ok(std::time::Duration::from_secs(10))
        );
        assert!(super::parse("24").is_err());
        assert!(super::parse("0h").is_err());
        assert!(super::parse("h").is_err());
        assert!(super::parse("").is_err());
    }
}
