//! Three operators sharing one report log (NATS JetStream on loopback, `NATS_URL` or
//! 127.0.0.1:4222): whichever operator a hotspot submits to, every operator stores the same
//! reports and closes the epoch to the same shares, and an operator whose follower stopped
//! catches up from the log when it starts again.

use crate::common::*;
use oracle::config::ReportLogConfig;
use oracle::report_log::ReportLog;
use oracle::store::{SqliteStore, Store};
use oracle::{EpochReport, ManualClock, Oracle, OracleConfig};
use poc::proto::{self, Region};
use poc::{Keypair, Signable};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub(crate) const EPOCH: u64 = START_MS / DAY_MS;

fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

pub(crate) struct Operators {
    pub(crate) oracles: Vec<Oracle>,
    configs: Vec<OracleConfig>,
    pub(crate) wall: Arc<ManualClock>,
    stream: String,
    stops: Vec<Option<watch::Sender<bool>>>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Operators {
    async fn new(n: u64) -> Self {
        Self::with_liar(n, None).await
    }

    /// `n` operators; the operator `liar`, if any, pays 1 000 more than the others' rules
    /// (its own copy of the rules, changed).
    pub(crate) async fn with_liar(n: u64, liar: Option<usize>) -> Self {
        let keys: Vec<Keypair> = (0..n).map(|i| Keypair::from_seed(77, i)).collect();
        let stream = format!("TEST_REPORT_LOG_{:016x}", rand::random::<u64>());
        let mut config = OracleConfig::open();
        config.report_log = ReportLogConfig {
            url: Some(nats_url()),
            stream: stream.clone(),
            operators: keys.iter().map(|k| k.address().to_string()).collect(),
            tick_ms: 1_000,
            threshold: 0,
        };
        let wall = Arc::new(ManualClock::new(START_MS));
        let mut oracles = Vec::new();
        let mut configs = Vec::new();
        let mut dirs = Vec::new();
        for (i, key) in keys.into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let mut config = config.clone();
            config.archive.dir = Some(dir.path().join("archive"));
            // Small blocks: an epoch's reports in several record files.
            config.archive.block_rows = 4;
            if liar == Some(i) {
                config.rewards.emission += 1_000;
            }
            oracles.push(open_operator(&config, dir.path(), key, &wall).await);
            configs.push(config);
            dirs.push(dir);
        }
        let stops = (0..n).map(|_| None).collect();
        Self {
            oracles,
            configs,
            wall,
            stream,
            stops,
            _dirs: dirs,
        }
    }

    pub(crate) fn follow(&mut self, i: usize) {
        let (stop, stopped) = watch::channel(false);
        let oracle = self.oracles[i].clone();
        tokio::spawn(async move {
            let mut stopped = stopped;
            let shutdown = async move {
                let _ = stopped.wait_for(|&s| s).await;
            };
            oracle.follow_log(shutdown).await.unwrap();
        });
        self.stops[i] = Some(stop);
    }

    /// Operator `i` as after a restart of its process: a new oracle on its store, ledger and
    /// key, with nothing of the old one's memory.
    async fn reopen(&mut self, i: usize) {
        self.stop(i);
        let key = Keypair::from_seed(77, i as u64);
        let dir = self._dirs[i].path().to_path_buf();
        self.oracles[i] = open_operator(&self.configs[i], &dir, key, &self.wall).await;
    }

