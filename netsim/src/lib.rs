//! The whole-network simulation behind the `devnet` binary and the end-to-end tests.
//!
//! An oracle runs in-process on the embedded store with a manual clock and serves real gRPC on
//! loopback. Each simulated hotspot, with its own key and a real location, runs the hotspot
//! daemon's steps ([`hotspot::Daemon`]) on a simulated radio: its beacon and witness reports
//! are written to its own on-disk spool and reach the oracle through the daemon's delivery
//! task, over a link the simulation can cut ([`link::OracleLink`]). A beacon leaves its hotspot
//! as LoRa IQ samples, crosses the simulated RF channel to every other hotspot (path loss by
//! distance, shadowing, AWGN, carrier frequency offset) and is demodulated there by the
//! hotspot's receiver; what a hotspot decodes the daemon turns into its witness report.

pub mod air;
pub mod city;
pub mod evidence;
pub mod link;
pub mod network;
pub mod operators;
pub mod scenario;
pub mod sweep;
pub mod terrain;
pub mod world;

pub use network::{
    Antenna, BeaconOutcome, Behaviour, EpochOutcome, HotspotRejections, Link, Network,
    NetworkConfig, NetworkError, NodeInfo, NodeSpec, OutageStats, RadioSite, Transport,
};
