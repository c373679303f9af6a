//! What the kiosk prints, beside the journeys that print it: the queue ticket, the 受理回执,
//! the guide slip and the 一次性告知 list. Each is a pure function of what the journey
//! knows (no store, no clock, no device); the engine fills in the facts and sends the result
//! to a printer. The golden tests below pin the ESC/POS bytes: after a deliberate change of
//! a layout, `KIOSK_BLESS=1 cargo test -p kiosk-journeys slips` writes the new bytes to
//! `tests/golden/`, and the diff of those files shows what changed on paper.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kiosk_api::ApplicationNo;
use kiosk_api::catalog::{Catalog, Category};
use kiosk_api::citizen::hall_offset;
use kiosk_dispenser::{Slip, Ticket};

use crate::machines::ScannedMaterial;
use crate::model::MaterialLine;

/// What a queue ticket says about the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFigures {
    /// People ahead.
    pub ahead: u32,
    /// The estimated wait.
    pub wait: Duration,
    /// `Some` when the figures are not fresh: `Some(Some((zh, en)))` when they are as of an
    /// earlier time, `Some(None)` when there are none for today (the count is this kiosk's
    /// own tickets).
    pub stale: Option<Option<(String, String)>>,
}

/// The facts on a queue ticket.
#[derive(Debug, Clone)]
pub struct TicketFacts<'a> {
    /// The hall's name.
    pub hall: &'a str,
    /// The category.
    pub category: &'a Category,
    /// The ticket number (`A012`).
    pub number: &'a str,
    /// The queue figures.
    pub figures: &'a QueueFigures,
    /// The QR's link to the live queue.
    pub link: String,
    /// When it was taken.
    pub issued_at: DateTime<Utc>,
    /// The holder's masked name, when a card was tapped (the dispenser masks it again).
    pub holder_masked: Option<String>,
    /// Priority lane.
    pub priority: bool,
}

/// The queue ticket.
pub fn ticket(f: TicketFacts<'_>) -> Ticket {
    let mut category = f.category.name_zh.clone();
    if let Some(at) = &f.figures.stale {
        // The dispenser's ticket has no line of its own for this: it goes with the
        // category, which is printed under the hall's name.
        match at {
            Some((zh, _)) => category.push_str(&format!("（离线，排队信息截至{zh}）")),
            None => category.push_str("（暂无今日排队信息，人数仅含本机）"),
        }
    }
    Ticket {
        hall: f.hall.to_owned(),
        category,
        number: f.number.to_owned(),
        ahead: f.figures.ahead,
        estimated_wait: f.figures.wait,
        issued_at: f.issued_at.with_timezone(&hall_offset()).naive_local(),
        link: f.link,
        holder_name: f.holder_masked,
        priority: f.priority,
    }
}

/// The technician's test ticket.
pub fn test_ticket(hall: &str, queue_url: &str, now: DateTime<Utc>) -> Ticket {
    Ticket {
        hall: hall.to_owned(),
        category: "测试票 TEST".into(),
        number: "T000".into(),
        ahead: 0,
        estimated_wait: Duration::ZERO,
        issued_at: now.with_timezone(&hall_offset()).naive_local(),
        link: queue_url.to_owned(),
        holder_name: None,
        priority: false,
    }
}

/// The facts on a 受理回执.
#[derive(Debug, Clone)]
pub struct ReceiptFacts<'a> {
    /// The hall's catalog (matter name, promised limit, window).
    pub catalog: &'a Catalog,
    /// The application number.
    pub no: ApplicationNo,
    /// The matter applied for.
    pub matter_id: &'a str,
    /// The applicant's masked name.
    pub holder_masked: &'a str,
    /// The materials scanned.
    pub materials: &'a [ScannedMaterial],
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// The QR's link for "where is my case": central's progress page of this application
    /// (its live token), or the configured progress URL and the number.
    pub progress_link: String,
}

