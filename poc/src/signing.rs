//! Signing and verification of reports: the signature covers the protobuf encoding of the
//! message with its `signature` field empty.
//!
//! # The verification rule
//!
//! One rule decides every signature, whether checked alone ([`Signable::verify`]) or in a
//! batch ([`verify_batch`]), so that a report gets the same decision either way:
//!
//! 1. the key is 32 bytes that decode to a curve point, and the signature is 64 bytes;
//! 2. S is canonical (below the group order ℓ), R's encoding is canonical (y below
//!    2^255 − 19) and decodes to a point, and neither R nor the key is of small order;
//! 3. the cofactored equation holds: [8]([S]B − [k]A − R) = 0, with k = SHA-512(R ‖ A ‖ M).
//!
//! Steps 1 and 2 are the checks `ed25519-dalek`'s `verify_strict` makes. Its equation is the
//! cofactorless one ([S]B − [k]A = R); the two decide alike on every signature except one
//! whose R (or key) carries a small-order component on top of a correct signature, which only
//! the key's holder can make: `verify_strict` refuses it, this rule accepts it. The cofactored
//! form is needed because a batch equation (a random linear combination of the signatures'
//! equations) is only sound for it: the cofactorless batch would pass such a signature with
//! probability up to ½, depending on its random coefficient, so its decision would differ
//! between a batch and a single check.
//!
//! A batch costs about 40 % of the single checks' time (one multiscalar multiplication for
//! all its signatures, one term per distinct key). When it fails, each of its signatures is
//! checked alone to name the bad ones.

use crate::keys::Keypair;
use crate::proto;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use prost::Message;
use rand::Rng;
use sha2::{Digest, Sha512};
use std::collections::HashMap;

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key bytes are not an ed25519 key.
    #[error("the public key is not a valid ed25519 key")]
    BadPublicKey,
    /// The signature is not 64 bytes.
    #[error("the signature is {0} bytes, expected 64")]
    BadLength(usize),
    /// The signature does not match the message and key.
    #[error("the signature does not match the message")]
    Mismatch,
}

/// A message that carries its signer's public key and signature.
pub trait Signable: Message + Clone + Sized {
    /// The signer's public key as carried in the message.
    fn signer(&self) -> &[u8];
    /// The signature as carried in the message.
    fn signature(&self) -> &[u8];
    /// Replaces the signature.
    fn set_signature(&mut self, signature: Vec<u8>);

    /// The bytes the signature covers.
    fn signing_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.set_signature(Vec::new());
        unsigned.encode_to_vec()
    }

    /// Signs the message in place with `key`.
    fn sign_with(&mut self, key: &Keypair) {
        let signature = key.sign(&self.signing_bytes());
        self.set_signature(signature.to_vec());
    }

    /// Checks the signature against the public key the message carries (the rule of the
    /// module documentation).
    fn verify(&self) -> Result<(), SignatureError> {
        let key = decode_key(self.signer())?;
        let prepared = prepare(self, &key, 0)?;
        if prepared.holds() {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// Decodes a public key: 32 bytes that decompress to a curve point.
fn decode_key(bytes: &[u8]) -> Result<([u8; 32], EdwardsPoint), SignatureError> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| SignatureError::BadPublicKey)?;
    let point = CompressedEdwardsY(bytes)
        .decompress()
        .ok_or(SignatureError::BadPublicKey)?;
    Ok((bytes, point))
}

/// Whether a point encoding's y coordinate (its low 255 bits) is below p = 2^255 − 19. The
/// values from p to 2^255 − 1 are p + d for d < 19: bytes 1 to 30 all 0xff, the top byte 0x7f
/// without the sign bit and the lowest at least 0xed.
fn canonical_y(bytes: &[u8; 32]) -> bool {
    !(bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed)
}

/// A signature that passed the encoding checks, ready for the equation.
struct Prepared {
    /// The signer's key.
    key: EdwardsPoint,
    /// Index of the key among a batch's distinct keys.
    key_index: usize,
    /// The signature's R.
    r: EdwardsPoint,
    /// The signature's S.
    s: Scalar,
    /// k = SHA-512(R ‖ A ‖ M) reduced modulo ℓ.
    k: Scalar,
}

