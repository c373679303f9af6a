//! Scripted citizens without a UI: `kiosk-app --simulate --headless --citizens N`. Each
//! citizen goes through a journey on the simulated devices by sending the same commands the
//! UI sends and waiting for the pages the UI would show; the run ends with a summary.

use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use kiosk_core::config::Config;
use kiosk_core::identity::Identity;
use kiosk_sim::printer::Paper;
use tokio::sync::watch;

use crate::engine::{Engine, EngineHandle, EngineOptions, Stats};
use crate::model::{Command, JourneyKind, KeypadKey, Page, Screen};
use crate::sim::{SimPages, SimPrinter, citizen_card};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    /// How many citizens.
    pub citizens: u32,
    /// Central to enrol with (when the data folder has no identity yet) and talk to.
    pub central_url: Option<String>,
    /// One-time enrolment token for `central_url`.
    pub token: Option<String>,
    /// Seed of the citizens' choices (same seed, same script).
    pub seed: u64,
    /// Only take numbers (the queue system test); otherwise a mix of every journey.
    pub numbers_only: bool,
    /// Wait this long at the end for the outbox to drain to central.
    pub drain: Duration,
}

/// What a headless run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// Citizens served.
    pub citizens: u32,
    /// The engine's counters.
    pub stats: Stats,
    /// Ticket PNGs the dispenser emulator cut in this run.
    pub dispenser_pngs: usize,
    /// Slip PNGs (receipts, guides, 一次性告知) the receipt printer cut in this run.
    pub receipt_pngs: usize,
    /// Events not yet acknowledged by central at the end.
    pub backlog: u64,
    /// Citizens whose script did not reach its expected page in time.
    pub stuck: u32,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stats;
        writeln!(f, "headless run: {} citizens", self.citizens)?;
        writeln!(f, "  tickets printed      {:>5}", s.tickets_printed)?;
        writeln!(f, "  tickets voided       {:>5}", s.tickets_voided)?;
        writeln!(f, "  tickets unconfirmed  {:>5}", s.tickets_unconfirmed)?;
        writeln!(f, "  duplicates refused   {:>5}", s.duplicates_refused)?;
        writeln!(f, "  check-ins            {:>5}", s.checkins)?;
        writeln!(f, "  applications         {:>5}", s.applications)?;
        writeln!(f, "  一次性告知 lists     {:>5}", s.missing_lists)?;
        writeln!(f, "  guide slips          {:>5}", s.guide_slips)?;
        writeln!(f, "  progress look-ups    {:>5}", s.progress_lookups)?;
        writeln!(f, "  ratings              {:>5}", s.ratings)?;
        writeln!(f, "  help requests        {:>5}", s.help_requests)?;
        writeln!(f, "  pages retaken        {:>5}", s.pages_retaken)?;
        writeln!(f, "  dispenser PNGs       {:>5}", self.dispenser_pngs)?;
        writeln!(f, "  receipt PNGs         {:>5}", self.receipt_pngs)?;
        writeln!(f, "  outbox backlog       {:>5}", self.backlog)?;
        write!(f, "  stuck citizens       {:>5}", self.stuck)
    }
}

/// A small deterministic generator (xorshift64*), so a seed replays the same citizens.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Enrols the data folder with central if it has no identity yet.
pub async fn ensure_enrolled(
    config: &Config,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<Identity> {
    let dir = &config.kiosk.data_dir;
    if let Some(identity) = Identity::load(dir)? {
        return Ok(identity);
    }
    let Some(token) = token else {
        bail!(
            "{} has no kiosk identity: give --token to enrol with {url}",
            dir.display()
        );
    };
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "headless".into());
    Identity::enrol(dir, url, token, &host, env!("CARGO_PKG_VERSION"))
        .await
        .with_context(|| format!("enrolling with {url}"))
}

