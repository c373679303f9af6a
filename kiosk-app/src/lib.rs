//! The hall kiosk appliance.
