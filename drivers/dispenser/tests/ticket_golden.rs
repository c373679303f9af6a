#![allow(clippy::unwrap_used)]
//! Golden byte streams of the ticket and slip layouts. A layout change shows up here as a
//! diff of the hex file; regenerate with `UPDATE_GOLDEN=1 cargo test -p kiosk-dispenser`
//! and review the diff.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use kiosk_dispenser::{Slip, Ticket, slip_job, ticket_job};
use kiosk_escpos::stream::{Command, parse_all};

fn ticket() -> Ticket {
    Ticket {
        hall: "南京市玄武区政务服务中心".into(),
        category: "社保医保".into(),
        number: "A042".into(),
        ahead: 3,
        estimated_wait: Duration::from_secs(14 * 60 + 10),
        issued_at: NaiveDate::from_ymd_opt(2026, 11, 26)
            .unwrap()
            .and_hms_opt(9, 30, 5)
            .unwrap(),
        link: "https://zwfw.example.gov.cn/q/3201/A042".into(),
        holder_name: Some("张三丰".into()),
        priority: true,
    }
}

fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|c| {
            c.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
                + "\n"
        })
        .collect()
}

fn check_golden(name: &str, bytes: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let actual = hex_lines(bytes);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1 once", path.display()));
    assert_eq!(
        actual, expected,
        "{name} changed; review and regenerate if intended"
    );
}

fn texts(bytes: &[u8]) -> Vec<String> {
    let (commands, rest) = parse_all(bytes);
    assert!(rest.is_empty(), "the stream ends inside a command");
    commands
        .into_iter()
        .filter_map(|c| match c {
            Command::Text(t) => Some(encoding_rs::GB18030.decode(&t).0.into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_queue_ticket_stream_is_the_golden_one() {
    check_golden("queue_ticket.hex", &ticket_job(&ticket()).unwrap());
}

#[test]
fn the_queue_ticket_says_what_a_citizen_needs_and_masks_the_name() {
    let bytes = ticket_job(&ticket()).unwrap();
    assert!(bytes.len() <= 1024, "{} bytes", bytes.len());
    let texts = texts(&bytes);
    for expected in [
        "南京市玄武区政务服务中心",
        "社保医保",
        "【绿色通道】",
        "A042",
        "您前面还有 3 人等候",
        "预计等待约 15 分钟",
        "取号时间 2026-11-26 09:30",
        "取号人 张**",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "missing {expected:?} in {texts:?}"
        );
    }
    assert!(texts.iter().any(|t| t.contains("好差评")));
    assert!(
        !texts.iter().any(|t| t.contains("张三丰")),
        "the full name must never print"
    );
    let (commands, _) = parse_all(&bytes);
    // The number in 5x5 characters, the QR code of the link, a cut at the end.
    assert!(commands.contains(&Command::Size(0x44)));
    assert!(commands.contains(&Command::QrStore(
        b"https://zwfw.example.gov.cn/q/3201/A042".to_vec()
    )));
    assert!(matches!(commands.last(), Some(Command::Cut { .. })));
}

#[test]
fn the_receipt_slip_stream_is_the_golden_one() {
    let slip = Slip {
        title: "受理回执".into(),
        subtitle: Some("南京市玄武区政务服务中心".into()),
        fields: vec![
            ("受理编号".into(), "320102-20261126-0042".into()),
            ("事项".into(), "城乡居民基本养老保险参保登记".into()),
            ("申请人".into(), kiosk_hal::mask_name("张三丰")),
            ("承诺时限".into(), "5 个工作日".into()),
        ],
        body: vec!["请凭本回执查询办理进度。".into()],
        qr: Some((
            "https://zwfw.example.gov.cn/case/320102-20261126-0042".into(),
            "扫码查询办理进度".into(),
        )),
        footer: vec!["请对本次服务作出\u{201C}好差评\u{201D}".into()],
    };
    let bytes = slip_job(&slip).unwrap();
    check_golden("receipt_slip.hex", &bytes);
    assert!(texts(&bytes).iter().any(|t| t == "320102-20261126-0042"));
}
