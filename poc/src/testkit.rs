//! Signed reports built the way hotspots build them, for tests, benchmarks, load generators
//! and fuzz targets (cargo feature `testkit`). Every report here is correctly signed by the
//! given key; a caller that wants a broken one changes it afterwards.

use crate::beacon::{Beacon, BeaconError};
use crate::proto;
use crate::proto::Region;
use crate::region::RegionPlan;
use crate::signing::Signable;
use crate::Keypair;

/// What a witness says it measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// RSSI, tenths of dBm.
    pub rssi_ddbm: i32,
    /// SNR, tenths of dB.
    pub snr_ddb: i32,
}

impl Signal {
    /// A plain signal: `rssi_ddbm` and `snr_ddb`.
    pub fn new(rssi_ddbm: i32, snr_ddb: i32) -> Self {
        Self { rssi_ddbm, snr_ddb }
    }
}

/// The signed beacon report of `key` derived from the oracle's `remote` entropy and the
/// hotspot's `local` entropy under `plan`, for an antenna of `gain_ddbi`.
pub fn beacon(
    key: &Keypair,
    remote: &[u8],
    local: [u8; 4],
    plan: &RegionPlan,
    gain_ddbi: i32,
    timestamp_ns: u64,
) -> Result<proto::BeaconReport, BeaconError> {
    let derived = Beacon::derive(remote, &local, &key.public_key(), plan, gain_ddbi)?;
    let mut report = proto::BeaconReport {
        pub_key: key.public_key().to_vec(),
        local_entropy: local.to_vec(),
        remote_entropy: remote.to_vec(),
        data: derived.payload,
        frequency_hz: derived.frequency_hz,
        spreading_factor: u32::from(derived.datarate.spreading_factor),
        bandwidth_hz: derived.datarate.bandwidth_hz,
        tx_power_ddbm: derived.tx_power_ddbm,
        timestamp_ns,
        signature: Vec::new(),
    };
    report.sign_with(key);
    Ok(report)
}

/// The signed witness report of `key` for a frame carrying `data`, heard on `beacon`'s
/// frequency and data rate.
pub fn witness_of_data(
    key: &Keypair,
    data: Vec<u8>,
    beacon: &proto::BeaconReport,
    signal: Signal,
    timestamp_ns: u64,
) -> proto::WitnessReport {
    let mut report = proto::WitnessReport {
        pub_key: key.public_key().to_vec(),
        data,
        timestamp_ns,
        rssi_ddbm: signal.rssi_ddbm,
        snr_ddb: signal.snr_ddb,
        frequency_hz: beacon.frequency_hz,
        spreading_factor: beacon.spreading_factor,
        bandwidth_hz: beacon.bandwidth_hz,
        channel: 0,
        signature: Vec::new(),
    };
    report.sign_with(key);
    report
}

/// The signed witness report of `key` for `beacon`.
pub fn witness(
    key: &Keypair,
    beacon: &proto::BeaconReport,
    signal: Signal,
    timestamp_ns: u64,
) -> proto::WitnessReport {
    witness_of_data(key, beacon.data.clone(), beacon, signal, timestamp_ns)
}

/// The signed location assertion of `key`: H3 cell `location`, antenna gain `gain_ddbi`,
/// 10 m above ground, in `region`, at `timestamp_ms`.
pub fn assertion(
    key: &Keypair,
    location: u64,
    gain_ddbi: i32,
    region: Region,
    timestamp_ms: u64,
) -> proto::LocationAssertion {
    let mut report = proto::LocationAssertion {
        pub_key: key.public_key().to_vec(),
        location,
        gain_ddbi,
        elevation_m: 10,
        region: region as i32,
        timestamp_ms,
        signature: Vec::new(),
    };
    report.sign_with(key);
    report
}

/// Entropy `data` published by `oracle` at `timestamp_ms`, signed as the oracle signs it.
pub fn entropy(oracle: &Keypair, data: Vec<u8>, timestamp_ms: u64) -> proto::Entropy {
    let mut entropy = proto::Entropy {
        data,
        timestamp_ms,
        oracle_key: oracle.public_key().to_vec(),
        ..Default::default()
    };
    entropy.sign_with(oracle);
    entropy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_verify_under_their_keys() {
        let key = Keypair::from_seed(3, 1);
        let plan = RegionPlan::for_region(Region::Us915).unwrap();
        let b = beacon(&key, &[7; 32], [1, 2, 3, 4], plan, 30, 5).unwrap();
        assert!(b.verify().is_ok());
        let other = Keypair::from_seed(3, 2);
        let w = witness(&other, &b, Signal::new(-1_100, -50), 6);
        assert!(w.verify().is_ok());
        assert_eq!(w.data, b.data);
        let a = assertion(&key, 0x0882_a100_7fff_ffff, 30, Region::Us915, 9);
        assert!(a.verify().is_ok());
        let mut forged = w.clone();
        forged.rssi_ddbm += 100;
        assert!(forged.verify().is_err());
    }
}
