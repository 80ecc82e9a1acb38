//! The PostgreSQL store: a server that several oracle processes may share, migrations from
//! `oracle/migrations/postgres`.
//!
//! Concurrency: row ids come from identity columns, gateways and epochs are written with
//! `ON CONFLICT`, and every multi-row write is one transaction, so any number of ingest
//! processes can write at once. Verification and epoch closing are serialised across processes
//! by a session-level advisory lock ([`Store::lock_verifier`]) rather than row locks: the
//! verifier's decisions depend on other rows (earlier witnesses of a beacon, a hotspot's last
//! valid beacon), so a whole pass must run alone, not just each row.
//!
//! Reports are stored by a group commit: concurrent inserts queue up for one writer task,
//! which stores every queued beacon and witness in one transaction (one `INSERT … SELECT FROM
//! UNNEST` per table) and answers each caller only after the commit, so a report is
//! acknowledged once it is durable and many reports share one commit.

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
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, Postgres, Row};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Most rows sent in one array-valued statement.
const ROWS_PER_STATEMENT: usize = 65_536;

/// A [`Store`] in a PostgreSQL database (optionally in one schema of it).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The group-commit writer of reports.
    writer: GroupCommit<PgWriter>,
    /// Gateways seen onboarded: they are never removed, so ingest asks the database only
    /// about keys it has not seen yet (other processes may onboard gateways at any time).
    known: Arc<RwLock<HashSet<[u8; 32]>>>,
}

/// Most reports stored in one group commit.
const MAX_GROUP: usize = 4_096;

/// A report waiting for the group commit, encoded by its submitter.
struct Insert {
    table: ReportKind,
    report_id: String,
    /// [`report_key`] of the id.
    report_key: Vec<u8>,
    pub_key: Vec<u8>,
    data: Vec<u8>,
    /// Beacons only.
    remote_entropy: Vec<u8>,
    frequency_hz: i64,
    received_ms: i64,
    /// Witnesses only.
    rssi_ddbm: i32,
    raw: Vec<u8>,
}

/// Stores the reports of one table with one statement and returns their row ids by report
/// key. A report already stored (a replay, or the same report twice in `inserts`) is skipped:
/// it is left out of the statement, since a sequence spends a value on every row of an
/// `INSERT`, also one `ON CONFLICT DO NOTHING` skips (and `report_key` is unique).
async fn insert_reports(
    conn: &mut PgConnection,
    table: ReportKind,
    inserts: &[&Insert],
) -> StoreResult<HashMap<Vec<u8>, i64>> {
    let report_keys: Vec<&[u8]> = inserts.iter().map(|r| r.report_key.as_slice()).collect();
    let stored: HashSet<Vec<u8>> = sqlx::query_scalar(&format!(
        "SELECT report_key FROM {} WHERE report_key = ANY($1)",
        table.table()
    ))
    .bind(&report_keys)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let mut offered = HashSet::new();
    let inserts: Vec<&Insert> = inserts
        .iter()
        .copied()
        .filter(|r| !stored.contains(&r.report_key) && offered.insert(r.report_key.as_slice()))
        .collect();
    if !inserts.is_empty() {
        insert_new_reports(conn, table, &inserts).await?;
    }
    let rows = sqlx::query(&format!(
        "SELECT report_key, id FROM {} WHERE report_key = ANY($1)",
        table.table()
    ))
    .bind(&report_keys)
    .fetch_all(&mut *conn)
    .await?;
    let mut stored = HashMap::with_capacity(rows.len());
    for row in rows {
        stored.insert(row.try_get(0)?, row.try_get(1)?);
    }
    Ok(stored)
}

