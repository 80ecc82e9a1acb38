//! `oracle-load`: a load test of the gRPC ingest on loopback. Starts an oracle in this process
//! (SQLite in a temporary directory, or a fresh schema of a PostgreSQL database), drives it from
//! many concurrent clients with signed reports of many synthetic hotspots, prints throughput,
//! latency percentiles and errors, and checks that every acknowledged report is in the store.
//!
//! ```text
//! cargo run --release -p oracle --bin oracle-load -- --clients 64 --reports 200000 --store sqlite
//! # witness reports in batches of 256 (SubmitWitnesses)
//! cargo run --release -p oracle --bin oracle-load -- --clients 8 --reports 200000 --batch 256
//! # three operators sharing a report log on NATS JetStream (SQLite each)
//! cargo run --release -p oracle --bin oracle-load -- --clients 8 --batch 256 --report-log --oracles 3
//! ```
//! Exits with status 1 if a report was lost or an unexpected error occurred.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use oracle::config::ReportLogConfig;
use oracle::load::{self, LoadConfig};
use oracle::report_log::ReportLog;
use oracle::store::{PostgresStore, SqliteStore, Store};
use oracle::{Oracle, OracleConfig, SystemClock};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Parser)]
#[command(name = "oracle-load", about = "Load test of the oracle's gRPC ingest")]
struct Args {
    /// Concurrent clients, each on its own connection.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Reports to submit (beacons and witnesses).
    #[arg(long, default_value_t = 200_000)]
    reports: usize,
    /// Synthetic hotspots.
    #[arg(long, default_value_t = 1_000)]
    hotspots: usize,
    /// Witness reports per beacon.
    #[arg(long, default_value_t = 9)]
    witnesses_per_beacon: usize,
    /// Witness reports per `SubmitWitnesses` call (0: one `SubmitWitness` call each).
    #[arg(long, default_value_t = 0)]
    batch: usize,
    /// The store.
    #[arg(long, value_enum, default_value = "sqlite")]
    store: StoreKind,
    /// PostgreSQL URL (a fresh schema is created in it and dropped afterwards).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Run operators sharing a report log (NATS JetStream at `--nats-url`, a fresh stream
    /// deleted afterwards), each with its own SQLite store.
    #[arg(long)]
    report_log: bool,
    /// Operators, with `--report-log`; the clients are spread over them.
    #[arg(long, default_value_t = 1)]
    oracles: usize,
    /// The NATS server of `--report-log`.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
}

/// `n` operators sharing a fresh stream, each with a SQLite store under `dir`, following the
/// log and serving gRPC; returns them with their addresses and tasks.
async fn operators(
    n: usize,
    nats_url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<(
    Vec<(Oracle, std::net::SocketAddr)>,
    Vec<tokio::task::JoinHandle<()>>,
)> {
    let keys: Vec<poc::Keypair> = (0..n).map(|_| poc::Keypair::generate()).collect();
    let mut config = OracleConfig::open();
    config.report_log = ReportLogConfig {
        url: Some(nats_url.to_string()),
        stream: format!("LOAD_{}", std::process::id()),
        operators: keys.iter().map(|k| k.address().to_string()).collect(),
        ..ReportLogConfig::default()
    };
    let mut operators = Vec::new();
    let mut tasks = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        let path = dir.join(format!("operator-{i}"));
        std::fs::create_dir_all(&path)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path.join(oracle::DB_FILE)).await?);
        let log = ReportLog::connect(&config.report_log, Arc::new(SystemClock)).await?;
        let oracle = Oracle::with_report_log(config.clone(), store, key, log);
        let (addr, server) = oracle.serve_grpc("127.0.0.1:0".parse()?).await?;
        let follower = oracle.clone();
        tasks.push(server);
        tasks.push(tokio::spawn(async move {
            if let Err(error) = follower.follow_log(std::future::pending()).await {
                eprintln!("oracle-load: an operator stopped following the log: {error}");
            }
        }));
        operators.push((oracle, addr));
    }
    Ok((operators, tasks))
}

/// With `--report-log`: the run over several operators; the stream is deleted afterwards.
async fn run_with_log(args: &Args, config: &LoadConfig) -> anyhow::Result<load::LoadReport> {
    anyhow::ensure!(args.oracles >= 1, "--oracles must be at least 1");
    let dir = std::env::temp_dir().join(format!("oracle-load-{}", std::process::id()));
    let (operators, tasks) = operators(args.oracles, &args.nats_url, &dir).await?;
    let result = load::run_operators(&operators, config).await;
    for task in tasks {
        task.abort();
    }
    let client = async_nats::connect(args.nats_url.as_str()).await?;
    let _ = async_nats::jetstream::new(client)
        .delete_stream(format!("LOAD_{}", std::process::id()))
        .await;
    drop(operators);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(result?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = LoadConfig {
        clients: args.clients,
        reports: args.reports,
        hotspots: args.hotspots,
        witnesses_per_beacon: args.witnesses_per_beacon,
        batch: args.batch,
    };
    if args.report_log {
        return finish(run_with_log(&args, &config).await?);
    }
    anyhow::ensure!(args.oracles == 1, "several --oracles need --report-log");
    let dir = std::env::temp_dir().join(format!("oracle-load-{}", std::process::id()));
    let schema = format!("load_{}", std::process::id());
    let store: Arc<dyn Store> = match args.store {
        StoreKind::Sqlite => {
            std::fs::create_dir_all(&dir)?;
            Arc::new(SqliteStore::open(&dir.join(oracle::DB_FILE)).await?)
        }
        StoreKind::Postgres => {
            let url = args
                .database_url
                .as_deref()
                .context("--store postgres needs --database-url or DATABASE_URL")?;
            Arc::new(PostgresStore::connect_in_schema(url, &schema).await?)
        }
    };
    let oracle = Oracle::with_store(
        OracleConfig::open(),
        store,
        poc::Keypair::generate(),
        Arc::new(SystemClock),
    );
    let (addr, server) = oracle.serve_grpc("127.0.0.1:0".parse()?).await?;
    println!(
        "oracle-load: {:?} store, {} clients, {} reports from {} hotspots ({} witnesses per beacon, {} witnesses a call), on {addr}",
        args.store, config.clients, config.reports, config.hotspots, config.witnesses_per_beacon,
        config.batch.max(1)
    );
    let result = load::run(&oracle, addr, &config).await;
    server.abort();
    drop(oracle);
    match args.store {
        StoreKind::Sqlite => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        StoreKind::Postgres => {
            if let Some(url) = &args.database_url {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(url).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await?;
            }
        }
    }
    finish(result?)
}

/// Prints the report; an error if a report was lost or refused.
fn finish(report: load::LoadReport) -> anyhow::Result<()> {
    println!("{report}");
    if report.lost > 0 || report.error_count() > 0 || report.wrong_ids > 0 {
        anyhow::bail!("reports were lost or refused");
    }
    Ok(())
}
