//! The SQLite store: one file in WAL mode, migrations from `oracle/migrations/sqlite`.
//!
//! Durability and speed: reports (beacons, witnesses, rejections) go through a group commit:
//! concurrent inserts queue up for one writer task, which stores every queued report in one
//! transaction committed with `synchronous = FULL` (one fsync for the whole group) and only
//! then answers each caller, so a report is acknowledged once it is on disk, and many
//! concurrent reports share an fsync. Verdicts (statuses and matched beacons) are
//! written on connections with `synchronous = NORMAL`: atomic and never corrupt, but a power
//! cut (not a process crash) may roll the latest ones back to pending, and the next pass
//! decides them again. Every later FULL commit (a report, a closed epoch) makes them durable.
//! A group is written with multi-row `INSERT`s (a few statements for thousands of reports).
//!
//! One process owns the file (the oracle), so gateways are also kept in memory, written
//! through: ingest and verification look a gateway up per report without touching SQLite.

use super::{
    decode_ids, encode_ids, epoch_witness_from_columns, key32, report_key, tally_from_columns,
    ArchiveChunk, BeaconHearing, BeaconRow, BlockCount, EntropyRow, EpochSummaryRow, EpochWitness,
    GatewayRow, PaidBeacon, RejectionRow, ReportCounts, ReportKind, ReportTally, RewardRow,
    RewardTotals, Status, StoreResult, StoredReport, Verdicts, VerifierLock, WitnessRow,
    BEACON_COLS, WITNESS_COLS,
};
use crate::group_commit::{GroupCommit, GroupWriter};
use crate::{Corrupt, StoreError};
use crate::{EpochStore, GatewayStore, ReportStore, VerifyStore};
use futures::future::BoxFuture;
use poc::proto;
use prost::Message;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A [`Store`] in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Reads and durable writes (`synchronous = FULL`).
    pool: SqlitePool,
    /// Verdict writes (`synchronous = NORMAL`).
    relaxed: SqlitePool,
    /// The group-commit writer of reports.
    writer: GroupCommit<SqliteWriter>,
    /// Every gateway, written through: one process owns the file, so this copy is exact and
    /// the per-report gateway lookups of ingest and verification never reach SQLite.
    gateways: Arc<RwLock<BTreeMap<[u8; 32], GatewayRow>>>,
    /// Serialises gateway writes, so that the cache ends as the database does.
    gateway_writes: Arc<tokio::sync::Mutex<()>>,
}

/// Most jobs (a report, or one caller's batch of up to `ingest::MAX_BATCH`) stored in one group
/// commit.
const MAX_GROUP: usize = 4_096;
/// WAL pages (4 KiB each) after which a commit checkpoints the WAL into the database.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;
/// Most reports or rejections in one multi-row `INSERT` (at most 8 columns each: 32 000
/// variables, under SQLite's 32 766). A group commit's statements go one at a time between its
/// task and SQLite's thread, so fewer, larger ones keep the writer busier: 4 096 rather than
/// 512 measured about 10 % more reports a second through `submit_witnesses`.
const REPORT_ROWS_PER_INSERT: usize = 4_000;
/// Most rows in one multi-row statement elsewhere (7 columns each, well under SQLite's 32 766
/// variables).
const ROWS_PER_STATEMENT: usize = 512;
/// Most verdicts committed in one transaction: a pass's verdicts are written in a few short
/// transactions rather than one long one, so that the group commit of reports (which waits
/// for SQLite's single write lock) is never held back for long.
const VERDICTS_PER_TRANSACTION: usize = 16_384;

/// A report row waiting for the group commit, encoded by its submitter.
enum Insert {
    Beacon {
        report_id: String,
        report_key: Vec<u8>,
        pub_key: Vec<u8>,
        data: Vec<u8>,
        remote_entropy: Vec<u8>,
        frequency_hz: u64,
        received_ms: u64,
        raw: Vec<u8>,
    },
    Witness {
        report_id: String,
        report_key: Vec<u8>,
        pub_key: Vec<u8>,
        data: Vec<u8>,
        frequency_hz: u64,
        received_ms: u64,
        rssi_ddbm: i32,
        raw: Vec<u8>,
    },
    Rejection(RejectionRow),
}

impl Insert {
    /// The table of a report and its report key ([`report_key`]); `None` for a rejection.
    fn report(&self) -> Option<(&'static str, &[u8])> {
        match self {
            Insert::Beacon { report_key, .. } => Some(("beacons", report_key)),
            Insert::Witness { report_key, .. } => Some(("witnesses", report_key)),
            Insert::Rejection(_) => None,
        }
    }
}

