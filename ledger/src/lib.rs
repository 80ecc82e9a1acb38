//! The reward ledger: every closed epoch becomes a signed, hash-chained manifest that anyone can
//! verify offline with the oracle's address alone, or, once operators sign it (version 4), with
//! the genesis operator set alone.
//!
//! # Encoding (versions 1, 2 and 3: one oracle)
//!
//! All integers are unsigned little-endian. An entry is
//!
//! | field | bytes |
//! |---|---|
//! | magic `LPOCLDG1` (version 1), `LPOCLDG2` (version 2) or `LPOCLDG3` (version 3) | 8 |
//! | epoch | 8 |
//! | start_ms, end_ms (the epoch's time range `[start, end)`) | 8 + 8 |
//! | emission, beacon_pool, witness_pool, undistributed | 4 × 8 |
//! | inputs digest ([`inputs_digest`]) | 32 |
//! | versions 2 and 3: the data-credit journal's digest ([`journal_digest`]), credits and fees in the epoch | 32 + 8 + 8 |
//! | version 3 only: the SHA-256 of the epoch's report archive manifest (everything the close decided from) | 32 |
//! | previous entry's hash (zeros for the first entry) | 32 |
//! | Merkle root over the shares ([`merkle`]) | 32 |
//! | share count `n` | 4 |
//! | `n` shares: public key (32), beacon_amount, witness_amount, total (8 each) | n × 56 |
//! | oracle public key | 32 |
//! | ed25519 signature over every byte above | 64 |
//!
//! Shares are sorted by public key, strictly increasing. A share's Merkle leaf is its 56 bytes.
//! An entry's hash is `SHA-256("lorapoc-ledger-entry-v1" ‖ entry bytes)`, signature included.
//! A ledger file is the concatenation of `u32 length ‖ entry` records, oldest first; the oracle
//! appends to `ledger.bin` in its data directory and fsyncs after each entry.
//!
//! # Encoding (version 4: a quorum of operators)
//!
//! A version 4 entry is signed by `t` of `n` oracle operators ([`quorum`]). Its body is the
//! version 3 entry up to and including its shares, under its own magic, followed by the operator
//! set that governs the NEXT entry; the operators' signatures follow the body:
//!
//! | field | bytes |
//! |---|---|
//! | magic `LPOCLDG4` | 8 |
//! | every field of a version 3 entry from the epoch to the shares (journal and archive pins included) | as above |
//! | threshold `t` of the set it declares | 4 |
//! | operator count `k`, then their public keys, strictly increasing (`1 <= t <= k <= 64`) | 4 + k × 32 |
//! | signature count `s` (at most 65), then `s` pairs sorted by key, strictly increasing: operator public key (32), ed25519 signature over the body (64) | 4 + s × 96 |
//!
//! The body is every byte before the signature count; each operator signs the same body. The
//! entry's hash is `SHA-256("lorapoc-ledger-entry-v4" ‖ body)`: it does not depend on which
//! operators signed, so any `t` of them make the same chain. An entry counts only with `t`
//! valid signatures of the set the PREVIOUS entry declares (the first version 4 entry: its own
//! set, the genesis set; after a single-oracle entry, that oracle signs too, handing over);
//! [`verify_chain`] checks it (see [`quorum`] for every rule).

pub mod cli;
pub mod file;
pub mod merkle;
pub mod quorum;

pub use file::{encode as encode_file, read_ledger, FileError, LedgerFile, LEDGER_FILE};
pub use poc_keys::{Address, Keypair};
pub use quorum::{
    verify_chain_trusting, EntryAuthority, EntryBody, Governor, OperatorSet, OperatorSignature,
    Quorum, SetChange, Signed, Trust, MAX_OPERATORS, MAX_SIGNATURES,
};

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// First bytes of a version 1 entry (no data-credit journal).
pub const MAGIC: &[u8; 8] = b"LPOCLDG1";
/// First bytes of a version 2 entry (with the data-credit journal's pin).
pub const MAGIC_V2: &[u8; 8] = b"LPOCLDG2";
/// First bytes of a version 3 entry (with the journal's pin and the report archive's pin).
pub const MAGIC_V3: &[u8; 8] = b"LPOCLDG3";
/// First bytes of a version 4 entry (signed by a quorum of operators, declaring the next set).
pub const MAGIC_V4: &[u8; 8] = b"LPOCLDG4";
/// Bytes of the archive pin of a version 3 entry.
pub const ARCHIVE_PIN_LEN: usize = 32;
/// Bytes of the journal pin of a version 2 or 3 entry.
pub const JOURNAL_PIN_LEN: usize = 32 + 8 + 8;
/// Bytes of one encoded share.
pub const SHARE_LEN: usize = 56;
/// Bytes of an entry before its shares.
pub const HEADER_LEN: usize = 8 + 8 * 7 + 32 * 3 + 4;
/// Bytes after the shares (oracle key and signature).
pub const TRAILER_LEN: usize = 32 + 64;
/// Most shares an entry may carry (bounds what a decoder allocates).
pub const MAX_SHARES: u32 = 10_000_000;

