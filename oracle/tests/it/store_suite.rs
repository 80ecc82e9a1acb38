//! One test suite for every [`Store`]: each test is written once, generically, and run against
//! the SQLite store (a temporary directory) and the PostgreSQL store (`DATABASE_URL`, each test
//! in a fresh schema of its own, dropped afterwards, so tests run in parallel and repeatedly).
//!
//! Without `DATABASE_URL` the PostgreSQL half is skipped with a note, unless `CI` is set, in
//! which case it fails.

use futures::TryStreamExt;
use oracle::store::{
    ArchiveChunk, BeaconVerdict, BlockCount, EntropyRow, GatewayRow, PaidBeacon, PostgresStore,
    RejectionRow, ReportKind, ReportTally, RewardRow, SqliteStore, Status, Store, Verdicts,
    WitnessVerdict,
};
use poc::proto;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where a test's database lives; opens any number of store handles on it.
enum Fixture {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl Fixture {
    fn sqlite() -> Self {
        Fixture::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh schema, or `None` (after a note) when no PostgreSQL is configured outside CI.
    fn postgres(test: &str) -> Option<Self> {
        let url = crate::common::database_url(&format!("the PostgreSQL half of {test}"))?;
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        // PostgreSQL names hold at most 63 bytes.
        let short: String = test.chars().take(24).collect();
        let schema = format!(
            "suite_{short}_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000,
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        Some(Fixture::Postgres { url, schema })
    }

    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Fixture::Sqlite(dir) => Arc::new(
                SqliteStore::open(&dir.path().join("oracle.sqlite"))
                    .await
                    .unwrap(),
            ),
            Fixture::Postgres { url, schema } => {
                Arc::new(PostgresStore::connect_in_schema(url, schema).await.unwrap())
            }
        }
    }

    /// Inserts `rows` rows into each of `tables` in a transaction that is rolled back: a write
    /// that failed. (`'\x00'` is a byte string to PostgreSQL and text that SQLite stores as
    /// it is; the rows are gone either way.)
    async fn failed_inserts(&self, tables: &[&str], rows: usize) {
        use sqlx::Connection;
        let mut script = String::from("BEGIN;");
        for table in tables {
            let (columns, values) = match *table {
                "beacons" => ("remote_entropy, ", "'\\x00', "),
                _ => ("", ""),
            };
            for _ in 0..rows {
                script += &format!(
                    "INSERT INTO {table} (report_id, pub_key, data, {columns}frequency_hz, \
                     received_ms, raw) VALUES ('failed', '\\x00', '\\x00', {values}1, 1, '\\x00');"
                );
            }
        }
        script += "ROLLBACK;";
        match self {
            Fixture::Sqlite(dir) => {
                let url = format!("sqlite://{}", dir.path().join("oracle.sqlite").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(&script).execute(&mut conn).await.unwrap();
            }
            Fixture::Postgres { url, schema } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let script = format!("SET search_path TO {schema}; {script}");
                sqlx::raw_sql(&script).execute(&mut conn).await.unwrap();
            }
        }
    }

    fn is_postgres(&self) -> bool {
        matches!(self, Fixture::Postgres { .. })
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Fixture::Postgres { url, schema } = self {
            let (url, schema) = (url.clone(), schema.clone());
            // A runtime of its own: Drop may run inside the test's runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .execute(&mut conn)
                            .await;
                        let _ = conn.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Generates, for each generic test `name(&Fixture)`, one test per store.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = super::Fixture::sqlite();
                    super::$name(&fixture).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(fixture) = super::Fixture::postgres(stringify!($name)) {
                        super::$name(&fixture).await;
                    }
                }
            )*
        }
    };
}

suite!(
    gateways_upsert_and_list,
    entropy_latest_and_by_data,
    reports_round_trip_and_queries,
    verdicts_selection_and_counts,
    bulk_lookups_verdicts_and_tallies,
    rejections_and_reason_counts,
    epochs_are_stored_once,
    concurrent_handles_insert_without_collisions,
    migrations_are_idempotent,
    verifier_lock_is_exclusive,
    oracle_end_to_end,
    oracle_batch_ingest,
    beacon_hearings_split_heard_from_unheard,
    report_log_positions_are_kept_per_stream,
    replays_spend_no_row_id,
    failed_writes_spend_no_row_id_once_taken_back,
    archive_blocks_and_chunks,
);

fn key(i: u8) -> [u8; 32] {
    [i; 32]
}

fn gateway(i: u8, location: Option<u64>, asserted_ms: u64) -> GatewayRow {
    GatewayRow {
        pub_key: key(i),
        location,
        gain_ddbi: 30 + i32::from(i),
        elevation_m: 5,
        region: 1,
        asserted_ms,
        raw: vec![i, 1, 2],
    }
}

fn beacon(i: u8, data: &[u8], freq: u64) -> proto::BeaconReport {
    proto::BeaconReport {
        pub_key: key(i).to_vec(),
        local_entropy: vec![1, 2, 3, 4],
        remote_entropy: vec![9; 32],
        data: data.to_vec(),
        frequency_hz: freq,
        spreading_factor: 10,
        bandwidth_hz: 125_000,
        tx_power_ddbm: 270,
        timestamp_ns: 7,
        signature: vec![0; 64],
    }
}

fn witness(i: u8, data: &[u8], freq: u64) -> proto::WitnessReport {
    proto::WitnessReport {
        pub_key: key(i).to_vec(),
        data: data.to_vec(),
        timestamp_ns: 8,
        rssi_ddbm: -1000 - i32::from(i),
        snr_ddb: 50,
        frequency_hz: freq,
        spreading_factor: 10,
        bandwidth_hz: 125_000,
        channel: 0,
        signature: vec![1; 64],
    }
}

async fn gateways_upsert_and_list(f: &Fixture) {
    let s = f.open().await;
    assert_eq!(s.gateway(&key(1)).await.unwrap(), None);
    assert!(s.gateways().await.unwrap().is_empty());
    s.put_gateway(&gateway(2, None, 10)).await.unwrap();
    s.put_gateway(&gateway(1, Some(0x08c2_a107_2b59_ffff), 10))
        .await
        .unwrap();
    assert_eq!(
        s.gateway(&key(2)).await.unwrap(),
        Some(gateway(2, None, 10))
    );
    // Replacing keeps one row with the new values.
    let moved = gateway(2, Some(u64::MAX >> 1), 20);
    s.put_gateway(&moved).await.unwrap();
    let all = s.gateways().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].pub_key, key(1), "ordered by key");
    assert_eq!(all[1], moved);
    let counts = s.table_counts().await.unwrap();
    assert_eq!(counts["gateways"], 2);
    assert_eq!(counts["gateways_asserted"], 2);
}

