//! Fuzz target: the report archive. Arbitrary bytes are read as an epoch manifest
//! (`oracle::archive::records::decode_manifest`), as the records of a file
//! (`decode_records`), and as every file of an epoch's archive at once
//! (`EpochArchive::from_files`, what `oracle ledger audit` reads): each may refuse, naming the
//! file, but never panic; records that decode re-encode to the same bytes, and an archive that
//! reads carries only reports whose signatures hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oracle::archive::records::{decode_manifest, decode_records, encode_records};
use oracle::archive::{EntropyMakers, EpochArchive, Kind};
use poc::proto::{self, ArchiveFile, ArchiveManifest};
use poc::Signable;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let _ = decode_manifest(data);
    if let Ok(records) = decode_records::<proto::ArchivedReport>(data) {
        let again = encode_records(&records);
        assert_eq!(decode_records::<proto::ArchivedReport>(&again), Ok(records));
    }
    let files: HashMap<String, Vec<(ArchiveFile, Vec<u8>)>> = Kind::ALL
        .iter()
        .map(|kind| {
            let records = decode_records::<proto::ArchivedReport>(data).map_or(0, |r| r.len());
            let file = ArchiveFile {
                kind: kind.as_str().to_string(),
                sha256: oracle::archive::sha256_hex(data),
                records: records as u64,
                bytes: data.len() as u64,
            };
            // The beacons and witnesses in two files, as an archive of several lists them.
            let copies = if kind.several() { 2 } else { 1 };
            let listed = vec![(file, data.to_vec()); copies];
            (kind.as_str().to_string(), listed)
        })
        .collect();
    let makers = EntropyMakers {
        keys: vec![[0; 32]],
        threshold: 1,
    };
    if let Ok(archive) = EpochArchive::from_files(ArchiveManifest::default(), &files, &makers) {
        assert!(archive.beacons.iter().all(|b| b.report.verify().is_ok()));
        assert!(archive.witnesses.iter().all(|w| w.report.verify().is_ok()));
        assert!(archive.onboardings.iter().all(|r| r.verify().is_ok()));
    }
});
