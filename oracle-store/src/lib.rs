//! The oracle's persistence: [`SqliteStore`] (one embedded file, the default) and
//! [`PostgresStore`] (a server that several oracle processes may share), with their migrations.
//!
//! A store has one trait per role, so that each part of the service depends on what it uses:
//! [`GatewayStore`], [`ReportStore`] (ingest), [`VerifyStore`], [`EpochStore`] (the close),
//! [`ExplorerStore`] and [`identity::IdentityStore`]; [`Store`] is all of them. SQL that both
//! databases run as it is lives once (`sql`), and both stores store reports by one group
//! commit (`group_commit`).

mod error;
mod group_commit;
pub mod identity;
mod postgres;
mod sql;
mod sqlite;

pub use error::{Corrupt, StoreError};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
pub use oracle_core::reports::{
    BeaconHearing, BeaconRow, EntropyRow, EpochWitness, GatewayRow, PaidBeacon, ReportTally,
    RewardRow, Status, WitnessRow,
};
use poc::proto;
pub use postgres::PostgresStore;
use serde::Serialize;
pub use sqlite::SqliteStore;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// A report refused at ingest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectionRow {
    /// `beacon`, `witness`, `assertion`, `onboarding` or `gateway_info`.
    pub kind: String,
    /// Reason code.
    pub reason: String,
    /// The key the report claimed (possibly not a valid key).
    #[serde(serialize_with = "hex_bytes")]
    pub claimed_key: Vec<u8>,
    /// When it arrived.
    pub received_ms: u64,
    /// Human-readable detail.
    pub detail: String,
}

fn hex_bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

/// Report counts of one hotspot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReportCounts {
    /// Valid beacons.
    pub beacons_valid: u64,
    /// Invalid beacons.
    pub beacons_invalid: u64,
    /// Beacons not verified yet.
    pub beacons_pending: u64,
    /// Valid witnesses.
    pub witnesses_valid: u64,
    /// Invalid witnesses.
    pub witnesses_invalid: u64,
    /// Witnesses not verified yet.
    pub witnesses_pending: u64,
    /// Witnesses paid in closed epochs.
    pub witnesses_selected: u64,
}

/// A closed epoch, as listed by [`ExplorerStore::closed_epochs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EpochSummaryRow {
    /// Epoch number.
    pub epoch: u64,
    /// When it was closed.
    pub closed_ms: u64,
    /// Rewarded hotspots.
    pub hotspots: u64,
    /// Sum of the rewards given out.
    pub total: u64,
}

/// A hotspot's rewards summed over every closed epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RewardTotals {
    /// Closed epochs in which it was rewarded.
    pub epochs: u64,
    /// Beacon pool shares.
    pub beacon_amount: u64,
    /// Witness pool shares.
    pub witness_amount: u64,
    /// Sum of both.
    pub total: u64,
}

/// The verifier's decision on one beacon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconVerdict {
    /// Row id.
    pub id: i64,
    /// Valid or invalid.
    pub status: Status,
    /// Reason code when invalid.
    pub reason: Option<&'static str>,
}

/// The verifier's decision on one witness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessVerdict {
    /// Row id.
    pub id: i64,
    /// Valid or invalid.
    pub status: Status,
    /// Reason code when invalid.
    pub reason: Option<&'static str>,
    /// The beacon it was matched to.
    pub beacon_id: Option<i64>,
}

/// Everything one verification pass decided, written by [`VerifyStore::write_verdicts`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdicts {
    /// When the pass ran (stored as the verification time).
    pub now_ms: u64,
    /// Beacons decided.
    pub beacons: Vec<BeaconVerdict>,
    /// Witnesses decided.
    pub witnesses: Vec<WitnessVerdict>,
}

impl Verdicts {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.beacons.is_empty() && self.witnesses.is_empty()
    }
}

/// Beacon or witness reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportKind {
    /// Beacon reports.
    Beacons,
    /// Witness reports.
    Witnesses,
}

impl ReportKind {
    /// The table holding them.
    pub fn table(&self) -> &'static str {
        match self {
            ReportKind::Beacons => "beacons",
            ReportKind::Witnesses => "witnesses",
        }
    }

    /// The kind whose table is `table`.
    pub fn of_table(table: &str) -> Option<Self> {
        match table {
            "beacons" => Some(ReportKind::Beacons),
            "witnesses" => Some(ReportKind::Witnesses),
            _ => None,
        }
    }
}

