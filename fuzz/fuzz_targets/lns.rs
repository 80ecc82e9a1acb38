//! Fuzz target: text messages of LoRa Basics Station gateways on their muxs websocket, decoded
//! as `radio_io::basic_station` decodes them with `radio_io::lns`: `decode_station`, each
//! uplink turned into a `Reception` under a US915 and an EU868 channel plan, and the
//! `/router-info` discovery request. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radio_io::lns::{decode_station, reception_from_uplink, router_info_answer, StationMessage};
use radio_io::ChannelPlan;

fn plans() -> [ChannelPlan; 2] {
    [
        ChannelPlan {
            region: "US915".into(),
            band_hz: (902_000_000, 928_000_000),
            channels_hz: (0..8).map(|i| 903_900_000 + i * 200_000).collect(),
            datarates: vec![(10, 125_000), (9, 125_000), (8, 125_000), (7, 125_000)],
        },
        ChannelPlan {
            region: "EU868".into(),
            band_hz: (863_000_000, 870_000_000),
            channels_hz: vec![868_100_000, 868_300_000, 868_500_000],
            datarates: (7..=12).rev().map(|sf| (sf, 125_000)).collect(),
        },
    ]
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (answer, router) = router_info_answer(text, "127.0.0.1:1887");
    assert!(router.is_some() != answer.get("error").is_some());
    if let Ok(StationMessage::Uplink(uplink)) = decode_station(text) {
        for plan in plans() {
            if let Ok(reception) = reception_from_uplink(&uplink, &plan) {
                assert_eq!(reception.frame.payload, uplink.payload);
                assert!(plan.datarates.contains(&(
                    reception.frame.spreading_factor,
                    reception.frame.bandwidth_hz
                )));
            }
        }
    }
});
