//! Several oracle operators sharing a report log (NATS JetStream) in place of the one oracle:
//! the devnet's `--oracles N --threshold T`.
//!
//! Each operator is an [`Oracle`] with its own key, store, archive and ledger in
//! `<data_dir>/operator-<i>`, serving gRPC on loopback and following the log in a task of its
//! own. Hotspot `i` submits to operator `i mod N`. The simulation moves the log's time on by
//! ticks at its own moments, so each operator verifies and closes epochs as it applies the
//! log; the network waits until every operator has applied it before it reads results.
//! Entropy is made the operators' way: each commits for the period's round and the round's
//! contributors reveal.

use crate::network::NetworkError;
use ledger::LedgerEntry;
use oracle::clock::Clock;
use oracle::config::ReportLogConfig;
use oracle::{EpochReport, Oracle, OracleConfig};
use poc::Keypair;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The seed of the operators' keys (operator `i` is `Keypair::from_seed(OPERATOR_SEED, i)`).
const OPERATOR_SEED: u64 = 0x6f70_6572;

/// Longest the network waits for every operator to apply the log.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);

/// Several operators instead of one oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorsConfig {
    /// How many operators.
    pub count: usize,
    /// How many must sign an entry (0: a majority).
    pub threshold: u32,
    /// The NATS server with JetStream that carries their report log.
    pub nats_url: String,
}

/// What the operators' ledger says of one epoch.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OperatorsEpoch {
    /// How many operators must sign, and of how many.
    pub threshold: u32,
    /// Operators.
    pub operators: usize,
    /// The entry's hash (hex), if one was appended.
    pub entry_hash: Option<String>,
    /// The operators that signed it.
    pub signers: Vec<String>,
    /// Operators that signed another body for the epoch.
    pub dissenters: Vec<String>,
}

struct Operator {
    oracle: Oracle,
    grpc: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    follower: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

/// The running operators.
pub(crate) struct Operators {
    list: Vec<Operator>,
    threshold: u32,
    stream: String,
    nats_url: String,
}

impl Drop for Operators {
    fn drop(&mut self) {
        for operator in &self.list {
            let _ = operator.stop.send(true);
            operator.server.abort();
            operator.follower.abort();
        }
        let (url, stream) = (self.nats_url.clone(), self.stream.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { delete_stream(&url, &stream).await });
        }
    }
}

async fn delete_stream(url: &str, stream: &str) {
    if let Ok(client) = async_nats::connect(url).await {
        let _ = async_nats::jetstream::new(client)
            .delete_stream(stream)
            .await;
    }
}