async fn report_log_positions_are_kept_per_stream(f: &Fixture) {
    use oracle::store::LogPosition;
    let s = f.open().await;
    assert_eq!(s.log_position("A").await.unwrap(), None);
    let first = LogPosition {
        seq: 7,
        time_ms: 1_000,
        state: Vec::new(),
    };
    s.set_log_position("A", first.clone(), &[]).await.unwrap();
    assert_eq!(s.log_position("A").await.unwrap(), Some(first.clone()));
    assert_eq!(s.log_position("B").await.unwrap(), None);
    let later = LogPosition {
        seq: 9,
        time_ms: 2_500,
        state: b"{\"open\":[]}".to_vec(),
    };
    s.set_log_position("A", later.clone(), &[]).await.unwrap();
    s.set_log_position("B", first.clone(), &[]).await.unwrap();
    assert_eq!(s.log_position("A").await.unwrap(), Some(later));
    assert_eq!(s.log_position("B").await.unwrap(), Some(first));
}

async fn entropy_latest_and_by_data(f: &Fixture) {
    let s = f.open().await;
    assert_eq!(s.latest_entropy().await.unwrap(), None);
    let e1 = EntropyRow {
        data: vec![1; 32],
        timestamp_ms: 1_000,
        raw: vec![1, 1],
    };
    let e2 = EntropyRow {
        data: vec![2; 32],
        timestamp_ms: 2_000,
        raw: vec![2, 2],
    };
    s.put_entropy(&e2).await.unwrap();
    s.put_entropy(&e1).await.unwrap();
    assert_eq!(s.latest_entropy().await.unwrap(), Some(e2.clone()));
    assert_eq!(s.entropy_by_data(&e1.data).await.unwrap(), Some(e1.clone()));
    assert_eq!(s.entropy_by_data(&[3; 32]).await.unwrap(), None);
    // The same data cannot be published twice.
    assert!(s.put_entropy(&e1).await.is_err());
    assert_eq!(s.table_counts().await.unwrap()["entropy"], 2);
}

/// A replayed report (an operator applying a log entry again after a crash) is answered with
/// its stored row, and the next report gets the row id it would have got without the replay:
/// operators sharing a report log must number every report alike.
async fn replays_spend_no_row_id(f: &Fixture) {
    let s = f.open().await;
    let b1 = beacon(1, b"payload-one", 904_100_000);
    let b2 = beacon(2, b"payload-two", 905_300_000);
    let id1 = s.insert_beacon("r1", 5_000, &b1).await.unwrap();
    assert_eq!(s.insert_beacon("r1", 5_000, &b1).await.unwrap(), id1);
    assert_eq!(s.insert_beacon("r2", 6_000, &b2).await.unwrap(), id1 + 1);
    let w1 = witness(3, b"payload-one", 904_100_050);
    let w2 = witness(4, b"payload-one", 904_099_900);
    let w3 = witness(5, b"payload-one", 904_100_000);
    let wid1 = s.insert_witness("w1", 5_500, &w1).await.unwrap();
    // A batch holding the stored report and a new one twice.
    let batch = [
        ("w1".to_string(), &w1),
        ("w2".to_string(), &w2),
        ("w2".to_string(), &w2),
    ];
    let ids = s.insert_witnesses(5_600, &batch).await.unwrap();
    assert_eq!(ids, vec![wid1, wid1 + 1, wid1 + 1]);
    assert_eq!(s.insert_witness("w3", 5_700, &w3).await.unwrap(), wid1 + 2);
}

/// A write transaction that fails (here: rolled back) may spend row ids, as PostgreSQL's
/// sequences do; once the store takes them back, the next report gets the id it would have got
/// without the failure.
async fn failed_writes_spend_no_row_id_once_taken_back(f: &Fixture) {
    let s = f.open().await;
    let id1 = s
        .insert_beacon("r1", 5_000, &beacon(1, b"payload-one", 904_100_000))
        .await
        .unwrap();
    let wid1 = s
        .insert_witness("w1", 5_500, &witness(3, b"payload-one", 904_100_050))
        .await
        .unwrap();
    f.failed_inserts(&["beacons", "witnesses"], 3).await;
    s.take_back_spent_row_ids().await.unwrap();
    let b2 = beacon(2, b"payload-two", 905_300_000);
    assert_eq!(s.insert_beacon("r2", 6_000, &b2).await.unwrap(), id1 + 1);
    let w2 = witness(4, b"payload-one", 904_099_900);
    assert_eq!(s.insert_witness("w2", 6_500, &w2).await.unwrap(), wid1 + 1);
    // Again with nothing spent: it moves nothing.
    s.take_back_spent_row_ids().await.unwrap();
    let b3 = beacon(5, b"payload-three", 905_300_000);
    assert_eq!(s.insert_beacon("r3", 7_000, &b3).await.unwrap(), id1 + 2);
}

