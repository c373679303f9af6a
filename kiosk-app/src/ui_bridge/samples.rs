//! One sample of every journey page, as the engine would publish it, for the screenshots
//! (`--screenshots DIR`). Fictional data only: the applicant is masked as the engine masks.

use kiosk_journeys::model::{
    Choice, FieldInput, FormField, MaterialLine, MatterGuide, PageCheckView, ProgressView,
    TicketView, TimelineLine,
};
use kiosk_journeys::{JourneyKind, Page, Text};

/// A named sample: the file name, the journey, the page, and what the voice says on it.
pub type Sample = (&'static str, JourneyKind, Page, Text);

fn t(zh: &str, en: &str) -> Text {
    Text::new(zh, en)
}

fn material(name: (&str, &str), originals: u32, copies: u32) -> MaterialLine {
    MaterialLine {
        id: name.1.to_lowercase().replace(' ', "-"),
        name: t(name.0, name.1),
        originals,
        copies,
        required: true,
        note: None,
    }
}

/// A real application number (hall 0012, kiosk 03, 26 Nov 2026, 7th of the day), as the
/// kiosk gives them: 17 digits with a check digit.
fn application_no() -> Option<kiosk_api::numbers::ApplicationNo> {
    use kiosk_api::numbers::{ApplicationNo, HallCode, KioskNo};
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 26)?;
    ApplicationNo::new(HallCode::new(12).ok()?, KioskNo::new(3).ok()?, date, 7).ok()
}

/// Every page kind, with realistic content and the prompt the journey would give it.
pub fn samples() -> Vec<Sample> {
    pages()
        .into_iter()
        .map(|(name, journey, page)| (name, journey, page, prompt(name)))
        .collect()
}

/// The page's key sentence, as the journeys word it (the voice says it in elder mode).
fn prompt(name: &str) -> Text {
    match name {
        "take-number-categories" => t("请选择业务类别", "Please choose a service"),
        "take-number-card" => t("请刷身份证，或点跳过", "Tap your ID card, or skip"),
        "take-number-printing" => t("正在出票", "Printing"),
        "take-number-ticket" => t(
            "您的号码是 B012，前面还有 11 人",
            "Your number is B012, 11 people ahead of you",
        ),
        "take-number-paper-out" => t(
            "出票失败，请到1号综合咨询台",
            "Please go to Information desk 1",
        ),
        "guide-browse" => t("请选择或搜索事项", "Choose or search for a matter"),
        "guide-matter" => t("请查看办事指南", "Here is the service guide"),
        "apply-card" => t("请刷身份证开始申报", "Tap your ID card to start"),
        "apply-form" => t("请填写申请信息", "Please fill in the form"),
        "apply-scan-retake" | "apply-scanning" => t("请扫描材料", "Please scan your materials"),
        "apply-review" => t("请核对后提交", "Please check, then submit"),
        "apply-receipt" => t(
            "申报成功，请取走回执，承诺10个工作日办结",
            "Submitted: please take your receipt; done within 10 working days",
        ),
        "apply-missing" => t(
            "还缺少材料，清单已打印",
            "Materials are missing: the list is printed",
        ),
        "progress-number" => t(
            "请输入17位申请编号",
            "Please enter the 17-digit application number",
        ),
        "progress-timeline" => t("您的申请正在审核中", "Your application is under review"),
        "rate-levels" | "rate-reasons" => t("请为本次服务评价", "Please rate our service"),
        "rate-thanks" => t("感谢您的评价", "Thank you for your rating"),
        "help-called" => t("已通知工作人员，请稍候", "Staff are on their way"),
        "help-queued" => t(
            "呼叫尚未送达工作人员",
            "Your call has not reached the staff yet",
        ),
        "help-on-the-way" => t("工作人员正在赶来", "Staff are on their way"),
        "take-number-ticket-offline" => t(
            "请取走您的号票，A031号",
            "Please take your ticket, number A031",
        ),
        _ => t("请按提示操作", "Please follow the screen"),
    }
}

