//! The oracle's side of the reward ledger ([`ledger`]): appending an entry when an epoch closes, and reading
//! entries and claims for the API.

mod routes;

pub use routes::routes;

use crate::epoch::EpochReport;
use crate::error::OracleError;
use crate::store::identity::DcEntry;
use crate::store::RewardRow;
use crate::Oracle;
use ledger::{Claim, LedgerEntry, LedgerFile, Manifest, Share};

impl Oracle {
    /// The ledger file, when the oracle keeps one (it does when opened on a data directory).
    pub fn ledger(&self) -> Option<&LedgerFile> {
        self.inner.ledger.as_ref()
    }

    /// Every ledger entry, oldest first (empty without a ledger).
    pub fn ledger_entries(&self) -> Result<Vec<LedgerEntry>, OracleError> {
        Ok(self.ledger().map_or(Ok(Vec::new()), LedgerFile::entries)?)
    }

    /// The ledger entry of an epoch.
    pub fn ledger_entry(&self, epoch: u64) -> Result<Option<LedgerEntry>, OracleError> {
        Ok(self
            .ledger_entries()?
            .into_iter()
            .find(|e| e.manifest.epoch == epoch))
    }

    /// A hotspot's share in an epoch with its Merkle proof.
    pub fn ledger_claim(
        &self,
        epoch: u64,
        hotspot: &poc::Address,
    ) -> Result<Option<Claim>, OracleError> {
        Ok(self.ledger_entry(epoch)?.and_then(|e| e.claim(hotspot)))
    }

    /// Appends the ledger entry of a closed epoch unless the ledger already reaches it. The
    /// shares come from the close's reward rows (`rows`) or, for an epoch stored before a
    /// crash, from its stored report; `archive` is the hash of the epoch's report archive
    /// manifest (a version 3 entry pins it); the inputs digest is the one the close computed over what
    /// it paid; the journal pin covers the data-credit journal's entries of the epoch's span. An epoch older than the ledger's head cannot be chained any more and is left
    /// out (logged).
    pub(crate) async fn append_ledger_entry(
        &self,
        report: &EpochReport,
        rows: Option<&[RewardRow]>,
        archive: Option<[u8; 32]>,
    ) -> Result<(), OracleError> {
        let Some(ledger) = self.ledger() else {
            return Ok(());
        };
        if report.data_paid > 0 {
            // A share holds beacon and witness amounts only: an entry would drop the data
            // transfer's payouts, so none is written until an entry version carries them.
            return Err(OracleError::LedgerInput {
                epoch: report.epoch,
                detail: format!(
                    "the epoch paid {} in data-transfer rewards, which no ledger entry version carries",
                    report.data_paid
                ),
            });
        }
        let entries = ledger.entries()?;
        let prev = entries.last();
        if let Some(prev) = prev {
            if prev.manifest.epoch >= report.epoch {
                if !entries.iter().any(|e| e.manifest.epoch == report.epoch) {
                    tracing::warn!(
                        epoch = report.epoch,
                        head = prev.manifest.epoch,
                        "epoch closed after a later one; it stays out of the ledger"
                    );
                }
                return Ok(());
            }
        }
        let Some(inputs_digest) = stored_digest(report)? else {
            tracing::warn!(
                epoch = report.epoch,
                "epoch stored without the digest of what it paid; it stays out of the ledger"
            );
            return Ok(());
        };
        let mut shares = match rows {
            Some(rows) => rows.iter().map(share_of_row).collect(),
            None => shares_of_report(report)?,
        };
        shares.sort_by_key(|s| s.hotspot.0);
        let journal = self
            .store()
            .dc_journal(None, (report.start_ms, report.end_ms), u32::MAX, 0)
            .await?;
        let journal = ledger::journal_digest(journal.iter().map(DcEntry::journal_item));
        let manifest = Manifest {
            epoch: report.epoch,
            start_ms: report.start_ms,
            end_ms: report.end_ms,
            emission: report.emission,
            beacon_pool: report.beacon_pool,
            witness_pool: report.witness_pool,
            undistributed: report.undistributed,
            inputs_digest,
            journal: Some(journal),
            archive,
            prev_hash: prev.map_or([0; 32], LedgerEntry::hash),
            shares,
        };
        if let Some(log) = self.report_log() {
            return self.propose_entry(log, manifest).await;
        }
        let entry = manifest.sign(&self.inner.key);
        entry.check().map_err(|e| OracleError::LedgerInput {
            epoch: report.epoch,
            detail: format!("ledger entry: {e}"),
        })?;
        Ok(ledger.append(&entry)?)
    }
}

/// The inputs digest a stored report carries, if it carries one.
fn stored_digest(report: &EpochReport) -> Result<Option<[u8; 32]>, OracleError> {
    report
        .inputs_digest
        .as_deref()
        .map(|text| {
            hex::decode(text)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| OracleError::LedgerInput {
                    epoch: report.epoch,
                    detail: format!("inputs digest {text:?}"),
                })
        })
        .transpose()
}

/// A reward row's ledger share.
fn share_of_row(row: &RewardRow) -> Share {
    Share {
        hotspot: poc::Address(row.pub_key),
        beacon_amount: row.beacon_amount,
        witness_amount: row.witness_amount,
        total: row.beacon_amount + row.witness_amount,
    }
}

/// The ledger shares of a stored report, whose hotspots are named by address.
fn shares_of_report(report: &EpochReport) -> Result<Vec<Share>, OracleError> {
    report
        .rewards
        .iter()
        .map(|r| {
            let hotspot =
                r.address
                    .parse::<poc::Address>()
                    .map_err(|e| OracleError::LedgerInput {
                        epoch: report.epoch,
                        detail: format!("reward address: {e}"),
                    })?;
            Ok(Share {
                hotspot,
                beacon_amount: r.beacon_amount,
                witness_amount: r.witness_amount,
                total: r.total,
            })
        })
        .collect()
}
