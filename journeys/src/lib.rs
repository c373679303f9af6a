//! Citizen journeys of the hall kiosk as plain state machines, and the Slint-free engine that drives them.