async fn reports_round_trip_and_queries(f: &Fixture) {
    let s = f.open().await;
    assert_eq!(s.earliest_report_ms().await.unwrap(), None);
    let b1 = beacon(1, b"payload-one", 904_100_000);
    let b2 = beacon(2, b"payload-two", 905_300_000);
    let id1 = s.insert_beacon("r1", 5_000, &b1).await.unwrap();
    let id2 = s.insert_beacon("r2", 6_000, &b2).await.unwrap();
    assert_ne!(id1, id2);
    let w1 = witness(3, b"payload-one", 904_100_050);
    let w2 = witness(4, b"payload-one", 904_099_900);
    let wid1 = s.insert_witness("w1", 5_500, &w1).await.unwrap();
    let wid2 = s.insert_witness("w2", 5_400, &w2).await.unwrap();
    assert_ne!(wid1, wid2);
    assert_eq!(s.earliest_report_ms().await.unwrap(), Some(5_000));

    let row = s.beacon(id1).await.unwrap().unwrap();
    assert_eq!(row.id, id1);
    assert_eq!(row.report_id, "r1");
    assert_eq!(row.pub_key, key(1));
    assert_eq!(row.received_ms, 5_000);
    assert_eq!(row.report, b1);
    assert_eq!(row.status, Status::Pending);
    assert_eq!(row.reason, None);
    assert_eq!(s.beacon(id2 + 1_000).await.unwrap(), None);

    let pending: Vec<i64> = s
        .pending_beacons()
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(pending, vec![id1, id2]);
    let pending = s.pending_witnesses().await.unwrap();
    assert_eq!(
        pending.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![wid2, wid1],
        "oldest first"
    );
    assert_eq!(pending[1].report, w1);
    assert_eq!(pending[1].beacon_id, None);

    let same = s.beacons_with_data(b"payload-one").await.unwrap();
    assert_eq!(same.len(), 1);
    assert_eq!(same[0].id, id1);
    assert!(s.beacons_with_data(b"nothing").await.unwrap().is_empty());

    let near = s
        .beacons_near(904_000_000, 904_200_000, 4_000, 5_000)
        .await
        .unwrap();
    assert_eq!(near.iter().map(|b| b.id).collect::<Vec<_>>(), vec![id1]);
    assert!(s
        .beacons_near(904_000_000, 904_200_000, 5_001, 9_000)
        .await
        .unwrap()
        .is_empty());
    let both = s
        .beacons_near(900_000_000, 910_000_000, 0, u64::MAX >> 1)
        .await
        .unwrap();
    assert_eq!(both.len(), 2);

    assert_eq!(s.last_valid_beacon(&key(1)).await.unwrap(), None);
    let recent = s.recent_beacons(&key(1), 10).await.unwrap();
    assert_eq!(recent.len(), 1);
    let recent = s.recent_witnesses(&key(3), 10).await.unwrap();
    assert_eq!(recent[0].id, wid1);

    // Histories page newest first.
    for n in 0..5u64 {
        s.insert_beacon(&format!("h{n}"), 10_000 + n, &b2)
            .await
            .unwrap();
    }
    let page = s.beacon_history(&key(2), 1, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|b| b.received_ms).collect::<Vec<_>>(),
        vec![10_003, 10_002]
    );
    assert_eq!(s.recent_beacons(&key(2), 3).await.unwrap().len(), 3);
    let page = s.witness_history(&key(4), 0, 5).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, wid2);
    assert!(s.witness_history(&key(4), 1, 5).await.unwrap().is_empty());

    let counts = s.table_counts().await.unwrap();
    assert_eq!(counts["beacons"], 7);
    assert_eq!(counts["beacons_pending"], 7);
    assert_eq!(counts["witnesses"], 2);
    assert_eq!(counts["witnesses_pending"], 2);
}

async fn verdicts_selection_and_counts(f: &Fixture) {
    let s = f.open().await;
    let b = beacon(1, b"beacon", 904_100_000);
    let bid = s.insert_beacon("b", 1_000, &b).await.unwrap();
    let other = s
        .insert_beacon("b2", 90_000, &beacon(1, b"other", 904_100_000))
        .await
        .unwrap();
    let mut wids = Vec::new();
    for i in 2..7u8 {
        wids.push(
            s.insert_witness(
                &format!("w{i}"),
                1_000 + u64::from(i),
                &witness(i, b"beacon", 1),
            )
            .await
            .unwrap(),
        );
    }
    let beacon_verdicts = vec![
        BeaconVerdict {
            id: bid,
            status: Status::Valid,
            reason: None,
        },
        BeaconVerdict {
            id: other,
            status: Status::Invalid,
            reason: Some("irregular_interval"),
        },
    ];
    s.write_verdicts(&Verdicts {
        now_ms: 2_000,
        beacons: beacon_verdicts,
        witnesses: Vec::new(),
    })
    .await
    .unwrap();
    assert_eq!(
        s.last_valid_beacon(&key(1)).await.unwrap().map(|b| b.id),
        Some(bid)
    );
    assert_eq!(s.pending_beacons().await.unwrap().len(), 0);
    let row = s.beacon(other).await.unwrap().unwrap();
    assert_eq!(row.status, Status::Invalid);
    assert_eq!(row.reason.as_deref(), Some("irregular_interval"));

    let witness_verdicts = wids
        .iter()
        .enumerate()
        .map(|(n, &id)| WitnessVerdict {
            id,
            status: if n == 4 {
                Status::Invalid
            } else {
                Status::Valid
            },
            reason: (n == 4).then_some("too_close"),
            beacon_id: Some(bid),
        })
        .collect();
    s.write_verdicts(&Verdicts {
        now_ms: 2_000,
        beacons: Vec::new(),
        witnesses: witness_verdicts,
    })
    .await
    .unwrap();
    assert!(s.pending_witnesses().await.unwrap().is_empty());
    let of = s.witnesses_of_beacon(bid).await.unwrap();
    assert_eq!(of.iter().map(|w| w.id).collect::<Vec<_>>(), wids);
    assert!(of.iter().all(|w| w.beacon_id == Some(bid)));
    assert!(s.witnesses_of_beacon(other).await.unwrap().is_empty());

    // Nothing is paid before an epoch closes; the close stores what it paid with the epoch.
    assert!(s.paid_witnesses(&[bid, other]).await.unwrap().is_empty());
    let reward = |k: u8, beacons: u32, witnesses: u32| RewardRow {
        pub_key: key(k),
        beacons,
        witnesses,
        beacon_amount: u64::from(beacons) * 10,
        witness_amount: u64::from(witnesses) * 40,
    };
    let paid = [PaidBeacon {
        beacon_id: bid,
        witness_ids: vec![wids[1], wids[3]],
    }];
    s.put_epoch(
        0,
        5_000,
        "{}",
        &[reward(1, 1, 0), reward(3, 0, 1), reward(5, 0, 1)],
        &paid,
    )
    .await
    .unwrap();
    let paid_ids = s.paid_witnesses(&[bid, other]).await.unwrap();
    assert_eq!(paid_ids, [wids[1], wids[3]].into_iter().collect());
    assert!(s.paid_witnesses(&[other]).await.unwrap().is_empty());
    // A second close of the same epoch keeps the first.
    s.put_epoch(0, 6_000, "{}", &[], &[]).await.unwrap();
    assert_eq!(s.paid_witnesses(&[bid]).await.unwrap(), paid_ids);

    let valid = s.valid_beacons_between(1_000, 1_001).await.unwrap();
    assert_eq!(valid.iter().map(|b| b.id).collect::<Vec<_>>(), vec![bid]);
    assert!(s.valid_beacons_between(0, 1_000).await.unwrap().is_empty());
    assert!(s
        .valid_beacons_between(1_001, 100_000)
        .await
        .unwrap()
        .is_empty());

    let counts = s.report_counts().await.unwrap();
    let b_counts = counts[&key(1)];
    assert_eq!(b_counts.beacons_valid, 1);
    assert_eq!(b_counts.beacons_invalid, 1);
    assert_eq!(b_counts.beacons_pending, 0);
    assert_eq!(counts[&key(3)].witnesses_valid, 1);
    assert_eq!(counts[&key(3)].witnesses_selected, 1);
    assert_eq!(counts[&key(6)].witnesses_invalid, 1);
    assert_eq!(counts[&key(6)].witnesses_selected, 0);
    let tables = s.table_counts().await.unwrap();
    assert_eq!(tables["beacons_valid"], 1);
    assert_eq!(tables["beacons_invalid"], 1);
    assert_eq!(tables["witnesses_valid"], 4);
    assert_eq!(tables["witnesses_invalid"], 1);
    assert_eq!(tables["witnesses_selected"], 2);

    let reasons = s.rejection_counts_between(0, 100_000).await.unwrap();
    assert_eq!(reasons.get("irregular_interval"), Some(&1));
    assert_eq!(reasons.get("too_close"), Some(&1));
    let reasons = s.rejection_counts_between(0, 50_000).await.unwrap();
    assert_eq!(reasons.get("irregular_interval"), None);
}

