//! The hotspot on a Semtech packet forwarder, end to end over loopback UDP: a simulated packet
//! forwarder sends uplinks to the daemon's GWMP backend, the daemon counts them by LoRaWAN
//! message type and forwards device uplinks to a fake network server, itself speaking GWMP as a
//! packet forwarder would; beacons are filed at the power the forwarder says it used, and not
//! at all when it refuses them; keepalives are answered while the oracle hangs.

mod common;

use common::{us915_limits, wait_for_metric};

use hotspot::uplink::{LorawanSection, Upstream};
use hotspot::{Daemon, DaemonError, DaemonStats, Hotspot, Metrics, OracleClient, Outbox};
use poc::proto::{self, Region};
use poc::{Keypair, Signable};
use radio::RxFrame;
use radio_io::gwmp::{decode_up, UpMessage};
use radio_io::{Backend, Reception, SemtechUdpBackend, SemtechUdpConfig};
use std::time::Duration;
use tokio::net::UdpSocket;

const FORWARDER_MAC: [u8; 8] = [0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1];
const GATEWAY_EUI: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];

/// An unconfirmed data uplink, a join request (23 bytes), and a frame that is not LoRaWAN.
const UPLINKS: &str = r#"{"rxpk":[
 {"time":"2026-11-25T16:21:17.528002Z","tmst":1,"chan":2,"rfch":0,"freq":904.1,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","lsnr":7.8,"rssi":-65,"size":15,"data":"QAECAwQAAQABqrsRIjNE"},
 {"time":"2026-11-25T16:21:18.000000Z","tmst":2,"chan":2,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF10BW125","codr":"4/5","lsnr":-2.5,"rssi":-99,"size":23,"data":"AAcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="},
 {"time":"2026-11-25T16:21:19.000000Z","tmst":3,"chan":2,"rfch":0,"freq":904.5,"stat":1,"modu":"LORA","datr":"SF7BW125","codr":"4/5","lsnr":3.0,"rssi":-80,"size":3,"data":"4AEC"}]}"#;

fn gwmp(mac: [u8; 8], token: u16, identifier: u8, json: &str) -> Vec<u8> {
    let mut datagram = vec![2, (token >> 8) as u8, token as u8, identifier];
    datagram.extend_from_slice(&mac);
    datagram.extend_from_slice(json.as_bytes());
    datagram
}

/// The fake network server: receives one datagram (5 s without one is a hang).
async fn lns_receive(lns: &UdpSocket) -> (Vec<u8>, std::net::SocketAddr) {
    let mut buf = vec![0u8; 65_535];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), lns.recv_from(&mut buf))
        .await
        .expect("a datagram for the network server")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

