//! A load generator for the gRPC ingest: many concurrent clients on their own connections
//! submit properly signed beacon and witness reports from many synthetic hotspots; the run
//! reports throughput, latency percentiles and errors, then checks the store for every
//! acknowledged report (none may be lost, none stored that was not acknowledged).
//!
//! Used by the `oracle-load` binary (figures) and by `tests/load.rs` (a small run that must
//! lose nothing).

use crate::store::Store;
use crate::{ingest, Oracle, OracleError};
use poc::proto::poc_lora_client::PocLoraClient;
use poc::proto::{self, Region};
use poc::{testkit, Keypair, RegionPlan};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

/// Seed of the synthetic hotspots' keys.
const KEY_SEED: u64 = 0x10AD;

/// What a load run sends.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Concurrent clients, each on its own HTTP/2 connection.
    pub clients: usize,
    /// Reports to submit in all (beacons and witnesses).
    pub reports: usize,
    /// Synthetic hotspots, asserted before the run.
    pub hotspots: usize,
    /// Witness reports per beacon report.
    pub witnesses_per_beacon: usize,
    /// Witness reports per `SubmitWitnesses` call; 0 or 1 sends each with `SubmitWitness`.
    /// Beacons are always sent one a call.
    pub batch: usize,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            clients: 64,
            reports: 200_000,
            hotspots: 1_000,
            witnesses_per_beacon: 9,
            batch: 0,
        }
    }
}

/// Why a load run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A client could not connect.
    #[error("connecting to the oracle: {0}")]
    Connect(#[from] tonic::transport::Error),
    /// A set-up call (assertion, entropy) was refused.
    #[error("set-up call refused: {0}")]
    Setup(#[from] tonic::Status),
    /// The oracle or its store failed.
    #[error(transparent)]
    Oracle(#[from] OracleError),
    /// The configuration cannot be run.
    #[error("{0}")]
    Config(String),
}

/// The figures of a load run.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Reports submitted.
    pub submitted: u64,
    /// Reports acknowledged.
    pub acknowledged: u64,
    /// Refusals and failures by gRPC code name.
    pub errors: BTreeMap<String, u64>,
    /// Acknowledgements whose id was not the report's own.
    pub wrong_ids: u64,
    /// Wall time of the submissions.
    pub elapsed: Duration,
    /// Calls made (a batch is one call).
    pub calls: u64,
    /// Call latencies in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Acknowledged reports found in the store.
    pub stored_acknowledged: u64,
    /// Acknowledged reports missing from the store.
    pub lost: u64,
    /// Reports in the store that were never acknowledged.
    pub unacknowledged_stored: u64,
    /// Operators sharing a report log (0: one oracle storing directly).
    pub operators: usize,
    /// With operators: the time from the first submission until every operator had applied
    /// the whole log.
    pub applied: Option<Duration>,
}

impl LoadReport {
    /// Acknowledged reports per second.
    pub fn throughput(&self) -> f64 {
        self.acknowledged as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency below which a fraction `q` (0..=1) of the requests fall, in microseconds.
    pub fn percentile_us(&self, q: f64) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        self.latencies_us.get(rank).copied().unwrap_or_default()
    }

    /// Errors of any kind.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |us: u64| us as f64 / 1000.0;
        writeln!(
            f,
            "submitted {} reports in {:.2} s: {} acknowledged = {:.0} reports/s",
            self.submitted,
            self.elapsed.as_secs_f64(),
            self.acknowledged,
            self.throughput()
        )?;
        writeln!(f, "calls: {}", self.calls)?;
        writeln!(
            f,
            "call latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            ms(self.percentile_us(0.5)),
            ms(self.percentile_us(0.9)),
            ms(self.percentile_us(0.99)),
            ms(self.percentile_us(0.999)),
            ms(self.percentile_us(1.0))
        )?;
        writeln!(f, "errors: {} {:?}", self.error_count(), self.errors)?;
        if let Some(applied) = self.applied {
            writeln!(
                f,
                "{} operators applied every acknowledged report in {:.2} s = {:.0} reports/s",
                self.operators,
                applied.as_secs_f64(),
                self.acknowledged as f64 / applied.as_secs_f64().max(1e-9)
            )?;
        }
        write!(
            f,
            "store: {} acknowledged reports found, {} lost, {} stored without acknowledgement, {} wrong ids",
            self.stored_acknowledged, self.lost, self.unacknowledged_stored, self.wrong_ids
        )
    }
}

/// One report to send.
#[derive(Clone)]
enum Report {
    Beacon(proto::BeaconReport),
    Witness(proto::WitnessReport),
}

impl Report {
    fn id(&self) -> String {
        match self {
            Report::Beacon(b) => ingest::report_id(b),
            Report::Witness(w) => ingest::report_id(w),
        }
    }
}

/// The synthetic hotspots' keys.
pub fn hotspot_keys(count: usize) -> Vec<Keypair> {
    (0..count as u64)
        .map(|i| Keypair::from_seed(KEY_SEED, i))
        .collect()
}