/// Pushes the column values of `insert` (which must be of the statement's kind).
fn push_row<'a>(mut row: Separated<'_, 'a, Sqlite, &'static str>, insert: &'a Insert) {
    match insert {
        Insert::Beacon {
            report_id,
            report_key,
            pub_key,
            data,
            remote_entropy,
            frequency_hz,
            received_ms,
            raw,
        } => {
            row.push_bind(report_id.as_str())
                .push_bind(report_key.as_slice())
                .push_bind(pub_key.as_slice())
                .push_bind(data.as_slice())
                .push_bind(remote_entropy.as_slice())
                .push_bind(i(*frequency_hz))
                .push_bind(i(*received_ms))
                .push_bind(raw.as_slice());
        }
        Insert::Witness {
            report_id,
            report_key,
            pub_key,
            data,
            frequency_hz,
            received_ms,
            rssi_ddbm,
            raw,
        } => {
            row.push_bind(report_id.as_str())
                .push_bind(report_key.as_slice())
                .push_bind(pub_key.as_slice())
                .push_bind(data.as_slice())
                .push_bind(i(*frequency_hz))
                .push_bind(i(*received_ms))
                .push_bind(*rssi_ddbm)
                .push_bind(raw.as_slice());
        }
        Insert::Rejection(r) => {
            row.push_bind(r.kind.as_str())
                .push_bind(r.reason.as_str())
                .push_bind(r.claimed_key.as_slice())
                .push_bind(i(r.received_ms))
                .push_bind(r.detail.as_str());
        }
    }
}

/// The `INSERT` head of a kind of row (beacon, witness, rejection), by discriminant.
fn insert_head(insert: &Insert) -> &'static str {
    match insert {
        Insert::Beacon { .. } => {
            "INSERT INTO beacons (report_id, report_key, pub_key, data, remote_entropy, frequency_hz, received_ms, raw) "
        }
        Insert::Witness { .. } => {
            "INSERT INTO witnesses (report_id, report_key, pub_key, data, frequency_hz, received_ms, rssi_ddbm, raw) "
        }
        Insert::Rejection(_) => {
            "INSERT INTO ingest_rejections (kind, reason, claimed_key, received_ms, detail) "
        }
    }
}

/// Inserts rows of one kind with multi-row statements; the row ids of the reports inserted, by
/// report key. A report already stored (a replay, or the same report twice in `inserts`) is
/// skipped and not among them: it is left out of the statement (see [`unstored`]), and
/// `report_key` is unique.
async fn insert_rows<'a>(
    conn: &mut SqliteConnection,
    inserts: &'a [&'a Insert],
) -> StoreResult<HashMap<Vec<u8>, i64>> {
    let mut inserted = HashMap::new();
    for chunk in inserts.chunks(REPORT_ROWS_PER_INSERT) {
        let Some(first) = chunk.first() else {
            continue;
        };
        let rows = match first.report() {
            Some((table, _)) => unstored(conn, table, chunk).await?,
            None => chunk.to_vec(),
        };
        if rows.is_empty() {
            continue;
        }
        let mut query = QueryBuilder::<Sqlite>::new(insert_head(first));
        query.push_values(rows.iter().copied(), push_row);
        if first.report().is_some() {
            query.push(" ON CONFLICT (report_key) DO NOTHING RETURNING report_key, id");
            for row in query.build().fetch_all(&mut *conn).await? {
                inserted.insert(row.try_get(0)?, row.try_get(1)?);
            }
        } else {
            query.build().execute(&mut *conn).await?;
        }
    }
    Ok(inserted)
}

/// The reports of `chunk` (all of `table`) not stored yet, each once. A stored one must not
/// reach the `INSERT` at all: SQLite's AUTOINCREMENT spends a row id on every row of an
/// `INSERT`, also one `ON CONFLICT DO NOTHING` skips, and operators sharing a report log must
/// give each report the same row id, also one that replays entries after a crash.
async fn unstored<'a>(
    conn: &mut SqliteConnection,
    table: &str,
    chunk: &[&'a Insert],
) -> StoreResult<Vec<&'a Insert>> {
    let keys: Vec<&[u8]> = chunk
        .iter()
        .filter_map(|insert| insert.report().map(|(_, key)| key))
        .collect();
    let stored = row_ids(conn, table, &keys).await?;
    let mut offered = HashSet::new();
    Ok(chunk
        .iter()
        .copied()
        .filter(|insert| {
            insert
                .report()
                .is_some_and(|(_, key)| !stored.contains_key(key) && offered.insert(key))
        })
        .collect())
}

/// The row ids of the reports of `table` whose report keys are `keys`.
async fn row_ids(
    conn: &mut SqliteConnection,
    table: &str,
    keys: &[&[u8]],
) -> StoreResult<HashMap<Vec<u8>, i64>> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT report_key, id FROM {table} WHERE report_key IN ("
        ));
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await? {
            found.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    Ok(found)
}