/// A record file of the report archive written as reports were verified: the reports of one
/// kind received in one epoch whose row ids fall in one block (`block` = row id divided by
/// the block size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveChunk {
    /// The epoch the reports were received in.
    pub epoch: u64,
    /// Beacons or witnesses.
    pub kind: ReportKind,
    /// The block of row ids.
    pub block: i64,
    /// The file's name: the lower-case hex SHA-256 of its bytes.
    pub sha256: String,
    /// How many reports it holds.
    pub records: u64,
    /// Its length in bytes.
    pub bytes: u64,
    /// How many of them were pending when it was written.
    pub pending: u64,
}

/// How many reports of an epoch a block of row ids holds ([`EpochStore::report_blocks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCount {
    /// The block (row id divided by the block size).
    pub block: i64,
    /// Its reports.
    pub records: u64,
}

/// The one field of a stored witness report the epoch close needs: decoding it alone skips
/// the report's other fields without copying them.
#[derive(Clone, PartialEq, prost::Message)]
struct WitnessSignal {
    /// [`proto::WitnessReport::rssi_ddbm`] (the same field number).
    #[prost(int32, tag = "4")]
    rssi_ddbm: i32,
}

/// An [`EpochWitness`] from the columns `id, beacon_id, pub_key, received_ms, rssi_ddbm`, and
/// the stored report where `rssi_ddbm` is NULL (a report stored before the column was added).
pub(crate) fn epoch_witness_from_columns(
    id: i64,
    beacon_id: i64,
    key: &[u8],
    received_ms: i64,
    rssi_ddbm: Option<i32>,
    raw: Option<&[u8]>,
) -> StoreResult<EpochWitness> {
    let rssi_ddbm = match (rssi_ddbm, raw) {
        (Some(rssi), _) => rssi,
        (None, Some(raw)) => <WitnessSignal as prost::Message>::decode(raw)?.rssi_ddbm,
        (None, None) => return Err(Corrupt::NoSignal(id).into()),
    };
    Ok(EpochWitness {
        id,
        beacon_id,
        pub_key: key32(key)?,
        received_ms: received_ms as u64,
        rssi_ddbm,
    })
}

/// A [`ReportTally`] from its stored columns: key bytes, status text, reason, count and latest
/// receive time (both stores' signed 64-bit integers).
pub(crate) fn tally_from_columns(
    key: &[u8],
    status: &str,
    reason: Option<String>,
    count: i64,
    latest_ms: i64,
) -> StoreResult<ReportTally> {
    Ok(ReportTally {
        pub_key: key32(key)?,
        status: Status::parse(status)?,
        reason,
        count: count as u64,
        latest_ms: latest_ms as u64,
    })
}

/// A report as stored, with its receive time and verdict: a record of the report archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// Row id.
    pub id: i64,
    /// When the oracle received it, ms since the Unix epoch.
    pub received_ms: u64,
    /// The report's encoding as stored (its SHA-256 is the report's id).
    pub raw: Vec<u8>,
    /// Verdict.
    pub status: Status,
    /// Reason code of an invalid report.
    pub reason: Option<String>,
    /// A witness's matched beacon (row id); `None` for a beacon or an unmatched witness.
    pub beacon_id: Option<i64>,
}

/// The columns both stores read a beacon row from, in [`BeaconRow`] order.
pub(crate) const BEACON_COLS: &str = "id, report_id, pub_key, received_ms, raw, status, reason";
/// The columns both stores read a witness row from, in [`WitnessRow`] order.
pub(crate) const WITNESS_COLS: &str =
    "id, report_id, pub_key, received_ms, raw, status, reason, beacon_id";

/// The key by which both stores find a report's replays (migrations `0004_report_key`): the
/// first 16 bytes of the SHA-256 that a report id spells in hex; an id that is not 64 hex
/// digits is its own key. Sixteen bytes keep the unique index small (its entries land at
/// random places, so a larger key costs index pages written per commit); two different reports
/// share a key only by a 128-bit collision, and another's report only by a 128-bit second
/// preimage.
pub(crate) fn report_key(report_id: &str) -> Vec<u8> {
    let digest = (report_id.len() == 64)
        .then(|| hex::decode(report_id).ok())
        .flatten();
    match digest {
        Some(mut bytes) => {
            bytes.truncate(16);
            bytes
        }
        None => report_id.as_bytes().to_vec(),
    }
}

