//! LoRa modulation parameters and the block layout of a frame's data symbols.

use crate::error::RadioError;
use std::time::Duration;

/// The parameters of one LoRa transmission (modulation and frame format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoraParams {
    /// Spreading factor, 5..=12 (a symbol carries SF bits, 2^SF chips).
    pub spreading_factor: u8,
    /// Channel bandwidth in Hz (the chip rate).
    pub bandwidth_hz: u32,
    /// Coding rate 1..=4 meaning 4/5..4/8.
    pub coding_rate: u8,
    /// Whether the frame carries an explicit header.
    pub explicit_header: bool,
    /// Whether the payload is followed by a CRC-16.
    pub crc: bool,
    /// Low-data-rate optimisation; `None` = automatic (on when 2^SF/BW > 16 ms).
    pub low_data_rate: Option<bool>,
    /// Sync word (0x34 public / LoRaWAN, 0x12 private).
    pub sync_word: u8,
    /// Number of preamble up-chirps (default 8).
    pub preamble_len: u16,
    /// Samples per chip (default 1): the sample rate is `bandwidth_hz * oversampling`.
    pub oversampling: u32,
    /// Payload length of implicit-header frames (the receiver cannot read it from the air);
    /// ignored with an explicit header.
    pub implicit_payload_len: u8,
    /// SF5 and SF6 frames in the SX127x (legacy) format: reduced-rate first block, no extra
    /// symbols after the sync word, implicit header only. By default (false) SF5/SF6 frames
    /// follow the SX126x / SX1302 format (see [`LoraParams::first_block_reduced`]). Ignored at
    /// SF7 and above.
    pub legacy_sf5_sf6: bool,
}

/// Longest symbol duration without low-data-rate optimisation, in seconds.
pub const LDRO_MAX_SYMBOL_S: f64 = 0.016;

/// Number of symbols of the first block (the explicit header, if any, and the first payload
/// nibbles, always at CR 4/8).
pub const HEADER_BLOCK_SYMBOLS: usize = 8;

/// Whether the first block carries SF − 2 bits a symbol: at SF7 and above, and at SF5/SF6 in the
/// SX127x (legacy) format. The one rule behind [`LoraParams::first_block_reduced`] and
/// [`FrameLayout::new`].
fn first_block_reduced(sf: u8, legacy_sf5_sf6: bool) -> bool {
    sf >= 7 || legacy_sf5_sf6
}

/// How the data symbols of a frame are grouped into interleaver blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    /// Spreading factor, 5..=12.
    pub spreading_factor: u8,
    /// Low-data-rate optimisation of the payload blocks (SF − 2 bits a symbol).
    pub low_data_rate: bool,
    /// Whether the first block starts with the five explicit-header nibbles.
    pub explicit_header: bool,
    /// Whether the first block carries SF − 2 bits a symbol (SF7–12 and legacy SF5/SF6) or SF
    /// bits (SX126x SF5/SF6).
    pub first_block_reduced: bool,
}

impl FrameLayout {
    /// The layout of frames at `sf`: at SF5/SF6 the SX126x / SX1302 format, or the SX127x
    /// one when `legacy_sf5_sf6` (see [`LoraParams::legacy_sf5_sf6`]; ignored at SF7 and
    /// above). [`LoraParams::layout`] gives the same layout for the same parameters.
    pub fn new(sf: u8, low_data_rate: bool, explicit_header: bool, legacy_sf5_sf6: bool) -> Self {
        FrameLayout {
            spreading_factor: sf,
            low_data_rate,
            explicit_header,
            first_block_reduced: first_block_reduced(sf, legacy_sf5_sf6),
        }
    }

    /// Nibbles carried by the first block (8 symbols at CR 4/8).
    pub fn first_block_nibbles(&self) -> usize {
        let sf = usize::from(self.spreading_factor);
        if self.first_block_reduced {
            sf.saturating_sub(2)
        } else {
            sf
        }
    }

