use super::*;

const TECHNICIAN_WROTE: &str = r#"# Hall 3, kiosk beside window 12. Installed by Wang, 2026-11-20.

[kiosk]
id = "K-OLD"        # from the old central
data_dir = "/var/lib/kiosk"      # database, spool, keys

[hall]
name_zh = "旧名字"
name_en = "Dongcheng District Government Service Center"
help_window_zh = "1号综合咨询台"
help_window_en = "Information desk 1"

[ui]
inactivity_timeout_secs = 90     # the hall asked for longer

[devices.printer]
tcp = "192.0.2.10:9100"
"#;

fn values() -> ProvisionedValues {
    ProvisionedValues {
        kiosk_id: "0193a1b2-0000-7000-8000-000000000001".into(),
        number_band: (950, 999),
        central_url: "https://zwfw-kiosk.example.gov.cn".into(),
        hall_id: "dongcheng-main".into(),
        hall_name: "东城区政务服务中心".into(),
        ca_file: None,
    }
}

#[test]
fn provisioning_changes_only_its_own_keys_and_keeps_every_comment() {
    let origin = Path::new("/etc/kiosk/kiosk.toml");
    let out = apply(
        Some(TECHNICIAN_WROTE),
        &values(),
        Path::new("/unused"),
        origin,
    )
    .unwrap();
    for kept in [
        "# Hall 3, kiosk beside window 12. Installed by Wang, 2026-11-20.",
        "data_dir = \"/var/lib/kiosk\"      # database, spool, keys",
        "inactivity_timeout_secs = 90     # the hall asked for longer",
        "[devices.printer]\ntcp = \"192.0.2.10:9100\"",
        "name_en = \"Dongcheng District Government Service Center\"",
    ] {
        assert!(out.contains(kept), "lost {kept:?} in:\n{out}");
    }
    // The old id's comment stays with the new id.
    assert!(
        out.contains("id = \"0193a1b2-0000-7000-8000-000000000001\"        # from the old central"),
        "{out}"
    );
    assert!(!out.contains("旧名字"), "{out}");
    let config = Config::parse(&out, "kiosk.toml").unwrap();
    assert_eq!(
        config.kiosk.id.as_deref(),
        Some("0193a1b2-0000-7000-8000-000000000001")
    );
    assert_eq!(
        config.central.unwrap().url,
        "https://zwfw-kiosk.example.gov.cn"
    );
    assert_eq!(config.hall.name_zh, "东城区政务服务中心");
    assert_eq!(config.hall.id.as_deref(), Some("dongcheng-main"));
    let band = config.kiosk.number_band.unwrap();
    assert_eq!((band.first, band.last), (950, 999));
    assert_eq!(config.ui.inactivity_timeout_secs, 90);
}

#[test]
fn a_kiosk_without_a_configuration_gets_one_the_app_accepts() {
    let out = apply(
        None,
        &values(),
        Path::new("/var/lib/kiosk"),
        Path::new("kiosk.toml"),
    )
    .unwrap();
    let config = Config::parse(&out, "kiosk.toml").unwrap();
    assert_eq!(config.kiosk.data_dir, Path::new("/var/lib/kiosk"));
    assert_eq!(config.hall.name_zh, "东城区政务服务中心");
    // The keys provisioning owns sit at the top of their tables, where a reader looks.
    assert!(
        out.contains(
            "[kiosk]\nid = \"0193a1b2-0000-7000-8000-000000000001\"\nnumber_band = { first = 950, last = 999 }\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("[central]\nurl = \"https://zwfw-kiosk.example.gov.cn\"\n"),
        "{out}"
    );
}

#[test]
fn a_data_folder_with_quotes_in_its_name_stays_valid_toml() {
    let odd = Path::new("/srv/kiosk \"A\"\\data");
    let out = apply(None, &values(), odd, Path::new("kiosk.toml")).unwrap();
    let config = Config::parse(&out, "kiosk.toml").unwrap();
    assert_eq!(config.kiosk.data_dir, odd);
}

#[test]
fn an_edit_the_app_would_refuse_is_not_made() {
    let broken =
        TECHNICIAN_WROTE.replace("inactivity_timeout_secs = 90", "inactivity_timeout = 90");
    let err = apply(
        Some(&broken),
        &values(),
        Path::new("/x"),
        Path::new("kiosk.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("ui.inactivity_timeout"), "{err}");
    assert!(err.contains("fix it and run again"), "{err}");
}

#[test]
fn a_section_that_is_not_a_table_is_named() {
    let text = "central = \"https://x\"\n[kiosk]\ndata_dir = \"/d\"\n";
    let err = apply(Some(text), &values(), Path::new("/x"), Path::new("k.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`central` must be a table"), "{err}");
}

#[test]
fn an_atomic_write_keeps_the_mode_and_leaves_no_temporary_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiosk.toml");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    check_writable(&path).unwrap();
    write_atomic(&path, "new").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("kiosk.toml")]);
}

