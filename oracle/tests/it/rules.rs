//! One test per rejection rule: each report differs from the valid baseline in one way and is
//! rejected by exactly that rule.

use crate::common::*;
use oracle::store::Status;
use oracle::{IngestReason, OracleConfig};
use poc::proto::Region;

fn invalid(reason: &str) -> (Status, Option<String>) {
    (Status::Invalid, Some(reason.to_string()))
}

const VALID: (Status, Option<String>) = (Status::Valid, None);

#[tokio::test]
async fn baseline_beacon_and_witness_are_valid() {
    let net = Net::new().await;
    let (b, w, _, _) = net.baseline().await;
    // Nothing is decided while the entropy window is open.
    let early = net.oracle.verify_pending().await.unwrap();
    assert_eq!(early.beacons_waiting, 1);
    assert_eq!(net.beacon_verdict(&b).await.0, Status::Pending);
    net.settle().await;
    assert_eq!(net.beacon_verdict(&b).await, VALID);
    assert_eq!(net.witness_verdict(&w).await, VALID);
    // Idempotent.
    let again = net.oracle.verify_pending().await.unwrap();
    assert!(again.is_empty());
    assert_eq!(net.witness_verdict(&w).await, VALID);
}

// ---- beacons ----

#[tokio::test]
async fn beacon_from_unknown_gateway_is_refused_at_ingest() {
    let net = Net::new().await;
    let stranger = Hotspot {
        key: poc::Keypair::from_seed(7, 7),
        location: 0,
        gain: GAIN,
        region: Region::Us915,
    };
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let err = net
        .oracle
        .submit_beacon(beacon_report(&stranger, &entropy.data, [0; 4]))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::UnknownGateway));
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::NotFound);
    let counts = net
        .oracle
        .store()
        .reason_counts(&stranger.pub_key())
        .await
        .unwrap();
    assert_eq!(counts.get("unknown_gateway"), Some(&1));
}

#[tokio::test]
async fn beacon_from_unasserted_gateway() {
    let net = Net::new().await;
    let h = net.unasserted(1).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    net.oracle
        .submit_beacon(beacon_report(&h, &entropy.data, [0; 4]))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&h).await, invalid("not_asserted"));
}

#[tokio::test]
async fn beacon_with_unknown_entropy() {
    let net = Net::new().await;
    let h = net.hotspot(1, AUSTIN).await;
    net.oracle.publish_entropy().await.unwrap();
    net.oracle
        .submit_beacon(beacon_report(&h, &[9; 32], [0; 4]))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&h).await, invalid("entropy_unknown"));
}

#[tokio::test]
async fn beacon_with_expired_entropy() {
    let net = Net::new().await;
    let h = net.hotspot(1, AUSTIN).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    net.advance(180_001);
    net.oracle
        .submit_beacon(beacon_report(&h, &entropy.data, [0; 4]))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&h).await, invalid("entropy_expired"));
}

#[tokio::test]
async fn second_beacon_in_the_same_interval_bucket() {
    let net = Net::new().await;
    let h = net.hotspot(1, AUSTIN).await;
    let first = net.oracle.publish_entropy().await.unwrap();
    net.oracle
        .submit_beacon(beacon_report(&h, &first.data, [0; 4]))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&h).await, VALID);
    // Ten minutes later, still in the same 6 h bucket.
    net.advance(600_000);
    let second = net.oracle.publish_entropy().await.unwrap();
    net.oracle
        .submit_beacon(beacon_report(&h, &second.data, [1; 4]))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&h).await, invalid("irregular_interval"));
    // In the next bucket it is fine again.
    net.advance(6 * 3_600_000);
    let third = net.oracle.publish_entropy().await.unwrap();
    net.oracle
        .submit_beacon(beacon_report(&h, &third.data, [2; 4]))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&h).await, VALID);
}

