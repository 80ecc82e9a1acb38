//! The proof-of-coverage oracle: publishes entropy, ingests signed beacon and witness reports
//! over gRPC, verifies them once their entropy window has closed, turns each finished epoch into
//! reward shares, and serves an explorer API over HTTP.
//!
//! [`Oracle`] is the entry point; it is cheap to clone (everything sits behind an `Arc`).

#![warn(missing_docs)]

pub mod archive;
pub mod audit;
pub mod client_limits;
pub mod clock;
pub mod config;
pub mod epoch;
pub mod error;
pub mod explorer_pages;
pub mod http;
mod http_server;
pub mod identity_routes;
pub mod ingest;
pub mod ledger_service;
pub mod links;
pub mod load;
pub mod names;
pub mod params;
pub mod phases;
pub mod report_log;
pub mod reputation;
pub mod reward_history;
pub mod verify;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{OracleConfig, RewardConfig};
pub use error::OracleError;
pub use ingest::IngestError;
pub use oracle_core::{
    defences, identity, parallel, reason, rewards, rules, selection, BeaconReason, EpochReport,
    HotspotRewardRow, IngestReason, WitnessReason,
};
/// The oracle's persistence, the crate `oracle-store`.
pub use oracle_store as store;
pub use verify::VerifySummary;

use poc::proto;
use poc::{Keypair, Signable};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use store::{EntropyRow, PostgresStore, SqliteStore, Store, VerifierLock};

/// Name of the SQLite database file in the data directory.
pub const DB_FILE: &str = "oracle.sqlite";
/// Name of the oracle's key file in the data directory.
pub const KEY_FILE: &str = "oracle_key.bin";
/// Largest gRPC request the oracle decodes: room for a batch of [`ingest::MAX_BATCH`] of the
/// largest well-formed witness reports (about 420 bytes each).
pub const MAX_GRPC_MESSAGE: usize = 128 * 1024;

/// The oracle: configuration, clock, key and store, shared by the gRPC and HTTP servers and
/// the background timers.
#[derive(Clone)]
pub struct Oracle {
    inner: Arc<Inner>,
}

struct Inner {
    config: OracleConfig,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    key: Keypair,
    /// Serialises verification and epoch closing.
    verify_lock: tokio::sync::Mutex<()>,
    /// The reward ledger, appended to when an epoch closes (`None`: no ledger is kept).
    ledger: Option<::ledger::LedgerFile>,
    /// The report archive, written when an epoch closes (`None`: no archive is kept).
    archive: Option<archive::ArchiveDir>,
    /// Signature checks of beacon reports submitted one by one, done together.
    beacon_signatures: Arc<ingest::SignatureQueue<proto::BeaconReport>>,
    /// Signature checks of witness reports submitted one by one, done together.
    witness_signatures: Arc<ingest::SignatureQueue<proto::WitnessReport>>,
    /// Refusals of strangers' reports recorded in the current minute.
    stranger_rejections: std::sync::Mutex<ingest::RejectionBudget>,
    /// The report log shared with other operators (`None`: this oracle decides alone).
    log: Option<report_log::ReportLog>,
    /// Ledger entries awaiting the operators' signatures.
    signing: std::sync::Mutex<report_log::Signing>,
}

impl std::fmt::Debug for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oracle")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