/// Why a ledger or one of its entries is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The bytes are not a well-formed entry or file.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The signature does not verify under the entry's oracle key.
    #[error("bad signature")]
    BadSignature,
    /// The entry is signed by another key than the expected oracle.
    #[error("signed by {found}, expected {expected}")]
    WrongSigner {
        /// The expected oracle address.
        expected: String,
        /// The signer found.
        found: String,
    },
    /// The previous-hash field does not match the previous entry.
    #[error("broken chain: previous hash does not match")]
    BrokenChain,
    /// Epochs do not strictly increase.
    #[error("epoch {epoch} does not follow epoch {previous}")]
    EpochOrder {
        /// This entry's epoch.
        epoch: u64,
        /// The previous entry's epoch.
        previous: u64,
    },
    /// The Merkle root does not match the shares.
    #[error("Merkle root does not match the shares")]
    BadMerkleRoot,
    /// Shares out of order, inconsistent or not summing to the emission.
    #[error("inconsistent amounts: {0}")]
    Amounts(String),
    /// An operator set that breaks the rules (threshold, size, order, keys).
    #[error("bad operator set: {0}")]
    BadOperatorSet(String),
    /// Fewer valid signatures of the governing set than its threshold.
    #[error("no quorum for epoch {epoch}: {valid} valid signatures of the governing set, threshold {threshold}")]
    NoQuorum {
        /// The entry's epoch.
        epoch: u64,
        /// Valid signatures by members of the governing set.
        valid: u32,
        /// Signatures the governing set needs.
        threshold: u32,
    },
    /// A signature by a key outside the set that governs the entry.
    #[error("epoch {epoch}: signed by {signer}, who is not an operator of the governing set")]
    UnknownSigner {
        /// The entry's epoch.
        epoch: u64,
        /// The outsider's address.
        signer: String,
    },
    /// The same operator signs twice.
    #[error("{signer} signs twice")]
    DuplicateSigner {
        /// The operator's address.
        signer: String,
    },
    /// An operator's signature does not verify over the entry's body.
    #[error("the signature of {signer} does not verify")]
    BadOperatorSignature {
        /// The operator's address.
        signer: String,
    },
    /// The first quorum entry after a single-oracle entry lacks that oracle's signature.
    #[error(
        "the first quorum entry is not signed by the single oracle {oracle} it takes over from"
    )]
    MissingHandover {
        /// The oracle that signed the entries before.
        oracle: String,
    },
    /// A single-oracle (version 1-3) entry after a quorum entry.
    #[error("a single-oracle entry cannot follow a quorum entry")]
    SingleOracleAfterQuorum,
    /// The first quorum entry declares another set than the one the verifier pinned.
    #[error("genesis operator set {found} is not the pinned set {pinned}")]
    GenesisMismatch {
        /// The set the verifier trusts.
        pinned: String,
        /// The set the entry declares.
        found: String,
    },
}

/// One hotspot's share of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The hotspot's public key.
    pub hotspot: Address,
    /// Share of the beacon pool.
    pub beacon_amount: u64,
    /// Share of the witness pool.
    pub witness_amount: u64,
    /// Sum of both.
    pub total: u64,
}

impl Share {
    /// The share's canonical 56 bytes, which are also its Merkle leaf.
    pub fn encode(&self) -> [u8; SHARE_LEN] {
        let mut out = [0u8; SHARE_LEN];
        out[..32].copy_from_slice(&self.hotspot.0);
        out[32..40].copy_from_slice(&self.beacon_amount.to_le_bytes());
        out[40..48].copy_from_slice(&self.witness_amount.to_le_bytes());
        out[48..56].copy_from_slice(&self.total.to_le_bytes());
        out
    }

    /// The share's Merkle leaf hash.
    pub fn leaf_hash(&self) -> [u8; 32] {
        merkle::leaf_hash(&self.encode())
    }
}