/// Runs `f` over `items` on every core.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, item)| f(c * chunk + i, item))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Beacons from hotspot after hotspot, each followed by witness reports of its grid
/// neighbours, all signed.
fn build_reports(
    keys: &[Keypair],
    entropy: &[u8],
    config: &LoadConfig,
) -> Result<Vec<Report>, LoadError> {
    let plan = RegionPlan::for_region(Region::Us915)
        .ok_or_else(|| LoadError::Config("no US915 plan".into()))?;
    let group = config.witnesses_per_beacon + 1;
    let slots: Vec<usize> = (0..config.reports).collect();
    let reports = parallel(&slots, |_, &n| {
        let round = n / group;
        let beaconer = round % keys.len();
        let local = (round as u32).to_le_bytes();
        let key = &keys[beaconer];
        let beacon = testkit::beacon(key, entropy, local, plan, 30, round as u64).ok()?;
        let k = n % group;
        if k == 0 {
            return Some(Report::Beacon(beacon));
        }
        let witness = &keys[(beaconer + k) % keys.len()];
        let signal = testkit::Signal::new(-1_100, -50);
        Some(Report::Witness(testkit::witness(
            witness,
            &beacon,
            signal,
            round as u64 + 1,
        )))
    });
    reports
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| LoadError::Config("a beacon could not be derived".into()))
}

async fn connect(addr: SocketAddr) -> Result<PocLoraClient<Channel>, LoadError> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    Ok(PocLoraClient::new(channel))
}

/// Asserts the synthetic hotspots (on a grid about 2 km apart) through the gRPC ingest.
pub async fn assert_hotspots(
    addr: SocketAddr,
    keys: &[Keypair],
    now_ms: u64,
) -> Result<(), LoadError> {
    let mut client = connect(addr).await?;
    let side = (keys.len() as f64).sqrt().ceil().max(1.0) as usize;
    for (i, key) in keys.iter().enumerate() {
        let (row, col) = (i / side, i % side);
        let lat = 26.0 + row as f64 * 0.02;
        let lon = -100.0 + col as f64 * 0.02;
        let cell = h3_coverage::cell_at(lat, lon)
            .map_err(|e| LoadError::Config(format!("no cell at {lat}, {lon}: {e}")))?;
        let assertion = testkit::assertion(key, u64::from(cell), 30, Region::Us915, now_ms);
        client.assert_location(assertion).await?;
    }
    Ok(())
}

/// Every report id stored for `keys`, beacons and witnesses.
pub async fn stored_report_ids(
    store: &dyn Store,
    keys: &[Keypair],
) -> Result<BTreeSet<String>, OracleError> {
    let mut ids = BTreeSet::new();
    for key in keys {
        let pk = key.public_key();
        for w in store.recent_witnesses(&pk, u32::MAX).await? {
            ids.insert(w.report_id);
        }
        for b in store.recent_beacons(&pk, u32::MAX).await? {
            ids.insert(b.report_id);
        }
    }
    Ok(ids)
}

/// Outcome of one client's requests.
#[derive(Default)]
struct ClientLog {
    acknowledged: Vec<String>,
    errors: BTreeMap<String, u64>,
    wrong_ids: u64,
    latencies_us: Vec<u64>,
}

/// One call's worth of reports: a report alone, or witness reports for `SubmitWitnesses`.
enum Call {
    One(Report, String),
    Witnesses(Vec<(proto::WitnessReport, String)>),
}

/// The reports as calls: witness reports gathered into batches of `batch` (when above 1),
/// beacons one a call.
fn calls_of(reports: Vec<Report>, batch: usize) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut pending = Vec::new();
    for report in reports {
        let id = report.id();
        match report {
            Report::Witness(w) if batch > 1 => {
                pending.push((w, id));
                if pending.len() == batch {
                    calls.push(Call::Witnesses(std::mem::take(&mut pending)));
                }
            }
            other => calls.push(Call::One(other, id)),
        }
    }
    if !pending.is_empty() {
        calls.push(Call::Witnesses(pending));
    }
    calls
}

impl ClientLog {
    fn error(&mut self, code: tonic::Code) {
        *self.errors.entry(format!("{code:?}")).or_default() += 1;
    }

    fn ack(&mut self, acknowledged_id: &str, id: &str) {
        if acknowledged_id != id {
            self.wrong_ids += 1;
        }
        self.acknowledged.push(id.to_string());
    }
}

