use super::*;

fn refused(text: &str) -> (String, usize, String) {
    match Config::parse(text, "kiosk.toml") {
        Err(ConfigError::Invalid {
            key, line, problem, ..
        }) => (key, line, problem),
        Err(other) => panic!("unexpected error kind: {other}"),
        Ok(_) => panic!("a bad config was accepted:\n{text}"),
    }
}

const GOOD: &str = r#"
[kiosk]
data_dir = "/var/lib/kiosk"

[hall]
name_zh = "东城区政务服务中心"
name_en = "Dongcheng District Government Service Center"
help_window_zh = "1号综合咨询台"
help_window_en = "Information desk 1"

[ui]
inactivity_timeout_secs = 90
"#;

#[test]
fn a_minimal_config_takes_sensible_defaults() {
    let config = Config::parse(GOOD, "kiosk.toml").unwrap();
    assert_eq!(config.ui.inactivity_timeout(), Duration::from_secs(90));
    assert_eq!(config.ui.continue_prompt(), Duration::from_secs(20));
    assert_eq!(config.ui.language, Language::ZhCn);
    assert!(config.central.is_none());
    assert!(config.devices.idcard.is_none());
}

#[test]
fn the_shipped_example_and_the_simulate_profile_are_valid() {
    let example = include_str!("../../../kiosk-app/kiosk.example.toml");
    let config = Config::parse(example, "kiosk.example.toml").unwrap();
    assert_eq!(config.kiosk.id.as_deref(), Some("K-110101-0001"));
    assert!(config.devices.printer.as_ref().unwrap().tcp.is_some());
    let sim = Config::simulate().unwrap();
    assert_eq!(sim.kiosk.data_dir, PathBuf::from("./kiosk-data"));
    assert!(!sim.ui.fullscreen);
}

#[test]
fn a_misspelt_key_is_refused_with_its_name_and_line() {
    let text = GOOD.replace("name_en =", "nmae_en =");
    let (key, line, problem) = refused(&text);
    assert_eq!(key, "hall.nmae_en");
    assert_eq!(line, 7);
    assert!(problem.contains("unknown field"), "{problem}");
    // The missing key it should have been is named too, so the typo is obvious.
    assert!(problem.contains("name_en"), "{problem}");
}

#[test]
fn a_misspelt_table_is_refused() {
    let text = format!("{GOOD}\n[devise.idcard]\nport = \"/dev/ttyUSB0\"\n");
    let (key, line, problem) = refused(&text);
    assert_eq!(key, "devise");
    assert_eq!(line, 14);
    assert!(problem.contains("unknown field"), "{problem}");
}

#[test]
fn a_wrong_type_is_refused_with_the_key_and_line() {
    let text = GOOD.replace(
        "inactivity_timeout_secs = 90",
        "inactivity_timeout_secs = \"ninety\"",
    );
    let (key, line, problem) = refused(&text);
    assert_eq!(key, "ui.inactivity_timeout_secs");
    assert_eq!(line, 12);
    assert!(problem.contains("invalid type"), "{problem}");
}

#[test]
fn a_missing_value_is_refused_naming_it() {
    let text = GOOD.replace("help_window_en = \"Information desk 1\"\n", "");
    let (key, _line, problem) = refused(&text);
    assert_eq!(key, "hall");
    assert!(
        problem.contains("missing field `help_window_en`"),
        "{problem}"
    );
}

#[test]
fn a_value_out_of_range_is_refused_with_its_line() {
    let text = GOOD.replace("= 90", "= 5");
    let (key, line, problem) = refused(&text);
    assert_eq!(key, "ui.inactivity_timeout_secs");
    assert_eq!(line, 12);
    assert!(problem.contains("15 to 600"), "{problem}");
}

#[test]
fn a_printer_needs_exactly_one_transport() {
    let text =
        format!("{GOOD}\n[devices.printer]\nport = \"/dev/ttyS0\"\ntcp = \"10.1.1.1:9100\"\n");
    let (key, line, problem) = refused(&text);
    assert_eq!(key, "devices.printer");
    assert_eq!(line, 14);
    assert!(problem.contains("exactly one"), "{problem}");
}

#[test]
fn broken_toml_is_refused_with_a_line() {
    let text = GOOD.replace("[ui]", "[ui");
    let (_key, line, _problem) = refused(&text);
    assert_eq!(line, 11);
}

#[test]
fn the_error_message_reads_as_one_plain_sentence() {
    let text = GOOD.replace("name_en =", "nmae_en =");
    let err = Config::parse(&text, "/etc/kiosk/kiosk.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "/etc/kiosk/kiosk.toml: line 7, column 1: key `hall.nmae_en`: unknown field"
        ),
        "{err}"
    );
}

