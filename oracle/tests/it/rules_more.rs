//! The rules added to the verifier's baseline: region parameters, denylists, SNR below the
//! demodulation floor, lateness after the first witness, consistency across witnesses, and
//! HIP-106 reciprocity at epoch close. Each case differs from a valid baseline in one way and
//! is rejected by exactly that rule.

use crate::common::*;
use oracle::store::Status;
use oracle::OracleConfig;
use poc::proto::Region;

fn invalid(reason: &str) -> (Status, Option<String>) {
    (Status::Invalid, Some(reason.to_string()))
}

const VALID: (Status, Option<String>) = (Status::Valid, None);

/// A point `km` kilometres north of [`AUSTIN`].
fn north(km: f64) -> (f64, f64) {
    (AUSTIN.0 + km / 111.2, AUSTIN.1)
}

async fn beacon_case(
    config: OracleConfig,
    tweak: impl FnOnce(&mut poc::proto::BeaconReport),
) -> (Status, Option<String>) {
    let net = Net::with_config(config).await;
    let h = net.hotspot(1, AUSTIN).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let mut report = beacon_report(&h, &entropy.data, [0; 4]);
    tweak(&mut report);
    net.oracle
        .submit_beacon(resign(report, &h.key))
        .await
        .unwrap();
    net.settle().await;
    net.beacon_verdict(&h).await
}

#[tokio::test]
async fn beacon_baseline_is_valid() {
    assert_eq!(beacon_case(OracleConfig::open(), |_| {}).await, VALID);
}

#[tokio::test]
async fn beacon_on_a_frequency_outside_the_plan() {
    let verdict = beacon_case(OracleConfig::open(), |r| r.frequency_hz = 902_000_000).await;
    assert_eq!(verdict, invalid("frequency_not_allowed"));
}

#[tokio::test]
async fn beacon_at_a_data_rate_outside_the_plan() {
    let verdict = beacon_case(OracleConfig::open(), |r| r.spreading_factor = 6).await;
    assert_eq!(verdict, invalid("datarate_not_allowed"));
    let verdict = beacon_case(OracleConfig::open(), |r| r.bandwidth_hz = 250_000).await;
    assert_eq!(verdict, invalid("datarate_not_allowed"));
    // SF10 is in the plan but carries at most 11 bytes, not a 51-byte beacon.
    let verdict = beacon_case(OracleConfig::open(), |r| r.spreading_factor = 10).await;
    assert_eq!(verdict, invalid("datarate_not_allowed"));
}

#[tokio::test]
async fn beacon_above_the_eirp_limit() {
    let verdict = beacon_case(OracleConfig::open(), |r| r.tx_power_ddbm += 1).await;
    assert_eq!(verdict, invalid("power_not_allowed"));
}

#[tokio::test]
async fn beacon_below_the_eirp_limit_at_the_power_its_radio_has() {
    // US915 allows 33 dBm with the 3 dBi antenna; an SX1302 board sends 27 dBm and says so.
    let verdict = beacon_case(OracleConfig::open(), |r| {
        assert_eq!(r.tx_power_ddbm, 330);
        r.tx_power_ddbm = 270;
    })
    .await;
    assert_eq!(verdict, VALID);
}

#[tokio::test]
async fn a_witness_is_judged_against_the_power_the_beacon_reports() {
    // 2 km apart: free space allows about −33 dBm + 6 dBi − 97.7 dB ≈ −58.7 dBm at 33 dBm, and
    // 6 dB less at 27 dBm. A witness at −62 dBm is plausible for the first, not the second.
    for (power_ddbm, expected) in [(330, VALID), (270, invalid("rssi_too_high"))] {
        let net = Net::new().await;
        let beaconer = net.hotspot(1, AUSTIN).await;
        let witness = net.hotspot(2, north(2.0)).await;
        let entropy = net.oracle.publish_entropy().await.unwrap();
        let mut beacon = beacon_report(&beaconer, &entropy.data, [0; 4]);
        beacon.tx_power_ddbm = power_ddbm;
        let beacon = resign(beacon, &beaconer.key);
        net.oracle.submit_beacon(beacon.clone()).await.unwrap();
        net.oracle
            .submit_witness(witness_report(&witness, &beacon, -620, 100))
            .await
            .unwrap();
        net.settle().await;
        assert_eq!(net.beacon_verdict(&beaconer).await, VALID);
        assert_eq!(
            net.witness_verdict(&witness).await,
            expected,
            "{power_ddbm}"
        );
    }
}

