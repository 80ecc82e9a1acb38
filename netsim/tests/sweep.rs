//! A tiny sweep end to end: two seeds, one small world, two scenarios; its JSON holds every
//! run, and a world file with a mistake is refused with the mistake named.

use netsim::evidence::EvidenceFile;
use netsim::network::Transport;
use netsim::scenario::{run_attack, Baselines, Scenario, ScenarioConfig};
use netsim::sweep::{RunRecord, SweepPlan, SweepReport, Targets};
use netsim::world::World;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Twelve sites on a 3 × 4 grid 600 m apart in Sacramento; the last is an attacker's.
fn tiny_world() -> String {
    let mut text = String::from(
        "name = \"tiny\"\n[propagation]\npath_loss_exponent = 3.5\nshadowing_db = 6.0\nshared_fraction = 0.5\ncorrelation_m = 800.0\n[network]\nhotspots = 12\n",
    );
    for k in 0..12 {
        let (row, col) = (k / 4, k % 4);
        text.push_str(&format!(
            "[[sites]]\nname = \"s{k}\"\nlat = {}\nlon = {}\nrole = \"{}\"\n",
            38.575 + row as f64 * 0.0054,
            -121.49 + col as f64 * 0.0068,
            if k == 11 { "attacker" } else { "honest" }
        ));
    }
    text
}

/// A sweep of `scenarios` in `world` on seed 5, one epoch, one job at a time.
fn one_job_plan(world: Arc<World>, scenarios: Vec<Scenario>) -> SweepPlan {
    SweepPlan {
        worlds: vec![world],
        scenarios,
        seeds: 5..=5,
        epochs: 1,
        jobs: 1,
        data_root: None,
        emission_usd: None,
        evidence_dir: None,
        rules: Arc::new(oracle::OracleConfig::open()),
        done: Vec::new(),
    }
}

#[test]
fn a_tiny_sweep_writes_every_run() {
    let world = World::parse(&tiny_world(), "tiny.toml").expect("the tiny world parses");
    let evidence = tempfile::tempdir().unwrap();
    let plan = SweepPlan {
        worlds: vec![Arc::new(world)],
        scenarios: vec![Scenario::Spoof, Scenario::WitnessOnly],
        seeds: 5..=6,
        epochs: 1,
        jobs: 2,
        data_root: None,
        emission_usd: None,
        evidence_dir: Some(evidence.path().to_path_buf()),
        rules: Arc::new(oracle::OracleConfig::open()),
        done: Vec::new(),
    };
    let seen = Arc::new(AtomicUsize::new(0));
    let progress = {
        let seen = seen.clone();
        Arc::new(move |_: &RunRecord| {
            seen.fetch_add(1, Ordering::Relaxed);
        })
    };
    let report = SweepReport::run(&plan, Targets::default(), Some("1..100".into()), progress);
    assert_eq!(seen.load(Ordering::Relaxed), 4);
    let json = serde_json::to_string(&report).unwrap();
    let back: SweepReport = serde_json::from_str(&json).unwrap();
    let runs: Vec<(&str, &str, u64)> = back
        .runs
        .iter()
        .map(|r| (r.world.as_str(), r.scenario.as_str(), r.seed))
        .collect();
    assert_eq!(
        runs,
        [
            ("tiny", "spoof", 5),
            ("tiny", "spoof", 6),
            ("tiny", "witness-only", 5),
            ("tiny", "witness-only", 6),
        ]
    );
    for run in &back.runs {
        assert!(run.error.is_none(), "{run:?}");
        assert_eq!((run.hotspots, run.attackers), (12, 1), "{run:?}");
        assert_eq!(run.attack_free_hotspot_epochs, 11, "{run:?}");
    }
    assert_eq!(back.summaries.len(), 2);
    assert_eq!(back.seeds, "5..6");
    let markdown = report.markdown();
    assert!(markdown.contains("Seeds 5..6"), "{markdown}");
    assert!(markdown.contains("tuned on seeds 1..100"), "{markdown}");
    assert!(markdown.contains("| spoof | 2 |"), "{markdown}");
    assert_eq!(
        evidence_of(evidence.path(), "attack-free").attackers.len(),
        0
    );
    let spoof = evidence_of(evidence.path(), "spoof");
    assert_eq!(spoof.attackers.len(), 1);
    let (judged, _owners) = spoof.evidence.decode().expect("the evidence decodes");
    let attacker = oracle_core::defences::record::key_from_hex(&spoof.attackers[0]).unwrap();
    assert!(judged.locations.contains_key(&attacker));
    assert!(
        judged.beacons.len() > 10,
        "{} beacons",
        judged.beacons.len()
    );
}

