//! Queue-ticket dispenser: ticket layout, issuing with status checks, number display.