#[tokio::test]
async fn beacon_of_a_denylisted_hotspot() {
    let mut config = OracleConfig::open();
    config.denylist.hotspots = vec![poc::Keypair::from_seed(42, 1).address().to_string()];
    assert_eq!(beacon_case(config, |_| {}).await, invalid("denylisted"));
    let mut config = OracleConfig::open();
    config.denylist.hotspots = vec![poc::Keypair::from_seed(42, 2).address().to_string()];
    assert_eq!(beacon_case(config, |_| {}).await, VALID);
}

#[tokio::test]
async fn denylist_entries_must_be_addresses() {
    let mut config = OracleConfig::open();
    config.denylist.edges = vec![["nope".into(), "nope".into()]];
    assert!(config.validate().is_err());
}

/// A beacon of hotspot 1 at [`AUSTIN`] and one witness (hotspot 2, `at`) 500 ms later.
async fn witness_case(
    config: OracleConfig,
    at: (f64, f64),
    rssi: i32,
    snr: i32,
) -> (Status, Option<String>) {
    let net = Net::with_config(config).await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    let witness = net.hotspot(2, at).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let beacon = beacon_report(&beaconer, &entropy.data, [1, 2, 3, 4]);
    net.oracle.submit_beacon(beacon.clone()).await.unwrap();
    net.advance(500);
    net.oracle
        .submit_witness(witness_report(&witness, &beacon, rssi, snr))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&beaconer).await, VALID);
    net.witness_verdict(&witness).await
}

#[tokio::test]
async fn witness_of_a_denylisted_hotspot_or_pair() {
    let beaconer = poc::Keypair::from_seed(42, 1).address().to_string();
    let witness = poc::Keypair::from_seed(42, 2).address().to_string();
    let mut config = OracleConfig::open();
    config.denylist.hotspots = vec![witness.clone()];
    assert_eq!(
        witness_case(config, AUSTIN_NORTH, RSSI, SNR).await,
        invalid("denylisted")
    );
    let mut config = OracleConfig::open();
    config.denylist.edges = vec![[beaconer.clone(), witness.clone()]];
    assert_eq!(
        witness_case(config, AUSTIN_NORTH, RSSI, SNR).await,
        invalid("denylisted_edge")
    );
    // Edges have no direction.
    let mut config = OracleConfig::open();
    config.denylist.edges = vec![[witness.clone(), beaconer]];
    assert_eq!(
        witness_case(config, AUSTIN_NORTH, RSSI, SNR).await,
        invalid("denylisted_edge")
    );
    // Another pair of the same witness is not denied.
    let mut config = OracleConfig::open();
    config.denylist.edges = vec![[
        witness,
        poc::Keypair::from_seed(42, 9).address().to_string(),
    ]];
    assert_eq!(witness_case(config, AUSTIN_NORTH, RSSI, SNR).await, VALID);
}

#[tokio::test]
async fn witness_snr_far_below_the_demodulation_floor() {
    // A 51-byte US915 beacon goes out at SF9 (floor −12.5 dB); with the 10 dB margin, −22.5 dB
    // is the lowest believable SNR.
    let plan = poc::RegionPlan::for_region(Region::Us915).unwrap();
    assert_eq!(plan.datarate_for(51).unwrap().spreading_factor, 9);
    assert_eq!(oracle::rules::demod_floor_db(9), Some(-12.5));
    assert_eq!(
        witness_case(OracleConfig::open(), AUSTIN_NORTH, RSSI, -226).await,
        invalid("snr_too_low")
    );
    assert_eq!(
        witness_case(OracleConfig::open(), AUSTIN_NORTH, RSSI, -225).await,
        VALID
    );
}

