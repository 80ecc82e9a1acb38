//! The oracle's side of the ledger: appending an entry when an epoch closes, and reading
//! entries and claims for the API.

use super::{inputs_digest, Claim, LedgerEntry, LedgerFile, Manifest, Share};
use crate::epoch::EpochReport;
use crate::error::OracleError;
use crate::store::Status;
use crate::Oracle;
use sha2::{Digest, Sha256};

/// A report id (hex SHA-256) as 32 bytes; an id that is not 64 hex digits is hashed instead.
fn report_id_bytes(id: &str) -> [u8; 32] {
    hex::decode(id)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .unwrap_or_else(|| Sha256::digest(id.as_bytes()).into())
}

impl Oracle {
    /// The ledger file, when the oracle keeps one (it does when opened on a data directory).
    pub fn ledger(&self) -> Option<&LedgerFile> {
        self.inner.ledger.as_ref()
    }

    /// Every ledger entry, oldest first (empty without a ledger).
    pub fn ledger_entries(&self) -> Result<Vec<LedgerEntry>, OracleError> {
        self.ledger().map_or(Ok(Vec::new()), LedgerFile::entries)
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

    /// The digest of an epoch's inputs: its valid beacons, oldest first, each with its selected
    /// valid witnesses (see [`super::inputs_digest`]).
    pub async fn epoch_inputs_digest(&self, epoch: u64) -> Result<[u8; 32], OracleError> {
        let start_ms = epoch.saturating_mul(self.config().epoch_ms);
        let end_ms = start_ms.saturating_add(self.config().epoch_ms);
        let mut inputs = Vec::new();
        for beacon in self.store().valid_beacons_between(start_ms, end_ms).await? {
            let witnesses = self
                .store()
                .witnesses_of_beacon(beacon.id)
                .await?
                .into_iter()
                .filter(|w| w.status == Status::Valid && w.selected)
                .map(|w| report_id_bytes(&w.report_id))
                .collect();
            inputs.push((report_id_bytes(&beacon.report_id), witnesses));
        }
        Ok(inputs_digest(&inputs))
    }

    /// Appends the ledger entry of a closed epoch unless the ledger already reaches it. An
    /// epoch older than the ledger's head cannot be chained any more and is left out (logged).
    pub(crate) async fn append_ledger_entry(
        &self,
        report: &EpochReport,
    ) -> Result<(), OracleError> {
        let Some(ledger) = self.ledger() else {
            return Ok(());
        };
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
        let mut shares = report
            .rewards
            .iter()
            .map(|r| {
                let hotspot = r
                    .address
                    .parse::<poc::Address>()
                    .map_err(|e| OracleError::Corrupt(format!("reward address: {e}")))?;
                Ok(Share {
                    hotspot,
                    beacon_amount: r.beacon_amount,
                    witness_amount: r.witness_amount,
                    total: r.total,
                })
            })
            .collect::<Result<Vec<_>, OracleError>>()?;
        shares.sort_by_key(|s| s.hotspot.0);
        let manifest = Manifest {
            epoch: report.epoch,
            start_ms: report.start_ms,
            end_ms: report.end_ms,
            emission: report.emission,
            beacon_pool: report.beacon_pool,
            witness_pool: report.witness_pool,
            undistributed: report.undistributed,
            inputs_digest: self.epoch_inputs_digest(report.epoch).await?,
            prev_hash: prev.map_or([0; 32], LedgerEntry::hash),
            shares,
        };
        let entry = manifest.sign(&self.inner.key);
        entry.check().map_err(|e| {
            OracleError::Corrupt(format!("ledger entry of epoch {}: {e}", report.epoch))
        })?;
        ledger.append(&entry)
    }
}