/// Inserts reports of one table that are not stored yet, with one statement.
async fn insert_new_reports(
    conn: &mut PgConnection,
    table: ReportKind,
    inserts: &[&Insert],
) -> StoreResult<()> {
    let ids: Vec<&str> = inserts.iter().map(|r| r.report_id.as_str()).collect();
    let report_keys: Vec<&[u8]> = inserts.iter().map(|r| r.report_key.as_slice()).collect();
    let keys: Vec<&[u8]> = inserts.iter().map(|r| r.pub_key.as_slice()).collect();
    let data: Vec<&[u8]> = inserts.iter().map(|r| r.data.as_slice()).collect();
    let frequencies: Vec<i64> = inserts.iter().map(|r| r.frequency_hz).collect();
    let received: Vec<i64> = inserts.iter().map(|r| r.received_ms).collect();
    let raw: Vec<&[u8]> = inserts.iter().map(|r| r.raw.as_slice()).collect();
    match table {
        ReportKind::Beacons => {
            let entropy: Vec<&[u8]> = inserts
                .iter()
                .map(|r| r.remote_entropy.as_slice())
                .collect();
            sqlx::query(
                "INSERT INTO beacons (report_id, pub_key, data, remote_entropy, frequency_hz,
                   received_ms, raw, report_key)
                 SELECT * FROM UNNEST($1::TEXT[], $2::BYTEA[], $3::BYTEA[], $4::BYTEA[],
                   $5::BIGINT[], $6::BIGINT[], $7::BYTEA[], $8::BYTEA[])
                 ON CONFLICT (report_key) DO NOTHING",
            )
            .bind(&ids)
            .bind(keys)
            .bind(data)
            .bind(entropy)
            .bind(frequencies)
            .bind(received)
            .bind(raw)
            .bind(&report_keys)
            .execute(&mut *conn)
            .await?;
        }
        ReportKind::Witnesses => {
            sqlx::query(
                "INSERT INTO witnesses (report_id, pub_key, data, frequency_hz, received_ms,
                   rssi_ddbm, raw, report_key)
                 SELECT * FROM UNNEST($1::TEXT[], $2::BYTEA[], $3::BYTEA[], $4::BIGINT[],
                   $5::BIGINT[], $6::INT[], $7::BYTEA[], $8::BYTEA[])
                 ON CONFLICT (report_key) DO NOTHING",
            )
            .bind(&ids)
            .bind(keys)
            .bind(data)
            .bind(frequencies)
            .bind(received)
            .bind(inserts.iter().map(|r| r.rssi_ddbm).collect::<Vec<i32>>())
            .bind(raw)
            .bind(&report_keys)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Stores `jobs` in one transaction; their row ids in order.
async fn insert_group(pool: &PgPool, jobs: &[&Insert]) -> StoreResult<Vec<i64>> {
    let mut tx = pool.begin().await?;
    let mut stored = HashMap::new();
    for table in [ReportKind::Beacons, ReportKind::Witnesses] {
        let inserts: Vec<&Insert> = jobs
            .iter()
            .copied()
            .filter(|insert| insert.table == table)
            .collect();
        if !inserts.is_empty() {
            stored.insert(table, insert_reports(&mut tx, table, &inserts).await?);
        }
    }
    tx.commit().await?;
    jobs.iter()
        .map(|insert| {
            let Insert {
                table,
                report_id,
                report_key,
                ..
            } = insert;
            stored
                .get(table)
                .and_then(|ids| ids.get(report_key))
                .copied()
                .ok_or_else(|| Corrupt::NotFoundAfterInsert(report_id.clone()).into())
        })
        .collect()
}

/// The PostgreSQL store's writer of reports ([`GroupCommit`]), on the store's pool.
struct PgWriter(PgPool);

impl GroupWriter for PgWriter {
    type Input = Insert;
    type Output = i64;

    async fn write_group(&mut self, inputs: &[&Insert]) -> StoreResult<Vec<i64>> {
        insert_group(&self.0, inputs).await
    }

    async fn write_alone(&mut self, input: &Insert) -> StoreResult<i64> {
        insert_group(&self.0, &[input])
            .await?
            .first()
            .copied()
            .ok_or_else(|| Corrupt::NoRowId.into())
    }
}

/// A schema name safe to splice into SQL: ASCII letters, digits and `_`, not starting with a
/// digit, at most 63 bytes.
fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The connection holding the verifier's advisory lock; closing it ends the session and so
/// releases the lock.
struct AdvisoryLock(Option<PgConnection>);

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(async move {
                        if let Err(error) = conn.close().await {
                            tracing::warn!(%error, "closing the verifier lock's session");
                        }
                    });
                }
                // Without a runtime the socket is simply dropped; the server ends the session.
                Err(_) => drop(conn),
            }
        }
    }
}

