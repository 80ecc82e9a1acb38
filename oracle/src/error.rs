//! The oracle's error type.

/// Errors of the oracle library.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// The configuration is inconsistent or does not parse.
    #[error("configuration: {0}")]
    Config(#[from] oracle_core::ConfigError),
    /// The configuration file could not be read.
    #[error("configuration file {path}: {source}")]
    ConfigFile {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A stored status text is not one the oracle writes.
    #[error("corrupt stored data: {0}")]
    Status(#[from] oracle_core::reports::UnknownStatus),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] oracle_store::StoreError),
    /// The oracle's key file could not be read or written.
    #[error("oracle key: {0}")]
    Key(#[from] poc::KeyError),
    /// An I/O error (directories, sockets).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The reward ledger file could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] ledger::FileError),
    /// The report log shared with other operators failed.
    #[error(transparent)]
    ReportLog(#[from] crate::report_log::ReportLogError),
    /// The report archive could not be written or read.
    #[error("report archive: {0}")]
    Archive(#[from] crate::archive::ArchiveError),
    /// A stored epoch report does not parse.
    #[error("stored report of epoch {epoch}: {source}")]
    StoredReport {
        /// The epoch.
        epoch: u64,
        /// Why it does not parse.
        source: serde_json::Error,
    },
    /// An epoch report could not be encoded.
    #[error("encoding the report of epoch {epoch}: {source}")]
    ReportEncoding {
        /// The epoch.
        epoch: u64,
        /// Why.
        source: serde_json::Error,
    },
    /// An epoch report whose content the ledger cannot take (an inputs digest or a reward
    /// address that does not parse, or an entry that fails its own check).
    #[error("epoch {epoch}: {detail}")]
    LedgerInput {
        /// The epoch.
        epoch: u64,
        /// What is wrong.
        detail: String,
    },
    /// Published entropy stored in a form that does not decode.
    #[error("stored entropy: {0}")]
    StoredEntropy(#[from] prost::DecodeError),
    /// An internal invariant broke (a bug, never the client's doing).
    #[error("internal error: {0}")]
    Invariant(&'static str),
    /// A data-credit amount out of range.
    #[error("{0} data credits is more than a balance can hold")]
    AmountTooLarge(u64),
    /// The reward computation refused its input.
    #[error("rewards: {0}")]
    Rewards(#[from] oracle_core::rewards::RewardError),
    /// An epoch that has not settled yet: it closes once its end plus the entropy window has
    /// passed, so that every report received in it can be verified.
    #[error("epoch {epoch} has not settled; it can be closed from {ready_at_ms} ms")]
    EpochNotSettled {
        /// The epoch asked for.
        epoch: u64,
        /// When it can be closed.
        ready_at_ms: u64,
    },
}
