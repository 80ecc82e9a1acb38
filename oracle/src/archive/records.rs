//! The archive's files: records encoded and decoded, an epoch's archive read back from a
//! directory or over HTTP with every file checked against its name and every record checked.

use super::{is_file_name, sha256_hex, ArchiveDir};
use crate::config::OracleConfig;
use crate::store::{BeaconRow, EntropyRow, GatewayRow, Status, StoredReport, WitnessRow};
use poc::proto::{self, ArchiveFile, ArchiveManifest};
use poc::Signable;
use prost::Message;
use std::collections::HashMap;
use std::path::PathBuf;

/// Why an archive or one of its files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file the manifest (or the ledger) names is not in the archive.
    #[error("file {file} ({what}) is missing from the archive")]
    Missing {
        /// The file's name (its hash).
        file: String,
        /// What it holds.
        what: String,
    },
    /// A file's bytes do not hash to its name.
    #[error("file {file}: its bytes hash to {actual}, not to its name")]
    HashMismatch {
        /// The file's name.
        file: String,
        /// The hash of the bytes found.
        actual: String,
    },
    /// A file does not decode (truncated, corrupt, or not of its kind).
    #[error("file {file}: {detail}")]
    Malformed {
        /// The file's name.
        file: String,
        /// What is wrong.
        detail: String,
    },
    /// A record does not check (a bad signature, a wrong id or key, an unknown status).
    #[error("file {file}, record {index}: {detail}")]
    BadRecord {
        /// The file's name.
        file: String,
        /// The record's position in the file, from 0.
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// An archive over HTTP could not be fetched.
    #[error("{url}: {detail}")]
    Http {
        /// The address.
        url: String,
        /// What went wrong.
        detail: String,
    },
}

/// The kinds of file an epoch's archive has: one file each, or for the epoch's beacons and
/// witnesses one or more ([`Kind::several`]), whose records follow one another in the
/// manifest's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Every beacon received in the epoch ([`proto::ArchivedReport`]).
    Beacons,
    /// Every witness received in the epoch ([`proto::ArchivedReport`]).
    Witnesses,
    /// The valid witnesses the close paid from that were received outside the epoch (matched
    /// to its beacons).
    OtherWitnesses,
    /// The entropy that the epoch's beacons could use ([`proto::Entropy`]).
    Entropy,
    /// The assertions of the hotspots of the epoch's valid reports ([`proto::ArchivedGateway`]).
    Gateways,
    /// Their owners ([`proto::ArchivedBinding`]).
    Bindings,
    /// The rules' configuration ([`proto::ArchivedConfig`], one record).
    Config,
    /// The onboarding requests accepted in the epoch ([`proto::OnboardRequest`]); absent
    /// from archives written before it was kept.
    Onboardings,
}

impl Kind {
    /// Every kind, in manifest order.
    pub const ALL: [Kind; 8] = [
        Kind::Beacons,
        Kind::Witnesses,
        Kind::OtherWitnesses,
        Kind::Entropy,
        Kind::Gateways,
        Kind::Bindings,
        Kind::Config,
        Kind::Onboardings,
    ];

    /// Whether a manifest may leave the kind out (archives written before it was kept).
    pub fn optional(&self) -> bool {
        matches!(self, Kind::Onboardings)
    }

    /// Whether a manifest may list several files of the kind (written as the reports are
    /// verified, one block of row ids each; archives written before have one).
    pub fn several(&self) -> bool {
        matches!(self, Kind::Beacons | Kind::Witnesses)
    }

    /// The name the manifest gives it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Beacons => "beacons",
            Kind::Witnesses => "witnesses",
            Kind::OtherWitnesses => "other_witnesses",
            Kind::Entropy => "entropy",
            Kind::Gateways => "gateways",
            Kind::Bindings => "bindings",
            Kind::Config => "config",
            Kind::Onboardings => "onboardings",
        }
    }
}

/// The records of a file: each message length-delimited.
pub fn encode_records<M: Message>(records: &[M]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        // Writing to a Vec cannot run out of room.
        let _ = record.encode_length_delimited(&mut out);
    }
    out
}

/// The records of a file from messages already encoded (as received), each length-delimited
/// as [`encode_records`] writes them, without decoding them again.
pub fn frame_records(encoded: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.iter().map(|r| r.len() + 5).sum());
    for record in encoded {
        // Writing to a Vec cannot run out of room.
        let _ = prost::encode_length_delimiter(record.len(), &mut out);
        out.extend_from_slice(record);
    }
    out
}

