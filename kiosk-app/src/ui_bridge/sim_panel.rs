//! The simulate panel (`--simulate` with a window): buttons that act on the simulated devices
//! the way a citizen or a fault would. The simulators' controls only flip in-memory state, so
//! calling them from the UI thread waits on nothing.

use kiosk_journeys::SimControls;
use kiosk_journeys::sim::{SimPages, SimPrinter};
use kiosk_sim::printer::{Cover, Paper};
use slint::ComponentHandle;

use super::{AppWindow, SimAdapter};

/// Shows the panel's toggle and binds its buttons to `controls`.
pub fn setup(window: &AppWindow, controls: SimControls) {
    let adapter = window.global::<SimAdapter>();
    adapter.set_available(true);

    let c = controls.clone();
    adapter.on_present_card(move || c.present_sample_card());
    let c = controls.clone();
    adapter.on_remove_card(move || c.remove_card());
    let c = controls.clone();
    adapter.on_load_pages(move |n, good| {
        let n = u32::try_from(n).unwrap_or(1);
        c.load_pages(if good {
            SimPages::Good(n)
        } else {
            SimPages::Blank(n)
        });
    });
    let c = controls.clone();
    adapter.on_paper(move |printer, state| {
        let paper = match state.as_str() {
            "out" => Paper::Out,
            "near-end" => Paper::NearEnd,
            _ => Paper::Ok,
        };
        c.set_paper(printer_of(&printer), paper);
    });
    let c = controls.clone();
    adapter.on_cover(move |printer, open| {
        c.set_cover(
            printer_of(&printer),
            if open { Cover::Open } else { Cover::Closed },
        );
    });
    adapter.on_take_ticket(move || controls.take_ticket(SimPrinter::Dispenser));
}

fn printer_of(name: &str) -> SimPrinter {
    if name == "receipt" {
        SimPrinter::Receipt
    } else {
        SimPrinter::Dispenser
    }
}
