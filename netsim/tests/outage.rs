//! An oracle outage loses no report: while the oracle is unreachable the hotspots' reports wait
//! in their spools and their delivery backs off; once it is back every report reaches it
//! exactly once, and the epoch comes out as it does without the outage.

use hotspot::metrics::label;
use netsim::network::START_MS;
use netsim::{EpochOutcome, Network, NetworkConfig, OutageStats};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

const HOUR_MS: u64 = 3_600_000;
const HOTSPOTS: usize = 10;

/// What one run of an epoch left behind.
struct Run {
    outcome: EpochOutcome,
    /// The oracle's table counts after the epoch.
    stored: BTreeMap<String, u64>,
    /// Reports the hotspots' delivery saw acknowledged, and refused, by kind.
    delivered: BTreeMap<&'static str, u64>,
    refused: BTreeMap<&'static str, u64>,
    retries: u64,
    outage: OutageStats,
    /// Report files left in the spools (not counting those set aside).
    spooled_files: usize,
    /// Report files set aside as refused.
    rejected_files: usize,
}

fn report_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().is_file())
            .count()
    })
}

async fn run_epoch(outage: Option<Range<u64>>) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NetworkConfig::new(HOTSPOTS, 4, dir.path().to_path_buf());
    config.unasserted = 1;
    config.link_budget = true;
    config.outage = outage;
    let mut network = Network::start(config).await.expect("network starts");
    let epoch = network.first_epoch();
    let outcome = network
        .run_epoch(epoch, |_, _| {})
        .await
        .expect("epoch runs");
    let mut delivered = BTreeMap::new();
    let mut refused = BTreeMap::new();
    let mut retries = 0;
    let (mut spooled_files, mut rejected_files) = (0, 0);
    for index in 0..HOTSPOTS {
        let metrics = network.metrics(index).expect("daemons have metrics");
        for kind in ["beacon", "witness"] {
            let kind_label = label("kind", kind);
            *delivered.entry(kind).or_default() +=
                metrics.reports_delivered.get_or_create(&kind_label).get();
            *refused.entry(kind).or_default() +=
                metrics.reports_refused.get_or_create(&kind_label).get();
        }
        retries += metrics.delivery_retries.get();
        let spool = network.outbox(index).expect("daemons have spools");
        assert_eq!(spool.depth(), 0, "hotspot {index}'s spool has drained");
        let spool_dir = network.spool_dir(index);
        spooled_files += report_files(&spool_dir);
        rejected_files += report_files(&spool_dir.join("rejected"));
    }
    let stored = network.oracle().store().table_counts().await.unwrap();
    Run {
        outcome,
        stored,
        delivered,
        refused,
        retries,
        outage: network.outage_stats(),
        spooled_files,
        rejected_files,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oracle_outage_loses_no_report_and_changes_no_reward() {
    let plain = run_epoch(None).await;
    // The oracle is unreachable from 06:00 to 14:00 of the epoch's 24 hours.
    let outage = START_MS + 6 * HOUR_MS..START_MS + 14 * HOUR_MS;
    let cut = run_epoch(Some(outage)).await;

    // Reports piled up in the spools and delivery retried while the oracle was away.
    println!("outage: {:?}, {} delivery retries", cut.outage, cut.retries);
    assert_eq!(plain.outage, OutageStats::default());
    assert_eq!(plain.retries, 0, "no retries without an outage");
    assert!(cut.outage.steps >= 20, "{:?}", cut.outage);
    assert!(
        cut.outage.reports_held > cut.outage.steps,
        "{:?}",
        cut.outage
    );
    assert!(cut.outage.most_held >= 3, "{:?}", cut.outage);
    assert!(cut.retries >= cut.outage.steps, "{} retries", cut.retries);

    // Every report was delivered (or refused by the oracle) exactly once, in both runs.
    for run in [&plain, &cut] {
        let outcome = &run.outcome;
        let made = (outcome.beacons_sent + outcome.witnesses_sent) as u64;
        let delivered: u64 = run.delivered.values().sum();
        let refused: u64 = run.refused.values().sum();
        assert_eq!(delivered + refused, made);
        assert_eq!(refused, outcome.reports_refused as u64);
        assert!(refused > 0, "the unasserted hotspot's reports are refused");
        assert_eq!(run.stored["beacons"], run.delivered["beacon"]);
        assert_eq!(run.stored["witnesses"], run.delivered["witness"]);
        assert_eq!(run.spooled_files, 0, "nothing is left in the spools");
        assert_eq!(run.rejected_files as u64, refused);
    }

    // The oracle saw the same reports at the same times: the epoch pays the same.
    assert_eq!(cut.stored, plain.stored);
    assert_eq!(
        serde_json::to_string_pretty(&cut.outcome).unwrap(),
        serde_json::to_string_pretty(&plain.outcome).unwrap()
    );
    assert!(plain.outcome.report.beacons_valid > 0 && plain.outcome.report.witnesses_valid > 0);
}
