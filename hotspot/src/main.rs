//! `hotspot`: the hotspot's command line.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hotspot::config::BackendKind;
use hotspot::{Backoff, Daemon, Hotspot, HotspotConfig, Metrics, OracleClient, Outbox};
use poc::Keypair;
use radio::iq::SampleFormat;
use radio::{Calibration, LoraParams};
use radio_io::{
    Backend, BasicStationBackend, BasicStationConfig, IqFileBackend, IqFileConfig,
    SemtechUdpBackend, SemtechUdpConfig, SerialBackend, SerialConfig,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "hotspot", version, about = "LoRa proof-of-coverage hotspot")]
struct Cli {
    /// Configuration file (TOML); defaults apply when it is absent.
    #[arg(long, short, global = true, env = "HOTSPOT_CONFIG")]
    config: Option<PathBuf>,
    /// Hardware profile: a built-in name (see `hotspot profiles`) or a profile file; overrides
    /// the config's `hardware.profile`.
    #[arg(long, global = true, env = "HOTSPOT_PROFILE")]
    profile: Option<String>,
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
        /// Antenna gain in dBi; defaults to the config's `location.gain_dbi` (the hardware
        /// profile's stock antenna when a profile is in use).
        #[arg(long)]
        gain: Option<f64>,
        /// Antenna height above ground in metres.
        #[arg(long, default_value_t = 10)]
        elevation: i32,
    },
    /// Onboard the hotspot: its maker's record, signed by the hotspot and its owner, who pays
    /// the onboarding fee in data credits.
    Onboard {
        /// The owner's key file (`hotspot key generate --out owner.key` makes one).
        #[arg(long)]
        owner_key: PathBuf,
        /// The maker's onboarding record; defaults to the config's `onboarding_record`.
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// The maker's onboarding record of this hotspot.
    Record {
        #[command(subcommand)]
        action: RecordAction,
    },
    /// Run the daemon: beacon, witness, deliver reports (until SIGINT or SIGTERM).
    Run,
    /// List the built-in hardware profiles.
    Profiles,
    /// Demodulate an IQ recording and print one JSON line per frame.
    Decode {
        /// The recording.
        file: PathBuf,
        /// Sample format: cf32, cs16 or cu8.
        #[arg(long, default_value = "cf32")]
        format: SampleFormat,
        /// Spreading factor, 7 to 12.
        #[arg(long)]
        sf: u8,
        /// Bandwidth in hertz.
        #[arg(long, default_value_t = 125_000)]
        bw: u32,
        /// Centre frequency of the recording in hertz (reported with each frame).
        #[arg(long, default_value_t = 0)]
        frequency: u64,
        /// Samples per chip (sample rate = bandwidth × oversampling).
        #[arg(long, default_value_t = 1)]
        oversampling: u32,
        /// Sync word (0x34 public/LoRaWAN, 0x12 private), decimal.
        #[arg(long, default_value_t = 0x34)]
        sync_word: u8,
    },
}