/// Runs `options.citizens` scripted citizens on the simulated devices and returns what
/// happened. With a central, enrols first if needed and waits for the outbox to drain.
pub async fn run(config: Config, options: HeadlessOptions) -> anyhow::Result<Summary> {
    if let Some(url) = &options.central_url {
        ensure_enrolled(&config, url, options.token.as_deref()).await?;
    }
    let engine = Engine::start(
        config,
        EngineOptions {
            simulate: true,
            voice: false,
            ..EngineOptions::default()
        },
    )
    .await?;
    let sim = engine.sim().cloned().context("simulated devices")?;
    let before = (
        sim.printed(SimPrinter::Dispenser).len(),
        sim.printed(SimPrinter::Receipt).len(),
    );
    // The simulated reader answers a moment after the engine starts; a citizen who arrives
    // before it finds the card journeys greyed out, as a real one would. Scripted citizens
    // come once the kiosk is ready (or after 30 s, to report what stays greyed out).
    let mut tiles = engine.availability();
    if tokio::time::timeout(
        Duration::from_secs(30),
        tiles.wait_for(|a| a.tiles.iter().all(|t| t.enabled)),
    )
    .await
    .is_err()
    {
        tracing::warn!("some journeys are still not available after 30 s");
    }
    let mut script = Script {
        engine: engine.clone(),
        screen: engine.screen(),
        dice: Dice(options.seed ^ 0x9e37_79b9_7f4a_7c15),
        last_ticket: None,
        last_application: None,
        stuck: 0,
    };
    for n in 0..options.citizens {
        let ok = if options.numbers_only {
            script.take_number(n).await
        } else {
            script.citizen(n).await
        };
        if !ok {
            script.stuck += 1;
            tracing::warn!(citizen = n, "scripted citizen did not finish");
        }
        engine.send(Command::Cancel);
    }
    if options.central_url.is_some() {
        let deadline = tokio::time::Instant::now() + options.drain;
        while engine.backlog().await.unwrap_or(0) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let summary = Summary {
        citizens: options.citizens,
        stats: *engine.stats().borrow(),
        dispenser_pngs: sim
            .printed(SimPrinter::Dispenser)
            .len()
            .saturating_sub(before.0),
        receipt_pngs: sim
            .printed(SimPrinter::Receipt)
            .len()
            .saturating_sub(before.1),
        backlog: engine.backlog().await.unwrap_or(0),
        stuck: script.stuck,
    };
    engine.shutdown().await;
    Ok(summary)
}

struct Script {
    engine: EngineHandle,
    screen: watch::Receiver<Screen>,
    dice: Dice,
    last_ticket: Option<String>,
    last_application: Option<String>,
    stuck: u32,
}

const WAIT: Duration = Duration::from_secs(60);

/// What the scripted guide citizen types: pinyin initials of 社会保障 (it finds
/// 社会保障卡申领 in the sample catalog).
const GUIDE_QUERY: &str = "shbz";

impl Script {
    /// Sends `command` and waits for a page, published after it, that `done` accepts.
    async fn send_until(&mut self, command: Command, done: impl Fn(&Page) -> bool) -> Option<Page> {
        let after = self.screen.borrow().revision;
        self.engine.send(command);
        self.wait_after(after, done).await
    }

    /// Waits for a page that `done` accepts (the current one counts).
    async fn wait_for(&mut self, done: impl Fn(&Page) -> bool) -> Option<Page> {
        self.wait_after(0, done).await
    }

    async fn wait_after(&mut self, after: u64, done: impl Fn(&Page) -> bool) -> Option<Page> {
        let found = tokio::time::timeout(
            WAIT,
            self.screen
                .wait_for(|s| s.revision > after && done(&s.page)),
        )
        .await
        .map(|r| r.map(|screen| screen.page.clone()));
        match found {
            Ok(Ok(page)) => Some(page),
            _ => {
                tracing::warn!(page = ?self.screen.borrow().page, "expected page not reached");
                None
            }
        }
    }

    fn card(&self, n: u32, senior: bool) -> kiosk_idcard::IdCard {
        let year = if senior { 1950 } else { 1990 };
        let born = NaiveDate::from_ymd_opt(year, 1 + n % 12, 1 + n % 28).unwrap_or_default();
        citizen_card(n, born)
    }

    /// Starts `journey` and waits for its first page. `Err(told)` when the kiosk answered with
    /// a notice instead (the journey is closed: a full disk, no paper, a device down); `told`
    /// says whether the notice sent the citizen somewhere, which is as good an end as any.
    async fn start(
        &mut self,
        journey: JourneyKind,
        first: impl Fn(&Page) -> bool,
    ) -> Result<Page, bool> {
        let page = self
            .send_until(Command::Start { journey }, |p| {
                first(p) || matches!(p, Page::Notice { .. })
            })
            .await;
        match page {
            Some(Page::Notice {
                failure, window, ..
            }) => Err(failure && window.is_some()),
            Some(page) => Ok(page),
            None => Err(false),
        }
    }

    async fn citizen(&mut self, n: u32) -> bool {
        match self.dice.below(20) {
            0..=9 => self.take_number(n).await,
            10 => self.paper_out(n).await,
            11 | 12 => self.guide().await,
            13 | 14 => self.apply(n, false).await,
            15 => self.apply(n, true).await,
            16 => self.rate().await,
            17 => self.progress().await,
            18 => self.check_in(n).await,
            _ => self.help().await,
        }
    }

    async fn take_number(&mut self, n: u32) -> bool {
        let Some(sim) = self.engine.sim().cloned() else {
            return false;
        };
        let categories = ["A", "B", "C", "D", "E", "F"];
        let category = categories[self.dice.below(categories.len() as u64) as usize];
        if let Err(told) = self
            .start(JourneyKind::TakeNumber, |p| {
                matches!(p, Page::Choose { .. })
            })
            .await
        {
            return told;
        }
        if self
            .send_until(
                Command::Choose {
                    id: category.into(),
                },
                |p| matches!(p, Page::TapCard { .. }),
            )
            .await
            .is_none()
        {
            return false;
        }
        let done = |p: &Page| matches!(p, Page::Ticket { .. } | Page::Notice { .. });
        let page = match self.dice.below(3) {
            0 => self.send_until(Command::Skip, done).await,
            kind => {
                sim.present_card(&self.card(n, kind == 1));
                let page = self
                    .wait_for(|p| done(p) || matches!(p, Page::Choose { .. }))
                    .await;
                let page = match page {
                    Some(Page::Choose { .. }) => {
                        let declared =
                            ["none", "pregnant", "disabled"][self.dice.below(3) as usize];
                        self.send_until(
                            Command::Choose {
                                id: declared.into(),
                            },
                            done,
                        )
                        .await
                    }
                    other => other,
                };
                sim.take_card_away().await;
                page
            }
        };
        sim.take_ticket(SimPrinter::Dispenser);
        match page {
            Some(Page::Ticket { ticket }) => {
                self.last_ticket = Some(ticket.ticket_no);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    async fn paper_out(&mut self, n: u32) -> bool {
        let Some(sim) = self.engine.sim().cloned() else {
            return false;
        };
        sim.set_paper(SimPrinter::Dispenser, Paper::Out);
        // The kiosk may already know the roll is out (its health poll, or a ticket voided
        // just before): then the tile is closed and its page says why and where to go,
        // which is as good an answer as a voided number.
        if let Err(told) = self
            .start(JourneyKind::TakeNumber, |p| {
                matches!(p, Page::Choose { .. })
            })
            .await
        {
            sim.set_paper(SimPrinter::Dispenser, Paper::Ok);
            return told;
        }
        self.send_until(Command::Choose { id: "A".into() }, |p| {
            matches!(p, Page::TapCard { .. })
        })
        .await;
        let page = self
            .send_until(Command::Skip, |p| {
                matches!(p, Page::Notice { .. } | Page::Ticket { .. })
            })
            .await;
        sim.set_paper(SimPrinter::Dispenser, Paper::Ok);
        let _ = n;
        matches!(page, Some(Page::Notice { failure: true, .. }))
    }

    async fn guide(&mut self) -> bool {
        if let Err(told) = self
            .start(JourneyKind::Guide, |p| {
                matches!(p, Page::GuideBrowse { .. })
            })
            .await
        {
            return told;
        }
        // Pinyin initials of 社会保障 (社会保障卡申领).
        let Some(Page::GuideBrowse { matters, .. }) = self
            .send_until(
                Command::Search {
                    query: GUIDE_QUERY.into(),
                },
                |p| matches!(p, Page::GuideBrowse { query, .. } if query == GUIDE_QUERY),
            )
            .await
        else {
            return false;
        };
        let Some(first) = matters.first() else {
            tracing::warn!(query = GUIDE_QUERY, "the guide search found nothing");
            return false;
        };
        self.send_until(
            Command::Choose {
                id: first.id.clone(),
            },
            |p| matches!(p, Page::GuideMatter { .. }),
        )
        .await;
        self.send_until(Command::Confirm, |p| matches!(p, Page::Notice { .. }))
            .await
            .is_some()
    }

    async fn apply(&mut self, n: u32, skip_material: bool) -> bool {
        let Some(sim) = self.engine.sim().cloned() else {
            return false;
        };
        if let Err(told) = self
            .start(JourneyKind::Apply, |p| matches!(p, Page::TapCard { .. }))
            .await
        {
            return told;
        }
        sim.present_card(&self.card(n, false));
        let chose = self.wait_for(|p| matches!(p, Page::Choose { .. })).await;
        sim.take_card_away().await;
        if chose.is_none() {
            return false;
        }
        self.send_until(
            Command::Choose {
                id: "hr-sscard-apply".into(),
            },
            |p| matches!(p, Page::Form { .. }),
        )
        .await;
        self.engine.send(Command::Focus {
            key: "phone".into(),
        });
        for d in [1, 3, 8, 0, 0, 1, 3, 8, 0, 0, 0] {
            self.engine.send(Command::Key {
                key: KeypadKey::Digit(d),
            });
        }
        self.engine.send(Command::Choose {
            id: "bank=0".into(),
        });
        self.engine.send(Command::Choose {
            id: "delivery=1".into(),
        });
        if self
            .send_until(Command::Confirm, |p| matches!(p, Page::Scan { .. }))
            .await
            .is_none()
        {
            return false;
        }
        // First material: a blank page first (the check fails it, the citizen retakes).
        sim.load_pages(SimPages::Blank(1));
        self.send_until(Command::Confirm, |p| {
            matches!(p, Page::Scan { error: Some(_), .. })
        })
        .await;
        sim.load_pages(SimPages::Good(1));
        let second = self
            .send_until(Command::Confirm, |p| {
                matches!(p, Page::Scan { index: 2, .. })
            })
            .await;
        if second.is_none() {
            return false;
        }
        if skip_material {
            return self
                .send_until(Command::Skip, |p| {
                    matches!(p, Page::MissingMaterials { .. })
                })
                .await
                .is_some();
        }
        if self
            .send_until(Command::Confirm, |p| matches!(p, Page::Review { .. }))
            .await
            .is_none()
        {
            return false;
        }
        let Some(Page::Receipt { application_no, .. }) = self
            .send_until(Command::Confirm, |p| {
                matches!(p, Page::Receipt { .. } | Page::Notice { .. })
            })
            .await
        else {
            return false;
        };
        self.last_application = Some(application_no);
        self.send_until(Command::Confirm, |p| matches!(p, Page::Choose { .. }))
            .await;
        self.send_until(Command::Choose { id: "5".into() }, |p| {
            matches!(p, Page::Thanks { .. } | Page::Notice { .. })
        })
        .await
        .is_some()
    }

    async fn type_number(&mut self, text: &str) {
        for c in text.chars() {
            let key = match c {
                '0'..='9' => KeypadKey::Digit(c as u8 - b'0'),
                // The receipt groups the number for reading; nobody types the spaces.
                ' ' => continue,
                c => KeypadKey::Letter(c),
            };
            self.engine.send(Command::Key { key });
        }
    }

    async fn rate(&mut self) -> bool {
        let Some(ticket) = self.last_ticket.clone() else {
            return self.help().await;
        };
        if let Err(told) = self
            .start(JourneyKind::Rate, |p| matches!(p, Page::EnterNumber { .. }))
            .await
        {
            return told;
        }
        self.type_number(&ticket).await;
        self.send_until(Command::Confirm, |p| matches!(p, Page::Choose { .. }))
            .await;
        let level = 1 + self.dice.below(5);
        let done = |p: &Page| matches!(p, Page::Thanks { .. } | Page::Notice { .. });
        if level <= 2 {
            self.send_until(
                Command::Choose {
                    id: level.to_string(),
                },
                |p| matches!(p, Page::RatingReasons { .. }),
            )
            .await;
            self.engine.send(Command::Choose {
                id: "long_wait".into(),
            });
            self.send_until(Command::Confirm, done).await.is_some()
        } else {
            self.send_until(
                Command::Choose {
                    id: level.to_string(),
                },
                done,
            )
            .await
            .is_some()
        }
    }

    async fn progress(&mut self) -> bool {
        let Some(no) = self.last_application.clone() else {
            return self.guide().await;
        };
        if let Err(told) = self
            .start(JourneyKind::Progress, |p| {
                matches!(p, Page::EnterNumber { .. })
            })
            .await
        {
            return told;
        }
        self.type_number(&no).await;
        self.send_until(Command::Confirm, |p| {
            matches!(p, Page::Progress { .. } | Page::Notice { .. })
        })
        .await
        .is_some()
    }

    async fn check_in(&mut self, n: u32) -> bool {
        let Some(sim) = self.engine.sim().cloned() else {
            return false;
        };
        if let Err(told) = self
            .start(JourneyKind::CheckIn, |p| matches!(p, Page::TapCard { .. }))
            .await
        {
            return told;
        }
        sim.present_card(&self.card(n, false));
        let page = self
            .wait_for(|p| matches!(p, Page::Notice { .. } | Page::Ticket { .. }))
            .await;
        sim.take_card_away().await;
        sim.take_ticket(SimPrinter::Dispenser);
        page.is_some()
    }

    /// Calls for help: the page says how far the call got (offline: only queued, go to
    /// the desk now; with central: staff have it).
    async fn help(&mut self) -> bool {
        self.send_until(Command::CallHelp, |p| {
            matches!(
                p,
                Page::Notice {
                    window: Some(_),
                    ..
                }
            )
        })
        .await
        .is_some()
    }
}

/// The command-line flags of a headless run, flattened into `kiosk-app`'s own.
#[derive(Debug, Clone, clap::Args)]
pub struct HeadlessArgs {
    /// Run scripted citizens on the simulated devices without a UI, print a summary, exit.
    #[arg(long, requires = "simulate")]
    pub headless: bool,
    /// How many scripted citizens (--headless).
    #[arg(long, default_value_t = 10, requires = "headless")]
    pub citizens: u32,
    /// Central to enrol with and send to (--headless).
    #[arg(long, value_name = "URL", requires = "headless")]
    pub central: Option<String>,
    /// One-time enrolment token for --central (needed once per data folder).
    #[arg(long, value_name = "T", requires = "central")]
    pub token: Option<String>,
    /// Data folder instead of the profile's (--headless).
    #[arg(long, value_name = "DIR", requires = "headless")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Seed of the citizens' choices (--headless).
    #[arg(long, default_value_t = 1, requires = "headless")]
    pub seed: u64,
    /// Citizens only take numbers (--headless).
    #[arg(long, requires = "headless")]
    pub numbers_only: bool,
    /// Seconds to wait at the end for the outbox to reach central (--headless).
    #[arg(long, default_value_t = 60, requires = "headless")]
    pub drain_secs: u64,
}

/// `kiosk-app --simulate --headless ...`: runs on a runtime of its own, prints the summary
/// (and a last line `summary {json}` for scripts), exits non-zero if a citizen got stuck.
pub fn run_cli(mut config: Config, args: &HeadlessArgs) -> std::process::ExitCode {
    if let Some(dir) = &args.data_dir {
        config.kiosk.data_dir = dir.clone();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kiosk-app --headless: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let options = HeadlessOptions {
        citizens: args.citizens,
        central_url: args.central.clone(),
        token: args.token.clone(),
        seed: args.seed,
        numbers_only: args.numbers_only,
        drain: Duration::from_secs(args.drain_secs),
    };
    match runtime.block_on(run(config, options)) {
        Ok(summary) => {
            println!("{summary}");
            println!(
                "summary {}",
                serde_json::to_string(&summary).unwrap_or_default()
            );
            if summary.stuck == 0 {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("kiosk-app --headless: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