/// Stores `jobs` (each the reports of one submission) in one transaction; each job's row ids
/// in order (0 for rejections).
async fn insert_group(
    conn: &mut SqliteConnection,
    jobs: &[&Vec<Insert>],
) -> StoreResult<Vec<Vec<i64>>> {
    let mut tx = conn.begin().await?;
    let mut stored = HashMap::new();
    let all = || jobs.iter().flat_map(|inserts| inserts.iter());
    for table in ["beacons", "witnesses"] {
        let inserts: Vec<&Insert> = all()
            .filter(|insert| insert.report().is_some_and(|(t, _)| t == table))
            .collect();
        if inserts.is_empty() {
            continue;
        }
        let mut ids = insert_rows(&mut tx, &inserts).await?;
        // Replays: the rows stored before.
        let replayed: Vec<&[u8]> = inserts
            .iter()
            .filter_map(|insert| insert.report().map(|(_, key)| key))
            .filter(|key| !ids.contains_key(*key))
            .collect();
        if !replayed.is_empty() {
            ids.extend(row_ids(&mut tx, table, &replayed).await?);
        }
        stored.insert(table, ids);
    }
    let rejections: Vec<&Insert> = all().filter(|insert| insert.report().is_none()).collect();
    insert_rows(&mut tx, &rejections).await?;
    tx.commit().await?;
    jobs.iter()
        .map(|inserts| {
            inserts
                .iter()
                .map(|insert| match insert.report() {
                    None => Ok(0),
                    Some((table, key)) => stored
                        .get(table)
                        .and_then(|ids| ids.get(key))
                        .copied()
                        .ok_or_else(|| not_found_after_insert(key)),
                })
                .collect()
        })
        .collect()
}

/// Stores one report alone; its row id (0 for a rejection).
async fn insert_one(conn: &mut SqliteConnection, insert: &Insert) -> StoreResult<i64> {
    let inserted = insert_rows(conn, &[insert]).await?;
    let Some((table, key)) = insert.report() else {
        return Ok(0);
    };
    if let Some(&row) = inserted.get(key) {
        return Ok(row);
    }
    row_ids(conn, table, &[key])
        .await?
        .get(key)
        .copied()
        .ok_or_else(|| not_found_after_insert(key))
}

fn not_found_after_insert(report_key: &[u8]) -> StoreError {
    Corrupt::NotFoundAfterInsert(hex::encode(report_key)).into()
}

/// The SQLite store's writer of reports ([`GroupCommit`]): one connection of its own,
/// replaced after a failed group.
struct SqliteWriter {
    options: SqliteConnectOptions,
    conn: Option<SqliteConnection>,
}

impl SqliteWriter {
    async fn connection(&mut self) -> StoreResult<&mut SqliteConnection> {
        if self.conn.is_none() {
            self.conn = Some(writer_connection(&self.options).await?);
        }
        self.conn
            .as_mut()
            .ok_or(StoreError::WriterStopped("SQLite"))
    }
}

impl GroupWriter for SqliteWriter {
    type Input = Vec<Insert>;
    type Output = Vec<i64>;

    async fn write_group(&mut self, inputs: &[&Vec<Insert>]) -> StoreResult<Vec<Vec<i64>>> {
        insert_group(self.connection().await?, inputs).await
    }

    async fn write_alone(&mut self, input: &Vec<Insert>) -> StoreResult<Vec<i64>> {
        insert_each(self.connection().await?, input).await
    }

    async fn after_failure(&mut self) {
        self.conn = writer_connection(&self.options).await.ok();
    }
}

/// Stores each of `inserts` alone, in order; their row ids.
async fn insert_each(conn: &mut SqliteConnection, inserts: &[Insert]) -> StoreResult<Vec<i64>> {
    let mut ids = Vec::with_capacity(inserts.len());
    for insert in inserts {
        ids.push(insert_one(conn, insert).await?);
    }
    Ok(ids)
}

/// SQLite's page cache on the group-commit writer's connection, in KiB (a negative
/// `cache_size`): room for the report tables' indexes over several hundred thousand reports,
/// so that a commit seldom reads a page back from the file.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// The group-commit writer's own connection. One connection throughout keeps its page cache:
/// a pooled connection's cache is dropped whenever another connection has written since, so
/// commits taking turns on the pool's connections read most index pages back each time.
async fn writer_connection(options: &SqliteConnectOptions) -> StoreResult<SqliteConnection> {
    let mut conn = options.connect().await?;
    sqlx::query(&format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}"))
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// Runs `{head} IN (…)` with the values in chunks; every row found.
async fn select_in<'a, T: sqlx::Encode<'a, Sqlite> + sqlx::Type<Sqlite> + Sync + 'a>(
    pool: &SqlitePool,
    head: &str,
    values: impl IntoIterator<Item = T>,
) -> StoreResult<Vec<SqliteRow>> {
    let values: Vec<T> = values.into_iter().collect();
    let mut rows = Vec::new();
    let mut rest = values.into_iter().peekable();
    while rest.peek().is_some() {
        let mut query = QueryBuilder::<Sqlite>::new(head);
        query.push(" IN (");
        let mut list = query.separated(", ");
        for value in rest.by_ref().take(ROWS_PER_STATEMENT) {
            list.push_bind(value);
        }
        query.push(")");
        rows.extend(query.build().fetch_all(pool).await?);
    }
    Ok(rows)
}

