//! The reports and hotspots the rules decide over, as the service loads them: the store reads
//! into these types, the rules take them, and nothing here reads or writes anything.

use poc::proto;
use serde::Serialize;

/// A stored status that is none of `pending`, `valid`, `invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

/// Verification state of a stored report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not verified yet.
    Pending,
    /// Verified and valid.
    Valid,
    /// Verified and invalid; the report carries a reason.
    Invalid,
}

impl Status {
    /// The stored text.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Valid => "valid",
            Status::Invalid => "invalid",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, UnknownStatus> {
        match text {
            "pending" => Ok(Status::Pending),
            "valid" => Ok(Status::Valid),
            "invalid" => Ok(Status::Invalid),
            other => Err(UnknownStatus(other.to_string())),
        }
    }
}

/// A gateway and its latest assertion.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayRow {
    /// Public key.
    pub pub_key: [u8; 32],
    /// Asserted H3 cell, `None` when onboarded without a location.
    pub location: Option<u64>,
    /// Antenna gain in tenths of dBi.
    pub gain_ddbi: i32,
    /// Antenna elevation in metres.
    pub elevation_m: i32,
    /// Region as its protobuf number.
    pub region: i32,
    /// Timestamp of the latest assertion.
    pub asserted_ms: u64,
    /// The signed assertion as received.
    pub raw: Vec<u8>,
}

/// A published entropy value.
#[derive(Debug, Clone, PartialEq)]
pub struct EntropyRow {
    /// The random data.
    pub data: Vec<u8>,
    /// Publication time.
    pub timestamp_ms: u64,
    /// The signed protobuf.
    pub raw: Vec<u8>,
}

/// A stored beacon report.
#[derive(Debug, Clone, PartialEq)]
pub struct BeaconRow {
    /// Row id.
    pub id: i64,
    /// Hex SHA-256 of the report's encoding.
    pub report_id: String,
    /// Beaconer.
    pub pub_key: [u8; 32],
    /// When the oracle received it.
    pub received_ms: u64,
    /// The report.
    pub report: proto::BeaconReport,
    /// Verification state.
    pub status: Status,
    /// Reason code when invalid.
    pub reason: Option<String>,
}

/// A stored witness report.
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessRow {
    /// Row id.
    pub id: i64,
    /// Hex SHA-256 of the report's encoding.
    pub report_id: String,
    /// Witness.
    pub pub_key: [u8; 32],
    /// When the oracle received it.
    pub received_ms: u64,
    /// The report.
    pub report: proto::WitnessReport,
    /// Verification state.
    pub status: Status,
    /// Reason code when invalid.
    pub reason: Option<String>,
    /// The beacon it was matched to.
    pub beacon_id: Option<i64>,
}

/// A beacon that earned in a closed epoch, with the witnesses paid for it: what the epoch
/// close selected, stored with the epoch (the store keeps it with the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidBeacon {
    /// The beacon's row id.
    pub beacon_id: i64,
    /// Row ids of the witnesses paid for it.
    pub witness_ids: Vec<i64>,
}

/// One rewarded hotspot of a closed epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct RewardRow {
    /// Hotspot.
    pub pub_key: [u8; 32],
    /// Valid beacons.
    pub beacons: u32,
    /// Paid witnesses.
    pub witnesses: u32,
    /// Beacon pool share.
    pub beacon_amount: u64,
    /// Witness pool share.
    pub witness_amount: u64,
}

/// A valid witness of a valid beacon, as the epoch close reads it:
/// a narrow row instead of the whole report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochWitness {
    /// Row id.
    pub id: i64,
    /// The beacon it was matched to.
    pub beacon_id: i64,
    /// Witness.
    pub pub_key: [u8; 32],
    /// When the oracle received it.
    pub received_ms: u64,
    /// The RSSI it reported, tenths of dBm.
    pub rssi_ddbm: i32,
}

/// A hotspot's valid beacons in a span, split by whether any valid witness heard them: the
/// latest receive time of each part (HIP-106 reciprocity counts only beacons someone heard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconHearing {
    /// Beaconer.
    pub pub_key: [u8; 32],
    /// Whether these beacons have at least one valid witness.
    pub heard: bool,
    /// Receive time of the latest of them.
    pub latest_ms: u64,
}

/// A hotspot's reports of one kind, status and reason, tallied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTally {
    /// Hotspot.
    pub pub_key: [u8; 32],
    /// Verification state.
    pub status: Status,
    /// Reason code (invalid reports).
    pub reason: Option<String>,
    /// Reports in the group.
    pub count: u64,
    /// Receive time of the latest of them.
    pub latest_ms: u64,
}

impl EpochWitness {
    /// Sorts rows as the epoch close takes them: by beacon row id, receive time and row id.
    pub fn sort(rows: &mut [EpochWitness]) {
        rows.sort_unstable_by_key(|w| (w.beacon_id, w.received_ms, w.id));
    }
}

/// A LoRaWAN packet a hotspot forwarded to a route's network server, as the epoch's
/// data-transfer settlement reads it ([`crate::data_transfer::settle`]); the service prices it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRow {
    /// SHA-256 of the signed packet report's encoding.
    pub report_id: [u8; 32],
    /// The hotspot that forwarded it.
    pub hotspot: [u8; 32],
    /// The route it was forwarded on.
    pub route_id: String,
    /// The route's payer, whose data credits pay for it.
    pub payer: [u8; 32],
    /// SHA-256 of the packet's PHY payload: the copies other hotspots heard share it.
    pub payload_hash: [u8; 32],
    /// Its price in data credits (one per 24 bytes of PHY payload, rounded up, at least 1).
    pub credits: u64,
    /// When the oracle received the report.
    pub received_ms: u64,
    /// Whether the route's network server acknowledged it.
    pub acked: bool,
}
