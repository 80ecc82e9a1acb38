//! The radio of a simulated hotspot's daemon.

use oracle::clock::ManualClock;
use radio_io::{Backend, BackendError, Reception, Transmission, Transmitted};
use std::sync::Arc;

/// From the end of a transmission until the radio reports it sent, milliseconds.
pub const TX_DONE_MS: u64 = 50;

/// A hotspot's radio in the simulation. A transmission takes its time on air (and the radio's
/// [`TX_DONE_MS`]) on the simulated clock; the network carries it to the other hotspots.
/// What the radio hears the network hands to the daemon ([`hotspot::Daemon::hear`]), so
/// [`Backend::receive`] never returns.
#[derive(Debug, Clone)]
pub struct SimRadio {
    clock: Arc<ManualClock>,
}

impl SimRadio {
    /// A radio whose transmissions move `clock`.
    pub fn new(clock: Arc<ManualClock>) -> Self {
        Self { clock }
    }
}

impl Backend for SimRadio {
    async fn transmit(&mut self, transmission: &Transmission) -> Result<Transmitted, BackendError> {
        let airtime = transmission
            .params
            .time_on_air(transmission.payload.len())
            .as_millis() as u64;
        self.clock.set(self.clock.now_ms() + airtime + TX_DONE_MS);
        Ok(Transmitted::as_asked(transmission))
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        std::future::pending().await
    }
}
