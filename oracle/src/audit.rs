//! The audit anyone can run: an epoch's shares recomputed from its report archive and the
//! ledger alone, with the oracle's own pure rules ([`oracle_core::epoch::decide`]), and checked
//! against the ledger entry.
//!
//! The audit reads the ledger (its chain verified first), the epoch's archive through the
//! manifest hash its entry pins (every file checked against its name, every report's and every
//! entropy value's signature checked), and the archives of the earlier epochs whose reports the
//! close also read: the reputation span, the HIP-106 reciprocity span and the suspicion
//! epochs. From them it rebuilds what the close decided from ([`EpochInputs`]): the epoch's
//! valid reports and the witnesses it could pay, where their hotspots asserted and their
//! owners, the defences' flags and the suspicion the earlier epochs' flags carry, each
//! hotspot's latest reports tallied, and each one's latest heard beacon and valid witness. The
//! verdicts of the archived reports are taken as archived: the audit does not yet recompute
//! verification.

use crate::archive::{ArchiveError, EntropyMakers, EpochArchive, Source};
use crate::config::OracleConfig;
use crate::store::{BeaconHearing, BeaconRow, EpochWitness, ReportTally, Status, WitnessRow};
use ledger::{Address, BadEntry, LedgerEntry, Share};
use oracle_core::epoch::{self as decide, DecidedEpoch, EpochInputs, LatestValid};
use oracle_core::suspicion;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Why an epoch could not be audited.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The ledger does not verify.
    #[error("ledger: {0}")]
    Ledger(#[from] BadEntry),
    /// The ledger has no entry for the epoch.
    #[error("the ledger has no entry for epoch {0}")]
    NoEntry(u64),
    /// The epoch's entry pins no archive (it was written before archives were kept).
    #[error("the ledger entry of epoch {0} pins no report archive")]
    NoArchive(u64),
    /// An archive could not be read, or a file or record in it is bad.
    #[error("archive of epoch {epoch}: {source}")]
    Archive {
        /// The epoch whose archive it is.
        epoch: u64,
        /// What is wrong.
        source: ArchiveError,
    },
    /// The archive is of another epoch than its entry.
    #[error("archive of epoch {epoch}: {detail}")]
    WrongArchive {
        /// The entry's epoch.
        epoch: u64,
        /// What differs.
        detail: String,
    },
    /// The rules could not compute the shares.
    #[error("rewards: {0}")]
    Rewards(#[from] oracle_core::rewards::RewardError),
}

/// One difference between the ledger entry and what the audit recomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A hotspot's share (`None`: no share on that side).
    Share {
        /// The hotspot.
        hotspot: Address,
        /// As the ledger has it.
        ledger: Option<Share>,
        /// As recomputed.
        recomputed: Option<Share>,
    },
    /// The digest of what was paid for each beacon.
    InputsDigest {
        /// As the ledger has it.
        ledger: [u8; 32],
        /// As recomputed.
        recomputed: [u8; 32],
    },
    /// The Merkle root over the shares.
    MerkleRoot {
        /// As the ledger has it.
        ledger: [u8; 32],
        /// As recomputed.
        recomputed: [u8; 32],
    },
    /// An amount of the entry's header.
    Amount {
        /// Which (`emission`, `beacon_pool`, `witness_pool`, `undistributed`).
        field: &'static str,
        /// As the ledger has it.
        ledger: u64,
        /// As recomputed.
        recomputed: u64,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |s: &Option<Share>| match s {
            Some(s) => format!(
                "{} (beacons {} + witnesses {})",
                s.total, s.beacon_amount, s.witness_amount
            ),
            None => "no share".to_string(),
        };
        match self {
            Mismatch::Share {
                hotspot,
                ledger,
                recomputed,
            } => write!(
                f,
                "share of {hotspot}: ledger {}, recomputed {}",
                share(ledger),
                share(recomputed)
            ),
            Mismatch::InputsDigest { ledger, recomputed } => write!(
                f,
                "inputs digest: ledger {}, recomputed {}",
                hex::encode(ledger),
                hex::encode(recomputed)
            ),
            Mismatch::MerkleRoot { ledger, recomputed } => write!(
                f,
                "Merkle root: ledger {}, recomputed {}",
                hex::encode(ledger),
                hex::encode(recomputed)
            ),
            Mismatch::Amount {
                field,
                ledger,
                recomputed,
            } => write!(f, "{field}: ledger {ledger}, recomputed {recomputed}"),
        }
    }
}

