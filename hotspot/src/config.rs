//! The hotspot's TOML configuration.

use hardware::{Profile, RadioProfile};
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
    /// The hardware profile is unknown, unreadable or invalid.
    #[error(transparent)]
    Profile(#[from] hardware::ProfileError),
}

/// Everything a hotspot needs to know about itself. Every field has a default; see
/// `hotspot/hotspot.example.toml` for a documented file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HotspotConfig {
    /// Path of the ed25519 key file.
    pub key: PathBuf,
    /// Path of the maker's onboarding record for this hotspot (`hotspot onboard` reads it;
    /// the maker's image ships it).
    pub onboarding_record: PathBuf,
    /// gRPC endpoint of the oracle.
    pub oracle: String,
    /// gRPC endpoints of further oracle operators that share a report log with `oracle`:
    /// reports go to whichever of them answers, and the others take over when one is down.
    pub oracles: Vec<String>,
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
    /// The board the hotspot runs on.
    pub hardware: HardwareSection,
}

/// `[hardware]`: the board's profile (see the `hardware` crate).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HardwareSection {
    /// Name of a built-in profile (e.g. "rak-hotspot-v2") or path of a profile file; empty for
    /// none. The profile supplies defaults (radio backend, devices, antenna gain) and the
    /// regions the board may operate in.
    pub profile: String,
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
    /// LoRa Basics Station gateways connecting to the daemon as their LNS (websocket).
    BasicStation,
}

/// The `[radio]` section: the selected backend and one sub-section per backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadioConfig {
    /// Which backend to use.
    pub backend: BackendKind,
    /// The highest conducted power the radio transmits at, dBm (the hardware profile's
    /// `tx_power.max_dbm` by default; none: no limit). Beacons go out at the region's power
    /// limit or at this, whichever is lower, and their reports say so.
    pub max_tx_power_dbm: Option<f64>,
    /// Settings of the IQ-file backend.
    pub iq_file: IqFileSection,
    /// Settings of the Semtech UDP backend.
    pub semtech_udp: SemtechUdpSection,
    /// Settings of the LoRa Basics Station backend.
    pub basic_station: BasicStationSection,
    /// Settings of the serial LoRa module backend.
    pub serial: SerialSection,
    /// Settings of the SoapySDR backend.
    pub soapysdr: SoapySection,
}

impl Default for RadioConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::IqFile,
            max_tx_power_dbm: None,
            iq_file: IqFileSection::default(),
            semtech_udp: SemtechUdpSection::default(),
            basic_station: BasicStationSection::default(),
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
    /// How long a frame waits for the same frame from the other forwarders, milliseconds; the
    /// copies become one reception with the best signal (0: no merging).
    pub merge_window_ms: u64,
    /// Gateway EUI (16 hex digits, separators allowed) of the forwarder that transmits
    /// beacons; empty: the forwarder that sent PULL_DATA most recently.
    pub tx_gateway: String,
}

impl Default for SemtechUdpSection {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:1680".into(),
            tx_ack_timeout_ms: 5_000,
            merge_window_ms: 200,
            tx_gateway: String::new(),
        }
    }
}

impl SemtechUdpSection {
    /// The configured transmitting gateway's EUI, if any.
    pub fn tx_gateway_eui(&self) -> Result<Option<[u8; 8]>, ConfigError> {
        let digits: String = self
            .tx_gateway
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | ' '))
            .collect();
        if digits.is_empty() {
            return Ok(None);
        }
        let invalid = || {
            ConfigError::Invalid(format!(
                "radio.semtech_udp.tx_gateway {:?} is not a gateway EUI of 16 hex digits",
                self.tx_gateway
            ))
        };
        let bytes = hex::decode(&digits).map_err(|_| invalid())?;
        bytes.try_into().map(Some).map_err(|_| invalid())
    }
}

