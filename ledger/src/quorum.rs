//! Version 4 entries: `t` of `n` oracle operators sign each entry.
//!
//! The rules, which [`verify_chain_trusting`] checks for every entry of a chain:
//!
//! - Each version 4 entry declares an operator set ([`OperatorSet`]: a threshold `t` and `n`
//!   keys). That set governs the NEXT entry: the next entry counts only with `t` valid
//!   signatures by members of it, over the same body bytes.
//! - The first version 4 entry of a chain is governed by its own set, the genesis set. A
//!   verifier may pin the genesis set it trusts ([`Trust::genesis`]); else it trusts the set
//!   the entry declares, and says so ([`SetChange::Genesis`]).
//! - When it follows a single-oracle (version 1-3) entry, the first version 4 entry must also
//!   be signed by that oracle: the old authority hands over. The oracle's signature counts
//!   towards `t` only if the oracle is a member of the genesis set.
//! - An entry that declares another set than its predecessor's is a set change; it is valid
//!   because the current quorum signed it, and the new set governs the entries after it.
//! - Every signature carried must be valid and by a member of the governing set (or the
//!   handing-over oracle), each signer once: a bad, outside or duplicate signature is an error
//!   even when `t` other signatures are valid, so an entry never carries a signature that does
//!   not count.
//! - No single-oracle entry may follow a version 4 entry.
//!
//! A threshold of more than half the set keeps two disjoint quorums from signing two different
//! entries for the same epoch; the format allows any `1 <= t <= n`, and a verifier of one file
//! does not see a fork.

use crate::{
    Address, BadEntry, Keypair, LedgerEntry, LedgerError, LedgerSummary, Manifest, Reader, MAGIC_V4,
};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// Most operators a set may hold (bounds what a decoder allocates and a verifier checks).
pub const MAX_OPERATORS: u32 = 64;
/// Most signatures a version 4 entry may carry: every operator of a set, and the single
/// oracle handing over.
pub const MAX_SIGNATURES: u32 = MAX_OPERATORS + 1;
/// Bytes of one operator signature as encoded: public key (32) and signature (64).
pub const OPERATOR_SIGNATURE_LEN: usize = 32 + 64;
/// The domain of a version 4 entry's hash: `SHA-256(ENTRY_HASH_DOMAIN ‖ body)`.
pub const ENTRY_HASH_DOMAIN: &[u8] = b"lorapoc-ledger-entry-v4";

/// A set of operators and how many of them must sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSet {
    threshold: u32,
    operators: Vec<Address>,
}

impl OperatorSet {
    /// A set of `operators` (in any order) of which `threshold` must sign. Refuses duplicates,
    /// keys that are not valid ed25519 points (or of small order), more than
    /// [`MAX_OPERATORS`], and a threshold outside `1..=n`.
    pub fn new(threshold: u32, mut operators: Vec<Address>) -> Result<Self, LedgerError> {
        operators.sort();
        Self::from_sorted(threshold, operators)
    }

    /// The set from keys that must already be strictly increasing.
    fn from_sorted(threshold: u32, operators: Vec<Address>) -> Result<Self, LedgerError> {
        let bad = |what: String| Err(LedgerError::BadOperatorSet(what));
        let n = operators.len();
        if n > MAX_OPERATORS as usize {
            return bad(format!("{n} operators, at most {MAX_OPERATORS}"));
        }
        if threshold == 0 || threshold as usize > n {
            return bad(format!("threshold {threshold} of {n} operators"));
        }
        if let Some(w) = operators.windows(2).find(|w| w[0] >= w[1]) {
            return if w[0] == w[1] {
                bad(format!("{} is listed twice", w[0]))
            } else {
                bad("operators not sorted by key".into())
            };
        }
        for operator in &operators {
            let valid = VerifyingKey::from_bytes(&operator.0).is_ok_and(|key| !key.is_weak());
            if !valid {
                return bad(format!(
                    "{} is not a valid public key",
                    hex::encode(operator.0)
                ));
            }
        }
        Ok(Self {
            threshold,
            operators,
        })
    }

    /// Signatures needed.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The operators, sorted by key.
    pub fn operators(&self) -> &[Address] {
        &self.operators
    }

