//! Every beacon the hotspot would send obeys its region's rules: a channel of the plan, an
//! allowed data rate that carries the payload, EIRP (conducted power + antenna gain) within the
//! limit, and time on air within the dwell time where the region has one (AS923, AU915: 400 ms,
//! met by beaconing at SF9, see `poc::region`).

use hotspot::Hotspot;
use poc::proto::{self, Region};
use poc::{Keypair, RegionPlan};
use rand::{Rng, SeedableRng};

fn entropy(oracle: &Keypair, data: Vec<u8>) -> proto::Entropy {
    poc::testkit::entropy(oracle, data, 1_800_000_000_000)
}

fn check_region(region: Region) {
    let plan = RegionPlan::for_region(region).expect("a plan");
    let oracle = Keypair::generate();
    let mut rng = rand::rngs::StdRng::seed_from_u64(region as u64);
    let mut channels_used = std::collections::BTreeSet::new();
    for gain_ddbi in [0, 12, 30, 58, 90, 150] {
        let hotspot =
            Hotspot::new(Keypair::generate(), region, (10.0, 20.0), gain_ddbi, 5).unwrap();
        for _ in 0..40 {
            let remote: Vec<u8> = (0..32).map(|_| rng.gen()).collect();
            let prepared = hotspot
                .prepare_beacon(&entropy(&oracle, remote), rng.gen(), 1)
                .unwrap();
            let beacon = &prepared.beacon;
            assert!(
                plan.has_channel(beacon.frequency_hz),
                "{region:?}: {} Hz",
                beacon.frequency_hz
            );
            channels_used.insert(beacon.frequency_hz);
            assert!(
                plan.datarates.contains(&beacon.datarate),
                "{region:?}: {:?} not in the plan",
                beacon.datarate
            );
            assert!(beacon.datarate.max_payload >= beacon.payload.len());
            assert_eq!(
                prepared.params.spreading_factor,
                beacon.datarate.spreading_factor
            );
            assert_eq!(prepared.params.bandwidth_hz, beacon.datarate.bandwidth_hz);
            let eirp_ddbm = beacon.tx_power_ddbm + gain_ddbi;
            assert!(
                eirp_ddbm <= plan.max_eirp_ddbm,
                "{region:?}: EIRP {eirp_ddbm} > {} with gain {gain_ddbi}",
                plan.max_eirp_ddbm
            );
            assert_eq!(prepared.report.tx_power_ddbm, beacon.tx_power_ddbm);
            // Time on air, from the formula and from the modulated samples themselves.
            let toa = prepared.params.time_on_air(beacon.payload.len());
            let samples_s = prepared.samples.len() as f64 / prepared.params.sample_rate();
            assert!(
                (samples_s - toa.as_secs_f64()).abs() < 0.01,
                "{region:?}: {samples_s} s of samples vs {toa:?}"
            );
            if let Some(dwell_ms) = plan.dwell_time_ms {
                assert!(
                    toa.as_secs_f64() * 1000.0 <= f64::from(dwell_ms),
                    "{region:?}: {toa:?} on air exceeds the {dwell_ms} ms dwell time"
                );
            }
        }
    }
    assert!(
        channels_used.len() > 1,
        "{region:?}: beacons spread over channels"
    );
}

#[test]
fn us915() {
    check_region(Region::Us915);
}

#[test]
fn eu868() {
    check_region(Region::Eu868);
}

#[test]
fn au915() {
    check_region(Region::Au915);
}

#[test]
fn as923_1() {
    check_region(Region::As9231);
}

#[test]
fn kr920() {
    check_region(Region::Kr920);
}

#[test]
fn in865() {
    check_region(Region::In865);
}

#[test]
fn cn470() {
    check_region(Region::Cn470);
}

#[test]
fn eu433() {
    check_region(Region::Eu433);
}

#[test]
fn every_region_with_a_plan_is_checked_here() {
    assert_eq!(RegionPlan::all().len(), 8);
}