/// The 受理回执.
pub fn receipt(f: ReceiptFacts<'_>) -> Slip {
    let matter = crate::catalog::matter(f.catalog, f.matter_id);
    let (name, promised, window) = match matter {
        Some(m) => (
            m.name_zh.clone(),
            crate::catalog::guide(f.catalog, m).promised_limit.zh,
            crate::catalog::windows(f.catalog, &m.category).zh,
        ),
        None => Default::default(),
    };
    Slip {
        title: "受理回执".into(),
        subtitle: Some(f.catalog.hall.name_zh.clone()),
        fields: vec![
            ("申请编号".into(), f.no.grouped()),
            ("申请事项".into(), name),
            ("申请人".into(), f.holder_masked.to_owned()),
            (
                "提交时间".into(),
                f.submitted_at
                    .with_timezone(&hall_offset())
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
            ),
            ("承诺时限".into(), promised),
            ("咨询窗口".into(), window),
        ],
        body: f
            .materials
            .iter()
            .map(|m| format!("已扫描材料：{} {}页", m.material_id, m.pages))
            .collect(),
        qr: Some((f.progress_link, "扫码查询办理进度".into())),
        footer: vec!["请妥善保管本回执".into()],
    }
}

/// The guide slip of a matter, with a QR to the full guide; `None` for an unknown matter.
pub fn guide(catalog: &Catalog, guide_url: &str, matter_id: &str) -> Option<Slip> {
    let matter = crate::catalog::matter(catalog, matter_id)?;
    let guide = crate::catalog::guide(catalog, matter);
    let mut body = vec!["【申请条件】".to_owned()];
    body.extend(guide.conditions.iter().map(|c| format!("· {}", c.zh)));
    body.push("【申请材料】".into());
    body.extend(
        guide
            .materials
            .iter()
            .map(|m| format!("· {}", crate::catalog::material_print_line(m))),
    );
    body.push("【设定依据】".into());
    body.extend(guide.basis.iter().map(|b| format!("· {}", b.zh)));
    Some(Slip {
        title: "办事指南".into(),
        subtitle: Some(guide.name.zh.clone()),
        fields: vec![
            ("承办部门".into(), guide.department.zh.clone()),
            ("法定时限".into(), guide.statutory_limit.zh.clone()),
            ("承诺时限".into(), guide.promised_limit.zh.clone()),
            ("收费标准".into(), guide.fee.zh.clone()),
            ("办理窗口".into(), guide.window.zh.clone()),
        ],
        body,
        qr: Some((
            format!("{guide_url}{}", matter.id),
            "扫码查看完整办事指南".into(),
        )),
        footer: vec![catalog.hall.name_zh.clone()],
    })
}

/// The 一次性告知 list: everything a matter still needs, at once.
pub fn missing(
    catalog: &Catalog,
    guide_url: &str,
    now: DateTime<Utc>,
    matter_id: &str,
    missing: &[MaterialLine],
) -> Slip {
    let matter = crate::catalog::matter(catalog, matter_id);
    let name = matter.map(|m| m.name_zh.clone()).unwrap_or_default();
    let window = matter
        .map(|m| crate::catalog::windows(catalog, &m.category).zh)
        .unwrap_or_default();
    let now = now.with_timezone(&hall_offset());
    let mut body = vec!["您申请的事项尚缺以下材料，请一次性补齐后再来办理：".to_owned()];
    body.extend(
        missing
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{}. {}", i + 1, crate::catalog::material_print_line(m))),
    );
    Slip {
        title: "一次性告知书".into(),
        subtitle: Some(catalog.hall.name_zh.clone()),
        fields: vec![
            ("申请事项".into(), name),
            ("告知日期".into(), now.format("%Y-%m-%d %H:%M").to_string()),
            ("办理窗口".into(), window),
        ],
        body,
        qr: Some((
            format!("{guide_url}{matter_id}"),
            "扫码查看完整办事指南".into(),
        )),
        footer: vec!["材料补齐后可在自助终端或窗口办理".into()],
    }
}

#[cfg(test)]
mod golden {
    use std::path::PathBuf;

