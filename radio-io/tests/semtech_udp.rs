//! The Semtech UDP backend against simulated packet forwarders over real UDP on loopback:
//! uplinks received and acknowledged, beacons sent by PULL_RESP and their TX_ACK (success and
//! each refusal, the TX_POWER warning with the power used) handled, TX_ACKs matched by token,
//! gateway EUI and address, several forwarders told apart (one frame from two of them is one
//! reception, the configured one transmits), a forwarder off the region's band refused, and
//! garbage on the port survived.

use radio::LoraParams;
use radio_io::gwmp::{protocol::MacAddress, TxRefusal, TxTiming};
use radio_io::{
    Backend, BackendError, ChannelPlan, SemtechUdpBackend, SemtechUdpConfig, Transmission,
};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

const MAC: [u8; 8] = [0xaa, 0x55, 0x5a, 0x00, 0x00, 0x00, 0x01, 0x01];
const OTHER_MAC: [u8; 8] = [0xaa, 0x55, 0x5a, 0x00, 0x00, 0x00, 0x02, 0x02];

/// A LoRaWAN unconfirmed data uplink (15 bytes), as an SX1301 forwarder reports it.
const LORAWAN_UPLINK: &str = r#"{"rxpk":[{"time":"2026-11-25T16:21:17.528002Z","tmst":3512348611,"chan":2,"rfch":0,"freq":904.100000,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","lsnr":7.8,"rssi":-65,"size":15,"data":"QAECAwQAAQABqrsRIjNE"}],"stat":{"time":"2026-11-25 16:21:17 GMT","lati":46.24,"long":3.2523,"alti":145,"rxnb":2,"rxok":2,"rxfw":2,"ackr":100.0,"dwnb":1,"txnb":1}}"#;
/// A 51-byte frame heard by a v2-format forwarder with two antennas, and a bad-CRC frame.
const BEACON_UPLINK: &str = r#"{"rxpk":[{"jver":2,"brd":0,"aesk":0,"tmst":1000,"tmms":1448000000000,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF10BW125","codr":"4/5","size":51,"data":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy","rsig":[{"ant":0,"chan":1,"rssic":-110,"rssis":-112,"lsnr":-3.5,"foff":-212},{"ant":1,"chan":1,"rssic":-118,"lsnr":-8.0}]},
  {"tmst":2000,"chan":1,"rfch":0,"freq":904.3,"stat":-1,"modu":"LORA","datr":"SF10BW125","codr":"4/5","lsnr":-12.0,"rssi":-121,"size":3,"data":"AQID"}]}"#;

fn gwmp(mac: [u8; 8], token: u16, identifier: u8, json: &str) -> Vec<u8> {
    let mut datagram = vec![2, (token >> 8) as u8, token as u8, identifier];
    datagram.extend_from_slice(&mac);
    datagram.extend_from_slice(json.as_bytes());
    datagram
}

/// The next datagram the peer receives from the backend (5 s is a hang, not a slow machine).
async fn next(peer: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), peer.recv_from(&mut buf))
        .await
        .expect("an answer from the backend")
        .expect("recv");
    buf.truncate(n);
    buf
}

/// Receives an acknowledgement and checks its identifier and echoed token.
async fn expect_ack(peer: &UdpSocket, identifier: u8, token: u16) {
    let datagram = next(peer).await;
    assert_eq!(
        datagram,
        vec![2, (token >> 8) as u8, token as u8, identifier],
        "acknowledgement {identifier:#04x} of token {token:#06x}"
    );
}

/// Receives a PULL_RESP; returns its token and its `txpk` object.
async fn expect_pull_resp(peer: &UdpSocket) -> (u16, Value) {
    let datagram = next(peer).await;
    assert_eq!(datagram[0], 2, "protocol version");
    assert_eq!(datagram[3], 0x03, "PULL_RESP");
    let json: Value = serde_json::from_slice(&datagram[4..]).expect("PULL_RESP JSON");
    (
        u16::from_be_bytes([datagram[1], datagram[2]]),
        json["txpk"].clone(),
    )
}

async fn backend(tx_ack_timeout: Duration) -> (SemtechUdpBackend, SocketAddr) {
    let mut config = SemtechUdpConfig::new("127.0.0.1:0".parse().unwrap());
    config.tx_ack_timeout = tx_ack_timeout;
    let backend = SemtechUdpBackend::bind(config).await.unwrap();
    let addr = backend.local_addr().unwrap();
    (backend, addr)
}

