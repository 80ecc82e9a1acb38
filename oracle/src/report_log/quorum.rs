//! Ledger entries that `t` of the `n` operators sign (`ledger::quorum`, version 4).
//!
//! When an operator following the shared log closes an epoch, it builds the entry's body from
//! its close, signs it and publishes the signature into the log ([`proto::EntrySignature`]).
//! Every operator collects the signatures as it applies them. Once `threshold` operators have
//! signed the very body it computed itself, it assembles the entry and appends it to its
//! ledger; a signature over another body is a dissent, logged and kept (also one applied
//! after the quorum: the dissenter may have been catching up). Since every operator
//! closes at the same moment of the log, its own body is known before any signature of that
//! epoch is applied, also when it catches up after a restart.
//!
//! The signatures seen for epochs not yet in the ledger are stored with the log position
//! ([`SeenSignature`]); an operator restarted between its close and the quorum takes them
//! back and proposes its entries again from the stored reports ([`Oracle::resume_signing`]).

use super::ReportLog;
use crate::{Oracle, OracleError};
use ledger::quorum::{EntryBody, Governor, OperatorSet, OperatorSignature};
use ledger::{LedgerEntry, Manifest};
use poc::proto::{self, log_entry::Body};
use poc::Address;
use std::collections::BTreeMap;
use std::sync::PoisonError;

/// Each operator's signature of one epoch: the entry hash it signed, and the signature.
type SignedBy = BTreeMap<Address, ([u8; 32], [u8; 64])>;

/// How many closed epochs after the ledger's last a restarted operator proposes again.
const MAX_RESUMED: u64 = 30;

/// What the operator has signed and seen signed, per epoch not yet in its ledger.
#[derive(Debug, Default)]
pub(crate) struct Signing {
    /// The body this operator computed for each epoch awaiting its quorum.
    bodies: BTreeMap<u64, EntryBody>,
    /// Each operator's first signature for each epoch: the entry hash it signed and the
    /// signature.
    seen: BTreeMap<u64, SignedBy>,
    /// Each epoch whose entry this operator assembled: that entry's hash, and the operators
    /// that signed another body.
    settled: BTreeMap<u64, Settled>,
}

/// The outcome of an epoch whose entry was assembled.
#[derive(Debug)]
struct Settled {
    /// The entry's hash: what its signers signed.
    hash: [u8; 32],
    /// Operators that signed another body, before or after the quorum.
    dissent: Vec<Address>,
}

/// A signature seen in the log for an epoch not yet in the ledger, as the follower stores it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SeenSignature {
    epoch: u64,
    operator: [u8; 32],
    entry_hash: [u8; 32],
    /// 64 bytes.
    signature: Vec<u8>,
}

impl Oracle {
    /// The signatures seen for epochs not yet in the ledger, to be stored with the position.
    pub(crate) fn seen_signatures(&self) -> Vec<SeenSignature> {
        let signing = self.signing();
        let mut seen = Vec::new();
        for (&epoch, by) in &signing.seen {
            for (operator, (hash, signature)) in by {
                seen.push(SeenSignature {
                    epoch,
                    operator: operator.0,
                    entry_hash: *hash,
                    signature: signature.to_vec(),
                });
            }
        }
        seen
    }

    /// After a restart: takes back the signatures seen before it, and proposes again the
    /// entry of every closed epoch after the ledger's last (its body rebuilt from the stored
    /// report, its signature published again), appending those that now have their quorum.
    pub(crate) async fn resume_signing(&self, seen: Vec<SeenSignature>) -> Result<(), OracleError> {
        {
            let mut signing = self.signing();
            for s in seen {
                let Ok(signature) = <[u8; 64]>::try_from(s.signature.as_slice()) else {
                    continue;
                };
                signing
                    .seen
                    .entry(s.epoch)
                    .or_default()
                    .entry(Address(s.operator))
                    .or_insert((s.entry_hash, signature));
            }
        }
        let Some(ledger) = self.ledger() else {
            return Ok(());
        };
        let Some(closed) = self.store().last_closed_epoch().await? else {
            return Ok(());
        };
        let head = ledger.entries()?.last().map(|e| e.manifest.epoch);
        let signed = self.signing().bodies.keys().copied().collect::<Vec<_>>();
        let first = head
            .map_or(0, |h| h + 1)
            .max(closed.saturating_sub(MAX_RESUMED));
        for epoch in first..=closed {
            if signed.contains(&epoch) || self.epoch_report(epoch).await?.is_none() {
                continue;
            }
            self.close_epoch(epoch).await?;
        }
        Ok(())
    }

    /// The operator set that signs entries: the configured operators and threshold.
    pub(crate) fn operator_set(&self, log: &ReportLog) -> Result<OperatorSet, OracleError> {
        let threshold = self.config().report_log.quorum_threshold();
        let operators = log.operators.iter().map(|key| Address(*key)).collect();
        OperatorSet::new(threshold, operators).map_err(|e| OracleError::LedgerInput {
            epoch: 0,
            detail: format!("operator set: {e}"),
        })
    }

