//! Entropy that oracle operators sharing a report log make together, by commit and reveal.
//!
//! In each round every operator first publishes a commitment, the SHA-256 of a secret. The
//! round's contributors are the first `threshold` operators whose commitments reach the log;
//! they then reveal their secrets, each signed. The round's entropy is the hash of the round
//! number and the revealed secrets in the contributors' order ([`shared_data`]).
//!
//! No operator can foresee it: it depends on the secrets of `threshold` operators, and each
//! secret stays hidden until every contributor is fixed. No operator can choose it: a secret
//! is bound by the commitment made before any other secret was shown. What an operator can
//! still do is withhold its reveal: the round then ends without entropy, which every operator
//! sees alike (and the report log's follower benches such an operator for later rounds).
//!
//! A secret is derived from the operator's key, the stream and the round ([`secret`]), so an
//! operator that restarts can still reveal what it committed to.

use crate::keys::Keypair;
use crate::proto;
use crate::signing::{Signable, SignatureError};
use crate::Address;
use sha2::{Digest, Sha256};

const SECRET_DOMAIN: &[u8] = b"lorapoc-entropy-secret-v1";
const DATA_DOMAIN: &[u8] = b"lorapoc-shared-entropy-v1";

/// Why shared entropy does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharedEntropyError {
    /// Fewer contributions than the operators' threshold.
    #[error("{have} contributions, the operators' threshold is {need}")]
    TooFewShares {
        /// The contributions the entropy carries.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// A contribution of a key that is not one of the operators.
    #[error("a contribution of {0}, which is not an operator")]
    NotAnOperator(Address),
    /// Two contributions of one operator.
    #[error("two contributions of {0}")]
    Repeated(Address),
    /// A contribution with a bad signature.
    #[error("a contribution with a bad signature: {0}")]
    BadShare(SignatureError),
    /// A contribution of another round.
    #[error("a contribution of round {share}, the entropy is of round {round}")]
    WrongRound {
        /// The round of the contribution.
        share: u64,
        /// The round of the entropy.
        round: u64,
    },
    /// The entropy is not the hash of its contributions.
    #[error("the entropy is not the hash of its contributions")]
    WrongData,
}

/// The secret `key` contributes to `round` of the report log `stream`: derived from a
/// signature only the key's holder can make, so it is unpredictable to everyone else and the
/// same after a restart.
pub fn secret(key: &Keypair, stream: &str, round: u64) -> [u8; 32] {
    let mut message = SECRET_DOMAIN.to_vec();
    message.extend_from_slice(stream.as_bytes());
    message.extend_from_slice(&round.to_le_bytes());
    let signature = key.sign(&message);
    Sha256::new()
        .chain_update(SECRET_DOMAIN)
        .chain_update(signature)
        .finalize()
        .into()
}