impl PostgresStore {
    /// Connects to `url` (a `postgres://` URL) and runs the migrations in the default schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open(url, None).await
    }

    /// Connects to `url` and keeps every table in `schema` (created if missing), so that
    /// several oracles, or tests, can share one database. `schema` may hold ASCII letters,
    /// digits and `_` only.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        Self::open(url, Some(schema)).await
    }

    async fn open(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            if !valid_schema(schema) {
                return Err(StoreError::InvalidSchema(schema.to_string()));
            }
            let mut conn = options.connect().await?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let writer = GroupCommit::spawn(PgWriter(pool.clone()), MAX_GROUP, "PostgreSQL");
        Ok(Self {
            pool,
            writer,
            known: Arc::new(RwLock::new(HashSet::new())),
        })
    }

    /// Remembers that `key` is an onboarded gateway.
    fn remember_known(&self, key: [u8; 32]) {
        self.known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key);
    }

    /// Queues a report for the group commit and waits until it is committed.
    async fn commit(&self, insert: Insert) -> StoreResult<i64> {
        self.writer.submit(insert).await
    }

    /// Runs the migrations again (they are recorded, so this applies only missing ones).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets the sequence of every identity column in the store's schema to one past the
    /// column's greatest value ([`crate::ReportLogStore::take_back_spent_row_ids`]).
    async fn realign_row_ids(&self) -> StoreResult<()> {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
        )
        .fetch_all(&self.pool)
        .await?;
        for (table, column) in columns {
            let greatest = format!(
                "(SELECT MAX({}) FROM {})",
                quoted_identifier(&column),
                quoted_identifier(&table)
            );
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence(quote_ident(current_schema()) || '.' || \
                 quote_ident($1), $2), COALESCE({greatest}, 0) + 1, false)"
            ))
            .bind(&table)
            .bind(&column)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }
}

/// `name` as a PostgreSQL quoted identifier.
fn quoted_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The identity store's hooks ([`super::identity::identity_store`]).
impl PostgresStore {
    fn identity_sql<'s>(&self, sql: &'s str) -> std::borrow::Cow<'s, str> {
        std::borrow::Cow::Owned(super::identity::numbered(sql))
    }

    async fn identity_lock(&self) {}

    /// Identity writes of every process sharing the database go one at a time.
    async fn identity_begin(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE onboardings IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    fn gateway_written(&self, gateway: GatewayRow) {
        self.remember_known(gateway.pub_key);
    }
}

super::identity::identity_store!(PostgresStore, sqlx::Postgres, PgRow);

