//! Pay for use over loopback UDP: the hotspot forwards each LoRaWAN uplink to the route that
//! claims it (by DevAddr or by JoinEUI/DevEUI) among two fake network servers speaking GWMP
//! as Semtech's PROTOCOL.TXT describes, drops and counts what no route takes, refuses a bad
//! route file at start, and transmits a network server's downlink at the `tmst` it asks for
//! (or answers TOO_LATE) through a radio backend test double.

mod common;

use common::{us915_limits, wait_for_metric};

use hotspot::uplink::downlink::tmst_of;
use hotspot::uplink::{LorawanSection, UplinkKind, Upstream};
use hotspot::{Daemon, Hotspot, Metrics, OracleClient, Outbox};
use poc::proto::Region;
use poc::Keypair;
use radio::RxFrame;
use radio_io::gwmp::{decode_up, TxAccepted, TxRefusal, TxTiming, UpMessage};
use radio_io::{Backend, BackendError, Reception, Transmission, Transmitted};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const GATEWAY_EUI: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
/// A key address (from `routing/routes.example.toml`).
const PAYER: &str = "3mkinV6pBiKkgUUyAHvtyPikQDpynEZK8BfG1kdH5htnQbNMHM";
/// lora-packet's join request (routing's fixture): JoinEUI 70B3D57ED0000000, DevEUI
/// 0004A30B001C0530.
const JOIN: &str = "00000000d07ed5b37030051c000ba304004a2fe900800b";
/// lora-packet's README data uplink (routing's fixture): DevAddr 49BE7DF1, FCnt 2.
const README_DATA: &str = "40F17DBE4900020001954378762B11FF0D";

/// A data uplink of `dev_addr` built with the `lorawan` crate's creator.
fn data_uplink(dev_addr: u32, fcnt: u32) -> Vec<u8> {
    let mut creator = lorawan::creator::DataPayloadCreator::new();
    let fctrl = lorawan::parser::FCtrl::new(0x80, true);
    creator
        .set_confirmed(false)
        .set_uplink(true)
        .set_f_port(1)
        .set_dev_addr(&dev_addr.to_le_bytes())
        .set_fctrl(&fctrl)
        .set_fcnt(fcnt);
    let nwk_s_key = lorawan::keys::NewSKey::from([2; 16]);
    let app_s_key = lorawan::keys::AppSKey::from([1; 16]);
    let phy = creator
        .build(b"hello", &[], &nwk_s_key, &app_s_key)
        .unwrap()
        .to_vec();
    // The routing crate reads it as the DevAddr it was built with.
    assert_eq!(
        routing::parse_uplink(&phy).unwrap().key,
        routing::RoutingKey::Data {
            dev_addr,
            fcnt: fcnt as u16
        }
    );
    phy
}

fn now_ns() -> u64 {
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    ns / 1000 * 1000 // whole microseconds, as a tmst counts
}

fn reception(payload: Vec<u8>, timestamp_ns: u64) -> Reception {
    Reception {
        frame: RxFrame {
            payload,
            crc_ok: Some(true),
            spreading_factor: 9,
            bandwidth_hz: 125_000,
            coding_rate: 1,
            snr_db: 5.0,
            rssi_dbm: -90.0,
            cfo_hz: 0.0,
            sample_offset: 0,
        },
        frequency_hz: 904_100_000,
        timestamp_ns,
    }
}