    /// Nibbles carried by each following block.
    pub fn block_nibbles(&self) -> usize {
        let sf = usize::from(self.spreading_factor);
        if self.low_data_rate {
            sf.saturating_sub(2)
        } else {
            sf
        }
    }

    /// Whether symbol `index` (0 = first data symbol) carries SF − 2 bits.
    pub fn symbol_reduced(&self, index: usize) -> bool {
        if index < HEADER_BLOCK_SYMBOLS {
            self.first_block_reduced
        } else {
            self.low_data_rate
        }
    }

    /// Number of data symbols of a frame (after the preamble), as counted by Semtech.
    pub fn symbol_count(&self, cr: u8, crc: bool, payload_len: usize) -> usize {
        let nibbles =
            2 * payload_len + if self.explicit_header { 5 } else { 0 } + if crc { 4 } else { 0 };
        let rest = nibbles.saturating_sub(self.first_block_nibbles());
        HEADER_BLOCK_SYMBOLS + rest.div_ceil(self.block_nibbles().max(1)) * (4 + usize::from(cr))
    }

    /// Whether the layout is one a frame can have: SF5–12, a reduced-rate first block at SF7 and
    /// above, and room for the explicit header in the first block when there is one.
    pub(crate) fn valid(&self) -> bool {
        (5..=12).contains(&self.spreading_factor)
            && (self.first_block_reduced || self.spreading_factor < 7)
            && (self.first_block_nibbles() >= 5 || !self.explicit_header)
    }
}

impl LoraParams {
    /// Parameters with CR 4/5, explicit header, CRC on, sync word 0x34, preamble 8, oversampling 1.
    pub fn new(sf: u8, bandwidth_hz: u32) -> Self {
        LoraParams {
            spreading_factor: sf,
            bandwidth_hz,
            coding_rate: 1,
            explicit_header: true,
            crc: true,
            low_data_rate: None,
            sync_word: 0x34,
            preamble_len: 8,
            oversampling: 1,
            implicit_payload_len: 0,
            legacy_sf5_sf6: false,
        }
    }

    /// Sample rate in samples per second (`bandwidth_hz * oversampling`).
    pub fn sample_rate(&self) -> f64 {
        f64::from(self.bandwidth_hz) * f64::from(self.oversampling)
    }

    /// Chips (FFT bins) per symbol, 2^SF.
    pub fn chips_per_symbol(&self) -> usize {
        1usize << self.spreading_factor.min(16)
    }

    /// Samples per symbol, 2^SF × oversampling.
    pub fn samples_per_symbol(&self) -> usize {
        self.chips_per_symbol() * self.oversampling as usize
    }

    /// Duration of one symbol.
    pub fn symbol_duration(&self) -> Duration {
        Duration::from_secs_f64(
            self.chips_per_symbol() as f64 / f64::from(self.bandwidth_hz.max(1)),
        )
    }

    /// Checks that every field is in its supported range.
    pub fn validate(&self) -> Result<(), RadioError> {
        if !(5..=12).contains(&self.spreading_factor) {
            return Err(RadioError::InvalidSpreadingFactor(self.spreading_factor));
        }
        if self.spreading_factor < 7 && self.legacy_sf5_sf6 && self.explicit_header {
            return Err(RadioError::Unsupported(
                "explicit header at SF5/SF6 in the SX127x legacy format",
            ));
        }
        if self.bandwidth_hz == 0 || self.bandwidth_hz > 2_000_000 {
            return Err(RadioError::InvalidBandwidth(self.bandwidth_hz));
        }
        if !(1..=4).contains(&self.coding_rate) {
            return Err(RadioError::InvalidCodingRate(self.coding_rate));
        }
        if self.preamble_len < 6 {
            return Err(RadioError::InvalidPreambleLength(self.preamble_len));
        }
        if !(1..=64).contains(&self.oversampling) {
            return Err(RadioError::InvalidOversampling(self.oversampling));
        }
        Ok(())
    }

