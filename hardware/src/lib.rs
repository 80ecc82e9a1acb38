//! Hardware profiles of hotspot gateways, kept as data in `hardware/profiles/*.toml`: which
//! radio a board carries and how it is wired, its stock antenna, the regions it is sold for and
//! whether it has a secure element. The profiles are built into the binary; an OEM can also
//! load its own file.

use poc::proto::Region;
use serde::Deserialize;
use std::path::Path;

/// The profiles shipped with the hotspot, as `(file name, TOML text)`.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "diy-rak2287-hat.toml",
        include_str!("../profiles/diy-rak2287-hat.toml"),
    ),
    (
        "dragino-sx1276-hat.toml",
        include_str!("../profiles/dragino-sx1276-hat.toml"),
    ),
    (
        "limesdr-mini.toml",
        include_str!("../profiles/limesdr-mini.toml"),
    ),
    (
        "nebra-outdoor.toml",
        include_str!("../profiles/nebra-outdoor.toml"),
    ),
    (
        "rak-hotspot-v2.toml",
        include_str!("../profiles/rak-hotspot-v2.toml"),
    ),
    (
        "rak3172-usb.toml",
        include_str!("../profiles/rak3172-usb.toml"),
    ),
    ("rtl-sdr.toml", include_str!("../profiles/rtl-sdr.toml")),
    (
        "sensecap-m1.toml",
        include_str!("../profiles/sensecap-m1.toml"),
    ),
];

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No built-in profile has this name.
    #[error("unknown hardware profile {name:?}; known profiles: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The built-in names, comma-separated.
        known: String,
    },
    /// The profile file could not be read.
    #[error("hardware profile {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The profile is not valid TOML for a profile.
    #[error("hardware profile {origin}: {message}")]
    Parse {
        /// Where it came from.
        origin: String,
        /// The parser's explanation.
        message: String,
    },
    /// The profile parses but says something impossible.
    #[error("hardware profile {name}: {message}")]
    Invalid {
        /// The profile's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// CPU architecture of the board's Linux.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// 64-bit ARM (`aarch64-unknown-linux-gnu`).
    Aarch64,
    /// 32-bit ARM with hardware floating point (`armv7-unknown-linux-gnueabihf`).
    Armv7,
    /// x86-64 (`x86_64-unknown-linux-gnu`).
    X86_64,
}

/// The radio a board carries and how it is wired.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum RadioProfile {
    /// An SX1302/SX1303 concentrator on SPI, driven by the Semtech packet forwarder.
    Sx1302 {
        /// SPI device node.
        spi_device: String,
        /// GPIO line of the concentrator's reset.
        reset_gpio: u32,
        /// GPIO line that powers the concentrator, when the board has one.
        power_gpio: Option<u32>,
    },
    /// A single SX1276 on SPI, driven by a single-channel packet forwarder.
    Sx1276 {
        /// SPI device node.
        spi_device: String,
        /// GPIO line used as chip select, when not the SPI controller's own.
        chip_select_gpio: Option<u32>,
        /// GPIO line of the chip's reset.
        reset_gpio: u32,
        /// GPIO line of the chip's DIO0 interrupt.
        dio0_gpio: u32,
    },
    /// A software-defined radio through SoapySDR.
    Sdr {
        /// SoapySDR device arguments.
        soapy_args: String,
        /// Sample rate of the wideband stream, samples per second.
        sample_rate_hz: u32,
        /// Whether the device can transmit beacons.
        transmit: bool,
    },
    /// A LoRa module on a serial port, in point-to-point mode.
    Serial {
        /// Serial device node.
        serial_device: String,
        /// Baud rate.
        baud: u32,
    },
}

/// The board's secure element (key storage), if any.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecureElement {
    /// Whether the board has one.
    pub present: bool,
    /// The bus it sits on.
    pub bus: Option<String>,
}

/// The conducted transmit power a board's radio can put out, from its maker's datasheet.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxPowerRange {
    /// The lowest power it transmits at, dBm.
    pub min_dbm: f64,
    /// The highest power it transmits at, dBm.
    pub max_dbm: f64,
}