#[tokio::test]
async fn beacon_that_does_not_regenerate() {
    let net = Net::new().await;
    let h = net.hotspot(1, AUSTIN).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let mut report = beacon_report(&h, &entropy.data, [0; 4]);
    // Another channel of the plan than the derived one.
    report.frequency_hz = if report.frequency_hz == 903_900_000 {
        904_100_000
    } else {
        903_900_000
    };
    net.oracle
        .submit_beacon(resign(report, &h.key))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&h).await, invalid("invalid_payload"));

    // A changed payload byte is caught too.
    let h2 = net.hotspot(2, AUSTIN_NORTH).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let mut report = beacon_report(&h2, &entropy.data, [0; 4]);
    report.data[10] ^= 1;
    net.oracle
        .submit_beacon(resign(report, &h2.key))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&h2).await, invalid("invalid_payload"));
}

// ---- ingest ----

#[tokio::test]
async fn malformed_and_forged_reports_are_refused_at_ingest() {
    let net = Net::new().await;
    let (b, w, beacon, witness) = net.baseline().await;
    let _ = b;
    // Wrong key length.
    let mut bad = witness.clone();
    bad.pub_key.truncate(5);
    let err = net.oracle.submit_witness(bad).await.unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::Malformed));
    assert_eq!(
        tonic::Status::from(err).code(),
        tonic::Code::InvalidArgument
    );
    // Empty data.
    let mut bad = witness.clone();
    bad.data.clear();
    let err = net
        .oracle
        .submit_witness(resign(bad, &w.key))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::Malformed));
    // Oversized payload.
    let mut bad = witness.clone();
    bad.data = vec![1; 256];
    let err = net
        .oracle
        .submit_witness(resign(bad, &w.key))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::Malformed));
    // A witness signed by another key (forged).
    let forged = resign(witness.clone(), &poc::Keypair::from_seed(9, 9));
    let mut forged = forged;
    forged.pub_key = w.pub_key().to_vec();
    let err = net.oracle.submit_witness(forged).await.unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::BadSignature));
    assert_eq!(
        tonic::Status::from(err).code(),
        tonic::Code::Unauthenticated
    );
    // A beacon whose fields changed after signing.
    let mut tampered = beacon.clone();
    tampered.frequency_hz += 1;
    let err = net.oracle.submit_beacon(tampered).await.unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::BadSignature));
    let counts = net
        .oracle
        .store()
        .reason_counts(&w.pub_key())
        .await
        .unwrap();
    assert_eq!(counts.get("malformed"), Some(&2));
    assert_eq!(counts.get("bad_signature"), Some(&1));
    // The baseline is unaffected.
    net.settle().await;
    assert_eq!(net.witness_verdict(&w).await, VALID);
}

#[tokio::test]
async fn assertions_must_be_newer_located_and_in_a_region() {
    let net = Net::new().await;
    let h = net.hotspot(1, AUSTIN).await;
    let now = net.clock.now_ms();
    let replay = assertion(&h.key, h.location, GAIN, Region::Us915, now);
    net.oracle
        .assert_location(replay)
        .await
        .expect("a replay of the assertion in force is acknowledged again");
    let stale = assertion(&h.key, h.location, GAIN + 10, Region::Us915, now);
    let err = net.oracle.assert_location(stale).await.unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::StaleAssertion));
    let bad_cell = assertion(&h.key, 12345, GAIN, Region::Us915, now + 1);
    let err = net.oracle.assert_location(bad_cell).await.unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::InvalidLocation));
    let coarse =
        u64::from(h3_coverage::parent(cell(AUSTIN), h3_coverage::Resolution::Eight).unwrap());
    let err = net
        .oracle
        .assert_location(assertion(&h.key, coarse, GAIN, Region::Us915, now + 1))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::InvalidLocation));
    let no_region = assertion(&h.key, h.location, GAIN, Region::Unspecified, now + 1);
    let err = net.oracle.assert_location(no_region).await.unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::RegionUnspecified));
    let moved = u64::from(cell(AUSTIN_NORTH));
    net.oracle
        .assert_location(assertion(&h.key, moved, 50, Region::Us915, now + 1))
        .await
        .unwrap();
    let info = net.oracle.gateway_info(&h.pub_key()).await.unwrap();
    assert!(info.asserted);
    assert_eq!(info.location, moved);
    assert_eq!(info.gain_ddbi, 50);
}

// ---- witnesses ----

