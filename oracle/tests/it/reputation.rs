//! Reputation from validation history: it lowers the rewards of a hotspot with a poor record
//! and is explained over the API.

use crate::common::*;
use oracle::{EpochReport, OracleConfig};

const EPOCH: u64 = START_MS / DAY_MS;

/// Three hotspots beacon and witness each other for three rounds; from the second round on,
/// hotspot 3 reports its witnesses far louder than physics allows (`rssi_too_high`).
async fn scenario(reputation: bool) -> (Net, EpochReport) {
    let mut config = OracleConfig::open();
    config.reputation.enabled = reputation;
    let net = Net::with_config(config).await;
    let hotspots = [
        net.hotspot(1, AUSTIN).await,
        net.hotspot(2, AUSTIN_NORTH).await,
        net.hotspot(3, (AUSTIN.0, AUSTIN.1 + 0.03)).await,
    ];
    for round in 0..3u8 {
        let entropy = net.oracle.publish_entropy().await.unwrap();
        for (i, beaconer) in hotspots.iter().enumerate() {
            let beacon = beacon_report(beaconer, &entropy.data, [round, i as u8, 0, 0]);
            net.oracle.submit_beacon(beacon.clone()).await.unwrap();
            for (j, w) in hotspots.iter().enumerate() {
                if i != j {
                    let rssi = if j == 2 && round > 0 { 0 } else { -1100 };
                    net.oracle
                        .submit_witness(witness_report(w, &beacon, rssi, 0))
                        .await
                        .unwrap();
                }
            }
        }
        net.settle().await;
        net.advance(6 * 3_600_000);
    }
    net.clock.set((EPOCH + 1) * DAY_MS + 180_000);
    let report = net.oracle.close_epoch(EPOCH).await.unwrap();
    (net, report)
}

#[tokio::test]
async fn a_poor_record_lowers_rewards_and_is_explained() {
    let (net, with) = scenario(true).await;
    let (_, without) = scenario(false).await;
    let bad = poc::Keypair::from_seed(42, 3).address().to_string();
    let good = poc::Keypair::from_seed(42, 1).address().to_string();
    // 3 valid beacons + 2 valid witnesses, 4 × rssi_too_high: α = 8, β = 17.
    let factor = with.reputation[&bad];
    assert!((factor - (8.0 / 25.0) / 0.75).abs() < 1e-9, "{factor}");
    assert_eq!(with.reputation[&good], 1.0);
    assert_eq!(without.reputation[&bad], factor, "computed either way");
    let row =
        |r: &EpochReport, a: &str| r.rewards.iter().find(|x| x.address == a).cloned().unwrap();
    assert!(row(&with, &bad).beacon_amount < row(&without, &bad).beacon_amount);
    assert!(row(&with, &bad).witness_amount < row(&without, &bad).witness_amount);
    assert!(row(&with, &good).total > row(&without, &good).total);
    for r in [&with, &without] {
        let paid: u64 = r.rewards.iter().map(|x| x.total).sum();
        assert_eq!(paid + r.undistributed, r.emission);
    }

    let (addr, _task) = net.serve_http().await;
    let (status, body) = get(addr, &format!("/api/v1/hotspots/{bad}/reputation")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["invalid"]["rssi_too_high"], 4);
    assert_eq!(body["valid_beacons"], 3);
    assert_eq!(body["valid_witnesses"], 2);
    assert!(body["factor"].as_f64().unwrap() < 1.0);
    let why = body["why"].as_str().unwrap();
    assert!(why.contains("4 × rssi_too_high"), "{why}");
    let (status, body) = get(addr, &format!("/api/v1/hotspots/{good}/reputation")).await;
    assert_eq!(status, 200);
    assert_eq!(body["factor"], 1.0);
    let stranger = poc::Keypair::from_seed(9, 9).address();
    assert_eq!(
        get(addr, &format!("/api/v1/hotspots/{stranger}/reputation"))
            .await
            .0,
        404
    );
    assert_eq!(get(addr, "/api/v1/hotspots/xyz/reputation").await.0, 400);
}
