//! A build without the simulators: the types the engine names, with no values.

/// The running simulators: none in this build.
pub enum SimDevices {}

impl SimDevices {
    /// Refused: this build has no simulators.
    pub fn start(_data_dir: &std::path::Path) -> Result<SimDevices, SimStartError> {
        Err(SimStartError::NotBuilt)
    }

    /// Never called: there is no value to call it on.
    pub fn controls(&self) -> SimControls {
        match *self {}
    }
}

/// The simulators' controls: none in this build.
#[derive(Debug, Clone)]
pub enum SimControls {}

/// Why the simulators did not start.
#[derive(Debug, thiserror::Error)]
pub enum SimStartError {
    /// The program was built without them (the appliance's build).
    #[error("this build has no simulated devices (built without the `simulators` feature)")]
    NotBuilt,
}