/// What an audit found.
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// The epoch.
    pub epoch: u64,
    /// The archived reports the audit read (beacons and witnesses received in the epoch).
    pub reports: usize,
    /// Shares recomputed.
    pub shares: usize,
    /// The earlier epochs whose archives the audit read.
    pub earlier_epochs: Vec<u64>,
    /// Every difference from the ledger entry; empty when the entry is reproduced exactly.
    pub mismatches: Vec<Mismatch>,
}

/// Audits `epoch` of the ledger `entries` from the archive at `source`.
pub async fn audit(
    source: &Source,
    entries: &[LedgerEntry],
    epoch: u64,
) -> Result<AuditReport, AuditError> {
    let mut phases = crate::phases::PhaseTimes::start();
    ledger::verify_chain(entries, None)?;
    phases.mark("ledger");
    let entry = entries
        .iter()
        .find(|e| e.manifest.epoch == epoch)
        .ok_or(AuditError::NoEntry(epoch))?;
    let archive = load_pinned(source, entry).await?;
    phases.mark("archive");
    let config = archive.config.clone();
    let mut earlier = BTreeMap::new();
    let first = first_epoch_read(entry, &config);
    for e in entries
        .iter()
        .filter(|e| (first..epoch).contains(&e.manifest.epoch))
    {
        earlier.insert(e.manifest.epoch, load_pinned(source, e).await?);
    }
    phases.mark("earlier_archives");
    let inputs = rebuild(entry, &archive, &earlier, &config);
    phases.mark("rebuild");
    let decided = decide::decide(&inputs, &config)?;
    phases.mark("decide");
    tracing::info!(epoch, phases = %phases, "audit");
    Ok(AuditReport {
        epoch,
        reports: archive.beacons.len() + archive.witnesses.len(),
        shares: decided.rows.len(),
        earlier_epochs: earlier.keys().copied().collect(),
        mismatches: compare(entry, &decided),
    })
}

/// An entry's archive, read through the manifest hash the entry pins.
async fn load_pinned(source: &Source, entry: &LedgerEntry) -> Result<EpochArchive, AuditError> {
    let m = &entry.manifest;
    let pin = m.archive.ok_or(AuditError::NoArchive(m.epoch))?;
    let makers = match &entry.quorum {
        Some(quorum) => EntropyMakers {
            keys: quorum.declared.operators().iter().map(|a| a.0).collect(),
            threshold: quorum.declared.threshold() as usize,
        },
        None => EntropyMakers {
            keys: vec![entry.oracle_key],
            threshold: 1,
        },
    };
    let archive = EpochArchive::load(source, &hex::encode(pin), &makers)
        .await
        .map_err(|source| AuditError::Archive {
            epoch: m.epoch,
            source,
        })?;
    let a = &archive.manifest;
    if (a.epoch, a.start_ms, a.end_ms) != (m.epoch, m.start_ms, m.end_ms) {
        return Err(AuditError::WrongArchive {
            epoch: m.epoch,
            detail: format!(
                "the manifest is of epoch {} [{}, {}), the entry of [{}, {})",
                a.epoch, a.start_ms, a.end_ms, m.start_ms, m.end_ms
            ),
        });
    }
    Ok(archive)
}

/// The first epoch whose reports the close of `entry`'s epoch read: the start of the
/// reputation and reciprocity spans, and the first epoch whose flags carry suspicion.
fn first_epoch_read(entry: &LedgerEntry, config: &OracleConfig) -> u64 {
    let m = &entry.manifest;
    let span_start = m
        .start_ms
        .saturating_sub(config.reciprocity_window_ms)
        .min(m.end_ms.saturating_sub(config.reputation.window_ms));
    let mut first = span_start / config.epoch_ms.max(1);
    if config.defences.enabled {
        first = first.min(
            m.epoch
                .saturating_sub(u64::from(config.defences.suspicion_epochs)),
        );
    }
    first
}

/// An epoch's valid beacons (oldest first) and the valid witnesses matched to them, wherever
/// they were received, as the close loads them.
fn valid_reports(archive: &EpochArchive) -> (Vec<BeaconRow>, Vec<EpochWitness>) {
    let mut beacons: Vec<BeaconRow> = archive
        .beacons
        .iter()
        .filter(|b| b.status == Status::Valid)
        .cloned()
        .collect();
    beacons.sort_by_key(|b| (b.received_ms, b.id));
    let ids: HashSet<i64> = beacons.iter().map(|b| b.id).collect();
    let mut witnesses: Vec<EpochWitness> = archive
        .witnesses
        .iter()
        .chain(&archive.other_witnesses)
        .filter(|w| w.status == Status::Valid)
        .filter_map(|w| {
            let beacon_id = w.beacon_id.filter(|id| ids.contains(id))?;
            Some(EpochWitness {
                id: w.id,
                beacon_id,
                pub_key: w.pub_key,
                received_ms: w.received_ms,
                rssi_ddbm: w.report.rssi_ddbm,
            })
        })
        .collect();
    witnesses.sort_by_key(|w| w.id);
    witnesses.dedup_by_key(|w| w.id);
    EpochWitness::sort(&mut witnesses);
    (beacons, witnesses)
}

