//! The LoRa Basics Station backend against simulated stations speaking the LNS protocol over
//! real websockets on loopback, as Semtech documents it: discovery on `/router-info`, the
//! `version` message answered with a `router_config` of the region, `updf`/`jreq`/`propdf`
//! uplinks turned into receptions (one frame from two stations merged), `dnmsg` downlinks
//! confirmed by `dntxed`, `timesync` answered with GPS time, a station off the region's band
//! refused, and garbage survived; and the messages the reference station (LoRa Basics Station
//! 2.0.6, `tests/fixtures/basicstation-2.0.6.jsonl`) sent, replayed.

use futures::{SinkExt, StreamExt};
use radio::LoraParams;
use radio_io::{
    Backend, BackendError, BasicStationBackend, BasicStationConfig, ChannelPlan, Transmission,
};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ROUTER: &str = "b827:ebff:fe61:f1bc";
/// A 51-byte frame whose first byte is a proprietary MHDR: a station forwards it as `propdf`.
const BEACON_HEX: &str = "E0000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F3031";

fn us915() -> ChannelPlan {
    ChannelPlan {
        region: "US915".into(),
        band_hz: (902_000_000, 928_000_000),
        channels_hz: (0..8).map(|i| 903_900_000 + i * 200_000).collect(),
        datarates: vec![(10, 125_000), (9, 125_000), (8, 125_000), (7, 125_000)],
    }
}

fn eu868() -> ChannelPlan {
    ChannelPlan {
        region: "EU868".into(),
        band_hz: (863_000_000, 870_000_000),
        channels_hz: vec![
            868_100_000,
            868_300_000,
            868_500_000,
            867_100_000,
            867_300_000,
            867_500_000,
            867_700_000,
            867_900_000,
        ],
        datarates: (7..=12).rev().map(|sf| (sf, 125_000)).collect(),
    }
}

/// What the reference station sent, one message a line, keyed by `msgtype`.
fn reference_messages() -> Vec<(String, Value)> {
    include_str!("fixtures/basicstation-2.0.6.jsonl")
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            (
                value["msgtype"].as_str().expect("a msgtype").to_string(),
                value,
            )
        })
        .collect()
}

fn reference_message(kind: &str) -> Value {
    reference_messages()
        .into_iter()
        .find(|(msgtype, _)| msgtype == kind)
        .unwrap_or_else(|| panic!("no {kind} in the fixture"))
        .1
}

async fn backend(dntxed_timeout: Duration) -> BasicStationBackend {
    backend_in(us915(), dntxed_timeout).await
}

async fn backend_in(plan: ChannelPlan, dntxed_timeout: Duration) -> BasicStationBackend {
    let mut config = BasicStationConfig::new("127.0.0.1:0".parse().unwrap(), plan, 26.0);
    config.dntxed_timeout = dntxed_timeout;
    BasicStationBackend::bind(config).await.unwrap()
}

