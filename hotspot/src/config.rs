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
    }
}
