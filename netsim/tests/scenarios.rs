//! The attack scenarios against their targets: with 10 % attackers, the attackers earn at
//! most 2 % of the rewards and the honest hotspots lose at most 1 % against the attack-free
//! run with the same seed.

use netsim::scenario::{run, Scenario, ScenarioConfig};

const MAX_ATTACKER_SHARE: f64 = 0.02;
const MAX_HONEST_LOSS: f64 = 0.01;

async fn check(scenario: Scenario, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = ScenarioConfig::new(scenario, 1, seed);
    let report = run(scenario, &config, dir.path())
        .await
        .expect("scenario runs");
    println!(
        "{}",
        netsim::scenario::markdown(std::slice::from_ref(&report))
    );
    assert!(report.attackers * 10 >= report.hotspots, "{report:?}");
    assert!(
        report.honest_earned.0 > 0 && report.emission > 0,
        "the attack-free run pays: {report:?}"
    );
    assert!(
        report.meets(MAX_ATTACKER_SHARE, MAX_HONEST_LOSS),
        "{}: attackers earned {:.2} %, honest hotspots lost {:.2} %: {report:#?}",
        scenario.name(),
        report.attacker_share * 100.0,
        report.honest_loss * 100.0
    );
    assert!(
        !report.caught.is_empty(),
        "some rule must catch them: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring() {
    check(Scenario::Ring, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoof() {
    check(Scenario::Spoof, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forge_rssi() {
    check(Scenario::ForgeRssi, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farm() {
    check(Scenario::Farm, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay() {
    check(Scenario::Replay, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_only() {
    check(Scenario::WitnessOnly, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mix() {
    check(Scenario::Mix, 7).await;
}