/// Writes `verdicts` with `pool`, in transactions of at most [`VERDICTS_PER_TRANSACTION`] rows.
async fn write_verdicts(pool: &SqlitePool, verdicts: &Verdicts) -> StoreResult<()> {
    let now = i(verdicts.now_ms);
    update_from_values(
        pool,
        &verdicts.beacons,
        "id, status, reason",
        |mut row, v| {
            row.push_bind(v.id)
                .push_bind(v.status.as_str())
                .push_bind(v.reason);
        },
        |query| {
            query
                .push("UPDATE beacons SET status = v.status, reason = v.reason, verified_ms = ")
                .push_bind(now)
                .push(" FROM v WHERE beacons.id = v.id");
        },
    )
    .await?;
    update_from_values(
        pool,
        &verdicts.witnesses,
        "id, status, reason, beacon_id",
        |mut row, v| {
            row.push_bind(v.id)
                .push_bind(v.status.as_str())
                .push_bind(v.reason)
                .push_bind(v.beacon_id);
        },
        |query| {
            query
                .push(
                    "UPDATE witnesses SET status = v.status, reason = v.reason, \
                     beacon_id = v.beacon_id, verified_ms = ",
                )
                .push_bind(now)
                .push(" FROM v WHERE witnesses.id = v.id");
        },
    )
    .await
}