    /// Whether low-data-rate optimisation is in force (explicit setting, or automatic rule).
    pub fn low_data_rate_enabled(&self) -> bool {
        self.low_data_rate.unwrap_or_else(|| {
            (self.chips_per_symbol() as f64) / f64::from(self.bandwidth_hz.max(1))
                > LDRO_MAX_SYMBOL_S
        })
    }

    /// Whether the first block (header and first payload nibbles, CR 4/8) carries SF − 2 bits
    /// a symbol (SF7 and above, and legacy SF5/SF6), or SF bits (SX126x SF5/SF6, whose header
    /// would not fit in 8 × (SF − 2) bits).
    pub fn first_block_reduced(&self) -> bool {
        first_block_reduced(self.spreading_factor, self.legacy_sf5_sf6)
    }

    /// Up-chirps of value 0 sent between the down-chirps and the data: 2 for SX126x-format
    /// SF5/SF6 frames, none otherwise.
    pub fn zero_symbols_after_sync(&self) -> usize {
        if self.first_block_reduced() {
            0
        } else {
            2
        }
    }

    /// Symbols from the start of the sync word to the first data symbol: 2 sync-word symbols,
    /// 2.25 down-chirps and [`LoraParams::zero_symbols_after_sync`].
    pub fn sync_to_data_symbols(&self) -> f64 {
        4.25 + self.zero_symbols_after_sync() as f64
    }

    /// The block layout of this configuration's frames.
    pub fn layout(&self) -> FrameLayout {
        FrameLayout::new(
            self.spreading_factor,
            self.low_data_rate_enabled(),
            self.explicit_header,
            self.legacy_sf5_sf6,
        )
    }

    /// Number of data symbols (after the preamble, sync word and down-chirps) of a frame.
    pub fn payload_symbols(&self, payload_len: usize) -> usize {
        self.layout()
            .symbol_count(self.coding_rate, self.crc, payload_len)
    }

    /// Time on air of a frame with `payload_len` bytes (Semtech formula: preamble + 4.25
    /// (6.25 for SX126x SF5/SF6) + data symbols).
    pub fn time_on_air(&self, payload_len: usize) -> Duration {
        let tsym = self.chips_per_symbol() as f64 / f64::from(self.bandwidth_hz.max(1));
        let n = f64::from(self.preamble_len)
            + self.sync_to_data_symbols()
            + self.payload_symbols(payload_len) as f64;
        Duration::from_secs_f64(n * tsym)
    }
}