impl GatewayStore for PostgresStore {
    fn put_gateway<'a>(&'a self, g: &'a GatewayRow) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO gateways (pub_key, location, gain_ddbi, elevation_m, region, asserted_ms, raw)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
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
            self.remember_known(g.pub_key);
            Ok(())
        })
    }

    fn gateway<'a>(&'a self, key: &'a [u8; 32]) -> BoxFuture<'a, StoreResult<Option<GatewayRow>>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM gateways WHERE pub_key = $1")
                .bind(key.as_slice())
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(gateway_row).transpose()
        })
    }

    fn gateways(&self) -> BoxFuture<'_, StoreResult<Vec<GatewayRow>>> {
        Box::pin(async move {
            let rows = sqlx::query("SELECT * FROM gateways ORDER BY pub_key")
                .fetch_all(&self.pool)
                .await?;
            collect(rows, gateway_row)
        })
    }

    fn is_known_gateway<'a>(&'a self, key: &'a [u8; 32]) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let seen = self
                .known
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(key);
            if seen {
                return Ok(true);
            }
            let found = sqlx::query("SELECT 1 FROM gateways WHERE pub_key = $1")
                .bind(key.as_slice())
                .fetch_optional(&self.pool)
                .await?
                .is_some();
            if found {
                self.remember_known(*key);
            }
            Ok(found)
        })
    }

    fn gateways_with_keys<'a>(
        &'a self,
        keys: &'a [[u8; 32]],
    ) -> BoxFuture<'a, StoreResult<Vec<GatewayRow>>> {
        Box::pin(async move {
            let mut gateways = Vec::new();
            for chunk in keys.chunks(ROWS_PER_STATEMENT) {
                let keys: Vec<&[u8]> = chunk.iter().map(|k| k.as_slice()).collect();
                let rows = sqlx::query("SELECT * FROM gateways WHERE pub_key = ANY($1)")
                    .bind(keys)
                    .fetch_all(&self.pool)
                    .await?;
                gateways.extend(collect(rows, gateway_row)?);
            }
            Ok(gateways)
        })
    }
}

impl ReportStore for PostgresStore {
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
        Box::pin(self.commit(Insert {
            table: ReportKind::Beacons,
            report_id: report_id.to_string(),
            report_key: report_key(report_id),
            pub_key: r.pub_key.clone(),
            data: r.data.clone(),
            remote_entropy: r.remote_entropy.clone(),
            frequency_hz: i(r.frequency_hz),
            received_ms: i(received_ms),
            rssi_ddbm: 0,
            raw: r.encode_to_vec(),
        }))
    }

    fn insert_witness<'a>(
        &'a self,
        report_id: &'a str,
        received_ms: u64,
        r: &'a proto::WitnessReport,
    ) -> BoxFuture<'a, StoreResult<i64>> {
        Box::pin(self.commit(Insert {
            table: ReportKind::Witnesses,
            report_id: report_id.to_string(),
            report_key: report_key(report_id),
            pub_key: r.pub_key.clone(),
            data: r.data.clone(),
            remote_entropy: Vec::new(),
            frequency_hz: i(r.frequency_hz),
            received_ms: i(received_ms),
            rssi_ddbm: r.rssi_ddbm,
            raw: r.encode_to_vec(),
        }))
    }

    fn insert_rejection<'a>(&'a self, r: &'a RejectionRow) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(shared::insert_rejection(&self.pool, r))
    }
}