/// The bulk methods the verifier and the epoch close use: lookups by many keys, payloads and
/// beacons, verdicts written in one call (more rows than one statement takes), and tallies of
/// each hotspot's latest reports.
async fn bulk_lookups_verdicts_and_tallies(f: &Fixture) {
    let s = f.open().await;
    for i in [1, 2] {
        s.put_gateway(&gateway(
            i,
            Some(600_000_000_000_000_000 + u64::from(i)),
            10,
        ))
        .await
        .unwrap();
    }
    let mut found: Vec<[u8; 32]> = s
        .gateways_with_keys(&[key(2), key(9), key(1)])
        .await
        .unwrap()
        .iter()
        .map(|g| g.pub_key)
        .collect();
    found.sort();
    assert_eq!(found, vec![key(1), key(2)]);
    assert!(s.is_known_gateway(&key(1)).await.unwrap());
    assert!(!s.is_known_gateway(&key(9)).await.unwrap());
    if f.is_postgres() {
        // Another process onboards a gateway: an unknown key is asked about again.
        let other = f.open().await;
        other.put_gateway(&gateway(9, None, 10)).await.unwrap();
        assert!(s.is_known_gateway(&key(9)).await.unwrap());
    }

    let b1 = s
        .insert_beacon("b1", 1_000, &beacon(1, b"p1", 904_100_000))
        .await
        .unwrap();
    let b2 = s
        .insert_beacon("b2", 2_000, &beacon(1, b"p2", 904_100_000))
        .await
        .unwrap();
    let b3 = s
        .insert_beacon("b3", 1_500, &beacon(2, b"p1", 904_100_000))
        .await
        .unwrap();
    let by_payload: Vec<i64> = s
        .beacons_with_payloads(&[b"zz".to_vec(), b"p1".to_vec()])
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(by_payload, vec![b1, b3]);

    // Enough witnesses of b1 to take several statements.
    let inserts = (0..700u32).map(|n| {
        let s = s.clone();
        async move {
            let w = witness(3 + (n % 200) as u8, b"p1", 904_100_000);
            s.insert_witness(&format!("w{n}"), 1_001 + u64::from(n), &w)
                .await
                .unwrap()
        }
    });
    let wids: Vec<i64> = futures::future::join_all(inserts).await;
    let orphan = s
        .insert_witness("orphan", 1_900, &witness(2, b"p9", 904_100_000))
        .await
        .unwrap();
    let waiting = s
        .insert_witness("waiting", 1_950, &witness(2, b"p2", 904_100_000))
        .await
        .unwrap();

    let mut verdicts = Verdicts {
        now_ms: 5_000,
        beacons: vec![
            BeaconVerdict {
                id: b1,
                status: Status::Valid,
                reason: None,
            },
            BeaconVerdict {
                id: b2,
                status: Status::Invalid,
                reason: Some("irregular_interval"),
            },
        ],
        ..Verdicts::default()
    };
    assert!(!verdicts.is_empty());
    for (n, &id) in wids.iter().enumerate() {
        let (status, reason) = if n % 7 == 3 {
            (Status::Invalid, Some("too_close"))
        } else {
            (Status::Valid, None)
        };
        verdicts.witnesses.push(WitnessVerdict {
            id,
            status,
            reason,
            beacon_id: Some(b1),
        });
    }
    verdicts.witnesses.push(WitnessVerdict {
        id: orphan,
        status: Status::Invalid,
        reason: Some("unknown_beacon"),
        beacon_id: None,
    });
    s.write_verdicts(&verdicts).await.unwrap();

    // The epoch close's narrow read: the valid witnesses of the valid beacons of a span, in
    // the order of their beacon and receive time, with their RSSI.
    let read: Vec<(i64, i64, [u8; 32], u64, i32)> = s
        .epoch_witnesses(0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|w| (w.id, w.beacon_id, w.pub_key, w.received_ms, w.rssi_ddbm))
        .collect();
    let expected: Vec<(i64, i64, [u8; 32], u64, i32)> = wids
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 7 != 3)
        .map(|(n, &id)| {
            let listener = 3 + (n % 200) as u8;
            (
                id,
                b1,
                key(listener),
                1_001 + n as u64,
                -1000 - i32::from(listener),
            )
        })
        .collect();
    assert_eq!(read, expected);
    assert!(s.epoch_witnesses(1_001, 10_000).await.unwrap().is_empty());

    assert_eq!(s.beacon(b1).await.unwrap().unwrap().status, Status::Valid);
    let invalid = s.beacon(b2).await.unwrap().unwrap();
    assert_eq!(invalid.status, Status::Invalid);
    assert_eq!(invalid.reason.as_deref(), Some("irregular_interval"));
    assert_eq!(s.beacon(b3).await.unwrap().unwrap().status, Status::Pending);
    let of_b1 = s.witnesses_of_beacon(b1).await.unwrap();
    assert_eq!(of_b1.iter().map(|w| w.id).collect::<Vec<_>>(), wids);
    for (n, w) in of_b1.iter().enumerate() {
        if n % 7 == 3 {
            assert_eq!(w.status, Status::Invalid);
            assert_eq!(w.reason.as_deref(), Some("too_close"));
        } else {
            assert_eq!((w.status, w.reason.as_deref()), (Status::Valid, None));
        }
    }
    let pending: Vec<i64> = s
        .pending_witnesses()
        .await
        .unwrap()
        .iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(pending, vec![waiting]);
    let tables = s.table_counts().await.unwrap();
    assert_eq!(tables["witnesses_invalid"], 100 + 1);
    assert_eq!(
        tables["witnesses_selected"], 0,
        "nothing is paid before a close"
    );
    assert!(s.witnesses_of_beacons(&[b2, b3]).await.unwrap().is_empty());

    let last = s
        .last_valid_beacon_times(&[key(1), key(2), key(9)])
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last.get(&key(1)), Some(&1_000));

    let tallies = |from: u64, to: u64, limit: u32| {
        let s = s.clone();
        async move {
            let mut t = s
                .report_tallies(ReportKind::Beacons, from, to, limit)
                .await
                .unwrap();
            t.sort_by_key(|t| (t.pub_key, t.latest_ms));
            t
        }
    };
    let tally =
        |k: u8, status: Status, reason: Option<&str>, count: u64, latest_ms: u64| ReportTally {
            pub_key: key(k),
            status,
            reason: reason.map(str::to_string),
            count,
            latest_ms,
        };
    assert_eq!(
        tallies(0, 10_000, 10).await,
        vec![
            tally(1, Status::Valid, None, 1, 1_000),
            tally(1, Status::Invalid, Some("irregular_interval"), 1, 2_000),
            tally(2, Status::Pending, None, 1, 1_500),
        ]
    );
    // Only each hotspot's latest report counts; reports after the span change nothing.
    assert_eq!(
        tallies(0, 10_000, 1).await,
        vec![
            tally(1, Status::Invalid, Some("irregular_interval"), 1, 2_000),
            tally(2, Status::Pending, None, 1, 1_500),
        ]
    );
    assert_eq!(
        tallies(0, 2_000, 1).await,
        vec![
            tally(1, Status::Valid, None, 1, 1_000),
            tally(2, Status::Pending, None, 1, 1_500),
        ]
    );
    assert_eq!(
        tallies(1_200, 10_000, 10).await,
        vec![
            tally(1, Status::Invalid, Some("irregular_interval"), 1, 2_000),
            tally(2, Status::Pending, None, 1, 1_500),
        ]
    );
    let witnesses = s
        .report_tallies(ReportKind::Witnesses, 0, 10_000, 2_000)
        .await
        .unwrap();
    let count = |status: Status| -> u64 {
        witnesses
            .iter()
            .filter(|t| t.status == status)
            .map(|t| t.count)
            .sum()
    };
    assert_eq!(count(Status::Valid), 600);
    assert_eq!(count(Status::Invalid), 101);
    assert_eq!(count(Status::Pending), 1);
}