/// Everything the hotspot must know about a board.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name the hotspot is given (`--hardware NAME`).
    pub name: String,
    /// Who makes the board.
    pub vendor: String,
    /// One line for people.
    pub description: String,
    /// CPU architecture of its Linux.
    pub arch: Arch,
    /// Region names the board is sold for.
    pub regions: Vec<String>,
    /// Gain of the stock antenna, dBi.
    pub antenna_gain_dbi: f64,
    /// The radio.
    pub radio: RadioProfile,
    /// Its transmit power range; absent for a board that cannot transmit.
    pub tx_power: Option<TxPowerRange>,
    /// Key storage.
    pub secure_element: SecureElement,
}

impl Profile {
    /// Parses and checks a profile from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let profile: Self = toml::from_str(text).map_err(|error| ProfileError::Parse {
            origin: origin.to_string(),
            message: error.to_string(),
        })?;
        profile.check()?;
        Ok(profile)
    }

    /// Reads an OEM's own profile file.
    pub fn from_file(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// A built-in profile by name.
    pub fn named(name: &str) -> Result<Self, ProfileError> {
        for (file, text) in BUILT_IN {
            if file.trim_end_matches(".toml") == name {
                return Self::parse(text, file);
            }
        }
        Err(ProfileError::Unknown {
            name: name.to_string(),
            known: names().join(", "),
        })
    }

    /// The regions the board is sold for.
    pub fn regions(&self) -> Result<Vec<Region>, ProfileError> {
        self.regions
            .iter()
            .map(|name| {
                Region::from_str_name(name)
                    .filter(|region| *region != Region::Unspecified)
                    .ok_or_else(|| self.invalid(format!("unknown region {name:?}")))
            })
            .collect()
    }

    /// Whether the board may operate in `region`.
    pub fn supports(&self, region: Region) -> bool {
        self.regions()
            .map(|regions| regions.contains(&region))
            .unwrap_or(false)
    }

    /// Stock antenna gain in tenths of dBi, as asserted on the wire.
    pub fn gain_ddbi(&self) -> i32 {
        (self.antenna_gain_dbi * 10.0).round() as i32
    }

    /// The highest conducted power the board transmits at, in tenths of dBm.
    pub fn max_tx_power_ddbm(&self) -> Option<i32> {
        self.tx_power
            .map(|range| (range.max_dbm * 10.0).round() as i32)
    }

    /// Whether the board can transmit beacons.
    pub fn can_transmit(&self) -> bool {
        !matches!(
            self.radio,
            RadioProfile::Sdr {
                transmit: false,
                ..
            }
        )
    }

    fn invalid(&self, message: String) -> ProfileError {
        ProfileError::Invalid {
            name: self.name.clone(),
            message,
        }
    }

    fn check(&self) -> Result<(), ProfileError> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(self.invalid("name must be lowercase letters, digits and '-'".into()));
        }
        if self.regions.is_empty() {
            return Err(self.invalid("a board must be sold for at least one region".into()));
        }
        self.regions()?;
        if !(0.0..=20.0).contains(&self.antenna_gain_dbi) {
            return Err(self.invalid(format!(
                "antenna_gain_dbi {} is outside 0..=20",
                self.antenna_gain_dbi
            )));
        }
        let device_path = |path: &str, what: &str| {
            if path.starts_with("/dev/") && path.len() > 5 {
                Ok(())
            } else {
                Err(self.invalid(format!("{what} {path:?} is not a /dev path")))
            }
        };
        match &self.radio {
            RadioProfile::Sx1302 { spi_device, .. } | RadioProfile::Sx1276 { spi_device, .. } => {
                device_path(spi_device, "spi_device")?
            }
            RadioProfile::Serial {
                serial_device,
                baud,
            } => {
                device_path(serial_device, "serial_device")?;
                if *baud == 0 {
                    return Err(self.invalid("baud must be > 0".into()));
                }
            }
            RadioProfile::Sdr {
                soapy_args,
                sample_rate_hz,
                ..
            } => {
                if !soapy_args.contains('=') {
                    return Err(
                        self.invalid(format!("soapy_args {soapy_args:?} must be key=value pairs"))
                    );
                }
                if *sample_rate_hz < 250_000 {
                    return Err(self.invalid(format!(
                        "sample_rate_hz {sample_rate_hz} is too low for a 125 kHz channel"
                    )));
                }
            }
        }
        self.check_tx_power()?;
        if self.secure_element.present && self.secure_element.bus.is_none() {
            return Err(self.invalid("a present secure element needs its bus".into()));
        }
        Ok(())
    }

    fn check_tx_power(&self) -> Result<(), ProfileError> {
        match (self.tx_power, self.can_transmit()) {
            (None, true) => Err(self.invalid(
                "a board that transmits needs its [tx_power] range (min_dbm, max_dbm)".into(),
            )),
            (Some(_), false) => {
                Err(self.invalid("a receive-only board has no [tx_power] range".into()))
            }
            (Some(range), true)
                if !(range.min_dbm.is_finite()
                    && range.max_dbm.is_finite()
                    && -20.0 <= range.min_dbm
                    && range.min_dbm <= range.max_dbm
                    && range.max_dbm <= 36.0) =>
            {
                Err(self.invalid(format!(
                    "tx_power {}..{} dBm is not a range within -20..=36 dBm",
                    range.min_dbm, range.max_dbm
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Names of the built-in profiles.
pub fn names() -> Vec<&'static str> {
    BUILT_IN
        .iter()
        .map(|(file, _)| file.trim_end_matches(".toml"))
        .collect()
}

/// Every built-in profile.
pub fn all() -> Result<Vec<Profile>, ProfileError> {
    names().into_iter().map(Profile::named).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_file_is_built_in_loads_and_is_named_after_its_file() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let built_in: Vec<&str> = BUILT_IN.iter().map(|(file, _)| *file).collect();
        assert_eq!(files, built_in, "profiles/ and BUILT_IN differ");
        for file in files {
            let profile = Profile::from_file(&dir.join(&file)).unwrap();
            assert_eq!(format!("{}.toml", profile.name), file);
            assert_eq!(Profile::named(&profile.name).unwrap(), profile);
            assert!(!profile.regions().unwrap().is_empty());
        }
    }

    #[test]
    fn profiles_say_what_the_hotspot_needs() {
        let m1 = Profile::named("sensecap-m1").unwrap();
        assert_eq!(
            m1.radio,
            RadioProfile::Sx1302 {
                spi_device: "/dev/spidev0.0".into(),
                reset_gpio: 17,
                power_gpio: Some(18)
            }
        );
        assert!(m1.secure_element.present);
        assert!(m1.supports(Region::Eu868));
        assert!(!m1.supports(Region::Cn470));
        assert_eq!(m1.gain_ddbi(), 26);
        assert!(!Profile::named("rtl-sdr").unwrap().can_transmit());
        assert!(Profile::named("limesdr-mini").unwrap().can_transmit());
        // SX1302 boards top out at 27 dBm or below, under the 33 dBm a 3 dBi antenna leaves in
        // US915.
        assert_eq!(m1.max_tx_power_ddbm(), Some(260));
        assert_eq!(
            Profile::named("rak-hotspot-v2")
                .unwrap()
                .max_tx_power_ddbm(),
            Some(270)
        );
        assert_eq!(Profile::named("rtl-sdr").unwrap().max_tx_power_ddbm(), None);
        for profile in all().unwrap() {
            assert_eq!(
                profile.tx_power.is_some(),
                profile.can_transmit(),
                "{}",
                profile.name
            );
        }
    }

    #[test]
    fn a_wrong_or_missing_profile_is_a_clear_error() {
        let error = Profile::named("no-such-board").unwrap_err().to_string();
        assert!(
            error.contains("no-such-board") && error.contains("sensecap-m1"),
            "{error}"
        );
        let missing = Profile::from_file(Path::new("/nonexistent/profile.toml")).unwrap_err();
        assert!(matches!(missing, ProfileError::Io { .. }));
        let base = include_str!("../profiles/sensecap-m1.toml");
        for (from, to, expect) in [
            ("\"US915\"", "\"MARS\"", "unknown region"),
            ("/dev/spidev0.0", "spidev0.0", "not a /dev path"),
            (
                "antenna_gain_dbi = 2.6",
                "antenna_gain_dbi = 99.0",
                "outside",
            ),
            ("bus = \"/dev/i2c-1\"", "", "needs its bus"),
            ("max_dbm = 26.0", "max_dbm = 6.0", "not a range"),
            ("max_dbm = 26.0", "max_dbm = 60.0", "not a range"),
            ("[tx_power]", "[tx_power_]", "unknown field"),
            ("kind = \"sx1302\"", "kind = \"sx9999\"", "unknown variant"),
            ("arch = \"aarch64\"", "arch = \"mips\"", "unknown variant"),
        ] {
            let broken = base.replace(from, to);
            let error = Profile::parse(&broken, "test").unwrap_err().to_string();
            assert!(error.contains(expect), "{from} -> {to}: {error}");
        }
    }
}