/// The next text message from the LNS, as JSON (5 s without one is a hang).
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message from the LNS")
            .expect("an open connection")
            .expect("a readable message");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("JSON from the LNS");
        }
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// A station's start: discovery on `/router-info`, then its muxs connection with `version`;
/// returns the connection and the `router_config` it got.
async fn connect_station(backend: &BasicStationBackend, router: &str) -> (Ws, Value) {
    let addr = backend.local_addr();
    let (mut info, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/router-info"))
        .await
        .unwrap();
    send(&mut info, json!({"router": router})).await;
    let answer = next_json(&mut info).await;
    assert_eq!(answer["router"], router);
    assert!(answer["muxs"].is_string(), "{answer}");
    let uri = answer["uri"].as_str().expect("a muxs URI").to_string();
    assert_eq!(uri, format!("ws://{addr}/router-{router}"));
    let (mut muxs, _) = tokio_tungstenite::connect_async(uri).await.unwrap();
    send(
        &mut muxs,
        json!({"msgtype": "version", "station": "2.0.6(linux/std)", "firmware": null,
               "package": null, "model": "linux", "protocol": 2, "features": "rmtsh"}),
    )
    .await;
    let config = next_json(&mut muxs).await;
    (muxs, config)
}

fn propdf(hex: &str, freq: u64, dr: u8, rssi: i32, snr: f64) -> Value {
    json!({"msgtype": "propdf", "FRMPayload": hex, "DR": dr, "Freq": freq,
           "RefTime": 0.0,
           "upinfo": {"rctx": 0, "xtime": 1, "gpstime": 0, "fts": -1, "rssi": rssi, "snr": snr,
                      "rxtime": 1_795_623_677.25}})
}

fn beacon() -> Transmission {
    Transmission {
        frequency_hz: 904_500_000,
        params: LoraParams::new(9, 125_000),
        payload: hex::decode(BEACON_HEX).unwrap(),
        power_dbm: 30.0,
    }
}

fn counter(backend: &BasicStationBackend, name: &str) -> u64 {
    backend
        .counters()
        .into_iter()
        .find(|(counter, _)| *counter == name)
        .unwrap_or_else(|| panic!("no counter {name}"))
        .1
}

#[tokio::test]
async fn a_station_is_configured_for_the_region_and_its_uplinks_are_heard() {
    let mut backend = backend(Duration::from_secs(5)).await;
    let (mut station, config) = connect_station(&backend, ROUTER).await;
    assert_eq!(config["msgtype"], "router_config");
    assert_eq!(config["region"], "US915");
    assert_eq!(config["hwspec"], "sx1301/1");
    assert_eq!(
        config["freq_range"],
        json!([902_000_000u64, 928_000_000u64])
    );
    assert_eq!(
        config["DRs"],
        json!([[10, 125, 0], [9, 125, 0], [8, 125, 0], [7, 125, 0]])
    );
    assert_eq!(config["upchannels"].as_array().unwrap().len(), 8);
    assert_eq!(config["upchannels"][7], json!([905_300_000u64, 0, 3]));
    assert_eq!(config["sx1301_conf"][0]["radio_0"]["freq"], 904_300_000u64);
    assert_eq!(config["max_eirp"], 26.0);

    // A data uplink (the 15-byte frame 40 01020304 00 0100 01 aabb 11223344), a join request
    // and a proprietary frame.
    send(
        &mut station,
        json!({"msgtype": "updf", "MHdr": 64, "DevAddr": 67305985, "FCtrl": 0, "FCnt": 1,
               "FOpts": "", "FPort": 1, "FRMPayload": "AABB", "MIC": 1144201745,
               "RefTime": 0.0, "DR": 1, "Freq": 904_100_000,
               "upinfo": {"rctx": 0, "xtime": 1, "gpstime": 0, "fts": -1, "rssi": -65,
                          "snr": 7.75, "rxtime": 1_795_623_677.5}}),
    )
    .await;
    send(
        &mut station,
        json!({"msgtype": "jreq", "MHdr": 0, "JoinEui": "01-02-03-04-05-06-07-08",
               "DevEui": "11-12-13-14-15-16-17-18", "DevNonce": 513, "MIC": -1,
               "RefTime": 0.0, "DR": 0, "Freq": 903_900_000,
               "upinfo": {"rctx": 0, "xtime": 2, "gpstime": 0, "fts": -1, "rssi": -110,
                          "snr": -4.5, "rxtime": 1_795_623_678.0}}),
    )
    .await;
    send(&mut station, propdf(BEACON_HEX, 904_300_000, 1, -100, 2.5)).await;

    let data = backend.receive().await.unwrap().unwrap();
    assert_eq!(
        hex::encode(&data.frame.payload),
        "400102030400010001aabb11223344"
    );
    assert_eq!(
        (data.frame.spreading_factor, data.frequency_hz),
        (9, 904_100_000)
    );
    assert_eq!((data.frame.rssi_dbm, data.frame.snr_db), (-65.0, 7.75));
    assert_eq!(data.timestamp_ns, 1_795_623_677_500_000_000);
    let join = backend.receive().await.unwrap().unwrap();
    assert_eq!(join.frame.payload.len(), 23);
    assert_eq!(join.frame.spreading_factor, 10);
    let heard = backend.receive().await.unwrap().unwrap();
    assert_eq!(heard.frame.payload, hex::decode(BEACON_HEX).unwrap());
    assert_eq!(heard.frame.crc_ok, Some(true));
    assert_eq!(counter(&backend, "uplinks"), 3);
    assert_eq!(backend.stations(), vec![(ROUTER.to_string(), None)]);
}

#[tokio::test]
async fn a_beacon_goes_out_as_a_dnmsg_and_counts_once_confirmed() {
    let mut backend = backend(Duration::from_millis(500)).await;
    // Nobody connected: refused at once.
    match backend.transmit(&beacon()).await {
        Err(BackendError::Refused(reason)) => assert!(reason.contains("no Basic Station")),
        other => panic!("{other:?}"),
    }
    let (mut station, _) = connect_station(&backend, ROUTER).await;

    let station_side = async {
        let dnmsg = next_json(&mut station).await;
        assert_eq!(dnmsg["msgtype"], "dnmsg");
        assert_eq!(dnmsg["dC"], 2, "class C: at once");
        assert_eq!(dnmsg["RX2Freq"], 904_500_000u64);
        assert_eq!(dnmsg["RX2DR"], 1);
        assert_eq!(dnmsg["pdu"], BEACON_HEX);
        assert_eq!(dnmsg["addcrc"], 1);
        assert!(dnmsg["DevEui"]
            .as_str()
            .is_some_and(|eui| eui != "00-00-00-00-00-00-00-00"));
        // A dntxed for another downlink first: stray, ignored.
        let diid = dnmsg["diid"].as_i64().unwrap();
        send(
            &mut station,
            json!({"msgtype": "dntxed", "diid": diid + 100}),
        )
        .await;
        send(
            &mut station,
            json!({"msgtype": "dntxed", "seqno": diid, "diid": diid, "DR": 1,
                   "Freq": 904_500_000, "DevEui": dnmsg["DevEui"], "rctx": 0, "xtime": 5,
                   "txtime": 1.5, "gpstime": 0}),
        )
        .await;
    };
    let frame = beacon();
    let (sent, ()) = tokio::join!(backend.transmit(&frame), station_side);
    assert_eq!(
        sent.unwrap().power_dbm,
        26.0,
        "the station's most, not the 30 asked"
    );
    assert_eq!(counter(&backend, "stray_dntxed"), 1);

    // Unconfirmed: not sent, no report.
    let station_side = async {
        next_json(&mut station).await;
    };
    let frame = beacon();
    let (sent, ()) = tokio::join!(backend.transmit(&frame), station_side);
    match sent {
        Err(BackendError::Refused(reason)) => assert!(reason.contains("dntxed"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A modulation the plan has no data rate for is refused before anything is sent.
    let mut sf12 = beacon();
    sf12.params = LoraParams::new(12, 125_000);
    assert!(backend.transmit(&sf12).await.is_err());
    assert_eq!(counter(&backend, "tx_ok"), 1);
    assert_eq!(counter(&backend, "tx_refused"), 3);
}

#[tokio::test]
async fn one_frame_from_two_stations_is_one_reception_with_the_best_signal() {
    let mut backend = backend(Duration::from_secs(5)).await;
    let (mut far, _) = connect_station(&backend, "::1").await;
    let (mut near, _) = connect_station(&backend, "::2").await;
    send(&mut far, propdf(BEACON_HEX, 904_300_000, 1, -119, -7.0)).await;
    send(&mut near, propdf(BEACON_HEX, 904_300_000, 1, -96, 5.5)).await;
    let heard = backend.receive().await.unwrap().unwrap();
    assert_eq!((heard.frame.rssi_dbm, heard.frame.snr_db), (-96.0, 5.5));
    let more = tokio::time::timeout(Duration::from_millis(400), backend.receive()).await;
    assert!(more.is_err(), "{more:?}");
    assert_eq!(counter(&backend, "uplinks_merged"), 1);
    assert_eq!(counter(&backend, "stations_known"), 2);
}

#[tokio::test]
async fn a_station_off_the_band_is_refused_and_garbage_is_survived() {
    let mut backend = backend(Duration::from_millis(300)).await;
    let (mut eu868, _) = connect_station(&backend, "::e8").await;
    let (mut us915, _) = connect_station(&backend, "::9f").await;

    send(&mut eu868, propdf(BEACON_HEX, 868_100_000, 1, -80, 9.0)).await;
    send(&mut eu868, propdf("E0AABB", 904_300_000, 1, -80, 9.0)).await;
    for garbage in [
        Message::text("not json"),
        Message::text("[]"),
        Message::text(r#"{"msgtype":"updf","DR":1}"#),
        Message::text(
            r#"{"msgtype":"propdf","FRMPayload":"E0A","DR":1,"Freq":904300000,"upinfo":{"rssi":-1,"snr":1}}"#,
        ),
        Message::text(r#"{"msgtype":"rmtsh","rmtsh":[]}"#),
        Message::binary(vec![0xff; 10]),
    ] {
        us915.send(garbage).await.unwrap();
    }
    send(&mut us915, propdf("E0CCDD", 904_300_000, 9, -80, 9.0)).await;
    send(&mut us915, propdf("E0EEFF", 904_300_000, 3, -80, 9.0)).await;
    let heard = backend.receive().await.unwrap().unwrap();
    assert_eq!(
        heard.frame.payload,
        [0xe0, 0xee, 0xff],
        "only the US915 station's frame"
    );
    assert_eq!(heard.frame.spreading_factor, 7);

    let stations = backend.stations();
    let refusal = stations
        .iter()
        .find(|(router, _)| router == "::e8")
        .and_then(|(_, refused)| refused.clone())
        .expect("the EU868 station is refused");
    let message = refusal.to_string();
    for part in ["::e8", "868100000 Hz", "US915"] {
        assert!(message.contains(part), "{message}");
    }
    assert_eq!(counter(&backend, "stations_refused"), 1);
    assert_eq!(counter(&backend, "uplinks_refused"), 2);
    assert_eq!(counter(&backend, "bad_messages"), 5);
    assert_eq!(counter(&backend, "other_messages"), 1);
    assert_eq!(
        counter(&backend, "unusable_uplinks"),
        1,
        "DR9 is not in the plan"
    );

    // The refused station connected first, the US915 one last: beacons go to the US915 one
    // even once the refused one reconnects.
    drop(eu868);
    let (mut eu868, _) = connect_station(&backend, "::e8").await;
    send(&mut eu868, propdf("E01122", 868_300_000, 1, -80, 9.0)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let station_side = async {
        let dnmsg = next_json(&mut us915).await;
        send(
            &mut us915,
            json!({"msgtype": "dntxed", "diid": dnmsg["diid"]}),
        )
        .await;
    };
    let frame = beacon();
    let (sent, ()) = tokio::join!(backend.transmit(&frame), station_side);
    sent.unwrap();

    // Discovery with an unusable router id is answered with an error.
    let addr = backend.local_addr();
    let (mut info, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/router-info"))
        .await
        .unwrap();
    send(&mut info, json!({"router": "../../etc"})).await;
    let answer = next_json(&mut info).await;
    assert!(answer["error"].is_string(), "{answer}");
}

#[tokio::test]
async fn the_reference_stations_messages_are_understood() {
    let mut backend = backend_in(eu868(), Duration::from_secs(5)).await;
    let (mut station, config) = connect_station(&backend, "b827:ebff:fe00:1").await;
    assert_eq!(config["region"], "EU868");
    send(&mut station, reference_message("version")).await;
    assert_eq!(next_json(&mut station).await["msgtype"], "router_config");

    // Its uplinks, as the simulated radio heard them: a data frame, a join request and a
    // beacon-shaped proprietary frame, each rebuilt byte for byte.
    for (kind, frame, sf) in [
        ("updf", "40da1b012600070001010244332211", 9),
        ("jreq", "00080706050403020118171615141312110201ffffffff", 9),
        (
            "propdf",
            &format!("e0{}", hex::encode((1..51).collect::<Vec<u8>>())),
            12,
        ),
    ] {
        send(&mut station, reference_message(kind)).await;
        let heard = tokio::time::timeout(Duration::from_secs(5), backend.receive())
            .await
            .expect("a reception")
            .unwrap()
            .expect("the backend is open");
        assert_eq!(hex::encode(&heard.frame.payload), frame, "{kind}");
        assert_eq!(heard.frame.spreading_factor, sf, "{kind}");
        assert_eq!((heard.frame.rssi_dbm, heard.frame.snr_db), (-50.0, 9.0));
    }

    // Its timesync (a station with a PPS sends them until answered): txtime echoed, GPS time.
    let before = radio_io::lns::gps_time_us(unix_us());
    send(&mut station, reference_message("timesync")).await;
    let answer = next_json(&mut station).await;
    assert_eq!(answer["msgtype"], "timesync");
    assert_eq!(answer["txtime"], 2_359_764_353u64);
    let gpstime = answer["gpstime"].as_u64().expect("gpstime in microseconds");
    assert!(
        (before..=radio_io::lns::gps_time_us(unix_us())).contains(&gpstime),
        "{answer}"
    );

    // Its dntxed of downlink 1 confirms the first transmission.
    let transmission = Transmission {
        frequency_hz: 868_100_000,
        params: LoraParams::new(12, 125_000),
        payload: vec![0xe0; 51],
        power_dbm: 14.0,
    };
    let station_side = async {
        let dnmsg = next_json(&mut station).await;
        assert_eq!(
            (dnmsg["diid"].clone(), dnmsg["RX2DR"].clone()),
            (json!(1), json!(0))
        );
        send(&mut station, reference_message("dntxed")).await;
    };
    let (sent, ()) = tokio::join!(backend.transmit(&transmission), station_side);
    assert_eq!(sent.unwrap().power_dbm, 14.0);
    assert_eq!(counter(&backend, "bad_messages"), 0);
    assert_eq!(counter(&backend, "timesyncs"), 1);
}

fn unix_us() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(since.as_micros()).unwrap()
}