/// The unsigned content of a ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Epoch number.
    pub epoch: u64,
    /// First millisecond of the epoch.
    pub start_ms: u64,
    /// First millisecond after the epoch.
    pub end_ms: u64,
    /// The epoch's emission.
    pub emission: u64,
    /// Beacon pool.
    pub beacon_pool: u64,
    /// Witness pool.
    pub witness_pool: u64,
    /// What was not given out.
    pub undistributed: u64,
    /// SHA-256 of the epoch's inputs.
    pub inputs_digest: [u8; 32],
    /// The epoch's data-credit journal (version 2 and 3 entries; `None` in version 1).
    pub journal: Option<JournalPin>,
    /// SHA-256 of the epoch's report archive manifest (version 3 entries; `None` before). A
    /// version 3 entry always carries a journal pin: signing one without fills in an empty pin.
    pub archive: Option<[u8; 32]>,
    /// Hash of the previous entry, zeros for the first.
    pub prev_hash: [u8; 32],
    /// Shares sorted by public key.
    pub shares: Vec<Share>,
}

/// A signed ledger entry: by the single oracle (versions 1-3) or by a quorum of operators
/// (version 4, `quorum` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The content.
    pub manifest: Manifest,
    /// Merkle root over the shares, as carried.
    pub merkle_root: [u8; 32],
    /// The signing oracle's public key (zeros in a version 4 entry, which `quorum` signs).
    pub oracle_key: [u8; 32],
    /// ed25519 signature over the encoding up to and including `oracle_key` (zeros in a
    /// version 4 entry).
    pub signature: [u8; 64],
    /// A version 4 entry's operator set and signatures; `None` for versions 1-3.
    pub quorum: Option<Quorum>,
}

/// The Merkle root over shares in their order.
pub fn shares_root(shares: &[Share]) -> [u8; 32] {
    let leaves: Vec<[u8; 32]> = shares.iter().map(Share::leaf_hash).collect();
    merkle::root(&leaves)
}

/// Digest of what an epoch paid: `SHA-256("lorapoc-ledger-inputs-v2" ‖ for each beacon that
/// earned, oldest first: its report id ‖ u32 count ‖ the public keys of the witnesses paid for
/// it, sorted)`, where a report id is the 32-byte SHA-256 of the report's encoding. A witness is
/// named by its key: a beacon has at most one valid witness report per hotspot. The epoch close
/// computes it over the very selection it paid.
pub fn inputs_digest(beacons: &[([u8; 32], Vec<[u8; 32]>)]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"lorapoc-ledger-inputs-v2");
    for (beacon, witnesses) in beacons {
        let mut witnesses = witnesses.clone();
        witnesses.sort();
        hasher.update(beacon);
        hasher.update((witnesses.len() as u32).to_le_bytes());
        for w in &witnesses {
            hasher.update(w);
        }
    }
    hasher.finalize().into()
}

/// What an epoch's data-credit journal held: the credits added and the fees paid in the epoch,
/// and the digest of its entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalPin {
    /// SHA-256 of the entries ([`journal_digest`]).
    #[serde(with = "hex_array")]
    pub digest: [u8; 32],
    /// Data credits added to balances.
    pub credits_dc: u64,
    /// Data credits paid in fees.
    pub fees_dc: u64,
}

mod hex_array {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        hex::decode(&text)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("not 32 bytes of hex"))
    }
}

/// One entry of the data-credit journal, as [`journal_digest`] hashes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalItem<'a> {
    /// The owner whose balance changed.
    pub owner: [u8; 32],
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Positive for a credit, negative for a fee.
    pub amount: i64,
    /// `credit`, `onboarding` or `assertion`.
    pub kind: &'a str,
    /// The hotspot a fee was for.
    pub hotspot: Option<[u8; 32]>,
    /// Free text.
    pub memo: &'a str,
}

/// The pin of an epoch's journal entries, in journal order: SHA-256 over
/// `"lorapoc-dc-journal-v1"` and, per entry, owner (32) ‖ at_ms (8) ‖ amount (8, two's
/// complement) ‖ kind length (4) ‖ kind ‖ hotspot (32, zeros for none) ‖ memo length (4) ‖ memo.
pub fn journal_digest<'a>(items: impl IntoIterator<Item = JournalItem<'a>>) -> JournalPin {
    let mut hasher = Sha256::new();
    hasher.update(b"lorapoc-dc-journal-v1");
    let mut pin = JournalPin::default();
    for item in items {
        hasher.update(item.owner);
        hasher.update(item.at_ms.to_le_bytes());
        hasher.update(item.amount.to_le_bytes());
        hasher.update((item.kind.len() as u32).to_le_bytes());
        hasher.update(item.kind.as_bytes());
        hasher.update(item.hotspot.unwrap_or([0; 32]));
        hasher.update((item.memo.len() as u32).to_le_bytes());
        hasher.update(item.memo.as_bytes());
        if item.amount >= 0 {
            pin.credits_dc = pin.credits_dc.saturating_add(item.amount.unsigned_abs());
        } else {
            pin.fees_dc = pin.fees_dc.saturating_add(item.amount.unsigned_abs());
        }
    }
    pin.digest = hasher.finalize().into();
    pin
}

