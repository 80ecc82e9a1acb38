use super::*;
use radio_io::gwmp::{decode_up, TxAccepted, UpMessage};

/// 2026-12-07T04:00:00Z in Unix nanoseconds, whole microseconds.
const NOW_NS: u64 = 1_796_616_000_123_456_000;

fn limits() -> TxLimits {
    TxLimits::new((863_000_000, 870_000_000), 14.0, Duration::from_millis(20))
}

fn pull_resp(txpk: &str) -> Vec<u8> {
    let mut datagram = vec![2, 0x12, 0x34, 3];
    datagram.extend_from_slice(format!(r#"{{"txpk":{txpk}}}"#).as_bytes());
    datagram
}

/// A txpk with these timing fields and power.
fn txpk(timing: &str, freq: f64, powe: u32) -> TxPk {
    read_txpk(&pull_resp(&format!(
        r#"{{{timing},"freq":{freq},"rfch":0,"powe":{powe},"modu":"LORA","datr":"SF9BW125","codr":"4/5","ipol":true,"prea":8,"size":4,"data":"AQIDBA==","ncrc":true}}"#
    )))
    .unwrap()
}

#[test]
fn tmst_maps_to_the_nearest_instant_with_those_bits() {
    for offset_s in [-2000i64, -1, 0, 1, 2, 600, 2000] {
        let at = NOW_NS.saturating_add_signed(offset_s * 1_000_000_000);
        assert_eq!(unix_ns_of(tmst_of(at), NOW_NS), at, "{offset_s} s");
    }
    // Across the counter's wrap: just before it, a tmst just after it lies ahead.
    let now_us = (NOW_NS / 1000 / (1 << 32) + 1) * (1 << 32) - 500_000;
    let now = now_us * 1000;
    let later = now + 1_000_000_000;
    assert!(tmst_of(later) < tmst_of(now));
    assert_eq!(unix_ns_of(tmst_of(later), now), later);
}

#[test]
fn a_tmst_downlink_is_due_at_its_tmst() {
    let uplink = NOW_NS - 5_000_000; // heard 5 ms ago
    let rx1 = tmst_of(uplink).wrapping_add(1_000_000);
    let accepted = accept(
        &txpk(&format!(r#""tmst":{rx1}"#), 868.1, 14),
        NOW_NS,
        &limits(),
    )
    .expect("accepted");
    assert_eq!(accepted.downlink.at_unix_ns, Some(uplink + 1_000_000_000));
    assert_eq!(accepted.power_warning, None);
    let transmission = &accepted.downlink.transmission;
    assert_eq!(transmission.frequency_hz, 868_100_000);
    assert_eq!(transmission.params.spreading_factor, 9);
    assert_eq!(transmission.params.bandwidth_hz, 125_000);
    assert_eq!(transmission.params.coding_rate, 1);
    assert!(!transmission.params.crc);
    assert_eq!(transmission.payload, [1, 2, 3, 4]);
    assert_eq!(transmission.power_dbm, 14.0);
    assert!(accepted.downlink.inverted_iq);
}

#[test]
fn timing_power_and_frequency_are_answered_as_a_packet_forwarder_does() {
    let now_tmst = tmst_of(NOW_NS);
    let refused = |txpk: TxPk| accept(&txpk, NOW_NS, &limits()).unwrap_err().unwrap();
    let past = now_tmst.wrapping_sub(1_000);
    assert_eq!(
        refused(txpk(&format!(r#""tmst":{past}"#), 868.1, 14)),
        TxRefusal::TooLate
    );
    let within_lead = now_tmst.wrapping_add(19_000);
    assert_eq!(
        refused(txpk(&format!(r#""tmst":{within_lead}"#), 868.1, 14)),
        TxRefusal::TooLate
    );
    let far = now_tmst.wrapping_add(600_000_000);
    assert_eq!(
        refused(txpk(&format!(r#""tmst":{far}"#), 868.1, 14)),
        TxRefusal::TooEarly
    );
    assert_eq!(
        refused(txpk(r#""tmms":1000"#, 868.1, 14)),
        TxRefusal::GpsUnlocked
    );
    assert_eq!(
        refused(txpk(r#""imme":true"#, 915.0, 14)),
        TxRefusal::Frequency
    );
    let loud = accept(&txpk(r#""imme":true"#, 869.525, 27), NOW_NS, &limits()).unwrap();
    assert_eq!(loud.power_warning, Some(14));
    assert_eq!(loud.downlink.transmission.power_dbm, 14.0);
    assert_eq!(loud.downlink.at_unix_ns, None);
}

#[test]
fn unreadable_txpks_are_malformed_not_panics() {
    for body in [
        "",
        "{",
        r#"{"nottxpk":{}}"#,
        r#"{"txpk":[]}"#,
        r#"{"txpk":{}}"#,
        r#"{"txpk":{"imme":true,"freq":868.1,"powe":14,"modu":"LORA","datr":"SF9BW1é5","codr":"4/5","size":1,"data":"AQ=="}}"#,
        r#"{"txpk":{"imme":true,"freq":868.1,"powe":14,"modu":"LORA","datr":"SF9BW999","codr":"4/5","size":1,"data":"AQ=="}}"#,
        r#"{"txpk":{"imme":true,"freq":868.1,"powe":14,"modu":"LORA","datr":7,"codr":"4/5","size":1,"data":"AQ=="}}"#,
        r#"{"txpk":{"imme":true,"freq":868.1,"powe":-1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","size":1,"data":"AQ=="}}"#,
        r#"{"txpk":{"imme":true,"freq":868.1,"powe":14,"modu":"LORA","datr":"SF9BW125","codr":"4/5","size":1,"data":"%%"}}"#,
        r#"{"txpk":{"imme":true,"freq":868.1,"powe":14,"modu":"LORA","datr":"SF9BW125","size":1,"data":"AQ=="}}"#,
    ] {
        let mut datagram = vec![2, 0, 1, 3];
        datagram.extend_from_slice(body.as_bytes());
        assert!(read_txpk(&datagram).is_err(), "{body}");
    }
    // Readable, but not a downlink the hotspot can send: no TX_ACK.
    for txpk in [
        r#"{"imme":true,"freq":868.1,"powe":14,"modu":"LORA","datr":"SF9BW125","codr":"4/5","size":2,"data":"AQ=="}"#,
        r#"{"imme":true,"freq":868.1,"powe":14,"modu":"LORA","datr":"SF9BW125","codr":"4/5","prea":70000,"size":1,"data":"AQ=="}"#,
        r#"{"imme":false,"freq":868.1,"powe":14,"modu":"LORA","datr":"SF9BW125","codr":"4/5","size":1,"data":"AQ=="}"#,
    ] {
        let txpk = read_txpk(&pull_resp(txpk)).expect(txpk);
        assert!(
            matches!(accept(&txpk, NOW_NS, &limits()), Err(Err(_))),
            "{txpk:?}"
        );
    }
}

#[test]
fn tx_acks_read_back_as_sent() {
    let mac = MacAddress::new(1, 2, 3, 4, 5, 6, 7, 8);
    for (outcome, expected) in [
        (Ok(None), Ok(TxAccepted::AsAsked)),
        (Ok(Some(14)), Ok(TxAccepted::AtPower { used_dbm: 14 })),
        (Err(TxRefusal::TooLate), Err(TxRefusal::TooLate)),
        (Err(TxRefusal::TooEarly), Err(TxRefusal::TooEarly)),
        (Err(TxRefusal::Frequency), Err(TxRefusal::Frequency)),
        (Err(TxRefusal::GpsUnlocked), Err(TxRefusal::GpsUnlocked)),
        (
            Err(TxRefusal::CollisionPacket),
            Err(TxRefusal::CollisionPacket),
        ),
    ] {
        let datagram = encode_tx_ack(0x1234, mac, &outcome);
        let Ok(UpMessage::TxAck {
            token,
            mac: from,
            outcome: read,
        }) = decode_up(&datagram)
        else {
            panic!("not a TX_ACK: {datagram:?}");
        };
        assert_eq!((token, from), (0x1234, mac));
        assert_eq!(read, expected);
    }
}