/// The defences' flags of an archived epoch, under its own configuration.
fn defence_flags(
    archive: &EpochArchive,
    beacons: &[BeaconRow],
    witnesses: &[EpochWitness],
) -> oracle_core::defences::Flags {
    if !archive.config.defences.enabled {
        return Default::default();
    }
    let placements = decide::placements(beacons, witnesses, &archive.gateways);
    let evidence = decide::evidence(beacons, witnesses, &placements);
    decide::defence_flags(&evidence, &archive.owners, &archive.config)
}

/// What the close of `entry`'s epoch decided from, rebuilt from its archive and the earlier
/// epochs' archives.
fn rebuild(
    entry: &LedgerEntry,
    archive: &EpochArchive,
    earlier: &BTreeMap<u64, EpochArchive>,
    config: &OracleConfig,
) -> EpochInputs {
    let m = &entry.manifest;
    let (beacons, witnesses) = valid_reports(archive);
    let placements = decide::placements(&beacons, &witnesses, &archive.gateways);
    let mut flags = defence_flags(archive, &beacons, &witnesses);
    if config.defences.enabled {
        let back = m
            .epoch
            .saturating_sub(u64::from(config.defences.suspicion_epochs));
        let history: suspicion::FlagHistory = earlier
            .range(back..m.epoch)
            .map(|(&k, a)| {
                let (b, w) = valid_reports(a);
                (k, defence_flags(a, &b, &w).into_keys().collect())
            })
            .collect();
        suspicion::flag_suspected(&mut flags, &history, m.epoch, &config.defences);
    }
    let all: Vec<&EpochArchive> = earlier.values().chain([archive]).collect();
    let reputation_start = m.end_ms.saturating_sub(config.reputation.window_ms);
    let limit = config.reputation.max_reports as usize;
    let witness_tallies = tallies(&all, Side::Witnesses, (reputation_start, m.end_ms), limit);
    let (active_beacons, active_witnesses) = reciprocity(
        &all,
        (m.start_ms, m.end_ms),
        (&beacons, &witnesses),
        &witness_tallies,
        config,
    );
    let mut recent = tallies(&all, Side::Beacons, (reputation_start, m.end_ms), limit);
    recent.extend(witness_tallies);
    EpochInputs {
        epoch: m.epoch,
        start_ms: m.start_ms,
        end_ms: m.end_ms,
        beacons,
        witnesses,
        placements,
        flags,
        recent,
        active_beacons,
        active_witnesses,
        rejections: BTreeMap::new(),
        owners: archive.owners.clone(),
        // The archive holds no packet reports yet; neither did the close.
        packets: Vec::new(),
        payer_balances: Default::default(),
        route_copies: Default::default(),
    }
}

/// Which reports a tally counts.
#[derive(Clone, Copy)]
enum Side {
    Beacons,
    Witnesses,
}

/// Of every hotspot's latest `limit` reports received before the span's end, those received
/// in the span, counted by hotspot, status and reason (as the store tallies them).
fn tallies(
    archives: &[&EpochArchive],
    side: Side,
    (from_ms, to_ms): (u64, u64),
    limit: usize,
) -> Vec<ReportTally> {
    type Report<'a> = (u64, i64, Status, &'a Option<String>);
    let mut by_key: HashMap<[u8; 32], Vec<Report>> = HashMap::new();
    let mut add = |key: [u8; 32], received: u64, id: i64, status, reason| {
        if (from_ms..to_ms).contains(&received) {
            by_key
                .entry(key)
                .or_default()
                .push((received, id, status, reason));
        }
    };
    for a in archives {
        match side {
            Side::Beacons => a
                .beacons
                .iter()
                .for_each(|b| add(b.pub_key, b.received_ms, b.id, b.status, &b.reason)),
            Side::Witnesses => a.witnesses.iter().for_each(|w: &WitnessRow| {
                add(w.pub_key, w.received_ms, w.id, w.status, &w.reason)
            }),
        }
    }
    let mut out = Vec::new();
    for (key, mut reports) in by_key {
        reports.sort_unstable_by_key(|r| std::cmp::Reverse((r.0, r.1)));
        let mut groups: BTreeMap<(&str, Option<&String>), (u64, u64)> = BTreeMap::new();
        for (received, _, status, reason) in reports.into_iter().take(limit) {
            let group = groups
                .entry((status.as_str(), reason.as_ref()))
                .or_default();
            group.0 += 1;
            group.1 = group.1.max(received);
        }
        for ((status, reason), (count, latest_ms)) in groups {
            out.push(ReportTally {
                pub_key: key,
                status: Status::parse(status).unwrap_or(Status::Pending),
                reason: reason.cloned(),
                count,
                latest_ms,
            });
        }
    }
    out
}