impl Manifest {
    /// The single-oracle version this manifest encodes as: 3 with an archive pin, 2 with only
    /// a journal pin, else 1.
    fn single_oracle_magic(&self) -> &'static [u8; 8] {
        match (&self.archive, &self.journal) {
            (Some(_), _) => MAGIC_V3,
            (None, Some(_)) => MAGIC_V2,
            (None, None) => MAGIC,
        }
    }

    /// Every field from the magic to the last share. Under `MAGIC_V4` both pins are written
    /// (zeros for a missing one; [`Manifest::quorum_body`] refuses a manifest without them).
    pub(crate) fn encode_content(&self, magic: &[u8; 8], merkle_root: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER_LEN
                + JOURNAL_PIN_LEN
                + ARCHIVE_PIN_LEN
                + self.shares.len() * SHARE_LEN
                + TRAILER_LEN,
        );
        out.extend_from_slice(magic);
        for v in [
            self.epoch,
            self.start_ms,
            self.end_ms,
            self.emission,
            self.beacon_pool,
            self.witness_pool,
            self.undistributed,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.inputs_digest);
        let quorum = magic == MAGIC_V4;
        if self.journal.is_some() || quorum {
            let pin = self.journal.unwrap_or_default();
            out.extend_from_slice(&pin.digest);
            out.extend_from_slice(&pin.credits_dc.to_le_bytes());
            out.extend_from_slice(&pin.fees_dc.to_le_bytes());
        }
        if self.archive.is_some() || quorum {
            out.extend_from_slice(&self.archive.unwrap_or_default());
        }
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(merkle_root);
        out.extend_from_slice(&(self.shares.len() as u32).to_le_bytes());
        for share in &self.shares {
            out.extend_from_slice(&share.encode());
        }
        out
    }

    fn encode_unsigned(&self, merkle_root: &[u8; 32], oracle_key: &[u8; 32]) -> Vec<u8> {
        let mut out = self.encode_content(self.single_oracle_magic(), merkle_root);
        out.extend_from_slice(oracle_key);
        out
    }

    /// Signs the manifest with the oracle's key, computing its Merkle root.
    pub fn sign(mut self, key: &Keypair) -> LedgerEntry {
        if self.archive.is_some() && self.journal.is_none() {
            self.journal = Some(JournalPin::default());
        }
        let merkle_root = shares_root(&self.shares);
        let oracle_key = key.public_key();
        let signature = key.sign(&self.encode_unsigned(&merkle_root, &oracle_key));
        LedgerEntry {
            manifest: self,
            merkle_root,
            oracle_key,
            signature,
            quorum: None,
        }
    }
}

/// Reads fixed-size fields from a byte slice, failing on a short read.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], LedgerError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| LedgerError::Malformed(format!("truncated at byte {}", self.at)))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], LedgerError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, LedgerError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, LedgerError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// A count of items of `size` bytes each, refused above `max` or beyond the bytes left.
    pub(crate) fn count(
        &mut self,
        what: &str,
        size: usize,
        max: u32,
    ) -> Result<usize, LedgerError> {
        let count = self.u32()?;
        if count > max {
            return Err(LedgerError::Malformed(format!(
                "{count} {what}, at most {max}"
            )));
        }
        let count = count as usize;
        if count.saturating_mul(size) > self.remaining() {
            return Err(LedgerError::Malformed(format!(
                "{count} {what} in {} bytes",
                self.remaining()
            )));
        }
        Ok(count)
    }
}