#[tokio::test]
async fn witness_more_than_1500_ms_after_a_first_witness_that_beat_the_beacon() {
    let net = Net::new().await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    let first = net.hotspot(2, north(2.0)).await;
    let on_time = net.hotspot(3, north(3.0)).await;
    let late = net.hotspot(4, north(4.0)).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let beacon = beacon_report(&beaconer, &entropy.data, [1, 2, 3, 4]);
    let witness = |h: &Hotspot| witness_report(h, &beacon, -1100, 0);
    // The first witness reaches the oracle 1 s before the beacon report.
    net.oracle.submit_witness(witness(&first)).await.unwrap();
    net.advance(1_000);
    net.oracle.submit_beacon(beacon.clone()).await.unwrap();
    net.advance(500);
    net.oracle.submit_witness(witness(&on_time)).await.unwrap();
    net.advance(1);
    // 501 ms after the beacon, well within its 4 s, but 1 501 ms after the first witness.
    net.oracle.submit_witness(witness(&late)).await.unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&beaconer).await, VALID);
    assert_eq!(net.witness_verdict(&first).await, VALID);
    assert_eq!(net.witness_verdict(&on_time).await, VALID);
    assert_eq!(
        net.witness_verdict(&late).await,
        invalid("too_late_after_first")
    );
}

#[tokio::test]
async fn when_the_beacon_comes_first_witnesses_are_timed_from_it() {
    let net = Net::new().await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    let first = net.hotspot(2, north(2.0)).await;
    let later = net.hotspot(3, north(3.0)).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let beacon = beacon_report(&beaconer, &entropy.data, [1, 2, 3, 4]);
    net.oracle.submit_beacon(beacon.clone()).await.unwrap();
    net.advance(100);
    net.oracle
        .submit_witness(witness_report(&first, &beacon, -1100, 0))
        .await
        .unwrap();
    net.advance(3_000);
    net.oracle
        .submit_witness(witness_report(&later, &beacon, -1100, 0))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.witness_verdict(&later).await, VALID);
}

#[tokio::test]
async fn a_far_witness_much_louder_than_near_ones_is_inconsistent() {
    let net = Net::new().await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    // Honest witnesses follow a path-loss exponent of 3.5: −100 dBm at 2 km.
    let honest: Vec<(Hotspot, i32)> = {
        let mut v = Vec::new();
        for (i, km) in [2.0f64, 3.0, 4.0, 5.0].into_iter().enumerate() {
            let rssi = -100.0 - 35.0 * (km / 2.0).log10();
            v.push((
                net.hotspot(10 + i as u64, north(km)).await,
                (rssi * 10.0) as i32,
            ));
        }
        v
    };
    // 6 km out and 37 dB louder than the model, yet below the free-space bound (≈ −68 dBm).
    let loud = net.hotspot(20, north(6.0)).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let beacon = beacon_report(&beaconer, &entropy.data, [1, 2, 3, 4]);
    net.oracle.submit_beacon(beacon.clone()).await.unwrap();
    for (h, rssi) in &honest {
        net.oracle
            .submit_witness(witness_report(h, &beacon, *rssi, 0))
            .await
            .unwrap();
    }
    net.oracle
        .submit_witness(witness_report(&loud, &beacon, -800, 0))
        .await
        .unwrap();
    let summary = {
        net.advance(net.oracle.config().entropy_window_ms + 1_000);
        net.oracle.verify_pending().await.unwrap()
    };
    assert_eq!(summary.witnesses_valid, 4);
    assert_eq!(summary.witnesses_invalid, 1);
    for (h, _) in &honest {
        assert_eq!(net.witness_verdict(h).await, VALID);
    }
    assert_eq!(
        net.witness_verdict(&loud).await,
        invalid("inconsistent_signal")
    );

    // Without enough witnesses to fit a model, the same loud witness stands.
    let config = OracleConfig {
        consistency_min_witnesses: 6,
        ..OracleConfig::open()
    };
    let net = Net::with_config(config).await;
    let beaconer = net.hotspot(1, AUSTIN).await;
    let mut hs = Vec::new();
    for (i, (km, rssi)) in [
        (2.0, -1000),
        (3.0, -1062),
        (4.0, -1105),
        (5.0, -1139),
        (6.0, -800),
    ]
    .into_iter()
    .enumerate()
    {
        hs.push((net.hotspot(10 + i as u64, north(km)).await, rssi));
    }
    let entropy = net.oracle.publish_entropy().await.unwrap();
    let beacon = beacon_report(&beaconer, &entropy.data, [1, 2, 3, 4]);
    net.oracle.submit_beacon(beacon.clone()).await.unwrap();
    for (h, rssi) in &hs {
        net.oracle
            .submit_witness(witness_report(h, &beacon, *rssi, 0))
            .await
            .unwrap();
    }
    net.settle().await;
    assert_eq!(net.witness_verdict(&hs[4].0).await, VALID);
}

