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
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A database migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The oracle's key file could not be read or written.
    #[error("oracle key: {0}")]
    Key(#[from] poc::KeyError),
    /// An I/O error (directories, sockets).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The reward ledger file could not be read or appended to.
    #[error(transparent)]
    Ledger(#[from] ledger::FileError),
    /// A stored value could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
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