    use kiosk_api::{HallCode, KioskNo};

    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-12-02T01:15:00Z".parse().unwrap()
    }

    /// The bytes as 32 hex bytes a line, so that a diff shows where a layout changed.
    fn hex(bytes: &[u8]) -> String {
        bytes
            .chunks(32)
            .map(|line| line.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
            .collect()
    }

    /// Compares `bytes` with the blessed `tests/golden/<name>.hex`, or writes it when
    /// `KIOSK_BLESS=1`.
    fn golden(name: &str, bytes: &[u8]) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(format!("{name}.hex"));
        let now = hex(bytes);
        if std::env::var("KIOSK_BLESS").is_ok_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &now).unwrap();
            return;
        }
        let blessed = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} missing: run with KIOSK_BLESS=1 to write it",
                path.display()
            )
        });
        assert!(
            blessed == now,
            "{name}: the ESC/POS bytes changed; if the new layout is meant, bless it with \
             KIOSK_BLESS=1 and review the diff of {}",
            path.display()
        );
    }

    /// Whether `text` is on the paper. GB 18030 leaves ASCII as it is, so the numbers and
    /// times a citizen reads can be found in the bytes as they are.
    fn prints(bytes: &[u8], text: &str) -> bool {
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    }

    #[test]
    fn a_ticket_with_stale_figures_prints_as_blessed() {
        let catalog = crate::catalog::sample();
        let category = &catalog.categories[0];
        let figures = QueueFigures {
            ahead: 7,
            wait: Duration::from_secs(7 * 300),
            stale: Some(Some(("09:05".into(), "09:05".into()))),
        };
        let t = ticket(TicketFacts {
            hall: &catalog.hall.name_zh,
            category,
            number: "A012",
            figures: &figures,
            link: "https://q.example/2026-12-02/A012".into(),
            issued_at: at(),
            holder_masked: Some("张*".into()),
            priority: true,
        });
        let bytes = kiosk_dispenser::ticket_job(&t).unwrap();
        for line in [
            "A012",
            " 7 ",
            "09:05",
            "2026-12-02 09:15",
            "https://q.example/2026-12-02/A012",
        ] {
            assert!(prints(&bytes, line), "{line} not on the ticket");
        }
        golden("ticket", &bytes);
    }

    #[test]
    fn a_receipt_prints_as_blessed() {
        let catalog = crate::catalog::sample();
        let matter = catalog.matters[0].id.clone();
        let no = ApplicationNo::new(
            HallCode::new(12).unwrap(),
            KioskNo::new(3).unwrap(),
            at().date_naive(),
            7,
        )
        .unwrap();
        let materials = [ScannedMaterial {
            material_id: "id-card-copy".into(),
            sha256: "0".repeat(64),
            pages: 2,
        }];
        let slip = receipt(ReceiptFacts {
            catalog: &catalog,
            no,
            matter_id: &matter,
            holder_masked: "张*",
            materials: &materials,
            submitted_at: at(),
            progress_link: format!("https://p.example/{no}"),
        });
        let bytes = kiosk_dispenser::slip_job(&slip).unwrap();
        for line in [
            no.grouped(),
            "id-card-copy 2".into(),
            format!("https://p.example/{no}"),
        ] {
            assert!(prints(&bytes, &line), "{line} not on the receipt");
        }
        golden("receipt", &bytes);
    }

    #[test]
    fn a_guide_slip_and_a_missing_list_print_as_blessed() {
        let catalog = crate::catalog::sample();
        let matter = &catalog.matters[0];
        let slip = guide(&catalog, "https://g.example/", &matter.id).unwrap();
        let bytes = kiosk_dispenser::slip_job(&slip).unwrap();
        assert!(prints(&bytes, &format!("https://g.example/{}", matter.id)));
        golden("guide", &bytes);
        assert!(guide(&catalog, "https://g.example/", "no-such-matter").is_none());

        let lines: Vec<MaterialLine> = crate::catalog::guide(&catalog, matter)
            .materials
            .into_iter()
            .take(2)
            .collect();
        let slip = missing(&catalog, "https://g.example/", at(), &matter.id, &lines);
        let bytes = kiosk_dispenser::slip_job(&slip).unwrap();
        assert!(prints(&bytes, "2026-12-02 09:15"));
        golden("missing", &bytes);
    }
}