/// Reads an entry's fields from the epoch to the last share, with the pins its version has.
fn decode_manifest(r: &mut Reader<'_>, version: u8) -> Result<(Manifest, [u8; 32]), LedgerError> {
    let epoch = r.u64()?;
    let start_ms = r.u64()?;
    let end_ms = r.u64()?;
    let emission = r.u64()?;
    let beacon_pool = r.u64()?;
    let witness_pool = r.u64()?;
    let undistributed = r.u64()?;
    let inputs_digest = r.array()?;
    let journal = if version >= 2 {
        Some(JournalPin {
            digest: r.array()?,
            credits_dc: r.u64()?,
            fees_dc: r.u64()?,
        })
    } else {
        None
    };
    let archive = if version >= 3 { Some(r.array()?) } else { None };
    let prev_hash = r.array()?;
    let merkle_root = r.array()?;
    let count = r.count("shares", SHARE_LEN, MAX_SHARES)?;
    let mut shares = Vec::with_capacity(count);
    for _ in 0..count {
        shares.push(Share {
            hotspot: Address(r.array()?),
            beacon_amount: r.u64()?,
            witness_amount: r.u64()?,
            total: r.u64()?,
        });
    }
    let manifest = Manifest {
        epoch,
        start_ms,
        end_ms,
        emission,
        beacon_pool,
        witness_pool,
        undistributed,
        inputs_digest,
        journal,
        archive,
        prev_hash,
        shares,
    };
    Ok((manifest, merkle_root))
}

impl LedgerEntry {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        match &self.quorum {
            None => {
                let mut out = self
                    .manifest
                    .encode_unsigned(&self.merkle_root, &self.oracle_key);
                out.extend_from_slice(&self.signature);
                out
            }
            Some(quorum) => {
                let mut out = self.body();
                quorum.encode_signatures(&mut out);
                out
            }
        }
    }

    /// The bytes a version 4 entry's operators sign (for versions 1-3: the bytes the oracle
    /// signs).
    pub fn body(&self) -> Vec<u8> {
        match &self.quorum {
            None => self
                .manifest
                .encode_unsigned(&self.merkle_root, &self.oracle_key),
            Some(quorum) => {
                let mut out = self.manifest.encode_content(MAGIC_V4, &self.merkle_root);
                quorum.declared.encode(&mut out);
                out
            }
        }
    }

    /// Decodes an entry; the whole slice must be one entry. Does not check the signatures.
    pub fn decode(bytes: &[u8]) -> Result<Self, LedgerError> {
        let mut r = Reader { bytes, at: 0 };
        let magic = r.take(8)?;
        let version = match magic {
            m if m == MAGIC => 1,
            m if m == MAGIC_V2 => 2,
            m if m == MAGIC_V3 => 3,
            m if m == MAGIC_V4 => 4,
            _ => return Err(LedgerError::Malformed("bad magic".into())),
        };
        let (manifest, merkle_root) = decode_manifest(&mut r, version)?;
        let (oracle_key, signature, quorum) = if version == 4 {
            let declared = OperatorSet::decode(&mut r)?;
            let signatures = quorum::decode_signatures(&mut r)?;
            let quorum = Quorum {
                declared,
                signatures,
            };
            ([0; 32], [0; 64], Some(quorum))
        } else {
            (r.array()?, r.array()?, None)
        };
        if r.remaining() != 0 {
            return Err(LedgerError::Malformed(format!(
                "{} bytes after the entry",
                r.remaining()
            )));
        }
        Ok(Self {
            manifest,
            merkle_root,
            oracle_key,
            signature,
            quorum,
        })
    }

    /// The entry's hash, which the next entry carries as its previous hash. A version 4
    /// entry's hash covers its body only, not who signed it.
    pub fn hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        match &self.quorum {
            None => {
                hasher.update(b"lorapoc-ledger-entry-v1");
                hasher.update(self.encode());
            }
            Some(_) => return quorum::entry_hash(&self.body()),
        }
        hasher.finalize().into()
    }

    /// The oracle that signed it (zeros for a version 4 entry: see [`LedgerEntry::quorum`]).
    pub fn signer(&self) -> Address {
        Address(self.oracle_key)
    }

    /// Checks the entry on its own: its signatures (the oracle's, or each operator's over the
    /// body, without asking whether the operators form a quorum: [`verify_chain`] does), Merkle
    /// root, share order and sums.
    pub fn check(&self) -> Result<(), LedgerError> {
        match &self.quorum {
            None => self.check_oracle_signature()?,
            Some(quorum) => quorum.check_signatures(&self.body())?,
        }
        self.check_content()
    }

    /// The single oracle's signature of a version 1-3 entry.
    pub(crate) fn check_oracle_signature(&self) -> Result<(), LedgerError> {
        let key =
            VerifyingKey::from_bytes(&self.oracle_key).map_err(|_| LedgerError::BadSignature)?;
        let signed = self
            .manifest
            .encode_unsigned(&self.merkle_root, &self.oracle_key);
        key.verify_strict(&signed, &Signature::from_bytes(&self.signature))
            .map_err(|_| LedgerError::BadSignature)
    }

    /// Merkle root, time range, share order and sums.
    pub(crate) fn check_content(&self) -> Result<(), LedgerError> {
        check_content(&self.manifest, &self.merkle_root)
    }

    /// The share of `hotspot` and its Merkle proof.
    pub fn claim(&self, hotspot: &Address) -> Option<Claim> {
        let shares = &self.manifest.shares;
        let index = shares
            .binary_search_by(|s| s.hotspot.0.cmp(&hotspot.0))
            .ok()?;
        let leaves: Vec<[u8; 32]> = shares.iter().map(Share::leaf_hash).collect();
        let path = merkle::proof(&leaves, index)?;
        Some(Claim {
            epoch: self.manifest.epoch,
            root: hex::encode(self.merkle_root),
            index: index as u64,
            count: shares.len() as u64,
            share: shares[index],
            path: path.iter().map(hex::encode).collect(),
        })
    }
}

