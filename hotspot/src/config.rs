//! The hotspot's TOML configuration.

use poc::proto::Region;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's explanation.
        message: String,
    },
    /// A value is out of range.
    #[error("config: {0}")]
    Invalid(String),
}

/// Everything a hotspot needs to know about itself. Every field has a default; see
/// `hotspot/hotspot.example.toml` for a documented file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HotspotConfig {
    /// Path of the ed25519 key file.
    pub key: PathBuf,
    /// gRPC endpoint of the oracle.
    pub oracle: String,
    /// The LoRa region the hotspot operates in, e.g. "US915".
    pub region: String,
    /// Where the antenna stands and what it is.
    pub location: LocationConfig,
    /// Beacon schedule.
    pub beacon: BeaconConfig,
    /// Directory of the durable report queue.
    pub spool_dir: PathBuf,
    /// Address of the Prometheus metrics endpoint (`GET /metrics`); empty disables it.
    pub metrics_listen: String,
    /// Retry policy of report delivery.
    pub delivery: DeliveryConfig,
    /// Which radio the daemon runs on, and its settings.
    pub radio: RadioConfig,
    /// What to do with heard LoRaWAN traffic (forwarding to a network server).
    pub lorawan: crate::uplink::LorawanSection,
}

/// Retry policy of report delivery to the oracle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// First wait after a failed delivery, milliseconds; doubles up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    /// Longest wait between attempts, milliseconds.
    pub backoff_max_ms: u64,
    /// Timeout of each call to the oracle, milliseconds.
    pub timeout_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            backoff_initial_ms: 1_000,
            backoff_max_ms: 300_000,
            timeout_ms: 15_000,
        }
    }
}

/// The radio backends a hotspot can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// IQ recordings in, IQ files out.
    IqFile,
    /// A Semtech packet forwarder (GWMP over UDP) connecting to the daemon.
    SemtechUdp,
    /// An SDR through SoapySDR (needs the `soapysdr` build feature of the radio crate).
    Soapysdr,
    /// A LoRa module speaking RAK RUI3 P2P AT commands on a serial port.
    Serial,
}

/// The `[radio]` section: the selected backend and one sub-section per backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadioConfig {
    /// Which backend to use.
    pub backend: BackendKind,
    /// Settings of the IQ-file backend.
    pub iq_file: IqFileSection,
    /// Settings of the Semtech UDP backend.
    pub semtech_udp: SemtechUdpSection,
    /// Settings of the serial LoRa module backend.
    pub serial: SerialSection,
    /// Settings of the SoapySDR backend.
    pub soapysdr: SoapySection,
}

impl Default for RadioConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::IqFile,
            iq_file: IqFileSection::default(),
            semtech_udp: SemtechUdpSection::default(),
            serial: SerialSection::default(),
            soapysdr: SoapySection::default(),
        }
    }
}

/// `[radio.iq_file]`: receive by demodulating a recording, transmit into files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IqFileSection {
    /// Recording (or FIFO) to demodulate; absent hears nothing.
    pub rx_path: Option<PathBuf>,
    /// Sample format: cf32, cs16 or cu8.
    pub format: String,
    /// Centre frequency of the recording, hertz.
    pub frequency_hz: u64,
    /// Spreading factor the receiver listens for.
    pub spreading_factor: u8,
    /// Bandwidth in hertz.
    pub bandwidth_hz: u32,
    /// Samples per chip of the recording (sample rate = bandwidth × oversampling).
    pub oversampling: u32,
    /// Directory receiving one IQ file per transmitted beacon; absent refuses to transmit.
    pub tx_dir: Option<PathBuf>,
}

impl Default for IqFileSection {
    fn default() -> Self {
        Self {
            rx_path: None,
            format: "cf32".into(),
            frequency_hz: 904_100_000,
            spreading_factor: 9,
            bandwidth_hz: 125_000,
            oversampling: 1,
            tx_dir: None,
        }
    }
}

/// `[radio.semtech_udp]`: packet forwarders connect to this UDP address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SemtechUdpSection {
    /// UDP address to listen on (packet forwarders' `serv_port_up`/`serv_port_down`).
    pub listen: String,
    /// How long to wait for the forwarder's TX_ACK of a beacon, milliseconds.
    pub tx_ack_timeout_ms: u64,
}

impl Default for SemtechUdpSection {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:1680".into(),
            tx_ack_timeout_ms: 5_000,
        }
    }
}

/// `[radio.serial]`: a RAK3172-class module in LoRa P2P mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SerialSection {
    /// Serial device.
    pub device: PathBuf,
    /// Baud rate.
    pub baud: u32,
    /// Frequency the module listens on, hertz.
    pub frequency_hz: u64,
    /// Spreading factor it listens for.
    pub spreading_factor: u8,
    /// Bandwidth in hertz.
    pub bandwidth_hz: u32,
}

impl Default for SerialSection {
    fn default() -> Self {
        Self {
            device: PathBuf::from("/dev/ttyUSB0"),
            baud: 115_200,
            frequency_hz: 904_100_000,
            spreading_factor: 9,
            bandwidth_hz: 125_000,
        }
    }
}