/// `[radio.basic_station]`: LoRa Basics Station gateways connect to this address as to their LNS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicStationSection {
    /// TCP address to listen on; the station's `tc.uri` is `ws://THIS-HOST:PORT`.
    pub listen: String,
    /// How long to wait for a station's `dntxed` of a beacon, milliseconds.
    pub dntxed_timeout_ms: u64,
    /// How long a frame waits for the same frame from other stations, milliseconds.
    pub merge_window_ms: u64,
    /// The router (its id, as the station's discovery sends it) that transmits beacons; empty:
    /// the station that connected most recently.
    pub tx_router: String,
    /// The most the station transmits at, dBm (sent as `max_eirp`); by default the beacon
    /// power, or the station's own default for the region when lower.
    pub tx_power_dbm: Option<f64>,
}

impl Default for BasicStationSection {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:1887".into(),
            dntxed_timeout_ms: 5_000,
            merge_window_ms: 200,
            tx_router: String::new(),
            tx_power_dbm: None,
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

/// `[radio.soapysdr]`: an SDR through SoapySDR, receiving a wideband stream split into
/// channels and decoded at every listed spreading factor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoapySection {
    /// Device selection, e.g. "driver=rtlsdr" or "driver=hackrf,serial=...".
    pub args: String,
    /// Centre frequency of the wideband stream, hertz.
    pub frequency_hz: u64,
    /// Sample rate of the wideband stream (a multiple of `channel_spacing_hz`).
    pub sample_rate_hz: u32,
    /// Spacing of the channels the stream is split into, hertz.
    pub channel_spacing_hz: u32,
    /// LoRa bandwidth of each channel, hertz.
    pub bandwidth_hz: u32,
    /// Spreading factors decoded on every channel.
    pub spreading_factors: Vec<u8>,
    /// Receive gain, dB.
    pub rx_gain_db: f64,
    /// Whether the device transmits beacons (false: receive only).
    pub transmit: bool,
    /// Transmit gain (device scale, dB) that gives `tx_reference_dbm` of conducted power.
    pub tx_gain_db: f64,
    /// Conducted power at `tx_gain_db`, dBm; a beacon's power moves the gain by the difference.
    pub tx_reference_dbm: f64,
    /// Samples per chip of transmitted frames (tx sample rate = bandwidth × this).
    pub tx_oversampling: u32,
}