/// The stored form of a paid beacon's witness ids ([`PaidBeacon`]): 8 bytes each,
/// little-endian.
pub(crate) fn encode_ids(ids: &[i64]) -> Vec<u8> {
    ids.iter().flat_map(|id| id.to_le_bytes()).collect()
}

/// The witness ids of [`encode_ids`]; a length that is not a multiple of 8 is corrupt.
pub(crate) fn decode_ids(bytes: &[u8]) -> StoreResult<Vec<i64>> {
    if bytes.len() % 8 != 0 {
        return Err(Corrupt::WitnessIds(bytes.len()).into());
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()))
        .collect())
}

/// A 32-byte key read back from a store.
pub(crate) fn key32(bytes: &[u8]) -> StoreResult<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| Corrupt::KeyLength(bytes.len()).into())
}

/// Proof that this process holds the store-wide verifier lock; released when dropped.
///
/// Verification and epoch closing read pending reports, decide them and write the verdicts;
/// two processes doing so at once over one database would decide the same reports twice. The
/// PostgreSQL store backs this with a session-level advisory lock held on a connection of its
/// own; the SQLite store is opened by one process, whose in-process mutex is enough.
pub struct VerifierLock {
    _held: Option<Box<dyn Send + Sync>>,
}

impl VerifierLock {
    /// A lock with nothing to release (the store needs none beyond the process's own mutex).
    pub fn in_process() -> Self {
        Self { _held: None }
    }

    /// A lock released by dropping `held`.
    pub fn holding(held: impl Send + Sync + 'static) -> Self {
        Self {
            _held: Some(Box::new(held)),
        }
    }
}

impl std::fmt::Debug for VerifierLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierLock")
            .field("store_wide", &self._held.is_some())
            .finish()
    }
}

/// Gateways: onboarded hotspots with their asserted places. Gateways are never removed.
pub trait GatewayStore: Send + Sync + 'static {
    /// Inserts or replaces a gateway.
    fn put_gateway<'a>(&'a self, gateway: &'a GatewayRow) -> BoxFuture<'a, StoreResult<()>>;
    /// One gateway.
    fn gateway<'a>(&'a self, key: &'a [u8; 32]) -> BoxFuture<'a, StoreResult<Option<GatewayRow>>>;
    /// Every gateway, ordered by key.
    fn gateways(&self) -> BoxFuture<'_, StoreResult<Vec<GatewayRow>>>;
    /// Whether `key` is an onboarded gateway. Gateways are never removed, so once true it
    /// stays true (stores may remember it).
    fn is_known_gateway<'a>(&'a self, key: &'a [u8; 32]) -> BoxFuture<'a, StoreResult<bool>>;
    /// The gateways among `keys` that are known (any order).
    fn gateways_with_keys<'a>(
        &'a self,
        keys: &'a [[u8; 32]],
    ) -> BoxFuture<'a, StoreResult<Vec<GatewayRow>>>;
}

/// What ingest writes: entropy, reports (by a group commit) and rejections.
pub trait ReportStore: Send + Sync + 'static {
    /// Stores published entropy.
    fn put_entropy<'a>(&'a self, entropy: &'a EntropyRow) -> BoxFuture<'a, StoreResult<()>>;
    /// The newest entropy.
    fn latest_entropy(&self) -> BoxFuture<'_, StoreResult<Option<EntropyRow>>>;
    /// The entropy with this data.
    fn entropy_by_data<'a>(
        &'a self,
        data: &'a [u8],
    ) -> BoxFuture<'a, StoreResult<Option<EntropyRow>>>;
    /// Stores a pending beacon report; returns its row id. A report whose `report_id` is stored
    /// already (a replay) is not stored again: the stored row's id is returned.
    fn insert_beacon<'a>(
        &'a self,
        report_id: &'a str,
        received_ms: u64,
        report: &'a proto::BeaconReport,
    ) -> BoxFuture<'a, StoreResult<i64>>;
    /// Stores a pending witness report; returns its row id. A report whose `report_id` is stored
    /// already (a replay) is not stored again: the stored row's id is returned.
    fn insert_witness<'a>(
        &'a self,
        report_id: &'a str,
        received_ms: u64,
        report: &'a proto::WitnessReport,
    ) -> BoxFuture<'a, StoreResult<i64>>;
    /// Stores pending witness reports received at `received_ms`, each given with its report
    /// id, as [`ReportStore::insert_witness`] does one by one (a replay, also of an earlier report of
    /// the same call, is not stored again), committed before the future resolves; their row
    /// ids in order. This default submits them concurrently, so that the stores' group commit
    /// takes them together.
    fn insert_witnesses<'a>(
        &'a self,
        received_ms: u64,
        reports: &'a [(String, &'a proto::WitnessReport)],
    ) -> BoxFuture<'a, StoreResult<Vec<i64>>> {
        Box::pin(async move {
            futures::future::join_all(
                reports
                    .iter()
                    .map(|(id, report)| self.insert_witness(id, received_ms, report)),
            )
            .await
            .into_iter()
            .collect()
        })
    }
    /// Records a report refused at ingest.
    fn insert_rejection<'a>(
        &'a self,
        rejection: &'a RejectionRow,
    ) -> BoxFuture<'a, StoreResult<()>>;
}