#[test]
fn the_technician_pin_is_kept_only_as_an_argon2id_hash() {
    let config = Config::parse(GOOD, "kiosk.toml").unwrap();
    assert!(config.technician.pin_hash.is_none(), "no PIN, no mode");
    assert_eq!(config.technician.max_attempts, 5);

    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
    let text = format!("{GOOD}\n[technician]\npin_hash = \"{hash}\"\nlockout_secs = 600\n");
    let config = Config::parse(&text, "kiosk.toml").unwrap();
    assert_eq!(config.technician.pin_hash.as_deref(), Some(hash));
    assert_eq!(config.technician.lockout_secs, 600);

    // A plain PIN pasted where the hash belongs is refused, pointing at set-pin.
    let text = format!("{GOOD}\n[technician]\npin_hash = \"482913\"\n");
    let (key, line, problem) = refused(&text);
    assert_eq!(key, "technician.pin_hash");
    assert_eq!(line, 15);
    assert!(problem.contains("kioskctl technician set-pin"), "{problem}");

    let text = format!("{GOOD}\n[technician]\nmax_attempts = 0\n");
    assert_eq!(refused(&text).0, "technician.max_attempts");
}

#[test]
fn the_update_section_defaults_to_a_night_window_in_beijing_time() {
    let config = Config::parse(GOOD, "kiosk.toml").unwrap();
    assert_eq!(config.update.root, PathBuf::from("/opt/kiosk"));
    let window = config.update.maintenance_window().unwrap();
    let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    // 22:00-06:00 at +08:00 is 14:00-22:00 UTC.
    assert!(window.contains(at("2026-11-26T14:00:00Z")));
    assert!(window.contains(at("2026-11-26T21:59:00Z")));
    assert!(!window.contains(at("2026-11-26T22:00:00Z")), "06:00 local");
    assert!(
        !window.contains(at("2026-11-26T02:00:00Z")),
        "10:00 local, hall open"
    );
    assert_eq!(config.update.health_deadline(), Duration::from_secs(120));
}

#[test]
fn a_day_window_and_a_bad_window_in_the_update_section() {
    let text = format!(
        "{GOOD}\n[update]\nroot = \"/srv/kiosk\"\nwindow = \"12:00-13:30\"\nutc_offset = \"+00:00\"\nrestart_command = [\"true\"]\nhealth_deadline_secs = 30\n"
    );
    let config = Config::parse(&text, "kiosk.toml").unwrap();
    let window = config.update.maintenance_window().unwrap();
    let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(window.contains(at("2026-11-26T13:29:00Z")));
    assert!(!window.contains(at("2026-11-26T13:30:00Z")));
    assert!(!window.contains(at("2026-11-26T11:59:00Z")));

    let bad = text.replace("12:00-13:30", "25:00-06:00");
    let (key, line, problem) = refused(&bad);
    assert_eq!(key, "update.window");
    assert_eq!(line, 16);
    assert!(problem.contains("25:00"), "{problem}");
    let bad = text.replace("+00:00", "Beijing");
    assert_eq!(refused(&bad).0, "update.utc_offset");
    let bad = text.replace("[\"true\"]", "[]");
    assert_eq!(refused(&bad).0, "update.restart_command");
    let bad = text.replace("= 30", "= 3");
    assert_eq!(refused(&bad).0, "update.health_deadline_secs");
}

#[test]
fn a_provisioned_config_carries_the_hall_id_and_the_offline_band() {
    let text = GOOD
        .replace(
            "[kiosk]\n",
            "[kiosk]\nid = \"0193a1b2-0000-7000-8000-000000000001\"\nnumber_band = { first = 950, last = 999 }\n",
        )
        .replace("[hall]\n", "[hall]\nid = \"dongcheng-main\"\n");
    let config = Config::parse(&text, "kiosk.toml").unwrap();
    assert_eq!(
        config.kiosk.number_band,
        Some(NumberBand {
            first: 950,
            last: 999
        })
    );
    assert_eq!(config.hall.id.as_deref(), Some("dongcheng-main"));
}

#[test]
fn a_number_band_outside_the_offline_range_is_refused() {
    let text = GOOD.replace(
        "[kiosk]\n",
        "[kiosk]\nnumber_band = { first = 450, last = 499 }\n",
    );
    let (key, line, problem) = refused(&text);
    assert_eq!(key, "kiosk.number_band");
    assert_eq!(line, 3);
    assert!(problem.contains("500..=999"), "{problem}");
    assert!(problem.contains("kioskctl provision"), "{problem}");
}

#[test]
fn the_journey_sections_default_and_refuse_a_lease_too_large() {
    let config = Config::parse(GOOD, "kiosk.toml").unwrap();
    assert_eq!(config.queue.lease_size, 20);
    assert!(config.voice.enabled && !config.voice.always);
    assert_eq!(config.journeys.health_interval_secs, 60);
    let text = format!("{GOOD}\n[queue]\nlease_size = 500\n");
    let (key, _, problem) = refused(&text);
    assert_eq!(key, "queue.lease_size");
    assert!(problem.contains("1 to 100"), "{problem}");
    let text = format!("{GOOD}\n[voice]\nvolume = 3\n");
    let (key, _, _) = refused(&text);
    assert!(key.contains("volume"), "{key}");
}
