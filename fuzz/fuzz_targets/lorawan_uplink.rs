//! Fuzz target: bytes heard on the air as a LoRaWAN PHY payload, read by
//! `routing::parse_uplink` (the kind and routing key of a device uplink) and checked with the
//! MIC helpers. Nothing may panic; an uplink read must agree with the bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routing::frame::{data_mic_ok, join_mic_ok, MAX_PHY_LEN};
use routing::{credits_for, parse_uplink, RoutingKey, UplinkKind};

fuzz_target!(|data: &[u8]| {
    let Ok(uplink) = parse_uplink(data) else {
        return;
    };
    assert!(data.len() <= MAX_PHY_LEN);
    assert_eq!(uplink.phy_len, data.len());
    assert_eq!(uplink.credits(), credits_for(data.len()));
    assert!(uplink.credits() >= 1);
    match uplink.key {
        RoutingKey::Join { join_eui, dev_eui } => {
            assert_eq!(uplink.kind, UplinkKind::JoinRequest);
            assert_eq!(data.len(), 23);
            assert_eq!(join_eui.to_le_bytes(), data[1..9]);
            assert_eq!(dev_eui.to_le_bytes(), data[9..17]);
            assert_eq!(data_mic_ok(data, &[0; 16], 0), Ok(false));
            assert!(join_mic_ok(data, &[0; 16]).is_ok());
        }
        RoutingKey::Data { dev_addr, fcnt } => {
            assert_ne!(uplink.kind, UplinkKind::JoinRequest);
            assert!(data.len() >= 12 + usize::from(data[5] & 0x0f));
            assert_eq!(dev_addr.to_le_bytes(), data[1..5]);
            assert_eq!(fcnt.to_le_bytes(), data[6..8]);
            assert_eq!(join_mic_ok(data, &[0; 16]), Ok(false));
            assert!(data_mic_ok(data, &[0; 16], u16::MAX).is_ok());
        }
    }
});
