//! DevAddrs and EUIs in route files, routing keys and the API: fixed-width hex strings, most significant
//! digit first (`"26011BDA"`, `"70B3D57ED0000000"`), either case on input, upper case on output.

use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

/// `digits` hex digits as an integer, or why not.
fn parse(text: &str, digits: usize, what: &str) -> Result<u64, String> {
    if text.len() != digits || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{what} {text:?} is not {digits} hex digits (e.g. {})",
            "0".repeat(digits)
        ));
    }
    u64::from_str_radix(text, 16).map_err(|error| format!("{what} {text:?}: {error}"))
}

/// A DevAddr: 8 hex digits.
pub mod dev_addr {
    use super::*;

    /// Writes `value` as 8 upper-case hex digits.
    pub fn serialize<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{value:08X}"))
    }

    /// Reads 8 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let text = String::deserialize(deserializer)?;
        let value = parse(&text, 8, "DevAddr").map_err(D::Error::custom)?;
        u32::try_from(value).map_err(D::Error::custom)
    }
}

/// An EUI-64: 16 hex digits.
pub mod eui {
    use super::*;

    /// Writes `value` as 16 upper-case hex digits.
    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{value:016X}"))
    }

    /// Reads 16 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text, 16, "EUI").map_err(D::Error::custom)
    }
}

/// An optional EUI-64 (absent when `None`; written only when `Some`).
pub mod optional_eui {
    use super::*;

    /// Writes the EUI as 16 upper-case hex digits (`None` is skipped by the field).
    pub fn serialize<S: Serializer>(value: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::eui::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads 16 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        super::eui::deserialize(deserializer).map(Some)
    }
}
