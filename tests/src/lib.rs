//! The whole-network simulation behind the `devnet` binary and the end-to-end tests.
//!
//! An oracle runs in-process on the embedded store with a manual clock and serves real gRPC on
//! loopback. Simulated hotspots, each with its own key and a real location, talk to it through
//! the same gRPC client the hotspot daemon uses. A beacon leaves its hotspot as LoRa IQ samples,
//! crosses the simulated RF channel to every other hotspot (path loss by distance, shadowing,
//! AWGN, carrier frequency offset) and is demodulated there; what a hotspot decodes becomes its
//! witness report.

pub mod city;
pub mod network;
pub mod scenario;

pub use network::{
    BeaconOutcome, Behaviour, EpochOutcome, HotspotRejections, Link, Network, NetworkConfig,
    NetworkError, NodeInfo, NodeSpec, RadioSite,
};