/// Two routes to `a` (one by DevAddr, one inactive) and one to `b` (by JoinEUI).
fn route_file(dir: &Path, a: SocketAddr, b: SocketAddr) -> PathBuf {
    let text = format!(
        r#"
[[route]]
id = "alpha"
payer = "{PAYER}"
endpoint = {{ protocol = "gwmp", host = "127.0.0.1", port = {a_port} }}
dev_addr_ranges = [{{ start = "26011B00", end = "26011BFF" }}]
max_copies = 1

[[route]]
id = "beta"
payer = "{PAYER}"
endpoint = {{ protocol = "gwmp", host = "127.0.0.1", port = {b_port} }}
euis = [{{ join_eui = "70B3D57ED0000000" }}]
max_copies = 2

[[route]]
id = "gamma"
payer = "{PAYER}"
endpoint = {{ protocol = "gwmp", host = "127.0.0.1", port = {a_port} }}
dev_addr_ranges = [{{ start = "48000000", end = "480000FF" }}]
max_copies = 1
active = false
"#,
        a_port = a.port(),
        b_port = b.port(),
    );
    let path = dir.join("routes.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn section(routes: PathBuf) -> LorawanSection {
    LorawanSection {
        routes,
        gateway_eui: hex::encode(GATEWAY_EUI),
        keepalive_secs: 1,
        ..LorawanSection::default()
    }
}

/// A fake network server: the next PUSH_DATA's `rxpk` objects as JSON and where it came from,
/// acknowledging it and any PULL_DATA meanwhile; `None` if none comes within `wait`.
async fn next_push(lns: &UdpSocket, wait: Duration) -> Option<(Vec<Value>, SocketAddr)> {
    let mut buffer = vec![0u8; 65_535];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (n, from) = tokio::time::timeout_at(deadline, lns.recv_from(&mut buffer))
            .await
            .ok()?
            .unwrap();
        let datagram = &buffer[..n];
        let [hi, lo] = [datagram[1], datagram[2]];
        match decode_up(datagram).expect("GWMP from the hotspot") {
            UpMessage::PullData { mac, .. } => {
                assert_eq!(mac.as_bytes(), &GATEWAY_EUI[..]);
                lns.send_to(&[2, hi, lo, 0x04], from).await.unwrap();
            }
            UpMessage::PushData { mac, .. } => {
                assert_eq!(mac.as_bytes(), &GATEWAY_EUI[..]);
                lns.send_to(&[2, hi, lo, 0x01], from).await.unwrap();
                let json: Value = serde_json::from_slice(&datagram[12..]).unwrap();
                return Some((json["rxpk"].as_array().unwrap().clone(), from));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The `data` of an `rxpk`, decoded.
fn rxpk_data(rxpk: &Value) -> Vec<u8> {
    let reception = radio_io::gwmp::reception_from_json(rxpk).unwrap();
    reception.frame.payload
}

#[tokio::test]
async fn uplinks_go_to_the_route_that_claims_them_and_the_rest_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let path = route_file(dir.path(), a.local_addr().unwrap(), b.local_addr().unwrap());
    let metrics = Metrics::new();
    let upstream = Upstream::from_config(&section(path), &[0; 32], &metrics, us915_limits())
        .await
        .unwrap()
        .expect("forwarding configured");

    let alpha = data_uplink(0x2601_1BDA, 7);
    let join = hex::decode(JOIN).unwrap();
    let unrouted = hex::decode(README_DATA).unwrap();
    let inactive = data_uplink(0x4800_0001, 1);
    let mut bad_crc = reception(data_uplink(0x2601_1B01, 1), now_ns());
    bad_crc.frame.crc_ok = Some(false);
    let mut join_accept = vec![0x20];
    join_accept.extend_from_slice(&[0x55; 16]);
    for heard in [
        reception(unrouted, now_ns()),
        reception(join.clone(), now_ns()),
        reception(inactive, now_ns()),
        bad_crc,
        reception(vec![0xe0, 1, 2, 3], now_ns()),
        reception(join_accept, now_ns()),
        reception(alpha.clone(), now_ns()),
    ] {
        upstream.forward(&heard, UplinkKind::classify(&heard.frame));
    }

    let (to_a, _) = next_push(&a, Duration::from_secs(5))
        .await
        .expect("alpha's uplink");
    assert_eq!(to_a.len(), 1);
    assert_eq!(rxpk_data(&to_a[0]), alpha);
    let (to_b, _) = next_push(&b, Duration::from_secs(5))
        .await
        .expect("beta's join");
    assert_eq!(rxpk_data(&to_b[0]), join);
    // Nothing else reaches either server.
    assert!(next_push(&a, Duration::from_millis(300)).await.is_none());
    assert!(next_push(&b, Duration::from_millis(300)).await.is_none());

    for line in [
        r#"hotspot_uplinks_forwarded_total{route="alpha"} 1"#,
        r#"hotspot_uplinks_forwarded_total{route="beta"} 1"#,
        r#"hotspot_uplinks_dropped_total{reason="no_route"} 1"#,
        r#"hotspot_uplinks_dropped_total{reason="inactive_route"} 1"#,
        r#"hotspot_uplinks_dropped_total{reason="bad_crc"} 1"#,
        r#"hotspot_uplinks_dropped_total{reason="proprietary"} 1"#,
        r#"hotspot_uplinks_dropped_total{reason="not_an_uplink"} 1"#,
    ] {
        wait_for_metric(&metrics, line).await;
    }
    assert!(!metrics.render().contains(r#"route="gamma""#));
}

#[tokio::test]
async fn a_bad_route_file_is_refused_naming_the_route_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.toml");
    std::fs::write(
        &path,
        format!(
            "[[route]]\nid = \"acme\"\npayer = \"{PAYER}\"\nendpoint = {{ protocol = \"gwmp\", \
             host = \"lns\", port = 1700 }}\ndev_addr_ranges = [{{ start = \"4800ZZ\", end = \
             \"480000FF\" }}]\nmax_copies = 1\n"
        ),
    )
    .unwrap();
    let metrics = Metrics::new();
    let error = Upstream::from_config(&section(path.clone()), &[0; 32], &metrics, us915_limits())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("route acme"), "{error}");
    assert!(error.contains("dev_addr_ranges[0].start"), "{error}");

    // Both a single server and a route file: which one is meant is not guessed.
    let mut both = section(path.clone());
    both.forward_to = "127.0.0.1:1700".into();
    let error = Upstream::from_config(&both, &[0; 32], &metrics, us915_limits())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("not both"), "{error}");

    // The daemon stops at start with the same error, before it needs its key or radio.
    let config = dir.path().join("hotspot.toml");
    std::fs::write(
        &config,
        format!(
            "key = {:?}\nspool_dir = {:?}\n[lorawan]\nroutes = {path:?}\n",
            dir.path().join("absent-key.bin"),
            dir.path().join("spool")
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hotspot"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env_remove("HOTSPOT_CONFIG")
        .env_remove("HOTSPOT_PROFILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("route acme: dev_addr_ranges[0].start"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A radio test double: hands the test's receptions to the daemon and records each
/// transmission with the time the daemon handed it over.
struct TestRadio {
    heard: mpsc::Receiver<Reception>,
    sent: Arc<Mutex<Vec<(Transmission, u64)>>>,
}

impl Backend for TestRadio {
    async fn transmit(&mut self, transmission: &Transmission) -> Result<Transmitted, BackendError> {
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        self.sent.lock().unwrap().push((transmission.clone(), at));
        Ok(Transmitted::as_asked(transmission))
    }

    async fn receive(&mut self) -> Result<Option<Reception>, BackendError> {
        Ok(self.heard.recv().await)
    }
}

/// A PULL_RESP with a `txpk` at `tmst` (SF9 at 500 kHz on 923.3 MHz, 20 dBm).
fn pull_resp(token: u16, tmst: u32, payload: &[u8]) -> Vec<u8> {
    let transmission = Transmission {
        frequency_hz: 923_300_000,
        params: radio::params::LoraParams::new(9, 500_000),
        payload: payload.to_vec(),
        power_dbm: 20.0,
    };
    let txpk = radio_io::gwmp::txpk_for(&transmission, TxTiming::Tmst(tmst)).unwrap();
    radio_io::gwmp::encode_pull_resp(token, txpk).unwrap()
}

/// The TX_ACK for `token` (skipping PULL_DATA keepalives).
async fn tx_ack(lns: &UdpSocket, token: u16) -> Result<TxAccepted, TxRefusal> {
    let mut buffer = vec![0u8; 65_535];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), lns.recv_from(&mut buffer))
            .await
            .expect("a TX_ACK")
            .unwrap();
        if let Ok(UpMessage::TxAck {
            token: acked,
            outcome,
            ..
        }) = decode_up(&buffer[..n])
        {
            assert_eq!(acked, token);
            return outcome;
        }
    }
}

#[tokio::test]
async fn a_downlink_goes_out_at_its_tmst_and_a_late_one_is_answered_too_late() {
    let dir = tempfile::tempdir().unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let path = route_file(dir.path(), a.local_addr().unwrap(), b.local_addr().unwrap());
    let metrics = Metrics::new();
    let mut upstream = Upstream::from_config(&section(path), &[0; 32], &metrics, us915_limits())
        .await
        .unwrap()
        .expect("forwarding configured");

    // The client alone: the scheduled time is the uplink's time + 1 s, to the microsecond.
    let mut downlinks = upstream.take_downlinks().unwrap();
    let heard_at = now_ns();
    upstream.forward(
        &reception(data_uplink(0x2601_1BDA, 1), heard_at),
        UplinkKind::UnconfirmedDataUp,
    );
    let (rxpk, hotspot_addr) = next_push(&a, Duration::from_secs(5)).await.unwrap();
    let tmst = rxpk[0]["tmst"].as_u64().unwrap() as u32;
    assert_eq!(tmst, tmst_of(heard_at));
    a.send_to(
        &pull_resp(0x0101, tmst.wrapping_add(1_000_000), &[9; 12]),
        hotspot_addr,
    )
    .await
    .unwrap();
    assert_eq!(tx_ack(&a, 0x0101).await, Ok(TxAccepted::AsAsked));
    let downlink = downlinks.recv().await.unwrap();
    assert_eq!(downlink.at_unix_ns, Some(heard_at + 1_000_000_000));
    assert_eq!(downlink.transmission.frequency_hz, 923_300_000);
    assert_eq!(downlink.transmission.params.bandwidth_hz, 500_000);
    assert_eq!(downlink.transmission.payload, [9; 12]);
    drop(upstream);

    // The daemon: the radio gets the downlink at its time (minus the lead), not before.
    let metrics = Metrics::new();
    let path = route_file(dir.path(), a.local_addr().unwrap(), b.local_addr().unwrap());
    let upstream = Upstream::from_config(&section(path), &[0; 32], &metrics, us915_limits())
        .await
        .unwrap()
        .unwrap();
    let (hear, heard) = mpsc::channel(8);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let radio = TestRadio {
        heard,
        sent: sent.clone(),
    };
    let hotspot =
        Hotspot::new(Keypair::generate(), Region::Us915, (37.78, -122.42), 30, 10).unwrap();
    let client = OracleClient::connect_lazy("http://127.0.0.1:9", Duration::from_secs(1)).unwrap();
    let outbox = Outbox::open(&dir.path().join("spool"), metrics.clone()).unwrap();
    let daemon = Daemon::new(hotspot, client, radio, outbox, Duration::from_secs(3600))
        .with_metrics(metrics.clone())
        .without_beacons()
        .with_upstream(upstream);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));

    let heard_at = now_ns();
    hear.send(reception(data_uplink(0x2601_1BDA, 2), heard_at))
        .await
        .unwrap();
    let (rxpk, hotspot_addr) = next_push(&a, Duration::from_secs(5)).await.unwrap();
    let tmst = rxpk[0]["tmst"].as_u64().unwrap() as u32;
    // Too late: 1 ms after the uplink has passed.
    a.send_to(
        &pull_resp(0x0202, tmst.wrapping_add(1_000), &[7; 5]),
        hotspot_addr,
    )
    .await
    .unwrap();
    assert_eq!(tx_ack(&a, 0x0202).await, Err(TxRefusal::TooLate));
    a.send_to(
        &pull_resp(0x0203, tmst.wrapping_add(1_000_000), &[8; 10]),
        hotspot_addr,
    )
    .await
    .unwrap();
    assert_eq!(tx_ack(&a, 0x0203).await, Ok(TxAccepted::AsAsked));
    wait_for_metric(
        &metrics,
        r#"hotspot_downlinks_total{outcome="transmitted"} 1"#,
    )
    .await;
    let due = heard_at + 1_000_000_000;
    let lead = us915_limits().lead.as_nanos() as u64;
    {
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 1, "only the timely downlink is transmitted");
        let (transmission, handed_at) = &sent[0];
        assert_eq!(transmission.payload, [8; 10]);
        assert!(
            *handed_at >= due - lead,
            "handed over {} µs early",
            (due - lead - handed_at) / 1000
        );
        // Not after its time either, give or take a loaded machine's timer.
        assert!(
            *handed_at < due + 100_000_000,
            "handed over {} µs late",
            (handed_at - due) / 1000
        );
    }
    wait_for_metric(
        &metrics,
        r#"hotspot_upstream_total{event="tx_ack_too_late"} 1"#,
    )
    .await;
    stop.send(()).unwrap();
    let stats = running.await.unwrap().unwrap();
    assert_eq!(stats.downlinks_sent, 1);
}