/// The one epoch's evidence file of `run` for seed 5 of the tiny world.
fn evidence_of(root: &std::path::Path, run: &str) -> EvidenceFile {
    let dir = root.join("tiny").join("5").join(run);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = EvidenceFile::read(&files[0]).expect("an evidence file");
    assert_eq!(file.seed, 5);
    file
}

#[test]
fn a_world_file_with_a_mistake_is_refused_with_the_mistake_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    let text = tiny_world().replace("shadowing_db = 6.0", "shadowing_db = \"loud\"");
    std::fs::write(&path, text).unwrap();
    let error = World::load(path.to_str().unwrap()).unwrap_err().to_string();
    assert!(error.contains("broken.toml"), "{error}");
    assert!(error.contains("shadowing_db"), "{error}");
    let missing = World::load("/nonexistent/world.toml")
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/world.toml"), "{missing}");
}

/// Twelve sites on an uneven grid in Sacramento, so that no two roofs see the network alike;
/// a quarter of the hotspots attack.
fn uneven_world() -> String {
    let mut text = String::from(
        "name = \"uneven\"\n[propagation]\npath_loss_exponent = 3.5\nshadowing_db = 6.0\n[network]\nhotspots = 12\nattacker_fraction = 0.25\n",
    );
    for k in 0..12u32 {
        let (row, col) = (f64::from(k / 4), f64::from(k % 4));
        text.push_str(&format!(
            "[[sites]]\nname = \"s{k}\"\nlat = {}\nlon = {}\nrole = \"any\"\n",
            38.575 + row * 0.0054 + f64::from(k % 3) * 0.0011,
            -121.49 + col * 0.0068 + f64::from(k * k % 5) * 0.0007,
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mix_is_measured_against_its_own_radios_run_honestly() {
    // Three attackers of twelve: the farm scenario's roof is the first attacker's site, the
    // mix's farm key stands on the third. Both roofs carry one site number, yet they are two
    // radios: a sweep that runs the farm first must not measure the mix against its roof.
    let world = Arc::new(World::parse(&uneven_world(), "uneven.toml").expect("it parses"));
    let plan = one_job_plan(world.clone(), vec![Scenario::Farm, Scenario::Mix]);
    let swept = tokio::task::spawn_blocking(move || {
        SweepReport::run(
            &plan,
            Targets::default(),
            None,
            Arc::new(|_: &RunRecord| {}),
        )
    })
    .await
    .unwrap();
    let mix = swept.runs.iter().find(|r| r.scenario == "mix").unwrap();
    let mut config = ScenarioConfig::in_world(Scenario::Mix, world, 1, 5);
    config.transport = Transport::InProcess;
    let dir = tempfile::tempdir().unwrap();
    let alone = run_attack(
        Scenario::Mix,
        &config,
        &mut Baselines::default(),
        dir.path(),
    )
    .await
    .unwrap();
    assert!(alone.honest_radio_share > 0.0, "the mix's farm radio earns");
    assert_eq!(mix.honest_radio_share, alone.honest_radio_share);
    assert_eq!(mix.honest_loss, alone.honest_loss);
}

#[test]
fn a_resumed_sweep_runs_only_what_its_log_lacks() {
    let world = Arc::new(World::parse(&tiny_world(), "tiny.toml").expect("it parses"));
    let mut plan = one_job_plan(world, vec![Scenario::WitnessOnly]);
    let count = |seen: &Arc<AtomicUsize>| -> Arc<dyn Fn(&RunRecord) + Send + Sync> {
        let seen = seen.clone();
        Arc::new(move |_: &RunRecord| {
            seen.fetch_add(1, Ordering::Relaxed);
        })
    };
    let first = SweepReport::run(&plan, Targets::default(), None, count(&Arc::default()));
    assert_eq!(first.runs.len(), 1);
    // The log of a stopped sweep over 5..=6: seed 5 finished, seed 6 failed.
    let mut failed = first.runs[0].clone();
    failed.seed = 6;
    failed.error = Some("stopped".into());
    plan.seeds = 5..=6;
    plan.done = vec![first.runs[0].clone(), failed];
    let seen = Arc::new(AtomicUsize::new(0));
    let resumed = SweepReport::run(&plan, Targets::default(), None, count(&seen));
    assert_eq!(seen.load(Ordering::Relaxed), 1, "only seed 6 runs again");
    let seeds: Vec<u64> = resumed.runs.iter().map(|r| r.seed).collect();
    assert_eq!(seeds, [5, 6]);
    assert_eq!(resumed.runs[0], first.runs[0], "seed 5 kept as it was");
    assert!(resumed.runs[1].error.is_none(), "{:?}", resumed.runs[1]);
    assert_eq!(resumed.summaries[0].runs, 2);
}
