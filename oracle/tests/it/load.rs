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

/// Three operators on a new stream of the NATS server at `url`, each with its own SQLite
/// store in `dir`, serving gRPC and following the log (restarting its follower after an
/// error, as `oracle serve` does). Returns them with their tasks and the stream's name.
async fn three_operators(
    url: &str,
    dir: &std::path::Path,
) -> (
    Vec<(Oracle, std::net::SocketAddr)>,
    Vec<tokio::task::JoinHandle<()>>,
    String,
) {
    use oracle::config::ReportLogConfig;
    use oracle::report_log::ReportLog;
    let keys: Vec<poc::Keypair> = (0..3).map(|i| poc::Keypair::from_seed(9, i)).collect();
    let stream = format!("TEST_LOAD_{:016x}", rand::random::<u64>());
    let mut config = OracleConfig::open();
    config.report_log = ReportLogConfig {
        url: Some(url.to_string()),
        stream: stream.clone(),
        operators: keys.iter().map(|k| k.address().to_string()).collect(),
        ..ReportLogConfig::default()
    };
    let wall = Arc::new(ManualClock::new(START_MS));
    let mut operators = Vec::new();
    let mut tasks = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let path = dir.join(format!("{i}.sqlite"));
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
            while let Err(error) = follower.follow_log(std::future::pending()).await {
                eprintln!("follower restarts: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }));
        operators.push((oracle, addr));
    }
    (operators, tasks, stream)
}

async fn delete_stream(url: &str, stream: &str) {
    let client = async_nats::connect(url).await.unwrap();
    let _ = async_nats::jetstream::new(client)
        .delete_stream(stream)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_operators_sharing_a_report_log_each_store_every_acknowledged_report() {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let dir = tempfile::tempdir().unwrap();
    let (operators, tasks, stream) = three_operators(&url, dir.path()).await;
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
    delete_stream(&url, &stream).await;
}

/// A NATS server with JetStream of the test's own, on a free port of loopback, with its store
/// in a directory that outlives a restart.
struct OwnNats {
    child: std::process::Child,
    port: u16,
    store: tempfile::TempDir,
}

impl OwnNats {
    fn binary() -> std::path::PathBuf {
        let found = std::env::var_os("NATS_SERVER")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("PATH").and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|dir| dir.join("nats-server"))
                        .find(|path| path.is_file())
                })
            })
            .or_else(|| Some(std::path::PathBuf::from("/usr/sbin/nats-server")));
        found
            .filter(|path| path.is_file())
            .expect("nats-server (Debian's package; scripts/setup.sh --tests installs it)")
    }

    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = tempfile::tempdir().unwrap();
        let child = Self::spawn(port, store.path());
        let nats = Self { child, port, store };
        nats.wait_ready().await;
        nats
    }

    fn spawn(port: u16, store: &std::path::Path) -> std::process::Child {
        std::process::Command::new(Self::binary())
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server starts")
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("nats-server did not listen on {}", self.port);
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and store.
    async fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        self.child = Self::spawn(self.port, self.store.path());
        self.wait_ready().await;
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jetstream_restart_under_load_loses_no_acknowledged_report() {
    let mut nats = OwnNats::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (operators, tasks, _stream) = three_operators(&nats.url(), dir.path()).await;
    let config = LoadConfig {
        clients: 6,
        reports: 6_000,
        hotspots: 50,
        witnesses_per_beacon: 5,
        batch: 16,
    };
    let load = {
        let operators = operators.clone();
        tokio::spawn(async move { load::run_operators(&operators, &config).await })
    };
    // Once the load has begun and the first operator applied part of it, the server is
    // killed and started again.
    let first = operators[0].0.clone();
    let mut restarted = false;
    for _ in 0..4_000 {
        if first.store().table_counts().await.unwrap()["witnesses"] >= 300 {
            assert!(!load.is_finished(), "the load ended before the restart");
            nats.kill_and_restart().await;
            restarted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(restarted, "the load never reached 300 stored witnesses");
    let report = load.await.unwrap().unwrap();
    println!("{report}");
    assert!(report.acknowledged > 0);
    assert_eq!(report.lost, 0, "an operator misses an acknowledged report");
    assert_eq!(report.stored_acknowledged, report.acknowledged);
    for task in tasks {
        task.abort();
    }
}
