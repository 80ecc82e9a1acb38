//! Malformed, oversized, replayed and forged requests, over real gRPC and HTTP connections:
//! each gets a clear error (or, for an exact replay, the same acknowledgement as the original)
//! and changes nothing in the store.
//!
//! "Nothing" is checked on every table count and on the gateways themselves. The one thing a
//! refused but decodable report adds is its audit row in `ingest_rejections` (shown by the
//! explorer, ignored by reputation); the tests assert exactly how many such rows appear.

use crate::common::*;
use oracle::store::GatewayRow;
use oracle::{OracleConfig, MAX_GRPC_MESSAGE};
use poc::proto::poc_lora_client::PocLoraClient;
use poc::proto::{self, Region};
use prost::Message;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;
use tonic::Code;

/// What the store holds: every table count and every gateway.
#[derive(Debug, PartialEq)]
struct Snapshot {
    counts: BTreeMap<String, u64>,
    gateways: Vec<GatewayRow>,
}

async fn snapshot(net: &Net) -> Snapshot {
    let store = net.oracle.store();
    Snapshot {
        counts: store.table_counts().await.unwrap(),
        gateways: store.gateways().await.unwrap(),
    }
}

/// `after` equals `before` except for `rejections` more ingest rejections.
fn assert_unchanged(before: &Snapshot, after: &Snapshot, rejections: u64, what: &str) {
    let mut expected = before.counts.clone();
    *expected.entry("ingest_rejections".into()).or_default() += rejections;
    assert_eq!(after.counts, expected, "{what} changed the store");
    assert_eq!(after.gateways, before.gateways, "{what} changed a gateway");
}

const METHODS: [&str; 5] = [
    "/lorapoc.v1.PocLora/SubmitBeacon",
    "/lorapoc.v1.PocLora/SubmitWitness",
    "/lorapoc.v1.PocLora/AssertLocation",
    "/lorapoc.v1.PocLora/GetGatewayInfo",
    "/lorapoc.v1.PocLora/GetEntropy",
];

async fn serve(net: &Net) -> (SocketAddr, PocLoraClient<Channel>) {
    let (addr, _task) = net
        .oracle
        .serve_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (addr, PocLoraClient::new(channel(addr).await))
}

#[tokio::test]
async fn garbage_bodies_are_invalid_arguments_and_change_nothing() {
    let net = Net::new().await;
    let (addr, _) = serve(&net).await;
    let (_, _, beacon, witness) = net.baseline().await;
    let before = snapshot(&net).await;

    let mut truncated = witness.encode_to_vec();
    truncated.truncate(truncated.len() - 7);
    let bodies: Vec<Vec<u8>> = vec![
        vec![0xff; 40],                     // wire type 7 does not exist
        vec![0x0a, 0xff, 0xff, 0xff, 0x0f], // a length far past the end
        vec![
            0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
        ], // varint over 10 bytes
        truncated,
        beacon.encode_to_vec()[..9].to_vec(),
    ];
    for method in METHODS {
        for body in &bodies {
            let status = raw_call(addr, method, body.clone()).await;
            // GetEntropy's request has no fields: unknown fields are skipped, so only bodies
            // that cannot be parsed at all are refused there.
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{method} {body:02x?}: {status:?}"
            );
            assert!(
                status.message().contains("decode"),
                "{method}: unclear message {:?}",
                status.message()
            );
        }
    }
    assert_unchanged(&before, &snapshot(&net).await, 0, "garbage");
}

