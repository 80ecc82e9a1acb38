//! The beacon plans of the LoRa regions: channels, data rates and transmit power limits.
//!
//! Channel lists and data-rate payload limits follow the LoRaWAN Regional Parameters (RP002);
//! EIRP limits follow Helium's region parameters.

use crate::proto::Region;

/// A LoRa data rate: spreading factor and bandwidth, with the largest payload it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DataRate {
    /// Spreading factor, 7 to 12.
    pub spreading_factor: u8,
    /// Bandwidth in hertz.
    pub bandwidth_hz: u32,
    /// Largest application payload in bytes at this rate.
    pub max_payload: usize,
}

const fn dr(spreading_factor: u8, bandwidth_hz: u32, max_payload: usize) -> DataRate {
    DataRate {
        spreading_factor,
        bandwidth_hz,
        max_payload,
    }
}

/// Data rates of regions whose DR0 is SF12/125 kHz, slowest first.
const SF12_TO_SF7: &[DataRate] = &[
    dr(12, 125_000, 59),
    dr(11, 125_000, 59),
    dr(10, 125_000, 59),
    dr(9, 125_000, 123),
    dr(8, 125_000, 250),
    dr(7, 125_000, 250),
];

/// Data rates of regions whose uplink dwell time is limited to 400 ms (AS923 and AU915 with
/// `UplinkDwellTime = 1`, RP002): SF12 and SF11 are not allowed and SF10 carries only 11 bytes,
/// so a 51-byte beacon goes out at SF9 (about 330 ms on air), within the dwell limit.
const DWELL_LIMITED: &[DataRate] = &[
    dr(10, 125_000, 11),
    dr(9, 125_000, 53),
    dr(8, 125_000, 125),
    dr(7, 125_000, 242),
];

/// What the oracle and hotspots agree on for one region's beacons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionPlan {
    /// The region.
    pub region: Region,
    /// Beacon channel centre frequencies in hertz.
    pub channels_hz: &'static [u64],
    /// Uplink data rates, slowest first.
    pub datarates: &'static [DataRate],
    /// Largest effective isotropic radiated power, in tenths of dBm.
    pub max_eirp_ddbm: i32,
    /// Longest time on air of one uplink frame, where the region limits it (milliseconds).
    pub dwell_time_ms: Option<u32>,
    /// The lowest and highest frequency the region allows (RP002), hertz: a gateway whose
    /// frames lie outside is configured for another region.
    pub band_hz: (u64, u64),
}

static PLANS: &[RegionPlan] = &[
    RegionPlan {
        region: Region::Us915,
        channels_hz: &[
            903_900_000,
            904_100_000,
            904_300_000,
            904_500_000,
            904_700_000,
            904_900_000,
            905_100_000,
            905_300_000,
        ],
        datarates: &[
            dr(10, 125_000, 11),
            dr(9, 125_000, 53),
            dr(8, 125_000, 125),
            dr(7, 125_000, 242),
        ],
        dwell_time_ms: None,
        max_eirp_ddbm: 360,
        band_hz: (902_000_000, 928_000_000),
    },
    RegionPlan {
        region: Region::Eu868,
        channels_hz: &[
            868_100_000,
            868_300_000,
            868_500_000,
            867_100_000,
            867_300_000,
            867_500_000,
            867_700_000,
            867_900_000,
        ],
        datarates: SF12_TO_SF7,
        dwell_time_ms: None,
        max_eirp_ddbm: 160,
        band_hz: (863_000_000, 870_000_000),
    },
    RegionPlan {
        region: Region::Au915,
        channels_hz: &[
            916_800_000,
            917_000_000,
            917_200_000,
            917_400_000,
            917_600_000,
            917_800_000,
            918_000_000,
            918_200_000,
        ],
        datarates: DWELL_LIMITED,
        dwell_time_ms: Some(400),
        max_eirp_ddbm: 300,
        band_hz: (915_000_000, 928_000_000),
    },
    RegionPlan {
        region: Region::As9231,
        channels_hz: &[
            923_200_000,
            923_400_000,
            922_200_000,
            922_400_000,
            922_600_000,
            922_800_000,
            923_000_000,
            922_000_000,
        ],
        datarates: DWELL_LIMITED,
        dwell_time_ms: Some(400),
        max_eirp_ddbm: 160,
        band_hz: (915_000_000, 928_000_000),
    },
    RegionPlan {
        region: Region::Kr920,
        channels_hz: &[
            922_100_000,
            922_300_000,
            922_500_000,
            922_700_000,
            922_900_000,
            923_100_000,
            923_300_000,
        ],
        datarates: SF12_TO_SF7,
        dwell_time_ms: None,
        max_eirp_ddbm: 140,
        band_hz: (920_900_000, 923_300_000),
    },
    RegionPlan {
        region: Region::In865,
        channels_hz: &[865_062_500, 865_402_500, 865_985_000],
        datarates: SF12_TO_SF7,
        dwell_time_ms: None,
        max_eirp_ddbm: 300,
        band_hz: (865_000_000, 867_000_000),
    },
    RegionPlan {
        region: Region::Cn470,
        channels_hz: &[
            486_300_000,
            486_500_000,
            486_700_000,
            486_900_000,
            487_100_000,
            487_300_000,
            487_500_000,
            487_700_000,
        ],
        datarates: SF12_TO_SF7,
        dwell_time_ms: None,
        max_eirp_ddbm: 191,
        band_hz: (470_000_000, 510_000_000),
    },
    RegionPlan {
        region: Region::Eu433,
        channels_hz: &[433_175_000, 433_375_000, 433_575_000],
        datarates: SF12_TO_SF7,
        dwell_time_ms: None,
        max_eirp_ddbm: 121,
        band_hz: (433_050_000, 434_790_000),
    },
];

