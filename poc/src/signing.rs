//! Signing and verification of reports: the signature covers the protobuf encoding of the
//! message with its `signature` field empty.

use crate::keys::Keypair;
use crate::proto;
use ed25519_dalek::{Signature, VerifyingKey};
use prost::Message;

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

    /// Checks the signature against the public key the message carries.
    fn verify(&self) -> Result<(), SignatureError> {
        let key: [u8; 32] = self
            .signer()
            .try_into()
            .map_err(|_| SignatureError::BadPublicKey)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| SignatureError::BadPublicKey)?;
        let signature: [u8; 64] = self
            .signature()
            .try_into()
            .map_err(|_| SignatureError::BadLength(self.signature().len()))?;
        key.verify_strict(&self.signing_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| SignatureError::Mismatch)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