/// Updates a table from `rows` with `WITH v (columns) AS (VALUES …) UPDATE …` statements of at
/// most [`ROWS_PER_STATEMENT`] rows, committed every [`VERDICTS_PER_TRANSACTION`] rows:
/// `bind_row` binds one row's values in `columns` order, `push_update` writes the `UPDATE`.
async fn update_from_values<'r, T>(
    pool: &SqlitePool,
    rows: &'r [T],
    columns: &str,
    mut bind_row: impl FnMut(Separated<'_, 'r, Sqlite, &'static str>, &'r T),
    push_update: impl Fn(&mut QueryBuilder<'r, Sqlite>),
) -> StoreResult<()> {
    for chunk in rows.chunks(VERDICTS_PER_TRANSACTION) {
        let mut tx = pool.begin().await?;
        for statement in chunk.chunks(ROWS_PER_STATEMENT) {
            let mut query = QueryBuilder::<Sqlite>::new(format!("WITH v ({columns}) AS ("));
            query.push_values(statement, &mut bind_row);
            query.push(") ");
            push_update(&mut query);
            query.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Reads the witnesses of beacon `beacon_id` as [`Store::epoch_witnesses`] packs them: four
/// fields a witness, separated by spaces: row id, receive time, key in hex, and the RSSI, or
/// `x` and the stored report in hex where the RSSI column is NULL.
fn unpack_witnesses(beacon_id: i64, packed: &str, into: &mut Vec<EpochWitness>) -> StoreResult<()> {
    let corrupt = || StoreError::from(Corrupt::PackedWitnesses(beacon_id));
    let mut fields = packed.split_ascii_whitespace();
    while let Some(id) = fields.next() {
        let (Some(received_ms), Some(key), Some(rssi)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(corrupt());
        };
        let key = hex::decode(key).map_err(|_| corrupt())?;
        let raw = match rssi.strip_prefix('x') {
            Some(raw) => Some(hex::decode(raw).map_err(|_| corrupt())?),
            None => None,
        };
        let rssi = match raw {
            Some(_) => None,
            None => Some(rssi.parse().map_err(|_| corrupt())?),
        };
        into.push(epoch_witness_from_columns(
            id.parse().map_err(|_| corrupt())?,
            beacon_id,
            &key,
            received_ms.parse().map_err(|_| corrupt())?,
            rssi,
            raw.as_deref(),
        )?);
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and runs the migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Checkpoint the WAL into the database every ~40 MB rather than 4 MB: a checkpoint
            // writes each page changed since the last once, and the reports' indexes take
            // random inserts, so most commits change the same pages again.
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let relaxed = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone().synchronous(SqliteSynchronous::Normal))
            .await?;
        let rows = sqlx::query("SELECT * FROM gateways")
            .fetch_all(&pool)
            .await?;
        let mut gateways = BTreeMap::new();
        for row in &rows {
            let gateway = gateway_row(row)?;
            gateways.insert(gateway.pub_key, gateway);
        }
        let writer = GroupCommit::spawn(
            SqliteWriter {
                options,
                conn: None,
            },
            MAX_GROUP,
            "SQLite",
        );
        Ok(Self {
            pool,
            relaxed,
            writer,
            gateways: Arc::new(RwLock::new(gateways)),
            gateway_writes: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The cached gateways, readable even if a writer panicked (every write is one insert).
    fn cached_gateways(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<[u8; 32], GatewayRow>> {
        self.gateways
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues reports for the group commit and waits until they are committed; their row ids.
    async fn commit_all(&self, inserts: Vec<Insert>) -> StoreResult<Vec<i64>> {
        self.writer.submit(inserts).await
    }

    /// Queues a report for the group commit and waits until it is committed.
    async fn commit(&self, insert: Insert) -> StoreResult<i64> {
        self.commit_all(vec![insert])
            .await?
            .pop()
            .ok_or_else(|| Corrupt::NoRowId.into())
    }
}

impl SqliteStore {
    /// Nothing to do: SQLite keeps the `AUTOINCREMENT` counter in a table, which a failed or
    /// interrupted transaction rolls back with its rows
    /// ([`crate::ReportLogStore::take_back_spent_row_ids`]).
    async fn realign_row_ids(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// The identity store's hooks ([`super::identity::identity_store`]).
impl SqliteStore {
    fn identity_sql<'s>(&self, sql: &'s str) -> std::borrow::Cow<'s, str> {
        std::borrow::Cow::Borrowed(sql)
    }

    async fn identity_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.gateway_writes.lock().await
    }

    /// `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes fails with
    /// `SQLITE_BUSY` when another connection committed in between.
    async fn identity_begin(&self) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    fn gateway_written(&self, gateway: GatewayRow) {
        self.gateways
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(gateway.pub_key, gateway);
    }
}

super::identity::identity_store!(SqliteStore, Sqlite, SqliteRow);

impl GatewayStore for SqliteStore {
    fn put_gateway<'a>(&'a self, g: &'a GatewayRow) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let _serialised = self.gateway_writes.lock().await;
            sqlx::query(
                "INSERT INTO gateways (pub_key, location, gain_ddbi, elevation_m, region, asserted_ms, raw)
                 VALUES (?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (pub_key) DO UPDATE SET location = excluded.location,
                   gain_ddbi = excluded.gain_ddbi, elevation_m = excluded.elevation_m,
                   region = excluded.region, asserted_ms = excluded.asserted_ms, raw = excluded.raw",
            )
            .bind(g.pub_key.as_slice())
            .bind(g.location.map(i))
            .bind(g.gain_ddbi)
            .bind(g.elevation_m)
            .bind(g.region)
            .bind(i(g.asserted_ms))
            .bind(g.raw.as_slice())
            .execute(&self.pool)
            .await?;
            self.gateways
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(g.pub_key, g.clone());
            Ok(())
        })
    }

    fn gateway<'a>(&'a self, key: &'a [u8; 32]) -> BoxFuture<'a, StoreResult<Option<GatewayRow>>> {
        let found = self.cached_gateways().get(key).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn gateways(&self) -> BoxFuture<'_, StoreResult<Vec<GatewayRow>>> {
        // Keys order as the BLOBs do (memcmp), like `ORDER BY pub_key`.
        let all = self.cached_gateways().values().cloned().collect();
        Box::pin(async move { Ok(all) })
    }

    fn is_known_gateway<'a>(&'a self, key: &'a [u8; 32]) -> BoxFuture<'a, StoreResult<bool>> {
        let known = self.cached_gateways().contains_key(key);
        Box::pin(async move { Ok(known) })
    }

    fn gateways_with_keys<'a>(
        &'a self,
        keys: &'a [[u8; 32]],
    ) -> BoxFuture<'a, StoreResult<Vec<GatewayRow>>> {
        let cached = self.cached_gateways();
        let found = keys.iter().filter_map(|k| cached.get(k).cloned()).collect();
        Box::pin(async move { Ok(found) })
    }
}

impl ReportStore for SqliteStore {
    fn put_entropy<'a>(&'a self, e: &'a EntropyRow) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(shared::put_entropy(&self.pool, e))
    }

    fn latest_entropy(&self) -> BoxFuture<'_, StoreResult<Option<EntropyRow>>> {
        Box::pin(shared::latest_entropy(&self.pool))
    }

    fn entropy_by_data<'a>(
        &'a self,
        data: &'a [u8],
    ) -> BoxFuture<'a, StoreResult<Option<EntropyRow>>> {
        Box::pin(shared::entropy_by_data(&self.pool, data))
    }

    fn insert_beacon<'a>(
        &'a self,
        report_id: &'a str,
        received_ms: u64,
        r: &'a proto::BeaconReport,
    ) -> BoxFuture<'a, StoreResult<i64>> {
        Box::pin(self.commit(Insert::Beacon {
            report_id: report_id.to_string(),
            report_key: report_key(report_id),
            pub_key: r.pub_key.clone(),
            data: r.data.clone(),
            remote_entropy: r.remote_entropy.clone(),
            frequency_hz: r.frequency_hz,
            received_ms,
            raw: r.encode_to_vec(),
        }))
    }

    fn insert_witness<'a>(
        &'a self,
        report_id: &'a str,
        received_ms: u64,
        r: &'a proto::WitnessReport,
    ) -> BoxFuture<'a, StoreResult<i64>> {
        Box::pin(self.commit(Insert::Witness {
            report_id: report_id.to_string(),
            report_key: report_key(report_id),
            pub_key: r.pub_key.clone(),
            data: r.data.clone(),
            frequency_hz: r.frequency_hz,
            received_ms,
            rssi_ddbm: r.rssi_ddbm,
            raw: r.encode_to_vec(),
        }))
    }

    fn insert_witnesses<'a>(
        &'a self,
        received_ms: u64,
        reports: &'a [(String, &'a proto::WitnessReport)],
    ) -> BoxFuture<'a, StoreResult<Vec<i64>>> {
        let inserts = reports
            .iter()
            .map(|(report_id, r)| Insert::Witness {
                report_id: report_id.clone(),
                report_key: report_key(report_id),
                pub_key: r.pub_key.clone(),
                data: r.data.clone(),
                frequency_hz: r.frequency_hz,
                received_ms,
                rssi_ddbm: r.rssi_ddbm,
                raw: r.encode_to_vec(),
            })
            .collect();
        Box::pin(self.commit_all(inserts))
    }

    fn insert_rejection<'a>(&'a self, r: &'a RejectionRow) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            self.commit(Insert::Rejection(r.clone())).await?;
            Ok(())
        })
    }
}