#[test]
fn outlier_fit_is_generous_to_shadowing() {
    use oracle::rules::signal_outliers;
    // Exponent 3 with ±8 dB of shadowing: nobody is flagged at a 25 dB margin.
    let points: Vec<(f64, f64)> = [1.0f64, 2.0, 3.0, 5.0, 8.0, 12.0]
        .iter()
        .zip([8.0, -8.0, 6.0, -5.0, 8.0, -7.0])
        .map(|(&km, shadow)| (km * 1000.0, -90.0 - 30.0 * km.log10() + shadow))
        .collect();
    assert!(signal_outliers(&points, 25.0, 4).is_empty());
    // A quiet outlier (an obstacle) is never flagged; a loud one is.
    let mut quiet = points.clone();
    quiet[5].1 -= 60.0;
    assert!(!signal_outliers(&quiet, 25.0, 4).contains(&5));
    let mut loud = points.clone();
    loud[5].1 += 40.0;
    assert_eq!(signal_outliers(&loud, 25.0, 4), vec![5]);
    assert!(signal_outliers(&loud[..3], 25.0, 4).is_empty());
}

const EPOCH: u64 = START_MS / DAY_MS;

/// A and C beacon and witness each other; B only witnesses A; D only beacons (heard by A).
async fn reciprocity_epoch(window_ms: u64) -> oracle::EpochReport {
    let config = OracleConfig {
        reciprocity_window_ms: window_ms,
        ..OracleConfig::open()
    };
    let net = Net::with_config(config).await;
    let a = net.hotspot(1, AUSTIN).await;
    let b = net.hotspot(2, north(2.0)).await;
    let c = net.hotspot(3, (AUSTIN.0, AUSTIN.1 + 0.03)).await;
    let d = net.hotspot(4, north(-2.5)).await;
    let entropy = net.oracle.publish_entropy().await.unwrap();
    for (beaconer, witnesses, local) in [
        (&a, vec![&b, &c], 1u8),
        (&c, vec![&a], 2),
        (&d, vec![&a], 3),
    ] {
        let beacon = beacon_report(beaconer, &entropy.data, [local; 4]);
        net.oracle.submit_beacon(beacon.clone()).await.unwrap();
        for w in witnesses {
            net.oracle
                .submit_witness(witness_report(w, &beacon, -1100, 0))
                .await
                .unwrap();
        }
    }
    net.settle().await;
    net.clock.set((EPOCH + 1) * DAY_MS + 180_000);
    net.oracle.close_epoch(EPOCH).await.unwrap()
}

#[tokio::test]
async fn reciprocity_withholds_rewards_from_one_way_hotspots() {
    let key = |i: u64| poc::Keypair::from_seed(42, i).address().to_string();
    let total = |r: &oracle::EpochReport, i: u64| {
        r.rewards
            .iter()
            .find(|row| row.address == key(i))
            .map_or(0, |row| row.total)
    };
    let report = reciprocity_epoch(48 * 3_600_000).await;
    assert_eq!(report.ineligible.get("gateway_no_valid_beacons"), Some(&1));
    assert_eq!(
        report.ineligible.get("gateway_no_valid_witnesses"),
        Some(&1)
    );
    assert_eq!(total(&report, 2), 0, "B never beacons");
    assert_eq!(total(&report, 4), 0, "D never witnesses");
    assert!(total(&report, 1) > 0 && total(&report, 3) > 0);
    let paid: u64 = report.rewards.iter().map(|r| r.total).sum();
    assert_eq!(paid + report.undistributed, report.emission);

    let off = reciprocity_epoch(0).await;
    assert!(off.ineligible.is_empty());
    assert!(total(&off, 2) > 0 && total(&off, 4) > 0);
}
