//! `oracle-load`: a load test of the gRPC ingest on loopback. Starts an oracle in this process
//! (SQLite in a temporary directory, or a fresh schema of a PostgreSQL database), drives it from
//! many concurrent clients with signed reports of many synthetic hotspots, prints throughput,
//! latency percentiles and errors, and checks that every acknowledged report is in the store.
//!
//! ```text
//! cargo run --release -p oracle --bin oracle-load -- --clients 64 --reports 200000 --store sqlite
//! # witness reports in batches of 256 (SubmitWitnesses)
//! cargo run --release -p oracle --bin oracle-load -- --clients 8 --reports 200000 --batch 256
//! ```
//! Exits with status 1 if a report was lost or an unexpected error occurred.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use oracle::load::{self, LoadConfig};
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
    let report = result?;
    println!("{report}");
    if report.lost > 0 || report.error_count() > 0 || report.wrong_ids > 0 {
        anyhow::bail!("reports were lost or refused");
    }
    Ok(())
}