/// Splits a file into its records; an error names the byte where it stops making sense.
pub fn decode_records<M: Message + Default>(mut bytes: &[u8]) -> Result<Vec<M>, String> {
    let total = bytes.len();
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let at = total - bytes.len();
        let len = prost::decode_length_delimiter(&mut bytes)
            .map_err(|e| format!("bad length at byte {at}: {e}"))?;
        let Some(record) = bytes.get(..len) else {
            return Err(format!(
                "truncated: record at byte {at} needs {len} bytes, {} remain",
                bytes.len()
            ));
        };
        records.push(M::decode(record).map_err(|e| format!("record at byte {at}: {e}"))?);
        bytes = &bytes[len..];
    }
    Ok(records)
}

/// Decodes a manifest and checks that it names each kind once (the beacons and witnesses at
/// least once), by a well-formed name.
pub fn decode_manifest(bytes: &[u8]) -> Result<ArchiveManifest, String> {
    let manifest = ArchiveManifest::decode(bytes).map_err(|e| e.to_string())?;
    for kind in Kind::ALL {
        let named = manifest
            .files
            .iter()
            .filter(|f| f.kind == kind.as_str())
            .count();
        if (named > 1 && !kind.several()) || (named == 0 && !kind.optional()) {
            return Err(format!("names {named} {} files, not 1", kind.as_str()));
        }
    }
    if let Some(f) = manifest.files.iter().find(|f| !is_file_name(&f.sha256)) {
        return Err(format!("file name {:?} is not a SHA-256", f.sha256));
    }
    Ok(manifest)
}

/// Where an archive is read from: a directory, or an oracle's HTTP API
/// (`http://host:port`, serving `/api/v1/archive/files/{sha256}`).
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory laid out as [`ArchiveDir`] writes it.
    Dir(ArchiveDir),
    /// The base address of an oracle's HTTP API.
    Http(String),
}

