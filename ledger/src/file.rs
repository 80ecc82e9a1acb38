//! The append-only ledger file: `u32 little-endian length ‖ entry` records, oldest first.

use crate::{BadEntry, LedgerEntry, LedgerError, HEADER_LEN, TRAILER_LEN};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the ledger file in the oracle's data directory.
pub const LEDGER_FILE: &str = "ledger.bin";

/// Splits a ledger file into entries; names the first record that does not decode.
pub fn parse(bytes: &[u8]) -> Result<Vec<LedgerEntry>, BadEntry> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let index = entries.len();
        let fail = |what: String| BadEntry {
            index,
            epoch: None,
            error: LedgerError::Malformed(what),
        };
        let Some(len) = bytes.get(at..at + 4) else {
            return Err(fail(format!("truncated length at byte {at}")));
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len < HEADER_LEN + TRAILER_LEN {
            return Err(fail(format!("record of {len} bytes at byte {at}")));
        }
        let start = at + 4;
        let Some(record) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
            return Err(fail(format!("truncated record at byte {at}")));
        };
        let entry = LedgerEntry::decode(record).map_err(|error| BadEntry {
            index,
            epoch: None,
            error,
        })?;
        entries.push(entry);
        at = start + len;
    }
    Ok(entries)
}

/// Encodes entries as a ledger file.
pub fn encode(entries: &[LedgerEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let bytes = entry.encode();
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Why a ledger file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read, written or synced.
    #[error("ledger file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file does not decode as a ledger.
    #[error("ledger file {path}: {source}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The first entry that does not decode.
        source: BadEntry,
    },
}

/// Reads and decodes a ledger file (a missing file is an empty ledger). Does not verify it.
pub fn read_ledger(path: &Path) -> Result<Vec<LedgerEntry>, FileError> {
    match std::fs::read(path) {
        Ok(bytes) => parse(&bytes).map_err(|source| FileError::Malformed {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(FileError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The oracle's ledger file.
#[derive(Debug, Clone)]
pub struct LedgerFile {
    path: PathBuf,
}

impl LedgerFile {
    /// The ledger at `path` (created on first append).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> Result<Vec<LedgerEntry>, FileError> {
        read_ledger(&self.path)
    }

    /// Appends one entry and fsyncs the file (and, for a new file, its directory).
    pub fn append(&self, entry: &LedgerEntry) -> Result<(), FileError> {
        let io = |source| FileError::Io {
            path: self.path.clone(),
            source,
        };
        let created = !self.path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        file.write_all(&encode(std::slice::from_ref(entry)))
            .map_err(io)?;
        file.sync_all().map_err(io)?;
        if created {
            if let Some(dir) = self.path.parent() {
                if let Ok(dir) = std::fs::File::open(dir) {
                    // Not every platform can sync a directory; the entry itself is synced.
                    let _ = dir.sync_all();
                }
            }
        }
        Ok(())
    }
}
