//! Durable report queue: every signed report is written to a spool directory before any attempt
//! to deliver it, and leaves the spool only once the oracle has acknowledged it.
//!
//! One file per report, named `<sequence>.<kind>` (20 decimal digits, then `beacon` or
//! `witness`), holding the report's protobuf encoding. A report is written to a `.tmp` file,
//! flushed with `fsync`, renamed into place and the directory is synced, so a crash leaves either
//! the whole report or nothing. Leftover `.tmp` files are removed on open. Files that cannot be
//! decoded are moved to `corrupt/`; reports the oracle refuses for good go to `rejected/`.

use poc::proto;
use prost::Message;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors of the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file operation failed.
    #[error("spool {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A report waiting for the oracle's acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A beacon report.
    Beacon(proto::BeaconReport),
    /// A witness report.
    Witness(proto::WitnessReport),
}

impl Report {
    /// `beacon` or `witness`: the spool file extension and log label.
    pub fn kind(&self) -> &'static str {
        match self {
            Report::Beacon(_) => "beacon",
            Report::Witness(_) => "witness",
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Report::Beacon(report) => report.encode_to_vec(),
            Report::Witness(report) => report.encode_to_vec(),
        }
    }

    fn decode(kind: &str, bytes: &[u8]) -> Option<Self> {
        match kind {
            "beacon" => proto::BeaconReport::decode(bytes).ok().map(Report::Beacon),
            "witness" => proto::WitnessReport::decode(bytes)
                .ok()
                .map(Report::Witness),
            _ => None,
        }
    }
}

/// The on-disk queue of reports, oldest first.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    /// The kind (file extension) of each waiting report by sequence number: the file's path
    /// follows from them, so an outage's backlog costs a few bytes of memory a report.
    entries: BTreeMap<u64, &'static str>,
    next_seq: u64,
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn parse_name(path: &Path) -> Option<(u64, &'static str)> {
    let name = path.file_name()?.to_str()?;
    let (seq, kind) = name.split_once('.')?;
    let kind = match kind {
        "beacon" => "beacon",
        "witness" => "witness",
        _ => return None,
    };
    if seq.len() != 20 {
        return None;
    }
    Some((seq.parse().ok()?, kind))
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, finishing or discarding whatever a crash
    /// left half-written.
    pub fn open(dir: &Path) -> Result<Self, SpoolError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut entries = BTreeMap::new();
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            if !path.is_file() {
                continue;
            }
            if path.extension().is_some_and(|ext| ext == "tmp") {
                tracing::warn!(path = %path.display(), "removing a half-written spool file");
                fs::remove_file(&path).map_err(io(&path))?;
                continue;
            }
            match parse_name(&path) {
                Some((seq, kind)) => {
                    entries.insert(seq, kind);
                }
                None => {
                    tracing::warn!(path = %path.display(), "ignoring a stray file in the spool")
                }
            }
        }
        // Sequence numbers start from the clock (microseconds) so that they never repeat across
        // restarts, even after the queue has drained or files were set aside.
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_micros() as u64);
        let next_seq = entries
            .keys()
            .next_back()
            .map_or(clock, |last| (last + 1).max(clock));
        Ok(Self {
            dir: dir.to_path_buf(),
            entries,
            next_seq,
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reports waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The file of report `seq` of `kind`.
    fn path_of(&self, seq: u64, kind: &str) -> PathBuf {
        self.dir.join(format!("{seq:020}.{kind}"))
    }

    /// Writes a report durably and returns its sequence number.
    pub fn push(&mut self, report: &Report) -> Result<u64, SpoolError> {
        let seq = self.next_seq;
        let path = self.path_of(seq, report.kind());
        let tmp = path.with_extension(format!("{}.tmp", report.kind()));
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&report.encode()).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.dir)?;
        self.next_seq += 1;
        self.entries.insert(seq, report.kind());
        Ok(seq)
    }

    /// The oldest report still waiting. Files that cannot be read back are set aside in
    /// `corrupt/` and skipped.
    pub fn front(&mut self) -> Result<Option<(u64, Report)>, SpoolError> {
        while let Some((&seq, &kind)) = self.entries.iter().next() {
            let path = self.path_of(seq, kind);
            let decoded = fs::read(&path)
                .ok()
                .and_then(|bytes| Report::decode(kind, &bytes));
            match decoded {
                Some(report) => return Ok(Some((seq, report))),
                None => {
                    tracing::error!(path = %path.display(), "unreadable spool file set aside");
                    self.set_aside(seq, "corrupt")?;
                }
            }
        }
        Ok(None)
    }

    /// Removes an acknowledged report for good.
    pub fn remove(&mut self, seq: u64) -> Result<(), SpoolError> {
        if let Some(kind) = self.entries.remove(&seq) {
            let path = self.path_of(seq, kind);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    self.entries.insert(seq, kind);
                    return Err(SpoolError::Io {
                        path: path.display().to_string(),
                        source,
                    });
                }
            }
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Moves a report out of the queue into the subdirectory `folder` (kept for inspection).
    pub fn set_aside(&mut self, seq: u64, folder: &str) -> Result<(), SpoolError> {
        if let Some(kind) = self.entries.remove(&seq) {
            let path = self.path_of(seq, kind);
            let target_dir = self.dir.join(folder);
            fs::create_dir_all(&target_dir).map_err(io(&target_dir))?;
            let target = target_dir.join(path.file_name().unwrap_or_default());
            fs::rename(&path, &target).map_err(io(&target))?;
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn witness(n: u8) -> Report {
        Report::Witness(proto::WitnessReport {
            data: vec![n; 51],
            rssi_ddbm: -1000 - i32::from(n),
            ..Default::default()
        })
    }

    #[test]
    fn reports_survive_a_reopen_in_order_and_leave_only_when_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        let beacon = Report::Beacon(proto::BeaconReport {
            data: vec![9; 51],
            frequency_hz: 904_100_000,
            ..Default::default()
        });
        let first = spool.push(&beacon).unwrap();
        let second = spool.push(&witness(1)).unwrap();
        spool.push(&witness(2)).unwrap();
        assert_eq!(spool.len(), 3);
        drop(spool);

        let mut spool = Spool::open(dir.path()).unwrap();
        assert_eq!(spool.len(), 3);
        assert_eq!(spool.front().unwrap(), Some((first, beacon)));
        spool.remove(first).unwrap();
        assert_eq!(spool.front().unwrap(), Some((second, witness(1))));
        spool.remove(second).unwrap();
        drop(spool);

        let mut spool = Spool::open(dir.path()).unwrap();
        assert_eq!(spool.len(), 1);
        let (third, report) = spool.front().unwrap().unwrap();
        assert!(third > second, "sequence numbers never go back");
        assert_eq!(report, witness(2));
        let fourth = spool.push(&witness(3)).unwrap();
        assert!(fourth > third);
    }

    #[test]
    fn half_written_and_corrupt_files_are_cleared_away() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("00000000000000000007.witness.tmp"), b"x").unwrap();
        std::fs::write(dir.path().join("00000000000000000003.witness"), [0xff; 7]).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        assert!(!dir.path().join("00000000000000000007.witness.tmp").exists());
        assert_eq!(spool.len(), 1);
        assert_eq!(spool.front().unwrap(), None);
        assert!(spool.is_empty());
        assert!(dir
            .path()
            .join("corrupt/00000000000000000003.witness")
            .exists());
        // The next sequence number does not reuse the corrupt file's.
        let seq = Spool::open(dir.path()).unwrap().push(&witness(1)).unwrap();
        assert!(seq > 3);
    }
}