async fn witness_case(
    tweak: impl FnOnce(&mut poc::proto::WitnessReport),
    witness_at: (f64, f64),
    witness_region: Region,
    delay_ms: u64,
) -> (Status, Option<String>) {
    let net = Net::new().await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    let witness = net.hotspot_in(2, witness_at, witness_region).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    net.advance(1_000);
    let beacon = beacon_report(&beaconer, &entropy.data, [1, 2, 3, 4]);
    net.oracle.submit_beacon(beacon.clone()).await.unwrap();
    net.advance(delay_ms);
    let mut report = witness_report(&witness, &beacon, RSSI, SNR);
    tweak(&mut report);
    net.oracle
        .submit_witness(resign(report, &witness.key))
        .await
        .unwrap();
    net.settle().await;
    net.settle().await;
    assert_eq!(net.beacon_verdict(&beaconer).await, VALID);
    net.witness_verdict(&witness).await
}

#[tokio::test]
async fn witness_baseline_through_the_case_helper_is_valid() {
    assert_eq!(
        witness_case(|_| {}, AUSTIN_NORTH, Region::Us915, 500).await,
        VALID
    );
}

#[tokio::test]
async fn witness_from_unknown_gateway_is_refused_at_ingest() {
    let net = Net::new().await;
    let (_, _, beacon, _) = net.baseline().await;
    let stranger = Hotspot {
        key: poc::Keypair::from_seed(7, 7),
        location: 0,
        gain: GAIN,
        region: Region::Us915,
    };
    let err = net
        .oracle
        .submit_witness(witness_report(&stranger, &beacon, RSSI, SNR))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Some(IngestReason::UnknownGateway));
}

#[tokio::test]
async fn witness_not_asserted() {
    let net = Net::new().await;
    let (_, _, beacon, _) = net.baseline().await;
    let h = net.unasserted(5).await;
    net.oracle
        .submit_witness(witness_report(&h, &beacon, RSSI, SNR))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.witness_verdict(&h).await, invalid("not_asserted"));
}

#[tokio::test]
async fn replayed_witness_is_a_duplicate() {
    let net = Net::new().await;
    let (_, w, _, report) = net.baseline().await;
    net.advance(100);
    // The very same bytes are acknowledged again and stored once (tests/abuse.rs); a second,
    // re-signed report of the same beacon by the same witness is the duplicate.
    net.oracle.submit_witness(report.clone()).await.unwrap();
    let mut again = report.clone();
    again.timestamp_ns += 1;
    net.oracle
        .submit_witness(resign(again, &w.key))
        .await
        .unwrap();
    net.settle().await;
    let rows = net
        .oracle
        .store()
        .recent_witnesses(&w.pub_key(), 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    // Newest first: the replay is the duplicate, the original stays valid.
    assert_eq!(rows[0].reason.as_deref(), Some("duplicate"));
    assert_eq!(rows[1].status, Status::Valid);
}

#[tokio::test]
async fn beaconer_witnessing_itself() {
    let net = Net::new().await;
    let (b, _, beacon, _) = net.baseline().await;
    net.oracle
        .submit_witness(witness_report(&b, &beacon, RSSI, SNR))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&b).await, VALID);
    assert_eq!(net.witness_verdict(&b).await, invalid("self_witness"));
}

#[tokio::test]
async fn witness_after_the_entropy_window() {
    // Entropy at 0, beacon at +1 s; the witness comes 180.5 s after the beacon.
    assert_eq!(
        witness_case(|_| {}, AUSTIN_NORTH, Region::Us915, 180_500).await,
        invalid("entropy_expired")
    );
}

#[tokio::test]
async fn witness_too_late() {
    assert_eq!(
        witness_case(|_| {}, AUSTIN_NORTH, Region::Us915, 4_001).await,
        invalid("too_late")
    );
    assert_eq!(
        witness_case(|_| {}, AUSTIN_NORTH, Region::Us915, 4_000).await,
        VALID
    );
}

#[tokio::test]
async fn witness_with_a_slightly_different_payload() {
    assert_eq!(
        witness_case(|w| w.data[20] ^= 0x10, AUSTIN_NORTH, Region::Us915, 500).await,
        invalid("payload_mismatch")
    );
}