impl Default for LoraParams {
    /// SF7 at 125 kHz with the defaults of [`LoraParams::new`].
    fn default() -> Self {
        LoraParams::new(7, 125_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldro_rule() {
        assert!(!LoraParams::new(10, 125_000).low_data_rate_enabled());
        assert!(LoraParams::new(11, 125_000).low_data_rate_enabled());
        assert!(LoraParams::new(12, 125_000).low_data_rate_enabled());
        assert!(!LoraParams::new(11, 250_000).low_data_rate_enabled());
        assert!(LoraParams::new(12, 250_000).low_data_rate_enabled());
    }

    #[test]
    fn time_on_air_matches_semtech_calculator() {
        // SF7/125k, CR 4/5, 8 preamble, explicit header, CRC, 10 bytes: 41.216 ms
        let p = LoraParams::new(7, 125_000);
        let t = p.time_on_air(10).as_secs_f64() * 1e3;
        assert!((t - 41.216).abs() < 0.01, "{t}");
        // SF12/125k, 51 bytes, LDRO on: 2465.792 ms
        let p = LoraParams::new(12, 125_000);
        let t = p.time_on_air(51).as_secs_f64() * 1e3;
        assert!((t - 2465.792).abs() < 0.01, "{t}");
    }

    #[test]
    fn sx126x_sf5_sf6_time_on_air() {
        // SX1261/2 datasheet formula for SF5/SF6: Npre + 6.25 + 8 +
        // ceil(max(8·PL + 16·CRC − 4·SF + 20·header, 0) / (4·SF)) · (CR + 4) symbols.
        for sf in [5u8, 6] {
            for (len, crc, explicit) in
                [(10usize, true, true), (0, false, false), (51, true, false)]
            {
                let p = LoraParams {
                    crc,
                    explicit_header: explicit,
                    ..LoraParams::new(sf, 125_000)
                };
                let bits = 8 * len as i64 + if crc { 16 } else { 0 } - 4 * i64::from(sf)
                    + if explicit { 20 } else { 0 };
                let blocks = (bits.max(0) as f64 / (4.0 * f64::from(sf))).ceil();
                let symbols = 8.0 + 6.25 + 8.0 + blocks * 5.0;
                let tsym = f64::from(1u32 << sf) / 125_000.0;
                let t = p.time_on_air(len).as_secs_f64();
                assert!((t - symbols * tsym).abs() < 1e-9, "sf {sf} len {len}: {t}");
            }
        }
        // SF5, 10 bytes, CRC, explicit header: 8 + 6.25 + 8 + 5 × 5 = 47.25 symbols of 256 µs
        let t = LoraParams::new(5, 125_000).time_on_air(10).as_secs_f64() * 1e3;
        assert!((t - 12.096).abs() < 1e-6, "{t}");
    }

    /// `FrameLayout::new` and `LoraParams::layout` must give the same layout for the same
    /// parameters. `FrameLayout::new` used to take no SF5/SF6 format and always gave the SX126x
    /// layout, so legacy SF5/SF6 frames were counted and decoded with the wrong first block.
    #[test]
    fn frame_layout_new_agrees_with_params() {
        for sf in 5..=12u8 {
            for legacy in [false, true] {
                for explicit in [false, true] {
                    for ldro in [None, Some(false), Some(true)] {
                        let p = LoraParams {
                            legacy_sf5_sf6: legacy,
                            explicit_header: explicit,
                            low_data_rate: ldro,
                            ..LoraParams::new(sf, 125_000)
                        };
                        let layout =
                            FrameLayout::new(sf, p.low_data_rate_enabled(), explicit, legacy);
                        assert_eq!(layout, p.layout(), "{p:?}");
                        assert_eq!(layout.first_block_reduced, p.first_block_reduced());
                        for len in [0, 1, 10, 51, 255] {
                            assert_eq!(
                                layout.symbol_count(p.coding_rate, p.crc, len),
                                p.payload_symbols(len),
                                "{p:?} {len}"
                            );
                        }
                    }
                }
            }
        }
        let legacy = FrameLayout::new(5, false, false, true);
        assert!(legacy.first_block_reduced);
        assert_eq!(legacy.first_block_nibbles(), 3);
        let sx126x = FrameLayout::new(5, false, false, false);
        assert!(!sx126x.first_block_reduced);
        assert_eq!(sx126x.first_block_nibbles(), 5);
    }

    #[test]
    fn validate_rejects_bad_values() {
        assert!(LoraParams::default().validate().is_ok());
        assert!(LoraParams::new(13, 125_000).validate().is_err());
        assert!(LoraParams::new(4, 125_000).validate().is_err());
        assert!(LoraParams::new(5, 125_000).validate().is_ok());
        let legacy = LoraParams {
            legacy_sf5_sf6: true,
            ..LoraParams::new(6, 125_000)
        };
        assert!(
            legacy.validate().is_err(),
            "SX127x SF6 has no explicit header"
        );
        let legacy = LoraParams {
            explicit_header: false,
            ..legacy
        };
        assert!(legacy.validate().is_ok());
        assert!(LoraParams::new(7, 0).validate().is_err());
        let p = LoraParams {
            coding_rate: 5,
            ..LoraParams::default()
        };
        assert!(p.validate().is_err());
        let p = LoraParams {
            oversampling: 0,
            ..LoraParams::default()
        };
        assert!(p.validate().is_err());
    }
}
