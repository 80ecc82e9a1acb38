//! Beacons derived from oracle entropy and the beaconer's key.
//!
//! The seed is SHA-256 over a domain tag, the oracle's entropy, the hotspot's local entropy and
//! its public key; a ChaCha12 stream from that seed gives the payload. The first two payload
//! bytes of that stream (little-endian) modulo the number of channels choose the channel. The
//! first byte is then set to [`BEACON_MHDR`], a LoRaWAN proprietary frame header, so that stock
//! gateways forward heard beacons (LoRa Basics Station forwards a frame only when its first
//! byte is a valid LoRaWAN header, a proprietary one as `propdf`). Anyone holding the same
//! inputs, the oracle in particular, regenerates exactly the same beacon.

use crate::region::{DataRate, RegionPlan};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;
use sha2::{Digest, Sha256};

/// Length of a beacon payload in bytes.
pub const BEACON_PAYLOAD_LEN: usize = 51;
/// First byte of every beacon: LoRaWAN MHDR with MType `Proprietary` (0b111) and Major
/// `LoRaWAN R1` (0b00).
pub const BEACON_MHDR: u8 = 0xE0;
/// Length of the hotspot's local entropy in bytes.
pub const LOCAL_ENTROPY_LEN: usize = 4;

/// Why no beacon could be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeaconError {
    /// The oracle's entropy is empty.
    #[error("remote entropy is empty")]
    EmptyRemoteEntropy,
    /// The local entropy has the wrong length.
    #[error("local entropy is {0} bytes, expected {LOCAL_ENTROPY_LEN}")]
    LocalEntropyLength(usize),
    /// The region has no data rate that carries a beacon.
    #[error("the region has no data rate for a {BEACON_PAYLOAD_LEN}-byte beacon")]
    NoDataRate,
}

/// A beacon to transmit: what, where and how loud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    /// The payload.
    pub payload: Vec<u8>,
    /// Index of the channel in the region's plan.
    pub channel: u32,
    /// Centre frequency in hertz.
    pub frequency_hz: u64,
    /// Data rate.
    pub datarate: DataRate,
    /// Conducted transmit power in tenths of dBm.
    pub tx_power_ddbm: i32,
}

impl Beacon {
    /// Derives the beacon of `beaconer` from the oracle's and the hotspot's entropy.
    pub fn derive(
        remote_entropy: &[u8],
        local_entropy: &[u8],
        beaconer: &[u8; 32],
        plan: &RegionPlan,
        gain_ddbi: i32,
    ) -> Result<Self, BeaconError> {
        if remote_entropy.is_empty() {
            return Err(BeaconError::EmptyRemoteEntropy);
        }
        if local_entropy.len() != LOCAL_ENTROPY_LEN {
            return Err(BeaconError::LocalEntropyLength(local_entropy.len()));
        }
        let mut hasher = Sha256::new();
        hasher.update(b"lorapoc-beacon-v1");
        hasher.update((remote_entropy.len() as u32).to_le_bytes());
        hasher.update(remote_entropy);
        hasher.update(local_entropy);
        hasher.update(beaconer);
        let mut rng = ChaCha12Rng::from_seed(hasher.finalize().into());
        let mut payload = vec![0u8; BEACON_PAYLOAD_LEN];
        rng.fill_bytes(&mut payload);
        let channel_count = plan.channels_hz.len() as u32;
        let channel = u32::from(u16::from_le_bytes([payload[0], payload[1]])) % channel_count;
        payload[0] = BEACON_MHDR;
        let datarate = plan
            .datarate_for(BEACON_PAYLOAD_LEN)
            .ok_or(BeaconError::NoDataRate)?;
        Ok(Self {
            payload,
            channel,
            frequency_hz: plan.channels_hz[channel as usize],
            datarate,
            tx_power_ddbm: plan.tx_power_ddbm(gain_ddbi),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Region;
    use proptest::prelude::*;

    fn us915() -> &'static RegionPlan {
        RegionPlan::for_region(Region::Us915).unwrap()
    }

    #[test]
    fn same_inputs_same_beacon_and_any_change_gives_another() {
        let key = [7u8; 32];
        let a = Beacon::derive(&[1; 32], &[1, 2, 3, 4], &key, us915(), 30).unwrap();
        assert_eq!(
            a,
            Beacon::derive(&[1; 32], &[1, 2, 3, 4], &key, us915(), 30).unwrap()
        );
        let other_entropy = Beacon::derive(&[2; 32], &[1, 2, 3, 4], &key, us915(), 30).unwrap();
        let other_key = Beacon::derive(&[1; 32], &[1, 2, 3, 4], &[8; 32], us915(), 30).unwrap();
        assert_ne!(a.payload, other_entropy.payload);
        assert_ne!(a.payload, other_key.payload);
        assert_eq!(a.payload.len(), BEACON_PAYLOAD_LEN);
        assert_eq!(a.tx_power_ddbm, 330);
    }

    #[test]
    fn bad_entropy_is_refused() {
        assert_eq!(
            Beacon::derive(&[], &[0; 4], &[0; 32], us915(), 0),
            Err(BeaconError::EmptyRemoteEntropy)
        );
        assert_eq!(
            Beacon::derive(&[1], &[0; 3], &[0; 32], us915(), 0),
            Err(BeaconError::LocalEntropyLength(3))
        );
    }

    proptest! {
        #[test]
        fn channel_and_frequency_always_come_from_the_plan(
            remote in proptest::collection::vec(any::<u8>(), 1..64),
            local in any::<[u8; 4]>(),
        ) {
            for plan in RegionPlan::all() {
                let beacon = Beacon::derive(&remote, &local, &[3; 32], plan, 0).unwrap();
                prop_assert_eq!(plan.channels_hz[beacon.channel as usize], beacon.frequency_hz);
            }
        }
    }
}
