//! `oracle serve`: runs the proof-of-coverage oracle until Ctrl-C. `oracle credit`: adds data
//! credits to an owner's balance. `oracle ledger …`: exports and verifies the signed reward
//! ledger offline, and audits an epoch from its report archive.

use anyhow::Context;
use clap::{Parser, Subcommand};
use oracle::{Oracle, OracleConfig, SystemClock};
use poc::Address;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "oracle", about = "Proof-of-coverage oracle for LoRa hotspots")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the oracle keeps its state.
#[derive(clap::Args)]
struct Place {
    /// Directory holding oracle.sqlite and oracle_key.bin.
    #[arg(long)]
    data_dir: PathBuf,
    /// TOML configuration; defaults apply to anything missing.
    #[arg(long)]
    config: Option<PathBuf>,
    /// PostgreSQL URL of a shared store (overrides `database_url` of the configuration);
    /// without one the embedded SQLite file in the data directory is used.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

impl Place {
    async fn open(self) -> anyhow::Result<Oracle> {
        let mut config = match &self.config {
            Some(path) => {
                oracle::config::load(path).with_context(|| format!("loading {}", path.display()))?
            }
            None => OracleConfig::default(),
        };
        if self.database_url.is_some() {
            config.database_url = self.database_url;
        }
        Oracle::open(config, &self.data_dir, Arc::new(SystemClock))
            .await
            .with_context(|| format!("opening {}", self.data_dir.display()))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Publish entropy, ingest reports over gRPC, verify them, close epochs, serve the API.
    Serve {
        #[command(flatten)]
        place: Place,
        /// gRPC ingest address.
        #[arg(long, default_value = "127.0.0.1:50051")]
        grpc_addr: SocketAddr,
        /// HTTP explorer API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http_addr: SocketAddr,
    },
    /// Add data credits to an owner's balance (recorded in the journal the ledger pins). An
    /// operator sharing a report log publishes the credit there; every operator adds it once
    /// `threshold` operators have published the same owner, amount and memo.
    Credit {
        #[command(flatten)]
        place: Place,
        /// The owner's address.
        #[arg(long)]
        owner: Address,
        /// Data credits to add.
        #[arg(long)]
        amount: u64,
        /// A reference kept with the credit (a payment's id).
        #[arg(long, default_value = "")]
        memo: String,
    },
    /// The signed, hash-chained reward ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
}

/// `oracle ledger`: the ledger's own commands, and the audit.
#[derive(Subcommand)]
enum LedgerCommand {
    /// Recompute an epoch's shares from its report archive and the ledger alone, and check them
    /// against the ledger entry; names every differing share.
    Audit {
        /// The archive: a directory, or an oracle's HTTP API (`http://host:port`).
        #[arg(long)]
        archive: String,
        /// The ledger file.
        #[arg(long)]
        ledger: PathBuf,
        /// The epoch to audit.
        #[arg(long)]
        epoch: u64,
    },
    #[command(flatten)]
    Offline(ledger::cli::LedgerCommand),
}

/// `oracle ledger audit`: prints what was checked; fails naming every difference.
async fn audit(archive: &str, ledger: &std::path::Path, epoch: u64) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let entries = ledger::read_ledger(ledger)?;
    let source = oracle::archive::Source::parse(archive);
    let report = oracle::audit::audit(&source, &entries, epoch).await?;
    let seconds = started.elapsed().as_secs_f64();
    for mismatch in &report.mismatches {
        println!("MISMATCH {mismatch}");
    }
    println!(
        "epoch {epoch}: {} archived reports, {} shares recomputed, earlier epochs read {:?}, {seconds:.2} s",
        report.reports, report.shares, report.earlier_epochs
    );
    if !report.mismatches.is_empty() {
        anyhow::bail!(
            "epoch {epoch}: {} differences from the ledger entry",
            report.mismatches.len()
        );
    }
    println!("epoch {epoch}: the ledger entry is reproduced exactly");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Ledger {
            command: LedgerCommand::Offline(command),
        } => return Ok(ledger::cli::run(command)?),
        Command::Ledger {
            command:
                LedgerCommand::Audit {
                    archive,
                    ledger,
                    epoch,
                },
        } => audit(&archive, &ledger, epoch).await?,
        Command::Credit {
            place,
            owner,
            amount,
            memo,
        } => {
            let oracle = place.open().await?;
            if oracle.report_log().is_some() {
                oracle.publish_credit(&owner.0, amount, &memo).await?;
                let threshold = oracle.config().report_log.quorum_threshold();
                println!(
                    "{owner}: {amount} DC published to the report log; added once {threshold} operators publish the same credit"
                );
            } else {
                let balance = oracle
                    .store()
                    .credit(&owner.0, amount, oracle.now_ms(), &memo)
                    .await?;
                println!("{owner}: {balance} DC");
            }
        }
        Command::Serve {
            place,
            grpc_addr,
            http_addr,
        } => {
            let oracle = place.open().await?;
            tracing::info!(address = %oracle.address(), "oracle started");
            let (grpc, _grpc_task) = oracle.serve_grpc(grpc_addr).await?;
            let (http, _http_task) = oracle.serve_http(http_addr).await?;
            tracing::info!(%grpc, %http, "serving");
            oracle
                .run(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
    }
    Ok(())
}