/// A manifest's Merkle root, time range, share order and sums.
pub(crate) fn check_content(m: &Manifest, merkle_root: &[u8; 32]) -> Result<(), LedgerError> {
    if shares_root(&m.shares) != *merkle_root {
        return Err(LedgerError::BadMerkleRoot);
    }
    if m.start_ms >= m.end_ms {
        return Err(LedgerError::Amounts("empty time range".into()));
    }
    if m.shares
        .windows(2)
        .any(|w| w[0].hotspot.0 >= w[1].hotspot.0)
    {
        return Err(LedgerError::Amounts(
            "shares not strictly sorted by key".into(),
        ));
    }
    let mut beacon_sum: u128 = 0;
    let mut witness_sum: u128 = 0;
    for s in &m.shares {
        if u128::from(s.beacon_amount) + u128::from(s.witness_amount) != u128::from(s.total) {
            return Err(LedgerError::Amounts(format!(
                "{}: beacon + witness != total",
                s.hotspot
            )));
        }
        beacon_sum += u128::from(s.beacon_amount);
        witness_sum += u128::from(s.witness_amount);
    }
    if u128::from(m.beacon_pool) + u128::from(m.witness_pool) != u128::from(m.emission) {
        return Err(LedgerError::Amounts(
            "pools do not sum to the emission".into(),
        ));
    }
    let pool_ok = |sum: u128, pool: u64| sum == 0 || sum == u128::from(pool);
    if !pool_ok(beacon_sum, m.beacon_pool) || !pool_ok(witness_sum, m.witness_pool) {
        return Err(LedgerError::Amounts(
            "shares do not sum to their pool".into(),
        ));
    }
    if beacon_sum + witness_sum + u128::from(m.undistributed) != u128::from(m.emission) {
        return Err(LedgerError::Amounts(
            "shares and undistributed do not sum to the emission".into(),
        ));
    }
    Ok(())
}

/// A hotspot's share in an epoch with its Merkle proof: what `GET
/// /api/v1/ledger/{epoch}/proof/{address}` returns and `oracle ledger verify-claim` checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The epoch.
    pub epoch: u64,
    /// The entry's Merkle root, hex.
    pub root: String,
    /// The share's position among the sorted shares.
    pub index: u64,
    /// How many shares the entry has.
    pub count: u64,
    /// The share.
    pub share: Share,
    /// Sibling hashes from the leaf up, hex.
    pub path: Vec<String>,
}

impl Claim {
    /// Checks the claim against `root` alone.
    pub fn verify(&self, root: &[u8; 32]) -> Result<(), LedgerError> {
        let bad = |what: &str| LedgerError::Malformed(what.to_string());
        if u128::from(self.share.beacon_amount) + u128::from(self.share.witness_amount)
            != u128::from(self.share.total)
        {
            return Err(LedgerError::Amounts("beacon + witness != total".into()));
        }
        let path = self
            .path
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| bad("path entry is not 32 hex bytes"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if merkle::verify(&self.share.leaf_hash(), self.index, self.count, &path, root) {
            Ok(())
        } else {
            Err(LedgerError::BadMerkleRoot)
        }
    }
}

/// The first bad entry of a ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index} (epoch {epoch:?}): {error}")]
pub struct BadEntry {
    /// Position in the file, from 0.
    pub index: usize,
    /// The entry's epoch, when it could be read.
    pub epoch: Option<u64>,
    /// What is wrong.
    pub error: LedgerError,
}

/// What a verified ledger holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSummary {
    /// Entries.
    pub entries: usize,
    /// The single oracle that signed the version 1-3 entries (`None` when there are none).
    pub oracle: Option<Address>,
    /// The last entry's epoch and hash.
    pub head: Option<(u64, [u8; 32])>,
    /// The operator set the last entry declares, which governs the next one (`None` unless the
    /// last entry is a version 4 entry).
    pub operators: Option<OperatorSet>,
    /// Who signed each entry, in order.
    pub authorities: Vec<EntryAuthority>,
}