#[tokio::test]
async fn oversized_requests_are_refused_before_decoding_and_change_nothing() {
    let net = Net::new().await;
    let (addr, mut client) = serve(&net).await;
    let (_, w, beacon, _) = net.baseline().await;
    let before = snapshot(&net).await;

    // Over the decoder's limit: refused by the transport, the oracle never sees it.
    let mut big = witness_report(&w, &beacon, RSSI, SNR);
    big.data = vec![7; MAX_GRPC_MESSAGE + 1];
    let big = resign(big, &w.key);
    for method in METHODS {
        let status = raw_call(addr, method, big.encode_to_vec()).await;
        assert_eq!(status.code(), Code::OutOfRange, "{method}: {status:?}");
        assert!(
            status.message().contains("too large"),
            "{}",
            status.message()
        );
    }
    assert_unchanged(&before, &snapshot(&net).await, 0, "an oversized message");

    // Under the transport's limit but over a LoRa frame: decoded, refused as malformed, and
    // only the refusal is recorded.
    let mut long = witness_report(&w, &beacon, RSSI, SNR);
    long.data = vec![7; 256];
    let long = resign(long, &w.key);
    let err = client.submit_witness(long).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("malformed"), "{}", err.message());
    let mut wide = beacon.clone();
    wide.remote_entropy = vec![1; 300];
    let err = client.submit_beacon(wide).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .get_gateway_info(proto::GatewayInfoReq {
            pub_key: vec![1; 33],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // Two refused reports on record; a bad query is not a report and leaves no trace.
    assert_unchanged(&before, &snapshot(&net).await, 2, "a malformed report");
}

#[tokio::test]
async fn replays_are_acknowledged_again_and_stored_once() {
    let net = Net::new().await;
    let (_, mut client) = serve(&net).await;
    let b = net.hotspot(1, AUSTIN).await;
    let w = net.hotspot(2, AUSTIN_NORTH).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let beacon = beacon_report(&b, &entropy.data, [9, 9, 9, 9]);
    let witness = witness_report(&w, &beacon, RSSI, SNR);
    let first_beacon = client.submit_beacon(beacon.clone()).await.unwrap();
    let first_witness = client.submit_witness(witness.clone()).await.unwrap();
    let before = snapshot(&net).await;
    assert_eq!(before.counts["beacons"], 1);
    assert_eq!(before.counts["witnesses"], 1);

    net.advance(10);
    for _ in 0..3 {
        let again = client.submit_beacon(beacon.clone()).await.unwrap();
        assert_eq!(again.get_ref().id, first_beacon.get_ref().id);
        let again = client.submit_witness(witness.clone()).await.unwrap();
        assert_eq!(again.get_ref().id, first_witness.get_ref().id);
    }
    // Concurrent replays, racing each other into one group commit.
    let replays: Vec<_> = (0..16)
        .map(|_| {
            let mut client = client.clone();
            let witness = witness.clone();
            tokio::spawn(async move { client.submit_witness(witness).await })
        })
        .collect();
    for replay in replays {
        let ack = replay.await.unwrap().unwrap();
        assert_eq!(ack.get_ref().id, first_witness.get_ref().id);
    }
    assert_unchanged(&before, &snapshot(&net).await, 0, "a replay");

    // The stored copy is the original one.
    let rows = net
        .oracle
        .store()
        .recent_witnesses(&w.pub_key(), 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].received_ms,
        first_witness.get_ref().received_timestamp_ms
    );

    // A replay after verification leaves the verdict alone.
    net.settle().await;
    let verdict = net.witness_verdict(&w).await;
    let settled = snapshot(&net).await;
    client.submit_witness(witness.clone()).await.unwrap();
    client.submit_beacon(beacon.clone()).await.unwrap();
    assert_unchanged(&settled, &snapshot(&net).await, 0, "a late replay");
    assert_eq!(net.witness_verdict(&w).await, verdict);
}