impl Source {
    /// A directory path, or an `http://` address.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("http://") {
            Source::Http(text.trim_end_matches('/').to_string())
        } else {
            Source::Dir(ArchiveDir::new(PathBuf::from(text)))
        }
    }

    /// The bytes of file `name`, checked against its name; `what` says what it holds.
    pub async fn fetch(&self, name: &str, what: &str) -> Result<Vec<u8>, ArchiveError> {
        let found = match self {
            Source::Dir(dir) => dir.read(name)?,
            Source::Http(base) => super::write::http_get(base, name).await?,
        };
        let bytes = found.ok_or_else(|| ArchiveError::Missing {
            file: name.to_string(),
            what: what.to_string(),
        })?;
        let actual = sha256_hex(&bytes);
        if actual != name {
            return Err(ArchiveError::HashMismatch {
                file: name.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }
}

/// One epoch's archive: what its close read, with the manifest that lists it.
#[derive(Debug, Clone)]
pub struct EpochArchive {
    /// The manifest.
    pub manifest: ArchiveManifest,
    /// Every beacon received in the epoch, as its files list them (by receive time in an
    /// archive of one file, by row id in one of several).
    pub beacons: Vec<BeaconRow>,
    /// Every witness received in the epoch, as its files list them.
    pub witnesses: Vec<WitnessRow>,
    /// The valid witnesses of the epoch's valid beacons received outside it.
    pub other_witnesses: Vec<WitnessRow>,
    /// The entropy the epoch's beacons could use.
    pub entropy: Vec<EntropyRow>,
    /// The assertions of the hotspots of the epoch's valid reports.
    pub gateways: Vec<GatewayRow>,
    /// Their owners.
    pub owners: HashMap<[u8; 32], [u8; 32]>,
    /// The rules' configuration.
    pub config: OracleConfig,
    /// The onboarding requests accepted in the epoch, each checked as ingest checks it.
    pub onboardings: Vec<proto::OnboardRequest>,
}

fn key32(bytes: &[u8]) -> Result<[u8; 32], String> {
    bytes
        .try_into()
        .map_err(|_| format!("a key of {} bytes", bytes.len()))
}

fn archived_report<M: Message>(
    report: &M,
    received_ms: u64,
    row_id: i64,
    status: Status,
    reason: &Option<String>,
    beacon_row_id: Option<i64>,
) -> proto::ArchivedReport {
    proto::ArchivedReport {
        report: report.encode_to_vec(),
        received_ms,
        row_id,
        status: status.as_str().to_string(),
        reason: reason.clone().unwrap_or_default(),
        beacon_row_id: beacon_row_id.unwrap_or(0),
    }
}

/// A report read from an archive record: the report, its id, its signer, status and reason.
type SignedReport<M> = (M, String, [u8; 32], Status, Option<String>);

/// The report of an archive record, decoded, with its id and key; its signature is checked
/// with the file's others ([`check_signatures`]).
fn signed_report<M: Signable + Default>(
    record: &proto::ArchivedReport,
) -> Result<SignedReport<M>, String> {
    let report = M::decode(record.report.as_slice()).map_err(|e| format!("report: {e}"))?;
    let key = key32(report.signer())?;
    let status = Status::parse(&record.status).map_err(|e| e.to_string())?;
    let reason = (!record.reason.is_empty()).then(|| record.reason.clone());
    Ok((report, sha256_hex(&record.report), key, status, reason))
}

fn beacon_of(record: &proto::ArchivedReport) -> Result<BeaconRow, String> {
    let (report, report_id, pub_key, status, reason) = signed_report(record)?;
    Ok(BeaconRow {
        id: record.row_id,
        report_id,
        pub_key,
        received_ms: record.received_ms,
        report,
        status,
        reason,
    })
}

fn witness_of(record: &proto::ArchivedReport) -> Result<WitnessRow, String> {
    let (report, report_id, pub_key, status, reason) = signed_report(record)?;
    Ok(WitnessRow {
        id: record.row_id,
        report_id,
        pub_key,
        received_ms: record.received_ms,
        report,
        status,
        reason,
        beacon_id: (record.beacon_row_id != 0).then_some(record.beacon_row_id),
    })
}

/// Who may have made an archive's entropy: the ledger's oracle alone, or the operators of a
/// version 4 entry together, at least `threshold` of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntropyMakers {
    /// The oracle's key, or the operators' keys.
    pub keys: Vec<[u8; 32]>,
    /// How many operators make entropy together (1 for a lone oracle).
    pub threshold: usize,
}

fn entropy_of(record: &proto::Entropy, makers: &EntropyMakers) -> Result<EntropyRow, String> {
    if record.shares.is_empty() {
        record.verify().map_err(|e| format!("bad signature: {e}"))?;
        if !makers.keys.iter().any(|s| record.oracle_key == s) {
            return Err("entropy signed by another key than the ledger's oracle".into());
        }
    } else {
        poc::entropy::check_shared(record, &makers.keys, makers.threshold)
            .map_err(|e| format!("entropy the operators made together: {e}"))?;
    }
    Ok(EntropyRow {
        data: record.data.clone(),
        timestamp_ms: record.timestamp_ms,
        raw: record.encode_to_vec(),
    })
}

fn gateway_of(record: &proto::ArchivedGateway) -> Result<GatewayRow, String> {
    let pub_key = key32(&record.pub_key)?;
    if !record.assertion.is_empty() {
        let assertion = proto::LocationAssertion::decode(record.assertion.as_slice())
            .map_err(|e| format!("assertion: {e}"))?;
        assertion
            .verify()
            .map_err(|e| format!("assertion: bad signature: {e}"))?;
        if assertion.pub_key != record.pub_key {
            return Err("assertion signed by another hotspot".into());
        }
    }
    Ok(GatewayRow {
        pub_key,
        location: (record.location != 0).then_some(record.location),
        gain_ddbi: record.gain_ddbi,
        elevation_m: record.elevation_m,
        region: record.region,
        asserted_ms: record.asserted_ms,
        raw: record.assertion.clone(),
    })
}

/// Checks the signatures of a file's reports together ([`poc::signing::verify_batch`]),
/// naming the first record whose signature fails.
fn check_signatures<'a, M: Signable + 'a>(
    file: &ArchiveFile,
    reports: impl Iterator<Item = &'a M>,
) -> Result<(), ArchiveError> {
    let reports: Vec<&M> = reports.collect();
    let results = poc::signing::verify_batch(&reports);
    match results.iter().position(Result::is_err) {
        None => Ok(()),
        Some(index) => Err(ArchiveError::BadRecord {
            file: file.sha256.clone(),
            index,
            detail: format!(
                "{} file: bad signature: {}",
                file.kind,
                results[index]
                    .as_ref()
                    .err()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
        }),
    }
}

/// Decodes a file and turns each record into a row, naming the file and record that fails.
fn rows<M: Message + Default, T>(
    file: &ArchiveFile,
    bytes: &[u8],
    row: impl Fn(&M) -> Result<T, String>,
) -> Result<Vec<T>, ArchiveError> {
    let records = decode_records::<M>(bytes).map_err(|detail| ArchiveError::Malformed {
        file: file.sha256.clone(),
        detail: format!("{} file: {detail}", file.kind),
    })?;
    if records.len() as u64 != file.records {
        return Err(ArchiveError::Malformed {
            file: file.sha256.clone(),
            detail: format!(
                "{} records, the manifest says {}",
                records.len(),
                file.records
            ),
        });
    }
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            row(record).map_err(|detail| ArchiveError::BadRecord {
                file: file.sha256.clone(),
                index,
                detail: format!("{} file: {detail}", file.kind),
            })
        })
        .collect()
}