    /// Whether `operator` is a member.
    pub fn contains(&self, operator: &Address) -> bool {
        self.operators.binary_search(operator).is_ok()
    }

    /// Appends `threshold ‖ count ‖ keys`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&(self.operators.len() as u32).to_le_bytes());
        for operator in &self.operators {
            out.extend_from_slice(&operator.0);
        }
    }

    /// Reads `threshold ‖ count ‖ keys`, the keys strictly increasing.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, LedgerError> {
        let threshold = r.u32()?;
        let count = r.count("operators", 32, MAX_OPERATORS)?;
        let operators = (0..count)
            .map(|_| r.array().map(Address))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_sorted(threshold, operators)
    }
}

impl fmt::Display for OperatorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {{", self.threshold)?;
        for (i, operator) in self.operators.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{operator}")?;
        }
        f.write_str("}")
    }
}

/// One operator's signature over a version 4 entry's body: what operators exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorSignature {
    /// The operator's public key.
    pub operator: Address,
    /// Its ed25519 signature over the body.
    pub signature: [u8; 64],
}

impl OperatorSignature {
    /// The 96 bytes: public key, then signature.
    pub fn encode(&self) -> [u8; OPERATOR_SIGNATURE_LEN] {
        let mut out = [0u8; OPERATOR_SIGNATURE_LEN];
        out[..32].copy_from_slice(&self.operator.0);
        out[32..].copy_from_slice(&self.signature);
        out
    }

    /// Reads the 96 bytes of [`OperatorSignature::encode`]; does not check the signature.
    pub fn decode(bytes: &[u8]) -> Result<Self, LedgerError> {
        let mut r = Reader { bytes, at: 0 };
        let signature = Self::read(&mut r)?;
        if r.remaining() != 0 {
            return Err(LedgerError::Malformed(format!(
                "{} bytes for an operator signature, expected {OPERATOR_SIGNATURE_LEN}",
                bytes.len()
            )));
        }
        Ok(signature)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, LedgerError> {
        Ok(Self {
            operator: Address(r.array()?),
            signature: r.array()?,
        })
    }

    /// Whether the signature verifies over `body` under the operator's key.
    pub fn verifies(&self, body: &[u8]) -> bool {
        VerifyingKey::from_bytes(&self.operator.0).is_ok_and(|key| {
            key.verify_strict(body, &Signature::from_bytes(&self.signature))
                .is_ok()
        })
    }
}

/// What a version 4 entry carries besides its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    /// The operator set this entry declares: it governs the next entry.
    pub declared: OperatorSet,
    /// The operators' signatures over the body, sorted by key.
    pub signatures: Vec<OperatorSignature>,
}

impl Quorum {
    /// Appends `count ‖ (key, signature)…`.
    pub(crate) fn encode_signatures(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.signatures.len() as u32).to_le_bytes());
        for signature in &self.signatures {
            out.extend_from_slice(&signature.encode());
        }
    }

    /// Each signature on its own: signers strictly increasing, each signature valid over
    /// `body`. Says nothing of membership or threshold.
    pub(crate) fn check_signatures(&self, body: &[u8]) -> Result<(), LedgerError> {
        check_signer_order(&self.signatures)?;
        match self.signatures.iter().find(|s| !s.verifies(body)) {
            Some(bad) => Err(LedgerError::BadOperatorSignature {
                signer: bad.operator.to_string(),
            }),
            None => Ok(()),
        }
    }
}

/// Signers strictly increasing: a repeated signer is [`LedgerError::DuplicateSigner`].
fn check_signer_order(signatures: &[OperatorSignature]) -> Result<(), LedgerError> {
    for w in signatures.windows(2) {
        if w[0].operator == w[1].operator {
            return Err(LedgerError::DuplicateSigner {
                signer: w[0].operator.to_string(),
            });
        }
        if w[0].operator > w[1].operator {
            return Err(LedgerError::Malformed(
                "signatures not sorted by key".into(),
            ));
        }
    }
    Ok(())
}

