//! The hotspot: its configuration and key, the beacon schedule, beacon transmission, witnessing
//! of other hotspots' beacons, and durable submission of signed reports to the oracle over gRPC.

pub mod client;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod memory;
pub mod metrics;
pub mod node;
pub mod schedule;
pub mod spool;
pub mod uplink;

pub use client::{ClientError, OracleClient};
pub use config::{ConfigError, HotspotConfig};
pub use daemon::{Daemon, DaemonError, DaemonStats};
pub use delivery::{Backoff, Delivery, Outbox, Refusal};
pub use metrics::Metrics;
pub use node::{Hotspot, HotspotError, PreparedBeacon};
pub use spool::{Report, Spool, SpoolError};
