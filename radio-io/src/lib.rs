//! Radio backends: what a hotspot transmits through and receives from. Each backend turns a
//! piece of hardware (or a file, or a simulation) into [`Transmission`]s out and
//! [`Reception`]s in, on the `radio` crate's modulator and receiver.
//!
//! Modules:
//! - [`iq_file`] — IQ sample files (one channel, one SF).
//! - [`wideband`] — wideband IQ (file or synthesised replay) through the channelizer.
//! - [`semtech_udp`] — Semtech packet forwarders over UDP, on the [`gwmp`] codec.
//! - [`basic_station`] — LoRa Basics Station gateways (the LNS protocol over websockets), on
//!   the [`lns`] codec.
//! - [`merge`] — one frame heard by several gateways becomes one reception.
//! - [`channel_plan`] — the region's band, channels and data rates that gateways must follow.
//! - [`serial`] — RAK3172 / RUI3 LoRa P2P modules over AT commands; [`serial_sim`] simulates
//!   one on a pseudo-terminal.
//! - `soapy` — SoapySDR devices (cargo feature `soapysdr`).
//!
//! Binaries: `lora-iq` (frames to and from IQ files) and `radio-bench` (PER and throughput).

#![warn(missing_docs)]

pub mod basic_station;
pub mod channel_plan;
pub mod gwmp;
pub mod iq_file;
pub mod lns;
pub mod merge;
pub mod semtech_udp;
pub mod serial;
pub mod serial_sim;
#[cfg(feature = "soapysdr")]
pub mod soapy;
pub mod wideband;

use radio::demod::RxFrame;
use radio::params::LoraParams;
use std::future::Future;

pub use basic_station::{BasicStationBackend, BasicStationConfig};
pub use channel_plan::{ChannelPlan, OffPlan};
pub use iq_file::{IqFileBackend, IqFileConfig};
pub use semtech_udp::{SemtechUdpBackend, SemtechUdpConfig};
pub use serial::{SerialBackend, SerialConfig, SerialError};
pub use wideband::{WidebandConfig, WidebandReplay, WidebandReplayConfig};

/// A frame to put on air.
#[derive(Debug, Clone, PartialEq)]
pub struct Transmission {
    /// Centre frequency in hertz.
    pub frequency_hz: u64,
    /// Modulation.
    pub params: LoraParams,
    /// The frame's payload.
    pub payload: Vec<u8>,
    /// Conducted power in dBm.
    pub power_dbm: f32,
}

/// A frame a radio put on air (or took to put on air), as it went out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transmitted {
    /// The conducted power it went out at, dBm: the power asked for, unless the radio said it
    /// used another (a packet forwarder's TX_POWER warning).
    pub power_dbm: f32,
}

impl Transmitted {
    /// Sent at the power `transmission` asked for.
    pub fn as_asked(transmission: &Transmission) -> Self {
        Self {
            power_dbm: transmission.power_dbm,
        }
    }
}

/// A frame the radio decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Reception {
    /// What the demodulator measured and decoded.
    pub frame: RxFrame,
    /// Centre frequency of the channel it came in on, hertz.
    pub frequency_hz: u64,
    /// When its first preamble sample arrived, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

/// Errors of radio backends.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Reading or writing a device or file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The modulation or frame is not possible.
    #[error(transparent)]
    Radio(#[from] radio::RadioError),
    /// The radio refused a transmission (too late, frequency or power not allowed, busy).
    #[error("transmission refused: {0}")]
    Refused(String),
    /// A Semtech packet forwarder refused the transmission (its TX_ACK), did not answer, or none
    /// is connected.
    #[error("packet forwarder: {0}")]
    Forwarder(#[from] gwmp::TxRefusal),
    /// The serial LoRa module failed or refused a command.
    #[error(transparent)]
    Serial(SerialError),
    /// The SDR failed or is not there.
    #[cfg(feature = "soapysdr")]
    #[error(transparent)]
    Soapy(soapy::SoapyError),
}

/// A radio a hotspot can run on.
pub trait Backend: Send {
    /// Puts a frame on air; completes when the radio has taken it, saying at what power.
    fn transmit(
        &mut self,
        transmission: &Transmission,
    ) -> impl Future<Output = Result<Transmitted, BackendError>> + Send;

    /// The next decoded frame; `None` once the radio's stream has ended for good. Must be
    /// cancel-safe: dropping the future before it completes loses nothing.
    fn receive(&mut self) -> impl Future<Output = Result<Option<Reception>, BackendError>> + Send;

    /// The backend's own event counters (packets received, acknowledgements, errors...), by
    /// name, for metrics. None by default.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}