impl RegionPlan {
    /// The plan of a region, or `None` for an unspecified region.
    pub fn for_region(region: Region) -> Option<&'static RegionPlan> {
        PLANS.iter().find(|plan| plan.region == region)
    }

    /// Every region with a plan.
    pub fn all() -> &'static [RegionPlan] {
        PLANS
    }

    /// The slowest data rate whose payload limit fits `payload_len` bytes.
    pub fn datarate_for(&self, payload_len: usize) -> Option<DataRate> {
        self.datarates
            .iter()
            .copied()
            .find(|rate| rate.max_payload >= payload_len)
    }

    /// Conducted transmit power, in tenths of dBm, that keeps EIRP within the region's limit
    /// with an antenna of `gain_ddbi` tenths of dBi.
    pub fn tx_power_ddbm(&self, gain_ddbi: i32) -> i32 {
        self.max_eirp_ddbm - gain_ddbi.max(0)
    }

    /// Whether `frequency_hz` lies within the region's band.
    pub fn in_band(&self, frequency_hz: u64) -> bool {
        (self.band_hz.0..=self.band_hz.1).contains(&frequency_hz)
    }

    /// Whether `frequency_hz` is one of the region's beacon channels.
    pub fn has_channel(&self, frequency_hz: u64) -> bool {
        self.channels_hz.contains(&frequency_hz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_has_a_plan_with_a_rate_for_a_beacon() {
        for region in [
            Region::Us915,
            Region::Eu868,
            Region::Au915,
            Region::As9231,
            Region::Kr920,
            Region::In865,
            Region::Cn470,
            Region::Eu433,
        ] {
            let plan = RegionPlan::for_region(region).expect("plan");
            assert!(plan.datarate_for(crate::BEACON_PAYLOAD_LEN).is_some());
            for &channel in plan.channels_hz {
                assert!(plan.in_band(channel), "{region:?} {channel}");
            }
        }
        assert!(RegionPlan::for_region(Region::Unspecified).is_none());
    }

    #[test]
    fn us915_beacons_at_sf9_and_eu868_at_sf12() {
        let us = RegionPlan::for_region(Region::Us915).unwrap();
        assert_eq!(us.datarate_for(51).unwrap().spreading_factor, 9);
        let eu = RegionPlan::for_region(Region::Eu868).unwrap();
        assert_eq!(eu.datarate_for(51).unwrap().spreading_factor, 12);
        assert_eq!(eu.tx_power_ddbm(30), 130);
        assert!(!us.in_band(868_100_000) && !eu.in_band(904_300_000));
        assert!(us.in_band(902_300_000), "sub-band 1 is US915 too");
    }

    #[test]
    fn dwell_limited_regions_beacon_at_sf9() {
        for region in [Region::Au915, Region::As9231] {
            let plan = RegionPlan::for_region(region).unwrap();
            assert_eq!(plan.dwell_time_ms, Some(400));
            assert_eq!(plan.datarate_for(51).unwrap().spreading_factor, 9);
        }
        assert_eq!(
            RegionPlan::for_region(Region::Eu868).unwrap().dwell_time_ms,
            None
        );
    }
}