impl VerifyStore for PostgresStore {
    fn lock_verifier(&self) -> BoxFuture<'_, StoreResult<VerifierLock>> {
        Box::pin(async move {
            // A connection of its own, taken out of the pool, holds a session-level advisory
            // lock keyed on the schema; dropping the guard closes that session, which releases
            // the lock even if the process dies mid-verification.
            let mut conn = self.pool.acquire().await?.detach();
            sqlx::query(
                "SELECT pg_advisory_lock(hashtext(current_schema() || '.lorapoc-verifier'))",
            )
            .execute(&mut conn)
            .await?;
            Ok(VerifierLock::holding(AdvisoryLock(Some(conn))))
        })
    }

    fn pending_beacons(&self) -> BoxFuture<'_, StoreResult<Vec<BeaconRow>>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {BEACON_COLS} FROM beacons WHERE status = 'pending' ORDER BY received_ms, id"
            ))
            .fetch_all(&self.pool)
            .await?;
            collect(rows, beacon_row)
        })
    }

    fn pending_witnesses(&self) -> BoxFuture<'_, StoreResult<Vec<WitnessRow>>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "SELECT {WITNESS_COLS} FROM witnesses WHERE status = 'pending' ORDER BY received_ms, id"
            ))
            .fetch_all(&self.pool)
            .await?;
            collect(rows, witness_row)
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
            let mut beacons = Vec::new();
            for chunk in payloads.chunks(ROWS_PER_STATEMENT) {
                let rows = sqlx::query(&format!(
                    "SELECT {BEACON_COLS} FROM beacons WHERE data = ANY($1)"
                ))
                .bind(chunk)
                .fetch_all(&self.pool)
                .await?;
                beacons.extend(collect(rows, beacon_row)?);
            }
            beacons.sort_by_key(|b| (b.received_ms, b.id));
            Ok(beacons)
        })
    }

    fn witnesses_of_beacons<'a>(
        &'a self,
        beacon_ids: &'a [i64],
    ) -> BoxFuture<'a, StoreResult<Vec<WitnessRow>>> {
        Box::pin(async move {
            let mut witnesses = Vec::new();
            for chunk in beacon_ids.chunks(ROWS_PER_STATEMENT) {
                let rows = sqlx::query(&format!(
                    "SELECT {WITNESS_COLS} FROM witnesses WHERE beacon_id = ANY($1)"
                ))
                .bind(chunk)
                .fetch_all(&self.pool)
                .await?;
                witnesses.extend(collect(rows, witness_row)?);
            }
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
                let keys: Vec<&[u8]> = chunk.iter().map(|k| k.as_slice()).collect();
                let rows = sqlx::query(
                    "SELECT pub_key, MAX(received_ms) FROM beacons
                     WHERE status = 'valid' AND pub_key = ANY($1) GROUP BY pub_key",
                )
                .bind(keys)
                .fetch_all(&self.pool)
                .await?;
                for row in rows {
                    let key: Vec<u8> = row.try_get(0)?;
                    times.insert(key32(&key)?, u(row.try_get(1)?));
                }
            }
            Ok(times)
        })
    }

    fn write_verdicts<'a>(&'a self, verdicts: &'a Verdicts) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let now = i(verdicts.now_ms);
            let mut tx = self.pool.begin().await?;
            for chunk in verdicts.beacons.chunks(ROWS_PER_STATEMENT) {
                let ids: Vec<i64> = chunk.iter().map(|v| v.id).collect();
                let statuses: Vec<&str> = chunk.iter().map(|v| v.status.as_str()).collect();
                let reasons: Vec<Option<&str>> = chunk.iter().map(|v| v.reason).collect();
                sqlx::query(
                    "UPDATE beacons AS b SET status = v.status, reason = v.reason, verified_ms = $4
                     FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[]) AS v (id, status, reason)
                     WHERE b.id = v.id",
                )
                .bind(ids)
                .bind(statuses)
                .bind(reasons)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for chunk in verdicts.witnesses.chunks(ROWS_PER_STATEMENT) {
                let ids: Vec<i64> = chunk.iter().map(|v| v.id).collect();
                let statuses: Vec<&str> = chunk.iter().map(|v| v.status.as_str()).collect();
                let reasons: Vec<Option<&str>> = chunk.iter().map(|v| v.reason).collect();
                let beacons: Vec<Option<i64>> = chunk.iter().map(|v| v.beacon_id).collect();
                sqlx::query(
                    "UPDATE witnesses AS w SET status = v.status, reason = v.reason,
                       beacon_id = v.beacon_id, verified_ms = $5
                     FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[])
                       AS v (id, status, reason, beacon_id)
                     WHERE w.id = v.id",
                )
                .bind(ids)
                .bind(statuses)
                .bind(reasons)
                .bind(beacons)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

