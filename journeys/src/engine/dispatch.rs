//! The effects dispatched: each effect of a journey goes to the module that carries it out
//! (tickets, applications, progress, ratings, help), and device work goes out as a task whose
//! report comes back here.

use std::time::Duration;

use kiosk_api::citizen::{VoidReason, business_date_at};

use super::actor::{Actor, Step};
use super::devices::{PrintFailure, PrinterSlot, ScannerSlot, scan_outcome};
use super::jobs::{self, Done, Lost, SlipFor, Work};
use super::tickets::PrintingTicket;
use super::{applications, help, progress, ratings, tickets};
use crate::machines::{self, Effect, Notice, Outcome};
use crate::model::Text;

impl Actor {
    /// Whether the device `effect` needs is out with a task.
    pub(super) fn device_out(&self, effect: &Effect) -> bool {
        match effect {
            Effect::IssueTicket(_) => self.dispenser.is_busy(),
            Effect::PrintGuide { .. } | Effect::PrintMissing { .. } | Effect::Submit(_) => {
                self.receipt.is_busy()
            }
            Effect::Scan { .. } => self.scanner.is_busy(),
            _ => false,
        }
    }

    /// Dispatches an effect to the module that carries it out.
    pub(super) async fn effect(&mut self, effect: Effect) -> Step {
        let now = self.clock.now();
        let outcome = match effect {
            Effect::IssueTicket(order) => return self.issue(order).await,
            Effect::FindAppointments { holder_hashes } => {
                let (list, confirmed) = tickets::appointments(
                    self.client.as_ref(),
                    &self.store,
                    business_date_at(now),
                    &holder_hashes,
                )
                .await;
                Outcome::Appointments { list, confirmed }
            }
            Effect::PrintGuide { matter_id } => {
                let url = &self.config.journeys.guide_url;
                match crate::slips::guide(&self.catalog, url, &matter_id) {
                    Some(slip) => return self.print_slip(slip, SlipFor::Guide),
                    None => Outcome::Printed(false),
                }
            }
            Effect::Scan { material_id } => return self.scan(material_id),
            Effect::Submit(order) => return self.submit(*order).await,
            Effect::PrintMissing { matter_id, missing } => {
                self.stats.missing_lists += 1;
                let url = &self.config.journeys.guide_url;
                let slip = crate::slips::missing(&self.catalog, url, now, &matter_id, &missing);
                return self.print_slip(slip, SlipFor::Missing);
            }
            Effect::FetchProgress(query) => {
                let lookup = progress::Lookup {
                    client: self.client.as_ref(),
                    store: &self.store,
                    catalog: &self.catalog,
                    desk: &self.help_window,
                    now,
                };
                Outcome::Progress(progress::progress(lookup, query, &mut self.stats).await)
            }
            Effect::Rate(rating) => Outcome::Rated(
                ratings::rate(&self.store, &self.help_window, rating, &mut self.stats).await,
            ),
            Effect::CallHelp { page } => {
                let asked = (page.as_str(), self.session.language, now);
                let uplink = self.uplink.as_ref();
                let desk = &self.help_window;
                Outcome::HelpSent(
                    help::call(&self.store, uplink, asked, desk, &mut self.stats).await,
                )
            }
            Effect::OfferRating {
                subject,
                label,
                matter_code,
            } => {
                self.session.journey = Some(Box::new(machines::rating::Rating::for_subject(
                    subject,
                    label,
                    matter_code,
                )));
                return Step::Done(None);
            }
        };
        Step::Done(Some(outcome))
    }

    // ---- device work ------------------------------------------------------------------

    /// Sends device work out as a task for the session on screen.
    fn send_out(
        &mut self,
        lost: Lost,
        work: impl std::future::Future<Output = Work> + Send + 'static,
    ) -> Step {
        jobs::spawn(&self.jobs_tx, Some(self.run.id), lost, work);
        self.jobs_out += 1;
        Step::Out
    }

    /// A device task reported: its device is back, its result recorded, and the journey that
    /// asked for it, if still on screen, goes on.
    pub(super) async fn done(&mut self, done: Done) {
        self.jobs_out = self.jobs_out.saturating_sub(1);
        let outcome = self.finish(done.work).await;
        if done.session == Some(self.run.id) && self.run.waiting {
            self.run.waiting = false;
            if let Some(outcome) = outcome {
                self.outcome(outcome);
            }
        }
        self.publish();
        self.drive().await;
    }