impl VerifyStore for SqliteStore {
    fn lock_verifier(&self) -> BoxFuture<'_, StoreResult<VerifierLock>> {
        // One process owns the file; its own mutex already serialises the verifier.
        Box::pin(async move { Ok(VerifierLock::in_process()) })
    }

    // Pending reports are sorted here rather than by SQLite, whose sorter would carry every
    // row's raw report through the sort.
    fn pending_beacons(&self) -> BoxFuture<'_, StoreResult<Vec<BeaconRow>>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {BEACON_COLS} FROM beacons WHERE status = 'pending'"
            ))
            .fetch_all(&self.pool)
            .await?;
            let mut beacons = collect(rows, beacon_row)?;
            beacons.sort_by_key(|b| (b.received_ms, b.id));
            Ok(beacons)
        })
    }

    fn pending_witnesses(&self) -> BoxFuture<'_, StoreResult<Vec<WitnessRow>>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {WITNESS_COLS} FROM witnesses WHERE status = 'pending'"
            ))
            .fetch_all(&self.pool)
            .await?;
            // Decoded on every core: a full pass reads a million rows.
            let mut witnesses = oracle_core::parallel::map(&rows, witness_row)
                .into_iter()
                .collect::<StoreResult<Vec<_>>>()?;
            witnesses.sort_by_key(|w| (w.received_ms, w.id));
            Ok(witnesses)
        })
    }

    fn beacon(&self, id: i64) -> BoxFuture<'_, StoreResult<Option<BeaconRow>>> {
        Box::pin(shared::beacon(&self.pool, id))
    }

    fn beacons_with_data<'a>(
        &'a self,
        data: &'a [u8],
    ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>> {
        Box::pin(shared::beacons_with_data(&self.pool, data))
    }

    fn beacons_near<'a>(
        &'a self,
        freq_lo: u64,
        freq_hi: u64,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>> {
        Box::pin(shared::beacons_near(
            &self.pool, freq_lo, freq_hi, from_ms, to_ms,
        ))
    }

    fn last_valid_beacon<'a>(
        &'a self,
        key: &'a [u8; 32],
    ) -> BoxFuture<'a, StoreResult<Option<BeaconRow>>> {
        Box::pin(shared::last_valid_beacon(&self.pool, key))
    }

    fn witnesses_of_beacon(&self, beacon_id: i64) -> BoxFuture<'_, StoreResult<Vec<WitnessRow>>> {
        Box::pin(shared::witnesses_of_beacon(&self.pool, beacon_id))
    }

    fn beacons_with_payloads<'a>(
        &'a self,
        payloads: &'a [Vec<u8>],
    ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>> {
        Box::pin(async move {
            let head = format!("SELECT {BEACON_COLS} FROM beacons WHERE data");
            let rows = select_in(&self.pool, &head, payloads.iter().map(Vec::as_slice)).await?;
            let mut beacons = collect(rows, beacon_row)?;
            beacons.sort_by_key(|b| (b.received_ms, b.id));
            Ok(beacons)
        })
    }

    fn witnesses_of_beacons<'a>(
        &'a self,
        beacon_ids: &'a [i64],
    ) -> BoxFuture<'a, StoreResult<Vec<WitnessRow>>> {
        Box::pin(async move {
            let head = format!("SELECT {WITNESS_COLS} FROM witnesses WHERE beacon_id");
            let rows = select_in(&self.pool, &head, beacon_ids.iter().copied()).await?;
            let mut witnesses = collect(rows, witness_row)?;
            witnesses.sort_by_key(|w| (w.beacon_id, w.received_ms, w.id));
            Ok(witnesses)
        })
    }

    fn last_valid_beacon_times<'a>(
        &'a self,
        keys: &'a [[u8; 32]],
    ) -> BoxFuture<'a, StoreResult<HashMap<[u8; 32], u64>>> {
        Box::pin(async move {
            let mut times = HashMap::new();
            for chunk in keys.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "SELECT pub_key, MAX(received_ms) FROM beacons \
                     WHERE status = 'valid' AND pub_key IN (",
                );
                let mut list = query.separated(", ");
                for key in chunk {
                    list.push_bind(key.as_slice());
                }
                query.push(") GROUP BY pub_key");
                for row in query.build().fetch_all(&self.pool).await? {
                    let key: Vec<u8> = row.try_get(0)?;
                    times.insert(key32(&key)?, u(row.try_get(1)?));
                }
            }
            Ok(times)
        })
    }

    fn write_verdicts<'a>(&'a self, verdicts: &'a Verdicts) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(write_verdicts(&self.relaxed, verdicts))
    }
}