/// The next PUSH_DATA the network server gets (acknowledging it and any PULL_DATA meanwhile).
async fn next_push(lns: &UdpSocket) -> Vec<Reception> {
    loop {
        let (datagram, from) = lns_receive(lns).await;
        match decode_up(&datagram).expect("GWMP from the hotspot") {
            UpMessage::PullData { token, mac } => {
                assert_eq!(mac.as_bytes(), &GATEWAY_EUI[..]);
                let [hi, lo] = token.to_be_bytes();
                lns.send_to(&[2, hi, lo, 0x04], from).await.unwrap();
            }
            UpMessage::PushData { token, mac, body } => {
                assert_eq!(mac.as_bytes(), &GATEWAY_EUI[..]);
                let [hi, lo] = token.to_be_bytes();
                lns.send_to(&[2, hi, lo, 0x01], from).await.unwrap();
                return body
                    .expect("rxpk JSON")
                    .rxpk
                    .into_iter()
                    .map(|rxpk| rxpk.expect("a LoRa rxpk"))
                    .collect();
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn section(lns: &UdpSocket) -> LorawanSection {
    LorawanSection {
        forward_to: lns.local_addr().unwrap().to_string(),
        gateway_eui: hex::encode(GATEWAY_EUI),
        keepalive_secs: 1,
        ..LorawanSection::default()
    }
}

#[tokio::test]
async fn the_upstream_client_pushes_pulls_and_survives_its_server() {
    let lns = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let metrics = Metrics::new();
    let upstream = Upstream::from_config(&section(&lns), &[0; 32], &metrics, us915_limits())
        .await
        .unwrap()
        .expect("forwarding configured");
    // The keepalive comes first, unprompted.
    let (datagram, from) = lns_receive(&lns).await;
    let Ok(UpMessage::PullData { token, .. }) = decode_up(&datagram) else {
        panic!("expected PULL_DATA, got {datagram:?}");
    };
    let [hi, lo] = token.to_be_bytes();
    lns.send_to(&[2, hi, lo, 0x04], from).await.unwrap();

    let reception = Reception {
        frame: RxFrame {
            payload: vec![
                0x40, 1, 2, 3, 4, 0, 1, 0, 1, 0xaa, 0xbb, 0x11, 0x22, 0x33, 0x44,
            ],
            crc_ok: Some(true),
            spreading_factor: 9,
            bandwidth_hz: 125_000,
            coding_rate: 1,
            snr_db: 7.5,
            rssi_dbm: -65.0,
            cfo_hz: 0.0,
            sample_offset: 0,
        },
        frequency_hz: 904_100_000,
        timestamp_ns: 1_795_623_677_528_002_000,
    };
    upstream.forward(&reception, hotspot::uplink::UplinkKind::UnconfirmedDataUp);
    let pushed = next_push(&lns).await;
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].frame.payload, reception.frame.payload);
    assert_eq!(pushed[0].frequency_hz, reception.frequency_hz);
    assert_eq!(pushed[0].timestamp_ns, reception.timestamp_ns);
    assert_eq!(pushed[0].frame.rssi_dbm, -65.0);
    assert_eq!(pushed[0].frame.snr_db, 7.5);

    // A downlink it cannot read, garbage: counted, and the client keeps working.
    lns.send_to(
        br#"  {"txpk":{"imme":true,"freq":923.3,"rfch":0,"powe":14,"modu":"LORA","datr":"SF9BW500","codr":"4/5","ipol":true,"size":1,"data":"AQ=="}}"#,
        from,
    )
    .await
    .unwrap();
    let mut pull_resp = vec![2, 0x12, 0x34, 0x03];
    pull_resp.extend_from_slice(br#"{"txpk":{}}"#);
    lns.send_to(&pull_resp, from).await.unwrap();
    lns.send_to(&[9, 9, 9], from).await.unwrap();
    wait_for_metric(
        &metrics,
        r#"hotspot_upstream_total{event="downlinks_malformed"} 1"#,
    )
    .await;
    wait_for_metric(&metrics, r#"hotspot_upstream_total{event="garbage"} 2"#).await;
    upstream.forward(&reception, hotspot::uplink::UplinkKind::UnconfirmedDataUp);
    assert_eq!(next_push(&lns).await.len(), 1);
    wait_for_metric(&metrics, r#"hotspot_upstream_total{event="push_data"} 2"#).await;
    wait_for_metric(&metrics, r#"hotspot_upstream_total{event="push_ack"} 2"#).await;
    wait_for_metric(&metrics, r#"hotspot_upstream_total{event="pull_ack"}"#).await;
}

#[tokio::test]
async fn a_forwarders_uplinks_are_counted_and_forwarded_by_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let lns = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let metrics = Metrics::new();
    let upstream = Upstream::from_config(&section(&lns), &[0; 32], &metrics, us915_limits())
        .await
        .unwrap()
        .expect("forwarding configured");

    let backend = SemtechUdpBackend::bind(SemtechUdpConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let hotspot = Hotspot::new(
        Keypair::generate(),
        Region::Us915,
        (37.7793, -122.4192),
        30,
        10,
    )
    .unwrap();
    // No oracle: reports would wait in the spool; this test is about uplinks.
    let daemon = witnessing_daemon(hotspot, backend, dir.path(), &metrics).with_upstream(upstream);
    let (stop, running) = run_until_stopped(daemon);

    let forwarder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    forwarder.connect(backend_addr).await.unwrap();
    forwarder
        .send(&gwmp(FORWARDER_MAC, 0x0202, 0x00, UPLINKS))
        .await
        .unwrap();
    let mut ack = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), forwarder.recv(&mut ack))
        .await
        .expect("a PUSH_ACK")
        .unwrap();
    assert_eq!(&ack[..n], &[2, 0x02, 0x02, 0x01]);

    // The two device uplinks reach the network server, the non-LoRaWAN frame does not.
    let first = next_push(&lns).await;
    let second = next_push(&lns).await;
    assert_eq!(first[0].frame.payload.len(), 15);
    assert_eq!(first[0].frequency_hz, 904_100_000);
    assert_eq!(second[0].frame.payload.len(), 23);
    assert_eq!(second[0].frame.spreading_factor, 10);
    wait_for_metric(&metrics, r#"hotspot_uplinks_total{kind="not_lorawan"} 1"#).await;
    let text = metrics.render();
    assert!(
        text.contains(r#"hotspot_uplinks_total{kind="unconfirmed_data_up"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hotspot_uplinks_total{kind="join_request"} 1"#),
        "{text}"
    );

    stop.send(()).unwrap();
    let stats = running.await.unwrap().unwrap();
    assert_eq!(stats.frames_heard, 3);
    assert_eq!(stats.witnesses_queued, 0);
    // The backend's counters were copied into the metrics on the way out.
    let text = metrics.render();
    assert!(
        text.contains(r#"hotspot_radio_events{event="uplinks"} 3"#),
        "{text}"
    );
}

/// A daemon on `backend` that sends no beacons and reaches no oracle: its reports wait in the
/// spool under `dir`.
fn witnessing_daemon(
    hotspot: Hotspot,
    backend: SemtechUdpBackend,
    dir: &std::path::Path,
    metrics: &Metrics,
) -> Daemon<SemtechUdpBackend> {
    let client = OracleClient::connect_lazy("http://127.0.0.1:9", Duration::from_secs(1)).unwrap();
    let outbox = Outbox::open(dir, metrics.clone()).unwrap();
    Daemon::new(hotspot, client, backend, outbox, Duration::from_secs(3600))
        .with_metrics(metrics.clone())
        .without_beacons()
}

/// Runs `daemon` until the returned sender is used.
fn run_until_stopped(
    daemon: Daemon<SemtechUdpBackend>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<DaemonStats, DaemonError>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));
    (stop, running)
}

/// The oracle's entropy as the oracle signs it.
fn entropy(oracle: &Keypair) -> proto::Entropy {
    poc::testkit::entropy(oracle, vec![7; 32], 1_800_000_000_000)
}

/// A packet forwarder, connected: it has sent PULL_DATA, `backend` has taken it (in a receive
/// cut short, as the daemon's loop would) and answered with a PULL_ACK.
async fn connected_forwarder(backend: &mut SemtechUdpBackend) -> UdpSocket {
    let forwarder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    forwarder
        .connect(backend.local_addr().unwrap())
        .await
        .unwrap();
    forwarder
        .send(&gwmp(FORWARDER_MAC, 1, 0x02, ""))
        .await
        .unwrap();
    let receiving = tokio::time::timeout(Duration::from_millis(300), backend.receive()).await;
    assert!(receiving.is_err(), "no uplink was sent");
    let mut ack = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), forwarder.recv(&mut ack))
        .await
        .expect("a PULL_ACK")
        .unwrap();
    assert_eq!(&ack[..n], &[2, 0, 1, 0x04]);
    forwarder
}

/// Answers the next PULL_RESP with `ack`; returns the `powe` it asked for.
async fn answer_pull_resp(forwarder: &UdpSocket, ack: &str) -> u64 {
    let mut buf = vec![0u8; 65_535];
    let n = tokio::time::timeout(Duration::from_secs(5), forwarder.recv(&mut buf))
        .await
        .expect("a PULL_RESP")
        .unwrap();
    assert_eq!(buf[3], 0x03, "PULL_RESP");
    let json: serde_json::Value = serde_json::from_slice(&buf[4..n]).unwrap();
    let token = u16::from_be_bytes([buf[1], buf[2]]);
    forwarder
        .send(&gwmp(FORWARDER_MAC, token, 0x05, ack))
        .await
        .unwrap();
    json["txpk"]["powe"].as_u64().expect("powe")
}

/// A daemon for `hotspot` on a Semtech UDP backend with one connected packet forwarder, its
/// spool in `spool`; no oracle (reports stay spooled).
async fn daemon_on_a_forwarder(
    hotspot: Hotspot,
    spool: &std::path::Path,
) -> (Daemon<SemtechUdpBackend>, UdpSocket) {
    let mut backend =
        SemtechUdpBackend::bind(SemtechUdpConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let forwarder = connected_forwarder(&mut backend).await;
    let client = OracleClient::connect_lazy("http://127.0.0.1:9", Duration::from_secs(1)).unwrap();
    let outbox = Outbox::open(spool, Metrics::new()).unwrap();
    let daemon = Daemon::new(hotspot, client, backend, outbox, Duration::from_secs(3600));
    (daemon, forwarder)
}

#[tokio::test]
async fn a_beacon_is_filed_at_the_power_the_forwarder_used_and_not_at_all_when_refused() {
    let dir = tempfile::tempdir().unwrap();
    // US915 with a 3 dBi antenna: 36 − 3 = 33 dBm allowed, more than an SX1302 board has.
    let hotspot =
        Hotspot::new(Keypair::generate(), Region::Us915, (37.78, -122.42), 30, 10).unwrap();
    assert_eq!(hotspot.beacon_power_ddbm(), 330);
    let (mut daemon, forwarder) = daemon_on_a_forwarder(hotspot, dir.path()).await;
    let oracle = Keypair::generate();

    // The SX1302 forwarder's answer to 33 dBm, and the same with an explicit NONE error: sent,
    // at 27 dBm; the report says 27 dBm and is signed as such.
    for (n, ack) in [
        r#"{"txpk_ack":{"warn":"TX_POWER","value":27}}"#,
        r#"{"txpk_ack":{"error":"NONE","warn":"TX_POWER","value":27}}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let entropy = entropy(&oracle);
        let (filed, asked) = tokio::join!(
            daemon.beacon_with(&entropy, [n as u8; 4], 1_800_000_000_000),
            answer_pull_resp(&forwarder, ack)
        );
        assert_eq!(asked, 33);
        let filed = filed.unwrap().expect("the beacon went on air");
        assert_eq!(filed.report.tx_power_ddbm, 270, "{ack}");
        assert_eq!(filed.beacon.tx_power_ddbm, 270);
        filed.report.verify().expect("signed at the power used");
        assert_eq!(daemon.outbox().depth(), n + 1);
    }

    // Hard errors (the older forwarders' TX_POWER error, a warning without a power, a
    // collision, too late): nothing went on air, nothing is filed.
    for ack in [
        r#"{"txpk_ack":{"error":"TX_POWER"}}"#,
        r#"{"txpk_ack":{"warn":"TX_POWER"}}"#,
        r#"{"txpk_ack":{"error":"COLLISION_PACKET"}}"#,
        r#"{"txpk_ack":{"error":"TOO_LATE"}}"#,
    ] {
        let entropy = entropy(&oracle);
        let (filed, _) = tokio::join!(
            daemon.beacon_with(&entropy, [9; 4], 1_800_000_000_000),
            answer_pull_resp(&forwarder, ack)
        );
        assert!(filed.unwrap().is_none(), "{ack}");
    }
    assert_eq!(daemon.outbox().depth(), 2);
    assert_eq!(daemon.stats().beacons_sent, 2);
    assert_eq!(daemon.stats().beacons_skipped, 4);
}

#[tokio::test]
async fn a_board_with_less_power_than_the_region_allows_asks_for_its_most() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = hotspot::HotspotConfig::parse_with_profile(
        "region = \"US915\"\n[location]\nlat = 37.78\nlon = -122.42\n",
        Some("rak-hotspot-v2"),
    )
    .unwrap();
    let hotspot = Hotspot::from_config(Keypair::generate(), &config).unwrap();
    // 36 − 2.8 = 33.2 dBm allowed; the RAK2287 has 27.
    assert_eq!(hotspot.beacon_power_ddbm(), 270);
    let (mut daemon, forwarder) = daemon_on_a_forwarder(hotspot, dir.path()).await;
    let entropy = entropy(&Keypair::generate());
    let (filed, asked) = tokio::join!(
        daemon.beacon_with(&entropy, [1; 4], 1_800_000_000_000),
        answer_pull_resp(&forwarder, "")
    );
    assert_eq!(asked, 27);
    let filed = filed.unwrap().expect("sent");
    assert_eq!(filed.report.tx_power_ddbm, 270);
    filed.report.verify().unwrap();
}

#[tokio::test]
async fn keepalives_are_acknowledged_promptly_while_the_oracle_never_answers() {
    // An oracle that accepts connections and never says a word.
    let oracle = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let oracle_addr = oracle.local_addr().unwrap();
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let _mute_oracle = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = oracle.accept().await {
            held.push(socket);
            let _ = accepted_tx.send(());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let backend = SemtechUdpBackend::bind(SemtechUdpConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let hotspot =
        Hotspot::new(Keypair::generate(), Region::Us915, (37.78, -122.42), 30, 10).unwrap();
    // Calls give up after 15 s, as a deployed hotspot's do.
    let client =
        OracleClient::connect_lazy(&format!("http://{oracle_addr}"), Duration::from_secs(15))
            .unwrap();
    let outbox = Outbox::open(dir.path(), Metrics::new()).unwrap();
    // A beacon moment every second.
    let daemon = Daemon::new(hotspot, client, backend, outbox, Duration::from_secs(1));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));

    let forwarder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    forwarder.connect(backend_addr).await.unwrap();
    let mut slowest = Duration::ZERO;
    let mut buf = [0u8; 64];
    let start = std::time::Instant::now();
    let mut token = 0u16;
    while start.elapsed() < Duration::from_secs(4) {
        token += 1;
        let sent = std::time::Instant::now();
        forwarder
            .send(&gwmp(FORWARDER_MAC, token, 0x02, ""))
            .await
            .unwrap();
        let n = tokio::time::timeout(Duration::from_secs(1), forwarder.recv(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "PULL_DATA {token} not acknowledged within 1 s, {:?} after the start",
                    start.elapsed()
                )
            })
            .unwrap();
        assert_eq!(&buf[..n], &[2, (token >> 8) as u8, token as u8, 0x04]);
        slowest = slowest.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The beacon moments came and asked the oracle, which never answered.
    tokio::time::timeout(Duration::from_secs(1), accepted.recv())
        .await
        .expect("the oracle was asked for entropy")
        .unwrap();
    stop.send(()).unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the daemon stops at once")
        .unwrap()
        .unwrap();
    assert_eq!(stats.beacons_sent, 0);
    assert!(stats.beacons_skipped >= 1, "{stats:?}");
    assert!(slowest < Duration::from_millis(500), "{slowest:?}");
}

const OTHER_FORWARDER_MAC: [u8; 8] = [0xaa, 0x55, 0x5a, 0, 0, 0, 2, 2];

/// Another hotspot's 51-byte beacon (its first byte the beacon header 0xE0) on a US915 beacon
/// channel, as a forwarder heard it.
fn heard_beacon(rssi: i32, snr: f32) -> String {
    format!(
        r#"{{"rxpk":[{{"tmst":1000,"chan":1,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5","lsnr":{snr},"rssi":{rssi},"size":51,"data":"4AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"}}]}}"#
    )
}

/// Receives `expected` datagrams on `forwarder`, in order (5 s without one is a hang).
async fn expect_datagrams(forwarder: &UdpSocket, expected: &[[u8; 4]]) {
    for datagram in expected {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), forwarder.recv(&mut buf))
            .await
            .expect("an acknowledgement")
            .unwrap();
        assert_eq!(&buf[..n], datagram);
    }
}

#[tokio::test]
async fn a_beacon_heard_by_two_forwarders_is_one_witness_report_with_the_best_signal() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new();
    let backend = SemtechUdpBackend::bind(SemtechUdpConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let hotspot =
        Hotspot::new(Keypair::generate(), Region::Us915, (37.78, -122.42), 30, 10).unwrap();
    let (stop, running) =
        run_until_stopped(witnessing_daemon(hotspot, backend, dir.path(), &metrics));

    // Two gateways, each with its own EUI and address, hear the same beacon: the far one
    // weakly, the near one well. Each is acknowledged at its own address.
    let far = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let near = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (forwarder, mac, rssi, snr) in [
        (&far, FORWARDER_MAC, -121, -6.5),
        (&near, OTHER_FORWARDER_MAC, -97, 4.5),
    ] {
        forwarder.connect(backend_addr).await.unwrap();
        forwarder.send(&gwmp(mac, 0x10, 0x02, "")).await.unwrap();
        let uplink = heard_beacon(rssi, snr);
        forwarder
            .send(&gwmp(mac, 0x11, 0x00, &uplink))
            .await
            .unwrap();
    }
    for forwarder in [&far, &near] {
        expect_datagrams(forwarder, &[[2, 0, 0x10, 0x04], [2, 0, 0x11, 0x01]]).await;
    }
    wait_for_metric(&metrics, "hotspot_witnesses_accepted_total 1").await;
    // Well past the merge window: still one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();
    let stats = running.await.unwrap().unwrap();
    assert_eq!((stats.frames_heard, stats.witnesses_queued), (1, 1));
    let text = metrics.render();
    assert!(
        text.contains(r#"hotspot_radio_events{event="uplinks_merged"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hotspot_radio_events{event="forwarders_connected"} 2"#),
        "{text}"
    );

    let mut spool = hotspot::Spool::open(dir.path()).unwrap();
    let Some((_, hotspot::Report::Witness(report))) = spool.front().unwrap() else {
        panic!("a witness report in the spool");
    };
    assert_eq!(
        (report.rssi_ddbm, report.snr_ddb),
        (-970, 45),
        "the best signal"
    );
    assert_eq!(spool.len(), 1);
}

#[tokio::test]
async fn an_eu868_forwarder_on_a_us915_hotspot_is_refused_and_its_beacons_not_witnessed() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new();
    let hotspot =
        Hotspot::new(Keypair::generate(), Region::Us915, (37.78, -122.42), 30, 10).unwrap();
    let mut config = SemtechUdpConfig::new("127.0.0.1:0".parse().unwrap());
    config.channel_plan = Some(hotspot.channel_plan());
    let backend = SemtechUdpBackend::bind(config).await.unwrap();
    let backend_addr = backend.local_addr().unwrap();
    let (stop, running) =
        run_until_stopped(witnessing_daemon(hotspot, backend, dir.path(), &metrics));

    // An EU868 gateway hears a beacon on 868.1 MHz, then one on a US915 channel; a US915
    // gateway hears another hotspot's beacon.
    let eu868 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    eu868.connect(backend_addr).await.unwrap();
    let on_868 = heard_beacon(-80, 9.0).replace("904.3", "868.1");
    eu868
        .send(&gwmp(OTHER_FORWARDER_MAC, 1, 0x00, &on_868))
        .await
        .unwrap();
    eu868
        .send(&gwmp(OTHER_FORWARDER_MAC, 2, 0x00, &heard_beacon(-80, 9.0)))
        .await
        .unwrap();
    expect_datagrams(&eu868, &[[2, 0, 1, 0x01], [2, 0, 2, 0x01]]).await;
    let us915 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    us915.connect(backend_addr).await.unwrap();
    let other_beacon = heard_beacon(-100, 1.0).replace("4AEC", "4BEC");
    us915
        .send(&gwmp(FORWARDER_MAC, 3, 0x00, &other_beacon))
        .await
        .unwrap();
    expect_datagrams(&us915, &[[2, 0, 3, 0x01]]).await;
    wait_for_metric(&metrics, "hotspot_witnesses_accepted_total 1").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();
    let stats = running.await.unwrap().unwrap();
    assert_eq!((stats.frames_heard, stats.witnesses_queued), (1, 1));
    let text = metrics.render();
    for line in [
        r#"hotspot_radio_events{event="forwarders_refused"} 1"#,
        r#"hotspot_radio_events{event="uplinks_refused"} 2"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let mut spool = hotspot::Spool::open(dir.path()).unwrap();
    let Some((_, hotspot::Report::Witness(report))) = spool.front().unwrap() else {
        panic!("a witness report in the spool");
    };
    assert_eq!(report.frequency_hz, 904_300_000);
    assert_eq!(report.data[..2], [0xE0, 0x11], "the US915 gateway's beacon");
}
