//! The oracle's configuration ([`oracle_core::config`]) and reading it from a file.

pub use oracle_core::config::*;

use crate::error::OracleError;
use std::path::Path;

/// Reads and checks a TOML configuration file; missing fields take their defaults.
pub fn load(path: &Path) -> Result<OracleConfig, OracleError> {
    let text = std::fs::read_to_string(path).map_err(|source| OracleError::ConfigFile {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(OracleConfig::from_toml(&text)?)
}
