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
fn a_turned_panel_is_configured_in_right_angles_only() {
    assert_eq!(Config::parse(GOOD, "test").unwrap().ui.rotation, 0);
    let text = GOOD.replace("[ui]\n", "[ui]\nrotation = 90\n");
    assert_eq!(Config::parse(&text, "test").unwrap().ui.rotation, 90);
    let text = GOOD.replace("[ui]\n", "[ui]\nrotation = 45\n");
    let (key, _, problem) = refused(&text);
    assert_eq!(key, "ui.rotation");
    assert!(problem.contains("0, 90, 180 or 270"), "{problem}");
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
fn the_scanner_resolution_is_configured_and_checked() {
    let text = format!("{GOOD}\n[devices.scanner]\ndevice = \"fujitsu:fi-7160:1\"\n");
    let config = Config::parse(&text, "test").unwrap();
    let scanner = config.devices.scanner.unwrap();
    assert_eq!((scanner.dpi, scanner.feeder), (200, false));

    let text = format!("{GOOD}\n[devices.scanner]\ndevice = \"x\"\ndpi = 300\nfeeder = true\n");
    let scanner = Config::parse(&text, "test")
        .unwrap()
        .devices
        .scanner
        .unwrap();
    assert_eq!((scanner.dpi, scanner.feeder), (300, true));

    let text = format!("{GOOD}\n[devices.scanner]\ndevice = \"x\"\ndpi = 2400\n");
    let (key, _line, problem) = refused(&text);
    assert_eq!(key, "devices.scanner.dpi");
    assert!(problem.contains("75 to 600"), "{problem}");
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

fn central_refused(config: &Config, payload: &str) -> (String, String) {
    match config.with_central(payload.as_bytes()) {
        Err(ConfigError::Central { key, problem }) => (key, problem),
        Err(other) => panic!("unexpected error kind: {other}"),
        Ok(_) => panic!("a bad central config was accepted:\n{payload}"),
    }
}

#[test]
fn central_config_sets_hall_wide_keys_over_the_file_and_keeps_the_rest() {
    let text = format!(
        "{GOOD}\n[devices.idcard]\nport = \"/dev/kiosk/idcard\"\n[voice]\nwords_per_minute = 120\n"
    );
    let file = Config::parse(&text, "kiosk.toml").unwrap();
    let merged = file
        .with_central(
            r#"{"hall": {"help_window_zh": "3号窗口", "help_window_en": "Window 3"},
                "ui": {"inactivity_timeout_secs": 120, "language": "en"},
                "update": {"window": "01:00-05:00"}}"#
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(merged.hall.help_window_zh, "3号窗口");
    assert_eq!(merged.hall.help_window_en, "Window 3");
    assert_eq!(merged.ui.inactivity_timeout(), Duration::from_secs(120));
    assert_eq!(merged.ui.language, Language::En);
    assert_eq!(merged.update.window, "01:00-05:00");
    // What ops did not set stays the file's, and what is local stays local.
    assert_eq!(merged.hall.name_zh, file.hall.name_zh);
    assert_eq!(merged.voice.words_per_minute, 120);
    assert_eq!(merged.ui.continue_prompt_secs, file.ui.continue_prompt_secs);
    assert_eq!(
        merged.devices.idcard.unwrap().port,
        Some(PathBuf::from("/dev/kiosk/idcard"))
    );
    assert_eq!(merged.kiosk.data_dir, file.kiosk.data_dir);
}

#[test]
fn central_config_may_not_touch_what_only_the_kiosk_knows() {
    let file = Config::parse(GOOD, "kiosk.toml").unwrap();
    let (key, problem) =
        central_refused(&file, r#"{"devices": {"idcard": {"port": "/dev/ttyS9"}}}"#);
    assert_eq!(key, "devices");
    assert!(problem.contains("own file"), "{problem}");
    let (key, _) = central_refused(&file, r#"{"kiosk": {"data_dir": "/tmp"}}"#);
    assert_eq!(key, "kiosk");
    let (key, problem) = central_refused(&file, r#"{"update": {"restart_command": ["sh"]}}"#);
    assert_eq!(key, "update.restart_command");
    assert!(
        problem.contains("window"),
        "names the keys ops may set: {problem}"
    );
    let (key, _) = central_refused(&file, r#"{"central": {"url": "http://evil"}}"#);
    assert_eq!(key, "central");
}

#[test]
fn central_config_is_refused_whole_for_a_bad_value_a_wrong_type_or_bad_json() {
    let file = Config::parse(GOOD, "kiosk.toml").unwrap();
    let (key, problem) = central_refused(&file, r#"{"ui": {"inactivity_timeout_secs": 5}}"#);
    assert_eq!(key, "ui.inactivity_timeout_secs");
    assert!(problem.contains("15 to 600"), "{problem}");
    let (key, _) = central_refused(&file, r#"{"ui": {"elder_mode": "yes"}}"#);
    assert_eq!(key, "ui.elder_mode");
    let (key, _) = central_refused(&file, r#"{"technician": {"pin_hash": "1234"}}"#);
    assert_eq!(key, "technician.pin_hash");
    let (key, _) = central_refused(&file, r#"{"update": {"window": "25:00-06:00"}}"#);
    assert_eq!(key, "update.window");
    let (key, _) = central_refused(&file, r#"{"ui": {"language": null}}"#);
    assert_eq!(key, "ui.language");
    let (key, problem) = central_refused(&file, r#"{"ui": {"inactivity_timeout_secs": 90"#);
    assert_eq!(key, ".");
    assert!(problem.contains("line 1"), "{problem}");
    assert_eq!(central_refused(&file, "[1, 2]").0, ".");
    // The error reads as one sentence naming the key.
    let error = file
        .with_central(br#"{"queue": {"lease_size": 1000}}"#)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("central's configuration: key `queue.lease_size`: 1000 is out of range"),
        "{error}"
    );
    assert!(Config::check_central(br#"{"queue": {"lease_size": 1000}}"#).is_err());
    assert!(Config::check_central(br#"{"queue": {"lease_size": 50}}"#).is_ok());
}

#[test]
fn the_bundle_in_force_is_read_from_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let text = GOOD.replace("/var/lib/kiosk", &dir.path().display().to_string());
    let file = Config::parse(&text, "kiosk.toml").unwrap();
    assert!(file.with_applied_central().unwrap().is_none());
    assert_eq!(file.clone().in_force().ui.inactivity_timeout_secs, 90);
    let path = applied_central_path(dir.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, br#"{"ui": {"inactivity_timeout_secs": 45}}"#).unwrap();
    assert_eq!(file.clone().in_force().ui.inactivity_timeout_secs, 45);
    // A bundle that no longer fits is not applied; the file's configuration is used alone.
    std::fs::write(&path, br#"{"ui": {"inactivity_timeout_secs": 4}}"#).unwrap();
    assert!(file.with_applied_central().is_err());
    assert_eq!(file.in_force().ui.inactivity_timeout_secs, 90);
}

#[test]
fn the_reader_is_chosen_by_serial_port_or_by_usb_id() {
    let serial = Config::parse(
        &format!("{GOOD}\n[devices.idcard]\nport = \"/dev/kiosk/idcard\"\nbaud = 115200\n"),
        "kiosk.toml",
    )
    .unwrap();
    assert_eq!(
        serial.devices.idcard.unwrap().link(),
        Some(ReaderLink::Serial {
            port: PathBuf::from("/dev/kiosk/idcard"),
            baud: Some(115200)
        })
    );
    let usb = Config::parse(
        &format!("{GOOD}\n[devices.idcard]\nusb = \"0400:C35A\"\n"),
        "kiosk.toml",
    )
    .unwrap();
    let reader = usb.devices.idcard.unwrap();
    assert_eq!(
        reader.link(),
        Some(ReaderLink::Usb(
            UsbId {
                vendor: 0x0400,
                product: 0xc35a
            },
            None
        ))
    );
    assert_eq!(reader.location(), "usb 0400:c35a");
}

#[test]
fn a_reader_with_both_or_neither_link_is_refused_naming_the_section() {
    let both =
        format!("{GOOD}\n[devices.idcard]\nport = \"/dev/kiosk/idcard\"\nusb = \"0400:c35a\"\n");
    let (key, line, problem) = refused(&both);
    assert_eq!(key, "devices.idcard");
    assert_eq!(line, 14, "the section's header line");
    assert!(problem.contains("[devices.idcard]"), "{problem}");
    assert!(problem.contains("not both"), "{problem}");

    let neither = format!("{GOOD}\n[devices.idcard]\nbaud = 9600\n");
    let (key, _, problem) = refused(&neither);
    assert_eq!(key, "devices.idcard");
    assert!(
        problem.contains("`port`") && problem.contains("`usb`"),
        "{problem}"
    );

    let baud_on_usb = format!("{GOOD}\n[devices.idcard]\nusb = \"0400:c35a\"\nbaud = 9600\n");
    assert_eq!(refused(&baud_on_usb).0, "devices.idcard.baud");
}

#[test]
fn a_malformed_usb_id_is_refused_with_its_line_and_an_example() {
    let text = format!("{GOOD}\n[devices.printer]\nusb = \"416:5011\"\n");
    let (key, line, problem) = refused(&text);
    assert_eq!(key, "devices.printer.usb");
    assert_eq!(line, 15);
    assert!(problem.contains("\"416\" is not 4 hex digits"), "{problem}");
}

#[test]
fn printers_take_a_usb_id_beside_port_device_and_tcp_but_only_one_of_them() {
    let usb = Config::parse(
        &format!("{GOOD}\n[devices.dispenser]\nusb = \"0416:5011\"\n"),
        "kiosk.toml",
    )
    .unwrap();
    let dispenser = usb.devices.dispenser.unwrap();
    assert_eq!(
        dispenser.usb.map(|id| id.to_string()).as_deref(),
        Some("0416:5011")
    );
    assert!(
        dispenser.automatic_status,
        "automatic status is on unless turned off"
    );

    let two =
        format!("{GOOD}\n[devices.printer]\nusb = \"0416:5011\"\ndevice = \"/dev/usb/lp0\"\n");
    let (key, _, problem) = refused(&two);
    assert_eq!(key, "devices.printer");
    assert!(
        problem.contains("[devices.printer]") && problem.contains("several"),
        "{problem}"
    );

    let none = format!("{GOOD}\n[devices.dispenser]\npaper_mm = 58\n");
    let (key, _, problem) = refused(&none);
    assert_eq!(key, "devices.dispenser");
    assert!(
        problem.contains("`usb`") && problem.contains("none"),
        "{problem}"
    );
}

#[test]
fn a_written_usb_selection_reads_back_the_same() {
    let config = Config::parse(
        &format!("{GOOD}\n[devices.idcard]\nusb = \"0400:c35a\"\n[devices.printer]\nusb = \"04b8:0202\"\nautomatic_status = false\n"),
        "kiosk.toml",
    )
    .unwrap();
    let written = toml::to_string(&config).unwrap();
    let again = Config::parse(&written, "written").unwrap();
    assert_eq!(
        again.devices.idcard.unwrap().usb,
        config.devices.idcard.unwrap().usb
    );
    let printer = again.devices.printer.unwrap();
    assert_eq!(
        printer.usb.map(|id| id.to_string()).as_deref(),
        Some("04b8:0202")
    );
    assert!(!printer.automatic_status);
}

#[test]
fn a_serial_number_picks_one_of_two_identical_usb_devices_and_needs_usb() {
    let config = Config::parse(
        &format!("{GOOD}\n[devices.idcard]\nusb = \"0400:c35a\"\nusb_serial = \"A1000\"\n"),
        "kiosk.toml",
    )
    .unwrap();
    let reader = config.devices.idcard.unwrap();
    assert!(matches!(reader.link(), Some(ReaderLink::Usb(_, Some(s))) if s == "A1000"));
    assert_eq!(reader.location(), "usb 0400:c35a serial A1000");

    let stray =
        format!("{GOOD}\n[devices.printer]\ndevice = \"/dev/usb/lp0\"\nusb_serial = \"A1000\"\n");
    let (key, _, problem) = refused(&stray);
    assert_eq!(key, "devices.printer.usb_serial");
    assert!(problem.contains("give `usb` too"), "{problem}");
}