impl Operators {
    /// Starts `config.count` operators on a new stream, each with its store in
    /// `<data_dir>/operator-<i>` and `wall` as its clock.
    pub async fn start(
        config: &OperatorsConfig,
        oracle: &OracleConfig,
        data_dir: &Path,
        wall: Arc<dyn Clock>,
    ) -> Result<Self, NetworkError> {
        if config.count == 0 || config.threshold as usize > config.count {
            return Err(NetworkError::Config(format!(
                "{} operators with a threshold of {}",
                config.count, config.threshold
            )));
        }
        let keys: Vec<Keypair> = (0..config.count as u64)
            .map(|i| Keypair::from_seed(OPERATOR_SEED, i))
            .collect();
        let stream = format!("NETSIM_{:016x}", rand::random::<u64>());
        let mut oracle = oracle.clone();
        oracle.report_log = ReportLogConfig {
            url: Some(config.nats_url.clone()),
            stream: stream.clone(),
            operators: keys.iter().map(|k| k.address().to_string()).collect(),
            tick_ms: oracle.report_log.tick_ms,
            threshold: config.threshold,
        };
        let threshold = oracle.report_log.quorum_threshold();
        let mut list = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let dir = data_dir.join(format!("operator-{i}"));
            std::fs::create_dir_all(&dir)?;
            key.write_file(&dir.join(oracle::KEY_FILE))
                .map_err(|e| NetworkError::Config(format!("operator key: {e}")))?;
            let oracle = Oracle::open(oracle.clone(), &dir, wall.clone()).await?;
            list.push(Operator::start(oracle).await?);
        }
        Ok(Self {
            list,
            threshold,
            stream,
            nats_url: config.nats_url.clone(),
        })
    }

    /// The first operator, whose store the network reads once every operator applied the log.
    pub fn first(&self) -> &Oracle {
        &self.list[0].oracle
    }

    /// The operator hotspot `node` submits to, and its gRPC address.
    pub fn of_node(&self, node: usize) -> (&Oracle, SocketAddr) {
        let operator = &self.list[node % self.list.len()];
        (&operator.oracle, operator.grpc)
    }

    /// Every operator.
    pub fn oracles(&self) -> impl Iterator<Item = &Oracle> {
        self.list.iter().map(|o| &o.oracle)
    }

    /// Publishes a tick (the log's time moves to the clock's) and waits until every operator
    /// has applied the whole log.
    pub async fn sync(&self) -> Result<(), NetworkError> {
        self.first().publish_tick().await?;
        self.caught_up().await
    }

    async fn caught_up(&self) -> Result<(), NetworkError> {
        let log = self.first().report_log().expect("operators share a log");
        let last = log.last_seq().await.map_err(oracle::OracleError::from)?;
        let started = Instant::now();
        for operator in &self.list {
            while operator.oracle.log_position().await?.seq < last {
                if started.elapsed() > SYNC_TIMEOUT || operator.follower.is_finished() {
                    return Err(NetworkError::Operators(format!(
                        "operator {} did not apply the report log up to entry {last}",
                        operator.oracle.address()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        Ok(())
    }

    /// Has the operators make the entropy of the round after the clock's: each commits, the
    /// contributors reveal, and every operator holds the round's entropy.
    pub async fn make_entropy(&self) -> Result<(), NetworkError> {
        let mut round = 0;
        for oracle in self.oracles() {
            round = oracle.commit_entropy().await?;
        }
        let started = Instant::now();
        loop {
            self.caught_up().await?;
            let mut made = true;
            for oracle in self.oracles() {
                let latest = oracle.get_entropy().await.ok();
                made &= latest.is_some_and(|e| e.round == round);
            }
            if made {
                return Ok(());
            }
            if started.elapsed() > SYNC_TIMEOUT {
                return Err(NetworkError::Operators(format!(
                    "the operators made no entropy for round {round}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Moves the log's time to `epoch`'s first verification moment after it settles, so that
    /// every operator closes it, and returns its report, once every operator closed it to the
    /// same report and the entry's signatures are applied.
    pub async fn close(
        &self,
        epoch: u64,
        clock: &oracle::ManualClock,
    ) -> Result<(EpochReport, OperatorsEpoch), NetworkError> {
        let first = self.first();
        let period = first.config().verify_period_ms.max(1);
        let ready = first.epoch_ready_at_ms(epoch).max(clock.now_ms());
        clock.set(ready.div_ceil(period) * period);
        self.sync().await?;
        let Some(report) = first.epoch_report(epoch).await? else {
            return Err(NetworkError::Operators(format!(
                "operator {} did not close epoch {epoch}",
                first.address()
            )));
        };
        for oracle in self.oracles().skip(1) {
            if oracle.epoch_report(epoch).await?.as_ref() != Some(&report) {
                return Err(NetworkError::Operators(format!(
                    "operator {} closed epoch {epoch} otherwise than {}",
                    oracle.address(),
                    first.address()
                )));
            }
        }
        // The signatures published as they closed, applied after a tick that follows them.
        self.sync().await?;
        Ok((report, self.ledger_of(epoch)?))
    }

    fn ledger_of(&self, epoch: u64) -> Result<OperatorsEpoch, NetworkError> {
        let first = self.first();
        let entries = first.ledger_entries()?;
        let entry: Option<&LedgerEntry> = entries.iter().find(|e| e.manifest.epoch == epoch);
        let signers = entry
            .and_then(|e| e.quorum.as_ref())
            .map(|q| {
                q.signatures
                    .iter()
                    .map(|s| s.operator.to_string())
                    .collect()
            })
            .unwrap_or_default();
        Ok(OperatorsEpoch {
            threshold: self.threshold,
            operators: self.list.len(),
            entry_hash: entry.map(|e| hex::encode(e.hash())),
            signers,
            dissenters: first
                .dissenters(epoch)
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
    }
}

impl Operator {
    async fn start(oracle: Oracle) -> Result<Self, NetworkError> {
        let (grpc, server) = oracle
            .serve_grpc(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await?;
        let (stop, mut stopped) = watch::channel(false);
        let follower = {
            let oracle = oracle.clone();
            tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|&s| s).await;
                };
                if let Err(error) = oracle.follow_log(shutdown).await {
                    tracing::error!(%error, "an operator stopped following the report log");
                }
            })
        };
        Ok(Self {
            oracle,
            grpc,
            server,
            follower,
            stop,
        })
    }
}
