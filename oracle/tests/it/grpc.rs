//! The ingest service over a real gRPC connection, including garbage input.

use crate::common::*;
use oracle::store::Status as ReportStatus;
use poc::proto::poc_lora_client::PocLoraClient;
use poc::proto::{self, Region};
use prost::Message;
use tonic::Code;

/// Serves `net`'s oracle over gRPC on loopback and connects a client to it; the task serves
/// until dropped with the test.
async fn serve_and_connect(
    net: &Net,
) -> (
    PocLoraClient<tonic::transport::Channel>,
    tokio::task::JoinHandle<()>,
) {
    let (addr, task) = net
        .oracle
        .serve_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = PocLoraClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    (client, task)
}

#[tokio::test]
async fn full_flow_over_grpc() {
    let net = Net::new().await;
    let (mut client, _task) = serve_and_connect(&net).await;

    // No entropy yet.
    let err = client.get_entropy(proto::EntropyReq {}).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let b = poc::Keypair::from_seed(42, 1);
    let w = poc::Keypair::from_seed(42, 2);
    let now = net.clock.now_ms();
    for (key, at) in [(&b, AUSTIN), (&w, AUSTIN_NORTH)] {
        client
            .assert_location(assertion(
                key,
                u64::from(cell(at)),
                GAIN,
                Region::Us915,
                now,
            ))
            .await
            .unwrap();
    }
    let info = client
        .get_gateway_info(proto::GatewayInfoReq {
            pub_key: b.public_key().to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(info.asserted);
    assert_eq!(info.region, Region::Us915 as i32);
    let err = client
        .get_gateway_info(proto::GatewayInfoReq {
            pub_key: poc::Keypair::from_seed(1, 1).public_key().to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    net.oracle.publish_entropy().await.unwrap();
    let entropy = client
        .get_entropy(proto::EntropyReq {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(entropy.oracle_key, net.oracle.address().0.to_vec());
    poc::Signable::verify(&entropy).unwrap();

    let beaconer = Hotspot {
        key: b,
        location: u64::from(cell(AUSTIN)),
        gain: GAIN,
        region: Region::Us915,
    };
    let witness = Hotspot {
        key: w,
        location: u64::from(cell(AUSTIN_NORTH)),
        gain: GAIN,
        region: Region::Us915,
    };
    let beacon = beacon_report(&beaconer, &entropy.data, [1, 1, 1, 1]);
    let resp = client
        .submit_beacon(beacon.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.id.len(), 64);
    assert_eq!(resp.received_timestamp_ms, net.clock.now_ms());
    client
        .submit_witness(witness_report(&witness, &beacon, RSSI, SNR))
        .await
        .unwrap();
    // A forged witness: right key, wrong signer.
    let forged = resign(
        witness_report(&witness, &beacon, RSSI, SNR),
        &poc::Keypair::from_seed(5, 5),
    );
    let err = client.submit_witness(forged).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("bad_signature"), "{}", err.message());

    net.settle().await;
    assert_eq!(net.beacon_verdict(&beaconer).await.0, ReportStatus::Valid);
    assert_eq!(net.witness_verdict(&witness).await.0, ReportStatus::Valid);
}

#[tokio::test]
async fn garbage_and_truncated_protobufs_are_invalid_arguments_and_the_server_keeps_serving() {
    let net = Net::new().await;
    let (addr, _task) = net
        .oracle
        .serve_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (_, _, beacon, witness) = net.baseline().await;

    // Truncated in the middle of the data field.
    let mut bytes = witness.encode_to_vec();
    bytes.truncate(bytes.len() / 2);
    let status = raw_call(addr, "/lorapoc.v1.PocLora/SubmitWitness", bytes).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    let mut bytes = beacon.encode_to_vec();
    bytes.truncate(10);
    let status = raw_call(addr, "/lorapoc.v1.PocLora/SubmitBeacon", bytes).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // Garbage: an invalid wire type, and bytes that decode to an empty report.
    let status = raw_call(addr, "/lorapoc.v1.PocLora/SubmitWitness", vec![0xff; 40]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = raw_call(addr, "/lorapoc.v1.PocLora/AssertLocation", vec![]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // Too large for the decoder.
    let status = raw_call(addr, "/lorapoc.v1.PocLora/SubmitWitness", vec![0; 70_000]).await;
    assert_ne!(status.code(), Code::Ok);

    // Still serving.
    let mut client = PocLoraClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let entropy = client
        .get_entropy(proto::EntropyReq {})
        .await
        .unwrap()
        .into_inner();
    assert!(!entropy.data.is_empty());
}

#[tokio::test]
async fn witness_batches_get_one_decision_per_report_over_grpc() {
    use oracle::ingest::MAX_BATCH;
    use proto::batch_result::Result as Decision;
    let net = Net::new().await;
    let (mut client, _task) = serve_and_connect(&net).await;
    let (_, w, beacon, stored) = net.baseline().await;
    let counts = || async { net.oracle.store().table_counts().await.unwrap() };
    let before = counts().await;

    let good = witness_report(&w, &beacon, RSSI - 5, SNR);
    let forged = resign(
        witness_report(&w, &beacon, RSSI - 6, SNR),
        &poc::Keypair::from_seed(5, 5),
    );
    let mut empty = witness_report(&w, &beacon, RSSI, SNR);
    empty.data.clear();
    let empty = resign(empty, &w.key);
    let unknown = witness_report(
        &Hotspot {
            key: poc::Keypair::from_seed(77, 7),
            location: 0,
            gain: GAIN,
            region: Region::Us915,
        },
        &beacon,
        RSSI,
        SNR,
    );
    let reports = vec![good.clone(), forged, stored.clone(), empty, unknown, good];
    let resp = client
        .submit_witnesses(proto::WitnessBatch {
            reports: reports.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let decisions: Vec<Result<String, (String, i32)>> = resp
        .results
        .into_iter()
        .map(|r| match r.result.unwrap() {
            Decision::Accepted(ack) => Ok(ack.id),
            Decision::Refused(refusal) => Err((refusal.reason, refusal.code)),
        })
        .collect();
    let id = |r: &proto::WitnessReport| oracle::ingest::report_id(r);
    assert_eq!(
        decisions,
        vec![
            Ok(id(&reports[0])),
            Err(("bad_signature".into(), Code::Unauthenticated as i32)),
            Ok(id(&stored)),
            Err(("malformed".into(), Code::InvalidArgument as i32)),
            Err(("unknown_gateway".into(), Code::NotFound as i32)),
            Ok(id(&reports[0])),
        ]
    );
    // The same codes as the single calls.
    for (report, decision) in reports.iter().zip(&decisions) {
        let alone = client.submit_witness(report.clone()).await;
        match (alone, decision) {
            (Ok(ack), Ok(id)) => assert_eq!(&ack.into_inner().id, id),
            (Err(status), Err((_, code))) => assert_eq!(status.code() as i32, *code),
            (alone, decision) => panic!("alone {alone:?}, in the batch {decision:?}"),
        }
    }
    let after = counts().await;
    assert_eq!(after["witnesses"], before["witnesses"] + 1);
    assert_eq!(after["ingest_rejections"], before["ingest_rejections"] + 6);

    // Over the limit: INVALID_ARGUMENT, nothing stored or recorded.
    let oversized = proto::WitnessBatch {
        reports: vec![stored.clone(); MAX_BATCH + 1],
    };
    let status = client.submit_witnesses(oversized).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("more than"),
        "{}",
        status.message()
    );
    assert_eq!(counts().await, after);

    // A full batch of the largest well-formed reports fits the message limit.
    let full: Vec<proto::WitnessReport> = (0..MAX_BATCH)
        .map(|i| {
            let mut r = witness_report(&w, &beacon, i32::MIN + i as i32, i32::MIN);
            r.data = vec![i as u8; oracle::ingest::MAX_PAYLOAD_LEN];
            r.timestamp_ns = u64::MAX - i as u64;
            r.frequency_hz = u64::MAX;
            r.spreading_factor = u32::MAX;
            r.bandwidth_hz = u32::MAX;
            r.channel = u32::MAX;
            resign(r, &w.key)
        })
        .collect();
    let resp = client
        .submit_witnesses(proto::WitnessBatch { reports: full })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.results.len(), MAX_BATCH);
    assert!(resp
        .results
        .iter()
        .all(|r| matches!(r.result, Some(Decision::Accepted(_)))));
    assert_eq!(
        counts().await["witnesses"],
        after["witnesses"] + MAX_BATCH as u64
    );
}

#[tokio::test]
async fn the_grpc_server_announces_its_stream_limit() {
    let net = Net::with_config(oracle::OracleConfig {
        grpc: oracle::config::GrpcConfig {
            max_concurrent_streams: 7,
            ..oracle::config::GrpcConfig::default()
        },
        ..oracle::OracleConfig::open()
    })
    .await;
    let (addr, _task) = net
        .oracle
        .serve_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let client = client.ready().await.unwrap();
    // The server's settings arrive just after the handshake.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while client.current_max_send_streams() != 7 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(client.current_max_send_streams(), 7);
}
