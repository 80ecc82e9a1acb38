//! The public report archive: everything an epoch close decided from, as content-addressed
//! files of length-delimited protobuf records, listed in an epoch manifest whose SHA-256 the
//! epoch's ledger entry pins.
//!
//! A directory archive holds `files/<sha256>` (record files and manifests, each named by the
//! lower-case hex SHA-256 of its bytes) and `epochs/<epoch>` (the text of the epoch's manifest
//! hash, a pointer for readers who start from an epoch number). The files never change once
//! written, so the tree can be copied to any file or object store as it is; the layout is in
//! `oracle/README.md`. [`records`] encodes and decodes the files; [`EpochArchive`] is one
//! epoch's archive: its beacons and witnesses written as they are verified, in files of one
//! block of row ids each (`chunks`), the rest and the manifest by the close
//! ([`Oracle::start_archive`], which writes whatever block the verification left uncovered
//! while the close decides, and [`Oracle::finish_archive`]), read back, every file and record
//! checked, by the audit ([`crate::audit`]).
//!
//! [`Oracle::start_archive`]: crate::Oracle
//! [`Oracle::finish_archive`]: crate::Oracle

mod chunks;
pub mod records;
pub mod routes;
mod write;

pub(crate) use chunks::Touched;

pub use records::{ArchiveError, EntropyMakers, EpochArchive, Kind, Source};

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Subdirectory of the content-addressed files.
pub const FILES_DIR: &str = "files";
/// Subdirectory of the epoch pointers.
pub const EPOCHS_DIR: &str = "epochs";
/// Name of the archive directory in the data directory when `[archive] dir` is unset.
pub const DEFAULT_DIR: &str = "archive";

/// Lower-case hex SHA-256 of `bytes`: a file's name.
pub fn sha256_hex(bytes: &[u8]) -> String {
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

    /// Whether the file named `name` is stored.
    pub fn has(&self, name: &str) -> bool {
        is_file_name(name) && self.root.join(FILES_DIR).join(name).is_file()
    }

    /// A file written piece by piece (hashed and written on a thread of its own while the
    /// caller makes the next piece), stored under its hash when finished.
    pub fn sink(&self) -> Result<FileSink, ArchiveError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = self.root.join(FILES_DIR);
        std::fs::create_dir_all(&dir).map_err(Self::io(&dir))?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".sink-{}-{n}.partial", std::process::id()));
        let file = std::fs::File::create(&temp).map_err(Self::io(&temp))?;
        let (chunks, received) = mpsc::channel(SINK_QUEUE);
        let writer = tokio::task::spawn_blocking(move || store_chunks(file, received, temp, dir));
        Ok(FileSink {
            chunks,
            writer: Some(writer),
        })
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

/// Pieces a [`FileSink`] may queue before its caller waits for the writer.
const SINK_QUEUE: usize = 4;

/// What a [`FileSink`] hands its writer.
enum Piece {
    /// More bytes of the file.
    Bytes(Vec<u8>),
    /// The file is whole: store it.
    End,
}

/// A file of the archive being written: see [`ArchiveDir::sink`]. A sink dropped before
/// [`FileSink::finish`] leaves nothing behind.
pub struct FileSink {
    chunks: mpsc::Sender<Piece>,
    writer: Option<JoinHandle<Result<(String, u64), ArchiveError>>>,
}

impl FileSink {
    /// Appends `chunk` to the file; an error is the writer's (the disk's).
    pub async fn write(&mut self, chunk: Vec<u8>) -> Result<(), ArchiveError> {
        if self.chunks.send(Piece::Bytes(chunk)).await.is_ok() {
            return Ok(());
        }
        match self.writer.take() {
            Some(writer) => join_writer(writer).await.map(|_| ()),
            None => Err(writer_lost()),
        }
    }

    /// Finishes the file: synced and stored under its hash; returns the hash and the length.
    pub async fn finish(mut self) -> Result<(String, u64), ArchiveError> {
        let writer = self.writer.take().ok_or_else(writer_lost)?;
        // A writer that stopped early returns its error when joined.
        let _ = self.chunks.send(Piece::End).await;
        join_writer(writer).await
    }
}