/// HIP-106 activity as the close computes it ([`crate::Oracle`]'s `reciprocity_activity`):
/// each hotspot's latest heard valid beacon and latest valid witness.
fn reciprocity(
    archives: &[&EpochArchive],
    (start_ms, end_ms): (u64, u64),
    (beacons, witnesses): (&[BeaconRow], &[EpochWitness]),
    reputation_witnesses: &[ReportTally],
    config: &OracleConfig,
) -> (LatestValid, LatestValid) {
    let window = config.reciprocity_window_ms;
    if window == 0 {
        return (LatestValid::new(), LatestValid::new());
    }
    let reciprocity_start = start_ms.saturating_sub(window);
    let reputation_start = end_ms.saturating_sub(config.reputation.window_ms);
    let heard: HashSet<i64> = archives
        .iter()
        .flat_map(|a| a.witnesses.iter().chain(&a.other_witnesses))
        .filter(|w| w.status == Status::Valid)
        .filter_map(|w| w.beacon_id)
        .collect();
    let mut hearings: Vec<BeaconHearing> = archives
        .iter()
        .flat_map(|a| &a.beacons)
        .filter(|b| b.status == Status::Valid)
        .filter(|b| (reciprocity_start..start_ms).contains(&b.received_ms))
        .map(|b| BeaconHearing {
            pub_key: b.pub_key,
            heard: heard.contains(&b.id),
            latest_ms: b.received_ms,
        })
        .collect();
    hearings.extend(decide::hearings(beacons, witnesses));
    let active_beacons = decide::latest_heard(&hearings);
    if reputation_start <= reciprocity_start {
        return (active_beacons, decide::latest_valid(reputation_witnesses));
    }
    let limit = config.reputation.max_reports as usize;
    let span = tallies(
        archives,
        Side::Witnesses,
        (reciprocity_start, end_ms),
        limit,
    );
    (active_beacons, decide::latest_valid(&span))
}

/// Every difference between the ledger entry and the recomputed epoch.
fn compare(entry: &LedgerEntry, decided: &DecidedEpoch) -> Vec<Mismatch> {
    let m = &entry.manifest;
    let report = &decided.report;
    let mut mismatches = Vec::new();
    for (field, ledger, recomputed) in [
        ("emission", m.emission, report.emission),
        ("beacon_pool", m.beacon_pool, report.beacon_pool),
        ("witness_pool", m.witness_pool, report.witness_pool),
        ("undistributed", m.undistributed, report.undistributed),
    ] {
        if ledger != recomputed {
            mismatches.push(Mismatch::Amount {
                field,
                ledger,
                recomputed,
            });
        }
    }
    let recomputed: Vec<Share> = decided
        .rows
        .iter()
        .map(|r| Share {
            hotspot: Address(r.pub_key),
            beacon_amount: r.beacon_amount,
            witness_amount: r.witness_amount,
            total: r.beacon_amount + r.witness_amount,
        })
        .collect();
    let mut both: BTreeMap<[u8; 32], (Option<Share>, Option<Share>)> = BTreeMap::new();
    for s in &m.shares {
        both.entry(s.hotspot.0).or_default().0 = Some(*s);
    }
    for s in &recomputed {
        both.entry(s.hotspot.0).or_default().1 = Some(*s);
    }
    for (key, (ledger, recomputed)) in both {
        if ledger != recomputed {
            mismatches.push(Mismatch::Share {
                hotspot: Address(key),
                ledger,
                recomputed,
            });
        }
    }
    let digest = report
        .inputs_digest
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .unwrap_or_default();
    if digest != m.inputs_digest {
        mismatches.push(Mismatch::InputsDigest {
            ledger: m.inputs_digest,
            recomputed: digest,
        });
    }
    let root = ledger::shares_root(&recomputed);
    if root != entry.merkle_root {
        mismatches.push(Mismatch::MerkleRoot {
            ledger: entry.merkle_root,
            recomputed: root,
        });
    }
    mismatches
}