#[tokio::test]
async fn forged_reports_and_assertions_are_unauthenticated_and_change_nothing() {
    let net = Net::new().await;
    let (_, mut client) = serve(&net).await;
    let (b, w, beacon, witness) = net.baseline().await;
    let mallory = poc::Keypair::from_seed(66, 6);
    let before = snapshot(&net).await;
    let mut refused = 0;

    // Altered after signing: a louder RSSI, a different payload.
    let mut louder = witness.clone();
    louder.rssi_ddbm += 200;
    let mut other_payload = witness.clone();
    other_payload.data[0] ^= 1;
    // Signed by someone else in the witness's name.
    let impostor = resign(witness_report(&w, &beacon, RSSI, SNR + 10), &mallory);
    // No signature, and a signature of the wrong length.
    let mut unsigned = witness.clone();
    unsigned.signature.clear();
    let mut short = witness.clone();
    short.signature.truncate(10);
    for forged in [louder, other_payload, impostor, unsigned, short] {
        let err = client.submit_witness(forged).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
        assert!(
            err.message().starts_with("bad_signature"),
            "{}",
            err.message()
        );
        refused += 1;
    }

    let mut louder_beacon = beacon.clone();
    louder_beacon.tx_power_ddbm += 10;
    let err = client.submit_beacon(louder_beacon).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    refused += 1;

    // Moving someone else's hotspot: an assertion in b's name signed by mallory.
    let far = u64::from(cell((40.7128, -74.0060)));
    let moved = resign(
        assertion(&b.key, far, GAIN, Region::Us915, net.clock.now_ms() + 1),
        &mallory,
    );
    let err = client.assert_location(moved).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    refused += 1;

    // Replaying b's own old assertion to roll its location back is stale.
    let old = assertion(&b.key, far, GAIN, Region::Us915, START_MS - 1);
    let err = client.assert_location(old).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().starts_with("stale_assertion"),
        "{}",
        err.message()
    );
    refused += 1;

    // A well-signed report from a key the oracle does not know.
    let stranger = Hotspot {
        key: mallory.clone(),
        location: 0,
        gain: GAIN,
        region: Region::Us915,
    };
    let err = client
        .submit_witness(witness_report(&stranger, &beacon, RSSI, SNR))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(
        err.message().starts_with("unknown_gateway"),
        "{}",
        err.message()
    );
    refused += 1;

    assert_unchanged(&before, &snapshot(&net).await, refused, "a forged request");
    // Each refusal is on record under the key it claimed.
    let rejections = net
        .oracle
        .store()
        .recent_rejections(&w.pub_key(), 100)
        .await
        .unwrap();
    assert_eq!(rejections.len(), 5);
    assert!(rejections.iter().all(|r| r.reason == "bad_signature"));
}

/// Sends a raw HTTP/1.1 request; the status and the JSON body (`Null` if not JSON).
async fn http(addr: SocketAddr, request: &[u8]) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read a large body.
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let status: u16 = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    http(addr, request.as_bytes()).await
}