/// What an epoch's archive holds beside the reports received in the epoch (which the close
/// streams from the store into their files, [`stored_record`]).
#[derive(Debug, Clone)]
pub struct ArchiveSides {
    /// The valid witnesses of the epoch's valid beacons received outside it.
    pub other_witnesses: Vec<WitnessRow>,
    /// The entropy the epoch's beacons could use.
    pub entropy: Vec<EntropyRow>,
    /// The assertions of the hotspots of the epoch's valid reports.
    pub gateways: Vec<GatewayRow>,
    /// Their owners.
    pub owners: HashMap<[u8; 32], [u8; 32]>,
    /// The rules' configuration.
    pub config: OracleConfig,
    /// The onboarding requests accepted in the epoch, as received.
    pub onboardings: Vec<Vec<u8>>,
}

/// The archive record of a report as stored.
pub fn stored_record(report: StoredReport) -> proto::ArchivedReport {
    proto::ArchivedReport {
        report: report.raw,
        received_ms: report.received_ms,
        row_id: report.id,
        status: report.status.as_str().to_string(),
        reason: report.reason.unwrap_or_default(),
        beacon_row_id: report.beacon_id.unwrap_or(0),
    }
}

impl ArchiveSides {
    /// Their files, by kind, encoded.
    pub fn encode_files(&self) -> Result<Vec<(Kind, Vec<u8>, u64)>, crate::config::ConfigError> {
        let other: Vec<proto::ArchivedReport> = self
            .other_witnesses
            .iter()
            .map(|w| {
                archived_report(
                    &w.report,
                    w.received_ms,
                    w.id,
                    w.status,
                    &w.reason,
                    w.beacon_id,
                )
            })
            .collect();
        let entropy: Vec<proto::Entropy> = self
            .entropy
            .iter()
            .filter_map(|e| proto::Entropy::decode(e.raw.as_slice()).ok())
            .collect();
        let gateways: Vec<proto::ArchivedGateway> = self
            .gateways
            .iter()
            .map(|g| proto::ArchivedGateway {
                pub_key: g.pub_key.to_vec(),
                location: g.location.unwrap_or(0),
                gain_ddbi: g.gain_ddbi,
                elevation_m: g.elevation_m,
                region: g.region,
                asserted_ms: g.asserted_ms,
                assertion: g.raw.clone(),
            })
            .collect();
        let mut owners: Vec<_> = self.owners.iter().collect();
        owners.sort();
        let bindings: Vec<proto::ArchivedBinding> = owners
            .into_iter()
            .map(|(hotspot, owner)| proto::ArchivedBinding {
                hotspot: hotspot.to_vec(),
                owner: owner.to_vec(),
            })
            .collect();
        let config = [proto::ArchivedConfig {
            toml: self.config.rules_toml()?,
        }];
        let n = |len: usize| len as u64;
        Ok(vec![
            (Kind::OtherWitnesses, encode_records(&other), n(other.len())),
            (Kind::Entropy, encode_records(&entropy), n(entropy.len())),
            (Kind::Gateways, encode_records(&gateways), n(gateways.len())),
            (Kind::Bindings, encode_records(&bindings), n(bindings.len())),
            (Kind::Config, encode_records(&config), 1),
            (
                Kind::Onboardings,
                frame_records(&self.onboardings),
                n(self.onboardings.len()),
            ),
        ])
    }
}

