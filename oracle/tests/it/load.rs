//! A small load run over real gRPC connections: many concurrent clients, signed reports of many
//! hotspots, replays among them; nothing acknowledged may be missing from the store, nothing
//! may be stored unacknowledged, and nothing may be refused. (Figures: the `oracle-load`
//! binary.)

use crate::common::START_MS;
use oracle::load::{self, LoadConfig};
use oracle::store::{PostgresStore, SqliteStore, Store};
use oracle::{ManualClock, Oracle, OracleConfig};
use std::sync::Arc;

async fn run_against(store: Arc<dyn Store>) -> load::LoadReport {
    let oracle = Oracle::with_store(
        OracleConfig::open(),
        store,
        poc::Keypair::from_seed(1, 1),
        Arc::new(ManualClock::new(START_MS)),
    );
    let (addr, server) = oracle
        .serve_grpc("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = LoadConfig {
        clients: 32,
        reports: 3_000,
        hotspots: 50,
        witnesses_per_beacon: 5,
        batch: 0,
    };
    let report = load::run(&oracle, addr, &config).await.unwrap();
    server.abort();
    println!("{report}");
    assert_eq!(report.submitted, 3_000);
    assert_eq!(report.error_count(), 0, "{:?}", report.errors);
    assert_eq!(report.acknowledged, report.submitted);
    assert_eq!(report.wrong_ids, 0);
    assert_eq!(
        report.lost, 0,
        "acknowledged reports missing from the store"
    );
    assert_eq!(report.unacknowledged_stored, 0);
    assert_eq!(report.stored_acknowledged, report.acknowledged);
    assert_eq!(report.latencies_us.len(), 3_000);
    let counts = oracle.store().table_counts().await.unwrap();
    assert_eq!(counts["beacons"] + counts["witnesses"], 3_000);
    assert_eq!(counts["beacons"], 500);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingest_on_sqlite_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("oracle.sqlite"))
        .await
        .unwrap();
    run_against(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingest_on_postgres_loses_nothing() {
    let Some(url) = crate::common::database_url("the PostgreSQL load test") else {
        return;
    };
    let schema = format!("load_test_{}", std::process::id());
    let store = PostgresStore::connect_in_schema(&url, &schema)
        .await
        .unwrap();
    run_against(Arc::new(store)).await;
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_operators_sharing_a_report_log_each_store_every_acknowledged_report() {
    use oracle::config::ReportLogConfig;
    use oracle::report_log::ReportLog;
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let keys: Vec<poc::Keypair> = (0..3).map(|i| poc::Keypair::from_seed(9, i)).collect();
    let stream = format!("TEST_LOAD_{:016x}", rand::random::<u64>());
    let mut config = OracleConfig::open();
    config.report_log = ReportLogConfig {
        url: Some(url.clone()),
        stream: stream.clone(),
        operators: keys.iter().map(|k| k.address().to_string()).collect(),
        ..ReportLogConfig::default()
    };
    let wall = Arc::new(ManualClock::new(START_MS));
    let dir = tempfile::tempdir().unwrap();
    let mut operators = Vec::new();
    let mut tasks = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let path = dir.path().join(format!("{i}.sqlite"));
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        let log = ReportLog::connect(&config.report_log, wall.clone())
            .await
            .unwrap();
        let oracle = Oracle::with_report_log(config.clone(), store, key, log);
        let (addr, server) = oracle
            .serve_grpc("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let follower = oracle.clone();
        tasks.push(server);
        tasks.push(tokio::spawn(async move {
            follower.follow_log(std::future::pending()).await.unwrap();
        }));
        operators.push((oracle, addr));
    }
    let config = LoadConfig {
        clients: 12,
        reports: 3_000,
        hotspots: 50,
        witnesses_per_beacon: 5,
        batch: 16,
    };
    let report = load::run_operators(&operators, &config).await.unwrap();
    println!("{report}");
    assert_eq!(report.error_count(), 0, "{:?}", report.errors);
    assert_eq!(report.acknowledged, 3_000);
    assert_eq!(report.lost, 0, "an operator misses an acknowledged report");
    assert_eq!(report.unacknowledged_stored, 0);
    assert_eq!(report.stored_acknowledged, 3_000);
    assert!(report.applied.is_some());
    for (oracle, _) in &operators {
        let counts = oracle.store().table_counts().await.unwrap();
        assert_eq!(counts["beacons"] + counts["witnesses"], 3_000);
    }
    for task in tasks {
        task.abort();
    }
    let client = async_nats::connect(url).await.unwrap();
    let _ = async_nats::jetstream::new(client)
        .delete_stream(&stream)
        .await;
}
