//! The hotspot: its configuration and key, the beacon schedule, beacon transmission, witnessing
//! of other hotspots' beacons, and submission of signed reports to the oracle over gRPC.

pub mod client;
pub mod config;
pub mod node;
pub mod schedule;

pub use client::{ClientError, OracleClient};
pub use config::{ConfigError, HotspotConfig};
pub use node::{Hotspot, HotspotError, PreparedBeacon};
