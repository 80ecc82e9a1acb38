//! Fuzz target: datagrams from Semtech packet forwarders (GWMP v2), handled as
//! `radio::backend::semtech_udp` handles them: parsed by the `semtech-udp` crate, each `rxpk`
//! turned into a `Reception` (`reception_from_rxpk`), its payload parsed as LoRaWAN, and the
//! acknowledgement serialised. Also the forwarder's UTC time parser. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radio::backend::semtech_udp::{parse_rx_time, reception_from_rxpk};
use semtech_udp::{Packet, SerializablePacket, Up};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_rx_time(text);
    }
    let mut ack = [0u8; 64];
    match Packet::parse_uplink(data) {
        Err(_) => {}
        Ok(Up::PullData(pull)) => {
            let _ = pull.into_ack().serialize(&mut ack);
        }
        Ok(Up::PushData(push)) => {
            for rxpk in push.data.rxpk.iter().flatten() {
                if let Some(reception) = reception_from_rxpk(rxpk) {
                    assert!(reception.frequency_hz > 0);
                    let _ = lorawan::parser::parse(reception.frame.payload.clone());
                }
            }
            let _ = push.into_ack().serialize(&mut ack);
        }
        Ok(Up::TxAck(ack)) => {
            let _ = ack.get_result();
        }
    }
    // Downlinks too: what the backend's tests and a misdirected forwarder may send back.
    let _ = Packet::parse_downlink(data);
});