    /// Operator `i` follows the log as `oracle serve` does: a follower that fails is started
    /// again (here after 50 ms).
    fn follow_retrying(&mut self, i: usize) {
        let (stop, stopped) = watch::channel(false);
        let oracle = self.oracles[i].clone();
        tokio::spawn(async move {
            loop {
                let mut stopped = stopped.clone();
                let shutdown = async move {
                    let _ = stopped.wait_for(|&s| s).await;
                };
                if oracle.follow_log(shutdown).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        self.stops[i] = Some(stop);
    }

    /// Operator `i`'s SQLite store, opened beside the operator.
    async fn raw_store(&self, i: usize) -> sqlx::SqliteConnection {
        use sqlx::Connection;
        let path = self._dirs[i].path().join("oracle.sqlite");
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap()
    }

    fn stop(&mut self, i: usize) {
        if let Some(stop) = self.stops[i].take() {
            stop.send(true).unwrap();
        }
    }

    /// Waits until every following operator has applied the whole log.
    pub(crate) async fn caught_up(&self) {
        let log = self.oracles[0].report_log().unwrap();
        let last = log.last_seq().await.unwrap();
        for (oracle, stop) in self.oracles.iter().zip(&self.stops) {
            if stop.is_none() {
                continue;
            }
            for _ in 0..600 {
                if oracle.log_position().await.unwrap().seq >= last {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(oracle.log_position().await.unwrap().seq >= last);
        }
    }

    /// Moves the operators' clocks on and lets the log's time follow: a tick is published and
    /// every following operator has applied the log up to it, and so everything published
    /// before it.
    pub(crate) async fn advance(&self, ms: u64) {
        self.wall.advance(ms);
        self.oracles[0].publish_tick().await.unwrap();
        self.caught_up().await;
    }

    pub(crate) async fn delete_stream(&self) {
        let client = async_nats::connect(nats_url()).await.unwrap();
        let _ = async_nats::jetstream::new(client)
            .delete_stream(&self.stream)
            .await;
    }
}

/// An operator with its store, archive and ledger in `dir`.
async fn open_operator(
    config: &OracleConfig,
    dir: &std::path::Path,
    key: Keypair,
    wall: &Arc<ManualClock>,
) -> Oracle {
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.join("oracle.sqlite")).await.unwrap());
    let log = ReportLog::connect(&config.report_log, wall.clone())
        .await
        .expect("a NATS server with JetStream (scripts/setup.sh --tests starts one)");
    let ledger = ledger::LedgerFile::new(dir.join(ledger::LEDGER_FILE));
    Oracle::with_report_log(config.clone(), store, key, log).keeping_ledger(ledger)
}

/// The operator's ledger, once it holds `entries` entries.
pub(crate) async fn ledger_of(oracle: &Oracle, entries: usize) -> Vec<ledger::LedgerEntry> {
    for _ in 0..600 {
        let found = oracle.ledger_entries().unwrap();
        if found.len() >= entries {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the ledger did not reach {entries} entries");
}

fn hotspot(index: u64, at: (f64, f64)) -> Hotspot {
    Hotspot {
        key: Keypair::from_seed(42, index),
        location: u64::from(cell(at)),
        gain: GAIN,
        region: Region::Us915,
    }
}

fn hotspots() -> [Hotspot; 3] {
    [
        hotspot(1, AUSTIN),
        hotspot(2, AUSTIN_NORTH),
        hotspot(3, (AUSTIN.0, AUSTIN.1 + 0.03)),
    ]
}

/// Sends each report to the next of the operators `up`, in turn.
struct Turns<'a> {
    ops: &'a Operators,
    up: Vec<usize>,
    turn: usize,
}

impl<'a> Turns<'a> {
    fn new(ops: &'a Operators, up: &[usize]) -> Self {
        Self {
            ops,
            up: up.to_vec(),
            turn: 0,
        }
    }

    fn next(&mut self) -> &'a Oracle {
        self.turn += 1;
        &self.ops.oracles[self.up[self.turn % self.up.len()]]
    }
}

pub(crate) async fn assert_hotspots(ops: &Operators, up: &[usize]) {
    let mut turns = Turns::new(ops, up);
    for h in hotspots() {
        let a = assertion(&h.key, h.location, h.gain, h.region, ops.wall.now_ms());
        turns.next().assert_location(a).await.unwrap();
    }
    ops.advance(1_000).await;
}

/// One round of the three hotspots beaconing and witnessing each other, each report sent to
/// the next of the operators `up`, then six hours on.
pub(crate) async fn round(ops: &Operators, round: u8, up: &[usize]) {
    let mut turns = Turns::new(ops, up);
    let hotspots = hotspots();
    let entropy = shared_entropy(ops, up).await;
    ops.advance(1_000).await;
    for (i, beaconer) in hotspots.iter().enumerate() {
        let beacon = beacon_report(beaconer, &entropy.data, [round, i as u8, 0, 0]);
        turns.next().submit_beacon(beacon.clone()).await.unwrap();
        for (j, w) in hotspots.iter().enumerate() {
            if i != j {
                let witness = witness_report(w, &beacon, -1100, 0);
                let results = turns.next().submit_witnesses(vec![witness]).await.unwrap();
                assert!(results.iter().all(Result::is_ok));
            }
        }
    }
    ops.advance(6 * 3_600_000).await;
}

/// The operators `up` (all following the log) make a round of entropy together: each commits,
/// the round's contributors reveal once the commitments are applied, and every following
/// operator then serves the same entropy, signed by itself.
async fn shared_entropy(ops: &Operators, up: &[usize]) -> proto::Entropy {
    let mut round = 0;
    for &i in up {
        round = ops.oracles[i].commit_entropy().await.unwrap();
    }
    let made = entropy_of_round(ops, up[0], round).await;
    assert!(made.is_some(), "round {round} ended without entropy");
    let made = made.unwrap();
    assert_eq!(made.shares.len(), 2, "a threshold of contributions");
    made.verify().unwrap();
    for (i, oracle) in ops.oracles.iter().enumerate() {
        if ops.stops[i].is_some() {
            let served = oracle.get_entropy().await.unwrap();
            assert_eq!((&served.data, &served.shares), (&made.data, &made.shares));
            assert_eq!(served.oracle_key, oracle.address().0.to_vec());
            served.verify().unwrap();
        }
    }
    made
}

/// The entropy of `round` as operator `i` serves it, once the log is applied (commitments,
/// then the reveals they prompt); `None` if the round ended without entropy.
async fn entropy_of_round(ops: &Operators, i: usize, round: u64) -> Option<proto::Entropy> {
    for _ in 0..100 {
        ops.caught_up().await;
        if let Ok(entropy) = ops.oracles[i].get_entropy().await {
            if entropy.round == round {
                return Some(entropy);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

async fn closed_report(oracle: &Oracle) -> EpochReport {
    oracle
        .epoch_report(EPOCH)
        .await
        .unwrap()
        .expect("the epoch closed")
}

#[tokio::test]
async fn operators_applying_one_log_close_the_same_epoch() {
    let mut ops = Operators::new(3).await;
    for i in 0..3 {
        ops.follow(i);
    }
    assert_hotspots(&ops, &[0, 1, 2]).await;
    round(&ops, 0, &[0, 1, 2]).await;
    // The third operator goes down in the middle of the epoch; the others go on.
    ops.stop(2);
    round(&ops, 1, &[0, 1]).await;
    round(&ops, 2, &[0, 1]).await;
    ops.advance(DAY_MS).await;
    let first = closed_report(&ops.oracles[0]).await;
    assert_eq!(first.beacons_valid, 9);
    assert_eq!(first.witnesses_valid, 18);
    assert_eq!(first.rewards.len(), 3);
    let paid: u64 = first.rewards.iter().map(|r| r.total).sum();
    assert_eq!(paid + first.undistributed, first.emission);
    assert_eq!(closed_report(&ops.oracles[1]).await, first);
    // Two of three signed the entry: it counts, and both hold the same one.
    let entries = ledger_of(&ops.oracles[0], 1).await;
    assert_eq!(ledger_of(&ops.oracles[1], 1).await, entries);
    let summary = ledger::verify_chain(&entries, None).unwrap();
    assert_eq!(summary.entries, 1);
    // Anyone reproduces the entry from an operator's archive and the ledger.
    let source = oracle::archive::Source::Dir(ops.oracles[0].archive().unwrap().clone());
    let audit = oracle::audit::audit(&source, &entries, EPOCH)
        .await
        .unwrap();
    assert!(audit.mismatches.is_empty(), "{:?}", audit.mismatches);
    assert_eq!(audit.shares, 3);
    let quorum = entries[0].quorum.as_ref().expect("a version 4 entry");
    assert_eq!(quorum.declared.threshold(), 2);
    let signers: Vec<_> = quorum.signatures.iter().map(|s| s.operator).collect();
    let mut expected = vec![ops.oracles[0].address(), ops.oracles[1].address()];
    expected.sort();
    assert_eq!(signers, expected);
    let behind = ops.oracles[2].log_position().await.unwrap();
    assert!(behind.seq < ops.oracles[0].log_position().await.unwrap().seq);
    // It says so.
    let (http, server) = ops.oracles[2]
        .serve_http("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (status, stats) = get(http, "/api/v1/stats").await;
    server.abort();
    assert_eq!(status, 200);
    assert_eq!(stats["report_log"]["applied_seq"], behind.seq);
    assert!(stats["report_log"]["behind"].as_u64().unwrap() > 0);

    // Its archive's record files of the first round, as after a crash before they were
    // recorded: it writes them at its close, where the others wrote them as they verified.
    let store = ops.oracles[2].store();
    let written = store.archive_chunks(EPOCH).await.unwrap();
    assert!(!written.is_empty());
    for c in &written {
        store
            .delete_archive_chunk(c.epoch, c.kind, c.block)
            .await
            .unwrap();
    }
    // Back up, it catches up from the log to the same report and position.
    ops.follow(2);
    ops.caught_up().await;
    assert_eq!(closed_report(&ops.oracles[2]).await, first);
    assert_eq!(ledger_of(&ops.oracles[2], 1).await, entries);
    assert!(ops.oracles.iter().all(|o| o.dissenters(EPOCH).is_empty()));
    // The same archive, byte for byte: the same manifest, listing several files of a kind.
    let manifests: Vec<String> = ops
        .oracles
        .iter()
        .map(|o| o.archive().unwrap().epoch_manifest(EPOCH).unwrap().unwrap())
        .collect();
    assert!(
        manifests.iter().all(|m| *m == manifests[0]),
        "{manifests:?}"
    );
    assert_eq!(
        hex::encode(entries[0].manifest.archive.unwrap()),
        manifests[0]
    );
    let dir = ops.oracles[2].archive().unwrap();
    let manifest =
        oracle::archive::records::decode_manifest(&dir.read(&manifests[0]).unwrap().unwrap())
            .unwrap();
    let witness_files = manifest.files.iter().filter(|f| f.kind == "witnesses");
    assert!(witness_files.count() > 1);
    // Its own signature, published while it caught up, is applied by all too.
    ops.advance(1_000).await;
    assert_eq!(
        ops.oracles[2].log_position().await.unwrap(),
        ops.oracles[0].log_position().await.unwrap()
    );
    ops.delete_stream().await;
}

#[tokio::test]
async fn entries_of_strangers_are_skipped_by_every_operator() {
    let mut ops = Operators::new(2).await;
    ops.follow(0);
    ops.follow(1);
    // An oracle whose key is not among the operators publishes into the same stream.
    let dir = tempfile::tempdir().unwrap();
    let stranger = {
        let mut config = ops.oracles[0].config().clone();
        config.report_log.operators = vec![Keypair::from_seed(78, 0).address().to_string()];
        let log = ReportLog::connect(&config.report_log, ops.wall.clone())
            .await
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("stranger.sqlite"))
                .await
                .unwrap(),
        );
        Oracle::with_report_log(config, store, Keypair::from_seed(78, 0), log)
    };
    let h = hotspot(1, AUSTIN);
    let a = assertion(&h.key, h.location, h.gain, h.region, ops.wall.now_ms());
    stranger.assert_location(a).await.unwrap();
    ops.advance(1_000).await;
    for oracle in &ops.oracles {
        assert!(!oracle.store().is_known_gateway(&h.pub_key()).await.unwrap());
    }
    // The same assertion through an operator is applied by both.
    let a = assertion(&h.key, h.location, h.gain, h.region, ops.wall.now_ms());
    ops.oracles[1].assert_location(a).await.unwrap();
    ops.caught_up().await;
    for oracle in &ops.oracles {
        assert!(oracle.store().is_known_gateway(&h.pub_key()).await.unwrap());
    }
    ops.delete_stream().await;
}

#[tokio::test]
async fn an_operator_that_pays_otherwise_gets_no_quorum_and_is_named() {
    let mut ops = Operators::with_liar(3, Some(2)).await;
    ops.follow(0);
    ops.follow(2);
    assert_hotspots(&ops, &[0, 2]).await;
    round(&ops, 0, &[0, 2]).await;
    ops.advance(DAY_MS).await;
    // Both signatures were published as the epoch closed; a tick after them is applied once
    // they are.
    ops.advance(1_000).await;
    // The honest operator and the liar each signed their own entry: neither has a quorum.
    let honest = closed_report(&ops.oracles[0]).await;
    assert_ne!(closed_report(&ops.oracles[2]).await, honest);
    assert!(ops.oracles[0].ledger_entries().unwrap().is_empty());
    assert!(ops.oracles[2].ledger_entries().unwrap().is_empty());
    let liar = ops.oracles[2].address();
    assert_eq!(ops.oracles[0].dissenters(EPOCH), vec![liar]);

    // A second honest operator catches up and signs the same entry as the first.
    ops.follow(1);
    ops.caught_up().await;
    let entries = ledger_of(&ops.oracles[0], 1).await;
    assert_eq!(ledger_of(&ops.oracles[1], 1).await, entries);
    ledger::verify_chain(&entries, None).unwrap();
    let signers: Vec<_> = entries[0]
        .quorum
        .as_ref()
        .unwrap()
        .signatures
        .iter()
        .map(|s| s.operator)
        .collect();
    assert!(!signers.contains(&liar));
    assert_eq!(ops.oracles[0].dissenters(EPOCH), vec![liar]);
    assert_eq!(ops.oracles[1].dissenters(EPOCH), vec![liar]);
    // The liar's own entry never counts.
    assert!(ops.oracles[2].ledger_entries().unwrap().is_empty());
    ops.delete_stream().await;
}

#[tokio::test]
async fn entropy_is_made_by_a_threshold_of_operators_and_a_withholder_is_benched() {
    let mut ops = Operators::new(3).await;
    ops.follow(0);
    ops.follow(1);
    // No operator makes entropy alone.
    assert!(ops.oracles[0].publish_entropy().await.is_err());
    // The third operator commits first, then never reveals (it does not follow the log).
    let round = ops.oracles[2].commit_entropy().await.unwrap();
    ops.oracles[0].commit_entropy().await.unwrap();
    ops.oracles[1].commit_entropy().await.unwrap();
    assert_eq!(entropy_of_round(&ops, 0, round).await, None);
    // Once that round is over, the withholder may not contribute for a while: the next
    // rounds are made by the other two, whoever commits first.
    let period = ops.oracles[0].config().entropy_period_ms;
    ops.advance(4 * period).await;
    ops.oracles[2].commit_entropy().await.unwrap();
    let made = shared_entropy(&ops, &[0, 1]).await;
    let makers: Vec<_> = made.shares.iter().map(|s| s.operator_key.clone()).collect();
    assert!(!makers.contains(&ops.oracles[2].address().0.to_vec()));
    assert!(made.round > round);
    ops.delete_stream().await;
}

#[tokio::test]
async fn a_credit_counts_once_a_threshold_of_operators_published_it() {
    let mut ops = Operators::new(3).await;
    for i in 0..3 {
        ops.follow(i);
    }
    let owner = Keypair::from_seed(79, 0).public_key();
    ops.oracles[0]
        .publish_credit(&owner, 500, "payment 1")
        .await
        .unwrap();
    ops.advance(1_000).await;
    for oracle in &ops.oracles {
        assert_eq!(
            oracle.store().balance(&owner).await.unwrap(),
            0,
            "one operator alone"
        );
    }
    // A second operator publishes the same credit, the third one too: it counts once.
    for i in [1, 2] {
        ops.oracles[i]
            .publish_credit(&owner, 500, "payment 1")
            .await
            .unwrap();
    }
    // Another amount under the same memo is another credit, with one operator behind it.
    ops.oracles[1]
        .publish_credit(&owner, 600, "payment 1")
        .await
        .unwrap();
    ops.advance(1_000).await;
    let mut journals = Vec::new();
    for oracle in &ops.oracles {
        assert_eq!(oracle.store().balance(&owner).await.unwrap(), 500);
        let journal = oracle
            .store()
            .dc_journal(Some(&owner), (0, u64::MAX / 2), 100, 0)
            .await
            .unwrap();
        journals.push(serde_json::to_string(&journal).unwrap());
    }
    assert!(journals.windows(2).all(|w| w[0] == w[1]), "{journals:?}");
    ops.delete_stream().await;
}

#[tokio::test]
async fn an_operator_restarted_before_the_quorum_keeps_the_signatures_it_saw() {
    let mut ops = Operators::new(3).await;
    ops.follow(0);
    ops.follow(1);
    assert_hotspots(&ops, &[0, 1]).await;
    round(&ops, 0, &[0, 1]).await;
    // The second operator goes down before the close: the first signs alone, no quorum.
    ops.stop(1);
    ops.advance(DAY_MS).await;
    ops.advance(1_000).await;
    let report = closed_report(&ops.oracles[0]).await;
    assert!(ops.oracles[0].ledger_entries().unwrap().is_empty());
    // The first restarts: its body and the signatures it saw are gone from memory, and its
    // own signature is in the log before the position it resumes from.
    ops.reopen(0).await;
    ops.follow(0);
    ops.advance(1_000).await;
    assert!(ops.oracles[0].ledger_entries().unwrap().is_empty());
    // The second comes back, closes and signs: both hold the entry, signed by both.
    ops.follow(1);
    ops.caught_up().await;
    ops.advance(1_000).await;
    assert_eq!(closed_report(&ops.oracles[1]).await, report);
    let entries = ledger_of(&ops.oracles[1], 1).await;
    assert_eq!(ledger_of(&ops.oracles[0], 1).await, entries);
    assert_eq!(entries[0].quorum.as_ref().unwrap().signatures.len(), 2);
    ops.delete_stream().await;
}

#[tokio::test]
async fn an_operator_that_signs_otherwise_after_the_quorum_is_named_too() {
    let mut ops = Operators::with_liar(3, Some(2)).await;
    ops.follow(0);
    ops.follow(1);
    assert_hotspots(&ops, &[0, 1]).await;
    round(&ops, 0, &[0, 1]).await;
    ops.advance(DAY_MS).await;
    ops.advance(1_000).await;
    let entries = ledger_of(&ops.oracles[0], 1).await;
    assert!(ops.oracles[0].dissenters(EPOCH).is_empty());

    // The liar catches up, closes the epoch to its own shares and signs them: late, but a
    // dissent all the same, named by both honest operators.
    ops.follow(2);
    ops.caught_up().await;
    ops.advance(1_000).await;
    let liar = ops.oracles[2].address();
    assert_eq!(ops.oracles[0].dissenters(EPOCH), vec![liar]);
    assert_eq!(ops.oracles[1].dissenters(EPOCH), vec![liar]);
    assert_eq!(ledger_of(&ops.oracles[1], 1).await, entries);
    assert!(ops.oracles[2].ledger_entries().unwrap().is_empty());
    ops.delete_stream().await;
}

/// An operator whose store fails after it applied an entry, before it recorded its position,
/// applies the entry again when its follower starts again: the entry's refusal is recorded
/// once, as by the operators that never failed.
#[tokio::test]
async fn a_refusal_is_recorded_once_however_often_its_entry_is_applied() {
    let mut ops = Operators::new(2).await;
    ops.follow(1);
    // Operator 0 cannot record a position while its store holds a refusal.
    let mut raw = ops.raw_store(0).await;
    sqlx::raw_sql(
        "CREATE TRIGGER position_fails BEFORE INSERT ON report_log_positions \
         WHEN (SELECT COUNT(*) FROM ingest_rejections) > 0 \
         BEGIN SELECT RAISE(ABORT, 'the store failed'); END;",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    ops.follow_retrying(0);
    // An onboarding request on an open network: published by the operator it reaches,
    // refused by every operator that applies it.
    let h = hotspot(1, AUSTIN);
    let request = proto::OnboardRequest {
        pub_key: h.pub_key().to_vec(),
        ..Default::default()
    };
    ops.oracles[1].onboard(request).await.unwrap();
    let entry = ops.oracles[1]
        .report_log()
        .unwrap()
        .last_seq()
        .await
        .unwrap();
    let refusals = |oracle: &Oracle| {
        let oracle = oracle.clone();
        async move { oracle.store().table_counts().await.unwrap()["ingest_rejections"] }
    };
    for _ in 0..600 {
        if refusals(&ops.oracles[1]).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(refusals(&ops.oracles[1]).await, 1);
    // Operator 0 applies the entry and fails to record it, again and again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        ops.oracles[0].log_position().await.unwrap().seq < entry,
        "operator 0 recorded the entry in spite of its failing store"
    );
    sqlx::raw_sql("DROP TRIGGER position_fails")
        .execute(&mut raw)
        .await
        .unwrap();
    ops.advance(1_000).await;
    for oracle in &ops.oracles {
        assert_eq!(refusals(oracle).await, 1);
    }
    ops.delete_stream().await;
}