impl Oracle {
    /// Opens the oracle in `data_dir`: the key file `oracle_key.bin` (generated if missing) and
    /// the store: the PostgreSQL database at `config.database_url` when set, otherwise the
    /// SQLite database `oracle.sqlite` in `data_dir` (either created and migrated if missing).
    pub async fn open(
        config: OracleConfig,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OracleError> {
        config.validate()?;
        std::fs::create_dir_all(data_dir)?;
        let key_path = data_dir.join(KEY_FILE);
        let key = if key_path.exists() {
            Keypair::read_file(&key_path)?
        } else {
            let key = Keypair::generate();
            key.write_file(&key_path)?;
            key
        };
        let store: Arc<dyn Store> = match &config.database_url {
            Some(url) => Arc::new(PostgresStore::connect(url).await?),
            None => Arc::new(SqliteStore::open(&data_dir.join(DB_FILE)).await?),
        };
        let mut oracle = if config.report_log.is_off() {
            Self::with_store(config, store, key, clock)
        } else {
            let log = report_log::ReportLog::connect(&config.report_log, clock).await?;
            Self::with_report_log(config, store, key, log)
        };
        if let Some(inner) = Arc::get_mut(&mut oracle.inner) {
            inner.ledger = Some(::ledger::LedgerFile::new(
                data_dir.join(::ledger::LEDGER_FILE),
            ));
            if inner.archive.is_none() {
                inner.archive = Some(archive::ArchiveDir::new(
                    data_dir.join(archive::DEFAULT_DIR),
                ));
            }
        }
        Ok(oracle)
    }

    /// An oracle over any [`Store`] with the given key; it keeps no reward ledger file (see
    /// [`Oracle::open`]), and a report archive only where `[archive] dir` says.
    pub fn with_store(
        config: OracleConfig,
        store: Arc<dyn Store>,
        key: Keypair,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let archive = config.archive.dir.clone().map(archive::ArchiveDir::new);
        Self {
            inner: Arc::new(Inner {
                archive,
                config,
                clock,
                store,
                key,
                verify_lock: tokio::sync::Mutex::new(()),
                ledger: None,
                beacon_signatures: ingest::SignatureQueue::new(),
                witness_signatures: ingest::SignatureQueue::new(),
                stranger_rejections: std::sync::Mutex::default(),
                log: None,
                signing: std::sync::Mutex::default(),
            }),
        }
    }

    /// An operator over any [`Store`] that shares `log` with other operators: its clock is
    /// the log's time, and it ingests by publishing into the log ([`report_log`]).
    pub fn with_report_log(
        config: OracleConfig,
        store: Arc<dyn Store>,
        key: Keypair,
        log: report_log::ReportLog,
    ) -> Self {
        let mut oracle = Self::with_store(config, store, key, log.clock());
        if let Some(inner) = Arc::get_mut(&mut oracle.inner) {
            inner.log = Some(log);
        }
        oracle
    }

    /// The same oracle keeping its reward ledger in `ledger` (as [`Oracle::open`] does in its
    /// data directory); only before the oracle is first cloned, otherwise it is returned as is.
    pub fn keeping_ledger(mut self, ledger: ::ledger::LedgerFile) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.ledger = Some(ledger);
        }
        self
    }

    /// The oracle's address (its entropy-signing public key).
    pub fn address(&self) -> poc::Address {
        self.inner.key.address()
    }

    /// The configuration.
    pub fn config(&self) -> &OracleConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// Serialises verification and epoch closing: within this process (a mutex) and across
    /// every process sharing the store ([`Store::lock_verifier`]). Held until dropped.
    pub(crate) async fn lock_verifier(
        &self,
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, VerifierLock), OracleError> {
        let local = self.inner.verify_lock.lock().await;
        let shared = self.store().lock_verifier().await?;
        Ok((local, shared))
    }

    /// The clock's current time.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// Publishes new signed entropy stamped with the clock's current time. An operator sharing
    /// a report log cannot: operators make entropy together ([`Oracle::commit_entropy`]).
    pub async fn publish_entropy(&self) -> Result<proto::Entropy, OracleError> {
        self.publish_entropy_from(rand::random()).await
    }

    /// Publishes entropy made from the given randomness instead of the operating system's.
    /// Only simulations that must repeat exactly use this: predictable entropy would let
    /// hotspots prepare beacons ahead of time.
    pub async fn publish_entropy_from(
        &self,
        random: [u8; 32],
    ) -> Result<proto::Entropy, OracleError> {
        if self.report_log().is_some() {
            return Err(report_log::ReportLogError::OwnEntropy.into());
        }
        let timestamp_ms = self.stamp_ms();
        let data = {
            use sha2::{Digest, Sha256};
            let mut hasher = Sha256::new();
            hasher.update(b"lorapoc-entropy-v1");
            hasher.update(random);
            hasher.update(timestamp_ms.to_le_bytes());
            hasher.finalize().to_vec()
        };
        let mut entropy = proto::Entropy {
            data,
            timestamp_ms,
            oracle_key: self.inner.key.public_key().to_vec(),
            ..Default::default()
        };
        entropy.sign_with(&self.inner.key);
        self.store()
            .put_entropy(&EntropyRow {
                data: entropy.data.clone(),
                timestamp_ms,
                raw: prost::Message::encode_to_vec(&entropy),
            })
            .await?;
        Ok(entropy)
    }

    /// Serves the `PocLora` gRPC ingest service on `addr` (port 0 picks a free port) with the
    /// limits of the configuration's `[grpc]`; returns the bound address and the server task.
    pub async fn serve_grpc(
        &self,
        addr: SocketAddr,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), OracleError> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let service = ingest::DecodeErrorsAsInvalidArgument(
            proto::poc_lora_server::PocLoraServer::new(ingest::GrpcService::new(self.clone()))
                .max_decoding_message_size(MAX_GRPC_MESSAGE),
        );
        let limits = self.config().grpc.clone();
        let millis = std::time::Duration::from_millis;
        let handle = tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            if let Err(error) = tonic::transport::Server::builder()
                .timeout(millis(limits.request_timeout_ms))
                .max_concurrent_streams(limits.max_concurrent_streams)
                .http2_keepalive_interval(Some(millis(limits.keepalive_interval_ms)))
                .http2_keepalive_timeout(Some(millis(limits.keepalive_timeout_ms)))
                .add_service(service)
                .serve_with_incoming(incoming)
                .await
            {
                tracing::error!(%error, "gRPC server stopped");
            }
        });
        tracing::info!(%bound, "gRPC ingest listening");
        Ok((bound, handle))
    }

    /// Serves the explorer HTTP API (HTTP/1.1) on `addr` with the limits of the configuration's
    /// `[http]`; returns the bound address and the server task.
    pub async fn serve_http(
        &self,
        addr: SocketAddr,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), OracleError> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let app = http::router(self.clone());
        let handle = tokio::spawn(http_server::serve(
            listener,
            app,
            self.config().http.clone(),
        ));
        tracing::info!(%bound, "HTTP API listening");
        Ok((bound, handle))
    }

    /// The background work of `oracle serve` until `shutdown` resolves: publishes entropy every
    /// `entropy_period_ms`, verifies pending reports every `verify_period_ms`, and closes each
    /// epoch once it has settled (its end plus the entropy window has passed). Errors are logged
    /// and retried at the next tick.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), OracleError> {
        if let Some(log) = self.report_log() {
            return self.run_with_log(log, shutdown).await;
        }
        let mut entropy_tick = ticker(self.config().entropy_period_ms);
        let mut verify_tick = ticker(self.config().verify_period_ms);
        let mut next_epoch = None;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = entropy_tick.tick() => self.publish_entropy_or_log().await,
                _ = verify_tick.tick() => {
                    match self.verify_pending().await {
                        Ok(summary) if summary.is_empty() => {}
                        Ok(summary) => tracing::info!(?summary, "verified reports"),
                        Err(error) => tracing::error!(%error, "verifying reports"),
                    }
                    if let Err(error) = self.close_settled(&mut next_epoch).await {
                        tracing::error!(%error, epoch = ?next_epoch, "closing epoch");
                    }
                }
            }
        }
        tracing::info!("oracle stopped");
        Ok(())
    }

    /// Publishes entropy; a failure is logged (the next period tries again).
    async fn publish_entropy_or_log(&self) {
        if let Err(error) = self.publish_entropy().await {
            tracing::error!(%error, "publishing entropy");
        }
    }
}

/// A timer ticking every `period_ms` (at once first); a late tick delays the next ones.
pub(crate) fn ticker(period_ms: u64) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(std::time::Duration::from_millis(period_ms));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}