impl Prepared {
    /// Whether the cofactored equation holds for this signature alone.
    fn holds(&self) -> bool {
        let expected_r =
            EdwardsPoint::vartime_double_scalar_mul_basepoint(&-self.k, &self.key, &self.s);
        (expected_r - self.r).mul_by_cofactor().is_identity()
    }
}

/// The encoding checks (steps 1 and 2 of the rule) of `message` signed by `key`.
fn prepare<M: Signable>(
    message: &M,
    key: &([u8; 32], EdwardsPoint),
    key_index: usize,
) -> Result<Prepared, SignatureError> {
    prepare_bytes(
        message.signature(),
        &message.signing_bytes(),
        key,
        key_index,
    )
}

/// The encoding checks (steps 1 and 2 of the rule) of `signature` over `signed` by `key`.
fn prepare_bytes(
    signature: &[u8],
    signed: &[u8],
    key: &([u8; 32], EdwardsPoint),
    key_index: usize,
) -> Result<Prepared, SignatureError> {
    let signature: &[u8; 64] = signature
        .try_into()
        .map_err(|_| SignatureError::BadLength(signature.len()))?;
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(SignatureError::Mismatch)?;
    if !canonical_y(&r_bytes) {
        return Err(SignatureError::Mismatch);
    }
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(SignatureError::Mismatch)?;
    if r.is_small_order() || key.1.is_small_order() {
        return Err(SignatureError::Mismatch);
    }
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(r_bytes)
            .chain_update(key.0)
            .chain_update(signed),
    );
    Ok(Prepared {
        key: key.1,
        key_index,
        r,
        s,
        k,
    })
}

