//! Closing epochs: shares sum exactly to the emission, results are deterministic and stored.

use crate::common::*;
use oracle::{EpochReport, OracleError};

const EPOCH: u64 = START_MS / DAY_MS;

/// Three hotspots beaconing and witnessing each other, plus some rejected reports.
async fn scenario(net: &Net) {
    let hotspots = [
        net.hotspot(1, AUSTIN).await,
        net.hotspot(2, AUSTIN_NORTH).await,
        net.hotspot(3, (AUSTIN.0, AUSTIN.1 + 0.03)).await,
    ];
    let loud = net.hotspot(4, (AUSTIN.0 - 0.02, AUSTIN.1)).await;
    for round in 0..3u64 {
        // One round per 6 h bucket.
        let entropy = net.oracle.publish_entropy().await.unwrap();
        for (i, beaconer) in hotspots.iter().enumerate() {
            if round == 2 && i == 2 {
                continue;
            }
            let beacon = beacon_report(beaconer, &entropy.data, [round as u8, i as u8, 0, 0]);
            net.oracle.submit_beacon(beacon.clone()).await.unwrap();
            for (j, w) in hotspots.iter().enumerate() {
                if i != j {
                    net.oracle
                        .submit_witness(witness_report(w, &beacon, -1100, 0))
                        .await
                        .unwrap();
                }
            }
        }
        // A witness louder than physics allows, and a self-witness.
        let beacon = beacon_report(&hotspots[0], &entropy.data, [round as u8, 0, 0, 0]);
        net.oracle
            .submit_witness(witness_report(&loud, &beacon, 0, 0))
            .await
            .unwrap();
        net.oracle
            .submit_witness(witness_report(&hotspots[0], &beacon, -1100, 0))
            .await
            .unwrap();
        net.settle().await;
        net.advance(6 * 3_600_000);
    }
}

async fn closed(net: &Net) -> EpochReport {
    net.clock.set((EPOCH + 1) * DAY_MS + 180_000);
    net.oracle.close_epoch(EPOCH).await.unwrap()
}

#[tokio::test]
async fn shares_sum_to_the_emission_and_are_deterministic() {
    let a = Net::new().await;
    scenario(&a).await;
    // Not settled yet.
    a.clock.set((EPOCH + 1) * DAY_MS);
    assert!(matches!(
        a.oracle.close_epoch(EPOCH).await,
        Err(OracleError::EpochNotSettled { .. })
    ));
    let report = closed(&a).await;
    assert_eq!(report.epoch, EPOCH);
    assert_eq!(report.beacons_valid, 8);
    assert_eq!(report.witnesses_valid, 16);
    assert_eq!(report.rewards.len(), 3);
    let total: u64 = report.rewards.iter().map(|r| r.total).sum();
    assert_eq!(total + report.undistributed, report.emission);
    assert_eq!(report.undistributed, 0);
    assert_eq!(total, a.oracle.config().rewards.emission);
    for row in &report.rewards {
        assert_eq!(row.total, row.beacon_amount + row.witness_amount);
        assert!(row.total > 0);
    }
    assert_eq!(report.rejections.get("rssi_too_high"), Some(&3));
    assert_eq!(report.rejections.get("self_witness"), Some(&3));

    // Closing again returns the stored report, even after more reports arrive.
    let again = a.oracle.close_epoch(EPOCH).await.unwrap();
    assert_eq!(again, report);
    assert_eq!(
        a.oracle.epoch_report(EPOCH).await.unwrap(),
        Some(report.clone())
    );

    // Another oracle fed the same reports computes the same rewards.
    let b = Net::new().await;
    scenario(&b).await;
    let other = closed(&b).await;
    assert_eq!(other.rewards, report.rewards);
    assert_eq!(other.rejections, report.rejections);
}

#[tokio::test]
async fn an_empty_epoch_distributes_nothing() {
    let net = Net::new().await;
    let report = closed(&net).await;
    assert!(report.rewards.is_empty());
    assert_eq!(report.undistributed, report.emission);
}