async fn rejections_and_reason_counts(f: &Fixture) {
    let s = f.open().await;
    let rejection = |reason: &str, claimed: Vec<u8>, at: u64| RejectionRow {
        kind: "witness".into(),
        reason: reason.into(),
        claimed_key: claimed,
        received_ms: at,
        detail: format!("detail {at}"),
    };
    s.insert_rejection(&rejection("bad_signature", key(7).to_vec(), 100))
        .await
        .unwrap();
    s.insert_rejection(&rejection("bad_signature", key(7).to_vec(), 200))
        .await
        .unwrap();
    s.insert_rejection(&rejection("malformed", vec![1, 2, 3], 300))
        .await
        .unwrap();
    let recent = s.recent_rejections(&key(7), 10).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0], rejection("bad_signature", key(7).to_vec(), 200));
    assert_eq!(s.recent_rejections(&key(7), 1).await.unwrap().len(), 1);
    assert_eq!(s.recent_rejections(&[1, 2, 3], 5).await.unwrap().len(), 1);
    assert_eq!(s.earliest_report_ms().await.unwrap(), Some(100));

    let wid = s
        .insert_witness("w", 150, &witness(7, b"x", 1))
        .await
        .unwrap();
    let too_far = WitnessVerdict {
        id: wid,
        status: Status::Invalid,
        reason: Some("too_far"),
        beacon_id: None,
    };
    s.write_verdicts(&Verdicts {
        now_ms: 400,
        beacons: Vec::new(),
        witnesses: vec![too_far],
    })
    .await
    .unwrap();
    let reasons = s.reason_counts(&key(7)).await.unwrap();
    assert_eq!(reasons.get("bad_signature"), Some(&2));
    assert_eq!(reasons.get("too_far"), Some(&1));
    assert_eq!(reasons.get("malformed"), None);
    let between = s.rejection_counts_between(150, 301).await.unwrap();
    assert_eq!(between.get("bad_signature"), Some(&1));
    assert_eq!(between.get("malformed"), Some(&1));
    assert_eq!(between.get("too_far"), Some(&1));
    assert_eq!(s.table_counts().await.unwrap()["ingest_rejections"], 3);
}

