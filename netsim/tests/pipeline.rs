//! End-to-end tests of the proof-of-coverage pipeline: radio samples → beacon → witnesses →
//! oracle validation over real gRPC → reward shares.

use netsim::network::START_MS;
use netsim::{Network, NetworkConfig};
use poc::proto::WitnessReport;
use poc::Signable;

const HOUR_MS: u64 = 3_600_000;

async fn network(hotspots: usize, seed: u64, dir: &tempfile::TempDir) -> Network {
    let config = NetworkConfig::new(hotspots, seed, dir.path().to_path_buf());
    Network::start(config).await.expect("network starts")
}

/// Closes the epoch holding `START_MS` and returns its report.
async fn close_first_epoch(network: &Network) -> oracle::EpochReport {
    let epoch_ms = oracle::OracleConfig::default().epoch_ms;
    let epoch = START_MS / epoch_ms;
    network.clock().set((epoch + 1) * epoch_ms + 10 * 60_000);
    network
        .oracle()
        .close_epoch(epoch)
        .await
        .expect("epoch closes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_pays_beaconers_and_witnesses_exactly_the_emission() {
    let dir = tempfile::tempdir().unwrap();
    let mut network = network(8, 11, &dir).await;
    let epoch = network.first_epoch();
    let outcome = network.run_epoch(epoch, |_, _| {}).await.unwrap();
    let report = &outcome.report;
    assert!(outcome.beacons_sent >= 8 * 3, "{}", outcome.beacons_sent);
    assert!(
        report.beacons_valid > 0 && report.witnesses_valid > 0,
        "{report:?}"
    );
    let paid: u64 = report.rewards.iter().map(|row| row.total).sum();
    assert_eq!(paid, report.emission, "shares must sum to the emission");
    assert!(report.rewards.iter().any(|row| row.beacon_amount > 0));
    assert!(report.rewards.iter().any(|row| row.witness_amount > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewards_are_deterministic_for_a_seed() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut network = network(6, 5, &dir).await;
        let epoch = network.first_epoch();
        let outcome = network.run_epoch(epoch, |_, _| {}).await.unwrap();
        runs.push(serde_json::to_string(&outcome.report.rewards).unwrap());
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beacon_out_of_radio_range_gets_no_witness() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NetworkConfig::new(3, 3, dir.path().to_path_buf());
    config.shadowing_db = 0.0;
    config.sites = vec![
        ("city-hall".into(), 37.77929, -122.41924),
        ("mission-dolores".into(), 37.76442, -122.42705),
        ("san-jose".into(), 37.33870, -121.88530),
    ];
    let mut network = Network::start(config).await.unwrap();
    let outcome = network.beacon(0, START_MS + HOUR_MS).await.unwrap();
    assert_eq!(
        outcome.heard_by(),
        vec![1],
        "only the near hotspot hears it"
    );
    let far = network.link(0, 2, 33.0, 904.1e6, 125e3);
    assert!(far.snr_db < -30.0, "{far:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_self_witnesses_are_rejected_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NetworkConfig::new(3, 9, dir.path().to_path_buf());
    config.shadowing_db = 0.0;
    config.sites = vec![
        ("city-hall".into(), 37.77929, -122.41924),
        ("mission-dolores".into(), 37.76442, -122.42705),
        ("twin-peaks".into(), 37.75443, -122.44769),
    ];
    let mut network = Network::start(config).await.unwrap();
    let outcome = network.beacon(0, START_MS + HOUR_MS).await.unwrap();
    let (witness_index, honest) = outcome.witnesses.first().cloned().expect("a witness");

    // Replayed: the very same signed report again is acknowledged and stored once; a second
    // report of the same beacon by the same witness is the duplicate.
    network
        .client(witness_index)
        .submit_witness(honest.clone())
        .await
        .expect("a replay is well-formed and acknowledged");
    let second = network
        .hotspot(witness_index)
        .witness(
            &radio::demod::RxFrame {
                payload: honest.data.clone(),
                crc_ok: Some(true),
                spreading_factor: honest.spreading_factor as u8,
                bandwidth_hz: honest.bandwidth_hz,
                coding_rate: 1,
                snr_db: honest.snr_ddb as f32 / 10.0,
                rssi_dbm: honest.rssi_ddbm as f32 / 10.0,
                cfo_hz: 0.0,
                sample_offset: 0,
            },
            honest.frequency_hz,
            honest.timestamp_ns + 1,
        )
        .expect("a beacon-sized frame with a good CRC");
    network
        .client(witness_index)
        .submit_witness(second)
        .await
        .expect("a second report is well-formed and acknowledged");

    // Forged: hotspot 2's key claimed, but the report altered after signing.
    let mut forged: WitnessReport = honest.clone();
    forged.pub_key = network.hotspot(2).public_key().to_vec();
    let refused = network.client(2).submit_witness(forged).await;
    assert_eq!(
        refused.unwrap_err().code(),
        Some(tonic::Code::Unauthenticated)
    );

    // Self-witness: the beaconer reports its own beacon, properly signed.
    let own = network
        .hotspot(0)
        .witness(
            &radio::demod::RxFrame {
                payload: outcome.report.data.clone(),
                crc_ok: Some(true),
                spreading_factor: outcome.report.spreading_factor as u8,
                bandwidth_hz: outcome.report.bandwidth_hz,
                coding_rate: 1,
                snr_db: 10.0,
                rssi_dbm: -60.0,
                cfo_hz: 0.0,
                sample_offset: 0,
            },
            outcome.report.frequency_hz,
            honest.timestamp_ns,
        )
        .expect("a beacon-sized frame with a good CRC");
    assert!(own.verify().is_ok());
    network.client(0).submit_witness(own).await.unwrap();

    let report = close_first_epoch(&network).await;
    for reason in ["bad_signature", "duplicate", "self_witness"] {
        assert!(
            report.rejections.get(reason).copied().unwrap_or(0) >= 1,
            "{reason} missing from {:?}",
            report.rejections
        );
    }
    assert!(report.witnesses_valid >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_reproduces_every_devnet_epoch_from_its_archive_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut network = network(8, 11, &dir).await;
    let first = network.first_epoch();
    for epoch in first..first + 2 {
        network.run_epoch(epoch, |_, _| {}).await.unwrap();
    }
    assert_every_entry_audits(&network, 2).await;
}

/// The network's oracle holds `entries` ledger entries, chained, and the audit reproduces
/// each from the oracle's archive with every share and no difference.
async fn assert_every_entry_audits(network: &Network, entries: usize) {
    let oracle = network.oracle();
    let found = oracle.ledger_entries().unwrap();
    assert_eq!(found.len(), entries);
    ledger::verify_chain(&found, None).unwrap();
    let source = oracle::archive::Source::Dir(oracle.archive().unwrap().clone());
    for entry in &found {
        let epoch = entry.manifest.epoch;
        let report = oracle::audit::audit(&source, &found, epoch).await.unwrap();
        assert!(
            report.mismatches.is_empty(),
            "epoch {epoch}: {:?}",
            report.mismatches
        );
        assert_eq!(report.shares, entry.manifest.shares.len());
        assert!(report.shares > 0 && report.reports > 0);
    }
}

/// Three operators sharing a report log (NATS JetStream on loopback, `NATS_URL` or
/// 127.0.0.1:4222) run the devnet: the hotspots submit to them in turn over gRPC, the
/// operators make the entropy together, each closes every epoch to the same report, and the
/// entries carry at least two of their signatures and pass the audit from an operator's
/// archive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_operators_run_the_devnet_and_sign_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NetworkConfig::new(8, 11, dir.path().to_path_buf());
    config.operators = Some(netsim::operators::OperatorsConfig {
        count: 3,
        threshold: 2,
        nats_url: std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
    });
    let mut network = Network::start(config)
        .await
        .expect("a NATS server with JetStream (scripts/setup.sh --tests starts one)");
    let first = network.first_epoch();
    for epoch in first..first + 2 {
        let outcome = network.run_epoch(epoch, |_, _| {}).await.unwrap();
        let report = &outcome.report;
        assert!(
            report.beacons_valid > 0 && report.witnesses_valid > 0,
            "{report:?}"
        );
        let paid: u64 = report.rewards.iter().map(|row| row.total).sum();
        assert_eq!(paid + report.undistributed, report.emission);
        let ledger = outcome.operators.expect("the operators' ledger");
        assert!(ledger.entry_hash.is_some(), "epoch {epoch}: no quorum");
        assert!(ledger.signers.len() >= 2, "{ledger:?}");
        assert!(ledger.dissenters.is_empty(), "{ledger:?}");
    }
    assert_every_entry_audits(&network, 2).await;
}
