//! Hotspot identities that cost something: a maker's signed record that it built a hotspot
//! ([`proto::OnboardingRecord`]), and the onboarding request that binds the hotspot to its
//! owner ([`proto::OnboardRequest`]), signed by both.
//!
//! A maker issues one record per hotspot at the factory ([`issue_record`]) and ships it with the
//! hotspot as a file: the record's protobuf encoding ([`write_record`], [`read_record`]). The
//! owner then onboards the hotspot ([`onboard_request`]); the oracle checks the maker's
//! signature, the maker's allowance and the owner's balance.

use crate::keys::Keypair;
use crate::proto;
use crate::signing::{sign_owner_consent, Signable};
use prost::Message;
use std::path::Path;

/// The largest onboarding record file accepted: a record is about 140 bytes.
pub const MAX_RECORD_FILE_BYTES: u64 = 4096;

/// Why an onboarding record file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordFileError {
    /// The file could not be read or written.
    #[error("onboarding record {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not an onboarding record.
    #[error("onboarding record {path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The maker `maker`'s signed record that it built the hotspot with key `hotspot_key`.
pub fn issue_record(
    maker: &Keypair,
    hotspot_key: [u8; 32],
    issued_ms: u64,
) -> proto::OnboardingRecord {
    let mut record = proto::OnboardingRecord {
        hotspot_key: hotspot_key.to_vec(),
        maker_key: maker.public_key().to_vec(),
        issued_ms,
        signature: Vec::new(),
    };
    record.sign_with(maker);
    record
}

/// The request onboarding `hotspot` with its maker's `record`, bound to `owner`, signed by both.
pub fn onboard_request(
    record: proto::OnboardingRecord,
    hotspot: &Keypair,
    owner: &Keypair,
    timestamp_ms: u64,
) -> proto::OnboardRequest {
    let mut request = proto::OnboardRequest {
        record: Some(record),
        pub_key: hotspot.public_key().to_vec(),
        owner_key: Vec::new(),
        timestamp_ms,
        owner_signature: Vec::new(),
        signature: Vec::new(),
    };
    sign_owner_consent(&mut request, owner);
    request.sign_with(hotspot);
    request
}

/// Writes `record` to `path` (its protobuf encoding).
pub fn write_record(path: &Path, record: &proto::OnboardingRecord) -> Result<(), RecordFileError> {
    std::fs::write(path, record.encode_to_vec()).map_err(|source| RecordFileError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads an onboarding record written by [`write_record`]. The record's signature is not
/// checked here (the oracle checks it against the makers it knows).
pub fn read_record(path: &Path) -> Result<proto::OnboardingRecord, RecordFileError> {
    let io = |source| RecordFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let format = |reason: String| RecordFileError::Format {
        path: path.display().to_string(),
        reason,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_RECORD_FILE_BYTES {
        return Err(format(format!(
            "{size} bytes, more than a record's {MAX_RECORD_FILE_BYTES}"
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    decode_record(&bytes).map_err(format)
}

/// Decodes an onboarding record, checking that its keys and signature have the right lengths.
pub fn decode_record(bytes: &[u8]) -> Result<proto::OnboardingRecord, String> {
    let record = proto::OnboardingRecord::decode(bytes).map_err(|e| e.to_string())?;
    if record.hotspot_key.len() != 32 || record.maker_key.len() != 32 {
        return Err("a key is not 32 bytes".into());
    }
    if record.signature.len() != 64 {
        return Err(format!(
            "the signature is {} bytes, expected 64",
            record.signature.len()
        ));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{verify_owner_consent, SignatureError};

    fn request() -> proto::OnboardRequest {
        let maker = Keypair::from_seed(1, 0);
        let hotspot = Keypair::from_seed(1, 1);
        let owner = Keypair::from_seed(1, 2);
        let record = issue_record(&maker, hotspot.public_key(), 1_000);
        onboard_request(record, &hotspot, &owner, 2_000)
    }

    #[test]
    fn the_maker_the_hotspot_and_the_owner_signatures_verify() {
        let request = request();
        assert_eq!(request.record.as_ref().map(Signable::verify), Some(Ok(())));
        assert_eq!(request.verify(), Ok(()));
        assert_eq!(verify_owner_consent(&request), Ok(()));
    }

    #[test]
    fn another_owner_breaks_both_request_signatures() {
        let mut request = request();
        request.owner_key = Keypair::from_seed(1, 3).public_key().to_vec();
        assert_eq!(request.verify(), Err(SignatureError::Mismatch));
        assert_eq!(
            verify_owner_consent(&request),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_changed_record_breaks_the_makers_signature() {
        let mut request = request();
        if let Some(record) = request.record.as_mut() {
            record.issued_ms += 1;
        }
        assert_eq!(
            request.record.as_ref().map(Signable::verify),
            Some(Err(SignatureError::Mismatch))
        );
        assert_eq!(request.verify(), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_record_file_round_trips_and_bad_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("poc-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("onboarding.pb");
        let record = request().record.unwrap();
        write_record(&path, &record).unwrap();
        assert_eq!(read_record(&path).unwrap(), record);
        std::fs::write(&path, b"\xff\xff\xff").unwrap();
        assert!(matches!(
            read_record(&path),
            Err(RecordFileError::Format { .. })
        ));
        std::fs::write(&path, vec![0u8; 5000]).unwrap();
        assert!(matches!(
            read_record(&path),
            Err(RecordFileError::Format { .. })
        ));
        assert!(matches!(
            read_record(&dir.join("missing.pb")),
            Err(RecordFileError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
