//! Queue tickets and receipt slips laid out in the printer's own text and QR commands: a few
//! hundred bytes instead of a raster image of the same paper.

use std::time::Duration;

use chrono::NaiveDateTime;
use kiosk_escpos::{Align, CommandError, Job, QrLevel, QrStyle};

/// What a queue ticket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The hall, e.g. `南京市玄武区政务服务中心`.
    pub hall: String,
    /// The service category, e.g. `社保医保`.
    pub category: String,
    /// The queue number, e.g. `A042`.
    pub number: String,
    /// People waiting before this one.
    pub ahead: u32,
    /// Estimated wait.
    pub estimated_wait: Duration,
    /// When the number was issued (hall local time).
    pub issued_at: NaiveDateTime,
    /// Link to the live queue position (encoded in the QR code).
    pub link: String,
    /// The holder's full name when an ID card was used; only its masked form is printed.
    pub holder_name: Option<String>,
    /// Priority lane (绿色通道): elderly, pregnant, disabled.
    pub priority: bool,
}

/// Size of the queue number: 5× the normal cell, 60×120 dots per digit, so four or five
/// characters fit even on 58 mm paper.
const NUMBER_SIZE: u8 = 5;

/// QR code style on tickets: 5-dot modules are ~0.6 mm, easily read by phones; level M
/// survives a thermal smudge.
pub const TICKET_QR: QrStyle = QrStyle {
    module: 5,
    level: QrLevel::M,
};

/// The ESC/POS bytes of `ticket`.
pub fn ticket_job(ticket: &Ticket) -> Result<Vec<u8>, CommandError> {
    let mut job = Job::new()?;
    job.align(Align::Center)?;
    job.size(1, 2)?.bold(true)?.line(&ticket.hall)?;
    job.size(1, 1)?.bold(false)?.line(&ticket.category)?;
    if ticket.priority {
        job.line("【绿色通道】")?;
    }
    job.feed(1)?;
    job.size(NUMBER_SIZE, NUMBER_SIZE)?
        .bold(true)?
        .line(&ticket.number)?;
    job.size(1, 1)?.bold(false)?.feed(1)?;
    job.line(&format!("您前面还有 {} 人等候", ticket.ahead))?;
    job.line(&format!(
        "预计等待约 {} 分钟",
        ticket.estimated_wait.as_secs().div_ceil(60)
    ))?;
    job.line(&format!(
        "取号时间 {}",
        ticket.issued_at.format("%Y-%m-%d %H:%M")
    ))?;
    if let Some(name) = &ticket.holder_name {
        job.line(&format!("取号人 {}", kiosk_hal::mask_name(name)))?;
    }
    // A blank line above the code keeps its quiet zone clear of the text.
    job.feed(1)?.qr(&ticket.link, TICKET_QR)?;
    job.line("微信扫码查看实时排队进度")?;
    job.feed(1)?;
    job.line("办理完毕请对本次服务作出\u{201C}好差评\u{201D}")?;
    job.line("过号请重新取号，请留意叫号")?;
    job.cut()?;
    job.finish()
}

/// A receipt or guide slip: a title, labelled lines, an optional QR code and footer lines.
/// Used for application receipts (受理回执) and guide slips (办事指南).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Slip {
    /// Printed large and centred, e.g. `受理回执`.
    pub title: String,
    /// Under the title, e.g. the hall name.
    pub subtitle: Option<String>,
    /// `label：value` lines, left aligned.
    pub fields: Vec<(String, String)>,
    /// Plain paragraphs after the fields (materials lists, notes).
    pub body: Vec<String>,
    /// A QR code (case lookup link) and its caption.
    pub qr: Option<(String, String)>,
    /// Small print at the bottom.
    pub footer: Vec<String>,
}

/// The ESC/POS bytes of `slip`.
pub fn slip_job(slip: &Slip) -> Result<Vec<u8>, CommandError> {
    let mut job = Job::new()?;
    job.align(Align::Center)?;
    job.size(2, 2)?.bold(true)?.line(&slip.title)?;
    job.size(1, 1)?.bold(false)?;
    if let Some(subtitle) = &slip.subtitle {
        job.line(subtitle)?;
    }
    job.line(&"-".repeat(32))?;
    job.align(Align::Left)?;
    for (label, value) in &slip.fields {
        job.bold(true)?.text(&format!("{label}："))?;
        job.bold(false)?.line(value)?;
    }
    for paragraph in &slip.body {
        job.line(paragraph)?;
    }
    if let Some((link, caption)) = &slip.qr {
        job.align(Align::Center)?
            .feed(1)?
            .qr(link, TICKET_QR)?
            .line(caption)?;
    }
    job.align(Align::Center)?;
    for line in &slip.footer {
        job.line(line)?;
    }
    job.cut()?;
    job.finish()
}