impl EpochStore for SqliteStore {
    fn valid_beacons_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<Vec<BeaconRow>>> {
        Box::pin(shared::valid_beacons_between(&self.pool, from_ms, to_ms))
    }

    fn epoch_witnesses(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<Vec<EpochWitness>>> {
        Box::pin(async move {
            // One row a beacon, its witnesses packed as text ([`unpack_witnesses`]): SQLite
            // builds a million short strings in about a second, while the driver spends
            // microseconds on each row it hands over. The beacons come in the order of their
            // time index, which the grouping follows without sorting.
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT b.id, group_concat(w.id || ' ' || w.received_ms || ' ' || hex(w.pub_key)
                   || ' ' || coalesce(w.rssi_ddbm, 'x' || hex(w.raw)), ' ')
                 FROM beacons b CROSS JOIN witnesses w ON w.beacon_id = b.id
                 WHERE b.received_ms >= ? AND b.received_ms < ? AND +b.status = 'valid'
                   AND +w.status = 'valid'
                 GROUP BY b.received_ms, b.id",
            )
            .bind(i(from_ms))
            .bind(i(to_ms))
            .fetch_all(&self.pool)
            .await?;
            let mut witnesses = Vec::new();
            for (beacon_id, packed) in &rows {
                unpack_witnesses(*beacon_id, packed, &mut witnesses)?;
            }
            EpochWitness::sort(&mut witnesses);
            Ok(witnesses)
        })
    }