/// Verifies a chain of entries: each on its own ([`LedgerEntry::check`]), the version 1-3
/// entries signed by `oracle` (or by the first entry's signer when `None`), version 4 entries
/// by a quorum ([`quorum`]; the genesis set taken from the first version 4 entry, see
/// [`verify_chain_trusting`] to pin it), epochs increasing, each carrying its predecessor's
/// hash (the first carries zeros).
pub fn verify_chain(
    entries: &[LedgerEntry],
    oracle: Option<Address>,
) -> Result<LedgerSummary, BadEntry> {
    let trust = Trust {
        oracle,
        genesis: None,
    };
    verify_chain_trusting(entries, &trust)
}

/// Parses a ledger file's bytes and verifies the chain; names the first bad entry.
pub fn verify_bytes(bytes: &[u8], oracle: Option<Address>) -> Result<LedgerSummary, BadEntry> {
    let entries = file::parse(bytes)?;
    verify_chain(&entries, oracle)
}

/// Parses a ledger file's bytes and verifies the chain under `trust`.
pub fn verify_bytes_trusting(bytes: &[u8], trust: &Trust) -> Result<LedgerSummary, BadEntry> {
    let entries = file::parse(bytes)?;
    verify_chain_trusting(&entries, trust)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(epoch: u64, prev_hash: [u8; 32], n: u8) -> Manifest {
        let mut shares: Vec<Share> = (0..n)
            .map(|i| Share {
                hotspot: Keypair::from_seed(7, u64::from(i)).address(),
                beacon_amount: 100,
                witness_amount: 300,
                total: 400,
            })
            .collect();
        shares.sort_by_key(|s| s.hotspot.0);
        Manifest {
            epoch,
            start_ms: epoch * 1000,
            end_ms: epoch * 1000 + 1000,
            emission: 400 * u64::from(n) + 5,
            beacon_pool: 100 * u64::from(n) + 1,
            witness_pool: 300 * u64::from(n) + 4,
            undistributed: 5,
            inputs_digest: [9; 32],
            journal: None,
            archive: None,
            prev_hash,
            shares,
        }
    }

    #[test]
    fn a_journal_pin_makes_a_version_2_entry_that_round_trips() {
        let key = Keypair::from_seed(1, 0);
        let item = |amount: i64, kind: &'static str| JournalItem {
            owner: [3; 32],
            at_ms: 5,
            amount,
            kind,
            hotspot: (amount < 0).then_some([4; 32]),
            memo: "",
        };
        let pin = journal_digest([item(100, "credit"), item(-40, "onboarding")]);
        assert_eq!((pin.credits_dc, pin.fees_dc), (100, 40));
        let reordered = journal_digest([item(-40, "onboarding"), item(100, "credit")]);
        assert_ne!(
            pin.digest, reordered.digest,
            "the journal's order is pinned"
        );
        assert_ne!(pin.digest, journal_digest([]).digest);

        let mut m = valid(3, [0; 32], 2, &key).manifest;
        m.journal = Some(pin);
        let entry = m.sign(&key);
        let bytes = entry.encode();
        assert_eq!(&bytes[..8], MAGIC_V2);
        assert_eq!(
            bytes.len(),
            HEADER_LEN + JOURNAL_PIN_LEN + 2 * SHARE_LEN + TRAILER_LEN
        );
        let decoded = LedgerEntry::decode(&bytes).unwrap();
        assert_eq!(decoded, entry);
        decoded.check().unwrap();
        let mut tampered = bytes.clone();
        tampered[8 + 8 * 7 + 32 + 33] ^= 1;
        assert_eq!(
            LedgerEntry::decode(&tampered).unwrap().check(),
            Err(LedgerError::BadSignature),
            "the credits are signed"
        );
        let version_1 = valid(4, entry.hash(), 1, &key);
        assert_eq!(&version_1.encode()[..8], MAGIC);
        verify_chain(&[entry, version_1], None).unwrap();
    }

    #[test]
    fn an_archive_pin_makes_a_version_3_entry_that_round_trips_and_chains_after_older_ones() {
        let key = Keypair::from_seed(1, 0);
        let version_1 = valid(3, [0; 32], 2, &key);
        let mut m = valid(4, version_1.hash(), 2, &key).manifest;
        m.archive = Some([7; 32]);
        let entry = m.sign(&key);
        assert_eq!(entry.manifest.journal, Some(JournalPin::default()));
        let bytes = entry.encode();
        assert_eq!(&bytes[..8], MAGIC_V3);
        assert_eq!(
            bytes.len(),
            HEADER_LEN + JOURNAL_PIN_LEN + ARCHIVE_PIN_LEN + 2 * SHARE_LEN + TRAILER_LEN
        );
        let decoded = LedgerEntry::decode(&bytes).unwrap();
        assert_eq!(decoded, entry);
        decoded.check().unwrap();
        let mut tampered = bytes.clone();
        tampered[8 + 8 * 7 + 32 + JOURNAL_PIN_LEN] ^= 1;
        let tampered = LedgerEntry::decode(&tampered).unwrap();
        assert_eq!(tampered.manifest.archive.unwrap()[0], 6);
        assert_eq!(tampered.check(), Err(LedgerError::BadSignature));
        assert!(LedgerEntry::decode(&bytes[..bytes.len() - 1]).is_err());
        verify_chain(&[version_1, entry], None).unwrap();
    }

    /// Pools carry a remainder of 1 and 4 units that the shares do not, so amounts here are
    /// inconsistent on purpose unless `n = 0`; fix them for a valid entry.
    fn valid(epoch: u64, prev: [u8; 32], n: u8, key: &Keypair) -> LedgerEntry {
        let mut m = manifest(epoch, prev, n);
        m.beacon_pool = 100 * u64::from(n);
        m.witness_pool = 300 * u64::from(n) + 5;
        m.emission = m.beacon_pool + m.witness_pool;
        m.undistributed = if n == 0 { m.emission } else { 5 };
        if n > 0 {
            m.shares[0].witness_amount += 5;
            m.shares[0].total += 5;
            m.undistributed = 0;
        }
        m.sign(key)
    }

    #[test]
    fn encoding_round_trips_and_entries_check() {
        let key = Keypair::from_seed(1, 0);
        for n in [0u8, 1, 2, 5] {
            let e = valid(3, [0; 32], n, &key);
            let bytes = e.encode();
            assert_eq!(
                bytes.len(),
                HEADER_LEN + usize::from(n) * SHARE_LEN + TRAILER_LEN
            );
            assert_eq!(LedgerEntry::decode(&bytes).unwrap(), e);
            e.check().unwrap();
        }
        let bad = manifest(3, [0; 32], 3).sign(&key);
        assert!(matches!(bad.check(), Err(LedgerError::Amounts(_))));
    }

    #[test]
    fn chain_and_claims() {
        let key = Keypair::from_seed(1, 0);
        let a = valid(1, [0; 32], 3, &key);
        let b = valid(2, a.hash(), 4, &key);
        let summary = verify_chain(&[a.clone(), b.clone()], Some(key.address())).unwrap();
        assert_eq!(summary.entries, 2);
        assert_eq!(summary.head, Some((2, b.hash())));
        let other = Keypair::from_seed(2, 0);
        let err = verify_chain(&[a.clone(), b.clone()], Some(other.address())).unwrap_err();
        assert_eq!(err.index, 0);
        let c = valid(3, a.hash(), 1, &key);
        let err = verify_chain(&[a.clone(), b.clone(), c], None).unwrap_err();
        assert_eq!((err.index, err.error), (2, LedgerError::BrokenChain));
        let d = valid(2, b.hash(), 1, &key);
        let err = verify_chain(&[a, b.clone(), d], None).unwrap_err();
        assert!(matches!(err.error, LedgerError::EpochOrder { .. }));

        for share in &b.manifest.shares {
            let claim = b.claim(&share.hotspot).unwrap();
            claim.verify(&b.merkle_root).unwrap();
            let mut forged = claim.clone();
            forged.share.witness_amount += 1;
            forged.share.total += 1;
            assert!(forged.verify(&b.merkle_root).is_err());
        }
        assert!(b.claim(&Keypair::from_seed(9, 9).address()).is_none());
    }
}
