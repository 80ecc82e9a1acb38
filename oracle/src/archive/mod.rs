//! The public report archive: everything an epoch close decided from, as content-addressed
//! files of length-delimited protobuf records, listed in an epoch manifest whose SHA-256 the
//! epoch's ledger entry pins.
//!
//! A directory archive holds `files/<sha256>` (record files and manifests, each named by the
//! lower-case hex SHA-256 of its bytes) and `epochs/<epoch>` (the text of the epoch's manifest
//! hash, a pointer for readers who start from an epoch number). The files never change once
//! written, so the tree can be copied to any file or object store as it is; the layout is in
//! `oracle/README.md`. [`records`] encodes and decodes the files; [`EpochArchive`] is one
//! epoch's archive, written by the close ([`Oracle::write_archive`]) and read back, every file
//! and record checked, by the audit ([`crate::audit`]).
//!
//! [`Oracle::write_archive`]: crate::Oracle

pub mod records;
pub mod routes;
mod write;

pub use records::{ArchiveError, EpochArchive, Kind, Source};

use std::path::{Path, PathBuf};

/// Subdirectory of the content-addressed files.
pub const FILES_DIR: &str = "files";
/// Subdirectory of the epoch pointers.
pub const EPOCHS_DIR: &str = "epochs";
/// Name of the archive directory in the data directory when `[archive] dir` is unset.
pub const DEFAULT_DIR: &str = "archive";

/// Lower-case hex SHA-256 of `bytes`: a file's name.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Whether `name` is a file name of the archive: 64 lower-case hex digits.
pub fn is_file_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An archive in a directory, as the oracle writes it.
#[derive(Debug, Clone)]
pub struct ArchiveDir {
    root: PathBuf,
}

impl ArchiveDir {
    /// The archive rooted at `root` (created on first write).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Where it lives.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
        move |source| ArchiveError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Stores `bytes` under their hash (written to a temporary name, synced, then renamed, so
    /// a file under its name is always whole); returns the hash. A file stored already is kept.
    pub fn put(&self, bytes: &[u8]) -> Result<String, ArchiveError> {
        let name = sha256_hex(bytes);
        let dir = self.root.join(FILES_DIR);
        let path = dir.join(&name);
        if path.exists() {
            return Ok(name);
        }
        std::fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        let temp = dir.join(format!(".{name}.partial"));
        write_synced(&temp, bytes).map_err(Self::io(&temp))?;
        std::fs::rename(&temp, &path).map_err(Self::io(&path))?;
        Ok(name)
    }

    /// Records `manifest` (a hash) as the manifest of `epoch`.
    pub fn put_epoch(&self, epoch: u64, manifest: &str) -> Result<(), ArchiveError> {
        let dir = self.root.join(EPOCHS_DIR);
        std::fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        let temp = dir.join(format!(".{epoch}.partial"));
        write_synced(&temp, manifest.as_bytes()).map_err(Self::io(&temp))?;
        let path = dir.join(epoch.to_string());
        std::fs::rename(&temp, &path).map_err(Self::io(&path))
    }

    /// The manifest hash of `epoch`, if it has been archived here.
    pub fn epoch_manifest(&self, epoch: u64) -> Result<Option<String>, ArchiveError> {
        let path = self.root.join(EPOCHS_DIR).join(epoch.to_string());
        match std::fs::read_to_string(&path) {
            Ok(text) if is_file_name(text.trim()) => Ok(Some(text.trim().to_string())),
            Ok(_) => Err(ArchiveError::Malformed {
                file: path.display().to_string(),
                detail: "not a manifest hash".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ArchiveError::Io { path, source }),
        }
    }

    /// The bytes of the file named `name`, if stored (not checked against the name).
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, ArchiveError> {
        if !is_file_name(name) {
            return Ok(None);
        }
        let path = self.root.join(FILES_DIR).join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ArchiveError::Io { path, source }),
        }
    }
}

/// Writes `bytes` to `path` and syncs the file.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