/// HIP-106 reads: a hotspot's valid beacons grouped by whether a valid witness heard them;
/// pending, invalid and out-of-span beacons and invalid witnesses count for nothing.
async fn beacon_hearings_split_heard_from_unheard(f: &Fixture) {
    let s = f.open().await;
    let heard = s
        .insert_beacon("heard", 100, &beacon(1, b"a", 1))
        .await
        .unwrap();
    let unheard = s
        .insert_beacon("unheard", 200, &beacon(1, b"b", 1))
        .await
        .unwrap();
    let lonely = s
        .insert_beacon("lonely", 150, &beacon(2, b"c", 1))
        .await
        .unwrap();
    let doubted = s
        .insert_beacon("doubted", 160, &beacon(3, b"d", 1))
        .await
        .unwrap();
    let late = s
        .insert_beacon("late", 5_000, &beacon(4, b"e", 1))
        .await
        .unwrap();
    let invalid = s
        .insert_beacon("invalid", 170, &beacon(5, b"f", 1))
        .await
        .unwrap();
    s.insert_beacon("pending", 180, &beacon(6, b"g", 1))
        .await
        .unwrap();
    let good = s
        .insert_witness("w1", 101, &witness(9, b"a", 1))
        .await
        .unwrap();
    let bad = s
        .insert_witness("w2", 161, &witness(9, b"d", 1))
        .await
        .unwrap();
    let of_late = s
        .insert_witness("w3", 5_001, &witness(9, b"e", 1))
        .await
        .unwrap();
    let of_invalid = s
        .insert_witness("w4", 171, &witness(9, b"f", 1))
        .await
        .unwrap();
    let beacon_verdict = |id, status| BeaconVerdict {
        id,
        status,
        reason: (status == Status::Invalid).then_some("irregular_interval"),
    };
    let witness_verdict = |id, status, beacon_id| WitnessVerdict {
        id,
        status,
        reason: (status == Status::Invalid).then_some("too_close"),
        beacon_id: Some(beacon_id),
    };
    s.write_verdicts(&Verdicts {
        now_ms: 6_000,
        beacons: [heard, unheard, lonely, doubted, late]
            .into_iter()
            .map(|id| beacon_verdict(id, Status::Valid))
            .chain([beacon_verdict(invalid, Status::Invalid)])
            .collect(),
        witnesses: vec![
            witness_verdict(good, Status::Valid, heard),
            witness_verdict(bad, Status::Invalid, doubted),
            witness_verdict(of_late, Status::Valid, late),
            witness_verdict(of_invalid, Status::Valid, invalid),
        ],
    })
    .await
    .unwrap();
    let mut rows: Vec<(u8, bool, u64)> = s
        .beacon_hearings(0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.pub_key[0], h.heard, h.latest_ms))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            (1, false, 200),
            (1, true, 100),
            (2, false, 150),
            (3, false, 160)
        ]
    );
}

async fn epochs_are_stored_once(f: &Fixture) {
    let s = f.open().await;
    assert_eq!(s.last_closed_epoch().await.unwrap(), None);
    assert_eq!(s.epoch_report(5).await.unwrap(), None);
    let rows = |amount: u64| {
        (1..=3u8)
            .map(|i| RewardRow {
                pub_key: key(i),
                beacons: u32::from(i),
                witnesses: 2 * u32::from(i),
                beacon_amount: amount * u64::from(i),
                witness_amount: amount,
            })
            .collect::<Vec<_>>()
    };
    s.put_epoch(5, 1_000, "{\"epoch\":5}", &rows(10), &[])
        .await
        .unwrap();
    s.put_epoch(7, 2_000, "{\"epoch\":7}", &rows(100), &[])
        .await
        .unwrap();
    s.put_epoch(6, 3_000, "{\"epoch\":6}", &[], &[])
        .await
        .unwrap();
    // A second close of epoch 5 keeps the first.
    s.put_epoch(5, 9_000, "{\"other\":1}", &rows(1_000_000), &[])
        .await
        .unwrap();
    assert_eq!(
        s.epoch_report(5).await.unwrap().as_deref(),
        Some("{\"epoch\":5}")
    );
    assert_eq!(s.last_closed_epoch().await.unwrap(), Some(7));
    let listed = s.closed_epochs(0, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        vec![7, 6, 5]
    );
    assert_eq!(listed[0].hotspots, 3);
    assert_eq!(listed[0].total, 100 * 6 + 300);
    assert_eq!(listed[1].hotspots, 0);
    assert_eq!(listed[1].total, 0);
    assert_eq!(listed[2].closed_ms, 1_000);
    let page = s.closed_epochs(1, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].epoch, 6);
    let totals = s.reward_totals().await.unwrap();
    assert_eq!(totals.len(), 3);
    let t = totals[&key(2)];
    assert_eq!(t.epochs, 2);
    assert_eq!(t.beacon_amount, 20 + 200);
    assert_eq!(t.witness_amount, 110);
    assert_eq!(t.total, 330);
    assert_eq!(s.table_counts().await.unwrap()["epochs_closed"], 3);
}

async fn concurrent_handles_insert_without_collisions(f: &Fixture) {
    const PER_TASK: u64 = 150;
    let a = f.open().await;
    let b = f.open().await;
    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..PER_TASK {
                let report = witness(n as u8, &i.to_le_bytes(), 1);
                ids.push(
                    store
                        .insert_witness(&format!("{n}-{i}"), 1_000 + i, &report)
                        .await
                        .unwrap(),
                );
                if i % 50 == 0 {
                    store
                        .insert_beacon(&format!("b{n}-{i}"), i, &beacon(n as u8, b"b", 1))
                        .await
                        .unwrap();
                    store.put_gateway(&gateway(9, Some(i), i)).await.unwrap();
                }
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "every id is unique");
    let counts = b.table_counts().await.unwrap();
    assert_eq!(counts["witnesses"], 4 * PER_TASK);
    assert_eq!(counts["beacons"], 4 * 3);
    assert_eq!(counts["gateways"], 1);
    // Every handle sees every row.
    assert_eq!(
        a.pending_witnesses().await.unwrap().len() as u64,
        4 * PER_TASK
    );
}

async fn migrations_are_idempotent(f: &Fixture) {
    let first = f.open().await;
    first.put_gateway(&gateway(1, None, 1)).await.unwrap();
    let id = first
        .insert_beacon("b", 10, &beacon(1, b"d", 1))
        .await
        .unwrap();
    // Opening again (migrating again), and two handles opening at once, keep the data.
    let (second, third) = tokio::join!(f.open(), f.open());
    for store in [&second, &third] {
        assert_eq!(store.gateways().await.unwrap().len(), 1);
        assert_eq!(store.beacon(id).await.unwrap().unwrap().report_id, "b");
    }
    if let Fixture::Postgres { url, schema } = f {
        let pg = PostgresStore::connect_in_schema(url, schema).await.unwrap();
        pg.migrate().await.unwrap();
        pg.migrate().await.unwrap();
    }
    // New ids continue after the old ones.
    let next = third
        .insert_beacon("c", 11, &beacon(1, b"e", 1))
        .await
        .unwrap();
    assert!(next > id);
}