/// `[radio.soapysdr]`: an SDR through SoapySDR.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoapySection {
    /// Device selection, e.g. "driver=rtlsdr" or "driver=hackrf,serial=...".
    pub args: String,
    /// Centre frequency, hertz.
    pub frequency_hz: u64,
    /// Spreading factor the receiver listens for.
    pub spreading_factor: u8,
    /// Bandwidth in hertz.
    pub bandwidth_hz: u32,
    /// Samples per chip (sample rate = bandwidth × oversampling).
    pub oversampling: u32,
    /// Receive gain, dB.
    pub rx_gain_db: f64,
    /// Transmit gain, dB (device-specific scale).
    pub tx_gain_db: f64,
}

impl Default for SoapySection {
    fn default() -> Self {
        Self {
            args: String::new(),
            frequency_hz: 904_100_000,
            spreading_factor: 9,
            bandwidth_hz: 125_000,
            oversampling: 8,
            rx_gain_db: 30.0,
            tx_gain_db: 0.0,
        }
    }
}

/// The asserted location and antenna.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocationConfig {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Antenna gain in dBi.
    pub gain_dbi: f64,
    /// Antenna height above ground in metres.
    pub elevation_m: i32,
}

/// When beacons go out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeaconConfig {
    /// One beacon per interval, at a random moment inside it (seconds; Helium: 6 h).
    pub interval_secs: u64,
}

impl Default for HotspotConfig {
    fn default() -> Self {
        Self {
            key: PathBuf::from("hotspot_key.bin"),
            oracle: "http://127.0.0.1:50051".into(),
            region: "US915".into(),
            location: LocationConfig::default(),
            beacon: BeaconConfig::default(),
            spool_dir: PathBuf::from("spool"),
            metrics_listen: String::new(),
            delivery: DeliveryConfig::default(),
            radio: RadioConfig::default(),
            lorawan: crate::uplink::LorawanSection::default(),
        }
    }
}

impl Default for LocationConfig {
    fn default() -> Self {
        Self {
            lat: 0.0,
            lon: 0.0,
            gain_dbi: 3.0,
            elevation_m: 10,
        }
    }
}

impl Default for BeaconConfig {
    fn default() -> Self {
        Self {
            interval_secs: 6 * 3600,
        }
    }
}

impl HotspotConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|error| match error {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parses and checks a configuration from TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: "<text>".into(),
            message: error.to_string(),
        })?;
        config.region()?;
        if !(0.0..=30.0).contains(&config.location.gain_dbi) {
            return Err(ConfigError::Invalid(format!(
                "location.gain_dbi {} is outside 0..=30",
                config.location.gain_dbi
            )));
        }
        if config.beacon.interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "beacon.interval_secs must be > 0".into(),
            ));
        }
        if config.delivery.backoff_initial_ms == 0
            || config.delivery.backoff_max_ms < config.delivery.backoff_initial_ms
        {
            return Err(ConfigError::Invalid(
                "delivery: need 0 < backoff_initial_ms <= backoff_max_ms".into(),
            ));
        }
        if !config.metrics_listen.is_empty()
            && config
                .metrics_listen
                .parse::<std::net::SocketAddr>()
                .is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "metrics_listen {:?} is not an address such as 127.0.0.1:9898",
                config.metrics_listen
            )));
        }
        config
            .radio
            .iq_file
            .format
            .parse::<radio::iq::SampleFormat>()
            .map_err(|error| ConfigError::Invalid(format!("radio.iq_file.format: {error}")))?;
        Ok(config)
    }

    /// The configured region.
    pub fn region(&self) -> Result<Region, ConfigError> {
        parse_region(&self.region)
    }

    /// Antenna gain in tenths of dBi, as carried on the wire.
    pub fn gain_ddbi(&self) -> i32 {
        (self.location.gain_dbi * 10.0).round() as i32
    }
}

/// Parses a region name such as "US915" or "AS923_1" (case-insensitive, '-' or '_').
pub fn parse_region(name: &str) -> Result<Region, ConfigError> {
    let normalised = name.trim().to_ascii_uppercase().replace('-', "_");
    Region::from_str_name(&normalised)
        .filter(|region| *region != Region::Unspecified)
        .ok_or_else(|| ConfigError::Invalid(format!("unknown region {name:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../hotspot.example.toml");
        let config = HotspotConfig::parse(text).unwrap();
        assert_eq!(config.region().unwrap(), Region::Us915);
        assert_eq!(config.gain_ddbi(), 30);
    }

    #[test]
    fn defaults_fill_missing_fields_and_bad_values_are_refused() {
        let config = HotspotConfig::parse("region = \"eu868\"").unwrap();
        assert_eq!(config.region().unwrap(), Region::Eu868);
        assert_eq!(config.beacon.interval_secs, 21_600);
        assert!(HotspotConfig::parse("region = \"mars\"").is_err());
        assert!(HotspotConfig::parse("unknown_key = 1").is_err());
        assert!(HotspotConfig::parse("[location]\ngain_dbi = -3.0").is_err());
        assert!(HotspotConfig::parse("[beacon]\ninterval_secs = 0").is_err());
        assert_eq!(config.radio.backend, BackendKind::IqFile);
        assert!(HotspotConfig::parse("[radio]\nbackend = \"carrier_pigeon\"").is_err());
        assert!(HotspotConfig::parse("[radio.iq_file]\nformat = \"wav\"").is_err());
        assert!(HotspotConfig::parse("metrics_listen = \"nowhere\"").is_err());
        assert!(HotspotConfig::parse("[delivery]\nbackoff_initial_ms = 0").is_err());
    }
}
