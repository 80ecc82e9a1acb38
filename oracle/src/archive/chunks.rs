//! An epoch's beacons and witnesses archived as they are verified, in record files of one
//! block of row ids each, so that the epoch close only lists them.
//!
//! The file of epoch `e`, kind `k` and block `b` holds the reports of kind `k` received in `e`
//! whose row id divided by `[archive] block_rows` is `b`, by row id, each with its status,
//! reason and matched beacon. Its bytes are a function of those reports alone, whenever it is
//! written, so every operator that applied the same report log (the same reports under the
//! same row ids, with the same verdicts) writes the same files and the same manifest.
//!
//! After each verification pass commits its verdicts, every block it decided a report in is
//! written once it is whole: none of the epoch's reports in it is pending and no more can
//! arrive in it (a later row id is stored, or the epoch is over). Each file is recorded in the
//! store (`archive_chunks`) with its record count. The close checks that the recorded files
//! cover every report of the epoch (their counts add up to the epoch's, none was written with
//! pending reports, each file is there) and writes any block they do not cover: after a crash
//! between a pass's commit and its files, a block whose reports were verified by the close
//! itself, or a report stored in a block after its file was written.

use super::records::{stored_record, Kind};
use super::ArchiveDir;
use crate::error::OracleError;
use crate::store::{ArchiveChunk, ReportKind, Status};
use crate::Oracle;
use futures::TryStreamExt;
use poc::proto::ArchiveFile;
use prost::Message;
use std::collections::{BTreeSet, HashMap};

/// Bytes of records handed to an archive file's writer at a time.
const CHUNK_BYTES: usize = 1 << 20;

/// Blocks a verification pass decided reports in: kind, epoch and block.
pub(crate) type Touched = BTreeSet<(ReportKind, u64, i64)>;

/// The archive's kind of a report table.
fn kind_of(kind: ReportKind) -> Kind {
    match kind {
        ReportKind::Beacons => Kind::Beacons,
        ReportKind::Witnesses => Kind::Witnesses,
    }
}

/// The manifest's entry for a record file.
fn listed(chunk: &ArchiveChunk) -> ArchiveFile {
    ArchiveFile {
        kind: kind_of(chunk.kind).as_str().to_string(),
        sha256: chunk.sha256.clone(),
        records: chunk.records,
        bytes: chunk.bytes,
    }
}

impl Oracle {
    /// Row ids per record file.
    fn block_rows(&self) -> i64 {
        i64::from(self.config().archive.block_rows.max(1))
    }

    /// The first and the first-after row id of `block`.
    fn block_ids(&self, block: i64) -> (i64, i64) {
        let rows = self.block_rows();
        (
            block.saturating_mul(rows),
            block.saturating_add(1).saturating_mul(rows),
        )
    }

    /// Notes in `touched` that a verification pass decided report `id` of `kind`, received at
    /// `received_ms`.
    pub(crate) fn touch_block(
        &self,
        touched: &mut Touched,
        kind: ReportKind,
        id: i64,
        received_ms: u64,
    ) {
        let epoch = received_ms / self.config().epoch_ms.max(1);
        touched.insert((kind, epoch, id.div_euclid(self.block_rows())));
    }

    /// Archives what a verification pass decided, once its verdicts are committed: each
    /// touched block that is whole (none of its epoch's reports pending, and no more to come:
    /// a later row id is stored or the epoch is over at `now_ms`) is written and recorded; the
    /// record of one that is not is dropped (its reports changed since it was written).
    /// Returns how many files were written.
    pub(crate) async fn archive_verified(
        &self,
        touched: &Touched,
        now_ms: u64,
    ) -> Result<usize, OracleError> {
        let Some(dir) = self.archive() else {
            return Ok(0);
        };
        let mut max_ids = HashMap::new();
        let mut written = 0;
        for &(kind, epoch, block) in touched {
            let span = crate::epoch::epoch_span(epoch, self.config().epoch_ms);
            let ids = self.block_ids(block);
            let pending = self.store().pending_in(kind, span, ids).await?;
            let max_id = match max_ids.get(&kind) {
                Some(&max_id) => max_id,
                None => {
                    let max_id = self.store().max_report_id(kind).await?;
                    max_ids.insert(kind, max_id);
                    max_id
                }
            };
            let closed = now_ms >= span.1 || max_id.is_some_and(|m| m >= ids.1);
            if closed && pending == 0 {
                self.write_block(dir, kind, epoch, block).await?;
                written += 1;
            } else {
                self.store()
                    .delete_archive_chunk(epoch, kind, block)
                    .await?;
            }
        }
        Ok(written)
    }