    /// Proposes the epoch's entry: signs the body built from `manifest`, publishes the
    /// signature into the log, and appends the entry if a quorum has already signed it.
    pub(crate) async fn propose_entry(
        &self,
        log: &ReportLog,
        manifest: Manifest,
    ) -> Result<(), OracleError> {
        let epoch = manifest.epoch;
        let body = manifest.quorum_body(self.operator_set(log)?).map_err(|e| {
            OracleError::LedgerInput {
                epoch,
                detail: format!("ledger entry: {e}"),
            }
        })?;
        let signature = body.sign(&self.inner.key);
        let message = proto::EntrySignature {
            epoch,
            entry_hash: body.hash().to_vec(),
            signature: signature.signature.to_vec(),
        };
        self.signing().bodies.insert(epoch, body);
        let id = super::entry_id("signature", &format!("{epoch}-{}", self.address()));
        self.publish_to_log(log, Body::EntrySignature(message), id)
            .await?;
        self.append_signed_entries()
    }

    /// Records an operator's signature read from the log (its first for the epoch counts)
    /// and appends whatever entries now have their quorum.
    pub(crate) fn record_signature(
        &self,
        operator: [u8; 32],
        message: proto::EntrySignature,
    ) -> Result<(), OracleError> {
        let (Ok(hash), Ok(signature)) = (
            <[u8; 32]>::try_from(message.entry_hash.as_slice()),
            <[u8; 64]>::try_from(message.signature.as_slice()),
        ) else {
            tracing::warn!(
                epoch = message.epoch,
                "report log: a malformed entry signature skipped"
            );
            return Ok(());
        };
        let mut signing = self.signing();
        if let Some(settled) = signing.settled.get_mut(&message.epoch) {
            // After the quorum: only a dissent is news.
            let operator = Address(operator);
            if hash != settled.hash && !settled.dissent.contains(&operator) {
                tracing::warn!(
                    epoch = message.epoch,
                    %operator,
                    "an operator signed another entry after the quorum"
                );
                settled.dissent.push(operator);
                settled.dissent.sort();
            }
            return Ok(());
        }
        signing
            .seen
            .entry(message.epoch)
            .or_default()
            .entry(Address(operator))
            .or_insert((hash, signature));
        drop(signing);
        self.append_signed_entries()
    }

    /// Operators that signed another entry than this operator's for `epoch`, as far as the
    /// log has been applied (empty before this operator closed the epoch).
    pub fn dissenters(&self, epoch: u64) -> Vec<Address> {
        let signing = self.signing();
        match signing.bodies.get(&epoch) {
            Some(body) => signatures_for(body, signing.seen.get(&epoch)).1,
            None => signing
                .settled
                .get(&epoch)
                .map(|s| s.dissent.clone())
                .unwrap_or_default(),
        }
    }

    fn signing(&self) -> std::sync::MutexGuard<'_, Signing> {
        self.inner
            .signing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends, in epoch order, each awaiting entry whose body a quorum has signed; stops at
    /// the first that has no quorum yet.
    fn append_signed_entries(&self) -> Result<(), OracleError> {
        let Some(ledger) = self.ledger() else {
            return Ok(());
        };
        loop {
            let mut signing = self.signing();
            let Some((&epoch, body)) = signing.bodies.first_key_value() else {
                return Ok(());
            };
            let (agreeing, dissenting) = signatures_for(body, signing.seen.get(&epoch));
            // Fewer than the set this operator declares needs (the set every entry it writes
            // declares, and so governs): the ledger is not read for it.
            if agreeing.len() < body.declared().threshold() as usize {
                return Ok(());
            }
            let prev = ledger.entries()?.last().cloned();
            let Some(entry) = assemble(body, prev.as_ref(), agreeing) else {
                return Ok(());
            };
            if !dissenting.is_empty() {
                tracing::warn!(
                    epoch,
                    dissenting = dissenting.len(),
                    "operators signed another entry"
                );
            }
            let hash = body.hash();
            signing.settled.insert(
                epoch,
                Settled {
                    hash,
                    dissent: dissenting,
                },
            );
            signing.bodies.remove(&epoch);
            signing.seen.remove(&epoch);
            drop(signing);
            if prev.is_some_and(|p| p.manifest.epoch >= epoch) {
                continue;
            }
            ledger.append(&entry)?;
            tracing::info!(epoch, "ledger entry signed by a quorum of operators");
        }
    }
}

/// The signatures over `body` (valid, by their operators) and the operators that signed
/// another body.
fn signatures_for(
    body: &EntryBody,
    seen: Option<&SignedBy>,
) -> (Vec<OperatorSignature>, Vec<Address>) {
    let mut agreeing = Vec::new();
    let mut dissenting = Vec::new();
    for (&operator, &(hash, signature)) in seen.into_iter().flatten() {
        let signature = OperatorSignature {
            operator,
            signature,
        };
        if hash == body.hash() && signature.verifies(body.bytes()) {
            agreeing.push(signature);
        } else {
            dissenting.push(operator);
        }
    }
    (agreeing, dissenting)
}

/// The entry, when `agreeing` is a quorum under the governor `prev` implies.
fn assemble(
    body: &EntryBody,
    prev: Option<&LedgerEntry>,
    agreeing: Vec<OperatorSignature>,
) -> Option<LedgerEntry> {
    let governor = Governor::for_entry(prev, body.declared());
    let members = agreeing
        .iter()
        .filter(|s| governor.set.contains(&s.operator))
        .count();
    if members < governor.set.threshold() as usize {
        return None;
    }
    match body.clone().assemble(&governor, agreeing) {
        Ok(entry) => Some(entry),
        Err(error) => {
            tracing::warn!(%error, epoch = body.manifest().epoch, "entry not assembled");
            None
        }
    }
}
