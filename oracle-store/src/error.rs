//! The stores' error type.

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A database migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored status text is not one the oracle writes.
    #[error("corrupt stored data: {0}")]
    Status(#[from] oracle_core::reports::UnknownStatus),
    /// A stored report does not decode.
    #[error("corrupt stored report: {0}")]
    Report(#[from] prost::DecodeError),
    /// A stored value is not what the store writes.
    #[error("corrupt stored data: {0}")]
    Corrupt(#[from] Corrupt),
    /// The group-commit writer task has ended (the runtime is shutting down).
    #[error("the {0} writer has stopped")]
    WriterStopped(&'static str),
    /// A PostgreSQL schema name that is not safe to use.
    #[error("PostgreSQL schema {0:?}: use ASCII letters, digits and _")]
    InvalidSchema(String),
    /// A data-credit amount out of range.
    #[error("{0} data credits is more than a balance can hold")]
    AmountTooLarge(u64),
}

/// A stored value that the store could not have written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corrupt {
    /// A key that is not 32 bytes.
    #[error("key of {0} bytes")]
    KeyLength(usize),
    /// Paid witness ids whose length is not a multiple of 8 bytes.
    #[error("paid witness ids of {0} bytes")]
    WitnessIds(usize),
    /// A witness row with neither its RSSI nor its report.
    #[error("witness {0}: neither an RSSI nor the report")]
    NoSignal(i64),
    /// The packed witnesses of a beacon that do not parse.
    #[error("packed witnesses of beacon {0}")]
    PackedWitnesses(i64),
    /// A report that was inserted but is not found by its key.
    #[error("report with key {0} not found after insert")]
    NotFoundAfterInsert(String),
    /// A commit that answered without a row id.
    #[error("no row id for a committed report")]
    NoRowId,
    /// A journal entry of an unknown kind.
    #[error("journal kind {0}")]
    JournalKind(String),
    /// An archive record file of an unknown kind.
    #[error("archive chunk of kind {0}")]
    ChunkKind(String),
}