/// Whether the batch equation holds: [8]([Σ zᵢSᵢ]B − Σ zᵢRᵢ − Σ_A (Σ_{i signed by A} zᵢkᵢ)A)
/// = 0 with independent random 128-bit zᵢ. It holds when every signature's equation does, and
/// otherwise with probability about 2^−128.
fn batch_holds(batch: &[Prepared], keys: &[EdwardsPoint]) -> bool {
    let mut rng = rand::thread_rng();
    let mut b = Scalar::ZERO;
    let mut key_coefficients = vec![Scalar::ZERO; keys.len()];
    let mut scalars = Vec::with_capacity(batch.len() + keys.len() + 1);
    let mut points = Vec::with_capacity(batch.len() + keys.len() + 1);
    for p in batch {
        let z = Scalar::from(rng.gen::<u128>());
        b += z * p.s;
        if let Some(c) = key_coefficients.get_mut(p.key_index) {
            *c += z * p.k;
        }
        scalars.push(-z);
        points.push(p.r);
    }
    scalars.push(b);
    points.push(ED25519_BASEPOINT_POINT);
    for (c, key) in key_coefficients.into_iter().zip(keys) {
        scalars.push(-c);
        points.push(*key);
    }
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// Checks the signatures of `messages` together, each against the key it carries; one result
/// per message, in order, each the one [`Signable::verify`] gives it alone. The signatures
/// that pass the encoding checks are checked by one batch equation; if it fails, each is
/// checked alone.
pub fn verify_batch<M: Signable>(messages: &[&M]) -> Vec<Result<(), SignatureError>> {
    let mut key_index: HashMap<&[u8], Result<usize, SignatureError>> = HashMap::new();
    let mut keys: Vec<([u8; 32], EdwardsPoint)> = Vec::new();
    let mut results = Vec::with_capacity(messages.len());
    let mut positions = Vec::with_capacity(messages.len());
    let mut batch = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let index = key_index
            .entry(message.signer())
            .or_insert_with(|| {
                decode_key(message.signer()).map(|key| {
                    keys.push(key);
                    keys.len() - 1
                })
            })
            .clone();
        let outcome = index.and_then(|index| match keys.get(index) {
            Some(key) => prepare(*message, key, index),
            None => Err(SignatureError::BadPublicKey),
        });
        match outcome {
            Ok(p) => {
                positions.push(i);
                batch.push(p);
                results.push(Ok(()));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    let key_points: Vec<EdwardsPoint> = keys.iter().map(|(_, point)| *point).collect();
    let all_hold = match batch.as_slice() {
        [] => true,
        [one] => one.holds(),
        _ => batch_holds(&batch, &key_points),
    };
    if !all_hold {
        for (i, p) in positions.into_iter().zip(&batch) {
            if !p.holds() {
                if let Some(result) = results.get_mut(i) {
                    *result = Err(SignatureError::Mismatch);
                }
            }
        }
    }
    results
}

macro_rules! signable {
    ($message:ty, $signer:ident) => {
        impl Signable for $message {
            fn signer(&self) -> &[u8] {
                &self.$signer
            }
            fn signature(&self) -> &[u8] {
                &self.signature
            }
            fn set_signature(&mut self, signature: Vec<u8>) {
                self.signature = signature;
            }
        }
    };
}

signable!(proto::BeaconReport, pub_key);
signable!(proto::WitnessReport, pub_key);
signable!(proto::LocationAssertion, pub_key);
signable!(proto::Entropy, oracle_key);
signable!(proto::OnboardingRecord, maker_key);
signable!(proto::LogEntry, operator_key);
signable!(proto::EntropyReveal, operator_key);

/// The hotspot signs an onboarding request; the owner's consent is a second signature over the
/// same bytes: the request with both signature fields empty.
impl Signable for proto::OnboardRequest {
    fn signer(&self) -> &[u8] {
        &self.pub_key
    }
    fn signature(&self) -> &[u8] {
        &self.signature
    }
    fn set_signature(&mut self, signature: Vec<u8>) {
        self.signature = signature;
    }
    fn signing_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.signature = Vec::new();
        unsigned.owner_signature = Vec::new();
        unsigned.encode_to_vec()
    }
}

/// Adds the owner's consent to an onboarding request: `owner`'s signature over the bytes the
/// hotspot signs. Sets `owner_key` to `owner`'s key first.
pub fn sign_owner_consent(request: &mut proto::OnboardRequest, owner: &Keypair) {
    request.owner_key = owner.public_key().to_vec();
    request.owner_signature = owner.sign(&request.signing_bytes()).to_vec();
}

/// Checks the owner's consent on an onboarding request, by the rule of the module
/// documentation.
pub fn verify_owner_consent(request: &proto::OnboardRequest) -> Result<(), SignatureError> {
    let key = decode_key(&request.owner_key)?;
    let prepared = prepare_bytes(&request.owner_signature, &request.signing_bytes(), &key, 0)?;
    if prepared.holds() {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
    use proptest::prelude::*;

    fn signed_witness() -> proto::WitnessReport {
        let key = Keypair::from_seed(3, 4);
        let mut report = proto::WitnessReport {
            pub_key: key.public_key().to_vec(),
            data: vec![1, 2, 3],
            rssi_ddbm: -1000,
            ..Default::default()
        };
        report.sign_with(&key);
        report
    }

    #[test]
    fn a_signed_report_verifies() {
        assert_eq!(signed_witness().verify(), Ok(()));
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let mut report = signed_witness();
        report.rssi_ddbm += 1;
        assert_eq!(report.verify(), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        let mut report = signed_witness();
        report.sign_with(&Keypair::from_seed(9, 9));
        assert_eq!(report.verify(), Err(SignatureError::Mismatch));
        report.signature.truncate(10);
        assert_eq!(report.verify(), Err(SignatureError::BadLength(10)));
        report.pub_key = vec![0; 5];
        assert_eq!(report.verify(), Err(SignatureError::BadPublicKey));
    }

    /// A point of order 8 (checked by [`order_8_point_is_of_order_8`]).
    fn order_8() -> EdwardsPoint {
        let bytes: [u8; 32] =
            hex::decode("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
                .unwrap()
                .try_into()
                .unwrap();
        CompressedEdwardsY(bytes).decompress().unwrap()
    }

    #[test]
    fn order_8_point_is_of_order_8() {
        let t = order_8();
        assert!(t.mul_by_cofactor().is_identity());
        assert!(!(Scalar::from(4u8) * t).is_identity());
    }

    /// The kinds of signature the equivalence test mixes.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Valid,
        /// A field changed after signing.
        Altered,
        /// Signed by another key than the one carried.
        OtherKey,
        /// A small-order key (the identity) with R = [r]B, S = r: both equations hold.
        WeakKey,
        /// R the identity and S = k·a: both equations hold.
        SmallOrderR,
        /// A valid signature with S + ℓ in place of S.
        NonCanonicalS,
        /// R encoded with y = p + 1 (the identity's y, not reduced).
        NonCanonicalR,
        /// R = [r]B + T (T of order 8), S = r + k·a: only the cofactored equation holds.
        MixedOrderR,
        /// A 63-byte signature.
        ShortSignature,
        /// A 31-byte key.
        ShortKey,
    }

    const KINDS: [Kind; 10] = [
        Kind::Valid,
        Kind::Altered,
        Kind::OtherKey,
        Kind::WeakKey,
        Kind::SmallOrderR,
        Kind::NonCanonicalS,
        Kind::NonCanonicalR,
        Kind::MixedOrderR,
        Kind::ShortSignature,
        Kind::ShortKey,
    ];

    fn secret(seed: u64) -> SigningKey {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8] = 0x5a;
        SigningKey::from_bytes(&bytes)
    }

    /// S for R under key bytes `a` and secret scalar `secret`, with nonce `r`: r + k·secret.
    fn sign_raw(
        report: &mut proto::WitnessReport,
        r: Scalar,
        r_point: EdwardsPoint,
        secret: Scalar,
    ) {
        report.signature.clear();
        let r_bytes = r_point.compress().to_bytes();
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(&report.pub_key)
                .chain_update(report.signing_bytes()),
        );
        let s = r + k * secret;
        report.signature = [r_bytes, s.to_bytes()].concat();
    }

    /// A witness report of `kind`, signed by one of a few keys chosen by `seed`.
    fn report_of(kind: Kind, seed: u64) -> proto::WitnessReport {
        let key = secret(seed % 5);
        let mut report = proto::WitnessReport {
            pub_key: key.verifying_key().to_bytes().to_vec(),
            data: seed.to_le_bytes().to_vec(),
            rssi_ddbm: -1000,
            ..Default::default()
        };
        let nonce = Scalar::from(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let basepoint = ED25519_BASEPOINT_POINT;
        let sign = |report: &mut proto::WitnessReport| {
            report.signature.clear();
            let signature = ed25519_dalek::Signer::sign(&key, &report.signing_bytes());
            report.signature = signature.to_bytes().to_vec();
        };
        match kind {
            Kind::Valid => sign(&mut report),
            Kind::Altered => {
                sign(&mut report);
                report.rssi_ddbm += 1;
            }
            Kind::OtherKey => {
                report.signature.clear();
                let other = secret(seed % 5 + 100);
                let signature = ed25519_dalek::Signer::sign(&other, &report.signing_bytes());
                report.signature = signature.to_bytes().to_vec();
            }
            Kind::WeakKey => {
                let mut identity = [0u8; 32];
                identity[0] = 1;
                report.pub_key = identity.to_vec();
                sign_raw(&mut report, nonce, nonce * basepoint, Scalar::ZERO);
            }
            Kind::SmallOrderR => {
                sign_raw(
                    &mut report,
                    Scalar::ZERO,
                    EdwardsPoint::default(),
                    key.to_scalar(),
                );
            }
            Kind::NonCanonicalS => {
                sign(&mut report);
                let s = Scalar::from_canonical_bytes(report.signature[32..].try_into().unwrap())
                    .unwrap();
                // S + ℓ as a 256-bit little-endian sum (S < ℓ < 2^253, so it fits).
                let order: [u8; 32] =
                    hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
                        .unwrap()
                        .try_into()
                        .unwrap();
                let mut sum = [0u8; 32];
                let mut carry = 0u16;
                for (i, byte) in sum.iter_mut().enumerate() {
                    let t = u16::from(s.as_bytes()[i]) + u16::from(order[i]) + carry;
                    *byte = t as u8;
                    carry = t >> 8;
                }
                report.signature[32..].copy_from_slice(&sum);
            }
            Kind::NonCanonicalR => {
                sign(&mut report);
                let mut r = [0xffu8; 32];
                r[0] = 0xee;
                r[31] = 0x7f;
                report.signature[..32].copy_from_slice(&r);
            }
            Kind::MixedOrderR => {
                let r_point = nonce * basepoint + order_8();
                sign_raw(&mut report, nonce, r_point, key.to_scalar());
            }
            Kind::ShortSignature => {
                sign(&mut report);
                report.signature.pop();
            }
            Kind::ShortKey => {
                sign(&mut report);
                report.pub_key.pop();
            }
        }
        report
    }

    /// The decision of ed25519-dalek's `verify_strict` (true: accepted).
    fn strict(report: &proto::WitnessReport) -> bool {
        let Ok(key) = <[u8; 32]>::try_from(report.pub_key.as_slice()) else {
            return false;
        };
        let Ok(key) = VerifyingKey::from_bytes(&key) else {
            return false;
        };
        let Ok(signature) = <[u8; 64]>::try_from(report.signature.as_slice()) else {
            return false;
        };
        key.verify_strict(&report.signing_bytes(), &Signature::from_bytes(&signature))
            .is_ok()
    }

    #[test]
    fn each_kind_gets_the_expected_decision() {
        for kind in KINDS {
            for seed in 0..4 {
                let report = report_of(kind, seed);
                let expected = match kind {
                    Kind::Valid | Kind::MixedOrderR => Ok(()),
                    Kind::ShortSignature => Err(SignatureError::BadLength(63)),
                    Kind::ShortKey => Err(SignatureError::BadPublicKey),
                    _ => Err(SignatureError::Mismatch),
                };
                assert_eq!(report.verify(), expected, "{kind:?} {seed}");
                assert_eq!(verify_batch(&[&report]), vec![expected], "{kind:?} {seed}");
                // verify_strict differs only on the mixed-order R (see the module docs).
                assert_eq!(
                    strict(&report),
                    kind == Kind::Valid,
                    "{kind:?} {seed}: verify_strict"
                );
            }
        }
    }

    #[test]
    fn the_weak_key_and_small_order_r_forgeries_pass_the_bare_equation() {
        // So that refusing them is the encoding checks' doing, not the equation's.
        for kind in [Kind::WeakKey, Kind::SmallOrderR, Kind::NonCanonicalS] {
            let report = report_of(kind, 7);
            let (bytes, key) = decode_key(&report.pub_key).unwrap();
            let r = CompressedEdwardsY(report.signature[..32].try_into().unwrap())
                .decompress()
                .unwrap();
            let mut s_bytes: [u8; 32] = report.signature[32..].try_into().unwrap();
            if kind == Kind::NonCanonicalS {
                // S + ℓ reduced is S again.
                s_bytes = Scalar::from_bytes_mod_order(s_bytes).to_bytes();
            }
            let s = Scalar::from_canonical_bytes(s_bytes).unwrap();
            let k = Scalar::from_hash(
                Sha512::new()
                    .chain_update(&report.signature[..32])
                    .chain_update(bytes)
                    .chain_update(report.signing_bytes()),
            );
            let p = Prepared {
                key,
                key_index: 0,
                r,
                s,
                k,
            };
            assert!(p.holds(), "{kind:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A batch gives each signature the decision it gets alone, which is verify_strict's
        /// except on mixed-order R.
        #[test]
        fn batch_decisions_equal_single_decisions(
            mix in proptest::collection::vec((0..KINDS.len(), 0u64..1_000), 0..40)
        ) {
            let reports: Vec<proto::WitnessReport> =
                mix.iter().map(|&(kind, seed)| report_of(KINDS[kind], seed)).collect();
            let refs: Vec<&proto::WitnessReport> = reports.iter().collect();
            let batch = verify_batch(&refs);
            prop_assert_eq!(batch.len(), reports.len());
            for ((report, decision), &(kind, _)) in reports.iter().zip(&batch).zip(&mix) {
                prop_assert_eq!(decision, &report.verify());
                if KINDS[kind] != Kind::MixedOrderR {
                    prop_assert_eq!(decision.is_ok(), strict(report));
                }
            }
        }
    }

    #[test]
    fn one_forgery_in_a_large_batch_is_named() {
        let mut reports: Vec<proto::WitnessReport> =
            (0..200).map(|seed| report_of(Kind::Valid, seed)).collect();
        reports[137] = report_of(Kind::Altered, 137);
        let refs: Vec<&proto::WitnessReport> = reports.iter().collect();
        let batch = verify_batch(&refs);
        for (i, decision) in batch.iter().enumerate() {
            let expected = if i == 137 {
                Err(SignatureError::Mismatch)
            } else {
                Ok(())
            };
            assert_eq!(decision, &expected, "report {i}");
        }
    }
}
