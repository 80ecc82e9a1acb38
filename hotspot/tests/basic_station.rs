//! The hotspot on a LoRa Basics Station gateway, end to end over a loopback websocket: a
//! simulated station discovers the hotspot's LNS, gets a `router_config` of the hotspot's
//! region, transmits the hotspot's beacon as a `dnmsg` (the report filed at the station's power
//! once its `dntxed` comes), and forwards another hotspot's beacon, which becomes a witness
//! report.

use futures::{SinkExt, StreamExt};
use hotspot::{Daemon, Hotspot, Metrics, OracleClient, Outbox};
use poc::proto::{self, Region};
use poc::{Keypair, Signable};
use radio_io::{BasicStationBackend, BasicStationConfig};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message from the hotspot")
            .expect("an open connection")
            .expect("a readable message");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// The oracle's entropy as the oracle signs it.
fn entropy(oracle: &Keypair) -> proto::Entropy {
    poc::testkit::entropy(oracle, vec![7; 32], 1_800_000_000_000)
}

#[tokio::test]
async fn a_basic_station_gateway_beacons_and_witnesses_for_the_hotspot() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new();
    // EU868 with a 3 dBi antenna: beacons at 16 − 3 = 13 dBm, SF12.
    let hotspot = Hotspot::new(Keypair::generate(), Region::Eu868, (48.85, 2.35), 30, 10).unwrap();
    let config = BasicStationConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        hotspot.channel_plan(),
        radio_io::lns::station_default_power_dbm("EU868"),
    );
    let backend = BasicStationBackend::bind(config).await.unwrap();
    let addr = backend.local_addr();
    let client = OracleClient::connect_lazy("http://127.0.0.1:9", Duration::from_secs(1)).unwrap();
    let outbox = Outbox::open(dir.path(), metrics.clone()).unwrap();
    let mut daemon = Daemon::new(hotspot, client, backend, outbox, Duration::from_secs(3600))
        .with_metrics(metrics.clone());

    let (mut info, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/router-info"))
        .await
        .unwrap();
    send(&mut info, json!({"router": "::1"})).await;
    let uri = next_json(&mut info).await["uri"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut station, _) = tokio_tungstenite::connect_async(uri).await.unwrap();
    send(
        &mut station,
        json!({"msgtype": "version", "station": "2.0.6", "protocol": 2}),
    )
    .await;
    let router_config = next_json(&mut station).await;
    assert_eq!(router_config["region"], "EU868");
    assert_eq!(
        router_config["freq_range"],
        json!([863_000_000u64, 870_000_000u64])
    );
    assert_eq!(router_config["DRs"][0], json!([12, 125, 0]));

    // The beacon: a dnmsg on its channel at SF12 (DR0), confirmed.
    let station_side = async {
        let dnmsg = next_json(&mut station).await;
        send(
            &mut station,
            json!({"msgtype": "dntxed", "diid": dnmsg["diid"]}),
        )
        .await;
        dnmsg
    };
    let entropy = entropy(&Keypair::generate());
    let (filed, dnmsg) = tokio::join!(
        daemon.beacon_with(&entropy, [1; 4], 1_800_000_000_000),
        station_side
    );
    let filed = filed.unwrap().expect("the station confirmed the beacon");
    assert_eq!(dnmsg["RX2DR"], 0);
    assert_eq!(dnmsg["RX2Freq"], filed.beacon.frequency_hz);
    assert_eq!(dnmsg["pdu"], hex::encode_upper(&filed.beacon.payload));
    assert_eq!(
        filed.report.tx_power_ddbm, 130,
        "13 dBm, below the station's 16"
    );
    filed.report.verify().unwrap();

    // Another hotspot's beacon, forwarded as a proprietary frame: a witness report.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));
    let mut heard = vec![0xe0];
    heard.extend(1..51u8);
    send(
        &mut station,
        json!({"msgtype": "propdf", "FRMPayload": hex::encode_upper(&heard), "DR": 0,
               "Freq": 868_100_000, "RefTime": 0.0,
               "upinfo": {"rctx": 0, "xtime": 1, "gpstime": 0, "fts": -1, "rssi": -108,
                          "snr": -3.25, "rxtime": 1_800_000_000.5}}),
    )
    .await;
    for _ in 0..500 {
        if metrics
            .render()
            .contains("hotspot_witnesses_accepted_total 1")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    let stats = running.await.unwrap().unwrap();
    assert_eq!((stats.beacons_sent, stats.witnesses_queued), (1, 1));
    let text = metrics.render();
    assert!(
        text.contains(r#"hotspot_radio_events{event="tx_ok"} 1"#),
        "{text}"
    );
}