    /// Takes the device back and records what its task did; the outcome for the journey.
    pub(super) async fn finish(&mut self, work: Work) -> Option<Outcome> {
        match work {
            Work::Ticket {
                slot,
                printed,
                ticket,
            } => {
                self.dispenser.put_back(slot);
                Some(Outcome::Ticket(self.ticket_printed(*ticket, printed).await))
            }
            Work::TestTicket { slot, ok } => {
                self.dispenser.put_back(slot);
                tracing::info!(ok, "technician test ticket");
                self.publish_availability();
                None
            }
            Work::Slip {
                slot,
                printed,
                purpose,
            } => {
                self.receipt.put_back(slot);
                Some(self.slip_printed(purpose, printed))
            }
            Work::Scan {
                slot,
                material_id,
                result,
            } => {
                self.scanner.put_back(slot);
                let desk = &self.help_window;
                let scanned = applications::scanned(desk, material_id, result, &mut self.stats);
                Some(Outcome::Scanned(scanned))
            }
            Work::ScannerBack(slot) => {
                tracing::info!("scanner open again");
                self.scanner.put_back(slot);
                self.publish_availability();
                None
            }
            Work::Lost(lost) => self.lost(lost).await,
        }
    }

    /// A device task panicked: its device is opened again, and the journey that waited for
    /// it hears that the work failed.
    async fn lost(&mut self, lost: Lost) -> Option<Outcome> {
        let outcome = self.reopen_after(lost).await;
        self.publish_availability();
        outcome
    }

    async fn reopen_after(&mut self, lost: Lost) -> Option<Outcome> {
        match lost {
            Lost::Ticket => {
                if let Some(recipe) = self.dispenser.lost() {
                    self.dispenser.put_back(PrinterSlot::from_recipe(recipe));
                }
                // One ticket prints at a time: the lost one is the number out at the
                // dispenser. Its print intent decides, as after a crash: kept callable and
                // marked unconfirmed for staff.
                self.unsettled.printing.clear();
                self.settle_interrupted().await;
                Some(Outcome::Ticket(Err(Notice {
                    title: Text::new("取号机出现故障", "The ticket machine had a fault"),
                    message: Text::new(
                        "您的号码已记录，如未拿到号票，请到咨询台，工作人员会为您确认",
                        "Your number was recorded; if no ticket came out, please go to the information desk and staff will confirm it",
                    ),
                    window: Some(self.help_window.clone()),
                })))
            }
            Lost::TestTicket => {
                if let Some(recipe) = self.dispenser.lost() {
                    self.dispenser.put_back(PrinterSlot::from_recipe(recipe));
                }
                None
            }
            Lost::Slip(purpose) => {
                if let Some(recipe) = self.receipt.lost() {
                    self.receipt.put_back(PrinterSlot::from_recipe(recipe));
                }
                Some(self.slip_printed(purpose, false))
            }
            Lost::Scan => {
                if let Some(recipe) = self.scanner.lost() {
                    // Starting the SANE helper takes a moment: a task of its own.
                    jobs::spawn(&self.jobs_tx, None, Lost::ScannerStart, async move {
                        Work::ScannerBack(ScannerSlot::start(recipe).await)
                    });
                    self.jobs_out += 1;
                }
                Some(Outcome::Scanned(scan_outcome(
                    Vec::new(),
                    None,
                    Some(Text::new(
                        "扫描失败，请重试",
                        "Scanning failed; please try again",
                    )),
                )))
            }
            Lost::ScannerStart => {
                // The bay stays out, shown as faulty; the health loop and the technician
                // see it, and the journeys that need a scanner are not offered.
                let _ = self.scanner.lost();
                None
            }
        }
    }

    /// Takes a number, writes its print intent and sends the ticket to the dispenser.
    async fn issue(&mut self, order: machines::TicketOrder) -> Step {
        let numbers = tickets::Numbers {
            store: &self.store,
            catalog: &self.catalog,
            queue: &self.queue,
            keeper: &self.keeper_wake,
            band: self.band,
            queue_url: &self.config.journeys.queue_url,
            refresh: Duration::from_secs(self.config.queue.state_refresh_secs.max(1)),
            desk: &self.help_window,
            now: self.clock.now(),
        };
        let (printing, ticket) = match tickets::take_number(numbers, order, &mut self.stats).await {
            Ok(taken) => taken,
            Err(notice) => return Step::Done(Some(Outcome::Ticket(Err(notice)))),
        };
        self.unsettled.printing.push(printing.allocation().clone());
        match self.dispenser.lend() {
            Some(mut slot) => self.send_out(Lost::Ticket, async move {
                let printed = slot.issue(&ticket).await;
                Work::Ticket {
                    slot,
                    printed,
                    ticket: Box::new(printing),
                }
            }),
            None => {
                let printed = Err(PrintFailure {
                    reason: VoidReason::NoDispenser,
                    maybe_printed: false,
                });
                let result = self.ticket_printed(printing, printed).await;
                Step::Done(Some(Outcome::Ticket(result)))
            }
        }
    }

