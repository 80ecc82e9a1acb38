//! SQLite migration `0004_report_key`: reports stored before it are still recognised as
//! replays after it (by the key derived from their stored report id), whatever their id.

use oracle::ingest::report_id;
use oracle::store::{SqliteStore, Store};
use poc::proto;
use prost::Message;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

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

/// Stores rows the way the store did up to migration 0003; their row ids.
async fn store_as_before(
    pool: &SqlitePool,
    reports: &[(String, proto::WitnessReport)],
) -> Vec<i64> {
    let mut ids = Vec::new();
    for (id, r) in reports {
        let row: i64 = sqlx::query_scalar(
            "INSERT INTO witnesses (report_id, pub_key, data, frequency_hz, received_ms, rssi_ddbm, raw) \
             VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id",
        )
        .bind(id)
        .bind(&r.pub_key)
        .bind(&r.data)
        .bind(r.frequency_hz as i64)
        .bind(r.rssi_ddbm)
        .bind(r.encode_to_vec())
        .fetch_one(pool)
        .await
        .unwrap();
        ids.push(row);
    }
    ids
}

#[tokio::test]
async fn reports_stored_before_the_report_key_are_still_found_as_replays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("before-0004.sqlite");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= 3)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    migrator.run(&pool).await.unwrap();
    let canonical = witness(1);
    let odd = witness(2);
    let old = vec![
        (report_id(&canonical), canonical.clone()),
        ("an id that is not a digest".to_string(), odd.clone()),
    ];
    let old_rows = store_as_before(&pool, &old).await;
    let old_beacon = beacon(3);
    let beacon_row: i64 = sqlx::query_scalar(
        "INSERT INTO beacons (report_id, pub_key, data, remote_entropy, frequency_hz, received_ms, raw) \
         VALUES (?, ?, ?, ?, 904100000, 1, ?) RETURNING id",
    )
    .bind(report_id(&old_beacon))
    .bind(&old_beacon.pub_key)
    .bind(&old_beacon.data)
    .bind(&old_beacon.remote_entropy)
    .bind(old_beacon.encode_to_vec())
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&path).await.unwrap();
    for ((id, report), row) in old.iter().zip(&old_rows) {
        assert_eq!(
            store.insert_witness(id, 2, report).await.unwrap(),
            *row,
            "{id}"
        );
    }
    let replayed = store
        .insert_witnesses(
            2,
            &[
                (old[0].0.clone(), &canonical),
                (report_id(&witness(4)), &witness(4)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(replayed[0], old_rows[0]);
    assert!(replayed[1] > old_rows[1]);
    assert_eq!(
        store
            .insert_beacon(&report_id(&old_beacon), 2, &old_beacon)
            .await
            .unwrap(),
        beacon_row
    );
    // Nothing was stored twice: the two old witnesses and the one new, the one beacon.
    let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    for (table, expected) in [("witnesses", 3), ("beacons", 1)] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, expected, "{table}");
    }
}