#[derive(Subcommand)]
enum RecordAction {
    /// Issue the record for this hotspot's key with the maker's key (a maker's factory step).
    Issue {
        /// The maker's key file.
        #[arg(long)]
        maker_key: PathBuf,
        /// Where to write the record; defaults to the config's `onboarding_record`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the record as JSON: the hotspot and maker addresses, the issue time, and whether
    /// the maker's signature verifies and the record is this hotspot's.
    Show {
        /// The record; defaults to the config's `onboarding_record`.
        #[arg(long)]
        record: Option<PathBuf>,
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

fn load_config(path: Option<&PathBuf>, profile: Option<&str>) -> Result<HotspotConfig> {
    let (config, profile) = HotspotConfig::load_with_profile(path.map(PathBuf::as_path), profile)?;
    if let Some(profile) = profile {
        tracing::debug!(profile = %profile.name, "hardware profile");
    }
    Ok(config)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (systemd stop).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

fn iq_file_config(config: &HotspotConfig) -> Result<IqFileConfig> {
    let section = &config.radio.iq_file;
    let mut params = Hotspot::beacon_params(section.spreading_factor, section.bandwidth_hz);
    params.oversampling = section.oversampling;
    Ok(IqFileConfig {
        rx_path: section.rx_path.clone(),
        format: section.format.parse()?,
        frequency_hz: section.frequency_hz,
        params,
        start_ns: now_ns(),
        calibration: Calibration::default(),
        tx_dir: section.tx_dir.clone(),
    })
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

fn serial_config(config: &HotspotConfig) -> SerialConfig {
    let section = &config.radio.serial;
    let mut serial = SerialConfig::new(
        section.device.clone(),
        section.frequency_hz,
        Hotspot::beacon_params(section.spreading_factor, section.bandwidth_hz),
    );
    serial.baud = section.baud;
    serial
}

#[cfg(feature = "soapysdr")]
async fn run_soapysdr(
    hotspot: Hotspot,
    config: &HotspotConfig,
    metrics: Metrics,
    outbox: Outbox,
) -> Result<()> {
    use radio_io::soapy::{SoapyBackend, SoapyConfig, SoapyTxConfig};
    use radio_io::wideband::WidebandConfig;
    let section = &config.radio.soapysdr;
    let soapy = SoapyConfig {
        args: section.args.clone(),
        wideband: WidebandConfig {
            center_frequency_hz: section.frequency_hz,
            sample_rate_hz: section.sample_rate_hz,
            channel_spacing_hz: section.channel_spacing_hz,
            bandwidth_hz: section.bandwidth_hz,
            spreading_factors: section.spreading_factors.clone(),
            template: Hotspot::beacon_params(
                section.spreading_factors.first().copied().unwrap_or(7),
                section.bandwidth_hz,
            ),
            full_scale_dbm: 0.0,
        },
        rx_gain_db: section.rx_gain_db,
        tx: section.transmit.then_some(SoapyTxConfig {
            gain_db: section.tx_gain_db,
            reference_dbm: section.tx_reference_dbm,
            oversampling: section.tx_oversampling,
        }),
    };
    let backend = SoapyBackend::open(soapy).await?;
    run_daemon(backend, hotspot, config, metrics, outbox, section.transmit).await
}

fn semtech_udp_config(config: &HotspotConfig, hotspot: &Hotspot) -> Result<SemtechUdpConfig> {
    let section = &config.radio.semtech_udp;
    let listen = section.listen.parse().with_context(|| {
        format!(
            "radio.semtech_udp.listen {:?} is not an address such as 0.0.0.0:1680",
            section.listen
        )
    })?;
    let mut semtech = SemtechUdpConfig::new(listen);
    semtech.tx_ack_timeout = Duration::from_millis(section.tx_ack_timeout_ms);
    semtech.merge_window = Duration::from_millis(section.merge_window_ms);
    semtech.tx_gateway = section.tx_gateway_eui()?.map(Into::into);
    semtech.channel_plan = Some(hotspot.channel_plan());
    Ok(semtech)
}

fn basic_station_config(config: &HotspotConfig, hotspot: &Hotspot) -> Result<BasicStationConfig> {
    let section = &config.radio.basic_station;
    let listen = section.listen.parse().with_context(|| {
        format!(
            "radio.basic_station.listen {:?} is not an address such as 0.0.0.0:1887",
            section.listen
        )
    })?;
    let plan = hotspot.channel_plan();
    let beacon_dbm = hotspot.beacon_power_ddbm() as f32 / 10.0;
    let tx_power_dbm = match section.tx_power_dbm {
        Some(dbm) => dbm as f32,
        None => beacon_dbm.min(radio_io::lns::station_default_power_dbm(&plan.region)),
    };
    let mut station = BasicStationConfig::new(listen, plan, tx_power_dbm);
    station.dntxed_timeout = Duration::from_millis(section.dntxed_timeout_ms);
    station.merge_window = Duration::from_millis(section.merge_window_ms);
    station.tx_router = Some(section.tx_router.clone()).filter(|router| !router.is_empty());
    Ok(station)
}

async fn run_daemon<B: Backend>(
    backend: B,
    hotspot: Hotspot,
    config: &HotspotConfig,
    metrics: Metrics,
    outbox: Outbox,
    beacons: bool,
) -> Result<()> {
    let client = OracleClient::connect_any(
        &config.oracle_endpoints(),
        Duration::from_millis(config.delivery.timeout_ms),
    )?;
    let limits = hotspot::uplink::TxLimits::new(
        hotspot.channel_plan().band_hz,
        hotspot.beacon_power_ddbm() as f32 / 10.0,
        Duration::from_millis(config.lorawan.downlink_lead_ms),
    );
    let upstream = hotspot::uplink::Upstream::from_config(
        &config.lorawan,
        &hotspot.public_key(),
        &metrics,
        limits,
    )
    .await?;
    let daemon = Daemon::new(
        hotspot,
        client,
        backend,
        outbox,
        Duration::from_secs(config.beacon.interval_secs),
    )
    .with_metrics(metrics)
    .with_backoff(Backoff {
        initial: Duration::from_millis(config.delivery.backoff_initial_ms),
        max: Duration::from_millis(config.delivery.backoff_max_ms),
    });
    let daemon = match upstream {
        Some(upstream) => daemon.with_upstream(upstream),
        None => daemon,
    };
    let daemon = if beacons {
        daemon
    } else {
        daemon.without_beacons()
    };
    let stats = daemon.run(shutdown_signal()).await?;
    tracing::info!(?stats, "stopped");
    Ok(())
}

async fn run(config: &HotspotConfig) -> Result<()> {
    if !config.lorawan.routes.as_os_str().is_empty() {
        // A route file that does not read or check stops the daemon before anything starts.
        hotspot::uplink::Upstream::load_routes(&config.lorawan.routes)?;
    }
    let key = Keypair::read_file(&config.key)?;
    let hotspot = Hotspot::from_config(key, config)?;
    tracing::info!(
        address = %hotspot.address(),
        region = %config.region,
        backend = ?config.radio.backend,
        beacon_power_dbm = f64::from(hotspot.beacon_power_ddbm()) / 10.0,
        "starting"
    );
    let metrics = Metrics::new();
    if !config.metrics_listen.is_empty() {
        metrics.serve(config.metrics_listen.parse()?).await?;
    }
    let outbox = Outbox::open(&config.spool_dir, metrics.clone())
        .with_context(|| format!("opening the spool {}", config.spool_dir.display()))?;
    match config.radio.backend {
        BackendKind::IqFile => {
            let backend = IqFileBackend::open(iq_file_config(config)?).await?;
            run_daemon(backend, hotspot, config, metrics, outbox, true).await
        }
        BackendKind::Serial => {
            let backend = SerialBackend::open(serial_config(config)).await?;
            run_daemon(backend, hotspot, config, metrics, outbox, true).await
        }
        #[cfg(feature = "soapysdr")]
        BackendKind::Soapysdr => run_soapysdr(hotspot, config, metrics, outbox).await,
        #[cfg(not(feature = "soapysdr"))]
        BackendKind::Soapysdr => anyhow::bail!(
            "the soapysdr radio backend is not in this build: rebuild the hotspot with \
             `--features soapysdr` (needs libsoapysdr-dev)"
        ),
        BackendKind::BasicStation => {
            let backend =
                BasicStationBackend::bind(basic_station_config(config, &hotspot)?).await?;
            run_daemon(backend, hotspot, config, metrics, outbox, true).await
        }
        BackendKind::SemtechUdp => {
            let backend = SemtechUdpBackend::bind(semtech_udp_config(config, &hotspot)?).await?;
            run_daemon(backend, hotspot, config, metrics, outbox, true).await
        }
    }
}

async fn decode(
    file: &Path,
    format: SampleFormat,
    params: LoraParams,
    frequency: u64,
) -> Result<()> {
    let mut backend = IqFileBackend::open(IqFileConfig {
        rx_path: Some(file.to_path_buf()),
        format,
        frequency_hz: frequency,
        params,
        start_ns: 0,
        calibration: Calibration::default(),
        tx_dir: None,
    })
    .await?;
    while let Some(reception) = backend.receive().await? {
        let frame = &reception.frame;
        let line = serde_json::json!({
            "time_s": reception.timestamp_ns as f64 / 1e9,
            "sample_offset": frame.sample_offset,
            "frequency_hz": reception.frequency_hz,
            "sf": frame.spreading_factor,
            "bw": frame.bandwidth_hz,
            "cr": frame.coding_rate,
            "crc_ok": frame.crc_ok,
            "len": frame.payload.len(),
            "payload": hex::encode(&frame.payload),
            "rssi_dbm": frame.rssi_dbm,
            "snr_db": frame.snr_db,
            "cfo_hz": frame.cfo_hz,
        });
        println!("{line}");
    }
    Ok(())
}

/// `hotspot record issue|show`.
fn record(action: RecordAction, config: &HotspotConfig) -> Result<()> {
    match action {
        RecordAction::Issue { maker_key, out } => {
            let path = out.unwrap_or_else(|| config.onboarding_record.clone());
            let key = Keypair::read_file(&config.key)?;
            let maker = Keypair::read_file(&maker_key)?;
            let record = poc::onboarding::issue_record(&maker, key.public_key(), unix_ms()?);
            poc::onboarding::write_record(&path, &record)?;
            println!("{}", path.display());
        }
        RecordAction::Show { record } => {
            let path = record.unwrap_or_else(|| config.onboarding_record.clone());
            let record = poc::onboarding::read_record(&path)?;
            let address = |bytes: &[u8]| {
                poc::Address::from_public_key(bytes)
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| "invalid".into())
            };
            let own_key = Keypair::read_file(&config.key)
                .ok()
                .map(|k| k.public_key().to_vec());
            let summary = serde_json::json!({
                "hotspot": address(&record.hotspot_key),
                "maker": address(&record.maker_key),
                "issued_ms": record.issued_ms,
                "maker_signature_valid": poc::Signable::verify(&record).is_ok(),
                "is_this_hotspot": own_key.as_deref() == Some(record.hotspot_key.as_slice()),
            });
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch, by the system clock.
fn unix_ms() -> Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_millis() as u64)
}

fn main() -> Result<()> {
    // before any thread starts, so that none gets an arena of its own
    hotspot::memory::limit_allocator_arenas();
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(cli_main())
}

async fn cli_main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut config = load_config(cli.config.as_ref(), cli.profile.as_deref())?;
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
            if let Some(gain) = gain {
                config.location.gain_dbi = gain;
            }
            config.location.elevation_m = elevation;
            let key = Keypair::read_file(&config.key)?;
            let hotspot = Hotspot::from_config(key, &config)?;
            let now_ms = unix_ms()?;
            let mut client = OracleClient::connect(&config.oracle).await?;
            let response = client.assert_location(hotspot.assertion(now_ms)).await?;
            println!(
                "asserted {} at {} (receipt {})",
                hotspot.address(),
                hotspot.location(),
                response.id
            );
        }
        Command::Onboard { owner_key, record } => {
            let path = record.unwrap_or_else(|| config.onboarding_record.clone());
            let record = poc::onboarding::read_record(&path)?;
            let key = Keypair::read_file(&config.key)?;
            let owner = Keypair::read_file(&owner_key)?;
            let request = poc::onboarding::onboard_request(record, &key, &owner, unix_ms()?);
            let mut client = OracleClient::connect(&config.oracle).await?;
            let response = client.onboard(request).await?;
            println!(
                "onboarded {} for owner {} (receipt {})",
                key.address(),
                owner.address(),
                response.id
            );
        }
        Command::Record { action } => record(action, &config)?,
        Command::Run => run(&config).await?,
        Command::Profiles => {
            for profile in hardware::all()? {
                let tx_power = match profile.tx_power {
                    Some(range) => format!("tx {}–{} dBm", range.min_dbm, range.max_dbm),
                    None => "receive only".into(),
                };
                println!(
                    "{:<20} {:<8} {:<16} {}",
                    profile.name,
                    format!("{:?}", profile.arch).to_ascii_lowercase(),
                    tx_power,
                    profile.description
                );
            }
        }
        Command::Decode {
            file,
            format,
            sf,
            bw,
            frequency,
            oversampling,
            sync_word,
        } => {
            let mut params = LoraParams::new(sf, bw);
            params.oversampling = oversampling;
            params.sync_word = sync_word;
            params.validate()?;
            decode(&file, format, params, frequency).await?;
        }
    }
    Ok(())
}