async fn verifier_lock_is_exclusive(f: &Fixture) {
    let a = f.open().await;
    let b = f.open().await;
    let held = a.lock_verifier().await.unwrap();
    if f.is_postgres() {
        // Another handle (another process, as far as the server knows) waits for it.
        let waiting = tokio::time::timeout(Duration::from_millis(300), b.lock_verifier()).await;
        assert!(waiting.is_err(), "the lock was taken twice");
        drop(held);
        let again = tokio::time::timeout(Duration::from_secs(10), b.lock_verifier())
            .await
            .expect("the lock is released when dropped")
            .unwrap();
        drop(again);
    } else {
        drop(held);
    }
    // Taken and released repeatedly.
    for _ in 0..3 {
        let lock = tokio::time::timeout(Duration::from_secs(10), a.lock_verifier())
            .await
            .unwrap()
            .unwrap();
        drop(lock);
    }
}

/// The oracle's own behaviour over this store: a beacon, its witnesses, verification and an
/// epoch closed with shares summing to the emission.
async fn oracle_end_to_end(f: &Fixture) {
    use crate::common::*;
    let store = f.open().await;
    let net = Net::over_store(store.clone());
    let (beaconer, w1, beacon, _) = net.baseline().await;
    let w2 = net.hotspot(3, (AUSTIN.0, AUSTIN.1 + 0.03)).await;
    let w3 = net.hotspot(4, (AUSTIN.0 - 0.02, AUSTIN.1)).await;
    net.oracle
        .submit_witness(witness_report(&w2, &beacon, RSSI, SNR))
        .await
        .unwrap();
    // Too loud for the distance: invalid.
    net.oracle
        .submit_witness(witness_report(&w3, &beacon, 0, SNR))
        .await
        .unwrap();
    net.settle().await;
    assert_eq!(net.beacon_verdict(&beaconer).await.0, Status::Valid);
    assert_eq!(net.witness_verdict(&w1).await.0, Status::Valid);
    assert_eq!(net.witness_verdict(&w2).await.0, Status::Valid);
    assert_eq!(
        net.witness_verdict(&w3).await,
        (Status::Invalid, Some("rssi_too_high".to_string()))
    );

    let epoch = START_MS / DAY_MS;
    net.clock.set(net.oracle.epoch_ready_at_ms(epoch));
    let report = net.oracle.close_epoch(epoch).await.unwrap();
    assert_eq!(report.beacons_valid, 1);
    assert_eq!(report.witnesses_valid, 2);
    // How many of the valid witnesses the epoch pays is the reward rules' business
    // (reciprocity may hold them back); the store counts exactly what the close paid.
    assert!(report.witnesses_selected <= 2);
    assert_eq!(
        store.table_counts().await.unwrap()["witnesses_selected"],
        report.witnesses_selected
    );
    // Who is paid depends on the reward rules (reputation may hold new hotspots back); only
    // the three participants can be.
    let paid: Vec<String> = [&beaconer, &w1, &w2]
        .iter()
        .map(|h| h.key.address().to_string())
        .collect();
    assert!(report.rewards.iter().all(|r| paid.contains(&r.address)));
    let total: u64 = report.rewards.iter().map(|r| r.total).sum();
    assert_eq!(total + report.undistributed, report.emission);
    assert_eq!(report.rejections.get("rssi_too_high"), Some(&1));
    assert_eq!(store.last_closed_epoch().await.unwrap(), Some(epoch));
    assert_eq!(net.oracle.close_epoch(epoch).await.unwrap(), report);
}