#[tokio::test]
async fn witness_with_an_unrelated_payload_has_an_unknown_beacon() {
    assert_eq!(
        witness_case(
            |w| w.data = vec![0xAB; 51],
            AUSTIN_NORTH,
            Region::Us915,
            500
        )
        .await,
        invalid("unknown_beacon")
    );
}

#[tokio::test]
async fn witness_on_the_wrong_frequency() {
    assert_eq!(
        witness_case(
            |w| w.frequency_hz += 100_001,
            AUSTIN_NORTH,
            Region::Us915,
            500
        )
        .await,
        invalid("frequency_mismatch")
    );
    assert_eq!(
        witness_case(
            |w| w.frequency_hz += 100_000,
            AUSTIN_NORTH,
            Region::Us915,
            500
        )
        .await,
        VALID
    );
}

#[tokio::test]
async fn witness_in_another_region() {
    assert_eq!(
        witness_case(|_| {}, AUSTIN_NORTH, Region::Eu868, 500).await,
        invalid("region_mismatch")
    );
}

#[tokio::test]
async fn witness_too_close() {
    // About 100 m north: fewer than 8 resolution-11 cells away.
    assert_eq!(
        witness_case(|_| {}, (AUSTIN.0 + 0.0009, AUSTIN.1), Region::Us915, 500).await,
        invalid("too_close")
    );
}

#[tokio::test]
async fn witness_too_far() {
    // About 155 km north.
    assert_eq!(
        witness_case(
            |w| {
                w.rssi_ddbm = -1300;
                w.snr_ddb = -100;
            },
            (AUSTIN.0 + 1.4, AUSTIN.1),
            Region::Us915,
            500
        )
        .await,
        invalid("too_far")
    );
}

#[tokio::test]
async fn witness_louder_than_free_space() {
    // 2.2 km: bound ≈ 33 + 3 + 3 − 98.4 ≈ −59.4 dBm.
    assert_eq!(
        witness_case(|w| w.rssi_ddbm = -500, AUSTIN_NORTH, Region::Us915, 500).await,
        invalid("rssi_too_high")
    );
    assert_eq!(
        witness_case(|w| w.rssi_ddbm = -600, AUSTIN_NORTH, Region::Us915, 500).await,
        VALID
    );
}

#[tokio::test]
async fn witness_snr_above_the_noise_floor_allowance() {
    // −100 dBm over a −120 dBm floor (125 kHz, 3 dB NF) allows 20 dB.
    assert_eq!(
        witness_case(|w| w.snr_ddb = 210, AUSTIN_NORTH, Region::Us915, 500).await,
        invalid("snr_too_high")
    );
    assert_eq!(
        witness_case(|w| w.snr_ddb = 195, AUSTIN_NORTH, Region::Us915, 500).await,
        VALID
    );
}

#[tokio::test]
async fn witness_of_an_invalid_beacon() {
    let net = Net::new().await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    let witness = net.hotspot(2, AUSTIN_NORTH).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let mut beacon = beacon_report(&beaconer, &entropy.data, [0; 4]);
    beacon.local_entropy = vec![1; 4];
    let beacon = resign(beacon, &beaconer.key);
    net.oracle.submit_beacon(beacon.clone()).await.unwrap();
    net.oracle
        .submit_witness(witness_report(&witness, &beacon, RSSI, SNR))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(
        net.beacon_verdict(&beaconer).await,
        invalid("invalid_payload")
    );
    assert_eq!(
        net.witness_verdict(&witness).await,
        invalid("invalid_beacon")
    );
}

