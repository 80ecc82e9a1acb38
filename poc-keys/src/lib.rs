//! ed25519 key pairs of hotspots and the oracle, and their human-readable addresses.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Version byte in front of an ed25519 public key in an [`Address`].
const ADDRESS_VERSION_ED25519: u8 = 0x01;
/// Type byte at the start of a key file.
const KEY_FILE_TYPE_ED25519: u8 = 0x01;
/// Length of a key file: one type byte and a 32-byte secret.
const KEY_FILE_LEN: usize = 33;

/// Errors of key handling.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The key file is not in our format.
    #[error("key file {path} is not an ed25519 key file ({reason})")]
    Format {
        /// The file.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// A textual address could not be parsed.
    #[error("invalid address: {0}")]
    Address(String),
    /// Bytes that should be a public key are not one.
    #[error("invalid ed25519 public key")]
    PublicKey,
}

/// An ed25519 signing key with its public half.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

impl Keypair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_secret(rand::random())
    }

    /// A key from a 32-byte secret (deterministic; for simulations and tests).
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&secret),
        }
    }

    /// A key derived from a seed and an index: the same pair always gives the same key.
    pub fn from_seed(seed: u64, index: u64) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"lorapoc-seeded-key");
        hasher.update(seed.to_le_bytes());
        hasher.update(index.to_le_bytes());
        Self::from_secret(hasher.finalize().into())
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The public key as an address.
    pub fn address(&self) -> Address {
        Address(self.public_key())
    }

    /// Signs a message.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// Reads a key file written by [`Keypair::write_file`].
    pub fn read_file(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let format_error = |reason: &str| KeyError::Format {
            path: path.display().to_string(),
            reason: reason.to_string(),
        };
        if bytes.len() != KEY_FILE_LEN {
            return Err(format_error(&format!(
                "{} bytes, expected {KEY_FILE_LEN}",
                bytes.len()
            )));
        }
        if bytes[0] != KEY_FILE_TYPE_ED25519 {
            return Err(format_error(&format!("unknown key type {:#04x}", bytes[0])));
        }
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&bytes[1..]);
        Ok(Self::from_secret(secret))
    }

    /// Writes the key to a new file readable only by its owner; refuses to overwrite one.
    pub fn write_file(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write;
        let io_error = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io_error)?;
        let mut bytes = Vec::with_capacity(KEY_FILE_LEN);
        bytes.push(KEY_FILE_TYPE_ED25519);
        bytes.extend_from_slice(self.signing.as_bytes());
        file.write_all(&bytes).map_err(io_error)?;
        file.sync_all().map_err(io_error)
    }
}

/// A hotspot's or oracle's public key, shown as base58 with a version byte and a checksum.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// An address from raw public-key bytes, checking that they are a valid ed25519 point.
    pub fn from_public_key(bytes: &[u8]) -> Result<Self, KeyError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::PublicKey)?;
        VerifyingKey::from_bytes(&key).map_err(|_| KeyError::PublicKey)?;
        Ok(Self(key))
    }

    /// The raw public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn checksum(body: &[u8]) -> [u8; 4] {
        let digest = Sha256::digest(Sha256::digest(body));
        [digest[0], digest[1], digest[2], digest[3]]
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut body = Vec::with_capacity(37);
        body.push(ADDRESS_VERSION_ED25519);
        body.extend_from_slice(&self.0);
        let checksum = Self::checksum(&body);
        body.extend_from_slice(&checksum);
        f.write_str(&bs58::encode(body).into_string())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(text)
            .into_vec()
            .map_err(|e| KeyError::Address(e.to_string()))?;
        if bytes.len() != 37 {
            return Err(KeyError::Address(format!(
                "{} bytes, expected 37",
                bytes.len()
            )));
        }
        if bytes[0] != ADDRESS_VERSION_ED25519 {
            return Err(KeyError::Address(format!(
                "unknown version {:#04x}",
                bytes[0]
            )));
        }
        if Self::checksum(&bytes[..33]) != bytes[33..] {
            return Err(KeyError::Address("checksum mismatch".into()));
        }
        Self::from_public_key(&bytes[1..33])
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips_and_rejects_a_changed_character() {
        let address = Keypair::from_seed(1, 2).address();
        let text = address.to_string();
        assert_eq!(text.parse::<Address>().unwrap(), address);
        let mut changed: Vec<char> = text.chars().collect();
        changed[10] = if changed[10] == 'a' { 'b' } else { 'a' };
        let changed: String = changed.into_iter().collect();
        assert!(changed.parse::<Address>().is_err());
    }

    #[test]
    fn key_file_round_trips_and_is_not_overwritten() {
        let dir = std::env::temp_dir().join(format!("poc-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.bin");
        let _ = std::fs::remove_file(&path);
        let key = Keypair::generate();
        key.write_file(&path).unwrap();
        assert_eq!(Keypair::read_file(&path).unwrap().address(), key.address());
        assert!(Keypair::generate().write_file(&path).is_err());
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            Keypair::read_file(&path),
            Err(KeyError::Format { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