async fn peer(backend: SocketAddr) -> UdpSocket {
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.connect(backend).await.unwrap();
    peer
}

/// `peer` pulls as gateway `mac` (token `token`), then sends `uplink` (token `token + 1`); the
/// backend receives the uplink and acknowledges both.
async fn pull_and_uplink(
    backend: &mut SemtechUdpBackend,
    peer: &UdpSocket,
    mac: [u8; 8],
    token: u16,
    uplink: &str,
) {
    peer.send(&gwmp(mac, token, 0x02, "")).await.unwrap();
    peer.send(&gwmp(mac, token + 1, 0x00, uplink))
        .await
        .unwrap();
    backend.receive().await.unwrap().unwrap();
    expect_ack(peer, 0x04, token).await;
    expect_ack(peer, 0x01, token + 1).await;
}

fn beacon() -> Transmission {
    Transmission {
        frequency_hz: 904_500_000,
        params: LoraParams::new(9, 125_000),
        payload: (0..51).collect(),
        power_dbm: 27.0,
    }
}

fn counter(backend: &SemtechUdpBackend, name: &str) -> u64 {
    backend
        .counters()
        .into_iter()
        .find(|(counter, _)| *counter == name)
        .unwrap_or_else(|| panic!("no counter {name}"))
        .1
}