/// A batch of witness reports over this store: each report gets the decision it gets alone
/// (accepted with its id, or refused for the same reason with the same detail), replays and
/// duplicates within the batch are stored once, refused reports are recorded and not stored,
/// and an oversized batch changes nothing.
async fn oracle_batch_ingest(f: &Fixture) {
    use crate::common::*;
    use oracle::ingest::{IngestError, MAX_BATCH};
    let store = f.open().await;
    let net = Net::over_store(store.clone());
    // The baseline's witness report is stored already: in the batch it is a replay.
    let (_, w1, beacon, stored) = net.baseline().await;
    let w2 = net.hotspot(3, (AUSTIN.0, AUSTIN.1 + 0.03)).await;
    let stranger = Hotspot {
        key: poc::Keypair::from_seed(99, 1),
        location: 0,
        gain: GAIN,
        region: proto::Region::Us915,
    };
    let good = witness_report(&w2, &beacon, RSSI, SNR);
    let other_good = witness_report(&w2, &beacon, RSSI - 10, SNR);
    let forged = resign(
        witness_report(&w1, &beacon, RSSI - 20, SNR),
        &poc::Keypair::from_seed(5, 5),
    );
    let mut empty = witness_report(&w1, &beacon, RSSI, SNR);
    empty.data.clear();
    let empty = resign(empty, &w1.key);
    let mut short_key = witness_report(&w1, &beacon, RSSI, SNR);
    short_key.pub_key.pop();
    let unknown = witness_report(&stranger, &beacon, RSSI, SNR);
    let mut altered = witness_report(&w2, &beacon, RSSI - 30, SNR);
    altered.snr_ddb += 1;
    let batch = vec![
        good.clone(),
        forged,
        stored.clone(),
        empty,
        good.clone(),
        short_key,
        unknown,
        other_good.clone(),
        altered,
    ];
    let before = store.table_counts().await.unwrap();
    let results = net.oracle.submit_witnesses(batch.clone()).await.unwrap();
    assert_eq!(results.len(), batch.len());
    let after = store.table_counts().await.unwrap();
    // good (twice in the batch) and other_good are new; the replay is not stored again.
    assert_eq!(after["witnesses"], before["witnesses"] + 2);
    assert_eq!(after["ingest_rejections"], before["ingest_rejections"] + 5);
    let decision = |r: &Result<proto::SubmitResp, IngestError>| match r {
        Ok(ack) => Ok(ack.id.clone()),
        Err(IngestError::Rejected { reason, detail }) => {
            Err(format!("{}: {detail}", reason.code()))
        }
        Err(other) => panic!("not a per-report decision: {other}"),
    };
    let reasons: Vec<Option<&str>> = results
        .iter()
        .map(|r| r.as_ref().err().and_then(|e| e.reason()).map(|r| r.code()))
        .collect();
    assert_eq!(
        reasons,
        [
            None,
            Some("bad_signature"),
            None,
            Some("malformed"),
            None,
            Some("malformed"),
            Some("unknown_gateway"),
            None,
            Some("bad_signature"),
        ]
    );
    assert_eq!(decision(&results[0]), decision(&results[4]));
    assert_eq!(
        decision(&results[2]),
        Ok(oracle::ingest::report_id(&stored))
    );
    // Alone, each report gets the same decision (accepted ones are replays by now, with the
    // same id; refused ones are refused again, for the same reason and detail).
    for (report, in_batch) in batch.iter().zip(&results) {
        let alone = net.oracle.submit_witness(report.clone()).await;
        assert_eq!(decision(&alone), decision(in_batch));
    }
    let end = store.table_counts().await.unwrap();
    assert_eq!(end["witnesses"], after["witnesses"]);
    assert_eq!(end["ingest_rejections"], after["ingest_rejections"] + 5);
    let rows = store.recent_witnesses(&w2.pub_key(), 100).await.unwrap();
    let id = oracle::ingest::report_id(&good);
    assert_eq!(rows.iter().filter(|r| r.report_id == id).count(), 1);

    // Over the limit: refused whole, nothing stored or recorded.
    let oversized = vec![good; MAX_BATCH + 1];
    assert!(matches!(
        net.oracle.submit_witnesses(oversized).await,
        Err(IngestError::BatchTooLarge(n)) if n == MAX_BATCH + 1
    ));
    // A full batch of one report is fine (each a replay of the first).
    let full = vec![other_good.clone(); MAX_BATCH];
    let results = net.oracle.submit_witnesses(full).await.unwrap();
    let other_id = oracle::ingest::report_id(&other_good);
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_ok_and(|ack| ack.id == other_id)));
    assert_eq!(store.table_counts().await.unwrap(), end);
    assert!(net
        .oracle
        .submit_witnesses(Vec::new())
        .await
        .unwrap()
        .is_empty());
}

async fn archive_blocks_and_chunks(f: &Fixture) {
    let s = f.open().await;
    assert_eq!(s.max_report_id(ReportKind::Witnesses).await.unwrap(), None);
    let mut ids = Vec::new();
    for n in 0..7u64 {
        // Two in the span [1 000, 2 000), the others after it.
        let at = if n < 4 { 1_000 + n * 200 } else { 2_500 };
        let w = witness(n as u8 + 1, b"payload", 904_100_000);
        ids.push(s.insert_witness(&format!("w{n}"), at, &w).await.unwrap());
    }
    let span = (1_000, 2_000);
    let first = ids[0];
    let block_rows = 2;
    s.write_verdicts(&Verdicts {
        now_ms: 3_000,
        beacons: Vec::new(),
        witnesses: vec![WitnessVerdict {
            id: ids[1],
            status: Status::Invalid,
            reason: Some("orphan"),
            beacon_id: None,
        }],
    })
    .await
    .unwrap();
    let counts = s
        .report_blocks(ReportKind::Witnesses, span, block_rows)
        .await
        .unwrap();
    let mut expected: Vec<BlockCount> = Vec::new();
    for id in &ids[..4] {
        match expected.last_mut() {
            Some(b) if b.block == id / block_rows => b.records += 1,
            _ => expected.push(BlockCount {
                block: id / block_rows,
                records: 1,
            }),
        }
    }
    assert_eq!(counts, expected);
    let pending = |ids| s.pending_in(ReportKind::Witnesses, span, ids);
    assert_eq!(pending((first, first + 1)).await.unwrap(), 1);
    assert_eq!(
        pending((first, ids[1] + 1)).await.unwrap(),
        1,
        "the second is decided"
    );
    assert_eq!(
        pending((first, i64::MAX)).await.unwrap(),
        2 + 1,
        "three pending in the span"
    );
    assert_eq!(
        s.report_count(ReportKind::Witnesses, 1_000, 2_000)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        s.report_count(ReportKind::Beacons, 1_000, 2_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.max_report_id(ReportKind::Witnesses).await.unwrap(),
        ids.last().copied()
    );
    let stored: Vec<_> = s
        .stored_reports_in(ReportKind::Witnesses, span, (ids[1], ids[3]))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[1], ids[2]]
    );
    assert_eq!(stored[0].status, Status::Invalid);
    assert_eq!(stored[0].reason.as_deref(), Some("orphan"));
    assert_eq!(stored[1].received_ms, 1_400);

    let chunk = |kind, block, records| ArchiveChunk {
        epoch: 9,
        kind,
        block,
        sha256: format!("{block:064x}"),
        records,
        bytes: 10 * records,
        pending: 0,
    };
    s.put_archive_chunk(&chunk(ReportKind::Witnesses, 3, 2))
        .await
        .unwrap();
    s.put_archive_chunk(&chunk(ReportKind::Witnesses, 1, 2))
        .await
        .unwrap();
    s.put_archive_chunk(&chunk(ReportKind::Beacons, 5, 1))
        .await
        .unwrap();
    // A block written again replaces its record.
    s.put_archive_chunk(&chunk(ReportKind::Witnesses, 3, 4))
        .await
        .unwrap();
    assert_eq!(
        s.archive_chunks(9).await.unwrap(),
        vec![
            chunk(ReportKind::Beacons, 5, 1),
            chunk(ReportKind::Witnesses, 1, 2),
            chunk(ReportKind::Witnesses, 3, 4),
        ]
    );
    s.delete_archive_chunk(9, ReportKind::Witnesses, 1)
        .await
        .unwrap();
    assert_eq!(s.archive_chunks(9).await.unwrap().len(), 2);
    assert!(s.archive_chunks(8).await.unwrap().is_empty());
}