fn pages() -> Vec<(&'static str, JourneyKind, Page)> {
    let no = application_no();
    let number = no.map(|n| n.to_string()).unwrap_or_default();
    // Progress shows the number grouped as the receipt prints it, as the engine sends it.
    let grouped = no.map(|n| n.grouped()).unwrap_or_default();
    let categories = vec![
        Choice::new("A", t("综合受理", "General applications"))
            .with_detail(t("1–4号窗口 · 等候 6 人", "Windows 1–4 · 6 waiting")),
        Choice::new("B", t("社保医保", "Social and medical insurance"))
            .with_detail(t("5–7号窗口 · 等候 12 人", "Windows 5–7 · 12 waiting")),
        Choice::new("C", t("不动产登记", "Real estate registration"))
            .with_detail(t("8–10号窗口 · 等候 3 人", "Windows 8–10 · 3 waiting")),
        Choice::new("D", t("户籍出入境", "Residence and exit-entry"))
            .with_detail(t("11–12号窗口 · 等候 0 人", "Windows 11–12 · none waiting")),
    ];
    let social_card = t("社会保障卡申领", "Social security card application");
    let guide = MatterGuide {
        id: "hr-sscard-apply".into(),
        name: social_card.clone(),
        kind: t("公共服务", "Public service"),
        department: t(
            "区人力资源和社会保障局",
            "District Human Resources and Social Security Bureau",
        ),
        conditions: vec![t(
            "本区参保人员，尚未持有社会保障卡",
            "Insured in this district and holding no social security card",
        )],
        materials: vec![
            material(("居民身份证", "Resident ID card"), 1, 1),
            material(("一寸免冠照片", "One-inch photo"), 1, 0),
        ],
        basis: vec![t(
            "《社会保险法》第五十八条",
            "《社会保险法》第五十八条 (Social Insurance Law, art. 58)",
        )],
        statutory_limit: t("20个工作日", "20 working days"),
        promised_limit: t("10个工作日", "10 working days"),
        fee: t("不收费", "Free of charge"),
        window: t("5号窗口", "Window 5"),
        self_apply: true,
        appointment: false,
    };
    let levels = [
        ("5", "非常满意", "Very satisfied"),
        ("4", "满意", "Satisfied"),
        ("3", "基本满意", "Fairly satisfied"),
        ("2", "不满意", "Dissatisfied"),
        ("1", "非常不满意", "Very dissatisfied"),
    ];
    let mut reasons = vec![
        Choice::new("long_wait", t("等候时间太长", "The wait was too long")),
        Choice::new("attitude", t("工作人员态度不好", "Staff were unfriendly")),
        Choice::new("unclear", t("办事指南说明不清", "The guide was unclear")),
        Choice::new(
            "repeat",
            t("要求重复提交材料", "Asked for the same papers twice"),
        ),
    ];
    reasons[0].selected = true;
    vec![
        (
            "take-number-categories",
            JourneyKind::TakeNumber,
            Page::Choose {
                title: t("请选择办理的业务", "Which service do you need?"),
                choices: categories.clone(),
            },
        ),
        (
            "take-number-card",
            JourneyKind::TakeNumber,
            Page::TapCard {
                purpose: t(
                    "刷身份证可享绿色通道（60岁以上）；没有带证件也可以直接取号。",
                    "Tap your ID card for the priority lane (60 and over), or take a number without it.",
                ),
                optional: true,
                error: None,
            },
        ),
        (
            "take-number-printing",
            JourneyKind::TakeNumber,
            Page::Working {
                what: t("正在打印号票…", "Printing your ticket…"),
            },
        ),
        (
            "take-number-ticket",
            JourneyKind::TakeNumber,
            Page::Ticket {
                ticket: TicketView {
                    ticket_no: "B012".into(),
                    category: t("社保医保", "Social and medical insurance"),
                    window: t("5–7号窗口", "Windows 5–7"),
                    ahead: 11,
                    wait_minutes: 35,
                    priority: Some(t("绿色通道：60岁以上", "Priority lane: aged 60 and over")),
                    stale_note: None,
                },
            },
        ),
        (
            "take-number-paper-out",
            JourneyKind::TakeNumber,
            Page::Notice {
                title: t("出票失败，本号已作废", "The ticket could not be printed"),
                message: t(
                    "取号机暂时无法出票，A013 号已作废。",
                    "The ticket printer cannot print right now; number A013 has been cancelled.",
                ),
                window: Some(t("1号综合咨询台", "Information desk 1")),
                failure: true,
            },
        ),
        (
            "check-in-no-appointment",
            JourneyKind::CheckIn,
            Page::Notice {
                title: t("没有找到您今天的预约", "No appointment found for today"),
                message: t(
                    "请确认预约日期，或直接取号办理。",
                    "Please check the date of your booking, or take a number instead.",
                ),
                window: Some(t("1号综合咨询台", "Information desk 1")),
                failure: false,
            },
        ),
        (
            "guide-browse",
            JourneyKind::Guide,
            Page::GuideBrowse {
                categories: {
                    let mut c = vec![Choice::new("category:", t("全部", "All"))];
                    c[0].selected = true;
                    c.extend(
                        categories
                            .iter()
                            .take(3)
                            .map(|x| Choice::new(format!("category:{}", x.id), x.label.clone())),
                    );
                    c
                },
                query: "shb".into(),
                matters: vec![
                    Choice::new("hr-sscard-apply", social_card.clone())
                        .with_detail(t("可在本机申报", "Can be applied for here")),
                    Choice::new(
                        "hr-sscard-replace",
                        t("社会保障卡补换", "Social security card replacement"),
                    ),
                ],
            },
        ),
        (
            "guide-matter",
            JourneyKind::Guide,
            Page::GuideMatter {
                guide: guide.clone(),
            },
        ),
        (
            "apply-card",
            JourneyKind::Apply,
            Page::TapCard {
                purpose: t(
                    "请刷身份证开始申报",
                    "Tap your ID card to start your application",
                ),
                optional: false,
                error: None,
            },
        ),
        (
            "apply-form",
            JourneyKind::Apply,
            Page::Form {
                matter: social_card.clone(),
                fields: vec![
                    FormField {
                        key: "phone".into(),
                        label: t("联系电话", "Phone number"),
                        required: true,
                        input: FieldInput::Digits { length: 11 },
                        value: "1380013800".into(),
                        focused: true,
                        error: Some(t("请输入11位手机号码", "Enter an 11-digit mobile number")),
                    },
                    FormField {
                        key: "bank".into(),
                        label: t("选择合作银行", "Partner bank"),
                        required: true,
                        input: FieldInput::Choice {
                            choices: vec![
                                Choice::new("bank=0", t("工商银行", "ICBC")),
                                Choice::new("bank=1", t("建设银行", "CCB")),
                                Choice::new("bank=2", t("农业银行", "ABC")),
                            ],
                        },
                        value: String::new(),
                        focused: false,
                        error: None,
                    },
                ],
                window_only: Vec::new(),
            },
        ),
        (
            "apply-scan-retake",
            JourneyKind::Apply,
            Page::Scan {
                material: material(("居民身份证", "Resident ID card"), 1, 1),
                index: 1,
                total: 2,
                progress: None,
                pages: vec![PageCheckView {
                    page: 1,
                    accepted: false,
                    problems: vec![t("页面是空白的。", "The page is blank.")],
                }],
                error: None,
            },
        ),
        (
            "apply-scanning",
            JourneyKind::Apply,
            Page::Scan {
                material: material(("一寸免冠照片", "One-inch photo"), 1, 0),
                index: 2,
                total: 2,
                progress: Some(60),
                pages: Vec::new(),
                error: None,
            },
        ),
        (
            "apply-review",
            JourneyKind::Apply,
            Page::Review {
                matter: social_card.clone(),
                applicant: "张*".into(),
                answers: vec![
                    (t("联系电话", "Phone number"), Text::same("13800138000")),
                    (t("选择合作银行", "Partner bank"), t("工商银行", "ICBC")),
                ],
                materials: vec![
                    (t("居民身份证", "Resident ID card"), 1),
                    (t("一寸免冠照片", "One-inch photo"), 1),
                ],
            },
        ),
        (
            "apply-receipt",
            JourneyKind::Apply,
            Page::Receipt {
                application_no: number.clone(),
                matter: social_card.clone(),
                promised: t("10个工作日", "10 working days"),
                printed: true,
            },
        ),
        (
            "apply-missing",
            JourneyKind::Apply,
            Page::MissingMaterials {
                matter: social_card.clone(),
                missing: vec![material(("一寸免冠照片", "One-inch photo"), 1, 0)],
                printed: true,
            },
        ),
        (
            "progress-number",
            JourneyKind::Progress,
            Page::EnterNumber {
                value: number.get(..9).unwrap_or_default().to_string(),
                error: None,
                letters: false,
            },
        ),
        (
            "progress-timeline",
            JourneyKind::Progress,
            Page::Progress {
                applications: vec![ProgressView {
                    application_no: grouped,
                    matter: social_card,
                    status: t("审核中", "Under review"),
                    timeline: vec![
                        TimelineLine {
                            at: "2026-11-26 09:42".into(),
                            status: t("已受理", "Received"),
                            note: t("自助终端受理", "Received at a self-service kiosk"),
                        },
                        TimelineLine {
                            at: "2026-11-27 14:10".into(),
                            status: t("审核中", "Under review"),
                            note: t("材料齐全，正在审核", "Materials complete, under review"),
                        },
                    ],
                }],
                as_of: Some(t(
                    "网络中断，显示的是截至 11月27日 15:02 的信息",
                    "Offline: as of 27 Nov 15:02",
                )),
            },
        ),
        (
            "rate-levels",
            JourneyKind::Rate,
            Page::Choose {
                title: t("请为本次服务评价", "How was our service?"),
                choices: levels
                    .iter()
                    .map(|(id, zh, en)| Choice::new(*id, t(zh, en)))
                    .collect(),
            },
        ),
        (
            "rate-reasons",
            JourneyKind::Rate,
            Page::RatingReasons {
                level: 2,
                reasons,
                note: String::new(),
            },
        ),
        (
            "rate-thanks",
            JourneyKind::Rate,
            Page::Thanks {
                subject: t("B012 号的服务", "the service for ticket B012"),
            },
        ),
        (
            "help-called",
            JourneyKind::Help,
            Page::Notice {
                title: t("已通知工作人员", "Staff have been told"),
                message: t(
                    "请在本机旁稍候，工作人员马上就到。",
                    "Please wait by this kiosk: someone is on the way.",
                ),
                window: Some(t("1号综合咨询台", "Information desk 1")),
                failure: false,
            },
        ),
        (
            "help-queued",
            JourneyKind::Help,
            Page::Notice {
                title: t(
                    "呼叫尚未送达工作人员",
                    "Your call has not reached the staff yet",
                ),
                message: t(
                    "本终端暂时联系不上工作人员，呼叫已记录，恢复联网后会发出。请您现在直接前往1号综合咨询台",
                    "The kiosk cannot reach the staff right now; your call is kept and goes out as soon as it can. Please go to Information desk 1 now",
                ),
                window: Some(t("1号综合咨询台", "Information desk 1")),
                failure: true,
            },
        ),
        (
            "help-on-the-way",
            JourneyKind::Help,
            Page::Notice {
                title: t("工作人员已收到，正在赶来", "Staff are on their way"),
                message: t(
                    "3号窗口 王* 正在赶来，请在此稍候",
                    "Window 3, Wang* is coming to you; please wait here",
                ),
                window: None,
                failure: false,
            },
        ),
        (
            "take-number-ticket-offline",
            JourneyKind::TakeNumber,
            Page::Ticket {
                ticket: TicketView {
                    ticket_no: "A031".into(),
                    category: t("综合受理", "General applications"),
                    window: t("1–4号窗口", "Windows 1–4"),
                    ahead: 6,
                    wait_minutes: 18,
                    priority: None,
                    stale_note: Some(t(
                        "网络中断，排队信息截至 2026年12月1日 16:40",
                        "Offline: queue figures as of 2026-12-01 16:40",
                    )),
                },
            },
        ),
    ]
}
