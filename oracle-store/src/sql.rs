//! What both stores read the same way, written once: the row decoders, the reads whose SQL
//! both databases run as it is (`$1`-style placeholders, which SQLite and sqlx's SQLite driver
//! take as well as PostgreSQL does), and the explorer's whole role.
//!
//! [`shared_sql`] expands in each store's module for its database and row type; a store
//! implements only what differs (its group commit, bulk reads and writes, and locking) and
//! hands the rest to the functions of the generated `shared` module.

/// Expands, in a store's module, to the row decoders, a `shared` module of reads and the
/// [`ExplorerStore`](crate::ExplorerStore) implementation for `$store` on database `$db`
/// (whose pool is the store's field `pool`) with rows of type `$row`.
macro_rules! shared_sql {
    ($store:ty, $db:ty, $row:ty) => {
        /// Stored integers are the databases' signed 64 bits; every value stored fits.
        fn i(v: u64) -> i64 {
            v as i64
        }

        fn u(v: i64) -> u64 {
            v as u64
        }

        fn beacon_row(row: &$row) -> StoreResult<BeaconRow> {
            let raw: Vec<u8> = row.try_get("raw")?;
            let key: Vec<u8> = row.try_get("pub_key")?;
            let status: String = row.try_get("status")?;
            Ok(BeaconRow {
                id: row.try_get("id")?,
                report_id: row.try_get("report_id")?,
                pub_key: key32(&key)?,
                received_ms: u(row.try_get("received_ms")?),
                report: proto::BeaconReport::decode(raw.as_slice())?,
                status: Status::parse(&status)?,
                reason: row.try_get("reason")?,
            })
        }

        fn witness_row(row: &$row) -> StoreResult<WitnessRow> {
            let raw: Vec<u8> = row.try_get("raw")?;
            let key: Vec<u8> = row.try_get("pub_key")?;
            let status: String = row.try_get("status")?;
            Ok(WitnessRow {
                id: row.try_get("id")?,
                report_id: row.try_get("report_id")?,
                pub_key: key32(&key)?,
                received_ms: u(row.try_get("received_ms")?),
                report: proto::WitnessReport::decode(raw.as_slice())?,
                status: Status::parse(&status)?,
                reason: row.try_get("reason")?,
                beacon_id: row.try_get("beacon_id")?,
            })
        }

        fn gateway_row(row: &$row) -> StoreResult<GatewayRow> {
            let key: Vec<u8> = row.try_get("pub_key")?;
            let location: Option<i64> = row.try_get("location")?;
            Ok(GatewayRow {
                pub_key: key32(&key)?,
                location: location.map(u),
                gain_ddbi: row.try_get("gain_ddbi")?,
                elevation_m: row.try_get("elevation_m")?,
                region: row.try_get("region")?,
                asserted_ms: u(row.try_get("asserted_ms")?),
                raw: row.try_get("raw")?,
            })
        }

        fn entropy_row(row: &$row) -> StoreResult<EntropyRow> {
            Ok(EntropyRow {
                data: row.try_get("data")?,
                timestamp_ms: u(row.try_get("timestamp_ms")?),
                raw: row.try_get("raw")?,
            })
        }

        fn rejection_row(row: &$row) -> StoreResult<RejectionRow> {
            Ok(RejectionRow {
                kind: row.try_get("kind")?,
                reason: row.try_get("reason")?,
                claimed_key: row.try_get("claimed_key")?,
                received_ms: u(row.try_get("received_ms")?),
                detail: row.try_get("detail")?,
            })
        }

        /// A [`ReportTally`] from the columns `pub_key, status, reason, COUNT(*), MAX(received_ms)`.
        fn tally_row(row: &$row) -> StoreResult<ReportTally> {
            let key: Vec<u8> = row.try_get(0)?;
            let status: String = row.try_get(1)?;
            tally_from_columns(
                &key,
                &status,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            )
        }

        fn collect<T>(rows: Vec<$row>, f: fn(&$row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
            rows.iter().map(f).collect()
        }

        fn add_counts(map: &mut BTreeMap<String, u64>, rows: Vec<$row>) -> StoreResult<()> {
            for row in rows {
                let reason: String = row.try_get(0)?;
                let count: i64 = row.try_get(1)?;
                *map.entry(reason).or_default() += u(count);
            }
            Ok(())
        }

        /// The reads both stores run with the same SQL.
        mod shared {
            use super::*;

        /// See the store trait's method of the same name.
        pub(super) async fn put_entropy(pool: &sqlx::Pool<$db>, e: &EntropyRow) -> StoreResult<()> {
            sqlx::query("INSERT INTO entropy (data, timestamp_ms, raw) VALUES ($1, $2, $3)")
                .bind(e.data.as_slice())
                .bind(i(e.timestamp_ms))
                .bind(e.raw.as_slice())
                .execute(pool)
                .await?;
            Ok(())
        }

        /// See the store trait's method of the same name.
        pub(super) async fn latest_entropy(pool: &sqlx::Pool<$db>) -> StoreResult<Option<EntropyRow>> {
            let row =
                sqlx::query("SELECT * FROM entropy ORDER BY timestamp_ms DESC, id DESC LIMIT 1")
                    .fetch_optional(pool)
                    .await?;
            row.as_ref().map(entropy_row).transpose()
        }

        /// See the store trait's method of the same name.
        pub(super) async fn entropy_by_data(pool: &sqlx::Pool<$db>, data: &[u8]) -> StoreResult<Option<EntropyRow>> {
            let row = sqlx::query("SELECT * FROM entropy WHERE data = $1")
                .bind(data)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(entropy_row).transpose()
        }

        /// See the store trait's method of the same name.
        pub(super) async fn beacon(pool: &sqlx::Pool<$db>, id: i64) -> StoreResult<Option<BeaconRow>> {
            let row = sqlx::query(&format!("SELECT {BEACON_COLS} FROM beacons WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(beacon_row).transpose()
        }

        /// See the store trait's method of the same name.
        pub(super) async fn beacons_with_data(pool: &sqlx::Pool<$db>, data: &[u8]) -> StoreResult<Vec<BeaconRow>> {
            let rows = sqlx::query(&format!(
                "SELECT {BEACON_COLS} FROM beacons WHERE data = $1 ORDER BY received_ms, id"
            ))
            .bind(data)
            .fetch_all(pool)
            .await?;
            collect(rows, beacon_row)
        }

        /// See the store trait's method of the same name.
        pub(super) async fn beacons_near(pool: &sqlx::Pool<$db>, freq_lo: u64, freq_hi: u64, from_ms: u64, to_ms: u64) -> StoreResult<Vec<BeaconRow>> {
            let rows = sqlx::query(&format!(
                "SELECT {BEACON_COLS} FROM beacons
                 WHERE frequency_hz BETWEEN $1 AND $2 AND received_ms BETWEEN $3 AND $4
                 ORDER BY received_ms, id"
            ))
            .bind(i(freq_lo))
            .bind(i(freq_hi))
            .bind(i(from_ms))
            .bind(i(to_ms))
            .fetch_all(pool)
            .await?;
            collect(rows, beacon_row)
        }

        /// See the store trait's method of the same name.
        pub(super) async fn last_valid_beacon(pool: &sqlx::Pool<$db>, key: &[u8; 32]) -> StoreResult<Option<BeaconRow>> {
            let row = sqlx::query(&format!(
                "SELECT {BEACON_COLS} FROM beacons WHERE pub_key = $1 AND status = 'valid'
                 ORDER BY received_ms DESC, id DESC LIMIT 1"
            ))
            .bind(key.as_slice())
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(beacon_row).transpose()
        }

        /// See the store trait's method of the same name.
        pub(super) async fn witnesses_of_beacon(pool: &sqlx::Pool<$db>, beacon_id: i64) -> StoreResult<Vec<WitnessRow>> {
            let rows = sqlx::query(&format!(
                "SELECT {WITNESS_COLS} FROM witnesses WHERE beacon_id = $1 ORDER BY received_ms, id"
            ))
            .bind(beacon_id)
            .fetch_all(pool)
            .await?;
            collect(rows, witness_row)
        }

        /// See the store trait's method of the same name.
        pub(super) async fn valid_beacons_between(pool: &sqlx::Pool<$db>, from_ms: u64, to_ms: u64) -> StoreResult<Vec<BeaconRow>> {
            let rows = sqlx::query(&format!(
                "SELECT {BEACON_COLS} FROM beacons
                 WHERE status = 'valid' AND received_ms >= $1 AND received_ms < $2
                 ORDER BY received_ms, id"
            ))
            .bind(i(from_ms))
            .bind(i(to_ms))
            .fetch_all(pool)
            .await?;
            collect(rows, beacon_row)
        }

        /// See the store trait's method of the same name.
        pub(super) fn stored_reports_in(pool: &sqlx::Pool<$db>, kind: ReportKind, (from_ms, to_ms): (u64, u64), (first, end): (i64, i64)) -> futures::stream::BoxStream<'_, StoreResult<StoredReport>> {
            use futures::StreamExt;
            let sql = match kind {
                ReportKind::Beacons => "SELECT id, received_ms, raw, status, reason,
                    CAST(NULL AS BIGINT) AS beacon_id FROM beacons
                    WHERE id >= $3 AND id < $4 AND received_ms >= $1 AND received_ms < $2
                    ORDER BY id",
                ReportKind::Witnesses => "SELECT id, received_ms, raw, status, reason, beacon_id
                    FROM witnesses
                    WHERE id >= $3 AND id < $4 AND received_ms >= $1 AND received_ms < $2
                    ORDER BY id",
            };
            sqlx::query(sql)
                .bind(i(from_ms))
                .bind(i(to_ms))
                .bind(first)
                .bind(end)
                .fetch(pool)
                .map(|row| {
                    let row = row?;
                    let status: String = row.try_get("status")?;
                    Ok(StoredReport {
                        id: row.try_get("id")?,
                        received_ms: u(row.try_get("received_ms")?),
                        raw: row.try_get("raw")?,
                        status: Status::parse(&status)?,
                        reason: row.try_get("reason")?,
                        beacon_id: row.try_get("beacon_id")?,
                    })
                })
                .boxed()
        }

        /// See the store trait's method of the same name.
        pub(super) async fn report_blocks(pool: &sqlx::Pool<$db>, kind: ReportKind, (from_ms, to_ms): (u64, u64), block_rows: i64) -> StoreResult<Vec<BlockCount>> {
            let rows = sqlx::query(&format!(
                "SELECT id / $3 AS block, COUNT(*) AS records FROM {}
                 WHERE received_ms >= $1 AND received_ms < $2 GROUP BY 1 ORDER BY 1",
                kind.table()
            ))
            .bind(i(from_ms))
            .bind(i(to_ms))
            .bind(block_rows.max(1))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(BlockCount {
                        block: row.try_get("block")?,
                        records: u(row.try_get("records")?),
                    })
                })
                .collect()
        }

        /// See the store trait's method of the same name.
        pub(super) async fn pending_in(pool: &sqlx::Pool<$db>, kind: ReportKind, (from_ms, to_ms): (u64, u64), (first, end): (i64, i64)) -> StoreResult<u64> {
            let row = sqlx::query(&format!(
                "SELECT COUNT(*) FROM {} WHERE id >= $3 AND id < $4
                   AND received_ms >= $1 AND received_ms < $2 AND status = 'pending'",
                kind.table()
            ))
            .bind(i(from_ms))
            .bind(i(to_ms))
            .bind(first)
            .bind(end)
            .fetch_one(pool)
            .await?;
            Ok(u(row.try_get(0)?))
        }

        /// See the store trait's method of the same name.
        pub(super) async fn report_count(pool: &sqlx::Pool<$db>, kind: ReportKind, from_ms: u64, to_ms: u64) -> StoreResult<u64> {
            let row = sqlx::query(&format!(
                "SELECT COUNT(*) FROM {} WHERE received_ms >= $1 AND received_ms < $2",
                kind.table()
            ))
            .bind(i(from_ms))
            .bind(i(to_ms))
            .fetch_one(pool)
            .await?;
            Ok(u(row.try_get(0)?))
        }

        /// See the store trait's method of the same name.
        pub(super) async fn max_report_id(pool: &sqlx::Pool<$db>, kind: ReportKind) -> StoreResult<Option<i64>> {
            let row = sqlx::query(&format!("SELECT MAX(id) FROM {}", kind.table()))
                .fetch_one(pool)
                .await?;
            Ok(row.try_get(0)?)
        }

        /// See the store trait's method of the same name.
        pub(super) async fn archive_chunks(pool: &sqlx::Pool<$db>, epoch: u64) -> StoreResult<Vec<ArchiveChunk>> {
            let rows = sqlx::query(
                "SELECT kind, block, sha256, records, bytes, pending FROM archive_chunks
                 WHERE epoch = $1 ORDER BY kind, block",
            )
            .bind(i(epoch))
            .fetch_all(pool)
            .await?;
            let mut chunks = Vec::with_capacity(rows.len());
            for row in &rows {
                let kind: String = row.try_get("kind")?;
                let Some(kind) = ReportKind::of_table(&kind) else {
                    return Err(Corrupt::ChunkKind(kind).into());
                };
                chunks.push(ArchiveChunk {
                    epoch,
                    kind,
                    block: row.try_get("block")?,
                    sha256: row.try_get("sha256")?,
                    records: u(row.try_get("records")?),
                    bytes: u(row.try_get("bytes")?),
                    pending: u(row.try_get("pending")?),
                });
            }
            chunks.sort_by_key(|c| (c.kind, c.block));
            Ok(chunks)
        }

        /// See the store trait's method of the same name.
        pub(super) async fn put_archive_chunk(pool: &sqlx::Pool<$db>, chunk: &ArchiveChunk) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO archive_chunks (epoch, kind, block, sha256, records, bytes, pending)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (epoch, kind, block) DO UPDATE SET sha256 = excluded.sha256,
                   records = excluded.records, bytes = excluded.bytes, pending = excluded.pending",
            )
            .bind(i(chunk.epoch))
            .bind(chunk.kind.table())
            .bind(chunk.block)
            .bind(&chunk.sha256)
            .bind(i(chunk.records))
            .bind(i(chunk.bytes))
            .bind(i(chunk.pending))
            .execute(pool)
            .await?;
            Ok(())
        }

        /// See the store trait's method of the same name.
        pub(super) async fn delete_archive_chunk(pool: &sqlx::Pool<$db>, epoch: u64, kind: ReportKind, block: i64) -> StoreResult<()> {
            sqlx::query("DELETE FROM archive_chunks WHERE epoch = $1 AND kind = $2 AND block = $3")
                .bind(i(epoch))
                .bind(kind.table())
                .bind(block)
                .execute(pool)
                .await?;
            Ok(())
        }

        /// See the store trait's method of the same name.
        pub(super) async fn entropy_between(pool: &sqlx::Pool<$db>, from_ms: u64, to_ms: u64) -> StoreResult<Vec<EntropyRow>> {
            let rows = sqlx::query(
                "SELECT * FROM entropy WHERE timestamp_ms >= $1 AND timestamp_ms < $2
                 ORDER BY timestamp_ms, id",
            )
            .bind(i(from_ms))
            .bind(i(to_ms))
            .fetch_all(pool)
            .await?;
            collect(rows, entropy_row)
        }

        /// See the store trait's method of the same name.
        pub(super) async fn rejection_counts_between(pool: &sqlx::Pool<$db>, from_ms: u64, to_ms: u64) -> StoreResult<BTreeMap<String, u64>> {
            let mut map = BTreeMap::new();
            for sql in [
                "SELECT reason, COUNT(*) FROM beacons WHERE status = 'invalid'
                 AND received_ms >= $1 AND received_ms < $2 GROUP BY reason",
                "SELECT reason, COUNT(*) FROM witnesses WHERE status = 'invalid'
                 AND received_ms >= $1 AND received_ms < $2 GROUP BY reason",
                "SELECT reason, COUNT(*) FROM ingest_rejections
                 WHERE received_ms >= $1 AND received_ms < $2 GROUP BY reason",
            ] {
                let rows = sqlx::query(sql)
                    .bind(i(from_ms))
                    .bind(i(to_ms))
                    .fetch_all(pool)
                    .await?;
                add_counts(&mut map, rows)?;
            }
            Ok(map)
        }

        /// See the store trait's method of the same name. (`status || ''` keeps SQLite on the
        /// time index rather than the status index, which matches most rows.)
        pub(super) async fn beacon_hearings(
            pool: &sqlx::Pool<$db>,
            from_ms: u64,
            to_ms: u64,
        ) -> StoreResult<Vec<BeaconHearing>> {
            let rows = sqlx::query(
                "SELECT pub_key, heard, MAX(received_ms) FROM (
                   SELECT b.pub_key, b.received_ms, CAST(CASE WHEN EXISTS (
                       SELECT 1 FROM witnesses w WHERE w.beacon_id = b.id AND w.status = 'valid'
                     ) THEN 1 ELSE 0 END AS BIGINT) AS heard
                   FROM beacons b
                   WHERE b.received_ms >= $1 AND b.received_ms < $2 AND b.status || '' = 'valid'
                 ) AS hearing GROUP BY pub_key, heard",
            )
            .bind(i(from_ms))
            .bind(i(to_ms))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let key: Vec<u8> = row.try_get(0)?;
                    let heard: i64 = row.try_get(1)?;
                    Ok(BeaconHearing {
                        pub_key: key32(&key)?,
                        heard: heard != 0,
                        latest_ms: u(row.try_get(2)?),
                    })
                })
                .collect()
        }

        /// See the store trait's method of the same name.
        pub(super) async fn earliest_report_ms(pool: &sqlx::Pool<$db>) -> StoreResult<Option<u64>> {
            let row = sqlx::query(
                "SELECT MIN(t) FROM (SELECT MIN(received_ms) AS t FROM beacons
                 UNION ALL SELECT MIN(received_ms) FROM witnesses
                 UNION ALL SELECT MIN(received_ms) FROM ingest_rejections) AS earliest",
            )
            .fetch_one(pool)
            .await?;
            let t: Option<i64> = row.try_get(0)?;
            Ok(t.map(u))
        }

        /// Inserts one refusal's row.
        pub(super) async fn insert_rejection<'e, E>(executor: E, r: &$crate::RejectionRow) -> StoreResult<()>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            sqlx::query(
                "INSERT INTO ingest_rejections (kind, reason, claimed_key, received_ms, detail)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&r.kind)
            .bind(&r.reason)
            .bind(r.claimed_key.as_slice())
            .bind(i(r.received_ms))
            .bind(&r.detail)
            .execute(executor)
            .await?;
            Ok(())
        }

        /// See the store trait's method of the same name.
        pub(super) async fn epoch_report(pool: &sqlx::Pool<$db>, epoch: u64) -> StoreResult<Option<String>> {
            let row = sqlx::query("SELECT report_json FROM epochs WHERE epoch = $1")
                .bind(i(epoch))
                .fetch_optional(pool)
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        }

        /// See the store trait's method of the same name.
        pub(super) async fn last_closed_epoch(pool: &sqlx::Pool<$db>) -> StoreResult<Option<u64>> {
            let row = sqlx::query("SELECT MAX(epoch) FROM epochs")
                .fetch_one(pool)
                .await?;
            let e: Option<i64> = row.try_get(0)?;
            Ok(e.map(u))
        }
        }

        impl $crate::ReportLogStore for $store {
            fn log_position<'a>(
                &'a self,
                stream: &'a str,
            ) -> BoxFuture<'a, StoreResult<Option<$crate::LogPosition>>> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT seq, time_ms, follower_state FROM report_log_positions WHERE stream = $1",
                    )
                    .bind(stream)
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(match row {
                        Some(row) => Some($crate::LogPosition {
                            seq: u(row.try_get(0)?),
                            time_ms: u(row.try_get(1)?),
                            state: row.try_get(2)?,
                        }),
                        None => None,
                    })
                })
            }

            fn set_log_position<'a>(
                &'a self,
                stream: &'a str,
                position: $crate::LogPosition,
                refusals: &'a [$crate::RejectionRow],
            ) -> BoxFuture<'a, StoreResult<()>> {
                Box::pin(async move {
                    let mut tx = self.pool.begin().await?;
                    for refusal in refusals {
                        shared::insert_rejection(&mut *tx, refusal).await?;
                    }
                    sqlx::query(
                        "INSERT INTO report_log_positions (stream, seq, time_ms, follower_state) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, \
                         time_ms = excluded.time_ms, follower_state = excluded.follower_state",
                    )
                    .bind(stream)
                    .bind(i(position.seq))
                    .bind(i(position.time_ms))
                    .bind(position.state.as_slice())
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn take_back_spent_row_ids(&self) -> BoxFuture<'_, StoreResult<()>> {
                Box::pin(self.realign_row_ids())
            }
        }

        impl $crate::ExplorerStore for $store {
            fn report_counts(&self) -> BoxFuture<'_, StoreResult<BTreeMap<[u8; 32], ReportCounts>>> {
                Box::pin(async move {
                    let mut map: BTreeMap<[u8; 32], ReportCounts> = BTreeMap::new();
                    let rows = sqlx::query(
                        "SELECT pub_key, status, COUNT(*) FROM beacons GROUP BY pub_key, status",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    for row in rows {
                        let key: Vec<u8> = row.try_get(0)?;
                        let status: String = row.try_get(1)?;
                        let n = u(row.try_get(2)?);
                        let c = map.entry(key32(&key)?).or_default();
                        match Status::parse(&status)? {
                            Status::Pending => c.beacons_pending += n,
                            Status::Valid => c.beacons_valid += n,
                            Status::Invalid => c.beacons_invalid += n,
                        }
                    }
                    let rows = sqlx::query(
                        "SELECT pub_key, status, COUNT(*) FROM witnesses GROUP BY pub_key, status",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    for row in rows {
                        let key: Vec<u8> = row.try_get(0)?;
                        let status: String = row.try_get(1)?;
                        let n = u(row.try_get(2)?);
                        let c = map.entry(key32(&key)?).or_default();
                        match Status::parse(&status)? {
                            Status::Pending => c.witnesses_pending += n,
                            Status::Valid => c.witnesses_valid += n,
                            Status::Invalid => c.witnesses_invalid += n,
                        }
                    }
                    let rows =
                        sqlx::query("SELECT pub_key, CAST(SUM(witnesses) AS BIGINT) FROM epoch_rewards GROUP BY pub_key")
                            .fetch_all(&self.pool)
                            .await?;
                    for row in rows {
                        let key: Vec<u8> = row.try_get(0)?;
                        map.entry(key32(&key)?).or_default().witnesses_selected = u(row.try_get(1)?);
                    }
                    Ok(map)
                })
            }

            fn recent_beacons<'a>(
                &'a self,
                key: &'a [u8; 32],
                limit: u32,
            ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>> {
                Box::pin(async move {
                    let rows = sqlx::query(&format!(
                        "SELECT {BEACON_COLS} FROM beacons WHERE pub_key = $1
                         ORDER BY received_ms DESC, id DESC LIMIT $2"
                    ))
                    .bind(key.as_slice())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    collect(rows, beacon_row)
                })
            }

            fn recent_witnesses<'a>(
                &'a self,
                key: &'a [u8; 32],
                limit: u32,
            ) -> BoxFuture<'a, StoreResult<Vec<WitnessRow>>> {
                Box::pin(async move {
                    let rows = sqlx::query(&format!(
                        "SELECT {WITNESS_COLS} FROM witnesses WHERE pub_key = $1
                         ORDER BY received_ms DESC, id DESC LIMIT $2"
                    ))
                    .bind(key.as_slice())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    collect(rows, witness_row)
                })
            }

            fn recent_rejections<'a>(
                &'a self,
                key: &'a [u8],
                limit: u32,
            ) -> BoxFuture<'a, StoreResult<Vec<RejectionRow>>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT kind, reason, claimed_key, received_ms, detail FROM ingest_rejections
                         WHERE claimed_key = $1 ORDER BY received_ms DESC, id DESC LIMIT $2",
                    )
                    .bind(key)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    collect(rows, rejection_row)
                })
            }

            fn reason_counts<'a>(
                &'a self,
                key: &'a [u8; 32],
            ) -> BoxFuture<'a, StoreResult<BTreeMap<String, u64>>> {
                Box::pin(async move {
                    let mut map = BTreeMap::new();
                    for sql in [
                        "SELECT reason, COUNT(*) FROM beacons WHERE status = 'invalid' AND pub_key = $1
                         GROUP BY reason",
                        "SELECT reason, COUNT(*) FROM witnesses WHERE status = 'invalid' AND pub_key = $1
                         GROUP BY reason",
                        "SELECT reason, COUNT(*) FROM ingest_rejections WHERE claimed_key = $1
                         GROUP BY reason",
                    ] {
                        let rows = sqlx::query(sql)
                            .bind(key.as_slice())
                            .fetch_all(&self.pool)
                            .await?;
                        add_counts(&mut map, rows)?;
                    }
                    Ok(map)
                })
            }

            fn table_counts(&self) -> BoxFuture<'_, StoreResult<BTreeMap<String, u64>>> {
                Box::pin(async move {
                    let mut map = BTreeMap::new();
                    for (name, sql) in [
                        ("gateways", "SELECT COUNT(*) FROM gateways"),
                        (
                            "gateways_asserted",
                            "SELECT COUNT(*) FROM gateways WHERE location IS NOT NULL",
                        ),
                        ("entropy", "SELECT COUNT(*) FROM entropy"),
                        ("beacons", "SELECT COUNT(*) FROM beacons"),
                        (
                            "beacons_valid",
                            "SELECT COUNT(*) FROM beacons WHERE status = 'valid'",
                        ),
                        (
                            "beacons_invalid",
                            "SELECT COUNT(*) FROM beacons WHERE status = 'invalid'",
                        ),
                        (
                            "beacons_pending",
                            "SELECT COUNT(*) FROM beacons WHERE status = 'pending'",
                        ),
                        ("witnesses", "SELECT COUNT(*) FROM witnesses"),
                        (
                            "witnesses_valid",
                            "SELECT COUNT(*) FROM witnesses WHERE status = 'valid'",
                        ),
                        (
                            "witnesses_invalid",
                            "SELECT COUNT(*) FROM witnesses WHERE status = 'invalid'",
                        ),
                        (
                            "witnesses_pending",
                            "SELECT COUNT(*) FROM witnesses WHERE status = 'pending'",
                        ),
                        (
                            "witnesses_selected",
                            "SELECT CAST(COALESCE(SUM(witnesses), 0) AS BIGINT) FROM epoch_rewards",
                        ),
                        (
                            "ingest_rejections",
                            "SELECT COUNT(*) FROM ingest_rejections",
                        ),
                        ("epochs_closed", "SELECT COUNT(*) FROM epochs"),
                    ] {
                        let row = sqlx::query(sql).fetch_one(&self.pool).await?;
                        let n: i64 = row.try_get(0)?;
                        map.insert(name.to_string(), u(n));
                    }
                    Ok(map)
                })
            }

            fn closed_epochs(
                &self,
                offset: u64,
                limit: u32,
            ) -> BoxFuture<'_, StoreResult<Vec<EpochSummaryRow>>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT e.epoch, e.closed_ms, COUNT(r.pub_key), CAST(COALESCE(SUM(r.total), 0) AS BIGINT)
                         FROM epochs e LEFT JOIN epoch_rewards r ON r.epoch = e.epoch
                         GROUP BY e.epoch, e.closed_ms ORDER BY e.epoch DESC LIMIT $1 OFFSET $2",
                    )
                    .bind(i64::from(limit))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(EpochSummaryRow {
                                epoch: u(row.try_get(0)?),
                                closed_ms: u(row.try_get(1)?),
                                hotspots: u(row.try_get(2)?),
                                total: u(row.try_get(3)?),
                            })
                        })
                        .collect()
                })
            }

            fn reward_totals(&self) -> BoxFuture<'_, StoreResult<BTreeMap<[u8; 32], RewardTotals>>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT pub_key, COUNT(*), CAST(SUM(beacon_amount) AS BIGINT),
                           CAST(SUM(witness_amount) AS BIGINT), CAST(SUM(total) AS BIGINT)
                         FROM epoch_rewards GROUP BY pub_key",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    let mut map = BTreeMap::new();
                    for row in rows {
                        let key: Vec<u8> = row.try_get(0)?;
                        map.insert(
                            key32(&key)?,
                            RewardTotals {
                                epochs: u(row.try_get(1)?),
                                beacon_amount: u(row.try_get(2)?),
                                witness_amount: u(row.try_get(3)?),
                                total: u(row.try_get(4)?),
                            },
                        );
                    }
                    Ok(map)
                })
            }

            fn beacon_history<'a>(
                &'a self,
                key: &'a [u8; 32],
                offset: u64,
                limit: u32,
            ) -> BoxFuture<'a, StoreResult<Vec<BeaconRow>>> {
                Box::pin(async move {
                    let rows = sqlx::query(&format!(
                        "SELECT {BEACON_COLS} FROM beacons WHERE pub_key = $1
                         ORDER BY received_ms DESC, id DESC LIMIT $2 OFFSET $3"
                    ))
                    .bind(key.as_slice())
                    .bind(i64::from(limit))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                    collect(rows, beacon_row)
                })
            }

            fn witness_history<'a>(
                &'a self,
                key: &'a [u8; 32],
                offset: u64,
                limit: u32,
            ) -> BoxFuture<'a, StoreResult<Vec<WitnessRow>>> {
                Box::pin(async move {
                    let rows = sqlx::query(&format!(
                        "SELECT {WITNESS_COLS} FROM witnesses WHERE pub_key = $1
                         ORDER BY received_ms DESC, id DESC LIMIT $2 OFFSET $3"
                    ))
                    .bind(key.as_slice())
                    .bind(i64::from(limit))
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                    collect(rows, witness_row)
                })
            }
        }
    };
}

pub(crate) use shared_sql;