    /// Writes the record file of `block` of the reports of `kind` received in `epoch` (streamed
    /// from the store) and records it.
    async fn write_block(
        &self,
        dir: &ArchiveDir,
        kind: ReportKind,
        epoch: u64,
        block: i64,
    ) -> Result<ArchiveChunk, OracleError> {
        let span = crate::epoch::epoch_span(epoch, self.config().epoch_ms);
        let mut rows = self
            .store()
            .stored_reports_in(kind, span, self.block_ids(block));
        let mut sink = dir.sink()?;
        let mut piece = Vec::with_capacity(CHUNK_BYTES);
        let (mut records, mut pending) = (0u64, 0u64);
        while let Some(row) = rows.try_next().await? {
            pending += u64::from(row.status == Status::Pending);
            // Writing to a Vec cannot run out of room.
            let _ = stored_record(row).encode_length_delimited(&mut piece);
            records += 1;
            if piece.len() >= CHUNK_BYTES {
                let full = std::mem::replace(&mut piece, Vec::with_capacity(CHUNK_BYTES));
                sink.write(full).await?;
            }
        }
        drop(rows);
        sink.write(piece).await?;
        let (sha256, bytes) = sink.finish().await?;
        let chunk = ArchiveChunk {
            epoch,
            kind,
            block,
            sha256,
            records,
            bytes,
            pending,
        };
        self.store().put_archive_chunk(&chunk).await?;
        Ok(chunk)
    }

    /// The record files of the beacons and witnesses received in `epoch`, in manifest order
    /// (beacons, then witnesses, each by block): those verification recorded, and any block
    /// they do not cover written now ([`Oracle::cover_kind`]). A kind without reports has one
    /// empty file.
    pub(crate) async fn cover_epoch(
        &self,
        dir: &ArchiveDir,
        epoch: u64,
    ) -> Result<Vec<ArchiveFile>, OracleError> {
        let recorded = self.store().archive_chunks(epoch).await?;
        let mut files = Vec::new();
        for kind in [ReportKind::Beacons, ReportKind::Witnesses] {
            let mine = recorded
                .iter()
                .filter(|c| c.kind == kind)
                .cloned()
                .collect();
            let chunks = self.cover_kind(dir, kind, epoch, mine).await?;
            if chunks.is_empty() {
                files.push(ArchiveFile {
                    kind: kind_of(kind).as_str().to_string(),
                    sha256: dir.put(&[])?,
                    records: 0,
                    bytes: 0,
                });
            }
            files.extend(chunks.iter().map(listed));
        }
        Ok(files)
    }

    /// The record files of the reports of `kind` received in `epoch`, by block: `recorded` as
    /// it is when it covers them all (its counts add up to the epoch's, none was written with
    /// pending reports, every file is there); otherwise each block whose file is missing, was
    /// written with pending reports or holds another number of reports is written again.
    async fn cover_kind(
        &self,
        dir: &ArchiveDir,
        kind: ReportKind,
        epoch: u64,
        recorded: Vec<ArchiveChunk>,
    ) -> Result<Vec<ArchiveChunk>, OracleError> {
        let span = crate::epoch::epoch_span(epoch, self.config().epoch_ms);
        let total = self.store().report_count(kind, span.0, span.1).await?;
        let whole = |c: &ArchiveChunk| c.pending == 0 && dir.has(&c.sha256);
        if recorded.iter().map(|c| c.records).sum::<u64>() == total && recorded.iter().all(whole) {
            return Ok(recorded);
        }
        let counts = self
            .store()
            .report_blocks(kind, span, self.block_rows())
            .await?;
        let by_block: HashMap<i64, ArchiveChunk> =
            recorded.into_iter().map(|c| (c.block, c)).collect();
        let mut chunks = Vec::with_capacity(counts.len());
        let mut written = 0usize;
        for count in counts {
            match by_block.get(&count.block) {
                Some(c) if c.records == count.records && whole(c) => chunks.push(c.clone()),
                _ => {
                    chunks.push(self.write_block(dir, kind, epoch, count.block).await?);
                    written += 1;
                }
            }
        }
        tracing::info!(
            epoch,
            kind = kind.table(),
            written,
            "archive files written at the close"
        );
        Ok(chunks)
    }
}