/// The commitment to a secret: its SHA-256.
pub fn commitment(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// `key`'s signed reveal of its secret for `round`.
pub fn reveal(key: &Keypair, round: u64, secret: [u8; 32]) -> proto::EntropyReveal {
    let mut reveal = proto::EntropyReveal {
        round,
        secret: secret.to_vec(),
        operator_key: key.public_key().to_vec(),
        signature: Vec::new(),
    };
    reveal.sign_with(key);
    reveal
}

/// The entropy of `round` made of `shares`, in their order: SHA-256 over a domain tag, the
/// round, and each share's operator key and secret.
pub fn shared_data(round: u64, shares: &[proto::EntropyReveal]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(DATA_DOMAIN);
    hasher.update(round.to_le_bytes());
    for share in shares {
        hasher.update(&share.operator_key);
        hasher.update(&share.secret);
    }
    hasher.finalize().to_vec()
}

/// Checks entropy the operators made together: at least `threshold` contributions of
/// distinct `operators`, each signed and of the entropy's round, whose hash is the entropy.
pub fn check_shared(
    entropy: &proto::Entropy,
    operators: &[[u8; 32]],
    threshold: usize,
) -> Result<(), SharedEntropyError> {
    if entropy.shares.len() < threshold.max(1) {
        return Err(SharedEntropyError::TooFewShares {
            have: entropy.shares.len(),
            need: threshold.max(1),
        });
    }
    let mut seen = Vec::with_capacity(entropy.shares.len());
    for share in &entropy.shares {
        let key = <[u8; 32]>::try_from(share.operator_key.as_slice()).ok();
        let address = Address(key.unwrap_or_default());
        let key = key
            .filter(|k| operators.contains(k))
            .ok_or(SharedEntropyError::NotAnOperator(address))?;
        if seen.contains(&key) {
            return Err(SharedEntropyError::Repeated(address));
        }
        seen.push(key);
        if share.round != entropy.round {
            return Err(SharedEntropyError::WrongRound {
                share: share.round,
                round: entropy.round,
            });
        }
        share.verify().map_err(SharedEntropyError::BadShare)?;
    }
    if shared_data(entropy.round, &entropy.shares) != entropy.data {
        return Err(SharedEntropyError::WrongData);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<Keypair> {
        (0..3).map(|i| Keypair::from_seed(7, i)).collect()
    }

    fn made_by(keys: &[Keypair], round: u64) -> proto::Entropy {
        let shares: Vec<_> = keys
            .iter()
            .map(|k| reveal(k, round, secret(k, "log", round)))
            .collect();
        proto::Entropy {
            data: shared_data(round, &shares),
            round,
            shares,
            ..Default::default()
        }
    }

    fn operators(keys: &[Keypair]) -> Vec<[u8; 32]> {
        keys.iter().map(Keypair::public_key).collect()
    }

    #[test]
    fn secrets_differ_by_key_stream_and_round_and_repeat_for_the_same() {
        let k = keys();
        let s = secret(&k[0], "log", 4);
        assert_eq!(s, secret(&k[0], "log", 4));
        assert_ne!(s, secret(&k[1], "log", 4));
        assert_ne!(s, secret(&k[0], "other", 4));
        assert_ne!(s, secret(&k[0], "log", 5));
        assert_eq!(commitment(&s), <[u8; 32]>::from(Sha256::digest(s)));
    }

    #[test]
    fn entropy_of_threshold_operators_checks_out() {
        let k = keys();
        let entropy = made_by(&k[..2], 9);
        assert_eq!(check_shared(&entropy, &operators(&k), 2), Ok(()));
        assert_eq!(
            check_shared(&entropy, &operators(&k), 3),
            Err(SharedEntropyError::TooFewShares { have: 2, need: 3 })
        );
    }

    #[test]
    fn every_altered_part_is_refused() {
        let k = keys();
        let ops = operators(&k);
        let good = made_by(&k, 9);

        let mut data = good.clone();
        data.data[0] ^= 1;
        assert_eq!(
            check_shared(&data, &ops, 2),
            Err(SharedEntropyError::WrongData)
        );

        let mut secret = good.clone();
        secret.shares[1].secret[0] ^= 1;
        assert!(matches!(
            check_shared(&secret, &ops, 2),
            Err(SharedEntropyError::BadShare(_))
        ));

        let mut round = good.clone();
        round.round = 10;
        assert!(matches!(
            check_shared(&round, &ops, 2),
            Err(SharedEntropyError::WrongRound { .. })
        ));

        let mut repeated = good.clone();
        repeated.shares[2] = repeated.shares[0].clone();
        assert!(matches!(
            check_shared(&repeated, &ops, 2),
            Err(SharedEntropyError::Repeated(_))
        ));

        assert!(matches!(
            check_shared(&good, &ops[..2], 2),
            Err(SharedEntropyError::NotAnOperator(_))
        ));
    }

    #[test]
    fn the_order_of_contributions_is_part_of_the_entropy() {
        let k = keys();
        let mut swapped = made_by(&k, 3);
        swapped.shares.swap(0, 1);
        assert_ne!(shared_data(3, &swapped.shares), made_by(&k, 3).data);
    }
}