async fn run_client(
    mut client: PocLoraClient<Channel>,
    calls: Arc<Vec<Call>>,
    next: Arc<AtomicUsize>,
) -> ClientLog {
    let mut log = ClientLog::default();
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let Some(call) = calls.get(n) else {
            break;
        };
        let started = Instant::now();
        match call {
            Call::One(report, id) => {
                let result = match report {
                    Report::Beacon(b) => client.submit_beacon(b.clone()).await,
                    Report::Witness(w) => client.submit_witness(w.clone()).await,
                };
                match result {
                    Ok(resp) => log.ack(&resp.into_inner().id, id),
                    Err(status) => log.error(status.code()),
                }
            }
            Call::Witnesses(batch) => {
                let reports = batch.iter().map(|(w, _)| w.clone()).collect();
                match client
                    .submit_witnesses(proto::WitnessBatch { reports })
                    .await
                {
                    Ok(resp) => {
                        let results = resp.into_inner().results;
                        if results.len() != batch.len() {
                            log.error(tonic::Code::DataLoss);
                        }
                        for (result, (_, id)) in results.into_iter().zip(batch) {
                            match result.result {
                                Some(proto::batch_result::Result::Accepted(ack)) => {
                                    log.ack(&ack.id, id)
                                }
                                Some(proto::batch_result::Result::Refused(refusal)) => {
                                    log.error(tonic::Code::from(refusal.code))
                                }
                                None => log.error(tonic::Code::Unknown),
                            }
                        }
                    }
                    Err(status) => {
                        for _ in batch {
                            log.error(status.code());
                        }
                    }
                }
            }
        }
        log.latencies_us
            .push(started.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
    }
    log
}

/// Drives the gRPC ingest of `oracle` (serving at `addr`) with `config`, then checks its
/// store. Asserts the hotspots and publishes entropy first.
pub async fn run(
    oracle: &Oracle,
    addr: SocketAddr,
    config: &LoadConfig,
) -> Result<LoadReport, LoadError> {
    run_operators(&[(oracle.clone(), addr)], config).await
}

/// Waits until every operator that follows a report log has applied all of it.
async fn applied_everywhere(operators: &[(Oracle, SocketAddr)]) -> Result<(), LoadError> {
    for (oracle, _) in operators {
        let Some(log) = oracle.report_log() else {
            continue;
        };
        let last = log.last_seq().await.map_err(OracleError::from)?;
        while oracle.log_position().await?.seq < last {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(())
}

/// Has entropy made: by the one oracle, or by the operators together, each committing to a
/// round and the contributors revealing once their commitments are applied.
async fn make_entropy(operators: &[(Oracle, SocketAddr)]) -> Result<(), LoadError> {
    let Some((first, _)) = operators.first() else {
        return Ok(());
    };
    if first.report_log().is_none() {
        first.publish_entropy().await?;
        return Ok(());
    }
    for (oracle, _) in operators {
        oracle.commit_entropy().await?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while first
        .store()
        .latest_entropy()
        .await
        .map_err(OracleError::from)?
        .is_none()
    {
        if Instant::now() > deadline {
            return Err(LoadError::Config(
                "the operators made no entropy within 30 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// [`run`] over several operators sharing a report log (each serving at its address): the
/// clients are spread over them, and every operator's store must hold every acknowledged
/// report once the log is applied.
pub async fn run_operators(
    operators: &[(Oracle, SocketAddr)],
    config: &LoadConfig,
) -> Result<LoadReport, LoadError> {
    let Some((oracle, addr)) = operators.first().cloned() else {
        return Err(LoadError::Config("no oracle to load".into()));
    };
    if config.clients == 0 || config.hotspots < 2 {
        return Err(LoadError::Config(
            "need at least one client and two hotspots".into(),
        ));
    }
    let keys = hotspot_keys(config.hotspots);
    assert_hotspots(addr, &keys, oracle.now_ms()).await?;
    make_entropy(operators).await?;
    applied_everywhere(operators).await?;
    let entropy = connect(addr)
        .await?
        .get_entropy(proto::EntropyReq {})
        .await?
        .into_inner();
    let reports = build_reports(&keys, &entropy.data, config)?;
    let submitted = reports.len() as u64;
    let calls = Arc::new(calls_of(reports, config.batch));

    let mut clients = Vec::with_capacity(config.clients);
    for i in 0..config.clients {
        clients.push(connect(operators[i % operators.len()].1).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(run_client(client, calls.clone(), next.clone())))
        .collect();
    let mut report = LoadReport {
        submitted,
        calls: calls.len() as u64,
        ..LoadReport::default()
    };
    let mut acknowledged = BTreeSet::new();
    for task in tasks {
        let log = task
            .await
            .map_err(|e| LoadError::Config(format!("a client task failed: {e}")))?;
        report.acknowledged += log.acknowledged.len() as u64;
        acknowledged.extend(log.acknowledged);
        for (code, n) in log.errors {
            *report.errors.entry(code).or_default() += n;
        }
        report.wrong_ids += log.wrong_ids;
        report.latencies_us.extend(log.latencies_us);
    }
    report.elapsed = started.elapsed();
    report.latencies_us.sort_unstable();
    if oracle.report_log().is_some() {
        applied_everywhere(operators).await?;
        report.applied = Some(started.elapsed());
        report.operators = operators.len();
    }

    report.stored_acknowledged = u64::MAX;
    for (oracle, _) in operators {
        let stored = stored_report_ids(oracle.store(), &keys).await?;
        report.stored_acknowledged = report
            .stored_acknowledged
            .min(acknowledged.intersection(&stored).count() as u64);
        report.lost = report
            .lost
            .max(acknowledged.difference(&stored).count() as u64);
        report.unacknowledged_stored = report
            .unacknowledged_stored
            .max(stored.difference(&acknowledged).count() as u64);
    }
    Ok(report)
}
