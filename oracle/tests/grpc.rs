//! The ingest service over a real gRPC connection, including garbage input.

mod common;

use common::*;
use oracle::store::Status as ReportStatus;
use poc::proto::poc_lora_client::PocLoraClient;
use poc::proto::{self, Region};
use prost::Message;
use tonic::Code;

#[tokio::test]
async fn full_flow_over_grpc() {
    let net = Net::new().await;
    let (addr, _task) = net
        .oracle
        .serve_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut client = PocLoraClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

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