fn writer_lost() -> ArchiveError {
    ArchiveError::Io {
        path: PathBuf::from(FILES_DIR),
        source: std::io::Error::other("the archive file's writer stopped"),
    }
}

async fn join_writer(
    writer: JoinHandle<Result<(String, u64), ArchiveError>>,
) -> Result<(String, u64), ArchiveError> {
    match writer.await {
        Ok(result) => result,
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        Err(_) => Err(writer_lost()),
    }
}

/// The writer of a [`FileSink`]: [`write_pieces`], with the temporary file removed unless
/// it was stored.
fn store_chunks(
    file: std::fs::File,
    chunks: mpsc::Receiver<Piece>,
    temp: PathBuf,
    dir: PathBuf,
) -> Result<(String, u64), ArchiveError> {
    let stored = write_pieces(file, chunks, &temp, &dir);
    if stored.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    stored
}

/// Hashes and writes each piece as it comes; at the end, syncs the file and renames it to its
/// hash (a file stored already is kept and the copy removed). A sink dropped without its end
/// is an error.
fn write_pieces(
    file: std::fs::File,
    mut chunks: mpsc::Receiver<Piece>,
    temp: &Path,
    dir: &Path,
) -> Result<(String, u64), ArchiveError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    loop {
        match chunks.blocking_recv() {
            Some(Piece::Bytes(chunk)) => {
                hasher.update(&chunk);
                out.write_all(&chunk).map_err(io(temp))?;
                len += chunk.len() as u64;
            }
            Some(Piece::End) => break,
            None => return Err(writer_lost()),
        }
    }
    let file = out.into_inner().map_err(|e| io(temp)(e.into_error()))?;
    file.sync_all().map_err(io(temp))?;
    let name = hex::encode(hasher.finalize());
    let path = dir.join(&name);
    if path.exists() {
        std::fs::remove_file(temp).map_err(io(temp))?;
    } else {
        std::fs::rename(temp, &path).map_err(io(&path))?;
    }
    Ok((name, len))
}

/// Writes `bytes` to `path` and syncs the file.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_sink_stores_its_pieces_under_their_hash_and_leaves_no_partial_file() {
        let root = tempfile::tempdir().unwrap();
        let dir = ArchiveDir::new(root.path().to_path_buf());
        let pieces: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 1000 + i as usize]).collect();
        let whole = pieces.concat();
        for _ in 0..2 {
            let mut sink = dir.sink().unwrap();
            for piece in &pieces {
                sink.write(piece.clone()).await.unwrap();
            }
            let (name, len) = sink.finish().await.unwrap();
            assert_eq!(name, sha256_hex(&whole));
            assert_eq!(len, whole.len() as u64);
            assert_eq!(dir.read(&name).unwrap().unwrap(), whole);
        }
        let empty = dir.sink().unwrap().finish().await.unwrap();
        assert_eq!(empty, (sha256_hex(&[]), 0));
        let files = names(&root.path().join(FILES_DIR));
        assert_eq!(files, {
            let mut expected = vec![sha256_hex(&whole), sha256_hex(&[])];
            expected.sort();
            expected
        });
    }

    #[tokio::test]
    async fn a_sink_dropped_before_its_end_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dir = ArchiveDir::new(root.path().to_path_buf());
        let mut sink = dir.sink().unwrap();
        sink.write(vec![7; 4096]).await.unwrap();
        drop(sink);
        let files = root.path().join(FILES_DIR);
        for _ in 0..500 {
            if names(&files).is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("left behind: {:?}", names(&files));
    }

    #[tokio::test]
    async fn a_sink_whose_directory_is_gone_reports_the_disk_error() {
        let root = tempfile::tempdir().unwrap();
        let dir = ArchiveDir::new(root.path().to_path_buf());
        let mut sink = dir.sink().unwrap();
        sink.write(vec![1; 10]).await.unwrap();
        std::fs::remove_dir_all(root.path().join(FILES_DIR)).unwrap();
        let result = sink.finish().await;
        assert!(matches!(result, Err(ArchiveError::Io { .. })), "{result:?}");
    }
}
