//! The channel plan of the hotspot's region as gateways must follow it: the band a gateway's
//! frames must lie in (a gateway configured for another region is refused, [`OffPlan`]), and
//! the channels and data rates a gateway is configured with (Basic Station's `router_config`).

/// The channel plan of one LoRa region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPlan {
    /// The region's name, e.g. "US915".
    pub region: String,
    /// The lowest and highest frequency the region allows, hertz.
    pub band_hz: (u64, u64),
    /// Uplink channel centres, hertz (125 kHz channels).
    pub channels_hz: Vec<u64>,
    /// Data rates as (spreading factor, bandwidth in hertz), DR0 first.
    pub datarates: Vec<(u8, u32)>,
}

impl ChannelPlan {
    /// Whether a frame on `frequency_hz` lies within the region's band.
    pub fn allows(&self, frequency_hz: u64) -> bool {
        (self.band_hz.0..=self.band_hz.1).contains(&frequency_hz)
    }

    /// A gateway's frame on `frequency_hz` checked against the plan.
    pub fn check(&self, gateway: &str, frequency_hz: u64) -> Result<(), OffPlan> {
        if self.allows(frequency_hz) {
            return Ok(());
        }
        Err(OffPlan {
            gateway: gateway.to_string(),
            frequency_hz,
            region: self.region.clone(),
            band_hz: self.band_hz,
        })
    }

    /// The index of the data rate (DR) with this spreading factor and bandwidth.
    pub fn datarate_index(&self, spreading_factor: u8, bandwidth_hz: u32) -> Option<usize> {
        self.datarates
            .iter()
            .position(|&rate| rate == (spreading_factor, bandwidth_hz))
    }
}

/// A gateway whose channel plan contradicts the hotspot's region: it forwarded a frame on a
/// frequency outside the region's band. Its frames are not used and it transmits nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "gateway {gateway} refused: it forwarded a frame on {frequency_hz} Hz, outside the hotspot's \
     region {region} ({} to {} Hz); configure its channel plan for {region}",
    band_hz.0,
    band_hz.1
)]
pub struct OffPlan {
    /// The gateway (its EUI, or the station's identity).
    pub gateway: String,
    /// The frequency of the offending frame, hertz.
    pub frequency_hz: u64,
    /// The hotspot's region.
    pub region: String,
    /// The region's band, hertz.
    pub band_hz: (u64, u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_outside_the_band_names_gateway_frequency_and_region() {
        let plan = ChannelPlan {
            region: "US915".into(),
            band_hz: (902_000_000, 928_000_000),
            channels_hz: vec![904_300_000],
            datarates: vec![(10, 125_000), (9, 125_000)],
        };
        assert!(plan.check("aa555a0000000101", 902_300_000).is_ok());
        let refusal = plan.check("aa555a0000000101", 868_100_000).unwrap_err();
        let message = refusal.to_string();
        for part in ["aa555a0000000101", "868100000 Hz", "US915"] {
            assert!(message.contains(part), "{message}");
        }
        assert_eq!(plan.datarate_index(9, 125_000), Some(1));
        assert_eq!(plan.datarate_index(12, 125_000), None);
    }
}