    fn report_tallies(
        &self,
        kind: ReportKind,
        from_ms: u64,
        to_ms: u64,
        limit: u32,
    ) -> BoxFuture<'_, StoreResult<Vec<ReportTally>>> {
        Box::pin(async move {
            // A report's rank counts only newer reports before `to_ms`, so leaving out those
            // received before `from_ms` ranks the others exactly as the whole history would,
            // and reports received after the span (while the close waits) change nothing. A
            // hotspot with at most `limit` reports in the span has every one of them ranked within the limit:
            // only the others ("heavy") need ranking, which SQLite does by sorting (the
            // costly part at a million reports).
            let table = kind.table();
            let heavy: Option<Vec<u8>> = sqlx::query_scalar(&format!(
                "SELECT pub_key FROM {table} WHERE received_ms >= ?1 AND received_ms < ?3
                 GROUP BY pub_key HAVING COUNT(*) > ?2 LIMIT 1"
            ))
            .bind(i(from_ms))
            .bind(limit)
            .bind(i(to_ms))
            .fetch_optional(&self.pool)
            .await?;
            let rows = if heavy.is_none() {
                sqlx::query(&format!(
                    "SELECT pub_key, status, reason, COUNT(*), MAX(received_ms) FROM {table}
                     WHERE received_ms >= ? AND received_ms < ? GROUP BY pub_key, status, reason"
                ))
                .bind(i(from_ms))
                .bind(i(to_ms))
                .fetch_all(&self.pool)
                .await?
            } else {
                sqlx::query(&format!(
                    "WITH heavy AS MATERIALIZED (
                       SELECT pub_key FROM {table} WHERE received_ms >= ?1 AND received_ms < ?3
                       GROUP BY pub_key HAVING COUNT(*) > ?2)
                     SELECT pub_key, status, reason, COUNT(*), MAX(received_ms) FROM {table}
                     WHERE received_ms >= ?1 AND received_ms < ?3
                       AND pub_key NOT IN (SELECT pub_key FROM heavy)
                     GROUP BY pub_key, status, reason
                     UNION ALL
                     SELECT pub_key, status, reason, COUNT(*), MAX(received_ms) FROM (
                       SELECT pub_key, status, reason, received_ms, ROW_NUMBER() OVER (
                         PARTITION BY pub_key ORDER BY received_ms DESC, id DESC) AS rank
                       FROM {table}
                       WHERE received_ms >= ?1 AND received_ms < ?3
                         AND pub_key IN (SELECT pub_key FROM heavy))
                     WHERE rank <= ?2 GROUP BY pub_key, status, reason"
                ))
                .bind(i(from_ms))
                .bind(limit)
                .bind(i(to_ms))
                .fetch_all(&self.pool)
                .await?
            };
            collect(rows, tally_row)
        })
    }

    fn rejection_counts_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<BTreeMap<String, u64>>> {
        Box::pin(shared::rejection_counts_between(&self.pool, from_ms, to_ms))
    }

    fn beacon_hearings(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<Vec<BeaconHearing>>> {
        Box::pin(shared::beacon_hearings(&self.pool, from_ms, to_ms))
    }

    fn stored_reports_in(
        &self,
        kind: ReportKind,
        span: (u64, u64),
        ids: (i64, i64),
    ) -> futures::stream::BoxStream<'_, StoreResult<StoredReport>> {
        shared::stored_reports_in(&self.pool, kind, span, ids)
    }

    fn report_blocks(
        &self,
        kind: ReportKind,
        span: (u64, u64),
        block_rows: i64,
    ) -> BoxFuture<'_, StoreResult<Vec<BlockCount>>> {
        Box::pin(shared::report_blocks(&self.pool, kind, span, block_rows))
    }

    fn pending_in(
        &self,
        kind: ReportKind,
        span: (u64, u64),
        ids: (i64, i64),
    ) -> BoxFuture<'_, StoreResult<u64>> {
        Box::pin(shared::pending_in(&self.pool, kind, span, ids))
    }

    fn report_count(
        &self,
        kind: ReportKind,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<u64>> {
        Box::pin(shared::report_count(&self.pool, kind, from_ms, to_ms))
    }

    fn max_report_id(&self, kind: ReportKind) -> BoxFuture<'_, StoreResult<Option<i64>>> {
        Box::pin(shared::max_report_id(&self.pool, kind))
    }

    fn archive_chunks(&self, epoch: u64) -> BoxFuture<'_, StoreResult<Vec<ArchiveChunk>>> {
        Box::pin(shared::archive_chunks(&self.pool, epoch))
    }

    fn put_archive_chunk<'a>(&'a self, chunk: &'a ArchiveChunk) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(shared::put_archive_chunk(&self.pool, chunk))
    }

    fn delete_archive_chunk(
        &self,
        epoch: u64,
        kind: ReportKind,
        block: i64,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(shared::delete_archive_chunk(&self.pool, epoch, kind, block))
    }

    fn entropy_between(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> BoxFuture<'_, StoreResult<Vec<EntropyRow>>> {
        Box::pin(shared::entropy_between(&self.pool, from_ms, to_ms))
    }

    fn earliest_report_ms(&self) -> BoxFuture<'_, StoreResult<Option<u64>>> {
        Box::pin(shared::earliest_report_ms(&self.pool))
    }

    fn epoch_report(&self, epoch: u64) -> BoxFuture<'_, StoreResult<Option<String>>> {
        Box::pin(shared::epoch_report(&self.pool, epoch))
    }

    fn last_closed_epoch(&self) -> BoxFuture<'_, StoreResult<Option<u64>>> {
        Box::pin(shared::last_closed_epoch(&self.pool))
    }

    fn put_epoch<'a>(
        &'a self,
        epoch: u64,
        closed_ms: u64,
        report_json: &'a str,
        rows: &'a [RewardRow],
        paid: &'a [PaidBeacon],
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO epochs (epoch, closed_ms, report_json) VALUES (?, ?, ?)
                 ON CONFLICT (epoch) DO NOTHING",
            )
            .bind(i(epoch))
            .bind(i(closed_ms))
            .bind(report_json)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    let mut query = QueryBuilder::<Sqlite>::new(
                        "INSERT INTO epoch_rewards (epoch, pub_key, beacons, witnesses, \
                         beacon_amount, witness_amount, total) ",
                    );
                    query.push_values(chunk, |mut row, r| {
                        row.push_bind(i(epoch))
                            .push_bind(r.pub_key.as_slice())
                            .push_bind(r.beacons)
                            .push_bind(r.witnesses)
                            .push_bind(i(r.beacon_amount))
                            .push_bind(i(r.witness_amount))
                            .push_bind(i(r.beacon_amount + r.witness_amount));
                    });
                    query.build().execute(&mut *tx).await?;
                }
                for chunk in paid.chunks(ROWS_PER_STATEMENT) {
                    let mut query = QueryBuilder::<Sqlite>::new(
                        "INSERT INTO epoch_selections (beacon_id, epoch, witness_ids) ",
                    );
                    query.push_values(chunk, |mut row, p| {
                        row.push_bind(p.beacon_id)
                            .push_bind(i(epoch))
                            .push_bind(encode_ids(&p.witness_ids));
                    });
                    query.build().execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn paid_witnesses<'a>(
        &'a self,
        beacon_ids: &'a [i64],
    ) -> BoxFuture<'a, StoreResult<HashSet<i64>>> {
        Box::pin(async move {
            let mut paid = HashSet::new();
            for chunk in beacon_ids.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "SELECT witness_ids FROM epoch_selections WHERE beacon_id IN (",
                );
                let mut ids = query.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                query.push(")");
                for row in query.build().fetch_all(&self.pool).await? {
                    let bytes: Vec<u8> = row.try_get(0)?;
                    paid.extend(decode_ids(&bytes)?);
                }
            }
            Ok(paid)
        })
    }
}

crate::sql::shared_sql!(SqliteStore, Sqlite, SqliteRow);