impl EpochArchive {
    /// Reads the archive whose manifest is named `manifest_hash` from `source`: every file
    /// checked against its name, every report's signature and every entropy value (signed by
    /// the ledger's oracle, or made together by the operators of a version 4 entry, as
    /// `makers` says) checked.
    pub async fn load(
        source: &Source,
        manifest_hash: &str,
        makers: &EntropyMakers,
    ) -> Result<Self, ArchiveError> {
        let bytes = source.fetch(manifest_hash, "manifest").await?;
        let manifest = decode_manifest(&bytes).map_err(|detail| ArchiveError::Malformed {
            file: manifest_hash.to_string(),
            detail: format!("manifest: {detail}"),
        })?;
        let mut files: HashMap<String, Vec<(ArchiveFile, Vec<u8>)>> = HashMap::new();
        for file in &manifest.files {
            let bytes = source.fetch(&file.sha256, &file.kind).await?;
            files
                .entry(file.kind.clone())
                .or_default()
                .push((file.clone(), bytes));
        }
        Self::from_files(manifest, &files, makers)
    }

    /// The archive from its manifest and its files (by kind, each with its manifest entry, in
    /// the manifest's order), every record checked as [`EpochArchive::load`] says; a kind
    /// without a file is an error.
    pub fn from_files(
        manifest: ArchiveManifest,
        files: &HashMap<String, Vec<(ArchiveFile, Vec<u8>)>>,
        makers: &EntropyMakers,
    ) -> Result<Self, ArchiveError> {
        let all = |kind: Kind| {
            files
                .get(kind.as_str())
                .filter(|listed| !listed.is_empty())
                .ok_or_else(|| ArchiveError::Missing {
                    file: String::new(),
                    what: kind.as_str().to_string(),
                })
        };
        let file = |kind: Kind| all(kind).map(|listed| &listed[0]);
        let (f, b) = file(Kind::Config)?;
        let config = rows(f, b, |c: &proto::ArchivedConfig| {
            OracleConfig::from_recorded_rules(&c.toml).map_err(|e| format!("configuration: {e}"))
        })?
        .pop()
        .ok_or_else(|| ArchiveError::Malformed {
            file: f.sha256.clone(),
            detail: "no configuration".into(),
        })?;
        let mut beacons = Vec::new();
        for (f, b) in all(Kind::Beacons)? {
            let more = rows(f, b, beacon_of)?;
            check_signatures(f, more.iter().map(|b| &b.report))?;
            beacons.extend(more);
        }
        let mut witnesses = Vec::new();
        for (f, b) in all(Kind::Witnesses)? {
            let more = rows(f, b, witness_of)?;
            check_signatures(f, more.iter().map(|w| &w.report))?;
            witnesses.extend(more);
        }
        let (f, b) = file(Kind::OtherWitnesses)?;
        let other_witnesses = rows(f, b, witness_of)?;
        check_signatures(f, other_witnesses.iter().map(|w| &w.report))?;
        let (f, b) = file(Kind::Entropy)?;
        let entropy = rows(f, b, |e: &proto::Entropy| entropy_of(e, makers))?;
        let (f, b) = file(Kind::Gateways)?;
        let gateways = rows(f, b, gateway_of)?;
        let (f, b) = file(Kind::Bindings)?;
        let owners = rows(f, b, |b: &proto::ArchivedBinding| {
            Ok((key32(&b.hotspot)?, key32(&b.owner)?))
        })?
        .into_iter()
        .collect();
        let onboardings = match files
            .get(Kind::Onboardings.as_str())
            .and_then(|l| l.first())
        {
            Some((f, b)) => {
                let makers = config
                    .identity
                    .makers()
                    .map_err(|e| ArchiveError::Malformed {
                        file: f.sha256.clone(),
                        detail: format!("the archived configuration's makers: {e}"),
                    })?;
                rows(f, b, |r: &proto::OnboardRequest| {
                    oracle_core::identity::check_request(r, &makers, u64::MAX)
                        .map(|_| r.clone())
                        .map_err(|refusal| format!("onboarding request: {}", refusal.detail))
                })?
            }
            None => Vec::new(),
        };
        Ok(Self {
            manifest,
            beacons,
            witnesses,
            other_witnesses,
            entropy,
            gateways,
            owners,
            config,
            onboardings,
        })
    }
}
