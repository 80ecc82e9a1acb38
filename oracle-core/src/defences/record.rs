//! The defences' input of one epoch as plain data: keys in hex, H3 cells as integers. What
//! an epoch's defences judged can be written to a file and judged again, under other
//! thresholds, without the store it came from.

use super::{BeaconEvidence, Evidence, Key};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Why a record does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A key is not 32 bytes of hex.
    #[error("not a 32-byte hex key: {0:?}")]
    Key(String),
    /// A location is not an H3 cell.
    #[error("not an H3 cell: {0}")]
    Cell(u64),
}

/// One beacon of an [`EvidenceRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeaconRecord {
    /// The beaconer's key, hex.
    pub beaconer: String,
    /// Each witness's key (hex) and path gain, dB.
    pub witnesses: Vec<(String, f64)>,
}

/// An epoch's [`Evidence`] and the owners of its hotspots, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// Asserted H3 cell of each located hotspot, by key.
    pub locations: BTreeMap<String, u64>,
    /// The valid beacons with their valid witnesses.
    pub beacons: Vec<BeaconRecord>,
    /// Each bound hotspot's owner key, by hotspot key.
    pub owners: BTreeMap<String, String>,
}

/// A key from its 64 hex digits.
pub fn key_from_hex(text: &str) -> Result<Key, RecordError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).map_err(|_| RecordError::Key(text.to_string()))?;
    Ok(key)
}

impl EvidenceRecord {
    /// The record of `evidence` and `owners`.
    pub fn new(evidence: &Evidence, owners: &HashMap<Key, Key>) -> Self {
        Self {
            locations: evidence
                .locations
                .iter()
                .map(|(key, cell)| (hex::encode(key), u64::from(*cell)))
                .collect(),
            beacons: evidence
                .beacons
                .iter()
                .map(|beacon| BeaconRecord {
                    beaconer: hex::encode(beacon.beaconer),
                    witnesses: beacon
                        .witnesses
                        .iter()
                        .map(|(key, gain)| (hex::encode(key), *gain))
                        .collect(),
                })
                .collect(),
            owners: owners
                .iter()
                .map(|(hotspot, owner)| (hex::encode(hotspot), hex::encode(owner)))
                .collect(),
        }
    }

    /// The evidence and owners the record holds.
    pub fn decode(&self) -> Result<(Evidence, HashMap<Key, Key>), RecordError> {
        let mut evidence = Evidence::default();
        for (key, cell) in &self.locations {
            let cell = h3_coverage::cell_from_u64(*cell).map_err(|_| RecordError::Cell(*cell))?;
            evidence.locations.insert(key_from_hex(key)?, cell);
        }
        for beacon in &self.beacons {
            let witnesses = beacon
                .witnesses
                .iter()
                .map(|(key, gain)| Ok((key_from_hex(key)?, *gain)))
                .collect::<Result<_, RecordError>>()?;
            evidence.beacons.push(BeaconEvidence {
                beaconer: key_from_hex(&beacon.beaconer)?,
                witnesses,
            });
        }
        let owners = self
            .owners
            .iter()
            .map(|(hotspot, owner)| Ok((key_from_hex(hotspot)?, key_from_hex(owner)?)))
            .collect::<Result<_, RecordError>>()?;
        Ok((evidence, owners))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_decodes_to_the_evidence_it_was_made_of() {
        let cell = h3_coverage::cell_at(37.77, -122.42).unwrap();
        let mut evidence = Evidence::default();
        evidence.locations.insert([1; 32], cell);
        evidence.locations.insert([2; 32], cell);
        evidence.beacons.push(BeaconEvidence {
            beaconer: [1; 32],
            witnesses: vec![([2; 32], -120.5)],
        });
        let owners = HashMap::from([([1; 32], [9; 32])]);
        let record = EvidenceRecord::new(&evidence, &owners);
        let json = serde_json::to_string(&record).unwrap();
        let back: EvidenceRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.decode().unwrap(), (evidence, owners));
    }

    #[test]
    fn a_bad_key_or_cell_is_refused() {
        let mut record = EvidenceRecord::new(&Evidence::default(), &HashMap::new());
        let cell = h3_coverage::cell_at(37.77, -122.42).unwrap();
        record.locations.insert("zz".into(), u64::from(cell));
        assert_eq!(record.decode(), Err(RecordError::Key("zz".into())));
        record.locations.clear();
        record.locations.insert(hex::encode([3u8; 32]), 5);
        assert_eq!(record.decode(), Err(RecordError::Cell(5)));
    }
}