    async fn ticket_printed(
        &mut self,
        printing: PrintingTicket,
        printed: Result<kiosk_dispenser::Issued, PrintFailure>,
    ) -> Result<crate::model::TicketView, Notice> {
        tickets::ticket_printed(
            &self.store,
            &self.queue,
            &self.help_window,
            (printing, printed),
            &mut self.unsettled,
            &mut self.stats,
        )
        .await
    }

    /// Sends `slip` to the receipt printer; its report ends as `purpose` says.
    fn print_slip(&mut self, slip: kiosk_dispenser::Slip, purpose: SlipFor) -> Step {
        match self.receipt.lend() {
            Some(mut slot) => self.send_out(Lost::Slip(purpose), async move {
                let printed = slot.slip(&slip).await;
                Work::Slip {
                    slot,
                    printed,
                    purpose,
                }
            }),
            None => Step::Done(Some(self.slip_printed(purpose, false))),
        }
    }

    /// What a slip's print means for the journey that asked for it.
    fn slip_printed(&mut self, purpose: SlipFor, printed: bool) -> Outcome {
        match purpose {
            SlipFor::Guide => {
                if printed {
                    self.stats.guide_slips += 1;
                }
                Outcome::Printed(printed)
            }
            SlipFor::Missing => Outcome::Printed(printed),
            SlipFor::Receipt(no) => Outcome::Submitted(Ok((no, printed))),
        }
    }

    /// Sends the scanner out to scan one material.
    fn scan(&mut self, material_id: String) -> Step {
        match self.scanner.lend() {
            Some(slot) => {
                let store = self.store.clone();
                self.send_out(Lost::Scan, applications::scan(slot, store, material_id))
            }
            None => Step::Done(Some(Outcome::Scanned(scan_outcome(
                Vec::new(),
                None,
                Some(Text::new("扫描仪不可用", "The scanner is not available")),
            )))),
        }
    }

    /// Stores the application and sends its receipt to the printer.
    async fn submit(&mut self, order: machines::ApplicationOrder) -> Step {
        let filing = applications::Filing {
            store: &self.store,
            catalog: &self.catalog,
            numbering: self.numbering,
            progress_url: &self.config.journeys.progress_url,
            live_url_prefix: self
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .live_url_prefix()
                .map(str::to_owned),
            desk: &self.help_window,
            now: self.clock.now(),
        };
        match applications::store_application(filing, order, &mut self.stats).await {
            Ok((no, slip)) => self.print_slip(slip, SlipFor::Receipt(no)),
            Err(notice) => Step::Done(Some(Outcome::Submitted(Err(notice)))),
        }
    }

    /// The technician's test ticket, when the dispenser is free.
    pub(super) fn test_ticket(&mut self) {
        let hall = &self.catalog.hall.name_zh;
        let ticket =
            crate::slips::test_ticket(hall, &self.config.journeys.queue_url, self.clock.now());
        match self.dispenser.lend() {
            Some(mut slot) => {
                jobs::spawn(&self.jobs_tx, None, Lost::TestTicket, async move {
                    let ok = slot.issue(&ticket).await.is_ok();
                    Work::TestTicket { slot, ok }
                });
                self.jobs_out += 1;
            }
            None => {
                if self.dispenser.is_busy() {
                    tracing::info!("dispenser busy with a citizen's ticket; no test ticket");
                }
                self.publish_availability();
            }
        }
    }

    /// Numbers a crash or a refused write left without a fate.
    pub(super) async fn settle_interrupted(&mut self) {
        tickets::settle_interrupted(&self.store, &self.unsettled, &mut self.stats).await;
    }

    /// Retries the records of printed tickets the store refused, and settles numbers taken
    /// whose print never started (their intent could not be written).
    pub(super) async fn record_unrecorded(&mut self) {
        tickets::record_unrecorded(&self.store, &mut self.unsettled).await;
        if self.session.journey.is_none() {
            self.settle_interrupted().await;
        }
    }
}