/// Twenty valid witnesses of one beacon, the three first by selection key without a beacon of
/// their own (HIP-106: they earn nothing): the close pays the first fourteen of the other
/// seventeen, by selection key, and records exactly those as paid.
#[tokio::test]
async fn the_close_selects_fourteen_eligible_witnesses_by_hash_order() {
    let mut config = OracleConfig::open();
    config.defences.enabled = false;
    let net = Net::with_config(config).await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    let mut witnesses = Vec::new();
    for i in 0..20u64 {
        let angle = i as f64 * std::f64::consts::TAU / 20.0;
        let at = (AUSTIN.0 + 0.02 * angle.sin(), AUSTIN.1 + 0.02 * angle.cos());
        witnesses.push(net.hotspot(100 + i, at).await);
    }
    let entropy = net.oracle.publish_entropy().await.unwrap();
    witnesses.sort_by_key(|w| oracle::selection::selection_key(&entropy.data, &w.pub_key()));
    let beacon = beacon_report(&beaconer, &entropy.data, [5; 4]);
    net.oracle.submit_beacon(beacon.clone()).await.unwrap();
    for w in &witnesses {
        net.oracle
            .submit_witness(witness_report(w, &beacon, -1100, 0))
            .await
            .unwrap();
    }
    // Every witness but the first three beacons once, and the beaconer hears each of those
    // beacons (a beacon nobody heard would not count for reciprocity).
    for (i, w) in witnesses.iter().enumerate().skip(3) {
        let own = beacon_report(w, &entropy.data, [i as u8; 4]);
        net.oracle.submit_beacon(own.clone()).await.unwrap();
        net.oracle
            .submit_witness(witness_report(&beaconer, &own, -1100, 0))
            .await
            .unwrap();
    }
    net.settle().await;
    for w in &witnesses {
        assert_eq!(net.witness_verdict(w).await, VALID);
    }
    let epoch = START_MS / DAY_MS;
    net.clock.set(net.oracle.epoch_ready_at_ms(epoch));
    let report = net.oracle.close_epoch(epoch).await.unwrap();
    assert_eq!(report.ineligible.get("gateway_no_valid_beacons"), Some(&3));

    let store = net.oracle.store();
    let rows = store
        .witnesses_of_beacon(beacon_id(&net, &beaconer).await)
        .await
        .unwrap();
    let paid = store
        .paid_witnesses(&[rows[0].beacon_id.unwrap()])
        .await
        .unwrap();
    let paid_keys: std::collections::BTreeSet<[u8; 32]> = rows
        .iter()
        .filter(|w| paid.contains(&w.id))
        .map(|w| w.pub_key)
        .collect();
    let expected: std::collections::BTreeSet<[u8; 32]> =
        witnesses[3..17].iter().map(|w| w.pub_key()).collect();
    assert_eq!(paid_keys, expected);
    // The explorer shows the same witnesses as paid.
    let body = explorer_hotspot(&net, &witnesses[3]).await;
    assert_eq!(body["recent_witnesses"][0]["selected"], true);
    let body = explorer_hotspot(&net, &witnesses[0]).await;
    assert_eq!(body["recent_witnesses"][0]["selected"], false);
}

/// The row id of a hotspot's latest beacon.
async fn beacon_id(net: &Net, h: &Hotspot) -> i64 {
    net.oracle
        .store()
        .recent_beacons(&h.pub_key(), 1)
        .await
        .unwrap()[0]
        .id
}

/// A hotspot's explorer page, as JSON.
async fn explorer_hotspot(net: &Net, h: &Hotspot) -> serde_json::Value {
    let (addr, _server) = net
        .oracle
        .serve_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (status, body) = get(addr, &format!("/api/v1/hotspots/{}", h.key.address())).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_copied_beacon_reported_first_does_not_void_honest_witnesses() {
    let net = Net::new().await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    let witness = net.hotspot(2, AUSTIN_NORTH).await;
    let copier = net.hotspot(3, (AUSTIN.0 - 0.02, AUSTIN.1)).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let honest = beacon_report(&beaconer, &entropy.data, [1, 2, 3, 4]);
    let mut copy = honest.clone();
    copy.pub_key = copier.pub_key().to_vec();
    net.oracle
        .submit_beacon(resign(copy, &copier.key))
        .await
        .unwrap();
    net.advance(10);
    net.oracle.submit_beacon(honest.clone()).await.unwrap();
    net.oracle
        .submit_witness(witness_report(&witness, &honest, RSSI, SNR))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(
        net.beacon_verdict(&copier).await,
        invalid("invalid_payload")
    );
    assert_eq!(net.beacon_verdict(&beaconer).await, VALID);
    assert_eq!(net.witness_verdict(&witness).await, VALID);
}