/// Reads `count ‖ (key, signature)…`, signers strictly increasing.
pub(crate) fn decode_signatures(r: &mut Reader<'_>) -> Result<Vec<OperatorSignature>, LedgerError> {
    let count = r.count("signatures", OPERATOR_SIGNATURE_LEN, MAX_SIGNATURES)?;
    let signatures = (0..count)
        .map(|_| OperatorSignature::read(r))
        .collect::<Result<Vec<_>, _>>()?;
    check_signer_order(&signatures)?;
    Ok(signatures)
}

/// The unsigned body of a version 4 entry: what each operator signs, and what an entry is
/// assembled from once a quorum has signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryBody {
    manifest: Manifest,
    merkle_root: [u8; 32],
    declared: OperatorSet,
    bytes: Vec<u8>,
}

impl Manifest {
    /// The body of a version 4 entry declaring `declared` as the set that governs the next
    /// entry. The manifest must pin an archive and its shares must be consistent (sorted,
    /// summing to the pools), so that no operator signs an entry that cannot verify; a missing
    /// journal pin is filled with the empty pin, as [`Manifest::sign`] does.
    pub fn quorum_body(mut self, declared: OperatorSet) -> Result<EntryBody, LedgerError> {
        if self.archive.is_none() {
            return Err(LedgerError::Malformed(
                "a version 4 entry pins the report archive".into(),
            ));
        }
        self.journal.get_or_insert_with(Default::default);
        let merkle_root = crate::shares_root(&self.shares);
        crate::check_content(&self, &merkle_root)?;
        let mut bytes = self.encode_content(MAGIC_V4, &merkle_root);
        declared.encode(&mut bytes);
        Ok(EntryBody {
            manifest: self,
            merkle_root,
            declared,
            bytes,
        })
    }
}

impl EntryBody {
    /// The bytes every operator signs.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The entry's hash, the same whichever operators sign.
    pub fn hash(&self) -> [u8; 32] {
        entry_hash(&self.bytes)
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The set this entry declares for the next one.
    pub fn declared(&self) -> &OperatorSet {
        &self.declared
    }

    /// One operator's signature over the body.
    pub fn sign(&self, key: &Keypair) -> OperatorSignature {
        OperatorSignature {
            operator: key.address(),
            signature: key.sign(&self.bytes),
        }
    }

    /// The signed entry: `signatures` (in any order) must be a quorum under `governor`, every
    /// one valid and by a member (or the handing-over oracle); any other is an error naming
    /// its signer, never dropped.
    pub fn assemble(
        self,
        governor: &Governor,
        signatures: impl IntoIterator<Item = OperatorSignature>,
    ) -> Result<LedgerEntry, LedgerError> {
        let mut signatures: Vec<OperatorSignature> = signatures.into_iter().collect();
        signatures.sort_by_key(|s| s.operator);
        governor.check(self.manifest.epoch, &self.bytes, &signatures)?;
        Ok(LedgerEntry {
            manifest: self.manifest,
            merkle_root: self.merkle_root,
            oracle_key: [0; 32],
            signature: [0; 64],
            quorum: Some(Quorum {
                declared: self.declared,
                signatures,
            }),
        })
    }
}

/// `SHA-256(ENTRY_HASH_DOMAIN ‖ body)`.
pub(crate) fn entry_hash(body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(ENTRY_HASH_DOMAIN);
    hasher.update(body);
    hasher.finalize().into()
}

/// Who must sign a version 4 entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Governor {
    /// The set of which `threshold` members must sign.
    pub set: OperatorSet,
    /// The single oracle that must also sign when the entry takes over from it.
    pub handover: Option<Address>,
}

impl Governor {
    /// The governor of a version 4 entry that declares `declared` and follows `prev`: the set
    /// `prev` declares; for the first version 4 entry, its own set (and, after a single-oracle
    /// entry, that oracle too).
    pub fn for_entry(prev: Option<&LedgerEntry>, declared: &OperatorSet) -> Self {
        match prev {
            None => Self {
                set: declared.clone(),
                handover: None,
            },
            Some(LedgerEntry {
                quorum: Some(quorum),
                ..
            }) => Self {
                set: quorum.declared.clone(),
                handover: None,
            },
            Some(single) => Self {
                set: declared.clone(),
                handover: Some(single.signer()),
            },
        }
    }