impl EpochStore for PostgresStore {
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
            let rows = sqlx::query(
                "SELECT w.id, w.beacon_id, w.pub_key, w.received_ms, w.rssi_ddbm,
                   CASE WHEN w.rssi_ddbm IS NULL THEN w.raw END
                 FROM witnesses w JOIN beacons b ON b.id = w.beacon_id
                 WHERE b.status = 'valid' AND b.received_ms >= $1 AND b.received_ms < $2
                   AND w.status = 'valid'",
            )
            .bind(i(from_ms))
            .bind(i(to_ms))
            .fetch_all(&self.pool)
            .await?;
            let mut witnesses = rows
                .iter()
                .map(|row| {
                    let key: &[u8] = row.try_get(2)?;
                    let raw: Option<&[u8]> = row.try_get(5)?;
                    epoch_witness_from_columns(
                        row.try_get(0)?,
                        row.try_get(1)?,
                        key,
                        row.try_get(3)?,
                        row.try_get(4)?,
                        raw,
                    )
                })
                .collect::<StoreResult<Vec<_>>>()?;
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
            // and reports received after the span change nothing.
            let rows = sqlx::query(&format!(
                "SELECT pub_key, status, reason, COUNT(*), MAX(received_ms) FROM (
                   SELECT pub_key, status, reason, received_ms, ROW_NUMBER() OVER (
                     PARTITION BY pub_key ORDER BY received_ms DESC, id DESC) AS rank
                   FROM {} WHERE received_ms >= $1 AND received_ms < $3) AS ranked
                 WHERE rank <= $2 GROUP BY pub_key, status, reason",
                kind.table()
            ))
            .bind(i(from_ms))
            .bind(i64::from(limit))
            .bind(i(to_ms))
            .fetch_all(&self.pool)
            .await?;
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
                "INSERT INTO epochs (epoch, closed_ms, report_json) VALUES ($1, $2, $3)
                 ON CONFLICT (epoch) DO NOTHING",
            )
            .bind(i(epoch))
            .bind(i(closed_ms))
            .bind(report_json)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 && !rows.is_empty() {
                let keys: Vec<Vec<u8>> = rows.iter().map(|r| r.pub_key.to_vec()).collect();
                let beacons: Vec<i64> = rows.iter().map(|r| i64::from(r.beacons)).collect();
                let witnesses: Vec<i64> = rows.iter().map(|r| i64::from(r.witnesses)).collect();
                let beacon_amounts: Vec<i64> = rows.iter().map(|r| i(r.beacon_amount)).collect();
                let witness_amounts: Vec<i64> = rows.iter().map(|r| i(r.witness_amount)).collect();
                let totals: Vec<i64> = rows
                    .iter()
                    .map(|r| i(r.beacon_amount.saturating_add(r.witness_amount)))
                    .collect();
                sqlx::query(
                    "INSERT INTO epoch_rewards (epoch, pub_key, beacons, witnesses,
                     beacon_amount, witness_amount, total)
                     SELECT $1, * FROM UNNEST($2::BYTEA[], $3::BIGINT[], $4::BIGINT[],
                       $5::BIGINT[], $6::BIGINT[], $7::BIGINT[])",
                )
                .bind(i(epoch))
                .bind(keys)
                .bind(beacons)
                .bind(witnesses)
                .bind(beacon_amounts)
                .bind(witness_amounts)
                .bind(totals)
                .execute(&mut *tx)
                .await?;
            }
            if inserted.rows_affected() == 1 {
                for chunk in paid.chunks(ROWS_PER_STATEMENT) {
                    let beacons: Vec<i64> = chunk.iter().map(|p| p.beacon_id).collect();
                    let witnesses: Vec<Vec<u8>> =
                        chunk.iter().map(|p| encode_ids(&p.witness_ids)).collect();
                    sqlx::query(
                        "INSERT INTO epoch_selections (beacon_id, epoch, witness_ids)
                         SELECT b, $1, w FROM UNNEST($2::BIGINT[], $3::BYTEA[]) AS v (b, w)",
                    )
                    .bind(i(epoch))
                    .bind(beacons)
                    .bind(witnesses)
                    .execute(&mut *tx)
                    .await?;
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
            let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
                "SELECT witness_ids FROM epoch_selections WHERE beacon_id = ANY($1)",
            )
            .bind(beacon_ids)
            .fetch_all(&self.pool)
            .await?;
            let mut paid = HashSet::new();
            for (bytes,) in rows {
                paid.extend(decode_ids(&bytes)?);
            }
            Ok(paid)
        })
    }
}

crate::sql::shared_sql!(PostgresStore, Postgres, PgRow);