impl Default for SoapySection {
    fn default() -> Self {
        Self {
            args: String::new(),
            frequency_hz: 904_600_000,
            sample_rate_hz: 1_600_000,
            channel_spacing_hz: 200_000,
            bandwidth_hz: 125_000,
            spreading_factors: vec![7, 8, 9, 10, 11, 12],
            rx_gain_db: 30.0,
            transmit: true,
            tx_gain_db: 0.0,
            tx_reference_dbm: 0.0,
            tx_oversampling: 8,
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

impl HotspotConfig {
    /// Every oracle endpoint: `oracle`, then `oracles`.
    pub fn oracle_endpoints(&self) -> Vec<String> {
        std::iter::once(self.oracle.clone())
            .chain(self.oracles.iter().cloned())
            .collect()
    }
}

impl Default for HotspotConfig {
    fn default() -> Self {
        Self {
            key: PathBuf::from("hotspot_key.bin"),
            onboarding_record: PathBuf::from("onboarding.pb"),
            oracle: "http://127.0.0.1:50051".into(),
            oracles: Vec::new(),
            region: "US915".into(),
            location: LocationConfig::default(),
            beacon: BeaconConfig::default(),
            spool_dir: PathBuf::from("spool"),
            metrics_listen: String::new(),
            delivery: DeliveryConfig::default(),
            radio: RadioConfig::default(),
            lorawan: crate::uplink::LorawanSection::default(),
            hardware: HardwareSection::default(),
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

    /// Reads a configuration file (none: the defaults) with a hardware profile applied:
    /// `profile` (from the command line) or else the file's `hardware.profile`. Keys the file
    /// sets win over the profile's defaults.
    pub fn load_with_profile(
        path: Option<&Path>,
        profile: Option<&str>,
    ) -> Result<(Self, Option<Profile>), ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
                path: path.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        Self::parse_with_profile(&text, profile).map_err(|error| match (error, path) {
            (ConfigError::Parse { message, .. }, Some(path)) => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            (other, _) => other,
        })
    }

    /// Parses a configuration with a hardware profile applied (see
    /// [`HotspotConfig::load_with_profile`]); returns the profile used, if any.
    pub fn parse_with_profile(
        text: &str,
        profile: Option<&str>,
    ) -> Result<(Self, Option<Profile>), ConfigError> {
        let parse_error = |message: String| ConfigError::Parse {
            path: "<text>".into(),
            message,
        };
        let mut table: toml::Table =
            toml::from_str(text).map_err(|error| parse_error(error.to_string()))?;
        let name = match profile {
            Some(name) => Some(name.to_string()),
            None => table
                .get("hardware")
                .and_then(|hardware| hardware.get("profile"))
                .and_then(toml::Value::as_str)
                .filter(|name| !name.is_empty())
                .map(str::to_string),
        };
        let Some(name) = name else {
            return Ok((Self::parse(text)?, None));
        };
        let profile = load_profile(&name)?;
        let mut merged = profile_defaults(&profile);
        merge(&mut merged, std::mem::take(&mut table));
        if let Some(toml::Value::Table(hardware)) = merged.get_mut("hardware") {
            hardware.insert("profile".into(), toml::Value::String(name.clone()));
        }
        let config: Self = merged
            .try_into()
            .map_err(|error: toml::de::Error| parse_error(error.to_string()))?;
        config.check()?;
        config.check_board(&profile)?;
        Ok((config, Some(profile)))
    }

    /// Whether the board can do what the configuration asks: its region and transmitting at
    /// all; warns when the region's power limit with this antenna is below the board's lowest
    /// power.
    fn check_board(&self, profile: &Profile) -> Result<(), ConfigError> {
        let region = self.region()?;
        if !profile.supports(region) {
            return Err(ConfigError::Invalid(format!(
                "region {} is not one the board {} is sold for ({}); set `region` to one of them",
                self.region,
                profile.name,
                profile.regions.join(", ")
            )));
        }
        if self.radio.backend == BackendKind::Soapysdr
            && self.radio.soapysdr.transmit
            && !profile.can_transmit()
        {
            return Err(ConfigError::Invalid(format!(
                "the board {} cannot transmit: set radio.soapysdr.transmit = false",
                profile.name
            )));
        }
        let limit_ddbm = poc::RegionPlan::for_region(region)
            .map(|plan| plan.tx_power_ddbm(self.gain_ddbi()))
            .unwrap_or(i32::MAX);
        if let Some(range) = profile.tx_power {
            if f64::from(limit_ddbm) < range.min_dbm * 10.0 {
                tracing::warn!(
                    region = %self.region,
                    gain_dbi = self.location.gain_dbi,
                    limit_dbm = f64::from(limit_ddbm) / 10.0,
                    board = %profile.name,
                    board_min_dbm = range.min_dbm,
                    "beacons may have less power than the board's stock lowest: unless its \
                     forwarder's TX gain table goes that low, it sends louder and the oracle \
                     refuses those beacons (power_not_allowed); an antenna of less gain helps"
                );
            }
        }
        Ok(())
    }

    /// Parses and checks a configuration from TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: "<text>".into(),
            message: error.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let config = self;
        config.region()?;
        if !(0.0..=30.0).contains(&config.location.gain_dbi) {
            return Err(ConfigError::Invalid(format!(
                "location.gain_dbi {} is outside 0..=30",
                config.location.gain_dbi
            )));
        }
        if config
            .radio
            .max_tx_power_dbm
            .is_some_and(|dbm| !(-20.0..=36.0).contains(&dbm))
        {
            return Err(ConfigError::Invalid(
                "radio.max_tx_power_dbm must be within -20..=36".into(),
            ));
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
        config.radio.semtech_udp.tx_gateway_eui()?;
        config
            .radio
            .iq_file
            .format
            .parse::<radio::iq::SampleFormat>()
            .map_err(|error| ConfigError::Invalid(format!("radio.iq_file.format: {error}")))?;
        let soapy = &config.radio.soapysdr;
        if soapy.channel_spacing_hz == 0
            || soapy.sample_rate_hz % soapy.channel_spacing_hz != 0
            || soapy.bandwidth_hz > soapy.channel_spacing_hz
        {
            return Err(ConfigError::Invalid(
                "radio.soapysdr: sample_rate_hz must be a multiple of channel_spacing_hz, \
                 and bandwidth_hz at most channel_spacing_hz"
                    .into(),
            ));
        }
        if soapy.spreading_factors.is_empty()
            || soapy
                .spreading_factors
                .iter()
                .any(|sf| !(7..=12).contains(sf))
        {
            return Err(ConfigError::Invalid(
                "radio.soapysdr.spreading_factors: one or more of 7..=12".into(),
            ));
        }
        Ok(())
    }

    /// The configured region.
    pub fn region(&self) -> Result<Region, ConfigError> {
        parse_region(&self.region)
    }

    /// Antenna gain in tenths of dBi, as carried on the wire.
    pub fn gain_ddbi(&self) -> i32 {
        (self.location.gain_dbi * 10.0).round() as i32
    }

    /// The radio's highest transmit power in tenths of dBm, if limited.
    pub fn max_tx_power_ddbm(&self) -> Option<i32> {
        self.radio
            .max_tx_power_dbm
            .map(|dbm| (dbm * 10.0).round() as i32)
    }
}

/// A built-in profile by name, or a profile file when `name` looks like a path.
pub fn load_profile(name: &str) -> Result<Profile, ConfigError> {
    if name.contains('/') || name.ends_with(".toml") {
        Ok(Profile::from_file(Path::new(name))?)
    } else {
        Ok(Profile::named(name)?)
    }
}

/// The radio backend that drives a board's radio.
pub fn backend_for(radio: &RadioProfile) -> BackendKind {
    match radio {
        // Concentrators and single SX1276 chips are driven by a packet forwarder over GWMP.
        RadioProfile::Sx1302 { .. } | RadioProfile::Sx1276 { .. } => BackendKind::SemtechUdp,
        RadioProfile::Sdr { .. } => BackendKind::Soapysdr,
        RadioProfile::Serial { .. } => BackendKind::Serial,
    }
}

/// The configuration keys a profile supplies, as a TOML table the file is merged over.
fn profile_defaults(profile: &Profile) -> toml::Table {
    let mut text = format!(
        "[location]\ngain_dbi = {:?}\n[radio]\nbackend = {:?}\n",
        profile.antenna_gain_dbi,
        match backend_for(&profile.radio) {
            BackendKind::IqFile => "iq_file",
            BackendKind::SemtechUdp => "semtech_udp",
            BackendKind::Soapysdr => "soapysdr",
            BackendKind::Serial => "serial",
            BackendKind::BasicStation => "basic_station",
        }
    );
    if let Some(range) = profile.tx_power {
        text.push_str(&format!("max_tx_power_dbm = {:?}\n", range.max_dbm));
    }
    match &profile.radio {
        RadioProfile::Serial {
            serial_device,
            baud,
        } => text.push_str(&format!(
            "[radio.serial]\ndevice = {serial_device:?}\nbaud = {baud}\n"
        )),
        RadioProfile::Sdr {
            soapy_args,
            sample_rate_hz,
            transmit,
        } => text.push_str(&format!(
            "[radio.soapysdr]\nargs = {soapy_args:?}\nsample_rate_hz = {sample_rate_hz}\ntransmit = {transmit}\n"
        )),
        RadioProfile::Sx1302 { .. } | RadioProfile::Sx1276 { .. } => {}
    }
    text.push_str("[hardware]\n");
    toml::from_str(&text).unwrap_or_default()
}

/// Merges `over` into `base`, tables key by key, `over` winning.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(over)) => merge(base, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
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
        for eui in ["aa555a00000001", "zz555a0000000101", "aa555a000000010101"] {
            let text = format!("[radio.semtech_udp]\ntx_gateway = \"{eui}\"");
            let error = HotspotConfig::parse(&text).unwrap_err().to_string();
            assert!(error.contains(eui), "{error}");
        }
        let text = "[radio.semtech_udp]\ntx_gateway = \"AA:55:5A:00:00:00:01:01\"";
        let eui = HotspotConfig::parse(text).unwrap().radio.semtech_udp;
        assert_eq!(
            eui.tx_gateway_eui().unwrap(),
            Some([0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1])
        );
        assert_eq!(config.radio.semtech_udp.tx_gateway_eui().unwrap(), None);
    }

    #[test]
    fn a_profile_supplies_defaults_that_the_file_overrides() {
        let (config, profile) =
            HotspotConfig::parse_with_profile("region = \"EU868\"", Some("rak3172-usb")).unwrap();
        assert_eq!(profile.unwrap().name, "rak3172-usb");
        assert_eq!(config.radio.backend, BackendKind::Serial);
        assert_eq!(config.radio.serial.device, PathBuf::from("/dev/ttyUSB0"));
        assert_eq!(config.gain_ddbi(), 20);
        assert_eq!(config.hardware.profile, "rak3172-usb");

        let text = "region = \"US915\"\n[hardware]\nprofile = \"rtl-sdr\"\n\
                    [location]\ngain_dbi = 6.0\n[radio.soapysdr]\ntransmit = false\n";
        let (config, profile) = HotspotConfig::parse_with_profile(text, None).unwrap();
        assert_eq!(profile.unwrap().name, "rtl-sdr");
        assert_eq!(config.radio.backend, BackendKind::Soapysdr);
        assert_eq!(config.radio.soapysdr.args, "driver=rtlsdr");
        assert_eq!(config.gain_ddbi(), 60, "the file's gain wins");
        // The command line's profile wins over the file's.
        let (config, _) = HotspotConfig::parse_with_profile(text, Some("rak-hotspot-v2")).unwrap();
        assert_eq!(config.radio.backend, BackendKind::SemtechUdp);
        assert_eq!(config.hardware.profile, "rak-hotspot-v2");
        // No profile anywhere: plain defaults.
        let (config, profile) = HotspotConfig::parse_with_profile("", None).unwrap();
        assert!(profile.is_none());
        assert_eq!(config.radio.backend, BackendKind::IqFile);
    }

    #[test]
    fn a_wrong_profile_or_an_unsold_region_is_a_clear_error() {
        let error = HotspotConfig::parse_with_profile("", Some("no-such-board"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no-such-board") && error.contains("rak-hotspot-v2"),
            "{error}"
        );
        let error = HotspotConfig::parse_with_profile("region = \"CN470\"", Some("sensecap-m1"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("CN470") && error.contains("sensecap-m1"),
            "{error}"
        );
        // A receive-only board is fine until the config asks it to transmit.
        let (config, _) = HotspotConfig::parse_with_profile("", Some("rtl-sdr")).unwrap();
        assert!(!config.radio.soapysdr.transmit);
        let error =
            HotspotConfig::parse_with_profile("[radio.soapysdr]\ntransmit = true", Some("rtl-sdr"))
                .unwrap_err()
                .to_string();
        assert!(error.contains("cannot transmit"), "{error}");
        let error = HotspotConfig::parse_with_profile("", Some("/nonexistent/board.toml"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/board.toml"), "{error}");
    }
}