/// What verification reads and writes: pending reports, the reports a verdict depends on, and the verdicts.
pub trait VerifyStore: Send + Sync + 'static {
    /// Waits for and takes the store-wide verifier lock (see [`VerifierLock`]).
    fn lock_verifier(&self) -> BoxFuture<'_, StoreResult<VerifierLock>>;
    /// Pending beacons, oldest first.
    fn pending_beacons(&self) -> BoxFuture<'_, StoreResult<Vec<BeaconRow>>>;
    /// Pending witnesses, oldest first.
    fn pending_witnesses(&self) -> BoxFuture<'_, StoreResult<Vec<WitnessRow>>>;
    /// One beacon.
    fn beacon(&self, id: i64) -> BoxFuture<'_, StoreResult<Option<BeaconRow>>>;
    /// Beacons carrying exactly this payload, oldest first.
    fn beacons_with_data<'a>(
        &'a self,
        data: &'a [u8],
    ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>>;
    /// Beacons on frequencies in `[freq_lo, freq_hi]` received in `[from_ms, to_ms]`, oldest first.
    fn beacons_near<'a>(
        &'a self,
        freq_lo: u64,
        freq_hi: u64,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>>;
    /// The latest valid beacon of a hotspot.
    fn last_valid_beacon<'a>(
        &'a self,
        key: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<BeaconRow>>>;
    /// Witnesses matched to a beacon, oldest first.
    fn witnesses_of_beacon(&self, beacon_id: i64) -> BoxFuture<'_, StoreResult<Vec<WitnessRow>>>;
    /// Beacons carrying exactly one of `payloads`, oldest first.
    fn beacons_with_payloads<'a>(
        &'a self,
        payloads: &'a [Vec<u8>],
    ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>>;
    /// Witnesses matched to any of `beacon_ids`, by beacon id, then oldest first.
    fn witnesses_of_beacons<'a>(
        &'a self,
        beacon_ids: &'a [i64],
    ) -> BoxFuture<'a, StoreResult<Vec<WitnessRow>>>;
    /// Receive time of the latest valid beacon of each of `keys` that has one.
    fn last_valid_beacon_times<'a>(
        &'a self,
        keys: &'a [[u8; 32]],
    ) -> BoxFuture<'a, StoreResult<HashMap<[u8; 32], u64>>>;
    /// Writes a verification pass's verdicts: beacons before witnesses, so a
    /// witness is never stored as decided while its beacon is still stored as pending.
    fn write_verdicts<'a>(&'a self, verdicts: &'a Verdicts) -> BoxFuture<'a, StoreResult<()>>;
}

