//! `devnet`: a local proof-of-coverage network on one machine. An oracle on the embedded store
//! and simulated hotspots in San Francisco, whose beacons travel as IQ samples through a
//! simulated RF channel; prints a reward table per epoch, then serves the oracle's HTTP API.

use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use netsim::{EpochOutcome, Network, NetworkConfig, NodeInfo};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "devnet",
    version,
    about = "Run a local proof-of-coverage network"
)]
struct Args {
    /// Number of simulated hotspots.
    #[arg(long, default_value_t = 25)]
    hotspots: usize,
    /// Number of epochs (24 h of simulated time each) to run.
    #[arg(long, default_value_t = 2)]
    epochs: u64,
    /// Seed of every random choice: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many hotspots (the last ones) never assert a location.
    #[arg(long, default_value_t = 1)]
    unasserted: usize,
    /// Directory of the oracle's store; must be new or empty. A temporary one by default.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Write a JSON report of every epoch's reward shares and rejections to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Exit after the last epoch instead of serving the HTTP API.
    #[arg(long)]
    no_serve: bool,
    /// Address of the oracle's HTTP API once the epochs are done.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,
}

#[derive(Serialize)]
struct Report<'a> {
    seed: u64,
    hotspots: &'a [NodeInfo],
    epochs: &'a [EpochOutcome],
}

fn prepare_data_dir(requested: Option<PathBuf>) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    match requested {
        Some(dir) => {
            if dir.exists() && dir.read_dir()?.next().is_some() {
                bail!(
                    "data dir {} is not empty: the devnet starts a new network; give a new or empty directory",
                    dir.display()
                );
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok((dir, None))
        }
        None => {
            let temp = tempfile::Builder::new().prefix("devnet-").tempdir()?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

fn print_epoch(nodes: &[NodeInfo], outcome: &EpochOutcome) {
    let report = &outcome.report;
    let rewards: BTreeMap<&str, &oracle::HotspotRewardRow> = report
        .rewards
        .iter()
        .map(|row| (row.address.as_str(), row))
        .collect();
    println!();
    println!(
        "epoch {}: {} beacons sent, {} witness reports sent ({} reports refused at ingest); {} valid beacons, {} valid witnesses; emission {}",
        report.epoch,
        outcome.beacons_sent,
        outcome.witnesses_sent,
        outcome.reports_refused,
        report.beacons_valid,
        report.witnesses_valid,
        report.emission
    );
    println!(
        "{:<22} {:>7} {:>9} {:>14} {:>14} {:>14} {:>7}  rejections",
        "hotspot", "beacons", "witnesses", "beacon reward", "witness reward", "total", "share"
    );
    for (node, rejected) in nodes.iter().zip(&outcome.hotspot_rejections) {
        let (beacons, witnesses, beacon_amount, witness_amount, total) =
            match rewards.get(node.address.as_str()) {
                Some(row) => (
                    row.beacons,
                    row.witnesses,
                    row.beacon_amount,
                    row.witness_amount,
                    row.total,
                ),
                None => (0, 0, 0, 0, 0),
            };
        let share = if report.emission == 0 {
            0.0
        } else {
            total as f64 / report.emission as f64 * 100.0
        };
        let reasons: Vec<String> = rejected
            .rejections
            .iter()
            .map(|(reason, count)| format!("{reason}={count}"))
            .collect();
        println!(
            "{:<22} {:>7} {:>9} {:>14} {:>14} {:>14} {:>6.2}%  {}",
            node.name,
            beacons,
            witnesses,
            beacon_amount,
            witness_amount,
            total,
            share,
            if reasons.is_empty() {
                "-".to_string()
            } else {
                reasons.join(", ")
            }
        );
    }
    let rejections: Vec<String> = report
        .rejections
        .iter()
        .map(|(reason, count)| format!("{reason}={count}"))
        .collect();
    println!(
        "rejections by reason: {}",
        if rejections.is_empty() {
            "none".to_string()
        } else {
            rejections.join(", ")
        }
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let (data_dir, _temp) = prepare_data_dir(args.data_dir)?;
    let mut config = NetworkConfig::new(args.hotspots, args.seed, data_dir.clone());
    config.unasserted = args.unasserted;
    let mut network = Network::start(config).await?;
    let nodes = network.nodes();
    eprintln!(
        "devnet: oracle {} on {} (gRPC {}), {} hotspots in San Francisco, seed {}",
        network.oracle().address(),
        data_dir.display(),
        network.grpc_addr(),
        nodes.len(),
        args.seed
    );

    let first = network.first_epoch();
    let mut outcomes = Vec::new();
    for epoch in first..first + args.epochs {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("epoch {msg} [{bar:40}] {pos}/{len} beacons ({elapsed})")
                .context("progress style")?
                .progress_chars("=> "),
        );
        bar.set_message(epoch.to_string());
        let outcome = network
            .run_epoch(epoch, |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await?;
        bar.finish_and_clear();
        print_epoch(&nodes, &outcome);
        outcomes.push(outcome);
    }

    if let Some(path) = &args.report {
        let report = Report {
            seed: args.seed,
            hotspots: &nodes,
            epochs: &outcomes,
        };
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("devnet: report written to {}", path.display());
    }

    if !args.no_serve {
        let (addr, server) = network.oracle().serve_http(args.http_addr).await?;
        eprintln!("devnet: explorer API on http://{addr}/api/v1/hotspots — Ctrl-C to stop");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = server => {}
        }
    }
    Ok(())
}