proptest::proptest! {
    /// Whatever central sends as hall id and name (quotes, backslashes, newlines, CJK, `#`),
    /// the written file parses and holds exactly those values: nothing is injected or lost.
    #[test]
    fn any_hall_name_central_sends_is_written_as_one_toml_string(
        hall_id in "[a-z0-9-]{1,24}",
        hall_name in "[^\u{0}]{1,40}",
        first in 500u32..=999,
        len in 0u32..50,
    ) {
        proptest::prop_assume!(!hall_name.trim().is_empty());
        let last = (first + len).min(999);
        let values = ProvisionedValues {
            kiosk_id: "0193a1b2-0000-7000-8000-000000000001".into(),
            number_band: (first, last),
            central_url: "https://zwfw-kiosk.example.gov.cn".into(),
            hall_id: hall_id.clone(),
            hall_name: hall_name.clone(),
            ca_file: None,
        };
        let out = apply(Some(TECHNICIAN_WROTE), &values, Path::new("/x"), Path::new("kiosk.toml"))
            .unwrap();
        let config = Config::parse(&out, "kiosk.toml").unwrap();
        proptest::prop_assert_eq!(config.hall.name_zh, hall_name);
        proptest::prop_assert_eq!(config.hall.id, Some(hall_id));
        let band = config.kiosk.number_band.unwrap();
        proptest::prop_assert_eq!((band.first, band.last), (first, last));
        proptest::prop_assert_eq!(config.ui.inactivity_timeout_secs, 90);
    }
}

#[test]
fn the_reader_is_switched_to_usb_and_back_keeping_the_rest_of_the_file() {
    let origin = Path::new("/etc/kiosk/kiosk.toml");
    let with_reader = format!(
        "{TECHNICIAN_WROTE}\n[devices.idcard]   # the reader by the window\nport = \"/dev/kiosk/idcard\"\nbaud = 115200\n"
    );
    let usb: UsbId = "0400:c35a".parse().unwrap();
    let out = set_device_link(
        &with_reader,
        "idcard",
        &DeviceLink::Usb(usb, Some("A1000".into())),
        origin,
    )
    .unwrap();
    assert!(out.contains("# the reader by the window"), "{out}");
    assert!(out.contains("inactivity_timeout_secs = 90     # the hall asked for longer"));
    let config = Config::parse(&out, "kiosk.toml").unwrap();
    let reader = config.devices.idcard.unwrap();
    assert_eq!(
        (reader.port, reader.baud, reader.usb),
        (None, None, Some(usb))
    );
    assert_eq!(reader.usb_serial.as_deref(), Some("A1000"));

    let back = set_device_link(
        &out,
        "idcard",
        &DeviceLink::Port {
            path: "/dev/kiosk/idcard".into(),
            baud: None,
        },
        origin,
    )
    .unwrap();
    let reader = Config::parse(&back, "kiosk.toml")
        .unwrap()
        .devices
        .idcard
        .unwrap();
    assert_eq!(reader.port.as_deref(), Some(Path::new("/dev/kiosk/idcard")));
    assert_eq!(
        (reader.usb, reader.usb_serial),
        (None, None),
        "no stale usb keys"
    );
}

#[test]
fn a_printer_is_pointed_at_a_usb_id_keeping_its_paper_width() {
    let origin = Path::new("/etc/kiosk/kiosk.toml");
    let text = TECHNICIAN_WROTE.replace(
        "tcp = \"192.0.2.10:9100\"",
        "tcp = \"192.0.2.10:9100\"\npaper_mm = 58",
    );
    let usb: UsbId = "04b8:0202".parse().unwrap();
    let out = set_device_link(&text, "printer", &DeviceLink::Usb(usb, None), origin).unwrap();
    let printer = Config::parse(&out, "kiosk.toml")
        .unwrap()
        .devices
        .printer
        .unwrap();
    assert_eq!(
        (printer.usb, printer.tcp, printer.paper_mm),
        (Some(usb), None, 58)
    );
    // A new section is made for a device the file did not have.
    let out = set_device_link(&text, "dispenser", &DeviceLink::Usb(usb, None), origin).unwrap();
    assert!(out.contains("[devices.dispenser]"), "{out}");
    assert!(
        Config::parse(&out, "kiosk.toml")
            .unwrap()
            .devices
            .dispenser
            .is_some()
    );
}

#[test]
fn a_link_the_app_would_refuse_is_not_written() {
    let origin = Path::new("/etc/kiosk/kiosk.toml");
    let refused = set_device_link(
        TECHNICIAN_WROTE,
        "idcard",
        &DeviceLink::Tcp("192.0.2.10:9100".into()),
        origin,
    );
    assert!(
        matches!(refused, Err(ConfigFileError::Invalid(_))),
        "{refused:?}"
    );
}