    /// Checks `signatures` (sorted by signer) over `body`: each valid, by a member or the
    /// handing-over oracle, once; the oracle among them if it must be; at least `threshold`
    /// by members. Returns the signers.
    pub fn check(
        &self,
        epoch: u64,
        body: &[u8],
        signatures: &[OperatorSignature],
    ) -> Result<Vec<Address>, LedgerError> {
        check_signer_order(signatures)?;
        let mut valid = 0u32;
        for signature in signatures {
            let signer = signature.operator;
            let member = self.set.contains(&signer);
            if !member && self.handover != Some(signer) {
                return Err(LedgerError::UnknownSigner {
                    epoch,
                    signer: signer.to_string(),
                });
            }
            if !signature.verifies(body) {
                return Err(LedgerError::BadOperatorSignature {
                    signer: signer.to_string(),
                });
            }
            valid += u32::from(member);
        }
        if let Some(oracle) = self.handover {
            if !signatures.iter().any(|s| s.operator == oracle) {
                return Err(LedgerError::MissingHandover {
                    oracle: oracle.to_string(),
                });
            }
        }
        if valid < self.set.threshold {
            return Err(LedgerError::NoQuorum {
                epoch,
                valid,
                threshold: self.set.threshold,
            });
        }
        Ok(signatures.iter().map(|s| s.operator).collect())
    }
}

/// What a verifier trusts before reading a ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// The single oracle of the version 1-3 entries (default: the first entry's signer).
    pub oracle: Option<Address>,
    /// The genesis operator set: the set the first version 4 entry must declare (default: the
    /// set it declares, reported as [`SetChange::Genesis`] with `pinned: false`).
    pub genesis: Option<OperatorSet>,
}

/// How a version 4 entry's declared set relates to the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetChange {
    /// The first version 4 entry: its set is the genesis set.
    Genesis {
        /// Whether the verifier pinned it ([`Trust::genesis`]) rather than taking it from the
        /// entry.
        pinned: bool,
        /// The single oracle it took over from, if any.
        handover: Option<Address>,
    },
    /// The same set as the previous entry's.
    Unchanged,
    /// Another set or threshold: it governs the entries after this one.
    Changed,
}

/// Who signed an entry, as the verifier found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// A version 1-3 entry, signed by the single oracle.
    Oracle(Address),
    /// A version 4 entry, signed by a quorum.
    Quorum {
        /// Every signer, sorted (the handing-over oracle included).
        signers: Vec<Address>,
        /// The set that governed it.
        governing: OperatorSet,
        /// The set it declares for the next entry.
        declared: OperatorSet,
        /// How the declared set relates to the one before.
        change: SetChange,
    },
}

/// One verified entry's epoch and signers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryAuthority {
    /// The entry's epoch.
    pub epoch: u64,
    /// Who signed it.
    pub signed: Signed,
}

/// Verifies a chain of entries under `trust`: each entry's content, epochs increasing, each
/// carrying its predecessor's hash (the first carries zeros), versions 1-3 signed by the one
/// oracle, and version 4 entries by the quorum the rules of this module name.
pub fn verify_chain_trusting(
    entries: &[LedgerEntry],
    trust: &Trust,
) -> Result<LedgerSummary, BadEntry> {
    let mut oracle = trust.oracle;
    let mut authorities = Vec::with_capacity(entries.len());
    let mut prev: Option<&LedgerEntry> = None;
    for (index, entry) in entries.iter().enumerate() {
        let fail = |error| BadEntry {
            index,
            epoch: Some(entry.manifest.epoch),
            error,
        };
        let signed = match &entry.quorum {
            None => Signed::Oracle(admit_single(entry, prev, &mut oracle).map_err(fail)?),
            Some(quorum) => admit_quorum(entry, quorum, prev, trust).map_err(fail)?,
        };
        entry.check_content().map_err(fail)?;
        check_link(entry, prev).map_err(fail)?;
        authorities.push(EntryAuthority {
            epoch: entry.manifest.epoch,
            signed,
        });
        prev = Some(entry);
    }
    let operators = prev
        .and_then(|e| e.quorum.as_ref())
        .map(|q| q.declared.clone());
    Ok(LedgerSummary {
        entries: entries.len(),
        oracle: authorities.iter().find_map(|a| match a.signed {
            Signed::Oracle(oracle) => Some(oracle),
            Signed::Quorum { .. } => None,
        }),
        head: prev.map(|e| (e.manifest.epoch, e.hash())),
        operators,
        authorities,
    })
}