#[tokio::test]
async fn bad_http_requests_get_json_4xx_errors_and_change_nothing() {
    let net = Net::new().await;
    let (addr, _task) = net.serve_http().await;
    let (b, _, _, _) = net.baseline().await;
    net.settle().await;
    let before = snapshot(&net).await;
    let known = b.key.address();
    let unknown = poc::Keypair::from_seed(66, 6).address();
    let long_path = format!("/api/v1/hotspots/{}", "x".repeat(5_000));

    let cases: Vec<(String, u16)> = vec![
        // Bad query parameters.
        ("/api/v1/hotspots?limit=0".into(), 400),
        ("/api/v1/hotspots?limit=1001".into(), 400),
        ("/api/v1/hotspots?limit=abc".into(), 400),
        ("/api/v1/hotspots?limit=-1".into(), 400),
        (
            "/api/v1/hotspots?offset=99999999999999999999999".into(),
            400,
        ),
        ("/api/v1/hotspots?offset=18446744073709551615".into(), 400),
        ("/api/v1/hotspots?colour=red".into(), 400),
        (format!("/api/v1/hotspots/{known}/history?limit=0"), 400),
        (format!("/api/v1/hotspots/{known}/history?offset=x"), 400),
        ("/api/v1/epochs?limit=%00".into(), 400),
        ("/api/v1/coverage?resolution=99".into(), 400),
        ("/api/v1/coverage?resolution=1".into(), 400),
        ("/api/v1/coverage?resolution=eight".into(), 400),
        // Bad path parameters.
        ("/api/v1/hotspots/not-an-address".into(), 400),
        ("/api/v1/hotspots/%ff%fe".into(), 400),
        ("/api/v1/epochs/-1/rewards".into(), 400),
        ("/api/v1/epochs/99999999999999999999999/rewards".into(), 400),
        ("/api/v1/ledger/abc".into(), 400),
        (format!("/api/v1/ledger/1/proof/{}", "z".repeat(40)), 400),
        // Unknown things.
        (format!("/api/v1/hotspots/{unknown}"), 404),
        (format!("/api/v1/hotspots/{unknown}/history"), 404),
        ("/api/v1/epochs/5/rewards".into(), 404),
        ("/api/v2/hotspots".into(), 404),
        // Oversized.
        (long_path, 414),
        (
            format!("/api/v1/hotspots?limit=1&{}", "a=1&".repeat(1_000)),
            414,
        ),
    ];
    for (path, expected) in &cases {
        let (status, body) = get(addr, path).await;
        let shown: String = path.chars().take(80).collect();
        assert_eq!(status, *expected, "{shown}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{shown}: no JSON error in {body}");
    }

    // Oversized and unexpected bodies, and methods the API does not have.
    let big = format!(
        "GET /api/v1/stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n{}",
        "x".repeat(100_000)
    );
    let (status, body) = http(addr, big.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].is_string());
    let post = "POST /api/v1/hotspots HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let (status, body) = http(addr, post.as_bytes()).await;
    assert_eq!(status, 405, "{body}");
    assert!(body["error"].is_string());
    let delete = format!(
        "DELETE /api/v1/hotspots/{known} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    let (status, body) = http(addr, delete.as_bytes()).await;
    assert_eq!(status, 405, "{body}");
    assert!(body["error"].is_string());
    // Not HTTP at all: the connection is refused with a 400 or simply closed.
    let (status, _) = http(addr, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n").await;
    assert!(status == 400 || status == 0, "{status}");

    assert_unchanged(&before, &snapshot(&net).await, 0, "a bad HTTP request");
    // Still serving.
    let (status, body) = get(addr, &format!("/api/v1/hotspots/{known}")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_flood_of_strangers_reports_is_recorded_only_up_to_the_limit_a_minute() {
    let net = Net::with_config(OracleConfig {
        max_stranger_rejections_per_minute: 5,
        ..OracleConfig::open()
    })
    .await;
    let (_, mut client) = serve(&net).await;
    let (_, w, beacon, _) = net.baseline().await;
    let mallory = poc::Keypair::from_seed(66, 6);
    let before = snapshot(&net).await;

    let stranger = |index: u64| Hotspot {
        key: poc::Keypair::from_seed(77, index),
        location: 0,
        gain: GAIN,
        region: Region::Us915,
    };
    for index in 0..20 {
        let err = client
            .submit_witness(witness_report(&stranger(index), &beacon, RSSI, SNR))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{}", err.message());
    }
    // A gateway's own refusals are all on record, whatever strangers sent.
    for offset in 0..8 {
        let impostor = resign(witness_report(&w, &beacon, RSSI, SNR + offset), &mallory);
        let err = client.submit_witness(impostor).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{}", err.message());
    }
    assert_unchanged(&before, &snapshot(&net).await, 5 + 8, "a flood of refusals");

    // The next minute records strangers' refusals again.
    net.advance(60_000);
    let err = client
        .submit_witness(witness_report(&stranger(99), &beacon, RSSI, SNR))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());
    assert_unchanged(&before, &snapshot(&net).await, 5 + 8 + 1, "a new minute");
}
