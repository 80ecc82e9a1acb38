//! `hotspot`: the hotspot's command line.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hotspot::{Hotspot, HotspotConfig, OracleClient};
use poc::Keypair;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "hotspot", version, about = "LoRa proof-of-coverage hotspot")]
struct Cli {
    /// Configuration file (TOML); defaults apply when it is absent.
    #[arg(long, short, global = true, env = "HOTSPOT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the hotspot's ed25519 key.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Show what the oracle knows of this hotspot.
    Info,
    /// Assert the hotspot's location and antenna to the oracle.
    Assert {
        /// Latitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Antenna gain in dBi.
        #[arg(long, default_value_t = 3.0)]
        gain: f64,
        /// Antenna height above ground in metres.
        #[arg(long, default_value_t = 10)]
        elevation: i32,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Write a new key file (refuses to overwrite one).
    Generate {
        /// Where to write it; defaults to the configured key path.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the key's address.
    Show,
}

fn load_config(path: Option<&PathBuf>) -> Result<HotspotConfig> {
    match path {
        Some(path) => Ok(HotspotConfig::load(path)?),
        None => Ok(HotspotConfig::default()),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut config = load_config(cli.config.as_ref())?;
    match cli.command {
        Command::Key { action } => match action {
            KeyAction::Generate { out } => {
                let path = out.unwrap_or_else(|| config.key.clone());
                let key = Keypair::generate();
                key.write_file(&path)?;
                println!("{}", key.address());
            }
            KeyAction::Show => {
                let key = Keypair::read_file(&config.key)?;
                println!("{}", key.address());
            }
        },
        Command::Info => {
            let key = Keypair::read_file(&config.key)?;
            let mut client = OracleClient::connect(&config.oracle).await?;
            let info = client.gateway_info(&key.public_key()).await?;
            let mut summary = serde_json::json!({
                "address": key.address().to_string(),
                "asserted": info.asserted,
                "region": info.region().as_str_name(),
                "gain_dbi": f64::from(info.gain_ddbi) / 10.0,
                "elevation_m": info.elevation_m,
            });
            if info.asserted {
                let cell = h3_coverage::cell_from_u64(info.location)?;
                let (lat, lon) = h3_coverage::centre(cell);
                summary["location"] = serde_json::json!({
                    "h3": cell.to_string(), "lat": lat, "lon": lon
                });
            }
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        Command::Assert {
            lat,
            lon,
            gain,
            elevation,
        } => {
            config.location.lat = lat;
            config.location.lon = lon;
            config.location.gain_dbi = gain;
            config.location.elevation_m = elevation;
            let key = Keypair::read_file(&config.key)?;
            let hotspot = Hotspot::from_config(key, &config)?;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("system clock before 1970")?
                .as_millis() as u64;
            let mut client = OracleClient::connect(&config.oracle).await?;
            let response = client.assert_location(hotspot.assertion(now_ms)).await?;
            println!(
                "asserted {} at {} (receipt {})",
                hotspot.address(),
                hotspot.location(),
                response.id
            );
        }
    }
    Ok(())
}