/// A version 1-3 entry: signed by the expected oracle (the first signer when none is), and
/// not after a quorum entry.
fn admit_single(
    entry: &LedgerEntry,
    prev: Option<&LedgerEntry>,
    oracle: &mut Option<Address>,
) -> Result<Address, LedgerError> {
    if prev.is_some_and(|p| p.quorum.is_some()) {
        return Err(LedgerError::SingleOracleAfterQuorum);
    }
    entry.check_oracle_signature()?;
    let signer = entry.signer();
    match *oracle {
        Some(expected) if expected != signer => Err(LedgerError::WrongSigner {
            expected: expected.to_string(),
            found: signer.to_string(),
        }),
        _ => {
            *oracle = Some(signer);
            Ok(signer)
        }
    }
}

/// A version 4 entry: the pinned genesis set if it is the first, and a quorum of its governor.
fn admit_quorum(
    entry: &LedgerEntry,
    quorum: &Quorum,
    prev: Option<&LedgerEntry>,
    trust: &Trust,
) -> Result<Signed, LedgerError> {
    let previous_set = prev.and_then(|p| p.quorum.as_ref()).map(|q| &q.declared);
    let governor = Governor::for_entry(prev, &quorum.declared);
    let change = match previous_set {
        None => {
            if let Some(pinned) = trust.genesis.as_ref() {
                if *pinned != quorum.declared {
                    return Err(LedgerError::GenesisMismatch {
                        pinned: pinned.to_string(),
                        found: quorum.declared.to_string(),
                    });
                }
            }
            SetChange::Genesis {
                pinned: trust.genesis.is_some(),
                handover: governor.handover,
            }
        }
        Some(set) if *set == quorum.declared => SetChange::Unchanged,
        Some(_) => SetChange::Changed,
    };
    let signers = governor.check(entry.manifest.epoch, &entry.body(), &quorum.signatures)?;
    Ok(Signed::Quorum {
        signers,
        governing: governor.set,
        declared: quorum.declared.clone(),
        change,
    })
}

