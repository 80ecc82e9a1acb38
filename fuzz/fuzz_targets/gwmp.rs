//! Fuzz target: datagrams from Semtech packet forwarders (GWMP v2), decoded as
//! `radio_io::semtech_udp` decodes them with `radio_io::gwmp`: `decode_up` (each
//! `rxpk` turned into a `Reception`, the `stat` object, TX_ACK outcomes), the LoRaWAN parse of
//! each payload, `decode_down`, and the forwarder's UTC time parser. Nothing may panic. (The
//! `semtech-udp` crate's parser, which the backend used before, panics on short datagrams:
//! `artifacts-found/gwmp/`.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use radio_io::gwmp::{decode_down, decode_up, parse_rx_time, UpMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_rx_time(text);
    }
    if let Ok(UpMessage::PushData { body: Ok(body), .. }) = decode_up(data) {
        for reception in body.rxpk.into_iter().flatten() {
            let _ = lorawan::parser::parse(reception.frame.payload);
        }
    }
    let _ = decode_down(data);
});
