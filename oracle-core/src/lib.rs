//! The oracle's decisions as pure functions over loaded data: the verification rules and their
//! reason codes, the epoch-wide defences, the one witness selection, reputation scoring, the
//! data-transfer settlement, the reward shares and the epoch report. No store, network or
//! clock: the oracle service loads, this crate decides, the service writes, so that anyone
//! holding an epoch's reports can replay its rewards.

#![warn(missing_docs)]

pub mod config;
pub mod corroboration;
pub mod data_transfer;
pub mod defences;
pub mod epoch;
pub mod identity;
pub mod parallel;
pub mod reason;
pub mod reports;
pub mod reputation;
pub mod rewards;
pub mod rules;
pub mod selection;
pub mod suspicion;

pub use config::{ConfigError, OracleConfig, RewardConfig};
pub use epoch::{EpochReport, HotspotRewardRow};
pub use reason::{BeaconReason, IngestReason, PacketReason, RewardReason, WitnessReason};