#[tokio::test]
async fn uplinks_are_acknowledged_and_beacons_go_out_by_pull_resp() {
    let (mut backend, addr) = backend(Duration::from_secs(5)).await;
    let forwarder = peer(addr).await;

    // Nothing to transmit through before a forwarder connects: an error at once, not a hang.
    match backend.transmit(&beacon()).await {
        Err(BackendError::Forwarder(TxRefusal::NoForwarder)) => {}
        other => panic!("{other:?}"),
    }

    forwarder.send(&gwmp(MAC, 0x1234, 0x02, "")).await.unwrap();
    forwarder
        .send(&gwmp(MAC, 0x0101, 0x00, LORAWAN_UPLINK))
        .await
        .unwrap();
    forwarder
        .send(&gwmp(MAC, 0x0102, 0x00, BEACON_UPLINK))
        .await
        .unwrap();

    let lorawan = backend.receive().await.unwrap().unwrap();
    expect_ack(&forwarder, 0x04, 0x1234).await;
    expect_ack(&forwarder, 0x01, 0x0101).await;
    assert_eq!(lorawan.frequency_hz, 904_100_000);
    assert_eq!(lorawan.frame.spreading_factor, 9);
    assert_eq!(lorawan.frame.bandwidth_hz, 125_000);
    assert_eq!(lorawan.frame.coding_rate, 1);
    assert_eq!(lorawan.frame.rssi_dbm, -65.0);
    assert!((lorawan.frame.snr_db - 7.8).abs() < 1e-4);
    assert_eq!(lorawan.frame.crc_ok, Some(true));
    assert_eq!(lorawan.frame.payload.len(), 15);
    assert_eq!(lorawan.timestamp_ns, 1_795_623_677_528_002_000);

    let heard = backend.receive().await.unwrap().unwrap();
    expect_ack(&forwarder, 0x01, 0x0102).await;
    assert_eq!(heard.frequency_hz, 904_300_000);
    assert_eq!(heard.frame.spreading_factor, 10);
    assert_eq!(heard.frame.payload, (0..51).collect::<Vec<u8>>());
    assert_eq!(
        heard.frame.rssi_dbm, -112.0,
        "the best antenna's signal RSSI"
    );
    assert_eq!(heard.frame.snr_db, -3.5);
    assert_eq!(heard.frame.cfo_hz, -212.0);
    assert_eq!(
        heard.timestamp_ns,
        (1_448_000_000_000 + 315_964_800_000 - 18_000) * 1_000_000
    );
    let bad_crc = backend.receive().await.unwrap().unwrap();
    assert_eq!(bad_crc.frame.crc_ok, Some(false), "stat -1 is marked");

    let stats = backend.stats().clone();
    assert_eq!((stats.uplinks, stats.uplinks_bad_crc), (3, 1));
    assert_eq!((stats.push_data, stats.pull_data), (2, 1));
    assert_eq!(stats.gateway_stats, 1);
    assert_eq!((stats.gateway_rxnb, stats.gateway_txnb), (2, 1));
    let gateways = backend.gateways();
    assert_eq!(gateways.len(), 1);
    assert_eq!(gateways[0].mac, MacAddress::from(MAC));
    assert_eq!(gateways[0].uplinks, 3);
    assert_eq!(gateways[0].pull_addr, Some(forwarder.local_addr().unwrap()));
    assert_eq!(gateways[0].last_stat.as_ref().map(|s| s.rxok), Some(2));

    // Beacons: the forwarder takes the first, refuses the next ones, each in its own way, and
    // sends some at another power (the SX1302 forwarder's TX_POWER warning, with and without an
    // explicit NONE error): sent, at the power it names. The forwarders before the SX1302's
    // refuse an unsupported power outright (`"error":"TX_POWER"`): nothing went on air.
    let answers = [
        (r#"{"txpk_ack":{"error":"NONE"}}"#, Ok(27.0)),
        (
            r#"{"txpk_ack":{"error":"TOO_LATE"}}"#,
            Err(TxRefusal::TooLate),
        ),
        (
            r#"{"txpk_ack":{"error":"TOO_EARLY"}}"#,
            Err(TxRefusal::TooEarly),
        ),
        (
            r#"{"txpk_ack":{"error":"COLLISION_PACKET"}}"#,
            Err(TxRefusal::CollisionPacket),
        ),
        (
            r#"{"txpk_ack":{"error":"COLLISION_BEACON"}}"#,
            Err(TxRefusal::CollisionBeacon),
        ),
        (
            r#"{"txpk_ack":{"error":"TX_FREQ"}}"#,
            Err(TxRefusal::Frequency),
        ),
        (
            r#"{"txpk_ack":{"error":"GPS_UNLOCKED"}}"#,
            Err(TxRefusal::GpsUnlocked),
        ),
        (r#"{"txpk_ack":{"warn":"TX_POWER","value":20}}"#, Ok(20.0)),
        (
            r#"{"txpk_ack":{"error":"NONE","warn":"TX_POWER","value":26}}"#,
            Ok(26.0),
        ),
        (
            r#"{"txpk_ack":{"error":"TX_POWER"}}"#,
            Err(TxRefusal::Power),
        ),
        (r#"{"txpk_ack":{"warn":"TX_POWER"}}"#, Err(TxRefusal::Power)),
        ("", Ok(27.0)),
    ];
    for (ack, expected) in answers {
        let peer = async {
            let (token, txpk) = expect_pull_resp(&forwarder).await;
            assert_eq!(txpk["imme"], true);
            assert_eq!(txpk["freq"], 904.5);
            assert_eq!(txpk["powe"], 27);
            assert_eq!(txpk["datr"], "SF9BW125");
            assert_eq!(txpk["codr"], "4/5");
            assert_eq!(txpk["ipol"], false, "beacons keep uplink polarity");
            assert_eq!(txpk["size"], 51);
            assert_eq!(txpk["modu"], "LORA");
            assert_eq!(
                txpk["data"],
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
            );
            forwarder.send(&gwmp(MAC, token, 0x05, ack)).await.unwrap();
        };
        let frame = beacon();
        let (sent, ()) = tokio::join!(backend.transmit(&frame), peer);
        match (sent, expected) {
            (Ok(sent), Ok(power)) => assert_eq!(sent.power_dbm, power, "{ack}"),
            (Err(BackendError::Forwarder(got)), Err(expected)) => assert_eq!(got, expected),
            (got, expected) => panic!("{ack}: got {got:?}, expected {expected:?}"),
        }
    }
    assert_eq!(backend.stats().tx_ok, 4);
    assert_eq!(backend.stats().tx_refused, 9);
    assert_eq!(counter(&backend, "tx_refused_too_late"), 1);
    assert_eq!(counter(&backend, "tx_refused_tx_power"), 2);
    assert_eq!(counter(&backend, "tx_power_reduced"), 2);
    assert_eq!(counter(&backend, "tx_no_forwarder"), 1);

    // Scheduled on the concentrator's counter.
    let peer = async {
        let (token, txpk) = expect_pull_resp(&forwarder).await;
        assert_eq!(txpk["imme"], false);
        assert_eq!(txpk["tmst"], 3_513_348_611u64);
        forwarder
            .send(&gwmp(MAC, token, 0x05, r#"{"txpk_ack":{"error":"NONE"}}"#))
            .await
            .unwrap();
    };
    let frame = beacon();
    let (sent, ()) = tokio::join!(
        backend.transmit_at(&frame, TxTiming::Tmst(3_513_348_611)),
        peer
    );
    sent.unwrap();

    // Still receiving after all that.
    forwarder
        .send(&gwmp(MAC, 0x0103, 0x00, LORAWAN_UPLINK))
        .await
        .unwrap();
    assert!(backend.receive().await.unwrap().is_some());
    expect_ack(&forwarder, 0x01, 0x0103).await;
    assert_eq!(counter(&backend, "uplinks"), 4);
}

#[tokio::test]
async fn a_forwarder_that_never_acknowledges_is_a_refusal() {
    let (mut backend, addr) = backend(Duration::from_millis(200)).await;
    let forwarder = peer(addr).await;
    pull_and_uplink(&mut backend, &forwarder, MAC, 1, LORAWAN_UPLINK).await;
    match backend.transmit(&beacon()).await {
        Err(BackendError::Forwarder(TxRefusal::NoAck(_))) => {}
        other => panic!("{other:?}"),
    }
    // The PULL_RESP did go out; a late TX_ACK for it is counted as stray and harmless.
    let (token, _) = expect_pull_resp(&forwarder).await;
    forwarder.send(&gwmp(MAC, token, 0x05, "")).await.unwrap();
    forwarder
        .send(&gwmp(MAC, 3, 0x00, LORAWAN_UPLINK))
        .await
        .unwrap();
    backend.receive().await.unwrap().unwrap();
    assert_eq!(backend.stats().stray_tx_acks, 1);
    assert_eq!(counter(&backend, "tx_no_ack"), 1);
}

#[tokio::test]
async fn a_tx_ack_answers_only_from_the_gateway_and_address_it_was_sent_to() {
    let (mut backend, addr) = backend(Duration::from_millis(1_500)).await;
    let forwarder = peer(addr).await;
    let impostor = peer(addr).await;
    pull_and_uplink(&mut backend, &forwarder, MAC, 1, LORAWAN_UPLINK).await;

    // The same token from another address (with the right EUI, then another), and from the
    // right address with another EUI, are ignored; the forwarder's own TX_ACK then decides.
    let peer = async {
        let (token, _) = expect_pull_resp(&forwarder).await;
        let refusal = r#"{"txpk_ack":{"error":"TOO_LATE"}}"#;
        impostor
            .send(&gwmp(MAC, token, 0x05, refusal))
            .await
            .unwrap();
        impostor
            .send(&gwmp(OTHER_MAC, token, 0x05, refusal))
            .await
            .unwrap();
        forwarder
            .send(&gwmp(OTHER_MAC, token, 0x05, refusal))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        forwarder
            .send(&gwmp(
                MAC,
                token,
                0x05,
                r#"{"txpk_ack":{"warn":"TX_POWER","value":27}}"#,
            ))
            .await
            .unwrap();
    };
    let mut frame = beacon();
    frame.power_dbm = 33.0;
    let (sent, ()) = tokio::join!(backend.transmit(&frame), peer);
    assert_eq!(sent.unwrap().power_dbm, 27.0);
    assert_eq!(backend.stats().stray_tx_acks, 3);
    assert_eq!(backend.stats().tx_ok, 1);

    // Only strays answer the next one: it is unanswered, not refused.
    let peer = async {
        let (token, _) = expect_pull_resp(&forwarder).await;
        impostor.send(&gwmp(MAC, token, 0x05, "")).await.unwrap();
    };
    let frame = beacon();
    let (sent, ()) = tokio::join!(backend.transmit(&frame), peer);
    match sent {
        Err(BackendError::Forwarder(TxRefusal::NoAck(_))) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(backend.stats().stray_tx_acks, 4);
}

#[tokio::test]
async fn forwarders_are_told_apart_and_the_latest_puller_transmits() {
    let (mut backend, addr) = backend(Duration::from_secs(5)).await;
    let first = peer(addr).await;
    let second = peer(addr).await;
    pull_and_uplink(&mut backend, &first, MAC, 1, LORAWAN_UPLINK).await;
    pull_and_uplink(&mut backend, &second, OTHER_MAC, 3, BEACON_UPLINK).await;
    backend.receive().await.unwrap().unwrap();

    let gateways = backend.gateways();
    assert_eq!(gateways.len(), 2);
    let uplinks: Vec<(MacAddress, u64)> = gateways.iter().map(|g| (g.mac, g.uplinks)).collect();
    assert!(uplinks.contains(&(MacAddress::from(MAC), 1)), "{uplinks:?}");
    assert!(
        uplinks.contains(&(MacAddress::from(OTHER_MAC), 2)),
        "{uplinks:?}"
    );
    assert_eq!(backend.stats().forwarders_connected, 2);

    // The second pulled last: the beacon goes to it.
    let peer = async {
        let (token, _) = expect_pull_resp(&second).await;
        second
            .send(&gwmp(OTHER_MAC, token, 0x05, ""))
            .await
            .unwrap();
    };
    let frame = beacon();
    let (sent, ()) = tokio::join!(backend.transmit(&frame), peer);
    sent.unwrap();
}

/// [`BEACON_UPLINK`]'s 51-byte frame alone, heard with this signal.
fn beacon_heard(rssi: i32, snr: f32) -> String {
    format!(
        r#"{{"rxpk":[{{"tmst":1000,"chan":1,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF10BW125","codr":"4/5","lsnr":{snr},"rssi":{rssi},"size":51,"data":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"}}]}}"#
    )
}

#[tokio::test]
async fn one_frame_from_two_forwarders_is_one_reception_with_the_best_signal() {
    let (mut backend, addr) = backend(Duration::from_secs(5)).await;
    let first = peer(addr).await;
    let second = peer(addr).await;
    first.send(&gwmp(MAC, 1, 0x02, "")).await.unwrap();
    second.send(&gwmp(OTHER_MAC, 1, 0x02, "")).await.unwrap();
    first
        .send(&gwmp(MAC, 2, 0x00, &beacon_heard(-118, -4.0)))
        .await
        .unwrap();
    second
        .send(&gwmp(OTHER_MAC, 2, 0x00, &beacon_heard(-96, 6.25)))
        .await
        .unwrap();
    let heard = backend.receive().await.unwrap().unwrap();
    assert_eq!((heard.frame.rssi_dbm, heard.frame.snr_db), (-96.0, 6.25));
    assert_eq!(heard.frame.payload, (0..51).collect::<Vec<u8>>());
    for forwarder in [&first, &second] {
        expect_ack(forwarder, 0x04, 1).await;
        expect_ack(forwarder, 0x01, 2).await;
    }
    // Nothing else was held: the copy was merged, not queued.
    let more = tokio::time::timeout(Duration::from_millis(400), backend.receive()).await;
    assert!(more.is_err(), "{more:?}");
    let stats = backend.stats();
    assert_eq!((stats.uplinks, stats.uplinks_merged), (2, 1));
    assert_eq!(backend.gateways().len(), 2);
}

#[tokio::test]
async fn the_configured_gateway_transmits_even_when_another_pulled_last() {
    let mut config = SemtechUdpConfig::new("127.0.0.1:0".parse().unwrap());
    config.tx_gateway = Some(MacAddress::from(MAC));
    let mut backend = SemtechUdpBackend::bind(config).await.unwrap();
    let addr = backend.local_addr().unwrap();
    let configured = peer(addr).await;
    let other = peer(addr).await;

    // Only the other one is connected: nothing transmits.
    pull_and_uplink(&mut backend, &other, OTHER_MAC, 1, LORAWAN_UPLINK).await;
    match backend.transmit(&beacon()).await {
        Err(BackendError::Forwarder(TxRefusal::NoForwarder)) => {}
        other => panic!("{other:?}"),
    }
    pull_and_uplink(&mut backend, &configured, MAC, 3, BEACON_UPLINK).await;
    backend.receive().await.unwrap().unwrap();
    // The other one pulls last (taken by a receive cut short, as the daemon's loop would).
    other.send(&gwmp(OTHER_MAC, 5, 0x02, "")).await.unwrap();
    let receiving = tokio::time::timeout(Duration::from_millis(300), backend.receive()).await;
    assert!(receiving.is_err(), "no uplink was sent");
    expect_ack(&other, 0x04, 5).await;

    let peer = async {
        let (token, _) = expect_pull_resp(&configured).await;
        configured.send(&gwmp(MAC, token, 0x05, "")).await.unwrap();
    };
    let frame = beacon();
    let (sent, ()) = tokio::join!(backend.transmit(&frame), peer);
    sent.unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(200), other.recv(&mut [0; 64])).await;
    assert!(nothing.is_err(), "no PULL_RESP to the other forwarder");
}

/// An EU868 forwarder's 51-byte frame on 868.1 MHz.
const EU868_UPLINK: &str = r#"{"rxpk":[{"tmst":1000,"chan":0,"rfch":1,"freq":868.1,"stat":1,"modu":"LORA","datr":"SF12BW125","codr":"4/5","lsnr":8.0,"rssi":-80,"size":51,"data":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"}]}"#;

#[tokio::test]
async fn a_forwarder_off_the_regions_band_is_refused_and_never_used() {
    let mut config = SemtechUdpConfig::new("127.0.0.1:0".parse().unwrap());
    config.merge_window = Duration::ZERO;
    config.channel_plan = Some(ChannelPlan {
        region: "US915".into(),
        band_hz: (902_000_000, 928_000_000),
        channels_hz: vec![904_300_000],
        datarates: vec![(10, 125_000), (9, 125_000)],
    });
    let mut backend = SemtechUdpBackend::bind(config).await.unwrap();
    let addr = backend.local_addr().unwrap();
    let us915 = peer(addr).await;
    let eu868 = peer(addr).await;

    // The EU868 forwarder pulls and sends a frame on 868.1 MHz: acknowledged, refused, unheard.
    eu868.send(&gwmp(OTHER_MAC, 1, 0x02, "")).await.unwrap();
    eu868
        .send(&gwmp(OTHER_MAC, 2, 0x00, EU868_UPLINK))
        .await
        .unwrap();
    let receiving = tokio::time::timeout(Duration::from_millis(300), backend.receive()).await;
    assert!(receiving.is_err(), "the EU868 frame is not a reception");
    expect_ack(&eu868, 0x04, 1).await;
    expect_ack(&eu868, 0x01, 2).await;
    let refused = backend
        .gateways()
        .into_iter()
        .find(|g| g.mac == MacAddress::from(OTHER_MAC))
        .and_then(|g| g.refused)
        .expect("refused");
    let message = refused.to_string();
    for part in ["AA:55:5A:00:00:00:02:02", "868100000 Hz", "US915"] {
        assert!(message.contains(part), "{message}");
    }

    // The US915 forwarder is heard; the refused one's later frames, even in band, are not.
    pull_and_uplink(&mut backend, &us915, MAC, 3, LORAWAN_UPLINK).await;
    eu868
        .send(&gwmp(OTHER_MAC, 4, 0x00, BEACON_UPLINK))
        .await
        .unwrap();
    eu868.send(&gwmp(OTHER_MAC, 5, 0x02, "")).await.unwrap();
    let receiving = tokio::time::timeout(Duration::from_millis(300), backend.receive()).await;
    assert!(receiving.is_err(), "nothing from a refused forwarder");
    assert_eq!(counter(&backend, "forwarders_refused"), 1);
    assert_eq!(counter(&backend, "uplinks_refused"), 3);

    // It pulled last, but beacons go through the forwarder of the region.
    let peer = async {
        let (token, _) = expect_pull_resp(&us915).await;
        us915.send(&gwmp(MAC, token, 0x05, "")).await.unwrap();
    };
    let frame = beacon();
    let (sent, ()) = tokio::join!(backend.transmit(&frame), peer);
    sent.unwrap();
}

#[tokio::test]
async fn garbage_on_the_port_is_logged_and_survived() {
    let (mut backend, addr) = backend(Duration::from_secs(5)).await;
    let attacker = peer(addr).await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut framed_bad_json = 0u64;
    let mut unusable_rxpk = 0u64;
    let mut not_gwmp = 0u64;
    // Random bytes (a few happen to start with a valid header; that is fine).
    for _ in 0..200 {
        let len = rng.gen_range(0..300);
        let mut datagram: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if let Some(first) = datagram.first_mut() {
            // Keep them out of version 2 so they count as garbage.
            if *first == 2 {
                *first = 3;
            }
        }
        attacker.send(&datagram).await.unwrap();
        not_gwmp += 1;
    }
    let header_only = [
        vec![],
        vec![2],
        vec![2, 0, 0],
        vec![1, 0, 0, 0],
        vec![2, 0, 0, 0x09],
        vec![2, 0, 0, 0x01],
        vec![2, 0, 0, 0x00, 0xaa, 0x55],
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    ];
    for datagram in header_only {
        attacker.send(&datagram).await.unwrap();
        not_gwmp += 1;
    }
    for json in [
        "{not json",
        "[]",
        r#"{"rxpk":"nope"}"#,
        "\u{0}\u{1}\u{2}",
        r#"{"rxpk":[{"#,
    ] {
        attacker.send(&gwmp(MAC, 7, 0x00, json)).await.unwrap();
        framed_bad_json += 1;
    }
    for rxpk in [
        // bad base64
        r#"{"tmst":1,"chan":0,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","lsnr":5.5,"rssi":-80,"size":1,"data":"%%%"}"#,
        // a multi-byte datr that a byte-slicing parser would split
        r#"{"tmst":1,"chan":0,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF1éBW125","codr":"4/5","lsnr":5.5,"rssi":-80,"size":1,"data":"AQ=="}"#,
        // unknown data rate, FSK, missing fields, absurd frequency and CRC status
        r#"{"tmst":1,"chan":0,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF99BW3","codr":"4/5","lsnr":5.5,"rssi":-80,"size":1,"data":"AQ=="}"#,
        r#"{"tmst":1,"chan":0,"rfch":0,"freq":868.8,"stat":1,"modu":"FSK","datr":50000,"size":1,"data":"AQ=="}"#,
        r#"{"freq":904.3}"#,
        r#"{"tmst":1,"chan":0,"rfch":0,"freq":-904.3,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","lsnr":5.5,"rssi":-80,"size":1,"data":"AQ=="}"#,
        r#"{"tmst":1,"chan":0,"rfch":0,"freq":904.3,"stat":7,"modu":"LORA","datr":"SF9BW125","codr":"4/5","lsnr":5.5,"rssi":-80,"size":1,"data":"AQ=="}"#,
        r#"{"tmst":1,"chan":0,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","lsnr":5.5,"rssi":-80,"size":1,"data":"AQ==","tmms":18446744073709551615}"#,
    ] {
        let json = format!(r#"{{"rxpk":[{rxpk}]}}"#);
        attacker.send(&gwmp(MAC, 8, 0x00, &json)).await.unwrap();
        unusable_rxpk += 1;
    }
    // A TX_ACK nobody asked for.
    attacker
        .send(&gwmp(MAC, 9, 0x05, r#"{"txpk_ack":{"error":"TOO_LATE"}}"#))
        .await
        .unwrap();

    // A real forwarder after all that (same socket: loopback keeps the order).
    attacker
        .send(&gwmp(MAC, 0x0a0a, 0x00, LORAWAN_UPLINK))
        .await
        .unwrap();
    // First the frame with the survivable (ignored) tmms, then the real uplink.
    assert_eq!(backend.receive().await.unwrap().unwrap().frame.payload, [1]);
    let heard = backend.receive().await.unwrap().unwrap();
    assert_eq!(heard.frame.payload.len(), 15);

    let stats = backend.stats().clone();
    assert_eq!(stats.garbage, not_gwmp, "{stats:?}");
    assert_eq!(stats.bad_json, framed_bad_json, "{stats:?}");
    // The last of them had a usable frame besides its huge tmms: only its time was ignored.
    assert_eq!(stats.unusable_uplinks, unusable_rxpk - 1, "{stats:?}");
    assert_eq!(stats.stray_tx_acks, 1);
    // Every well-framed PUSH_DATA was acknowledged, the garbage was not.
    let mut acks = 0;
    loop {
        let datagram = next(&attacker).await;
        assert_eq!(datagram[3], 0x01, "only PUSH_ACKs go back");
        acks += 1;
        if datagram == [2, 0x0a, 0x0a, 0x01] {
            break;
        }
    }
    assert_eq!(acks, framed_bad_json + unusable_rxpk + 1);
}
