//! Migration `0004_report_key` of both stores: reports stored before it are still recognised as
//! replays after it (by the key derived from their stored report id), whatever their id.

use oracle::ingest::report_id;
use oracle::store::{PostgresStore, SqliteStore, Store};
use poc::proto;
use prost::Message;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::str::FromStr;

fn witness(seed: u8) -> proto::WitnessReport {
    proto::WitnessReport {
        pub_key: vec![seed; 32],
        data: vec![seed, 1, 2, 3],
        frequency_hz: 904_100_000,
        rssi_ddbm: -1_000,
        ..Default::default()
    }
}

fn beacon(seed: u8) -> proto::BeaconReport {
    proto::BeaconReport {
        pub_key: vec![seed; 32],
        data: vec![seed, 9, 9],
        remote_entropy: vec![seed; 4],
        frequency_hz: 904_100_000,
        ..Default::default()
    }
}

/// The migrations up to 0003, the last before report keys.
fn before_report_keys(mut migrator: Migrator) -> Migrator {
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= 3)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    migrator
}

/// The reports stored before the migration: a witness with a digest id, one with an id that
/// is not a digest, a beacon.
fn old_reports() -> (Vec<(String, proto::WitnessReport)>, proto::BeaconReport) {
    let canonical = witness(1);
    let witnesses = vec![
        (report_id(&canonical), canonical),
        ("an id that is not a digest".to_string(), witness(2)),
    ];
    (witnesses, beacon(3))
}

/// Rows stored the way the stores did up to migration 0003, in SQL with `?` placeholders.
const OLD_WITNESS_ROW: &str = "INSERT INTO witnesses (report_id, pub_key, data, frequency_hz, \
     received_ms, rssi_ddbm, raw) VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id";
const OLD_BEACON_ROW: &str = "INSERT INTO beacons (report_id, pub_key, data, remote_entropy, \
     frequency_hz, received_ms, raw) VALUES (?, ?, ?, ?, 904100000, 1, ?) RETURNING id";

/// `sql` with PostgreSQL's numbered placeholders (`$1`, `$2`, …) instead of `?`.
fn numbered(sql: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Stores [`old_reports`]' rows in `$pool` (either store's pool; `$dialect` turns the SQL
/// into its placeholders); their row ids, witnesses then the beacon.
macro_rules! store_old_rows {
    ($pool:expr, $dialect:expr) => {{
        let (witnesses, beacon) = old_reports();
        let witness_sql = $dialect(OLD_WITNESS_ROW);
        let mut witness_rows: Vec<i64> = Vec::new();
        for (id, r) in &witnesses {
            witness_rows.push(
                sqlx::query_scalar(&witness_sql)
                    .bind(id)
                    .bind(&r.pub_key)
                    .bind(&r.data)
                    .bind(r.frequency_hz as i64)
                    .bind(r.rssi_ddbm)
                    .bind(r.encode_to_vec())
                    .fetch_one($pool)
                    .await
                    .unwrap(),
            );
        }
        let beacon_row: i64 = sqlx::query_scalar(&$dialect(OLD_BEACON_ROW))
            .bind(report_id(&beacon))
            .bind(&beacon.pub_key)
            .bind(&beacon.data)
            .bind(&beacon.remote_entropy)
            .bind(beacon.encode_to_vec())
            .fetch_one($pool)
            .await
            .unwrap();
        (witness_rows, beacon_row)
    }};
}

/// Checks that nothing was stored twice: the two old witnesses and the one new, the one beacon.
macro_rules! nothing_stored_twice {
    ($pool:expr) => {
        for (table, expected) in [("witnesses", 3), ("beacons", 1)] {
            let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one($pool)
                .await
                .unwrap();
            assert_eq!(count, expected, "{table}");
        }
    };
}

/// Submits the old reports again, and one new witness, to the migrated store: each old one
/// gets its old row id.
async fn replays_find_the_old_rows(
    store: &dyn Store,
    witnesses: &[(String, proto::WitnessReport)],
    witness_rows: &[i64],
    old_beacon: &proto::BeaconReport,
    beacon_row: i64,
) {
    for ((id, report), row) in witnesses.iter().zip(witness_rows) {
        assert_eq!(
            store.insert_witness(id, 2, report).await.unwrap(),
            *row,
            "{id}"
        );
    }
    let new = witness(4);
    let replayed = store
        .insert_witnesses(
            2,
            &[
                (witnesses[0].0.clone(), &witnesses[0].1),
                (report_id(&new), &new),
            ],
        )
        .await
        .unwrap();
    assert_eq!(replayed[0], witness_rows[0]);
    assert!(replayed[1] > witness_rows[1]);
    let beacon_id = report_id(old_beacon);
    assert_eq!(
        store
            .insert_beacon(&beacon_id, 2, old_beacon)
            .await
            .unwrap(),
        beacon_row
    );
}

#[tokio::test]
async fn sqlite_reports_stored_before_the_report_key_are_still_found_as_replays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("before-0004.sqlite");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    before_report_keys(sqlx::migrate!("../oracle-store/migrations/sqlite"))
        .run(&pool)
        .await
        .unwrap();
    let (witnesses, old_beacon) = old_reports();
    let (witness_rows, beacon_row) = store_old_rows!(&pool, |sql: &str| sql.to_string());
    pool.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    replays_find_the_old_rows(&store, &witnesses, &witness_rows, &old_beacon, beacon_row).await;
    let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    nothing_stored_twice!(&pool);
}

#[tokio::test]
async fn postgres_reports_stored_before_the_report_key_are_still_found_as_replays() {
    let Some(url) = crate::common::database_url("the PostgreSQL migration test") else {
        return;
    };
    let schema = format!("report_key_{}", std::process::id());
    let admin = PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let pool = PgPool::connect_with(options).await.unwrap();
    before_report_keys(sqlx::migrate!("../oracle-store/migrations/postgres"))
        .run(&pool)
        .await
        .unwrap();
    let (witnesses, old_beacon) = old_reports();
    let (witness_rows, beacon_row) = store_old_rows!(&pool, numbered);

    let store = PostgresStore::connect_in_schema(&url, &schema)
        .await
        .unwrap();
    replays_find_the_old_rows(&store, &witnesses, &witness_rows, &old_beacon, beacon_row).await;
    nothing_stored_twice!(&pool);
    drop(store);
    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}