/// What an epoch close reads and writes: the epoch's valid reports, its tallies and rejections, and the closed epoch itself.
pub trait EpochStore: Send + Sync + 'static {
    /// Valid beacons received in `[from_ms, to_ms)`, oldest first.
    fn valid_beacons_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<Vec<BeaconRow>>>;
    /// The valid witnesses of the valid beacons received in `[from_ms, to_ms)` (those of
    /// [`EpochStore::valid_beacons_between`]), ordered by beacon row id, receive time and row id.
    fn epoch_witnesses(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<Vec<EpochWitness>>>;
    /// Of every hotspot's latest `limit` reports of `kind` received before `to_ms` (newest
    /// first by receive time, then row id, as [`ExplorerStore::recent_beacons`] and
    /// [`ExplorerStore::recent_witnesses`] take them), those received in `[from_ms, to_ms)`,
    /// counted by hotspot, status and reason. Reports received at or after `to_ms` change
    /// nothing, so a close decides the same whenever it runs.
    fn report_tallies(
        &self,
        kind: ReportKind,
        from_ms: u64,
        to_ms: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<ReportTally>>>;
    /// The valid beacons received in `[from_ms, to_ms)`, by beaconer and by whether a valid
    /// witness heard them, with the latest receive time of each group (HIP-106 reciprocity).
    fn beacon_hearings(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<Vec<BeaconHearing>>>;
    /// Counts by reason code of invalid beacons, invalid witnesses and ingest rejections
    /// received in `[from_ms, to_ms)`.
    fn rejection_counts_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<BTreeMap<String, u64>>>;
    /// Every report of `kind` received in `span` (`[from_ms, to_ms)`) whose row id is in
    /// `ids` (`[first, end)`), whatever its status, by row id, as stored: what a record file
    /// of the report archive holds. The rows stream, so that any number is archived in bounded
    /// memory.
    fn stored_reports_in(
        &self,
        kind: ReportKind,
        span: (u64, u64),
        ids: (i64, i64),
    ) -> BoxStream<'_, StoreResult<StoredReport>>;
    /// The reports of `kind` received in `span`, counted by block of `block_rows` row ids
    /// (row id divided by `block_rows`), by block.
    fn report_blocks(
        &self,
        kind: ReportKind,
        span: (u64, u64),
        block_rows: i64,
    ) -> BoxFuture<'_, StoreResult<Vec<BlockCount>>>;
    /// How many reports of `kind` received in `span` whose row id is in `ids` are pending.
    fn pending_in(
        &self,
        kind: ReportKind,
        span: (u64, u64),
        ids: (i64, i64),
    ) -> BoxFuture<'_, StoreResult<u64>>;
    /// How many reports of `kind` were received in `[from_ms, to_ms)`.
    fn report_count(
        &self,
        kind: ReportKind,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<u64>>;
    /// The greatest row id of `kind` stored, if any.
    fn max_report_id(&self, kind: ReportKind) -> BoxFuture<'_, StoreResult<Option<i64>>>;
    /// The archive record files recorded for `epoch`, by kind and block.
    fn archive_chunks(&self, epoch: u64) -> BoxFuture<'_, StoreResult<Vec<ArchiveChunk>>>;
    /// Records an archive record file, replacing the one of its epoch, kind and block.
    fn put_archive_chunk<'a>(&'a self, chunk: &'a ArchiveChunk) -> BoxFuture<'a, StoreResult<()>>;
    /// Forgets the record file of an epoch, kind and block (its reports changed since).
    fn delete_archive_chunk(
        &self,
        epoch: u64,
        kind: ReportKind,
        block: i64,
    ) -> BoxFuture<'_, StoreResult<()>>;
    /// Every entropy value published in `[from_ms, to_ms)`, oldest first.
    fn entropy_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<Vec<EntropyRow>>>;
    /// Receive time of the oldest report, if any.
    fn earliest_report_ms(&self) -> BoxFuture<'_, StoreResult<Option<u64>>>;
    /// A closed epoch's stored report (JSON).
    fn epoch_report(&self, epoch: u64) -> BoxFuture<'_, StoreResult<Option<String>>>;
    /// The latest closed epoch.
    fn last_closed_epoch(&self) -> BoxFuture<'_, StoreResult<Option<u64>>>;
    /// Stores a closed epoch in one transaction: its report, its reward rows and the beacons
    /// that earned with the witnesses paid for them; keeps an existing one.
    fn put_epoch<'a>(
        &'a self,
        epoch: u64,
        closed_ms: u64,
        report_json: &'a str,
        rows: &'a [RewardRow],
        paid: &'a [PaidBeacon],
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// The row ids of the witnesses paid, in closed epochs, for any of `beacon_ids`.
    fn paid_witnesses<'a>(
        &'a self,
        beacon_ids: &'a [i64],
    ) -> BoxFuture<'a, StoreResult<HashSet<i64>>>;
}

/// What the explorer reads: counts, histories, rejections and reward totals.
pub trait ExplorerStore: Send + Sync + 'static {
    /// Report counts per hotspot.
    fn report_counts(&self) -> BoxFuture<'_, StoreResult<BTreeMap<[u8; 32], ReportCounts>>>;
    /// Latest beacons of a hotspot, newest first.
    fn recent_beacons<'a>(
        &'a self,
        key: &'a [u8; 32],
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>>;
    /// Latest witnesses of a hotspot, newest first.
    fn recent_witnesses<'a>(
        &'a self,
        key: &'a [u8; 32],
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<WitnessRow>>>;
    /// Latest ingest rejections claiming a key, newest first.
    fn recent_rejections<'a>(
        &'a self,
        key: &'a [u8],
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<RejectionRow>>>;
    /// Counts by reason code of a hotspot's invalid reports and ingest rejections.
    fn reason_counts<'a>(
        &'a self,
        key: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<BTreeMap<String, u64>>>;
    /// Row counts of the main tables, by name.
    fn table_counts(&self) -> BoxFuture<'_, StoreResult<BTreeMap<String, u64>>>;
    /// Closed epochs, newest first: `limit` of them after skipping `offset`.
    fn closed_epochs(
        &self,
        offset: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<EpochSummaryRow>>>;
    /// Rewards per hotspot summed over every closed epoch.
    fn reward_totals(&self) -> BoxFuture<'_, StoreResult<BTreeMap<[u8; 32], RewardTotals>>>;
    /// A hotspot's beacons, newest first: `limit` of them after skipping `offset`.
    fn beacon_history<'a>(
        &'a self,
        key: &'a [u8; 32],
        offset: u64,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>>;
    /// A hotspot's witnesses, newest first: `limit` of them after skipping `offset`.
    fn witness_history<'a>(
        &'a self,
        key: &'a [u8; 32],
        offset: u64,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<WitnessRow>>>;
}

/// Where an operator stands in the report log the operators share: the last applied entry's
/// sequence number in the stream, the log's time after it, and what else the follower keeps
/// between entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogPosition {
    /// Sequence number of the last applied entry (the stream's first is 1).
    pub seq: u64,
    /// The log's time after that entry: the greatest receive time so far.
    pub time_ms: u64,
    /// The follower's state after that entry (the entropy rounds in progress), opaque to the
    /// store; empty when there is none.
    pub state: Vec<u8>,
}

/// How far an operator has applied the shared report log.
pub trait ReportLogStore: Send + Sync + 'static {
    /// The position last recorded for `stream`; `None` when nothing of it was applied.
    fn log_position<'a>(
        &'a self,
        stream: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<LogPosition>>>;
    /// Records that the entries of `stream` up to `position.seq` have been applied, and the
    /// refusals the last of them gave, in one transaction: an entry applied again after a
    /// crash records its refusals once.
    fn set_log_position<'a>(
        &'a self,
        stream: &'a str,
        position: LogPosition,
        refusals: &'a [RejectionRow],
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Takes back the row ids that failed writes spent: each table's next id becomes one past
    /// its greatest. Operators sharing a log must number every report alike, so a follower
    /// calls it before it applies entries, while nothing else writes. PostgreSQL's sequences
    /// keep the values of a transaction that failed or was killed; SQLite's `AUTOINCREMENT`
    /// counter rolls back with the transaction, so there it has nothing to do.
    fn take_back_spent_row_ids(&self) -> BoxFuture<'_, StoreResult<()>>;
}

/// Every role of a store: what the oracle service holds. Each part of the service needs only
/// its role ([`GatewayStore`], [`ReportStore`], [`VerifyStore`], [`EpochStore`],
/// [`ExplorerStore`], [`identity::IdentityStore`]); a type with all of them is a `Store`.
///
/// Every write is committed before the future resolves, so a report is acknowledged only once
/// it is durable.
pub trait Store:
    GatewayStore
    + ReportStore
    + VerifyStore
    + EpochStore
    + ExplorerStore
    + identity::IdentityStore
    + ReportLogStore
{
}

impl<T> Store for T where
    T: GatewayStore
        + ReportStore
        + VerifyStore
        + EpochStore
        + ExplorerStore
        + identity::IdentityStore
        + ReportLogStore
{
}

/// Every role trait, for code that calls a store's methods through [`Store`].
pub mod prelude {
    pub use crate::identity::IdentityStore;
    pub use crate::ReportLogStore;
    pub use crate::{EpochStore, ExplorerStore, GatewayStore, ReportStore, Store, VerifyStore};
}
