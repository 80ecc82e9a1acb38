//! Fuzz target: configuration files. The first byte picks the parser, the rest is the TOML
//! text: the hotspot's configuration (`HotspotConfig::parse`), the oracle's (`OracleConfig`
//! as `oracle serve --config` reads it, then `validate`), a hardware profile
//! (`Profile::parse`), or a region name. Nothing may panic; what parses must answer its
//! accessors.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 4 {
        0 => {
            if let Ok(config) = hotspot::HotspotConfig::parse(text) {
                assert!(config.region().is_ok());
                let gain = config.gain_ddbi();
                assert!((0..=300).contains(&gain), "{gain}");
                if let Some(max) = config.max_tx_power_ddbm() {
                    assert!((-200..=360).contains(&max), "{max}");
                }
            }
        }
        1 => {
            if let Ok(config) = toml::from_str::<oracle::OracleConfig>(text) {
                if config.validate().is_ok() {
                    let _ = config.rewards.params();
                }
            }
        }
        2 => {
            if let Ok(profile) = hardware::Profile::parse(text, "fuzz") {
                let _ = profile.regions();
                let _ = profile.gain_ddbi();
                let _ = profile.can_transmit();
                if let Some(max) = profile.max_tx_power_ddbm() {
                    assert!((-200..=360).contains(&max), "{max}");
                }
            }
        }
        _ => {
            let _ = hotspot::config::parse_region(text);
        }
    }
});