/// The previous hash and the epoch order.
fn check_link(entry: &LedgerEntry, prev: Option<&LedgerEntry>) -> Result<(), LedgerError> {
    let prev_hash = prev.map_or([0u8; 32], LedgerEntry::hash);
    if entry.manifest.prev_hash != prev_hash {
        return Err(LedgerError::BrokenChain);
    }
    if let Some(p) = prev {
        if entry.manifest.epoch <= p.manifest.epoch {
            return Err(LedgerError::EpochOrder {
                epoch: entry.manifest.epoch,
                previous: p.manifest.epoch,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{file, verify_chain, Share};
    use proptest::prelude::*;

    fn key(i: u64) -> Keypair {
        Keypair::from_seed(50, i)
    }

    /// A genesis entry of `n` operators, threshold `t`, signed by the operators `signers`
    /// (indices), paying `paid` hotspots.
    fn genesis(n: u64, t: u32, signers: &[u64], paid: u64) -> LedgerEntry {
        let shares: Vec<Share> = {
            let mut s: Vec<Share> = (0..paid)
                .map(|i| Share {
                    hotspot: Keypair::from_seed(51, i).address(),
                    beacon_amount: 1,
                    witness_amount: 2,
                    total: 3,
                })
                .collect();
            s.sort_by_key(|s| s.hotspot);
            s
        };
        let manifest = Manifest {
            epoch: 7,
            start_ms: 0,
            end_ms: 10,
            emission: 3 * paid,
            beacon_pool: paid,
            witness_pool: 2 * paid,
            undistributed: 0,
            inputs_digest: [1; 32],
            journal: None,
            archive: Some([2; 32]),
            prev_hash: [0; 32],
            shares,
        };
        let set = OperatorSet::new(t, (0..n).map(|i| key(i).address()).collect()).unwrap();
        let body = manifest.quorum_body(set.clone()).unwrap();
        let signatures: Vec<_> = signers.iter().map(|&i| body.sign(&key(i))).collect();
        body.assemble(&Governor::for_entry(None, &set), signatures)
            .unwrap()
    }

    /// Where the declared set starts in an encoded entry of `n` operators and `s` signatures.
    fn set_at(bytes: &[u8], n: usize, s: usize) -> usize {
        bytes.len() - 4 - s * OPERATOR_SIGNATURE_LEN - 8 - 32 * n
    }

    fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn decode_refuses_every_truncation_and_trailing_bytes() {
        let entry = genesis(3, 2, &[0, 2], 2);
        let bytes = entry.encode();
        assert_eq!(&bytes[..8], MAGIC_V4);
        assert_eq!(LedgerEntry::decode(&bytes).unwrap(), entry);
        for len in 0..bytes.len() {
            assert!(LedgerEntry::decode(&bytes[..len]).is_err(), "{len} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            LedgerEntry::decode(&longer),
            Err(LedgerError::Malformed(_))
        ));
    }

    #[test]
    fn decode_refuses_bad_operator_sets() {
        let bytes = genesis(3, 2, &[0, 1], 1).encode();
        let at = set_at(&bytes, 3, 2);
        let decode_with = |change: &dyn Fn(&mut Vec<u8>)| {
            let mut b = bytes.clone();
            change(&mut b);
            LedgerEntry::decode(&b)
        };
        for threshold in [0, 4] {
            let err = decode_with(&|b| put_u32(b, at, threshold)).unwrap_err();
            assert!(matches!(err, LedgerError::BadOperatorSet(_)), "{err}");
        }
        for count in [MAX_OPERATORS + 1, u32::MAX] {
            let err = decode_with(&|b| put_u32(b, at + 4, count)).unwrap_err();
            assert!(matches!(err, LedgerError::Malformed(_)), "{count}: {err}");
        }
        assert!(decode_with(&|b| put_u32(b, at + 4, 4)).is_err());
        assert!(decode_with(&|b| put_u32(b, at + 4, 2)).is_err());
        let keys = at + 8;
        let err = decode_with(&|b| {
            let (first, second) = (
                b[keys..keys + 32].to_vec(),
                b[keys + 32..keys + 64].to_vec(),
            );
            b[keys..keys + 32].copy_from_slice(&second);
            b[keys + 32..keys + 64].copy_from_slice(&first);
        })
        .unwrap_err();
        assert_eq!(
            err,
            LedgerError::BadOperatorSet("operators not sorted by key".into())
        );
        let err = decode_with(&|b| b.copy_within(keys..keys + 32, keys + 32)).unwrap_err();
        assert!(
            matches!(&err, LedgerError::BadOperatorSet(m) if m.contains("twice")),
            "{err}"
        );

        let mut identity = [0u8; 32];
        identity[0] = 1;
        let err = OperatorSet::new(1, vec![Address(identity), key(0).address()]).unwrap_err();
        assert!(matches!(&err, LedgerError::BadOperatorSet(m) if m.contains("not a valid")));
        let too_many = (0..=u64::from(MAX_OPERATORS))
            .map(|i| key(i).address())
            .collect();
        assert!(OperatorSet::new(1, too_many).is_err());
    }

    #[test]
    fn decode_refuses_bad_signer_lists() {
        let entry = genesis(3, 2, &[0, 1, 2], 1);
        let bytes = entry.encode();
        let sigs = bytes.len() - 3 * OPERATOR_SIGNATURE_LEN;
        let decode_with = |change: &dyn Fn(&mut Vec<u8>)| {
            let mut b = bytes.clone();
            change(&mut b);
            LedgerEntry::decode(&b)
        };
        for count in [MAX_SIGNATURES + 1, u32::MAX, 4] {
            let err = decode_with(&|b| put_u32(b, sigs - 4, count)).unwrap_err();
            assert!(matches!(err, LedgerError::Malformed(_)), "{count}: {err}");
        }
        let pair = OPERATOR_SIGNATURE_LEN;
        let err = decode_with(&|b| {
            let first = b[sigs..sigs + pair].to_vec();
            b.copy_within(sigs + pair..sigs + 2 * pair, sigs);
            b[sigs + pair..sigs + 2 * pair].copy_from_slice(&first);
        })
        .unwrap_err();
        assert_eq!(
            err,
            LedgerError::Malformed("signatures not sorted by key".into())
        );
        let err = decode_with(&|b| b.copy_within(sigs..sigs + pair, sigs + pair)).unwrap_err();
        assert_eq!(
            err,
            LedgerError::DuplicateSigner {
                signer: entry.quorum.as_ref().unwrap().signatures[0]
                    .operator
                    .to_string()
            }
        );
        // A file of such records names the record.
        let mut broken = bytes.clone();
        put_u32(&mut broken, sigs - 4, 4);
        let mut records = file::encode(std::slice::from_ref(&entry));
        records.extend_from_slice(&(broken.len() as u32).to_le_bytes());
        records.extend_from_slice(&broken);
        assert_eq!(file::parse(&records).unwrap_err().index, 1);
    }

    #[test]
    fn a_body_needs_an_archive_pin_and_consistent_shares() {
        let entry = genesis(2, 1, &[0], 2);
        let set = entry.quorum.unwrap().declared;
        let mut no_archive = entry.manifest.clone();
        no_archive.archive = None;
        assert!(matches!(
            no_archive.quorum_body(set.clone()),
            Err(LedgerError::Malformed(_))
        ));
        let mut overpaid = entry.manifest;
        overpaid.shares[0].witness_amount += 1;
        overpaid.shares[0].total += 1;
        assert!(matches!(
            overpaid.quorum_body(set),
            Err(LedgerError::Amounts(_))
        ));
    }

    #[test]
    fn an_operator_signature_round_trips_through_its_96_bytes() {
        let entry = genesis(2, 1, &[1], 0);
        let signature = entry.quorum.as_ref().unwrap().signatures[0];
        let bytes = signature.encode();
        assert_eq!(OperatorSignature::decode(&bytes), Ok(signature));
        assert!(signature.verifies(&entry.body()));
        assert!(OperatorSignature::decode(&bytes[..95]).is_err());
        assert!(OperatorSignature::decode(&[bytes.as_slice(), &[0]].concat()).is_err());
        let mut other = signature;
        other.signature[0] ^= 1;
        assert!(!other.verifies(&entry.body()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn entries_round_trip_and_every_flipped_bit_is_caught(
            n in 1u64..6,
            t_pick in any::<u32>(),
            signer_mask in any::<u8>(),
            paid in 0u64..4,
            flip in any::<usize>(),
            bit in 0u8..8,
        ) {
            let t = t_pick % n as u32 + 1;
            let mut signers: Vec<u64> = (0..n).filter(|i| signer_mask & (1 << i) != 0).collect();
            for i in 0..n {
                if signers.len() < t as usize && !signers.contains(&i) {
                    signers.push(i);
                }
            }
            let entry = genesis(n, t, &signers, paid);
            let bytes = entry.encode();
            prop_assert_eq!(LedgerEntry::decode(&bytes), Ok(entry.clone()));
            prop_assert_eq!(entry.check(), Ok(()));
            let summary = verify_chain(std::slice::from_ref(&entry), None).unwrap();
            prop_assert_eq!(summary.head, Some((7, entry.hash())));
            prop_assert_eq!(entry.hash(), entry_hash(&entry.body()));

            let mut flipped = bytes.clone();
            let at = flip % flipped.len();
            flipped[at] ^= 1 << bit;
            if let Ok(decoded) = LedgerEntry::decode(&flipped) {
                prop_assert!(verify_chain(&[decoded], None).is_err(), "byte {} bit {}", at, bit);
            }
        }

        #[test]
        fn any_bytes_after_the_magic_decode_or_refuse_without_panicking(
            tail in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let bytes = [MAGIC_V4.as_slice(), &tail].concat();
            if let Ok(entry) = LedgerEntry::decode(&bytes) {
                prop_assert_eq!(entry.encode(), bytes);
            }
        }
    }
}
