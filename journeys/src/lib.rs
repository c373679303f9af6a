//! Citizen journeys of the hall kiosk as plain state machines, and the Slint-free engine that
//! drives them with the devices, the store and central.
//!
//! - [`model`]: the view model the UI binds to ([`Screen`], [`Page`], [`Command`], [`Text`]).
//! - [`machines`]: one state machine per journey, inputs in, effects out, no I/O.
//! - [`engine`]: [`Engine::start`] wires devices, store, sync and the machines on tokio.
//! - [`clock`]: the engine's clock (the system's, or one moved ahead in tests).
//! - [`slips`]: what the kiosk prints (ticket, receipt, guide, 一次性告知), as pure layouts.
//! - [`sim`]: simulated devices for `--simulate` and tests.
//! - [`voice`]: espeak-ng prompts.
//! - [`headless`]: scripted citizens without a UI (`kiosk-app --simulate --headless`).
//!
//! See "The API" in the README for how the UI uses it.

pub mod catalog;
pub mod clock;
pub mod engine;
#[cfg(feature = "simulators")]
pub mod headless;
pub mod holder;
pub mod machines;
pub mod model;
pub mod pinyin;
pub mod sim;
pub mod slips;
pub mod voice;

pub use engine::{Engine, EngineError, EngineHandle, EngineOptions, Stats};
pub use model::{
    Availability, Choice, Command, JourneyKind, KeypadKey, Language, Page, Screen, Text,
};
pub use sim::SimControls;
#[cfg(feature = "simulators")]
pub use sim::SimPrinter;
