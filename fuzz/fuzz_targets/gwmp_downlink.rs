//! Fuzz target: PULL_RESP datagrams from network servers, as the hotspot's GWMP clients read
//! them (`hotspot::uplink::downlink`): `read_txpk`, `accept` against the US915 band at a fixed
//! time, and the TX_ACK that answers. Nothing may panic; an accepted downlink lies in the band,
//! at most at the power limit, within its lead and advance of now; its TX_ACK decodes to the
//! outcome it was encoded from.
#![no_main]

use hotspot::uplink::downlink::{accept, encode_tx_ack, read_txpk, TxLimits, MAX_ADVANCE};
use libfuzzer_sys::fuzz_target;
use radio_io::gwmp::protocol::MacAddress;
use radio_io::gwmp::{decode_up, TxAccepted, UpMessage};
use std::time::Duration;

const NOW_NS: u64 = 1_796_616_000_123_456_000;

fuzz_target!(|data: &[u8]| {
    let Ok(txpk) = read_txpk(data) else { return };
    let limits = TxLimits {
        band_hz: (902_000_000, 928_000_000),
        max_power_dbm: 30.0,
        lead: Duration::from_millis(20),
        max_advance: MAX_ADVANCE,
    };
    let outcome = match accept(&txpk, NOW_NS, &limits) {
        Ok(accepted) => {
            let downlink = &accepted.downlink;
            let frequency = downlink.transmission.frequency_hz;
            assert!((902_000_000..=928_000_000).contains(&frequency));
            assert!(downlink.transmission.power_dbm <= 30.0);
            assert!(downlink.transmission.payload.len() <= 255);
            if let Some(at) = downlink.at_unix_ns {
                assert!(at >= NOW_NS + 20_000_000);
                assert!(at <= NOW_NS + MAX_ADVANCE.as_nanos() as u64);
            }
            Ok(accepted.power_warning)
        }
        Err(Ok(refusal)) => Err(refusal),
        Err(Err(_)) => return,
    };
    let mac = MacAddress::new(1, 2, 3, 4, 5, 6, 7, 8);
    let Ok(UpMessage::TxAck { outcome: read, .. }) = decode_up(&encode_tx_ack(7, mac, &outcome))
    else {
        panic!("a TX_ACK that does not decode");
    };
    match (outcome, read) {
        (Ok(None), Ok(TxAccepted::AsAsked)) => {}
        (Ok(Some(used)), Ok(TxAccepted::AtPower { used_dbm })) => assert_eq!(used, used_dbm),
        (Err(sent), Err(read)) => assert_eq!(sent, read),
        (sent, read) => panic!("TX_ACK {sent:?} read back as {read:?}"),
    }
});
