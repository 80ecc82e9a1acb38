//! `oracle serve`: runs the proof-of-coverage oracle until Ctrl-C. `oracle ledger …`: exports
//! and verifies the signed reward ledger offline.

use anyhow::Context;
use clap::{Parser, Subcommand};
use oracle::{Oracle, OracleConfig, SystemClock};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "oracle", about = "Proof-of-coverage oracle for LoRa hotspots")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish entropy, ingest reports over gRPC, verify them, close epochs, serve the API.
    Serve {
        /// Directory holding oracle.sqlite and oracle_key.bin.
        #[arg(long)]
        data_dir: PathBuf,
        /// TOML configuration; defaults apply to anything missing.
        #[arg(long)]
        config: Option<PathBuf>,
        /// gRPC ingest address.
        #[arg(long, default_value = "127.0.0.1:50051")]
        grpc_addr: SocketAddr,
        /// HTTP explorer API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http_addr: SocketAddr,
        /// PostgreSQL URL of a shared store (overrides `database_url` of the configuration);
        /// without one the embedded SQLite file in the data directory is used.
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
    },
    /// The signed, hash-chained reward ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Copy the whole ledger of a data directory to a file.
    Export {
        /// The oracle's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Where to write the ledger.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a ledger file offline: signatures, chain, Merkle roots, sums; names the first bad
    /// entry.
    Verify {
        /// The ledger file.
        file: PathBuf,
        /// The oracle address every entry must be signed by (default: the first entry's signer).
        #[arg(long)]
        oracle_key: Option<String>,
    },
    /// Check one hotspot's claim (the JSON of `GET /api/v1/ledger/{epoch}/proof/{address}`)
    /// against a Merkle root alone.
    VerifyClaim {
        /// The epoch's Merkle root, hex.
        #[arg(long)]
        root: String,
        /// The claim JSON file.
        #[arg(long)]
        proof: PathBuf,
    },
}

fn ledger_command(command: LedgerCommand) -> anyhow::Result<()> {
    use oracle::ledger;
    match command {
        LedgerCommand::Export { data_dir, out } => {
            let path = data_dir.join(ledger::LEDGER_FILE);
            let entries = ledger::read_ledger(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let summary = ledger::verify_chain(&entries, None)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            std::fs::write(&out, ledger::encode_file(&entries))
                .with_context(|| format!("writing {}", out.display()))?;
            println!("exported {} entries to {}", summary.entries, out.display());
        }
        LedgerCommand::Verify { file, oracle_key } => {
            let oracle = oracle_key
                .map(|k| k.parse::<poc::Address>())
                .transpose()
                .context("--oracle-key is not an address")?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let summary = ledger::verify_bytes(&bytes, oracle)
                .map_err(|e| anyhow::anyhow!("{}: bad ledger: {e}", file.display()))?;
            match (summary.oracle, summary.head) {
                (Some(oracle), Some((epoch, hash))) => println!(
                    "ok: {} entries signed by {oracle}, head epoch {epoch} hash {}",
                    summary.entries,
                    hex::encode(hash)
                ),
                _ => println!("ok: empty ledger"),
            }
        }
        LedgerCommand::VerifyClaim { root, proof } => {
            let root: [u8; 32] = hex::decode(&root)
                .ok()
                .and_then(|b| b.try_into().ok())
                .context("--root is not 32 hex bytes")?;
            let text = std::fs::read_to_string(&proof)
                .with_context(|| format!("reading {}", proof.display()))?;
            let claim: ledger::Claim =
                serde_json::from_str(&text).context("the proof is not a claim JSON")?;
            claim
                .verify(&root)
                .map_err(|e| anyhow::anyhow!("claim does not verify: {e}"))?;
            println!(
                "ok: {} receives {} (beacon {}, witness {}) in epoch {}",
                claim.share.hotspot,
                claim.share.total,
                claim.share.beacon_amount,
                claim.share.witness_amount,
                claim.epoch
            );
        }
    }
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
        Command::Ledger { command } => return ledger_command(command),
        Command::Serve {
            data_dir,
            config,
            grpc_addr,
            http_addr,
            database_url,
        } => {
            let mut config = match config {
                Some(path) => OracleConfig::load(&path)
                    .with_context(|| format!("loading {}", path.display()))?,
                None => OracleConfig::default(),
            };
            if database_url.is_some() {
                config.database_url = database_url;
            }
            let oracle = Oracle::open(config, &data_dir, Arc::new(SystemClock))
                .await
                .with_context(|| format!("opening {}", data_dir.display()))?;
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
